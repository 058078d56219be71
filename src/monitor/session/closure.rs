//! The session of an in-process soak: this process, sampled from `/proc/self` (and
//! soak::CountingAlloc's heap) on a monitor thread while the test thread runs the
//! closure. The closure's end is the workload's end.

use super::{End, Ending, Facts, Session, Step};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::monitor::event_loop::drive;
use crate::monitor::recorder::Recorder;
use crate::report::TargetInfo;
use crate::sample::this_process::ThisProcess;
use crate::sample::{Sample, Source};
use crate::timeline::Extra;
use crate::workload::closure::Closure;
use crate::workload::Workload;
use std::time::Instant;
use tokio::sync::oneshot;

/// This process, read at each tick.
struct ClosureRun {
    workload: Closure,
    source: ThisProcess,
}

impl Session for ClosureRun {
    fn describe(&self) -> String {
        self.workload.describe()
    }

    fn extra_columns(&self) -> Extra {
        Extra::None
    }

    async fn ended(&mut self, start: Instant) -> bool {
        self.workload.ended(start).await
    }

    async fn tick(&mut self, _elapsed_s: f64) -> Step {
        match self.source.read() {
            Ok(Some(s)) => Step::Sample(s),
            Ok(None) => Step::Gone,
            Err(e) => Step::Failed(format!("cannot read /proc/self: {e}")),
        }
    }

    async fn last_sample(&mut self) -> Option<Sample> {
        // After the closure's state was dropped: where the heap came back to.
        self.source.read().ok().flatten()
    }

    async fn finish(&mut self, end: &End, elapsed_s: f64, _taken: u64) -> Result<Facts> {
        let stopped = self
            .workload
            .stop(&mut (), *end == End::TargetGone, elapsed_s)
            .await;
        Ok(Facts {
            target_exit: stopped.exit,
            notes: stopped.notes,
            target: TargetInfo {
                kind: "closure".into(),
                pid: Some(std::process::id()),
                ..TargetInfo::default()
            },
            sources: self.source.sources(),
            ..Facts::default()
        })
    }
}

/// A monitor running on its own thread until [`ClosureMonitor::finish`].
pub(crate) struct ClosureMonitor {
    done: Option<oneshot::Sender<()>>,
    thread: std::thread::JoinHandle<Result<Ending>>,
}

impl ClosureMonitor {
    /// Starts sampling this process into `cfg.out_dir`'s timeline (no start line, no
    /// progress, no stop signals: the test runner owns Ctrl-C). `heap` reads the
    /// counting allocator.
    pub(crate) fn start(cfg: RunConfig, heap: fn() -> Option<u64>) -> ClosureMonitor {
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Monitor(format!("cannot start the runtime: {e}")))?;
            rt.block_on(async {
                let mut session = ClosureRun {
                    workload: Closure::new(rx),
                    source: ThisProcess::new(heap),
                };
                let rec = Recorder::start(&cfg, Extra::None, None, None)?;
                drive(&mut session, rec, None).await
            })
        });
        ClosureMonitor {
            done: Some(tx),
            thread,
        }
    }

    /// Tells the monitor the closure is done and waits for the recording to close.
    pub(crate) fn finish(mut self) -> std::result::Result<Ending, SamplerFailed> {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
        match self.thread.join() {
            Ok(Ok(ending)) => Ok(ending),
            Ok(Err(e)) => Err(SamplerFailed::Stopped(e)),
            Err(_) => Err(SamplerFailed::Panicked),
        }
    }
}

/// Why an in-process soak has no recording to judge.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SamplerFailed {
    /// The monitor could not start or go on.
    #[error("{0}")]
    Stopped(Error),
    /// The monitor thread panicked.
    #[error("the sampler thread panicked")]
    Panicked,
}
