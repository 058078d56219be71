//! The report model (a versioned DESIGN.md contract): what a run found, in the shape
//! report.json holds and every rendering reads.

use crate::analysis::{Check, Evaluation, Reason, SeriesAnalysis, Unit, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::error::exit_code;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    pub notes: Vec<crate::note::Note>,
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

/// How a target process ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Signal name, when a signal killed it.
    pub signal: Option<String>,
    /// OOM evidence, when there is some (or a hint when killed by SIGKILL).
    pub oom: Option<String>,
    /// Seconds into the run.
    pub at_s: f64,
    /// Whether soak caused the exit (stopping the target at the end).
    pub stopped_by_soak: bool,
}

impl ExitInfo {
    /// One line: "exited with code 3", "killed by SIGSEGV".
    pub fn describe(&self) -> String {
        let mut s = match (&self.code, &self.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(sig)) => format!("killed by {sig}"),
            _ => "ended".to_string(),
        };
        if let Some(o) = &self.oom {
            s.push_str(&format!(" ({o})"));
        }
        s
    }

    /// [`ExitInfo::describe`] with when, and who ended it: "killed by SIGTERM at 6s
    /// (stopped by soak)".
    pub fn describe_when(&self) -> String {
        format!(
            "{} at {}{}",
            self.describe(),
            crate::units::Secs(self.at_s),
            if self.stopped_by_soak {
                " (stopped by soak)"
            } else {
                ""
            }
        )
    }
}
