//! What the loop drives: a [`Session`] is one workload kind (a command or pid, a
//! container, an in-process closure) together with the source its samples come from.
//! The kinds are the files of `session/`, registered here: a new kind is one file plus
//! its `mod` line and its arm in `run.rs` (`check` and `soak`).

pub(crate) mod closure;
#[cfg(feature = "containers")]
pub(super) mod container;
#[cfg(feature = "cli")]
pub(super) mod process;

use super::recorder::Recorded;
use crate::error::Result;
use crate::report::{ExitInfo, FullGcReport, RuntimeSeen, TargetInfo};
use crate::sample::Sample;
use crate::timeline::Extra;
use std::collections::BTreeMap;
use std::time::Instant;

/// Why the loop ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum End {
    /// The planned duration passed.
    Deadline,
    /// A stop signal (its number).
    Signal(i32),
    /// The workload ended by itself.
    TargetGone,
    /// soak could not go on (a full disk, /proc unreadable).
    MonitorError(String),
}

/// What a tick read.
pub(crate) enum Step {
    /// A sample of the whole target.
    Sample(Sample),
    /// The target is gone.
    Gone,
    /// Reading failed on soak's side.
    Failed(String),
}

// Without `cli` only the in-process closure session is built; the CLI run reads the rest.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
/// One workload kind with its source of samples.
#[allow(async_fn_in_trait)] // driven by a generic loop, never as a trait object
pub(crate) trait Session {
    /// "`./server` (pid 42)" for the start line.
    fn describe(&self) -> String;

    /// The columns its timeline adds after the contract's.
    fn extra_columns(&self) -> Extra;

    /// Resolves when the workload may have ended (`start` is the run's start, for when) (a child exited, the engine says the
    /// container stopped): `true` when it has. Must be cancel-safe: the loop polls it
    /// anew on every turn.
    async fn ended(&mut self, start: Instant) -> bool;

    /// Reads the target at a tick.
    async fn tick(&mut self, elapsed_s: f64) -> Step;

    /// One more sample once the workload ended by itself, for kinds whose target is
    /// still there to read after its end (this process, after the closure's state was
    /// dropped); none by default.
    async fn last_sample(&mut self) -> Option<Sample> {
        None
    }

    /// After the loop: stops what soak started (never what it attached to), and gathers
    /// the facts the report needs (`taken`: the samples recorded).
    async fn finish(&mut self, end: &End, elapsed_s: f64, taken: u64) -> Result<Facts>;
}

// Without `cli` only the in-process closure session is built; the CLI run reads the rest.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
/// What a session learned, for the report.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub target: TargetInfo,
    pub target_exit: Option<ExitInfo>,
    pub stop_escalated: Option<bool>,
    /// Column → where its figures came from.
    pub sources: BTreeMap<String, String>,
    pub notes: Vec<crate::note::Note>,
    /// Language runtimes whose own heap was read.
    pub runtimes: Vec<RuntimeSeen>,
    /// The full collections `--full-gc-every` requested.
    pub full_gc: Option<FullGcReport>,
    /// Each allocation site's sampled live bytes over the run (`--sites on`).
    pub sites: Option<crate::sites::record::SiteEvidence>,
    /// Evidence that the OOM killer killed a process of the tree other than the main one.
    pub child_oom: Option<String>,
    /// Who sent the stop signal that ended the run, when one did.
    pub signal: Option<SignalEnd>,
}

// Without `cli` only the in-process closure session is built; the CLI run reads the rest.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
/// Where the signal that ended a run came from.
#[derive(Debug)]
pub(crate) struct SignalEnd {
    /// "SIGTERM from pid 42 (sh), a process of the target's tree: …".
    pub detail: String,
    /// Sent by a process of the target's tree: the target ended its own soak.
    pub from_target: bool,
}

/// A finished loop: why it ended and what the recorder kept.
pub(crate) struct Ending {
    pub end: End,
    pub recorded: Recorded,
    pub facts: Facts,
}
