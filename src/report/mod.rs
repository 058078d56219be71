//! The report model (a versioned DESIGN.md contract) and one exporter per format over it.
//! Files are written atomically (temp file, then rename) so a crash never leaves half a
//! report.

mod html;
mod json;
mod junit;
mod markdown;
pub mod markup;
mod text;

use crate::analysis::{Check, Evaluation, Reason, SeriesAnalysis, Unit, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::error::{exit_code, Error, Result};
use crate::target::ExitInfo;
use crate::timeline::Timeline;
use markup::Markup;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub use text::summary as text_summary;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// What was soaked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TargetInfo {
    /// `process` (started by soak), `pid` (attached), `container` (started by soak from
    /// an image), `attached_container`, `closure`, `timeline` (re-analysed file).
    pub kind: String,
    /// The command line, for a started process.
    pub command: Option<Vec<String>>,
    /// The root pid.
    pub pid: Option<u32>,
    /// The timeline file, for `soak analyze`.
    pub timeline: Option<String>,
    /// The container, for a container run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
}

/// A soaked container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ContainerInfo {
    /// Full container id.
    pub id: String,
    /// Container name.
    pub name: String,
    /// Image it runs.
    pub image: String,
    /// Whether soak created it (and removed it at the end) or attached to it.
    pub created_by_soak: bool,
    /// Memory limit set on the container, bytes (none = unlimited).
    pub memory_limit_bytes: Option<u64>,
    /// The Engine the container runs on (socket).
    pub engine: String,
    /// Where the samples came from: `cgroup v1`, `cgroup v2` or `engine stats API`.
    pub source: String,
    /// Whether the container was removed at the end.
    pub removed: bool,
}

/// A language runtime whose own heap soak read (the runtime_heap columns).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RuntimeSeen {
    /// `jvm` (HotSpot perf data) or `node` (soak's preload).
    pub kind: String,
    /// The process.
    pub pid: u32,
    /// The JVM's collector (`G1`, `Parallel`, `Serial`, …) or node's version.
    pub detail: String,
    /// Full (JVM) or major (V8) collections the runtime counted by its last sample.
    pub full_gcs: u64,
}

/// The full collections `--full-gc-every` requested.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FullGcReport {
    /// The period, seconds.
    pub every_s: f64,
    /// Collections requested and done (JVM requests answered, node's forced `gc()` calls).
    pub requested: u64,
    /// Requests that failed (see the notes).
    pub failed: u64,
}

/// Facts about the machine (sysinfo).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HostInfo {
    /// Operating system.
    pub os: Option<String>,
    /// Kernel version.
    pub kernel: Option<String>,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, bytes.
    pub total_memory_bytes: u64,
    /// Host name.
    pub hostname: Option<String>,
}

impl HostInfo {
    /// Reads the host's facts.
    pub fn collect() -> HostInfo {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        HostInfo {
            os: sysinfo::System::long_os_version(),
            kernel: sysinfo::System::kernel_version(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            total_memory_bytes: sys.total_memory(),
            hostname: sysinfo::System::host_name(),
        }
    }
}

/// The limits as reported (base units in the field names).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LimitsReport {
    /// Growth-rate limit.
    pub max_growth_rate_bytes_per_hour: Option<f64>,
    /// Whether that limit is soak's default (none was given).
    pub max_growth_rate_is_default: bool,
    /// Total-growth limit.
    pub max_total_growth_bytes: Option<u64>,
    /// Peak limit.
    pub max_peak_bytes: Option<u64>,
    /// Average CPU limit, % of one core.
    pub max_cpu_percent: Option<f64>,
    /// Descriptor growth limit per hour.
    pub max_fd_growth_per_hour: Option<f64>,
    /// Thread growth limit per hour.
    pub max_thread_growth_per_hour: Option<f64>,
    /// What INCONCLUSIVE exits with.
    pub inconclusive: String,
}

impl LimitsReport {
    /// From checked limits.
    pub fn new(l: &Limits, p: InconclusivePolicy) -> Self {
        LimitsReport {
            max_growth_rate_bytes_per_hour: l.max_growth_rate.map(|r| r.bytes_per_hour),
            max_growth_rate_is_default: l.rate_is_default,
            max_total_growth_bytes: l.max_total_growth,
            max_peak_bytes: l.max_peak,
            max_cpu_percent: l.max_cpu_percent,
            max_fd_growth_per_hour: l.max_fd_growth_per_hour,
            max_thread_growth_per_hour: l.max_thread_growth_per_hour,
            inconclusive: match p {
                InconclusivePolicy::Exit3 => "exit3",
                InconclusivePolicy::Pass => "pass",
                InconclusivePolicy::Fail => "fail",
            }
            .into(),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RunEnd {
    /// `deadline`, `interrupted`, `target_exit`, `monitor_error`, or `analysis` (a file).
    pub reason: String,
    /// The signal that interrupted soak, if any.
    pub signal: Option<String>,
    /// More detail, e.g. the I/O error.
    pub detail: Option<String>,
}

/// Samples taken and missed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct SampleCounts {
    /// Rows in the timeline.
    pub taken: u64,
    /// Ticks that came too late and were skipped (never bunched).
    pub missed: u64,
}

/// Settings that shaped the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Settings {
    /// Planned duration, seconds (None for a re-analysed file).
    pub duration_s: Option<f64>,
    /// Sampling interval, seconds.
    pub interval_s: Option<f64>,
    /// Warm-up dropped, seconds.
    pub warmup_s: f64,
    /// The verdict metric's column.
    pub metric: String,
    /// Whether PSS was sampled.
    pub pss: bool,
}

/// Convenience figures in MB/h for a byte metric (the same numbers as the per-hour
/// fields, divided by 10^6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MbPerHour {
    /// Robust (Theil–Sen) slope.
    pub slope: Option<f64>,
    /// Lower end of its 90% interval.
    pub low: Option<f64>,
    /// Upper end of its 90% interval.
    pub high: Option<f64>,
    /// OLS slope over all post-warm-up samples (for reference; not the verdict).
    pub ols: Option<f64>,
    /// Smallest rate this run would detect with ~95% probability.
    pub min_detectable: Option<f64>,
}

/// One metric in the report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MetricReport {
    /// The analysis.
    #[serde(flatten)]
    pub analysis: SeriesAnalysis,
    /// MB/h figures, for byte metrics.
    pub mb_per_hour: Option<MbPerHour>,
}

impl From<SeriesAnalysis> for MetricReport {
    fn from(a: SeriesAnalysis) -> Self {
        let mb = |v: Option<f64>| v.map(|x| x / 1e6);
        let mb_per_hour = (a.unit == Unit::Bytes).then(|| MbPerHour {
            slope: mb(a.slope_per_hour),
            low: mb(a.slope_low_per_hour),
            high: mb(a.slope_high_per_hour),
            ols: mb(a.ols_slope_per_hour),
            min_detectable: mb(a.min_detectable_rate_per_hour),
        });
        MetricReport {
            analysis: a,
            mb_per_hour,
        }
    }
}

/// The whole report: every output format renders this.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Report {
    /// Schema version of this JSON.
    pub schema_version: u32,
    /// soak's version.
    pub soak_version: String,
    /// Run name.
    pub name: String,
    /// What was soaked.
    pub target: TargetInfo,
    /// The machine.
    pub host: HostInfo,
    /// Settings.
    pub settings: Settings,
    /// Limits.
    pub limits: LimitsReport,
    /// Start, RFC 3339 UTC.
    pub started_at: Option<String>,
    /// End, RFC 3339 UTC.
    pub ended_at: Option<String>,
    /// Seconds from start to the last sample.
    pub elapsed_s: f64,
    /// Samples taken and missed.
    pub samples: SampleCounts,
    /// How the run ended.
    pub end: RunEnd,
    /// Whether soak was interrupted (Ctrl-C, SIGTERM) before the deadline.
    pub interrupted: bool,
    /// How the target's root process ended, if it did.
    pub target_exit: Option<ExitInfo>,
    /// Whether the target failed (exit code 4 unless a monitor error came first).
    pub target_failed: bool,
    /// Evidence that the OOM killer killed a process of the tree other than the main one
    /// (a failure unless `--allow-child-oom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_oom: Option<String>,
    /// For a target soak started: whether stopping it needed SIGKILL after the grace.
    #[serde(default)]
    pub stop_escalated: Option<bool>,
    /// The verdict on the measurements.
    pub verdict: Verdict,
    /// The deciding check's reason code.
    pub reason: Option<Reason>,
    /// One line for humans.
    pub explanation: String,
    /// What soak exits with.
    pub exit_code: i32,
    /// Every limit checked.
    pub checks: Vec<Check>,
    /// Average CPU of the tree, % of one core.
    pub cpu_average_percent: Option<f64>,
    /// Every metric analysed, the verdict metric first.
    pub metrics: Vec<MetricReport>,
    /// Where each column came from.
    pub sources: BTreeMap<String, String>,
    /// Things to know about this run (torn rows, default limits, …).
    pub notes: Vec<String>,
    /// In-process soaks with the `dhat` feature: the allocation sites whose live bytes
    /// grew most between the end of warm-up and the end of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocation_sites: Vec<crate::sample::dhat_sites::AllocationSite>,
    /// The language runtimes whose own heap was read (JVM, Node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<RuntimeSeen>,
    /// The periodic full collections of `--full-gc-every`, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_gc: Option<FullGcReport>,
}

/// The exit code of a verdict under an INCONCLUSIVE policy.
pub fn verdict_exit_code(v: Verdict, p: InconclusivePolicy) -> i32 {
    match (v, p) {
        (Verdict::Pass, _) | (Verdict::Inconclusive, InconclusivePolicy::Pass) => exit_code::PASS,
        (Verdict::Fail, _) | (Verdict::Inconclusive, InconclusivePolicy::Fail) => exit_code::FAIL,
        (Verdict::Inconclusive, InconclusivePolicy::Exit3) => exit_code::INCONCLUSIVE,
    }
}

impl Report {
    /// A report with the run's identity and settings; the verdict fields are filled by
    /// [`Report::set_evaluation`], the run's facts by the caller.
    pub fn new(
        name: String,
        target: TargetInfo,
        settings: Settings,
        limits: LimitsReport,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            soak_version: env!("CARGO_PKG_VERSION").to_string(),
            name,
            target,
            host: HostInfo::collect(),
            settings,
            limits,
            started_at: None,
            ended_at: None,
            elapsed_s: 0.0,
            samples: SampleCounts {
                taken: 0,
                missed: 0,
            },
            end: RunEnd {
                reason: "analysis".into(),
                signal: None,
                detail: None,
            },
            interrupted: false,
            target_exit: None,
            target_failed: false,
            child_oom: None,
            stop_escalated: None,
            verdict: Verdict::Inconclusive,
            reason: None,
            explanation: String::new(),
            exit_code: exit_code::INCONCLUSIVE,
            checks: Vec::new(),
            cpu_average_percent: None,
            metrics: Vec::new(),
            sources: BTreeMap::new(),
            notes: Vec::new(),
            allocation_sites: Vec::new(),
            runtimes: Vec::new(),
            full_gc: None,
        }
    }

    /// Fills the verdict fields from an evaluation.
    pub fn set_evaluation(&mut self, e: Evaluation) {
        self.verdict = e.verdict;
        self.reason = e.reason;
        self.explanation = e.explanation;
        self.checks = e.checks;
        self.cpu_average_percent = e.cpu_average_percent;
        self.notes.extend(e.notes);
        if let Some(m) = e.metrics.first() {
            self.settings.warmup_s = m.warmup_s;
        }
        self.metrics = e.metrics.into_iter().map(MetricReport::from).collect();
    }

    /// The verdict metric's analysis.
    pub fn main_metric(&self) -> Option<&SeriesAnalysis> {
        self.metrics.first().map(|m| &m.analysis)
    }

    /// Whether the run's outcome, not the memory verdict, leads the headlines: the
    /// target failed (exit 4) or soak itself did (exit 5).
    pub fn outcome_overrides_verdict(&self) -> bool {
        matches!(
            self.exit_code,
            exit_code::TARGET_FAILED | exit_code::MONITOR_ERROR
        )
    }

    /// What headlines lead with: `TARGET FAILED` (exit 4), `MONITOR ERROR` (exit 5),
    /// else the memory verdict (`PASS`, `FAIL`, `INCONCLUSIVE`). report.json keeps
    /// `verdict` as the memory verdict either way.
    pub fn outcome(&self) -> String {
        match self.exit_code {
            exit_code::TARGET_FAILED => "TARGET FAILED".into(),
            exit_code::MONITOR_ERROR => "MONITOR ERROR".into(),
            _ => self.verdict.to_string(),
        }
    }

    /// The headline's sentence: what failed, with the memory verdict so far, when the
    /// outcome overrides the verdict; else the verdict's explanation.
    pub fn outcome_explanation(&self) -> String {
        let what = match self.exit_code {
            exit_code::TARGET_FAILED => self.target_failure(),
            exit_code::MONITOR_ERROR => format!(
                "soak could not go on monitoring: {}",
                self.end.detail.as_deref().unwrap_or("a monitor error")
            ),
            _ => return self.explanation.clone(),
        };
        format!("{what} (memory verdict so far: {})", self.verdict)
    }

    /// How the target failed, in words.
    fn target_failure(&self) -> String {
        if let Some(x) = self.target_exit.as_ref().filter(|x| !x.stopped_by_soak) {
            let mut how = match (&x.code, &x.signal) {
                (Some(c), _) => format!("exited early with code {c}"),
                (None, Some(sig)) => format!("died of {sig}"),
                _ => "ended early".to_string(),
            };
            if let Some(o) = &x.oom {
                how.push_str(&format!(" ({o})"));
            }
            return format!("the target {how} at {}", crate::units::Secs(x.at_s));
        }
        if let Some(c) = &self.child_oom {
            return c.clone();
        }
        match (&self.end.reason[..], &self.end.detail) {
            ("interrupted", Some(d)) => format!("the target stopped soak: {d}"),
            _ => "the target failed".to_string(),
        }
    }
}

/// What an exporter renders: the report, and the timeline for charts when there is one.
pub struct Input<'a> {
    /// The report.
    pub report: &'a Report,
    /// The run's timeline (the HTML charts need it).
    pub timeline: Option<&'a Timeline>,
}

/// One output format.
trait Exporter {
    /// File name in the run directory.
    fn file_name(&self) -> &'static str;
    /// The rendered file.
    fn render(&self, input: &Input) -> String;
}

/// The human-facing formats `soak report` re-renders.
fn human_exporters() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(markdown::Markdown),
        Box::new(html::Html),
        Box::new(junit::Junit),
    ]
}

/// The report as JSON (what `--format json` prints).
pub fn to_json(r: &Report) -> String {
    json::Json.render(&Input {
        report: r,
        timeline: None,
    })
}

/// The Markdown rendering (for CI step summaries).
pub fn to_markdown(r: &Report) -> String {
    markdown::Markdown.render(&Input {
        report: r,
        timeline: None,
    })
}

/// Writes `report.json` and every human format into `dir`, each atomically.
pub fn write_all(r: &Report, timeline: Option<&Timeline>, dir: &Path) -> Result<()> {
    let input = Input {
        report: r,
        timeline,
    };
    write_atomic(
        &dir.join(json::Json.file_name()),
        json::Json.render(&input).as_bytes(),
    )?;
    write_renderings(&input, dir, vec![json::Json.file_name()])
}

/// Writes the Markdown, HTML and JUnit renderings: each is tried even when one fails
/// (on a full disk a small file may still fit), and the error names what is missing and
/// what was written.
pub fn write_human(input: &Input, dir: &Path) -> Result<()> {
    write_renderings(input, dir, Vec::new())
}

/// [`write_human`], after `written` (files already in `dir`).
fn write_renderings(input: &Input, dir: &Path, mut written: Vec<&'static str>) -> Result<()> {
    let mut failed = Vec::new();
    let mut first_error = None;
    for e in human_exporters() {
        match write_atomic(&dir.join(e.file_name()), e.render(input).as_bytes()) {
            Ok(()) => written.push(e.file_name()),
            Err(err) => {
                failed.push(e.file_name());
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(err) => Err(Error::Monitor(format!(
            "{} not written ({err}); written: {}",
            failed.join(", "),
            if written.is_empty() {
                "none".to_string()
            } else {
                written.join(", ")
            }
        ))),
    }
}

/// Reads a report back from `report.json` (a run directory or the file itself).
pub fn load(path: &Path) -> Result<Report> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Usage(format!("cannot read report {}: {e}", file.display())))?;
    let r: Report = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not a soak report (line {}, column {}: {e})",
            file.display(),
            e.line(),
            e.column()
        ))
    })?;
    // Another schema's fields may mean something else: never compare or render them
    // as if they were this one's.
    if r.schema_version != SCHEMA_VERSION {
        return Err(Error::Usage(format!(
            "{} has report schema_version {}; this soak reads schema_version {SCHEMA_VERSION}",
            file.display(),
            r.schema_version
        )));
    }
    Ok(r)
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_data()
    });
    if let Err(e) = written {
        // A full disk must not leave a half-written temporary behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write", &tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

/// The smallest growth a series could have detected, for every rendering: "1.20 MB/h
/// (≈95% power)", or, when the data's resolution sets it (its noise would allow less),
/// that rate and the step it comes from. Rates too small for MB/h are shown in B/h, never as "0".
fn detectable_text(m: &SeriesAnalysis) -> Option<String> {
    use crate::analysis::verdict::{fmt_rate, fmt_value};
    let d = m.min_detectable_rate_per_hour?;
    let rate = if m.unit == Unit::Bytes && d < 5e3 {
        format!("{}/h", crate::units::Bytes(d))
    } else {
        fmt_rate(m.unit, d)
    };
    Some(match m.min_detectable_step {
        Some(step) => format!(
            "{rate}, the resolution of the data: its smallest step between values ({}) over the {} analysed",
            fmt_value(m.unit, step),
            crate::units::Secs(step / d * 3600.0)
        ),
        None => format!("{rate} (≈95% power)"),
    })
}

/// The cells of one metric's row, shared by the text and Markdown renderings:
/// name, last, peak, robust slope (interval), OLS slope, total growth.
fn metric_cells(m: &SeriesAnalysis) -> [String; 6] {
    use crate::analysis::verdict::{fmt_rate, fmt_value};
    let u = m.unit;
    let opt_v = |v: Option<f64>| v.map(|x| fmt_value(u, x)).unwrap_or_else(|| "–".into());
    let slope = match (
        m.slope_per_hour,
        m.slope_low_per_hour,
        m.slope_high_per_hour,
    ) {
        (Some(s), Some(lo), Some(hi)) => {
            let strip = |x: String| x.split(' ').next().unwrap_or("").to_string();
            format!(
                "{} [{}, {}]",
                fmt_rate(u, s),
                strip(fmt_rate(u, lo)).trim_end_matches("/h"),
                strip(fmt_rate(u, hi)).trim_end_matches("/h")
            )
        }
        _ => "–".into(),
    };
    [
        m.metric.clone(),
        opt_v(m.last),
        opt_v(m.peak),
        slope,
        m.ols_slope_per_hour
            .map(|s| fmt_rate(u, s))
            .unwrap_or_else(|| "–".into()),
        opt_v(m.total_growth),
    ]
}

/// Headers matching [`metric_cells`].
const METRIC_HEADERS: [&str; 6] = [
    "metric",
    "last",
    "peak",
    "robust slope [90% interval]",
    "OLS slope (reference)",
    "growth after warm-up",
];

/// The run's facts as (label, value) pairs, shared by the Markdown and HTML renderings.
fn run_facts(r: &Report, m: Markup) -> Vec<(&'static str, String)> {
    use crate::units::{Bytes, Secs};
    let mut f = vec![("Target", target_line(r, m))];
    if let (Some(a), Some(b)) = (&r.started_at, &r.ended_at) {
        f.push((
            "Time",
            m.text(&format!("{a} → {b} ({})", Secs(r.elapsed_s))),
        ));
    }
    f.push((
        "Samples",
        m.text(&format!(
            "{} taken, {} missed{}",
            r.samples.taken,
            r.samples.missed,
            r.settings
                .interval_s
                .map(|i| format!(", every {}", Secs(i)))
                .unwrap_or_default()
        )),
    ));
    if let Some(c) = r.cpu_average_percent {
        f.push(("Average CPU", m.text(&format!("{c:.1}% of one core"))));
    }
    if !r.runtimes.is_empty() {
        f.push(("Runtimes", m.text(&runtimes_line(&r.runtimes))));
    }
    f.push((
        "Host",
        m.text(&format!(
            "{} · kernel {} · {} CPUs · {} memory",
            r.host.os.as_deref().unwrap_or("?"),
            r.host.kernel.as_deref().unwrap_or("?"),
            r.host.cpus,
            Bytes(r.host.total_memory_bytes as f64)
        )),
    ));
    f.push((
        "soak",
        m.text(&format!(
            "{} · report schema {}",
            r.soak_version, r.schema_version
        )),
    ));
    f
}

/// "JVM (G1) pid 42, node v20.11.1 pid 43" for the run's facts.
pub fn runtimes_line(seen: &[RuntimeSeen]) -> String {
    seen.iter()
        .map(|r| match r.kind.as_str() {
            "jvm" => format!("JVM ({}) pid {}", r.detail, r.pid),
            "node" => format!("node {} pid {}", r.detail, r.pid),
            k => format!("{k} {} pid {}", r.detail, r.pid),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line describing the target, escaped for `m` (the command as code).
fn target_line(r: &Report, m: Markup) -> String {
    if r.target.kind == "closure" {
        return m.text(&format!(
            "a closure in this process{}",
            r.target
                .pid
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &r.target.container {
        let short: String = c.id.chars().take(12).collect();
        return m.text(&format!(
            "container {} ({short}, image {}{}, {})",
            c.name,
            c.image,
            c.memory_limit_bytes
                .map(|b| format!(", memory limit {}", crate::units::Bytes(b as f64)))
                .unwrap_or_default(),
            if c.created_by_soak {
                if c.removed {
                    "started and removed by soak"
                } else {
                    "started by soak, NOT removed"
                }
            } else {
                "attached, left running"
            }
        ));
    }
    match (&r.target.command, r.target.pid, &r.target.timeline) {
        (Some(c), pid, _) => format!(
            "{}{}",
            m.code(&c.join(" ")),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        (None, Some(p), _) => format!("pid {p} (attached)"),
        (None, None, Some(t)) => m.text(&format!("timeline {t}")),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests;
