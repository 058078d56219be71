//! What is being soaked: a command soak starts ([`process::Launched`]), a running pid
//! ([`process::attach`]), and the process tree under either ([`tree::ProcessTree`]).

mod children;
pub mod closure;
pub mod command;
#[cfg(feature = "containers")]
pub mod container;
#[cfg(feature = "containers")]
pub mod engine;
pub mod guard;
pub mod log;
pub mod oom;
mod proc_list;
pub mod process;
pub mod signal;
pub mod tree;
mod watch;

pub use signal::signal_name;
pub use watch::{Stopped, Workload};

#[cfg(test)]
pub(crate) use tree::CHILDREN_LOCK;
