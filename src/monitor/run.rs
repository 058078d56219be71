//! A CLI run from start to report: check the target, create the run directory, start
//! the session for the target's kind, drive it, conclude.

use super::conclude::conclude;
use super::event_loop::drive;
use super::metrics::serve_for_run;
use super::metrics::LiveMetrics;
use super::recorder::Recorder;
use super::rundir::{create_run_dir, remove_created, try_lock};
#[cfg(feature = "containers")]
use super::session::container::ContainerRun;
use super::session::process::ProcessRun;
use super::session::{End, Session};
use super::signals::StopSignals;
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::Report;
#[cfg(feature = "containers")]
use crate::workload::engine::Engine;
use crate::workload::tree::ProcId;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A finished run: its report and where it was written.
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// Runs a soak. `guard_exe` is soak's own executable, re-run as the guard process (see
/// [`crate::workload::guard`]); `None` runs without one.
pub fn run(cfg: &RunConfig, guard_exe: Option<&Path>) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Monitor(format!("cannot start the runtime: {e}")))?;
    let checked = check(cfg, &rt)?;
    let created = create_run_dir(&cfg.out_dir)?;
    // Held to the end of the run: `soak prune` leaves a locked run directory alone. A
    // file system without flock only loses that protection, never the run.
    let _in_use = try_lock(&cfg.out_dir).ok().flatten();
    let result = rt.block_on(async {
        // Installed before the target starts, so no Ctrl-C is missed; /metrics is bound
        // before it too, so a taken port fails the run with nothing started.
        let mut stops = StopSignals::install()?;
        let live = serve_for_run(cfg).await?;
        soak(cfg, checked, guard_exe, live, &mut stops).await
    });
    if result.is_err() && !cfg.out_dir.join("timeline.csv").exists() {
        // Failed before the first row (the target did not start, the metrics port was
        // taken): leave nothing half-written, not even the empty `reports/` above it.
        remove_created(&cfg.out_dir, &created);
    }
    result
}

/// What a run starts from: the target checked before the run directory was created.
pub(crate) enum Checked {
    /// A command to start, or the pid attached to.
    Process(Option<ProcId>),
    /// A container to create or attach to, through this engine.
    #[cfg(feature = "containers")]
    Container(Engine),
}

/// Starts the session of the target's kind and records it to its end.
async fn soak(
    cfg: &RunConfig,
    checked: Checked,
    guard_exe: Option<&Path>,
    live: Option<(Arc<LiveMetrics>, std::net::SocketAddr)>,
    stops: &mut StopSignals,
) -> Result<Outcome> {
    match checked {
        Checked::Process(attached) => {
            let session = ProcessRun::start(cfg, guard_exe, attached)?;
            record(cfg, session, live, stops).await
        }
        #[cfg(feature = "containers")]
        Checked::Container(engine) => {
            let session = ContainerRun::start(cfg, guard_exe, engine).await?;
            record(cfg, session, live, stops).await
        }
    }
}

/// Checks the target before anything is created: a bad pid or an unreachable engine
/// leaves no run directory.
fn check(cfg: &RunConfig, rt: &tokio::runtime::Runtime) -> Result<Checked> {
    Ok(match &cfg.target {
        TargetSpec::Pid(p) => Checked::Process(Some(crate::workload::process::attach(*p)?)),
        TargetSpec::Command(_) => Checked::Process(None),
        #[cfg(feature = "containers")]
        TargetSpec::Image(_) | TargetSpec::Container(_) => {
            Checked::Container(rt.block_on(Engine::connect())?)
        }
        #[cfg(not(feature = "containers"))]
        TargetSpec::Image(_) | TargetSpec::Container(_) => {
            let _ = rt;
            return Err(Error::Usage(
                "this soak was built without container support: rebuild with the `containers` feature (on by default)".into(),
            ));
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
