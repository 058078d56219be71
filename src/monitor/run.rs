//! A CLI run from start to report: check the target, create the run directory, start
//! the session for the target's kind, drive it, conclude.

use super::recorder::serve_metrics;
use super::rundir::{create_run_dir, remove_created, try_lock};
use super::session;
use super::signals::StopSignals;
use crate::config::RunConfig;
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Monitor(format!("cannot start the runtime: {e}")))?;
    let checked = session::check(cfg, &rt)?;
    let created = create_run_dir(&cfg.out_dir)?;
    // Held to the end of the run: `soak prune` leaves a locked run directory alone. A
    // file system without flock only loses that protection, never the run.
    let _in_use = try_lock(&cfg.out_dir).ok().flatten();
    let result = rt.block_on(async {
        // Installed before the target starts, so no Ctrl-C is missed; /metrics is bound
        // before it too, so a taken port fails the run with nothing started.
        let mut stops = StopSignals::install()?;
        let live = serve_metrics(cfg).await?;
        session::soak(cfg, checked, guard_exe, live, &mut stops).await
    });
    if result.is_err() && !cfg.out_dir.join("timeline.csv").exists() {
        // Failed before the first row (the target did not start, the metrics port was
        // taken): leave nothing half-written, not even the empty `reports/` above it.
        remove_created(&cfg.out_dir, &created);
    }
    result
}
