//! The run: one select loop (`event_loop.rs`) over the sampling tick, the workload's
//! end, Ctrl-C/SIGTERM and the deadline, driving a session (`session.rs`): a command or
//! pid (`session/process.rs`), a container (`session/container.rs`) or an in-process
//! closure (`session/closure.rs`). The recorder (`recorder.rs`) fans each sample out to
//! the timeline, the live trend (`live.rs`), `/metrics` ([`metrics`]) and the progress
//! line; then the workload is stopped and `conclude.rs` hands the timeline to the
//! [`crate::judge`].
//!
//! Nothing of the timeline is kept in memory during the run: rows go to disk and the
//! judge reads them back, so soak's footprint does not grow with the run's length.

#[cfg(feature = "cli")]
mod conclude;
mod event_loop;
mod live;
#[cfg(feature = "cli")]
pub mod metrics;
#[cfg(not(feature = "cli"))]
#[path = "metrics_off.rs"]
mod metrics;
mod recorder;
#[cfg(feature = "cli")]
mod run;
#[cfg(feature = "cli")]
pub(crate) mod rundir;
pub(crate) mod session;
// Without `cli` only the in-process closure session is built; the CLI run reads the rest.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
mod signals;
mod ticker;

#[cfg(feature = "cli")]
pub use run::{run, Outcome};
pub(crate) use session::closure::{ClosureMonitor, SamplerFailed};
pub(crate) use session::{End, Ending};
