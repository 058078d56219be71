//! soak: run a workload, sample its memory, and decide with evidence whether it keeps
//! growing after warm-up.
//!
//! The pipeline, one module per stage: [`target`] → [`sample`] → [`timeline`] →
//! [`analysis`] → [`report`]; [`monitor`] drives a run, [`cli`] and [`config`] set it up,
//! [`cli::execute`] maps commands to exit codes ([`error::exit_code`]).

// soak writes to stdout/stderr only through `console`, which survives a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod analysis;
pub mod cli;
pub mod compare;
pub mod config;
pub mod console;
pub mod error;
pub mod in_process;
pub mod judge;
pub mod monitor;
pub mod report;
pub mod sample;
pub mod timeline;
pub mod units;
pub mod workload;

pub use in_process::{heap_stats, CountingAlloc, HeapStats, InProcess, InProcessResult};
