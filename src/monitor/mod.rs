//! The run: one select loop over the sampling tick, the target's end, Ctrl-C/SIGTERM and
//! the deadline; then stop the target, analyse the timeline as written, and report.
//!
//! `process.rs` runs a command or an attached pid, `container.rs` a container; what every
//! run shares (the timeline, the live trend and progress, the report at the end) is here.
//!
//! Nothing of the timeline is kept in memory during the run: rows go to disk and the
//! analysis reads them back, so soak's footprint does not grow with the run's length.

pub mod container;
pub mod process;

pub use process::{sample_tree, Tick};

use crate::analysis::{evaluate, EvaluateOptions, Verdict};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{exit_code, Error, Result};
use crate::metrics::{self, LiveMetrics};
use crate::report::ExitInfo;
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings, TargetInfo};
use crate::sample::Sample;
use crate::timeline::{read_timeline, TimelineWriter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// A finished run: its report and where it was written.
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// Why the loop ended.
enum End {
    Deadline,
    Signal(i32),
    TargetGone,
    MonitorError(String),
}

/// Runs a soak. `guard_exe` is soak's own executable, re-run as the guard process (see
/// [`crate::workload::guard`]); `None` runs without one (the in-process API).
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
    let result = match engine {
        Some(engine) => rt.block_on(container::run_container(cfg, guard_exe, engine)),
        None => rt.block_on(process::run_process(cfg, guard_exe, attached)),
    };
    if result.is_err() && !cfg.out_dir.join("timeline.csv").exists() {
        // Failed before the first row (the target did not start, the metrics port was
        // taken): leave nothing half-written, not even the empty `reports/` above it.
        remove_created(&cfg.out_dir, &created);
    }
    result
}

/// Removes the run directory and the (empty) parents soak created for it.
fn remove_created(dir: &Path, created: &[PathBuf]) {
    if created.first().is_some_and(|c| c == dir) {
        let _ = std::fs::remove_dir_all(dir);
    }
    for d in created.iter().skip(1) {
        // remove_dir only removes an empty folder: another run's files keep it.
        let _ = std::fs::remove_dir(d);
    }
}

/// Creates the run directory; returns the folders it created, deepest first (the run
/// directory itself first, when it did not exist).
fn create_run_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let created: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).map_err(|e| {
        remove_created(dir, &created);
        Error::io("cannot create run directory", dir, e)
    })?;
    if dir.join("timeline.csv").exists() {
        return Err(Error::Usage(format!(
            "{} already holds a run (timeline.csv); choose another --out",
            dir.display()
        )));
    }
    // Probe writability now, with a clear message, rather than after the target started.
    let probe = dir.join(".soak-write-test");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            let _ = std::fs::remove_file(&probe);
            remove_created(dir, &created);
            Error::io("cannot write to run directory", dir, e)
        })?;
    Ok(created)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ctrl-C and SIGTERM, installed before the target starts so that none is missed.
struct StopSignals {
    int: Signal,
    term: Signal,
}

fn install(k: SignalKind) -> Result<Signal> {
    signal(k).map_err(|e| Error::Monitor(format!("cannot install signal handler: {e}")))
}

/// Stop signals counted by soak's own `SA_SIGINFO` action (registered beside tokio's):
/// a loop that blocks the runtime (the stop's grace period) can still see a new one.
static STOPS_SEEN: AtomicU64 = AtomicU64::new(0);
/// The last stop signal and who sent it: `signal << 32 | pid`, pid 0 when no process
/// sent it (a terminal's Ctrl-C, the kernel).
static LAST_STOP: AtomicU64 = AtomicU64::new(0);
static RECORD_ORIGINS: std::sync::Once = std::sync::Once::new();

/// Registers the action that counts stop signals and keeps their sender (siginfo's
/// `si_pid`), once per process.
fn record_origins() -> Result<()> {
    let mut failed = None;
    RECORD_ORIGINS.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let action = move |info: &libc::siginfo_t| {
                // si_pid is meaningful for signals a process sent (kill, sigqueue,
                // tgkill: si_code <= 0), not for a terminal's or the kernel's.
                // SAFETY: reading the union field the kernel filled for these codes.
                let pid = if info.si_code <= 0 {
                    unsafe { info.si_pid() }.max(0) as u64
                } else {
                    0
                };
                LAST_STOP.store(((sig as u64) << 32) | pid, Ordering::SeqCst);
                STOPS_SEEN.fetch_add(1, Ordering::SeqCst);
            };
            // SAFETY: the action only stores to atomics, which is async-signal-safe,
            // and the registry chains it with tokio's own action for the signal.
            if let Err(e) = unsafe { signal_hook_registry::register_sigaction(sig, action) } {
                failed = Some(e);
            }
        }
    });
    match failed {
        Some(e) => Err(Error::Monitor(format!(
            "cannot install signal handler: {e}"
        ))),
        None => Ok(()),
    }
}

impl StopSignals {
    fn install() -> Result<StopSignals> {
        let s = StopSignals {
            int: install(SignalKind::interrupt())?,
            term: install(SignalKind::terminate())?,
        };
        record_origins()?;
        Ok(s)
    }

    /// How many stop signals soak has received so far.
    fn seen() -> u64 {
        STOPS_SEEN.load(Ordering::SeqCst)
    }

    /// The process that sent the last stop signal, when it was `sig` and a process sent it.
    fn sender_of(sig: i32) -> Option<u32> {
        let v = LAST_STOP.load(Ordering::SeqCst);
        let pid = (v & 0xffff_ffff) as u32;
        ((v >> 32) as i32 == sig && pid > 0).then_some(pid)
    }

    /// The next stop signal's number.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
        }
    }
}

/// Binds `/metrics` before the target starts: a taken port fails the run with nothing
/// started.
async fn serve_metrics(
    cfg: &RunConfig,
) -> Result<Option<(Arc<LiveMetrics>, std::net::SocketAddr)>> {
    let Some(addr) = cfg.metrics_addr else {
        return Ok(None);
    };
    if addr.ip().is_unspecified() {
        crate::console::err_line(&format!(
            "soak: warning: --metrics-addr {addr} serves /metrics on every network interface (the run's name and figures); use 127.0.0.1:{} to keep it local",
            addr.port()
        ));
    }
    let m = Arc::new(LiveMetrics::new(
        &cfg.name,
        &cfg.metric,
        cfg.duration.as_secs_f64(),
    ));
    if let Some(r) = cfg.limits.max_growth_rate {
        m.limit.set(r.bytes_per_hour);
    }
    let bound = metrics::serve(addr, m.clone()).await.map_err(|e| {
        Error::Monitor(format!(
            "cannot serve metrics on {addr}: {e} (choose another --metrics-addr)"
        ))
    })?;
    Ok(Some((m, bound)))
}

/// Everything a tick does after the target was read: the timeline row, the live trend,
/// `/metrics`, the progress bar or status line, the periodic sync, the deadline.
struct Recorder<'a> {
    cfg: &'a RunConfig,
    writer: TimelineWriter,
    live: Option<Arc<LiveMetrics>>,
    live_series: LiveSeries,
    trend: Option<crate::analysis::SeriesAnalysis>,
    trend_every: f64,
    last_trend: f64,
    bar: Option<indicatif::ProgressBar>,
    status_every: f64,
    last_status: f64,
    last_index: Option<u64>,
    missed: u64,
    last_sync: Instant,
    started_at: String,
    start: Instant,
    ticker: Ticker,
}

/// What a finished recording hands to the report.
struct Recorded {
    started_at: String,
    ended_at: String,
    elapsed_s: f64,
    taken: u64,
    missed: u64,
    sync_error: Option<std::io::Error>,
}

impl<'a> Recorder<'a> {
    /// Creates the timeline (with the container columns for a container) and prints the
    /// one start line naming `what` is monitored.
    fn start(
        cfg: &'a RunConfig,
        container: bool,
        live: Option<(Arc<LiveMetrics>, std::net::SocketAddr)>,
        what: &str,
    ) -> Result<Recorder<'a>> {
        let dir = &cfg.out_dir;
        let started_at = now_rfc3339();
        let start = Instant::now();
        let extra = if container {
            crate::timeline::Extra::Container
        } else {
            crate::timeline::Extra::Runtime
        };
        let writer = TimelineWriter::create_with(&dir.join("timeline.csv"), extra)
            .map_err(|e| Error::io("cannot create timeline", dir.join("timeline.csv"), e))?;
        let serving = live
            .as_ref()
            .map(|(_, a)| format!("; metrics at http://{a}/metrics"))
            .unwrap_or_default();
        // The target's argv and the run directory come from the user: a newline in them
        // must not start a line of its own (a CI runner reads `::error::` lines as commands).
        crate::console::err_line(&crate::report::markup::plain(&format!(
            "soak: monitoring {what} for {} every {} → {}{serving}",
            crate::units::Secs(cfg.duration.as_secs_f64()),
            crate::units::Secs(cfg.interval.as_secs_f64()),
            dir.display()
        )));
        // A progress bar on a terminal; status lines (for CI logs) elsewhere.
        let bar = (!cfg.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let b = indicatif::ProgressBar::new((cfg.duration.as_secs_f64() * 10.0) as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {eta} left · {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        });
        let ticker = Ticker::new(cfg.interval)
            .map_err(|e| Error::Monitor(format!("cannot create the sampling timer: {e}")))?;
        Ok(Recorder {
            ticker,
            cfg,
            writer,
            live: live.map(|(m, _)| m),
            live_series: LiveSeries::new(),
            trend: None,
            // The live slope is recomputed every 1% of the run, at least every 2 s.
            trend_every: (cfg.duration.as_secs_f64() / 100.0).max(2.0),
            last_trend: 0.0,
            bar,
            status_every: cfg.status_every.as_secs_f64(),
            last_status: 0.0,
            last_index: None,
            missed: 0,
            last_sync: Instant::now(),
            started_at,
            start,
        })
    }

    /// Seconds since the run started (monotonic).
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Waits for the next tick; returns its index and the seconds since the start.
    /// More than one timer expiration since the last read means ticks came while soak was
    /// busy: they are missed, not bunched.
    async fn next_tick(&mut self) -> std::result::Result<(u64, f64), End> {
        let expirations = self
            .ticker
            .tick()
            .await
            .map_err(|e| End::MonitorError(format!("sampling timer failed: {e}")))?
            .max(1);
        let index = self.last_index.map(|i| i + expirations).unwrap_or(0);
        if self.last_index.is_some() && expirations > 1 {
            self.missed += expirations - 1;
            if let Some(m) = &self.live {
                m.missed.inc_by(expirations - 1);
            }
        }
        self.last_index = Some(index);
        Ok((index, self.elapsed()))
    }

    /// Whether tick `index` is the run's last.
    fn deadline(&self, index: u64) -> bool {
        index as f64 * self.cfg.interval.as_secs_f64() >= self.cfg.duration.as_secs_f64() - 1e-9
    }

    /// Writes one row and updates everything live; an error names the timeline.
    fn record(&mut self, elapsed: f64, sample: &Sample) -> std::result::Result<(), String> {
        let cfg = self.cfg;
        if let Err(e) = self.writer.write(&now_rfc3339(), elapsed, sample) {
            return Err(format!(
                "cannot write {}: {e}",
                self.writer.path().display()
            ));
        }
        if let Some(v) = metric_value(&cfg.metric, sample) {
            self.live_series.push(elapsed, v);
        }
        if let Some(m) = &self.live {
            m.samples.inc();
            m.elapsed.set(elapsed);
            publish_sample(m, sample);
        }
        if (self.live.is_some() || !cfg.quiet) && elapsed - self.last_trend >= self.trend_every {
            self.last_trend = elapsed;
            self.trend = Some(trend_so_far(&self.live_series, cfg));
            if let (Some(m), Some(a)) = (&self.live, &self.trend) {
                publish_trend(m, a);
            }
        }
        let duration_s = cfg.duration.as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.set_position((elapsed.min(duration_s) * 10.0) as u64);
            bar.set_message(progress_text(cfg, sample, self.trend.as_ref()));
        } else if !cfg.quiet && elapsed - self.last_status >= self.status_every {
            self.last_status = elapsed;
            crate::console::err_line(&format!(
                "soak: {} of {}: {}; {} samples, {} missed",
                crate::units::Secs(elapsed),
                crate::units::Secs(duration_s),
                progress_text(cfg, sample, self.trend.as_ref()),
                self.writer.rows(),
                self.missed
            ));
        }
        if self.last_sync.elapsed().as_secs() >= 60 {
            let _ = self.writer.sync();
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Clears the progress bar when the loop ends (before the target is stopped).
    fn clear_progress(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Syncs and closes the timeline.
    fn finish(mut self, elapsed_s: f64) -> Recorded {
        self.clear_progress();
        let sync_error = self.writer.sync().err();
        Recorded {
            started_at: self.started_at,
            ended_at: now_rfc3339(),
            elapsed_s,
            taken: self.writer.rows(),
            missed: self.missed,
            sync_error,
        }
    }
}

/// What a run's loop learned, for the report.
struct Ending {
    end: End,
    recorded: Recorded,
    target: TargetInfo,
    target_exit: Option<ExitInfo>,
    stop_escalated: Option<bool>,
    sources: BTreeMap<String, String>,
    notes: Vec<String>,
    /// Language runtimes whose own heap was read.
    runtimes: Vec<report::RuntimeSeen>,
    /// The full collections `--full-gc-every` requested.
    full_gc: Option<report::FullGcReport>,
    /// Evidence that the OOM killer killed a process of the tree other than the main one.
    child_oom: Option<String>,
    /// Who sent the stop signal that ended the run, when one did.
    signal: Option<SignalEnd>,
}

/// Where the signal that ended a run came from.
struct SignalEnd {
    /// "SIGTERM from pid 42 (sh), a process of the target's tree: …".
    detail: String,
    /// Sent by a process of the target's tree: the target ended its own soak.
    from_target: bool,
}

/// Analyses the timeline on disk and writes the reports; maps the run to its exit code.
fn conclude(cfg: &RunConfig, e: Ending) -> Result<Outcome> {
    let dir = cfg.out_dir.clone();
    let Ending {
        end,
        recorded: r,
        target,
        target_exit: root_exit,
        stop_escalated,
        sources,
        notes: extra_notes,
        runtimes,
        full_gc,
        child_oom,
        signal,
    } = e;
    let mut notes = Vec::new();
    if cfg.limits.rate_is_default {
        notes.push(crate::config::default_rate_note());
    }
    notes.extend(extra_notes);
    let interrupted = matches!(end, End::Signal(_));
    let early_exit = matches!(end, End::TargetGone);
    let target_ok_finish =
        early_exit && cfg.allow_exit && root_exit.as_ref().is_some_and(|x| x.code == Some(0));
    // An OOM kill inside the tree fails the run unless child deaths are expected
    // (--allow-child-oom) and the main process lived on.
    let child_oom_fails = child_oom.is_some() && !cfg.allow_child_oom;
    // A target that signals soak to stop ended the run itself, before its end: that is
    // the target's failure, not the user's interruption.
    let signalled_by_target = signal.as_ref().is_some_and(|s| s.from_target);
    let target_failed = (early_exit && !target_ok_finish) || child_oom_fails || signalled_by_target;
    if signalled_by_target {
        if let Some(s) = &signal {
            notes.push(format!(
                "soak was stopped by its own target: {}; a target that signals soak fails the run (exit 4)",
                s.detail
            ));
        }
    }
    if let Some(c) = &child_oom {
        notes.push(format!(
            "{c}; {}",
            if child_oom_fails {
                "the run fails (exit 4): --allow-child-oom accepts OOM kills of child processes while the main process lives"
            } else {
                "accepted (--allow-child-oom)"
            }
        ));
    }
    if early_exit && cfg.allow_exit && !target_ok_finish {
        notes.push("--allow-exit accepts a target that exits with code 0; this one did not".into());
    }
    let (end_reason, signal_name, detail) = match &end {
        End::Deadline => ("deadline", None, None),
        End::Signal(s) => (
            "interrupted",
            Some(crate::workload::signal_name(*s)),
            signal.as_ref().map(|x| x.detail.clone()),
        ),
        End::TargetGone => (
            "target_exit",
            None,
            root_exit.as_ref().map(|x| x.describe()),
        ),
        End::MonitorError(m) => ("monitor_error", None, Some(m.clone())),
    };
    let settings = Settings {
        duration_s: Some(cfg.duration.as_secs_f64()),
        interval_s: Some(cfg.interval.as_secs_f64()),
        warmup_s: 0.0,
        metric: cfg.metric.clone(),
        pss: cfg.pss,
    };
    let limits = LimitsReport::new(&cfg.limits, cfg.inconclusive);
    let mut report = Report::new(cfg.name.clone(), target, settings, limits);
    report.started_at = Some(r.started_at);
    report.ended_at = Some(r.ended_at);
    report.elapsed_s = r.elapsed_s;
    report.samples = SampleCounts {
        taken: r.taken,
        missed: r.missed,
    };
    report.end = RunEnd {
        reason: end_reason.into(),
        signal: signal_name,
        detail,
    };
    report.interrupted = interrupted;
    report.target_exit = root_exit;
    report.target_failed = target_failed;
    report.child_oom = child_oom;
    report.stop_escalated = stop_escalated;
    report.sources = sources;
    report.notes = notes;
    report.runtimes = runtimes;
    report.full_gc = full_gc;
    let tl = read_timeline(&dir.join("timeline.csv"), &cfg.metric)?;
    report.notes.extend(tl.notes.iter().cloned());
    let eval = evaluate(
        &tl.elapsed_s,
        &tl.columns,
        &EvaluateOptions {
            metric: cfg.metric.clone(),
            warmup_s: cfg.warmup.map(|w| w.as_secs_f64()),
            limits: cfg.limits.clone(),
        },
    );
    report.set_evaluation(eval);
    report.exit_code = if let End::MonitorError(_) = end {
        exit_code::MONITOR_ERROR
    } else if target_failed {
        exit_code::TARGET_FAILED
    } else {
        report::verdict_exit_code(report.verdict, cfg.inconclusive)
    };
    if let Some(e) = r.sync_error {
        report
            .notes
            .push(format!("timeline could not be synced to disk: {e}"));
    }
    if let End::MonitorError(msg) = &end {
        // The run failed on soak's side (a full disk, say): the timeline on disk is valid
        // up to the failure. Say so in one line, with or without a report.
        let rows = format!("the timeline keeps {} complete rows", r.taken);
        // soak stops only what it started: an attached pid or container is left running.
        let target = match &cfg.target {
            TargetSpec::Pid(p) => format!("pid {p} left running (attached)"),
            TargetSpec::Container(c) => format!("container {c} left running (attached)"),
            _ => "target stopped".to_string(),
        };
        return match report::write_all(&report, Some(&tl), &dir) {
            Ok(()) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}, report written to {}",
                dir.display()
            ))),
            Err(e @ Error::Monitor(_)) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}; report incomplete: {e}"
            ))),
            Err(e) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}; report not written ({e})"
            ))),
        };
    }
    report::write_all(&report, Some(&tl), &dir)?;
    Ok(Outcome {
        report,
        run_dir: dir,
    })
}

fn publish_sample(m: &LiveMetrics, s: &Sample) {
    let set = |k: &str, v: f64| LiveMetrics::set(&m.current, "column", k, v);
    set("rss_bytes", s.rss_bytes as f64);
    set("anon_bytes", s.anon_bytes as f64);
    set("file_bytes", s.file_bytes as f64);
    set("shmem_bytes", s.shmem_bytes as f64);
    set("swap_bytes", s.swap_bytes as f64);
    if let Some(p) = s.pss_bytes {
        set("pss_bytes", p as f64);
    }
    if let Some(h) = s.heap_bytes {
        set("heap_bytes", h as f64);
    }
    if let Some(h) = s.runtime_heap_bytes {
        set("runtime_heap_bytes", h as f64);
    }
    if let Some(h) = s.runtime_heap_after_gc_bytes {
        set("runtime_heap_after_gc_bytes", h as f64);
    }
    set("threads", s.threads as f64);
    set("fds", s.fds as f64);
    set("cpu_s", s.cpu_s);
    set("processes", s.processes as f64);
    if let Some(c) = s.cgroup {
        set("usage_bytes", c.usage_bytes as f64);
        set("working_set_bytes", c.working_set_bytes as f64);
        set("oom_kills", c.oom_kills as f64);
    }
}

/// A bounded, evenly decimated copy of the verdict metric for the live trend (progress
/// bar, status lines, `/metrics`): at most [`LiveSeries::CAP`] samples, halved (every
/// other kept, stride doubled) whenever full. The run's memory stays flat however long
/// it is; the final report is computed from every row of the timeline on disk.
struct LiveSeries {
    t: Vec<f64>,
    y: Vec<f64>,
    stride: u64,
    seen: u64,
}

impl LiveSeries {
    const CAP: usize = 2048;

    fn new() -> Self {
        // Touch the whole buffer now, so soak's RSS does not creep up as it fills.
        let touched = || {
            let mut v = vec![0.0f64; Self::CAP];
            v.clear();
            v
        };
        LiveSeries {
            t: touched(),
            y: touched(),
            stride: 1,
            seen: 0,
        }
    }

    fn push(&mut self, t: f64, y: f64) {
        if self.seen % self.stride == 0 {
            if self.t.len() == Self::CAP {
                let keep = |v: &mut Vec<f64>| {
                    let mut i = 0;
                    v.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                };
                keep(&mut self.t);
                keep(&mut self.y);
                self.stride *= 2;
            }
            if self.seen % self.stride == 0 {
                self.t.push(t);
                self.y.push(y);
            }
        }
        self.seen += 1;
    }
}

/// The value of the verdict metric's column in a sample.
fn metric_value(metric: &str, s: &Sample) -> Option<f64> {
    Some(match metric {
        "rss_bytes" => s.rss_bytes as f64,
        "anon_bytes" => s.anon_bytes as f64,
        "file_bytes" => s.file_bytes as f64,
        "shmem_bytes" => s.shmem_bytes as f64,
        "swap_bytes" => s.swap_bytes as f64,
        "heap_bytes" => s.heap_bytes? as f64,
        "pss_bytes" => s.pss_bytes? as f64,
        "threads" => s.threads as f64,
        "fds" => s.fds as f64,
        "cpu_s" => s.cpu_s,
        "processes" => s.processes as f64,
        "runtime_heap_bytes" => s.runtime_heap_bytes? as f64,
        "runtime_heap_after_gc_bytes" => s.runtime_heap_after_gc_bytes? as f64,
        "usage_bytes" => s.cgroup?.usage_bytes as f64,
        "working_set_bytes" => s.cgroup?.working_set_bytes as f64,
        "oom_kills" => s.cgroup?.oom_kills as f64,
        _ => return None,
    })
}

/// The verdict metric's trend so far (approximate: on the decimated live series).
fn trend_so_far(live: &LiveSeries, cfg: &RunConfig) -> crate::analysis::SeriesAnalysis {
    crate::analysis::analyze_series(
        &cfg.metric,
        &live.t,
        &live.y,
        &crate::analysis::SeriesOptions {
            warmup_s: cfg.warmup.map(|w| w.as_secs_f64()),
            max_rate_per_hour: cfg.limits.max_growth_rate.map(|r| r.bytes_per_hour),
            max_total_growth: cfg.limits.max_total_growth.map(|b| b as f64),
        },
    )
}

fn publish_trend(m: &LiveMetrics, a: &crate::analysis::SeriesAnalysis) {
    for (bound, v) in [
        ("estimate", a.slope_per_hour),
        ("low", a.slope_low_per_hour),
        ("high", a.slope_high_per_hour),
    ] {
        LiveMetrics::set(&m.slope, "bound", bound, v.unwrap_or(f64::NAN));
    }
    let so_far = Verdict::combine(a.checks().map(|c| c.verdict));
    for v in [Verdict::Pass, Verdict::Inconclusive, Verdict::Fail] {
        LiveMetrics::set(
            &m.verdict,
            "verdict",
            &v.to_string(),
            f64::from(u8::from(v == so_far)),
        );
    }
}

/// "RSS 12.3 MB · 5.1 MB/h [3.2 … 7.0] · FAIL so far" for the progress bar and status lines.
fn progress_text(
    cfg: &RunConfig,
    s: &Sample,
    a: Option<&crate::analysis::SeriesAnalysis>,
) -> String {
    use crate::analysis::verdict::fmt_rate;
    let unit = crate::analysis::Unit::of_column(&cfg.metric);
    let mut t = format!("rss {}", crate::units::Bytes(s.rss_bytes as f64));
    if let Some(a) = a {
        match (
            a.slope_per_hour,
            a.slope_low_per_hour,
            a.slope_high_per_hour,
        ) {
            (Some(x), Some(lo), Some(hi)) => {
                let _ = std::fmt::Write::write_fmt(
                    &mut t,
                    format_args!(
                        ", {} slope {} [{} … {}]",
                        cfg.metric,
                        fmt_rate(unit, x),
                        fmt_rate(unit, lo),
                        fmt_rate(unit, hi)
                    ),
                );
            }
            _ => t.push_str(", slope: not yet (warm-up)"),
        }
        let so_far = Verdict::combine(a.checks().map(|c| c.verdict));
        let _ = std::fmt::Write::write_fmt(&mut t, format_args!(", {so_far} so far"));
    }
    t
}

fn signal_number(name: &str) -> Option<i32> {
    (1..32).find(|&s| crate::workload::signal_name(s) == name)
}

/// The sampling clock: a periodic `timerfd` on CLOCK_MONOTONIC driven by the runtime.
/// One wake-up per tick (tokio's timer wheel wakes twice for intervals over 64 ms), and
/// the kernel's expiration count tells exactly how many ticks were missed.
struct Ticker {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl Ticker {
    fn new(interval: std::time::Duration) -> std::io::Result<Ticker> {
        use std::os::fd::FromRawFd;
        // SAFETY: timerfd_create returns a new descriptor we own, or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor owned by nobody else.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let ts = |d: std::time::Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts(interval),
            // The first tick fires at once: the run's first sample is at t = 0.
            it_value: ts(std::time::Duration::from_nanos(1)),
        };
        // SAFETY: spec is a valid itimerspec; the old value is not requested.
        if unsafe { libc::timerfd_settime(raw, 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `owned` is a valid open timerfd, owned by the AsyncFd for its lifetime,
        // and OwnedFd::as_raw_fd always returns that same descriptor.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        }
        .map_err(|e| e.into_parts().1)?;
        Ok(Ticker { fd })
    }

    /// Waits for the next tick; returns how many periods expired since the last call.
    async fn tick(&mut self) -> std::io::Result<u64> {
        use std::os::fd::AsRawFd;
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|fd| {
                let mut n: u64 = 0;
                // SAFETY: reads 8 bytes into a u64 we own.
                let r = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        (&mut n as *mut u64).cast(),
                        std::mem::size_of::<u64>(),
                    )
                };
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n)
                }
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod live_tests {
    use super::LiveSeries;

    #[test]
    fn live_series_stays_bounded_and_even() {
        let mut l = LiveSeries::new();
        for i in 0..100_000u64 {
            l.push(i as f64, 2.0 * i as f64);
        }
        assert!(l.t.len() <= LiveSeries::CAP && l.t.len() > LiveSeries::CAP / 2);
        let gaps: Vec<f64> = l.t.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g == gaps[0]), "evenly spaced");
        assert_eq!(l.t[0], 0.0);
        assert!(*l.t.last().unwrap() > 90_000.0, "covers the whole run");
    }
}
