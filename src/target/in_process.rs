//! In-process soaks for Rust tests: run a closure over and over on the test thread
//! while a background thread samples `/proc/self` (and the heap, when the counting
//! allocator is installed), then judge it with the same engine and report model as the
//! CLI. Modelled on dhat-rs: a builder, `#[non_exhaustive]` results, and an assertion
//! that writes the report files *before* it panics.
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: soak::CountingAlloc = soak::CountingAlloc;
//!
//! #[test]
//! fn cache_does_not_leak() {
//!     soak::InProcess::new("cache")
//!         .iterations(200_000)
//!         .max_growth_rate_per_hour(1e6)
//!         .max_residual(10_000_000)
//!         .run_with_state(Vec::<u64>::new, |v| { v.push(1); v.clear(); })
//!         .assert_pass();
//! }
//! ```

use crate::analysis::{evaluate, Check, EvaluateOptions, Reason, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings, TargetInfo};
use crate::sample::procfs::ProcReader;
use crate::sample::Sample;
use crate::timeline::{read_timeline, TimelineWriter};
use crate::units::Rate;
use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE_BLOCKS: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts live heap bytes and blocks (relaxed atomics) and
/// forwards to the system allocator. Install it in a test binary with
/// `#[global_allocator] static A: soak::CountingAlloc = soak::CountingAlloc;`.
///
/// With the `dhat` cargo feature it forwards to `dhat::Alloc` instead, so that an
/// in-process soak can name the allocation sites that grew (dhat-rs records nothing
/// until a soak starts its profiler, but takes a lock per allocation meanwhile).
pub struct CountingAlloc;

#[cfg(not(feature = "dhat"))]
const INNER: std::alloc::System = std::alloc::System;
#[cfg(feature = "dhat")]
const INNER: dhat::Alloc = dhat::Alloc;

// SAFETY: every method forwards to System with the same arguments; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which System needs.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as u64, Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
            if !INSTALLED.load(Relaxed) {
                INSTALLED.store(true, Relaxed);
            }
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as u64, Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System through this allocator with this layout.
        unsafe { INNER.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as u64, Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds realloc's contract for System.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                LIVE_BYTES.fetch_add((new_size - layout.size()) as u64, Relaxed);
            } else {
                LIVE_BYTES.fetch_sub((layout.size() - new_size) as u64, Relaxed);
            }
        }
        p
    }
}

/// Live heap figures from [`CountingAlloc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapStats {
    /// Bytes allocated and not freed.
    pub bytes: u64,
    /// Blocks allocated and not freed.
    pub blocks: u64,
}

/// The heap now, or `None` when [`CountingAlloc`] is not the global allocator.
pub fn heap_stats() -> Option<HeapStats> {
    INSTALLED.load(Relaxed).then(|| HeapStats {
        bytes: LIVE_BYTES.load(Relaxed),
        blocks: LIVE_BLOCKS.load(Relaxed),
    })
}

/// A soak of a closure in this process (see the module example).
#[derive(Debug, Clone)]
#[must_use]
pub struct InProcess {
    name: String,
    duration: Option<Duration>,
    iterations: Option<u64>,
    interval: Duration,
    warmup: Option<Duration>,
    limits: Limits,
    max_residual: Option<u64>,
    out_dir: Option<PathBuf>,
}

/// Allocation sites of growth (the `dhat` feature): dhat's profiler runs from the end
/// of warm-up to the end of the run.
struct Sites {
    /// Warm-up end, as a time or an iteration count.
    from: (Option<Duration>, Option<u64>),
    #[cfg(feature = "dhat")]
    profiler: Option<dhat::Profiler>,
    #[cfg(feature = "dhat")]
    started_at: Option<Duration>,
    #[cfg(feature = "dhat")]
    file: PathBuf,
}

impl Sites {
    fn new(cfg: &InProcess, dir: &std::path::Path) -> Sites {
        // The same warm-up the verdict uses when the run's length is known; for a run
        // of N iterations, the first tenth.
        let from = match (cfg.warmup, cfg.duration, cfg.iterations) {
            (Some(w), _, _) => (Some(w), None),
            (None, Some(d), _) => (
                Some(Duration::from_secs_f64(crate::analysis::default_warmup_s(
                    d.as_secs_f64(),
                ))),
                None,
            ),
            (None, None, Some(n)) => (None, Some(n / 10)),
            (None, None, None) => (
                Some(Duration::from_secs_f64(crate::analysis::default_warmup_s(
                    10.0,
                ))),
                None,
            ),
        };
        #[cfg(not(feature = "dhat"))]
        let _ = dir;
        Sites {
            from,
            #[cfg(feature = "dhat")]
            profiler: None,
            #[cfg(feature = "dhat")]
            started_at: None,
            #[cfg(feature = "dhat")]
            file: dir.join("dhat-heap.json"),
        }
    }

    /// Called before each iteration: starts the profiler when warm-up ends.
    #[inline]
    fn at(&mut self, elapsed: Duration, iteration: u64) {
        #[cfg(feature = "dhat")]
        if self.started_at.is_none()
            && (self.from.0.is_some_and(|w| elapsed >= w)
                || self.from.1.is_some_and(|n| iteration >= n))
        {
            self.started_at = Some(elapsed);
            self.profiler = Some(
                dhat::Profiler::builder()
                    .file_name(&self.file)
                    .trim_backtraces(Some(16))
                    .build(),
            );
        }
        #[cfg(not(feature = "dhat"))]
        let _ = (elapsed, iteration, self.from);
    }

    /// Stops the profiler (dhat writes its file) and reads the top sites; `Err` is a
    /// note for the report.
    #[cfg(feature = "dhat")]
    fn finish(self) -> Result<Vec<crate::sample::dhat_sites::AllocationSite>, String> {
        let Some(p) = self.profiler else {
            return Err(
                "allocation sites: the run ended before warm-up did, so dhat never started".into(),
            );
        };
        drop(p);
        let text = std::fs::read_to_string(&self.file)
            .map_err(|e| format!("allocation sites: cannot read {}: {e}", self.file.display()))?;
        let sites = crate::sample::dhat_sites::top_sites(&text, 10, 8).map_err(|e| {
            format!(
                "allocation sites: {} is not a dhat profile: {e}",
                self.file.display()
            )
        })?;
        if sites.is_empty() && heap_stats().is_none() {
            return Err("allocation sites: nothing recorded — install soak::CountingAlloc as the global allocator".into());
        }
        Ok(sites)
    }

    /// Without the `dhat` feature there are no sites.
    #[cfg(not(feature = "dhat"))]
    fn finish(self) -> Result<Vec<crate::sample::dhat_sites::AllocationSite>, String> {
        Ok(Vec::new())
    }
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
