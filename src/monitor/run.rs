//! A CLI run from start to report: check the target, create the run directory, start
//! the session for the target's kind, drive it, conclude.

use super::conclude::conclude;
use super::container::ContainerRun;
use super::event_loop::drive;
use super::process::ProcessRun;
use super::recorder::{serve_metrics, Recorder};
use super::rundir::{create_run_dir, remove_created};
use super::session::{End, Session};
use super::signals::StopSignals;
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::Report;
use std::path::{Path, PathBuf};

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
    // Attach is checked before anything is created: a bad pid leaves no run directory.
    let attached = match &cfg.target {
        TargetSpec::Pid(p) => Some(crate::workload::process::attach(*p)?),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Monitor(format!("cannot start the runtime: {e}")))?;
    // The engine is reached (and an attached container found) before the run directory
    // exists, for the same reason.
    let engine = match &cfg.target {
        TargetSpec::Image(_) | TargetSpec::Container(_) => {
            Some(rt.block_on(crate::workload::container::Engine::connect())?)
        }
        _ => None,
    };
    let created = create_run_dir(&cfg.out_dir)?;
    let result = rt.block_on(async {
        // Installed before the target starts, so no Ctrl-C is missed; /metrics is bound
        // before it too, so a taken port fails the run with nothing started.
        let mut stops = StopSignals::install()?;
        let live = serve_metrics(cfg).await?;
        // One line per workload kind: its session.
        match engine {
            Some(engine) => {
                let session = ContainerRun::start(cfg, guard_exe, engine).await?;
                soak(cfg, session, live, &mut stops).await
            }
            None => {
                let session = ProcessRun::start(cfg, guard_exe, attached)?;
                soak(cfg, session, live, &mut stops).await
            }
        }
    });
    if result.is_err() && !cfg.out_dir.join("timeline.csv").exists() {
        // Failed before the first row (the target did not start, the metrics port was
        // taken): leave nothing half-written, not even the empty `reports/` above it.
        remove_created(&cfg.out_dir, &created);
    }
    result
}

/// Records a started session to its end and concludes.
async fn soak<S: Session>(
    cfg: &RunConfig,
    mut session: S,
    live: Option<(
        std::sync::Arc<super::metrics::LiveMetrics>,
        std::net::SocketAddr,
    )>,
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
