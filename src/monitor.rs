//! The run: one select loop over the sampling tick, the target's exit (SIGCHLD),
//! Ctrl-C/SIGTERM and the deadline; then stop the target, analyse the timeline as
//! written, and report.
//!
//! Nothing of the timeline is kept in memory during the run: rows go to disk and the
//! analysis reads them back, so soak's footprint does not grow with the run's length.

use crate::analysis::{evaluate, EvaluateOptions, Verdict};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{exit_code, Error, Result};
use crate::metrics::{self, LiveMetrics};
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings, TargetInfo};
use crate::sample::procfs::{gone, ProcReader};
use crate::sample::Sample;
use crate::target::guard::Guard;
use crate::target::process::{self, Reaped};
use crate::target::tree::{ProcId, ProcessTree};
use crate::target::{oom, ExitInfo};
use crate::timeline::{read_timeline, TimelineWriter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::signal::unix::{signal, SignalKind};

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
/// [`crate::target::guard`]); `None` runs without one (the in-process API).
pub fn run(cfg: &RunConfig, guard_exe: Option<&Path>) -> Result<Outcome> {
    // Attach is checked before anything is created: a bad pid leaves no run directory.
    let attached = match &cfg.target {
        TargetSpec::Pid(p) => Some(process::attach(*p)?),
        TargetSpec::Command(_) => None,
    };
    let created = create_run_dir(&cfg.out_dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Monitor(format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(run_async(cfg, guard_exe, attached));
    if result.is_err() && created && !cfg.out_dir.join("timeline.csv").exists() {
        // Failed before the first row (the target did not start, the metrics port was
        // taken): leave nothing half-written.
        let _ = std::fs::remove_dir_all(&cfg.out_dir);
    }
    result
}

fn create_run_dir(dir: &Path) -> Result<bool> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create run directory", dir, e))?;
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
        .map_err(|e| Error::io("cannot write to run directory", dir, e))?;
    Ok(!existed)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn run_async(
    cfg: &RunConfig,
    guard_exe: Option<&Path>,
    attached: Option<ProcId>,
) -> Result<Outcome> {
    let dir = cfg.out_dir.clone();
    let sig = |k: SignalKind| {
        signal(k).map_err(|e| Error::Monitor(format!("cannot install signal handler: {e}")))
    };
    // Installed before the target starts, so no exit or Ctrl-C is missed.
    let mut sigint = sig(SignalKind::interrupt())?;
    let mut sigterm = sig(SignalKind::terminate())?;
    let mut sigchld = sig(SignalKind::child())?;
    let oom_before = oom::cgroup_oom_kills();
    // Bound before the target starts: a taken port fails the run with nothing started.
    let live = match cfg.metrics_addr {
        Some(addr) => {
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
            Some((m, bound))
        }
        None => None,
    };

    let mut guard = None;
    let (root, pgid, adopters, exclude) = match (&cfg.target, attached) {
        (TargetSpec::Command(argv), _) => {
            process::become_subreaper();
            if let Some(exe) = guard_exe {
                guard = Some(
                    Guard::start(exe)
                        .map_err(|e| Error::io("cannot start guard process", exe, e))?,
                );
            }
            let l = process::spawn(
                argv,
                &dir.join("target.stdout.log"),
                &dir.join("target.stderr.log"),
            );
            let l = match l {
                Ok(l) => l,
                Err(e) => {
                    if let Some(g) = guard.take() {
                        g.done();
                    }
                    return Err(e);
                }
            };
            if let Some(g) = guard.as_mut() {
                g.process_group(l.pgid);
                g.member(l.root);
            }
            let me = std::process::id();
            let excl = guard.as_ref().map(|g| vec![g.pid()]).unwrap_or_default();
            (l.root, Some(l.pgid), vec![me], excl)
        }
        (TargetSpec::Pid(_), Some(p)) => (p, None, vec![], vec![]),
        (TargetSpec::Pid(p), None) => {
            return Err(Error::Monitor(format!("pid {p} was not checked")))
        }
    };
    let started_at = now_rfc3339();
    let start = Instant::now();
    let mut writer = TimelineWriter::create(&dir.join("timeline.csv"))
        .map_err(|e| Error::io("cannot create timeline", dir.join("timeline.csv"), e))?;
    let what = match &cfg.target {
        TargetSpec::Command(c) => format!("`{}` (pid {})", c.join(" "), root.pid),
        TargetSpec::Pid(p) => format!("pid {p} (attached)"),
    };
    let serving = live
        .as_ref()
        .map(|(_, a)| format!("; metrics at http://{a}/metrics"))
        .unwrap_or_default();
    eprintln!(
        "soak: monitoring {what} for {} every {} → {}{serving}",
        crate::units::Secs(cfg.duration.as_secs_f64()),
        crate::units::Secs(cfg.interval.as_secs_f64()),
        dir.display()
    );
    let live = live.map(|(m, _)| m);
    // The slope so far is recomputed from the timeline on disk now and then (nothing of
    // the timeline is kept in memory): every 1% of the run, at least every 2 s.
    let trend_every = (cfg.duration.as_secs_f64() / 100.0).max(2.0);
    let mut last_trend = 0.0f64;
    let mut trend: Option<crate::analysis::SeriesAnalysis> = None;
    let mut live_series = LiveSeries::new();
    let status_every = cfg.status_every.as_secs_f64();
    let mut last_status = 0.0f64;
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

    let mut reader = ProcReader::new(cfg.pss);
    let mut tree = ProcessTree::new(root, adopters, exclude);
    let mut ticker = Ticker::new(cfg.interval)
        .map_err(|e| Error::Monitor(format!("cannot create the sampling timer: {e}")))?;
    let interval_s = cfg.interval.as_secs_f64();
    let duration_s = cfg.duration.as_secs_f64();
    let mut last_index: Option<u64> = None;
    let mut missed = 0u64;
    let mut root_exit: Option<ExitInfo> = None;
    let handle_reaped = |r: Reaped, at_s: f64, by_soak: bool, root_exit: &mut Option<ExitInfo>| {
        if r.pid == root.pid && root_exit.is_none() {
            *root_exit = Some(process::exit_info(r, at_s, by_soak));
        }
    };
    let mut last_sync = Instant::now();

    let end = loop {
        tokio::select! {
            biased;
            _ = sigint.recv() => break End::Signal(libc::SIGINT),
            _ = sigterm.recv() => break End::Signal(libc::SIGTERM),
            _ = sigchld.recv() => {
                let at = start.elapsed().as_secs_f64();
                for r in process::reap_all() {
                    handle_reaped(r, at, false, &mut root_exit);
                }
                if attached.is_none() && root_exit.is_some() {
                    // The root is gone; the run goes on while descendants live.
                    if let Ok(joined) = tree.refresh(&mut reader) {
                        for j in joined { if let Some(g) = guard.as_mut() { g.member(j); } }
                    }
                    if live_members(&mut tree, &mut reader) == 0 {
                        break End::TargetGone;
                    }
                }
            }
            expirations = ticker.tick() => {
                let expirations = match expirations {
                    Ok(n) => n.max(1),
                    Err(e) => break End::MonitorError(format!("sampling timer failed: {e}")),
                };
                let elapsed = start.elapsed().as_secs_f64();
                // The kernel counts the timer's expirations: more than one since the last
                // read means ticks came while soak was busy; they are missed, not bunched.
                let index = last_index.map(|i| i + expirations).unwrap_or(0);
                if last_index.is_some() && expirations > 1 {
                    missed += expirations - 1;
                    if let Some(m) = &live {
                        m.missed.inc_by(expirations - 1);
                    }
                }
                last_index = Some(index);
                let (sample, root_alive) = match sample_tree(&mut tree, &mut reader, guard.as_mut()) {
                    Ok(t) => (t.sample, t.root_alive),
                    Err(e) => break End::MonitorError(format!("cannot read /proc: {e}")),
                };
                // Attach mode: the root itself ending ends the run.
                if attached.is_some() && !root_alive {
                    root_exit = Some(ExitInfo { code: None, signal: None, oom: None, at_s: elapsed, stopped_by_soak: false });
                    break End::TargetGone;
                }
                if sample.processes == 0 {
                    for r in process::reap_all() { handle_reaped(r, elapsed, false, &mut root_exit); }
                    break End::TargetGone;
                }
                if let Err(e) = writer.write(&now_rfc3339(), elapsed, &sample) {
                    break End::MonitorError(format!("cannot write {}: {e}", writer.path().display()));
                }
                if let Some(v) = metric_value(&cfg.metric, &sample) {
                    live_series.push(elapsed, v);
                }
                if let Some(m) = &live {
                    m.samples.inc();
                    m.elapsed.set(elapsed);
                    publish_sample(m, &sample);
                }
                if (live.is_some() || !cfg.quiet) && elapsed - last_trend >= trend_every {
                    last_trend = elapsed;
                    trend = Some(trend_so_far(&live_series, cfg));
                    if let (Some(m), Some(a)) = (&live, &trend) {
                        publish_trend(m, a);
                    }
                }
                if let Some(bar) = &bar {
                    bar.set_position((elapsed.min(duration_s) * 10.0) as u64);
                    bar.set_message(progress_text(cfg, &sample, trend.as_ref()));
                } else if !cfg.quiet && elapsed - last_status >= status_every {
                    last_status = elapsed;
                    eprintln!(
                        "soak: {} of {}: {}; {} samples, {missed} missed",
                        crate::units::Secs(elapsed),
                        crate::units::Secs(duration_s),
                        progress_text(cfg, &sample, trend.as_ref()),
                        writer.rows()
                    );
                }
                if last_sync.elapsed().as_secs() >= 60 {
                    let _ = writer.sync();
                    last_sync = Instant::now();
                }
                if index as f64 * interval_s >= duration_s - 1e-9 {
                    break End::Deadline;
                }
            }
        }
    };
    let elapsed_s = start.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    // Stop the target (never an attached one).
    let mut stop_escalated = None;
    if let Some(g) = pgid {
        let at = elapsed_s;
        let mut reaped = Vec::new();
        stop_escalated = Some(process::stop_tree(
            g,
            &mut tree,
            &mut reader,
            cfg.grace,
            |r| reaped.push(r),
        ));
        for r in reaped {
            handle_reaped(r, at, true, &mut root_exit);
        }
    }
    if let Some(g) = guard.take() {
        g.done();
    }
    let sync_error = writer.sync().err();
    let ended_at = now_rfc3339();
    let taken = writer.rows();
    drop(writer);

    if let Some(x) = root_exit.as_mut() {
        if !x.stopped_by_soak {
            x.oom = oom::explain(
                root.pid,
                x.signal.as_deref().and_then(signal_number),
                oom_before,
            );
        }
    }

    let mut notes = Vec::new();
    if cfg.limits.rate_is_default {
        notes.push(format!(
            "no memory limit given: the default --max-growth-rate {} MB/h applies",
            crate::config::DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR / 1e6
        ));
    }
    let interrupted = matches!(end, End::Signal(_));
    let early_exit = matches!(end, End::TargetGone);
    let target_ok_finish =
        early_exit && cfg.allow_exit && root_exit.as_ref().is_some_and(|x| x.code == Some(0));
    let target_failed = early_exit && !target_ok_finish;
    if early_exit && cfg.allow_exit && !target_ok_finish {
        notes.push("--allow-exit accepts a target that exits with code 0; this one did not".into());
    }
    let (end_reason, signal_name, detail) = match &end {
        End::Deadline => ("deadline", None, None),
        End::Signal(s) => ("interrupted", Some(crate::target::signal_name(*s)), None),
        End::TargetGone => (
            "target_exit",
            None,
            root_exit.as_ref().map(|x| x.describe()),
        ),
        End::MonitorError(m) => ("monitor_error", None, Some(m.clone())),
    };
    let target = TargetInfo {
        kind: match cfg.target {
            TargetSpec::Command(_) => "process",
            TargetSpec::Pid(_) => "pid",
        }
        .into(),
        command: match &cfg.target {
            TargetSpec::Command(c) => Some(c.clone()),
            TargetSpec::Pid(_) => None,
        },
        pid: Some(root.pid),
        timeline: None,
    };
    let settings = Settings {
        duration_s: Some(duration_s),
        interval_s: Some(interval_s),
        warmup_s: 0.0,
        metric: cfg.metric.clone(),
        pss: cfg.pss,
    };
    let limits = LimitsReport::new(&cfg.limits, cfg.inconclusive);
    let mut report = Report::new(cfg.name.clone(), target, settings, limits);
    report.started_at = Some(started_at);
    report.ended_at = Some(ended_at);
    report.elapsed_s = elapsed_s;
    report.samples = SampleCounts { taken, missed };
    report.end = RunEnd {
        reason: end_reason.into(),
        signal: signal_name,
        detail,
    };
    report.interrupted = interrupted;
    report.target_exit = root_exit;
    report.target_failed = target_failed;
    report.stop_escalated = stop_escalated;
    report.sources = procfs_sources(cfg.pss);
    report.notes = notes;
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
    if let Some(e) = sync_error {
        report
            .notes
            .push(format!("timeline could not be synced to disk: {e}"));
    }
    if let End::MonitorError(msg) = &end {
        // The run failed on soak's side (a full disk, say): the timeline on disk is valid
        // up to the failure. Say so in one line, with or without a report.
        let rows = format!("the timeline keeps {taken} complete rows");
        return match report::write_all(&report, Some(&tl), &dir) {
            Ok(()) => Err(Error::Monitor(format!(
                "{msg}; target stopped, {rows}, report written to {}",
                dir.display()
            ))),
            Err(e) => Err(Error::Monitor(format!(
                "{msg}; target stopped, {rows}; report not written ({e})"
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
    set("threads", s.threads as f64);
    set("fds", s.fds as f64);
    set("cpu_s", s.cpu_s);
    set("processes", s.processes as f64);
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
    (1..32).find(|&s| crate::target::signal_name(s) == name)
}

fn procfs_sources(pss: bool) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let tree = "summed over the target and its descendants";
    for (col, src) in [
        ("rss_bytes", "/proc/PID/status VmRSS"),
        ("anon_bytes", "/proc/PID/status RssAnon"),
        ("file_bytes", "/proc/PID/status RssFile"),
        ("shmem_bytes", "/proc/PID/status RssShmem"),
        ("swap_bytes", "/proc/PID/status VmSwap"),
        ("threads", "/proc/PID/status Threads"),
        ("fds", "entries of /proc/PID/fd"),
        ("cpu_s", "/proc/PID/stat utime+stime+cutime+cstime"),
    ] {
        m.insert(col.to_string(), format!("{src}, {tree}"));
    }
    m.insert(
        "processes".into(),
        "live (non-zombie) processes in the tree".into(),
    );
    m.insert(
        "heap_bytes".into(),
        "not sampled (no heap source for this target)".into(),
    );
    m.insert(
        "pss_bytes".into(),
        if pss {
            format!("/proc/PID/smaps_rollup Pss, {tree}")
        } else {
            "not sampled (use --pss)".into()
        },
    );
    m
}

/// Whether `p` still runs as the same process (not exited, not a zombie, pid not reused).
fn alive_as(reader: &mut ProcReader, p: ProcId) -> bool {
    matches!(reader.stat_tracked(p.pid), Ok(s) if s.starttime == p.starttime && s.state != b'Z')
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

fn live_members(tree: &mut ProcessTree, reader: &mut ProcReader) -> usize {
    let members: Vec<ProcId> = tree.members().collect();
    members.into_iter().filter(|m| alive_as(reader, *m)).count()
}

/// One tick's reading of the tree.
pub struct Tick {
    /// The sample summed over live members.
    pub sample: Sample,
    /// Whether the root itself is still alive as itself (not exited, not a zombie).
    pub root_alive: bool,
}

/// Refreshes the tree and sums a sample over its live members (public for the
/// benchmarks, which time exactly what a tick does).
pub fn sample_tree(
    tree: &mut ProcessTree,
    reader: &mut ProcReader,
    mut guard: Option<&mut Guard>,
) -> std::io::Result<Tick> {
    for j in tree.refresh(reader)? {
        if let Some(g) = guard.as_deref_mut() {
            g.member(j);
        }
    }
    let mut total = Sample::default();
    let root = tree.root();
    let mut root_alive = false;
    let members: Vec<ProcId> = tree.members().collect();
    for m in members {
        let st = match reader.stat_tracked(m.pid) {
            Ok(s) => s,
            Err(e) if gone(&e) => {
                tree.forget(m.pid);
                continue;
            }
            Err(e) => return Err(e),
        };
        if st.starttime != m.starttime {
            // The pid now belongs to another process: never sample it as the target.
            tree.forget(m.pid);
            continue;
        }
        if st.state == b'Z' {
            continue;
        }
        if let Some(s) = reader.sample(m.pid, &st)? {
            root_alive |= m == root;
            total.add(&s);
        }
    }
    reader.retain(|pid| tree.contains(pid));
    Ok(Tick {
        sample: total,
        root_alive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_pid_is_never_sampled_as_the_target() {
        let mut reader = ProcReader::new(false);
        let me = std::process::id();
        let real = reader.stat(me).unwrap().starttime;
        // Same pid, other start time: what a reused pid looks like.
        let ghost = ProcId {
            pid: me,
            starttime: real + 1,
        };
        let mut tree = ProcessTree::new(ghost, vec![], vec![]);
        let t = sample_tree(&mut tree, &mut reader, None).unwrap();
        assert_eq!(t.sample.processes, 0);
        assert!(!t.root_alive);
        assert!(tree.is_empty(), "the impostor is dropped from the tree");

        let mut tree = ProcessTree::new(
            ProcId {
                pid: me,
                starttime: real,
            },
            vec![],
            vec![],
        );
        let t = sample_tree(&mut tree, &mut reader, None).unwrap();
        assert!(t.root_alive);
        let s = t.sample;
        assert_eq!(s.processes, 1);
        assert!(s.rss_bytes > 0 && s.threads >= 1);
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
