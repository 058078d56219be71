//! `max_peak` on the verdict metric: the highest raw sample, warm-up included.

use super::{label, Facts, Rule, Scope};
use crate::analysis::verdict::{Check, Reason, Verdict};
use crate::analysis::SeriesAnalysis;
use crate::units::fmt_value;

/// The verdict metric's peak against `max_peak`.
pub struct Peak;

impl Rule for Peak {
    fn scope(&self) -> Scope<'static> {
        Scope::VerdictMetric
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        let limit = facts.limits.max_peak?;
        Some(peak_check(facts.series?, limit as f64))
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
