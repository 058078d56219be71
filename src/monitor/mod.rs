//! The run: one select loop (`event_loop.rs`) over the sampling tick, the workload's
//! end, Ctrl-C/SIGTERM and the deadline, driving a session (`session.rs`) — a command or
//! pid (`process.rs`), a container (`container.rs`), or an in-process closure
//! (`closure.rs`) — whose samples the recorder (`recorder.rs`) fans out to the timeline,
//! the live trend (`live.rs`), `/metrics` ([`metrics`]) and the progress line; then the
//! workload is stopped and `conclude.rs` hands the timeline to the [`crate::judge`].
//!
//! Nothing of the timeline is kept in memory during the run: rows go to disk and the
//! judge reads them back, so soak's footprint does not grow with the run's length.

mod closure;
mod conclude;
mod container;
mod event_loop;
mod live;
pub mod metrics;
mod process;
mod recorder;
mod run;
mod rundir;
pub(crate) mod session;
mod signals;
mod ticker;

pub(crate) use closure::ClosureMonitor;
pub use run::{run, Outcome};
pub(crate) use session::{End, Ending};
