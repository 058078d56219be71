//! `soak compare BASELINE CANDIDATE`: is the candidate's memory worse than the
//! baseline's? Pure functions over two reports; the CLI (`cli/compare.rs`, and `soak ab`
//! in `cli/ab.rs`) prints, writes the files and exits 0/1.
//!
//! Levels (peak, final level) are compared in percent of the baseline's value. Growth
//! after warm-up is compared as the extra growth in percent of the baseline's final level
//! (growth near zero would make any change look infinite). Growth *rates* are compared
//! with their 90% intervals: while the intervals overlap the difference is noise, never
//! a warning; otherwise the change is in percent of max(|baseline rate|, 1 MB/h).
//!
//! A comparison also says when it may mislead ([`Warning`]): the runs used different
//! settings, or a side did not reach a clean verdict.
//!
//! [`Comparison`] serialises to the JSON of `soak compare --format json` and
//! `compare.json` (a documented shape, versioned by [`SCHEMA_VERSION`]); the text,
//! Markdown and HTML renderings are in `render.rs` and `html.rs`.

mod html;
mod render;
mod warnings;

#[cfg(test)]
mod tests;

pub use html::html;
pub use render::{headline, markdown, text};
pub use warnings::{Role, Warning};

use crate::analysis::{SeriesAnalysis, Unit, Verdict};
use crate::report::{LimitsReport, Report, SampleCounts};
use serde::Serialize;

/// Version of the comparison's JSON shape; bumped when a field changes meaning or
/// disappears (a new field does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// How one figure, or the whole comparison, came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// The figure is missing on a side (or the baseline's is 0): nothing to grade.
    NotCompared,
    /// Not worse beyond the warning threshold (or the difference is noise).
    Ok,
    /// Worse by more than `--warn`.
    Warn,
    /// Worse by more than `--fail`.
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::NotCompared => "not compared",
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        })
    }
}

/// One compared figure. Values are in the metric's base unit (bytes for a byte metric),
/// per hour for the growth rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Stable key: `peak`, `final_level`, `growth_after_warmup` or `growth_rate`.
    pub key: &'static str,
    /// Its name in words.
    pub figure: &'static str,
    /// Whether the values are per hour (the growth rate).
    pub per_hour: bool,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// Candidate minus baseline.
    pub delta: Option<f64>,
    /// The baseline rate's 90% interval `[low, high]` (growth rate only).
    pub baseline_interval: Option<[f64; 2]>,
    /// The candidate rate's 90% interval (growth rate only).
    pub candidate_interval: Option<[f64; 2]>,
    /// How much worse in percent (negative = better); `None` when within noise or not
    /// compared.
    pub worse_percent: Option<f64>,
    /// The outcome.
    pub outcome: Status,
    /// Why, when it needs saying.
    pub note: String,
}

/// What one side's report says, as far as a comparison needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Run name.
    pub name: String,
    /// Where the report was read from (a run directory or a report.json), when known.
    pub path: Option<String>,
    /// The memory verdict.
    pub verdict: Verdict,
    /// The headline outcome: the verdict, or `TARGET FAILED` / `MONITOR ERROR`.
    pub outcome: String,
    /// The run's own exit code.
    pub exit_code: i32,
    /// The headline's sentence.
    pub explanation: String,
    /// What was soaked (`process`, `pid`, `container`, `timeline`, …).
    pub target_kind: String,
    /// The command, for a started process.
    pub command: Option<Vec<String>>,
    /// The column its verdict is on.
    pub verdict_metric: String,
    /// Planned duration, seconds (none for a re-analysed timeline).
    pub duration_s: Option<f64>,
    /// Seconds from start to the last sample.
    pub elapsed_s: f64,
    /// Sampling interval, seconds.
    pub interval_s: Option<f64>,
    /// Warm-up dropped, seconds.
    pub warmup_s: f64,
    /// Samples taken and missed.
    pub samples: SampleCounts,
    /// Whether the run was interrupted before its end.
    pub interrupted: bool,
    /// The limits its verdict was judged against.
    pub limits: LimitsReport,
}

impl Side {
    /// The side of report `r`.
    pub fn of(r: &Report) -> Side {
        Side {
            name: r.name.clone(),
            path: None,
            verdict: r.verdict,
            outcome: r.outcome(),
            exit_code: r.exit_code,
            explanation: r.outcome_explanation(),
            target_kind: r.target.kind.clone(),
            command: r.target.command.clone(),
            verdict_metric: r.settings.metric.clone(),
            duration_s: r.settings.duration_s,
            elapsed_s: r.elapsed_s,
            interval_s: r.settings.interval_s,
            warmup_s: r.settings.warmup_s,
            samples: r.samples,
            interrupted: r.interrupted,
            limits: r.limits.clone(),
        }
    }
}

/// How `soak ab` ran the two sides (absent for `soak compare`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbRun {
    /// `concurrent` or `sequential`.
    pub order: String,
    /// What the order means for the comparison's fairness, in words.
    pub meaning: String,
}

/// The comparison of two reports: the JSON of `--format json` and compare.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// This shape's version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The compared metric column.
    pub metric: String,
    /// Its unit.
    pub unit: Unit,
    /// `--warn`, percent.
    pub warn_percent: f64,
    /// `--fail`, percent.
    pub fail_percent: f64,
    /// The baseline.
    pub baseline: Side,
    /// The candidate.
    pub candidate: Side,
    /// One entry per figure.
    pub figures: Vec<Figure>,
    /// Why the comparison may mislead, if it may.
    pub warnings: Vec<Warning>,
    /// The worst figure's outcome (`OK` when nothing could be compared: see the warnings).
    pub outcome: Status,
    /// What `soak compare` exits with: 1 when a figure is worse than `--fail`, else 0.
    pub exit_code: i32,
    /// How `soak ab` ran the sides.
    pub ab: Option<AbRun>,
}

impl Comparison {
    /// The comparison as pretty JSON, ending in a newline (compare.json, `--format json`).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        let mut s =
            serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        s.push('\n');
        s
    }

    /// The figure with this key.
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }
}

/// Rate floor for percentages: 1 MB/h for bytes, 1/h for counts.
fn rate_floor(u: Unit) -> f64 {
    if u == Unit::Bytes {
        1e6
    } else {
        1.0
    }
}

fn grade(pct: f64, warn: f64, fail: f64) -> Status {
    if pct > fail {
        Status::Fail
    } else if pct > warn {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// Why two reports cannot be compared (a usage error: the user picked them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// One of the reports analysed no metric.
    #[error("a report has no analysed metric")]
    NoMetric,
    /// The reports' verdict metrics differ and neither analysed the other's.
    #[error("the reports judge different metrics ({baseline} vs {candidate}) and neither analysed the other's; re-analyse one with --metric")]
    DifferentMetrics {
        /// The baseline's verdict metric.
        baseline: String,
        /// The candidate's verdict metric.
        candidate: String,
    },
}

/// `name`'s analysis in report `r`, if it analysed that column.
fn analysis<'a>(r: &'a Report, name: &str) -> Option<&'a SeriesAnalysis> {
    r.metrics
        .iter()
        .map(|m| &m.analysis)
        .find(|a| a.metric == name)
}

/// The two analyses to compare: both verdict metrics when they agree; else the
/// baseline's metric when the candidate analysed it too (or the other way round), with
/// a warning.
fn pick<'a>(
    base: &'a Report,
    cand: &'a Report,
) -> Result<(&'a SeriesAnalysis, &'a SeriesAnalysis, Option<Warning>), CompareError> {
    let (Some(b), Some(c)) = (base.main_metric(), cand.main_metric()) else {
        return Err(CompareError::NoMetric);
    };
    if b.metric == c.metric {
        return Ok((b, c, None));
    }
    let differ = |compared: &str| {
        Some(Warning::DifferentMetric {
            baseline: b.metric.clone(),
            candidate: c.metric.clone(),
            compared: compared.to_string(),
        })
    };
    if let Some(c2) = analysis(cand, &b.metric) {
        return Ok((b, c2, differ(&b.metric)));
    }
    if let Some(b2) = analysis(base, &c.metric) {
        return Ok((b2, c, differ(&c.metric)));
    }
    Err(CompareError::DifferentMetrics {
        baseline: b.metric.clone(),
        candidate: c.metric.clone(),
    })
}

/// A figure with both values, graded on `pct` (`None`: not compared, with `note`).
fn level_figure(
    key: &'static str,
    figure: &'static str,
    (bv, cv): (Option<f64>, Option<f64>),
    of: Option<f64>,
    (warn, fail): (f64, f64),
    note: &str,
) -> Figure {
    let delta = bv.zip(cv).map(|(x, y)| y - x);
    let (worse_percent, outcome, note) = match (delta, of) {
        (Some(d), Some(of)) if of.abs() > 0.0 => {
            let pct = d / of.abs() * 100.0;
            (Some(pct), grade(pct, warn, fail), note.to_string())
        }
        (Some(_), _) => (
            None,
            Status::NotCompared,
            "the baseline's value is 0: no percentage".to_string(),
        ),
        (None, _) => (
            None,
            Status::NotCompared,
            "not measured in both".to_string(),
        ),
    };
    Figure {
        key,
        figure,
        per_hour: false,
        baseline: bv,
        candidate: cv,
        delta,
        baseline_interval: None,
        candidate_interval: None,
        worse_percent,
        outcome,
        note,
    }
}

/// The growth-rate figure: graded only when the 90% intervals are apart.
fn rate_figure(b: &SeriesAnalysis, c: &SeriesAnalysis, warn: f64, fail: f64) -> Figure {
    let u = b.unit;
    let interval = |a: &SeriesAnalysis| {
        a.slope_low_per_hour
            .zip(a.slope_high_per_hour)
            .map(|(lo, hi)| [lo, hi])
    };
    let (bi, ci) = (interval(b), interval(c));
    let (bs, cs) = (b.slope_per_hour, c.slope_per_hour);
    let delta = bs.zip(cs).map(|(x, y)| y - x);
    let (worse_percent, outcome, note) = match (bs.zip(bi), cs.zip(ci)) {
        (Some((x, [xlo, xhi])), Some((y, [ylo, yhi]))) => {
            if ylo <= xhi && xlo <= yhi {
                (
                    None,
                    Status::Ok,
                    "90% intervals overlap: the difference is noise".to_string(),
                )
            } else {
                let pct = (y - x) / x.abs().max(rate_floor(u)) * 100.0;
                (
                    Some(pct),
                    grade(pct, warn, fail),
                    format!(
                        "90% intervals apart; % of max(|baseline|, {})",
                        crate::units::fmt_rate(u, rate_floor(u))
                    ),
                )
            }
        }
        _ => (
            None,
            Status::NotCompared,
            "no trend in both (run too short?)".to_string(),
        ),
    };
    Figure {
        key: "growth_rate",
        figure: "growth rate",
        per_hour: true,
        baseline: bs,
        candidate: cs,
        delta,
        baseline_interval: bi,
        candidate_interval: ci,
        worse_percent,
        outcome,
        note,
    }
}

/// Compares the verdict metric of two reports; `warn` and `fail` are in percent.
pub fn compare(
    base: &Report,
    cand: &Report,
    warn: f64,
    fail: f64,
) -> Result<Comparison, CompareError> {
    let (b, c, metric_warning) = pick(base, cand)?;
    let level = |a: &SeriesAnalysis| a.end_level.or(a.last);
    let t = (warn, fail);
    let figures = vec![
        level_figure("peak", "peak", (b.peak, c.peak), b.peak, t, ""),
        level_figure(
            "final_level",
            "final level",
            (level(b), level(c)),
            level(b),
            t,
            "",
        ),
        level_figure(
            "growth_after_warmup",
            "growth after warm-up",
            (b.total_growth, c.total_growth),
            level(b),
            t,
            "extra growth in % of the baseline's final level",
        ),
        rate_figure(b, c, warn, fail),
    ];
    let outcome = figures
        .iter()
        .map(|f| f.outcome)
        .max()
        .unwrap_or(Status::Ok)
        .max(Status::Ok);
    let mut warnings: Vec<Warning> = metric_warning.into_iter().collect();
    warnings.extend(warnings::of_settings(base, cand));
    warnings.extend(warnings::of_side(Role::Baseline, base, b));
    warnings.extend(warnings::of_side(Role::Candidate, cand, c));
    if figures.iter().all(|f| f.outcome == Status::NotCompared) {
        warnings.push(Warning::NothingCompared);
    }
    Ok(Comparison {
        schema_version: SCHEMA_VERSION,
        metric: b.metric.clone(),
        unit: b.unit,
        warn_percent: warn,
        fail_percent: fail,
        baseline: Side::of(base),
        candidate: Side::of(cand),
        figures,
        warnings,
        outcome,
        exit_code: if outcome == Status::Fail {
            crate::error::exit_code::FAIL
        } else {
            crate::error::exit_code::PASS
        },
        ab: None,
    })
}
