//! soak: run a workload, sample its memory, and decide with evidence whether it keeps
//! growing after warm-up.
//!
//! The pipeline, one module per stage: [`workload`] (start, watch, stop) → [`sample`]
//! (the column table and the sources) → [`monitor`] (the one loop and its recorder) →
//! [`timeline`] → [`judge`] (verdict, report, exit code; statistics in [`analysis`]) →
//! [`report`] (one exporter per format). [`cli`] turns arguments into a checked
//! [`config`] and maps commands to exit codes ([`error::exit_code`]); [`in_process`] is
//! the face for `#[test]` soaks.

// soak writes to stdout/stderr only through `console`, which survives a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod analysis;
pub mod cli;
pub mod compare;
pub mod config;
pub mod console;
pub mod error;
pub mod fleet;
pub mod in_process;
pub mod judge;
pub mod monitor;
pub mod note;
pub mod report;
pub mod sample;
pub mod timeline;
pub mod units;
pub mod workload;

pub use in_process::{heap_stats, CountingAlloc, HeapStats, InProcess, InProcessResult};
