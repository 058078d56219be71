//! The in-process soak: the builder, its run, and its result.

use super::alloc::heap_stats;
use super::sites::Sites;
use crate::analysis::rules::residual;
use crate::analysis::Verdict;
use crate::config::{Format, InconclusivePolicy, Limits, RunConfig, TargetSpec};
use crate::judge::{add_checks, judge, Rules, RunOutcome};
use crate::monitor::{ClosureMonitor, End, Ending, SamplerFailed};
use crate::note::Note;
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings};
use crate::sample::dhat_sites::AllocationSite;
use crate::sample::Col;
use crate::timeline::read_timeline;
use crate::units::Rate;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A soak of a closure in this process (see the module example).
#[derive(Debug, Clone)]
#[must_use]
pub struct InProcess {
    pub(super) name: String,
    pub(super) duration: Option<Duration>,
    pub(super) iterations: Option<u64>,
    pub(super) interval: Duration,
    pub(super) warmup: Option<Duration>,
    pub(super) limits: Limits,
    pub(super) max_residual: Option<u64>,
    pub(super) out_dir: Option<PathBuf>,
}

/// The outcome of an in-process soak: the same report model as a CLI run.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[must_use]
pub struct InProcessResult {
    /// The report (also written to `dir`).
    pub report: Report,
    /// Where `timeline.csv` and the reports were written.
    pub dir: PathBuf,
    /// Heap before the workload started, bytes (None without [`CountingAlloc`](super::CountingAlloc)).
    pub baseline_heap_bytes: Option<u64>,
    /// Heap after the workload's state was dropped, bytes.
    pub final_heap_bytes: Option<u64>,
    /// Iterations run.
    pub iterations: u64,
}

impl InProcess {
    /// A soak named `name`; defaults: 10 s, 50 ms interval, 1 MB/h growth limit.
    pub fn new(name: &str) -> InProcess {
        InProcess {
            name: name.to_string(),
            duration: None,
            iterations: None,
            interval: Duration::from_millis(50),
            warmup: None,
            limits: Limits {
                max_growth_rate: Some(Rate::per_hour(1e6)),
                ..Limits::default()
            },
            max_residual: None,
            out_dir: None,
        }
    }
    /// Run for this long (default 10 s unless `iterations` is set).
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }
    /// Run the closure this many times (with `duration`, whichever ends first).
    pub fn iterations(mut self, n: u64) -> Self {
        self.iterations = Some(n);
        self
    }
    /// Sampling interval (default 50 ms).
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }
    /// Warm-up to ignore (default as for a run).
    pub fn warmup(mut self, d: Duration) -> Self {
        self.warmup = Some(d);
        self
    }
    /// Growth-rate limit, bytes per hour, of the verdict metric (heap when counted).
    pub fn max_growth_rate_per_hour(mut self, bytes_per_hour: f64) -> Self {
        self.limits.max_growth_rate = Some(Rate::per_hour(bytes_per_hour));
        self
    }
    /// Total-growth limit after warm-up, bytes.
    pub fn max_total_growth(mut self, bytes: u64) -> Self {
        self.limits.max_total_growth = Some(bytes);
        self
    }
    /// After the workload's state is dropped, the heap must be back within this many
    /// bytes of where it was before the workload started.
    pub fn max_residual(mut self, bytes: u64) -> Self {
        self.max_residual = Some(bytes);
        self
    }
    /// Where to write the run (default `target/soak/<name>-<UTC time>`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Runs `step` repeatedly (no state).
    pub fn run(self, mut step: impl FnMut()) -> InProcessResult {
        self.run_with_state(|| (), move |_| step())
    }

    /// Builds the workload's state with `setup`, runs `step` on it repeatedly, drops it,
    /// and checks the heap's return to baseline.
    pub fn run_with_state<S>(
        self,
        setup: impl FnOnce() -> S,
        mut step: impl FnMut(&mut S),
    ) -> InProcessResult {
        let dir = self.out_dir.clone().unwrap_or_else(|| {
            PathBuf::from("target/soak").join(format!(
                "{}-{}",
                self.name
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
            ))
        });
        // A test harness has no better channel for a setup failure than a panic.
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("soak: cannot create {}: {e}", dir.display());
        }
        let baseline = heap_stats().map(|h| h.bytes);
        let metric = if baseline.is_some() {
            Col::Heap
        } else {
            Col::Rss
        };
        let cfg = self.run_config(&dir, metric);
        let start = Instant::now();
        let monitor = ClosureMonitor::start(cfg.clone(), || heap_stats().map(|h| h.bytes));
        let mut state = setup();
        let deadline = self
            .duration
            .or(if self.iterations.is_none() {
                Some(Duration::from_secs(10))
            } else {
                None
            })
            .map(|d| start + d);
        let mut n = 0u64;
        let mut sites = Sites::new(&self, &dir);
        loop {
            if self.iterations.is_some_and(|max| n >= max)
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            sites.at(start.elapsed(), n);
            step(&mut state);
            n += 1;
        }
        // Before the state is dropped: what is live now is what the run accumulated.
        let sites = sites.finish();
        drop(state);
        let ending = monitor.finish();
        let final_heap = heap_stats().map(|h| h.bytes);
        let r = self.conclude(&cfg, ending, n, baseline, final_heap, sites);
        InProcessResult {
            report: r,
            dir,
            baseline_heap_bytes: baseline,
            final_heap_bytes: final_heap,
            iterations: n,
        }
    }

    /// The run configuration the monitor records with.
    fn run_config(&self, dir: &std::path::Path, metric: Col) -> RunConfig {
        RunConfig {
            // The workload is this process.
            target: TargetSpec::Pid(std::process::id()),
            // The test thread owns the deadline (duration or iterations); the monitor
            // samples until the closure is done, so its own deadline is beyond any test.
            duration: Duration::from_secs(10 * 365 * 86_400),
            interval: self.interval,
            warmup: self.warmup,
            grace: Duration::ZERO,
            metric: metric.name().to_string(),
            pss: false,
            out_dir: dir.to_path_buf(),
            name: self.name.clone(),
            allow_exit: true,
            allow_child_oom: false,
            limits: self.limits.clone(),
            inconclusive: InconclusivePolicy::Exit3,
            format: Format::Text,
            metrics_addr: None,
            quiet: true,
            status_every: Duration::from_secs(3600),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            heap: false,
            sites_period: None,
            full_gc_every: None,
            log_cap: 0,
        }
    }

    /// Judges the recorded run (with the return-to-baseline check) and writes the
    /// reports; a failure to record or write becomes a note, never a panic.
    fn conclude(
        &self,
        cfg: &RunConfig,
        ending: std::result::Result<Ending, SamplerFailed>,
        iterations: u64,
        baseline: Option<u64>,
        final_heap: Option<u64>,
        sites: Result<Vec<AllocationSite>, super::sites::SitesMissing>,
    ) -> Report {
        let dir = &cfg.out_dir;
        let mut notes = Vec::new();
        let (taken, missed, started_at, ended_at) = match &ending {
            Ok(e) => {
                if let End::MonitorError(m) = &e.end {
                    notes.push(Note::SamplerStopped { error: m.clone() });
                }
                if e.recorded.missed > 0 {
                    notes.push(Note::TicksMissed {
                        count: e.recorded.missed,
                    });
                }
                (
                    e.recorded.taken,
                    e.recorded.missed,
                    Some(e.recorded.started_at.clone()),
                    Some(e.recorded.ended_at.clone()),
                )
            }
            Err(err) => {
                notes.push(match err {
                    SamplerFailed::Panicked => Note::SamplerPanicked,
                    SamplerFailed::Stopped(e) => Note::SamplerStopped {
                        error: e.to_string(),
                    },
                });
                (0, 0, None, None)
            }
        };
        if baseline.is_none() {
            notes.push(Note::CountingAllocMissing);
        }
        let mut r = Report::new(
            self.name.clone(),
            ending
                .as_ref()
                .map(|e| e.facts.target.clone())
                .unwrap_or_default(),
            Settings {
                duration_s: self.duration.map(|d| d.as_secs_f64()),
                interval_s: Some(self.interval.as_secs_f64()),
                warmup_s: 0.0,
                metric: cfg.metric.clone(),
                pss: false,
            },
            LimitsReport::new(&self.limits, InconclusivePolicy::Exit3),
        );
        r.target.kind = "closure".into();
        r.target.pid = Some(std::process::id());
        r.started_at = started_at;
        r.ended_at = ended_at;
        r.elapsed_s = ending.as_ref().map(|e| e.recorded.elapsed_s).unwrap_or(0.0);
        r.samples = SampleCounts { taken, missed };
        r.end = RunEnd {
            reason: "target_exit".into(),
            signal: None,
            detail: Some(format!("{iterations} iterations")),
        };
        if let Ok(e) = &ending {
            r.sources = e.facts.sources.clone();
        }
        r.notes = notes;
        match sites {
            Ok(found) => r.allocation_sites = found,
            Err(missing) => r.notes.push(Note::NoAllocationSites { why: missing.0 }),
        }
        let residual = match (self.max_residual, baseline, final_heap) {
            (Some(limit), Some(b), Some(f)) => vec![residual::check(limit, b, f)],
            _ => Vec::new(),
        };
        let rules = Rules {
            warmup_s: self.warmup.map(|w| w.as_secs_f64()),
            limits: &self.limits,
            inconclusive: InconclusivePolicy::Exit3,
            extra_checks: residual,
        };
        let tl = read_timeline(&dir.join("timeline.csv"), &cfg.metric).ok();
        let r = match &tl {
            Some(tl) => judge(r, tl, rules, RunOutcome::Finished),
            None => {
                // No timeline to judge: the outside checks alone decide.
                let mut r = r;
                add_checks(&mut r, rules.extra_checks);
                r.exit_code = report::verdict_exit_code(r.verdict, InconclusivePolicy::Exit3);
                r
            }
        };
        let mut r = r;
        if let Err(e) = report::write_all(&r, tl.as_ref(), dir) {
            r.notes.push(Note::ReportsNotWritten {
                error: e.to_string(),
            });
        }
        r
    }
}

impl InProcessResult {
    /// Panics with the summary unless the verdict is PASS. The report files are already
    /// on disk (written by the run), so a failing test leaves its evidence behind.
    pub fn assert_pass(self) -> Self {
        if self.report.verdict != Verdict::Pass {
            panic!("{}", report::text_summary(&self.report, Some(&self.dir)));
        }
        self
    }
}
