//! `max_total_growth` on the verdict metric: the end level minus the level just after
//! warm-up, against the limit.

use super::{label, FitLimit, Facts, Rule, Scope};
use crate::analysis::verdict::{Check, Reason, Verdict};
use crate::analysis::SeriesAnalysis;
use crate::config::Limits;
use crate::units::fmt_value;

/// The verdict metric's total growth after warm-up against `max_total_growth`.
pub struct TotalGrowth;

impl Rule for TotalGrowth {
    fn scope(&self) -> Scope<'static> {
        Scope::VerdictMetric
    }

    fn fit_limit(&self, limits: &Limits) -> Option<FitLimit> {
        limits
            .max_total_growth
            .map(|b| FitLimit::TotalGrowth(b as f64))
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        facts.series?.total_check.clone()
    }
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
