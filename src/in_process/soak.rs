//! The in-process soak: the builder, its run, and its result.

use super::alloc::heap_stats;
use super::sites::Sites;
use crate::analysis::{evaluate, Check, EvaluateOptions, Reason, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings, TargetInfo};
use crate::sample::procfs::ProcReader;
use crate::sample::Sample;
use crate::timeline::{read_timeline, TimelineWriter};
use crate::units::Rate;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
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
    /// Heap before the workload started, bytes (None without [`CountingAlloc`]).
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
            "heap_bytes"
        } else {
            "rss_bytes"
        };
        let stop = Arc::new(AtomicBool::new(false));
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let start = Instant::now();
        let sampler = {
            let stop = stop.clone();
            let path = dir.join("timeline.csv");
            let interval = self.interval;
            std::thread::spawn(move || sample_self(&path, interval, start, &stop))
        };
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
        stop.store(true, Relaxed);
        let sampled = sampler.join();
        let final_heap = heap_stats().map(|h| h.bytes);
        let mut notes = Vec::new();
        match &sampled {
            Ok(Ok((_, missed))) if *missed > 0 => notes.push(format!("{missed} ticks missed")),
            Ok(Err(e)) => notes.push(format!("the sampler stopped early: {e}")),
            Err(_) => notes.push("the sampler thread panicked".into()),
            _ => {}
        }
        if baseline.is_none() {
            notes.push("soak::CountingAlloc is not the global allocator: heap not counted, the verdict is on RSS".into());
        }
        let (taken, missed) = sampled.ok().and_then(|r| r.ok()).unwrap_or((0, 0));
        let tl = read_timeline(&dir.join("timeline.csv"), metric).ok();
        let eval = tl.as_ref().map(|tl| {
            evaluate(
                &tl.elapsed_s,
                &tl.columns,
                &EvaluateOptions {
                    metric: metric.into(),
                    warmup_s: self.warmup.map(|w| w.as_secs_f64()),
                    limits: self.limits.clone(),
                },
            )
        });
        let mut r = Report::new(
            self.name.clone(),
            TargetInfo {
                kind: "closure".into(),
                command: None,
                pid: Some(std::process::id()),
                timeline: None,
                container: None,
            },
            Settings {
                duration_s: self.duration.map(|d| d.as_secs_f64()),
                interval_s: Some(self.interval.as_secs_f64()),
                warmup_s: 0.0,
                metric: metric.into(),
                pss: false,
            },
            LimitsReport::new(&self.limits, InconclusivePolicy::Exit3),
        );
        r.started_at = Some(started_at);
        r.ended_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        r.elapsed_s = start.elapsed().as_secs_f64();
        r.samples = SampleCounts { taken, missed };
        r.end = RunEnd {
            reason: "target_exit".into(),
            signal: None,
            detail: Some(format!("{n} iterations")),
        };
        r.sources.insert(
            "heap_bytes".into(),
            if baseline.is_some() {
                "soak::CountingAlloc live bytes (every allocation of this process)".into()
            } else {
                "not counted (install soak::CountingAlloc)".into()
            },
        );
        r.sources
            .insert("rss_bytes".into(), "/proc/self/status VmRSS".into());
        r.notes = notes;
        match sites {
            Ok(found) => r.allocation_sites = found,
            Err(note) => r.notes.push(note),
        }
        if let Some(e) = eval {
            r.set_evaluation(e);
        }
        if let (Some(limit), Some(b), Some(f)) = (self.max_residual, baseline, final_heap) {
            let residual = f as f64 - b as f64;
            let pass = residual <= limit as f64;
            r.checks.push(Check {
                limit_name: "max_residual".into(),
                metric: "heap_bytes".into(),
                limit: limit as f64,
                measured: Some(residual),
                verdict: if pass { Verdict::Pass } else { Verdict::Fail },
                reason: if pass { Reason::ResidualWithin } else { Reason::ResidualExceeded },
                explanation: format!(
                    "heap {} the baseline after the state was dropped ({} → {}), {} the {} allowed → {}",
                    if residual >= 0.0 { format!("{} above", crate::units::Bytes(residual)) } else { format!("{} below", crate::units::Bytes(-residual)) },
                    crate::units::Bytes(b as f64),
                    crate::units::Bytes(f as f64),
                    if pass { "within" } else { "beyond" },
                    crate::units::Bytes(limit as f64),
                    if pass { "PASS" } else { "FAIL" }
                ),
            });
            r.verdict = Verdict::combine(r.checks.iter().map(|c| c.verdict));
            if !pass {
                r.reason = Some(Reason::ResidualExceeded);
                r.explanation = r
                    .checks
                    .last()
                    .map(|c| c.explanation.clone())
                    .unwrap_or_default();
            }
        }
        r.exit_code = report::verdict_exit_code(r.verdict, InconclusivePolicy::Exit3);
        if let Err(e) = report::write_all(&r, tl.as_ref(), &dir) {
            r.notes.push(format!("reports not written: {e}"));
        }
        InProcessResult {
            report: r,
            dir,
            baseline_heap_bytes: baseline,
            final_heap_bytes: final_heap,
            iterations: n,
        }
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

/// The sampler thread: one row per tick into the timeline until `stop`.
fn sample_self(
    path: &std::path::Path,
    interval: Duration,
    start: Instant,
    stop: &AtomicBool,
) -> std::io::Result<(u64, u64)> {
    let mut w = TimelineWriter::create(path)?;
    let mut reader = ProcReader::new(false);
    let me = std::process::id();
    let mut next = start;
    let mut missed = 0u64;
    loop {
        let st = reader.stat_tracked(me)?;
        let s: Sample = match reader.sample(me, &st)? {
            Some(mut s) => {
                s.heap_bytes = heap_stats().map(|h| h.bytes);
                s
            }
            None => break,
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        w.write(&now, start.elapsed().as_secs_f64(), &s)?;
        if stop.load(Relaxed) {
            break;
        }
        next += interval;
        let now = Instant::now();
        if next < now {
            // Late: skip the ticks that passed rather than bunching them.
            let behind = (now - next).as_secs_f64() / interval.as_secs_f64();
            missed += behind.ceil() as u64;
            next += interval.mul_f64(behind.ceil());
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok((w.rows(), missed))
}
