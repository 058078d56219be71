//! What a judgement is made of: the three-way [`Verdict`], its [`Reason`] and the
//! [`Check`] a limit produces. The checks themselves are the rules in `rules/`.

// The display helpers live in `units` and each check in its rule file under `rules/`;
// re-exported here so the paths callers used (`analysis::verdict::fmt_rate`, …) keep working.
pub use super::rules::cpu::cpu_check;
pub use super::rules::growth_rate::rate_check;
pub use super::rules::peak::peak_check;
pub use super::rules::total_growth::total_check;
pub use crate::units::{fmt_rate, fmt_value};
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
    /// The series is a counter, not a level (a Prometheus `*_total`, or one that only
    /// rises and resets to zero): not judged for growth.
    NotAGauge,
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
}
