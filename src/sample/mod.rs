//! Sampling: what the target's memory is now. [`columns`] is the table of every figure
//! (and generates [`Sample`]); each other file is one source that fills a sample: the
//! process tree from procfs, a container's cgroup, the heap shim's counters, the
//! runtimes' own heaps (JVM perf data, Node's preload), dhat's allocation sites.

pub mod cgroup;
pub mod columns;
pub mod dhat_sites;
#[cfg(feature = "containers")]
pub mod docker_stats;
pub mod heap;
pub mod heap_notes;
pub mod jvm;
pub mod node;
pub mod procfs;
pub mod runtime;
pub mod runtime_notes;
pub mod sites;
mod source;
pub mod this_process;
pub mod tree;

pub use columns::{Col, Column, Sample, COLUMNS};
pub use source::Source;
