//! The command line (a DESIGN.md contract): clap definitions and their validation into
//! [`crate::config`]. Raw arguments never reach the engine unchecked.

mod ab;
mod args;
mod commands;
mod compare;
mod fleet;
mod help;
mod manual;
mod profile;
mod prune;
mod run;
mod values;
mod verdict;

pub use ab::AbArgs;
pub use args::{AnalyzeArgs, Cli, CompareArgs, PrometheusArgs, ReportArgs, RunArgs, Sub};
pub use commands::{execute, run_as_guard};
pub use manual::{CompletionsArgs, ManArgs};
pub use profile::{Merge, Profile};
pub use prune::PruneArgs;
pub use verdict::{LimitArgs, Verdict, VerdictArgs};
