//! The run: one select loop ([`event_loop`]) over the sampling tick, the workload's end,
//! Ctrl-C/SIGTERM and the deadline, driving a [`session`] — a command or pid
//! ([`process`]), a container ([`container`]), or an in-process closure — whose samples
//! the [`recorder`] fans out to the timeline, the live trend, `/metrics` and the progress
//! line; then the workload is stopped and [`conclude`] hands the timeline to the judge.
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
