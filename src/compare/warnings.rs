//! Why a comparison may mislead: the runs used different settings, or a side did not
//! reach a clean verdict. Each warning has a stable code and says what it distorts.

use crate::analysis::{SeriesAnalysis, Verdict};
use crate::error::exit_code;
use crate::report::{LimitsReport, Report};
use crate::units::{fmt_rate, Bytes, Secs};
use serde::ser::SerializeStruct;

/// Which side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The reference run.
    Baseline,
    /// The run judged against it.
    Candidate,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Baseline => "baseline",
            Role::Candidate => "candidate",
        })
    }
}

/// One reason the comparison may mislead. Serialised as `{"code", "side", "message"}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// The verdicts are on different metrics; `compared` is the one both analysed.
    DifferentMetric {
        /// The baseline's verdict metric.
        baseline: String,
        /// The candidate's verdict metric.
        candidate: String,
        /// The metric compared.
        compared: String,
    },
    /// Different kinds of target (a process tree, a container, a re-analysed file).
    DifferentTargetKind {
        /// The baseline's kind.
        baseline: String,
        /// The candidate's kind.
        candidate: String,
    },
    /// Different run lengths: planned (`planned`) or, for re-analysed timelines, spanned.
    DifferentDuration {
        /// The baseline's, seconds.
        baseline_s: f64,
        /// The candidate's, seconds.
        candidate_s: f64,
        /// Whether these are planned durations (else the timelines' spans).
        planned: bool,
    },
    /// Different sampling intervals.
    DifferentInterval {
        /// The baseline's, seconds.
        baseline_s: f64,
        /// The candidate's, seconds.
        candidate_s: f64,
    },
    /// Different warm-ups dropped before judging growth.
    DifferentWarmup {
        /// The baseline's, seconds.
        baseline_s: f64,
        /// The candidate's, seconds.
        candidate_s: f64,
    },
    /// Different limits: each entry `what: baseline vs candidate`.
    DifferentLimits {
        /// The limits that differ, in words.
        differences: Vec<String>,
    },
    /// The runs ran on different hosts.
    DifferentHost {
        /// The baseline's host name.
        baseline: String,
        /// The candidate's host name.
        candidate: String,
    },
    /// A side's verdict is INCONCLUSIVE.
    Inconclusive {
        /// Which side.
        side: Role,
        /// Its explanation.
        explanation: String,
        /// How long a run would likely decide, seconds (an estimate).
        decide_after_s: Option<f64>,
    },
    /// A side FAILs its own limits.
    Failed {
        /// Which side.
        side: Role,
        /// Its explanation.
        explanation: String,
    },
    /// A side's target failed (exit 4).
    TargetFailed {
        /// Which side.
        side: Role,
        /// What failed.
        explanation: String,
    },
    /// soak could not finish monitoring a side (exit 5).
    MonitorError {
        /// Which side.
        side: Role,
        /// What failed.
        explanation: String,
    },
    /// A side was interrupted before its planned end.
    Interrupted {
        /// Which side.
        side: Role,
        /// How long it ran, seconds.
        elapsed_s: f64,
        /// How long it was planned to run, seconds.
        planned_s: Option<f64>,
    },
    /// No figure could be compared.
    NothingCompared,
}

impl Warning {
    /// The stable code (`different_duration`, `inconclusive`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Warning::DifferentMetric { .. } => "different_metric",
            Warning::DifferentTargetKind { .. } => "different_target_kind",
            Warning::DifferentDuration { .. } => "different_duration",
            Warning::DifferentInterval { .. } => "different_interval",
            Warning::DifferentWarmup { .. } => "different_warmup",
            Warning::DifferentLimits { .. } => "different_limits",
            Warning::DifferentHost { .. } => "different_host",
            Warning::Inconclusive { .. } => "inconclusive",
            Warning::Failed { .. } => "failed",
            Warning::TargetFailed { .. } => "target_failed",
            Warning::MonitorError { .. } => "monitor_error",
            Warning::Interrupted { .. } => "interrupted",
            Warning::NothingCompared => "nothing_compared",
        }
    }

    /// The side a warning is about, when it is about one.
    pub fn side(&self) -> Option<Role> {
        match self {
            Warning::Inconclusive { side, .. }
            | Warning::Failed { side, .. }
            | Warning::TargetFailed { side, .. }
            | Warning::MonitorError { side, .. }
            | Warning::Interrupted { side, .. } => Some(*side),
            _ => None,
        }
    }

    /// What differs and why the comparison may mislead because of it.
    pub fn message(&self) -> String {
        match self {
            Warning::DifferentMetric { baseline, candidate, compared } => format!(
                "the verdicts are on different metrics (baseline {baseline}, candidate {candidate}): compared {compared}, which both analysed, so one side's figures here are not the ones its verdict judged"
            ),
            Warning::DifferentTargetKind { baseline, candidate } => format!(
                "the runs soaked different kinds of target (baseline {baseline}, candidate {candidate}): their figures come from different sources (a process tree's /proc, a container's cgroup), which count memory differently"
            ),
            Warning::DifferentDuration { baseline_s, candidate_s, planned } => format!(
                "the runs {} (baseline {}, candidate {}): a shorter run has less time to grow and to reach its peak, and a wider growth-rate interval, so its figures read lower and its rate is less certain",
                if *planned { "were planned for different durations" } else { "span different times" },
                Secs(*baseline_s),
                Secs(*candidate_s)
            ),
            Warning::DifferentInterval { baseline_s, candidate_s } => format!(
                "the runs sampled at different intervals (baseline every {}, candidate every {}): a finer interval catches short spikes a coarser one misses, so the peaks may differ for that reason alone",
                Secs(*baseline_s),
                Secs(*candidate_s)
            ),
            Warning::DifferentWarmup { baseline_s, candidate_s } => format!(
                "the runs dropped different warm-ups (baseline {}, candidate {}): growth after warm-up and the growth rate are measured from different points of each run",
                Secs(*baseline_s),
                Secs(*candidate_s)
            ),
            Warning::DifferentLimits { differences } => format!(
                "the runs were judged against different limits ({}): their verdicts answer different questions (the figures compared here do not depend on limits)",
                differences.join("; ")
            ),
            Warning::DifferentHost { baseline, candidate } => format!(
                "the runs ran on different hosts (baseline {baseline}, candidate {candidate}): kernel, allocator and memory pressure may differ, and the figures with them"
            ),
            Warning::Inconclusive { side, explanation, decide_after_s } => format!(
                "the {side}'s verdict is INCONCLUSIVE ({explanation}): its growth rate is not pinned down, so a difference in growth may be noise rather than change{}",
                decide_after_s
                    .map(|s| format!("; a run of about {} would likely decide (estimate)", Secs(s)))
                    .unwrap_or_default()
            ),
            Warning::Failed { side, explanation } => format!(
                "the {side} FAILs its own limits ({explanation}): the comparison says how the candidate differs from the baseline, not that either is acceptable"
            ),
            Warning::TargetFailed { side, explanation } => format!(
                "the {side}'s target failed ({explanation}): its figures cover only the time it ran, and a crash or an OOM kill cuts growth and peaks short"
            ),
            Warning::MonitorError { side, explanation } => format!(
                "soak could not finish monitoring the {side} ({explanation}): its figures cover only what was collected"
            ),
            Warning::Interrupted { side, elapsed_s, planned_s } => format!(
                "the {side} was interrupted after {}{}: its figures cover only what was collected",
                Secs(*elapsed_s),
                planned_s.map(|p| format!(" of its planned {}", Secs(p))).unwrap_or_default()
            ),
            Warning::NothingCompared => "no figure could be compared (each is missing on a side): OK here means nothing was found worse, not that the candidate is as good".to_string(),
        }
    }
}

impl serde::Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Warning", 3)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("side", &self.side().map(|r| r.to_string()))?;
        st.serialize_field("message", &self.message())?;
        st.end()
    }
}

/// Whether two figures differ beyond rounding (settings written by the same code are
/// equal to the bit; a re-analysed file's are computed).
fn differ(a: f64, b: f64) -> bool {
    (a - b).abs() > 1e-6 * a.abs().max(b.abs()).max(1e-3)
}

/// `what: baseline vs candidate` when the two limits differ.
fn limit_change(
    what: &str,
    x: Option<f64>,
    y: Option<f64>,
    show: fn(f64) -> String,
) -> Option<String> {
    let changed = match (x, y) {
        (Some(x), Some(y)) => differ(x, y),
        (None, None) => false,
        _ => true,
    };
    let show = |v: Option<f64>| v.map(show).unwrap_or_else(|| "none".into());
    changed.then(|| format!("{what}: {} vs {}", show(x), show(y)))
}

/// The limits that differ, each as `what: baseline vs candidate`.
fn limit_differences(b: &LimitsReport, c: &LimitsReport) -> Vec<String> {
    let size = |v: Option<u64>| v.map(|x| x as f64);
    let bytes: fn(f64) -> String = |v| Bytes(v).to_string();
    let per_hour: fn(f64) -> String = |v| format!("{v}/h");
    [
        limit_change(
            "growth rate",
            b.max_growth_rate_bytes_per_hour,
            c.max_growth_rate_bytes_per_hour,
            |v| fmt_rate(crate::analysis::Unit::Bytes, v),
        ),
        limit_change(
            "total growth",
            size(b.max_total_growth_bytes),
            size(c.max_total_growth_bytes),
            bytes,
        ),
        limit_change(
            "peak",
            size(b.max_peak_bytes),
            size(c.max_peak_bytes),
            bytes,
        ),
        limit_change("CPU", b.max_cpu_percent, c.max_cpu_percent, |v| {
            format!("{v}%")
        }),
        limit_change(
            "descriptor growth",
            b.max_fd_growth_per_hour,
            c.max_fd_growth_per_hour,
            per_hour,
        ),
        limit_change(
            "thread growth",
            b.max_thread_growth_per_hour,
            c.max_thread_growth_per_hour,
            per_hour,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Warnings about settings that differ between the two runs.
pub(super) fn of_settings(b: &Report, c: &Report) -> Vec<Warning> {
    let mut w = Vec::new();
    if b.target.kind != c.target.kind {
        w.push(Warning::DifferentTargetKind {
            baseline: b.target.kind.clone(),
            candidate: c.target.kind.clone(),
        });
    }
    match (b.settings.duration_s, c.settings.duration_s) {
        (Some(x), Some(y)) if differ(x, y) => w.push(Warning::DifferentDuration {
            baseline_s: x,
            candidate_s: y,
            planned: true,
        }),
        (Some(_), Some(_)) => {}
        // A re-analysed timeline has no plan: its span stands in, with room for the
        // last interval a run may or may not have sampled.
        _ if (b.elapsed_s - c.elapsed_s).abs() > 0.1 * b.elapsed_s.max(c.elapsed_s) => {
            w.push(Warning::DifferentDuration {
                baseline_s: b.elapsed_s,
                candidate_s: c.elapsed_s,
                planned: false,
            })
        }
        _ => {}
    }
    if let (Some(x), Some(y)) = (b.settings.interval_s, c.settings.interval_s) {
        if differ(x, y) {
            w.push(Warning::DifferentInterval {
                baseline_s: x,
                candidate_s: y,
            });
        }
    }
    // The default warm-up is a share of each run's own span, which differs by timing
    // jitter: only a gap of more than one sample (or 1%) changes what was judged.
    let step = b
        .settings
        .interval_s
        .unwrap_or(0.0)
        .max(c.settings.interval_s.unwrap_or(0.0));
    let (wb, wc) = (b.settings.warmup_s, c.settings.warmup_s);
    if (wb - wc).abs() > step.max(0.01 * wb.max(wc)) && differ(wb, wc) {
        w.push(Warning::DifferentWarmup {
            baseline_s: b.settings.warmup_s,
            candidate_s: c.settings.warmup_s,
        });
    }
    let differences = limit_differences(&b.limits, &c.limits);
    if !differences.is_empty() {
        w.push(Warning::DifferentLimits { differences });
    }
    if let (Some(x), Some(y)) = (&b.host.hostname, &c.host.hostname) {
        if x != y {
            w.push(Warning::DifferentHost {
                baseline: x.clone(),
                candidate: y.clone(),
            });
        }
    }
    w
}

/// The warning about one side's own outcome, if it was not a clean PASS: a failed
/// target or monitor first (they cut the figures short), then an interruption, then
/// the memory verdict.
pub(super) fn of_side(side: Role, r: &Report, a: &SeriesAnalysis) -> Option<Warning> {
    let explanation = r.outcome_explanation();
    Some(match r.exit_code {
        exit_code::TARGET_FAILED => Warning::TargetFailed { side, explanation },
        exit_code::MONITOR_ERROR => Warning::MonitorError { side, explanation },
        _ if r.interrupted => Warning::Interrupted {
            side,
            elapsed_s: r.elapsed_s,
            planned_s: r.settings.duration_s,
        },
        _ => match r.verdict {
            Verdict::Pass => return None,
            Verdict::Fail => Warning::Failed { side, explanation },
            Verdict::Inconclusive => Warning::Inconclusive {
                side,
                explanation,
                decide_after_s: a.decide_after_s,
            },
        },
    })
}
