//! The fleet report: every series judged by one query, worst first. Its JSON is what
//! `soak analyze --prometheus … --format json` prints and `--out` writes (fleet.json);
//! each series carries the same evaluation fields as a run's report.json (`verdict`,
//! `reason`, `explanation`, `checks`, `metrics`, `notes`), so a script reading one reads
//! the other.

use crate::analysis::{Check, Reason, Verdict};
use crate::report::{LimitsReport, MetricReport};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the fleet JSON; bumped when a field changes meaning or goes away.
pub const FLEET_SCHEMA_VERSION: u32 = 1;

/// Points in a series' sparkline: enough to see a leak, a sawtooth or a restart.
pub const SPARK_POINTS: usize = 60;

/// One series judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesResult {
    /// Its labels, `__name__` included when the query kept it.
    pub labels: BTreeMap<String, String>,
    /// The verdict.
    pub verdict: Verdict,
    /// What this series alone would exit with.
    pub exit_code: i32,
    /// The deciding check's reason code (`not_a_gauge` for a refused series).
    pub reason: Option<Reason>,
    /// One line for humans.
    pub explanation: String,
    /// Whether the series was refused rather than judged (a counter, no samples).
    pub refused: bool,
    /// Finite samples the series had in the range.
    pub samples: usize,
    /// The stretch judged (all of it unless restarts cut it), RFC 3339 UTC.
    pub judged_from: Option<String>,
    /// End of the stretch judged.
    pub judged_to: Option<String>,
    /// Every limit checked.
    pub checks: Vec<Check>,
    /// The series' analysis (one entry: the judged column).
    pub metrics: Vec<MetricReport>,
    /// What to know about this series (restarts, gaps, NaN values).
    pub notes: Vec<crate::note::Note>,
    /// The whole series reduced to [`SPARK_POINTS`] bucket means (NaN: no sample), for
    /// the reports' charts.
    #[serde(skip)]
    pub spark: Vec<f64>,
}

impl SeriesResult {
    /// The judged column's analysis, when the series was judged.
    pub fn analysis(&self) -> Option<&crate::analysis::SeriesAnalysis> {
        self.metrics.first().map(|m| &m.analysis)
    }

    /// `name{a="1", b="2"}`, the way Prometheus writes a series; values are quoted with
    /// Rust's escapes, so a label cannot break a line or a column.
    pub fn selector(&self) -> String {
        let name = self
            .labels
            .get("__name__")
            .map(String::as_str)
            .unwrap_or("");
        let rest: Vec<String> = self
            .labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{name}{{{}}}", rest.join(", "))
    }
}

/// How many series came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// FAIL.
    pub fail: usize,
    /// INCONCLUSIVE (refused series included).
    pub inconclusive: usize,
    /// PASS.
    pub pass: usize,
    /// Refused (counters, series without samples); also counted as INCONCLUSIVE.
    pub refused: usize,
}

/// The judgement of every series one query returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    /// Version of this JSON.
    pub schema_version: u32,
    /// soak's version.
    pub soak_version: String,
    /// The server asked (as given; credentials never appear in it).
    pub prometheus: String,
    /// The PromQL expression.
    pub query: String,
    /// Range start, RFC 3339 UTC.
    pub start: String,
    /// Range end, RFC 3339 UTC.
    pub end: String,
    /// Query step, seconds.
    pub step_s: f64,
    /// The limits every series was judged against.
    pub limits: LimitsReport,
    /// Series per verdict.
    pub counts: Counts,
    /// Prometheus's warnings, as it sent them.
    pub warnings: Vec<String>,
    /// Every series, worst first.
    pub series: Vec<SeriesResult>,
    /// The worst series' exit code: 1 if any FAIL, else 3 if any INCONCLUSIVE (as
    /// `--inconclusive` maps it), else 0.
    pub exit_code: i32,
}

/// Orders series worst first: FAIL, INCONCLUSIVE (judged before refused), PASS; within
/// a verdict the fastest growth (the interval's low end, then the estimate) first, then
/// by labels so the order is stable.
pub fn sort_worst_first(series: &mut [SeriesResult]) {
    let key = |s: &SeriesResult| {
        let a = s.analysis();
        (
            a.and_then(|a| a.slope_low_per_hour)
                .unwrap_or(f64::NEG_INFINITY),
            a.and_then(|a| a.slope_per_hour)
                .unwrap_or(f64::NEG_INFINITY),
        )
    };
    series.sort_by(|x, y| {
        y.verdict
            .cmp(&x.verdict)
            .then(x.refused.cmp(&y.refused))
            .then_with(|| {
                let (kx, ky) = (key(x), key(y));
                ky.0.total_cmp(&kx.0).then(ky.1.total_cmp(&kx.1))
            })
            .then_with(|| x.labels.cmp(&y.labels))
    });
}

/// The counts of `series`.
pub fn count(series: &[SeriesResult]) -> Counts {
    let mut c = Counts::default();
    for s in series {
        match s.verdict {
            Verdict::Fail => c.fail += 1,
            Verdict::Inconclusive => c.inconclusive += 1,
            Verdict::Pass => c.pass += 1,
        }
        c.refused += usize::from(s.refused);
    }
    c
}
