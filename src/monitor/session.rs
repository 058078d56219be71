//! What the loop drives: a [`Session`] is one workload kind (a command or pid, a
//! container, an in-process closure) together with the source its samples come from.
//! The kinds are the files of `session/`, registered here: a new kind is one file plus
//! its `mod` line and its arm in [`soak`].

pub(crate) mod closure;
mod container;
mod process;

use super::conclude::conclude;
use super::event_loop::drive;
use super::metrics::LiveMetrics;
use super::recorder::{Recorded, Recorder};
use super::run::Outcome;
use super::signals::StopSignals;
use crate::config::{RunConfig, TargetSpec};
use crate::error::Result;
use crate::report::{ExitInfo, FullGcReport, RuntimeSeen, TargetInfo};
use crate::sample::Sample;
use crate::timeline::Extra;
use crate::workload::engine::Engine;
use crate::workload::tree::ProcId;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
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
    /// Evidence that the OOM killer killed a process of the tree other than the main one.
    pub child_oom: Option<String>,
    /// Who sent the stop signal that ended the run, when one did.
    pub signal: Option<SignalEnd>,
}

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

/// What a run starts from: the target checked before the run directory was created.
pub(crate) enum Checked {
    /// A command to start, or the pid attached to.
    Process(Option<ProcId>),
    /// A container to create or attach to, through this engine.
    Container(Engine),
}

/// Starts the session of the target's kind and records it to its end.
pub(super) async fn soak(
    cfg: &RunConfig,
    checked: Checked,
    guard_exe: Option<&Path>,
    live: Option<(Arc<LiveMetrics>, std::net::SocketAddr)>,
    stops: &mut StopSignals,
) -> Result<Outcome> {
    match checked {
        Checked::Process(attached) => {
            let session = process::ProcessRun::start(cfg, guard_exe, attached)?;
            record(cfg, session, live, stops).await
        }
        Checked::Container(engine) => {
            let session = container::ContainerRun::start(cfg, guard_exe, engine).await?;
            record(cfg, session, live, stops).await
        }
    }
}

/// Checks the target before anything is created: a bad pid or an unreachable engine
/// leaves no run directory.
pub(super) fn check(cfg: &RunConfig, rt: &tokio::runtime::Runtime) -> Result<Checked> {
    Ok(match &cfg.target {
        TargetSpec::Pid(p) => Checked::Process(Some(crate::workload::process::attach(*p)?)),
        TargetSpec::Command(_) => Checked::Process(None),
        TargetSpec::Image(_) | TargetSpec::Container(_) => {
            Checked::Container(rt.block_on(Engine::connect())?)
        }
    })
}

/// Records a started session to its end and concludes.
async fn record<S: Session>(
    cfg: &RunConfig,
    mut session: S,
    live: Option<(Arc<LiveMetrics>, std::net::SocketAddr)>,
    stops: &mut StopSignals,
) -> Result<Outcome> {
    let what = session.describe();
    let rec = match Recorder::start(cfg, session.extra_columns(), live, Some(&what)) {
        Ok(r) => r,
        Err(e) => {
            // Stop and remove what was started before reporting the failure.
            let _ = session
                .finish(&End::MonitorError(e.to_string()), 0.0, 0)
                .await;
            return Err(e);
        }
    };
    let ending = drive(&mut session, rec, Some(stops)).await?;
    conclude(cfg, ending)
}
