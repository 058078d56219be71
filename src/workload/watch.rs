//! The one small trait every workload kind implements: what it is, when it ended, how
//! to stop it. Sampling is not here (see `sample::Source`); a session in
//! `monitor/session/` pairs a workload with its source.

use crate::note::Note;
use crate::report::ExitInfo;
use std::time::Instant;

/// How a workload's end went, for the report.
#[derive(Debug, Default)]
pub struct Stopped {
    /// How the target ended, when known.
    pub exit: Option<ExitInfo>,
    /// Whether stopping it took SIGKILL; `None` when soak did not stop it.
    pub escalated: Option<bool>,
    /// What the report should say about the end.
    pub notes: Vec<Note>,
}

/// A workload soak watches and stops.
#[allow(async_fn_in_trait)] // used through generics, never as a trait object
pub trait Workload {
    /// What stopping it must see besides the workload itself: the process tree (through
    /// the sampler's reader) for a process, nothing for a container or a closure.
    type View;

    /// "`./server` (pid 42)", for the start line.
    fn describe(&self) -> String;

    /// Resolves when the workload's main part (main process, container, closure) may
    /// have ended: `true` when it has. Cancel-safe: the loop polls it anew every turn.
    async fn ended(&mut self, start: Instant) -> bool;

    /// Stops what soak started — never what it attached to — and says how it ended.
    /// `gone`: it ended by itself; `at_s`: seconds into the run.
    async fn stop(&mut self, view: &mut Self::View, gone: bool, at_s: f64) -> Stopped;
}
