//! Turning fits into a three-way call with a reason and a one-line explanation.

use super::trend::SlopeFit;
use super::{points::PointMethod, SeriesAnalysis, Unit};
// The display helpers moved to `units`; re-exported so `analysis::verdict::fmt_rate` keeps working.
pub use crate::units::{fmt_rate, fmt_value};
use crate::units::{num, Secs};
use serde::Serialize;
use std::fmt;

/// Fewer robust points than this and the run is too short to fit a trend.
pub const MIN_POINTS: usize = 6;

/// The outcome of a check or a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Within every limit.
    Pass,
    /// The evidence cannot decide; a longer or quieter run would.
    Inconclusive,
    /// A limit was exceeded.
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
        })
    }
}

impl Verdict {
    /// The worst of several verdicts: any FAIL fails, else any INCONCLUSIVE.
    pub fn combine(items: impl IntoIterator<Item = Verdict>) -> Verdict {
        items.into_iter().max().unwrap_or(Verdict::Pass)
    }
}

/// Why a check came out as it did (stable, machine-readable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The whole interval is below the limit.
    WithinLimit,
    /// The whole interval is above the limit.
    Leak,
    /// The last third grows faster than the limit although the whole run does not.
    LateOnsetLeak,
    /// Growth above the limit early on, none to speak of in the last third.
    LevelledOff,
    /// One step, then flat: a cache filled or a pool grew once.
    StepOnly,
    /// A warm-up curve (rising to a plateau) explains the growth better than a line.
    StillWarmingUp,
    /// The interval straddles the limit.
    Undecided,
    /// Undecided, and the samples are strongly autocorrelated (wide interval).
    StrongAutocorrelation,
    /// Too few samples after warm-up to fit a trend.
    RunTooShort,
    /// Total growth over its limit.
    TotalGrowthExceeded,
    /// Total growth within its limit.
    TotalGrowthWithin,
    /// The peak went over its limit.
    PeakExceeded,
    /// The peak stayed within its limit.
    PeakWithin,
    /// Average CPU over its limit.
    CpuExceeded,
    /// Average CPU within its limit.
    CpuWithin,
    /// No CPU figure could be computed.
    NoData,
    /// The heap came back to its baseline after the workload's state was dropped.
    ResidualWithin,
    /// The heap stayed above its baseline by more than allowed after the state was dropped.
    ResidualExceeded,
}

/// One limit checked against one metric: a JUnit test case, a row in the report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Check {
    /// Which limit (`max_growth_rate`, `max_total_growth`, `max_peak`, `max_cpu`, …).
    pub limit_name: String,
    /// Which metric column.
    pub metric: String,
    /// The limit in base units (per hour for rates, % of one core for CPU).
    pub limit: f64,
    /// The measured figure compared with it, in the same unit.
    pub measured: Option<f64>,
    /// The outcome.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// One line for humans.
    pub explanation: String,
}

fn label(metric: &str) -> String {
    let base = metric
        .strip_suffix("_bytes")
        .unwrap_or(metric)
        .replace('_', " ");
    match base.as_str() {
        "rss" | "pss" => base.to_uppercase(),
        "anon" => "anonymous memory".into(),
        "fds" => "file descriptors".into(),
        _ => base,
    }
}

fn interval(unit: Unit, lo: f64, hi: f64) -> String {
    let scale = if unit == Unit::Bytes { 1e6 } else { 1.0 };
    format!("90% interval {} to {}", num(lo / scale), num(hi / scale))
}

/// The growth-rate check: the three-way call, refined by the tail test and the
/// warm-up model (rules in the README's "What the verdict means").
pub fn rate_check(a: &SeriesAnalysis, fit: Option<&SlopeFit>, limit: f64) -> Check {
    let unit = a.unit;
    let what = match a.point_method {
        Some(PointMethod::Troughs { .. }) => format!("{} floor", label(&a.metric)),
        _ => label(&a.metric),
    };
    let lim = fmt_rate(unit, limit);
    let make = |verdict, reason, explanation: String| Check {
        limit_name: "max_growth_rate".into(),
        metric: a.metric.clone(),
        limit,
        measured: a.slope_per_hour,
        verdict,
        reason,
        explanation,
    };
    let Some(fit) = fit else {
        return make(
            Verdict::Inconclusive,
            Reason::RunTooShort,
            format!(
                "run too short: {} samples after a {} warm-up give fewer than {MIN_POINTS} robust points → INCONCLUSIVE",
                a.samples_after_warmup,
                Secs(a.warmup_s)
            ),
        );
    };
    let (s, lo, hi) = (fit.slope * 3600.0, fit.low * 3600.0, fit.high * 3600.0);
    let grows = format!(
        "{what} grows {} ({})",
        fmt_rate(unit, s),
        interval(unit, lo, hi)
    );
    let tail = a.tail;
    let tail_below = tail.is_some_and(|t| t.high_per_hour < limit);
    // Late onset needs the tail's rise to be a slope: with a clear step up in the tail,
    // the tail without the step must still grow faster than the limit.
    let tail_rises = |t: &super::TailFit| {
        t.low_per_hour > limit && t.step.map_or(true, |s| s.low_per_hour > limit)
    };
    let tail_above = tail.is_some_and(|t| tail_rises(&t));
    let tail_step_only = tail.filter(|t| t.low_per_hour > limit && !tail_rises(t));
    let tail_text = |t: &super::TailFit| {
        format!(
            "last third grows {} ({})",
            fmt_rate(unit, t.slope_per_hour),
            interval(unit, t.low_per_hour, t.high_per_hour)
        )
    };
    // For a late onset: the slope that decided it (the one without the step, if any).
    let onset_text = |t: &super::TailFit| match t.step {
        Some(s) => format!(
            "last third grows {} ({}) besides a step of {} at {}",
            fmt_rate(unit, s.slope_per_hour),
            interval(unit, s.low_per_hour, s.high_per_hour),
            fmt_value(unit, s.height),
            Secs(s.at_s)
        ),
        None => tail_text(t),
    };
    let warm = a.warmup_model.filter(|m| m.preferred && m.amplitude < 0.0);

    // The two ways growth above the limit can still be benign, phrased once.
    let levelled_pass = tail.filter(|_| tail_below).map(|t| {
        let (reason, kind) = levelled(a);
        make(
            Verdict::Pass,
            reason,
            format!(
                "{grows}, but {kind}: {} below the {lim} limit → PASS",
                tail_text(&t)
            ),
        )
    });
    let warm_pass = warm.filter(|m| m.high < limit).map(|m| {
        make(
            Verdict::Pass,
            Reason::StillWarmingUp,
            format!(
                "{grows}, but a warm-up curve (τ {}) fits better and leaves {} ({}) below the {lim} limit → PASS",
                Secs(m.tau_s),
                fmt_rate(unit, m.rate),
                interval(unit, m.low, m.high)
            ),
        )
    });

    let line_doubtful = (a.line_disfavoured && !tail_above).then(|| {
        make(
            Verdict::Inconclusive,
            Reason::Undecided,
            format!(
                "{grows}, but a line fits the data poorly (a curve fits clearly better, and no plausible warm-up explains it) → INCONCLUSIVE"
            ),
        )
    });
    if lo > limit {
        return levelled_pass
            .or(warm_pass)
            .or(line_doubtful)
            .unwrap_or_else(|| {
                make(
                    Verdict::Fail,
                    Reason::Leak,
                    format!("{grows} above the {lim} limit → FAIL"),
                )
            });
    }
    if let (true, Some(t)) = (tail_above, tail) {
        return make(
            Verdict::Fail,
            Reason::LateOnsetLeak,
            format!(
                "{grows} overall, but {} above the {lim} limit: late-onset leak → FAIL",
                onset_text(&t)
            ),
        );
    }
    if hi < limit {
        return make(
            Verdict::Pass,
            Reason::WithinLimit,
            format!("{grows} below the {lim} limit → PASS"),
        );
    }
    if let Some(c) = levelled_pass.or(warm_pass) {
        return c;
    }
    let reason = if fit.variance_inflation > 2.0 {
        Reason::StrongAutocorrelation
    } else {
        Reason::Undecided
    };
    let mut why = if reason == Reason::StrongAutocorrelation {
        format!(
            "; samples are strongly autocorrelated (interval widened ×{:.1})",
            fit.variance_inflation.sqrt()
        )
    } else {
        String::new()
    };
    if let Some(s) = tail_step_only.and_then(|t| t.step) {
        why.push_str(&format!(
            "; the last third rises by one step of {} at {}, not a slope ({} without it)",
            fmt_value(unit, s.height),
            Secs(s.at_s),
            fmt_rate(unit, s.slope_per_hour)
        ));
    }
    make(
        Verdict::Inconclusive,
        reason,
        format!("{grows}: the interval contains the {lim} limit{why} → INCONCLUSIVE"),
    )
}

/// Names a growth that stopped: one step, or a curve that levelled off.
fn levelled(a: &SeriesAnalysis) -> (Reason, &'static str) {
    if is_single_step(a) {
        (Reason::StepOnly, "one step, then flat")
    } else {
        (Reason::LevelledOff, "growth levelled off")
    }
}

/// Most of the growth happened within two neighbouring point gaps (a step that falls
/// inside a block splits across two).
fn is_single_step(a: &SeriesAnalysis) -> bool {
    let p = &a.points;
    let Some(total) = a.total_growth else {
        return false;
    };
    if total <= 0.0 || p.len() < 3 {
        return false;
    }
    let biggest = p
        .windows(3)
        // A rise right after the warm-up cut is the warm-up's tail, not a step.
        .skip(2)
        .map(|w| w[2].y - w[0].y)
        .fold(f64::NEG_INFINITY, f64::max);
    biggest > 0.6 * total
}

/// Total growth (end level minus level after warm-up) against its limit.
pub fn total_check(a: &SeriesAnalysis, limit: f64) -> Check {
    let unit = a.unit;
    let base = |verdict, reason, explanation| Check {
        limit_name: "max_total_growth".into(),
        metric: a.metric.clone(),
        limit,
        measured: a.total_growth,
        verdict,
        reason,
        explanation,
    };
    match a.total_growth {
        None => base(
            Verdict::Inconclusive,
            Reason::RunTooShort,
            "run too short to measure growth after warm-up → INCONCLUSIVE".into(),
        ),
        Some(g) if g > limit => base(
            Verdict::Fail,
            Reason::TotalGrowthExceeded,
            format!(
                "{} grew {} after warm-up, above the {} limit → FAIL",
                label(&a.metric),
                fmt_value(unit, g),
                fmt_value(unit, limit)
            ),
        ),
        Some(g) => base(
            Verdict::Pass,
            Reason::TotalGrowthWithin,
            format!(
                "{} grew {} after warm-up, within the {} limit → PASS",
                label(&a.metric),
                fmt_value(unit, g),
                fmt_value(unit, limit)
            ),
        ),
    }
}

/// The highest sample against a peak limit.
pub fn peak_check(a: &SeriesAnalysis, limit: f64) -> Check {
    let unit = a.unit;
    let (verdict, reason, explanation) = match a.peak {
        None => (
            Verdict::Inconclusive,
            Reason::RunTooShort,
            "no samples, no peak → INCONCLUSIVE".to_string(),
        ),
        Some(p) if p > limit => (
            Verdict::Fail,
            Reason::PeakExceeded,
            format!(
                "{} peaked at {}, above the {} limit → FAIL",
                label(&a.metric),
                fmt_value(unit, p),
                fmt_value(unit, limit)
            ),
        ),
        Some(p) => (
            Verdict::Pass,
            Reason::PeakWithin,
            format!(
                "{} peaked at {}, within the {} limit → PASS",
                label(&a.metric),
                fmt_value(unit, p),
                fmt_value(unit, limit)
            ),
        ),
    };
    Check {
        limit_name: "max_peak".into(),
        metric: a.metric.clone(),
        limit,
        measured: a.peak,
        verdict,
        reason,
        explanation,
    }
}

/// Average CPU (percent of one core) over the run against a limit.
pub fn cpu_check(average_percent: Option<f64>, limit_percent: f64) -> Check {
    let (verdict, reason, explanation) = match average_percent {
        None => (
            Verdict::Inconclusive,
            Reason::NoData,
            "CPU time could not be measured (fewer than two samples) → INCONCLUSIVE".to_string(),
        ),
        Some(c) if c > limit_percent => (
            Verdict::Fail,
            Reason::CpuExceeded,
            format!("average CPU {c:.1}% of one core, above the {limit_percent:.0}% limit → FAIL"),
        ),
        Some(c) => (
            Verdict::Pass,
            Reason::CpuWithin,
            format!("average CPU {c:.1}% of one core, within the {limit_percent:.0}% limit → PASS"),
        ),
    };
    Check {
        limit_name: "max_cpu".into(),
        metric: "cpu_s".into(),
        limit: limit_percent,
        measured: average_percent,
        verdict,
        reason,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_takes_worst() {
        assert_eq!(Verdict::combine([]), Verdict::Pass);
        assert_eq!(
            Verdict::combine([Verdict::Pass, Verdict::Inconclusive]),
            Verdict::Inconclusive
        );
        assert_eq!(
            Verdict::combine([Verdict::Fail, Verdict::Inconclusive]),
            Verdict::Fail
        );
    }

    #[test]
    fn rates_format() {
        assert_eq!(fmt_rate(Unit::Bytes, 84.2e6), "84.2 MB/h");
        assert_eq!(fmt_rate(Unit::Count, 3.0), "3.00/h");
    }
}
