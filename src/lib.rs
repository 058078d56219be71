//! soak: run a workload, sample its memory, and decide with evidence whether it keeps
//! growing after warm-up.
//!
//! The pipeline, one module per stage: `workload` (start, watch, stop) → `sample`
//! (the column table and the sources) → `monitor` (the one loop and its recorder) →
//! `timeline` → `judge` (verdict, report, exit code; statistics in [`analysis`]) →
//! [`report`] (one exporter per format). `cli` turns arguments into a checked `config`
//! and maps commands to exit codes (`error::exit_code`).
//!
//! As a library, soak's public API is the in-process soak for `#[test]`s
//! ([`InProcess`], [`CountingAlloc`], [`heap_stats`]) and the model of its result
//! ([`report`], [`analysis`], [`note`], [`units`]). The pipeline's modules are public
//! for soak's own binary, benches and tests only: hidden from these docs, not covered by
//! semver.

// soak writes to stdout/stderr only through `console`, which survives a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

// The public API: the in-process soak (`in_process`, re-exported below) and the model of its result —
// `report` (the report every run writes), `analysis` (the verdict and the fits it embeds),
// `note` (the report's typed notes) and `units`.
pub mod analysis;
pub mod in_process;
pub mod note;
pub mod report;
pub mod units;

// Internal: public only for soak's own binary, benches and integration tests; hidden from
// the documentation and not covered by semver.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod compare;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod console;
#[doc(hidden)]
pub mod error;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod fleet;
#[doc(hidden)]
pub mod judge;
#[doc(hidden)]
pub mod monitor;
#[doc(hidden)]
pub mod sample;
#[doc(hidden)]
pub mod sites;
#[doc(hidden)]
pub mod timeline;
#[doc(hidden)]
pub mod workload;

pub use in_process::{heap_stats, CountingAlloc, HeapStats, InProcess, InProcessResult};
