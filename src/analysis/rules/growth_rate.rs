//! `max_growth_rate` on the verdict metric: is the robust growth rate above the limit?
//! The three-way call on the Theil–Sen interval, refined by the tail test (a late-onset
//! leak, growth that levelled off) and the warm-up model (the README's "What the
//! verdict means" states the same rules).

use super::{label, FitLimit, Facts, Rule, Scope};
use crate::analysis::points::PointMethod;
use crate::analysis::trend::SlopeFit;
use crate::analysis::verdict::{Check, Reason, Verdict, MIN_POINTS};
use crate::analysis::SeriesAnalysis;
use crate::config::Limits;
use crate::units::{fmt_rate, fmt_value, num, Secs, Unit};

/// The verdict metric's growth rate against `max_growth_rate`.
pub struct GrowthRate;

impl Rule for GrowthRate {
    fn scope(&self) -> Scope<'static> {
        Scope::VerdictMetric
    }

    fn fit_limit(&self, limits: &Limits) -> Option<FitLimit> {
        limits
            .max_growth_rate
            .map(|r| FitLimit::RatePerHour(r.bytes_per_hour))
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        facts.series?.rate_check.clone()
    }
}

/// "90% interval LO to HI" in the unit `fmt_rate` shows (MB for bytes).
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
    let tail_rises = |t: &crate::analysis::TailFit| {
        t.low_per_hour > limit && t.step.is_none_or(|s| s.low_per_hour > limit)
    };
    let tail_above = tail.is_some_and(|t| tail_rises(&t));
    let tail_step_only = tail.filter(|t| t.low_per_hour > limit && !tail_rises(t));
    let tail_text = |t: &crate::analysis::TailFit| {
        format!(
            "last third grows {} ({})",
            fmt_rate(unit, t.slope_per_hour),
            interval(unit, t.low_per_hour, t.high_per_hour)
        )
    };
    // For a late onset: the slope that decided it (the one without the step, if any).
    let onset_text = |t: &crate::analysis::TailFit| match t.step {
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
    // Growth above the limit that a warm-up may explain alone. When a warm-up curve fits
    // clearly better than the line, the line's slope mixes the curve's rise with whatever
    // growth follows it: a V8 heap still growing towards its plateau minutes after the
    // warm-up cut gives a line whose whole interval is above the limit and no leak at all.
    // A FAIL then needs some evidence of growth the warm-up does not explain: the
    // warm-up model's own linear rate, the line after the curve has settled, or the last
    // third, shown above zero (interval's low end). If none of the three shows any
    // growth, the run cannot tell a warm-up from a leak → INCONCLUSIVE (never PASS: that
    // still needs the warm-up model's rate below the limit). Any one of them keeps the
    // FAIL, so a leak that starts after a warm-up is still caught (measured: no
    // synthetic late onset lost; the looser rule "the warm-up model's interval holds the
    // limit" lost 12 of 120).
    let shows_growth = |low: Option<f64>| low.is_none_or(|l| l > 0.0);
    let warmup_alone = warm
        .filter(|m| {
            !shows_growth(Some(m.low))
                && !shows_growth(a.settled.map(|s| s.low_per_hour))
                && !shows_growth(tail.map(|t| t.low_per_hour))
        })
        .map(|m| {
            make(
                Verdict::Inconclusive,
                Reason::Undecided,
                format!(
                    "{grows}, but a warm-up curve (τ {}) fits better, and no growth beyond it can be shown: its linear rate {} ({}){}, {} → INCONCLUSIVE",
                    Secs(m.tau_s),
                    fmt_rate(unit, m.rate),
                    interval(unit, m.low, m.high),
                    a.settled.map_or(String::new(), |s| format!(
                        ", after it settles ({}) {} ({})",
                        Secs(s.from_s),
                        fmt_rate(unit, s.slope_per_hour),
                        interval(unit, s.low_per_hour, s.high_per_hour)
                    )),
                    tail.map_or(String::new(), |t| tail_text(&t))
                ),
            )
        });
    if lo > limit {
        return levelled_pass
            .or(warm_pass)
            .or(line_doubtful)
            .or(warmup_alone)
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
