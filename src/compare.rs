//! `soak compare BASELINE CANDIDATE`: is the candidate's memory worse than the
//! baseline's? Pure functions over two reports; the CLI prints the table and exits 0/1.
//!
//! Levels (peak, final level) are compared in percent of the baseline's value. Growth
//! after warm-up is compared as the extra growth in percent of the baseline's final level
//! (growth near zero would make any change look infinite). Growth *rates* are compared
//! with their 90% intervals: while the intervals overlap the difference is noise, never
//! a warning; otherwise the change is in percent of max(|baseline rate|, 1 MB/h).

use crate::analysis::verdict::{fmt_rate, fmt_value};
use crate::analysis::{SeriesAnalysis, Unit};
use crate::report::markup::{md_code, md_text};
use crate::report::Report;
use serde::Serialize;
use std::fmt::Write;

/// How one figure compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Not worse beyond the warning threshold.
    Ok,
    /// Worse by more than `--warn`.
    Warn,
    /// Worse by more than `--fail`.
    Fail,
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Which figure (`peak`, `final level`, `growth after warm-up`, `growth rate`).
    pub figure: String,
    /// Baseline value, displayed.
    pub baseline: String,
    /// Candidate value, displayed.
    pub candidate: String,
    /// How much worse in percent (negative = better); `None` when within noise.
    pub worse_percent: Option<f64>,
    /// The outcome.
    pub status: Status,
    /// Why, when it needs saying.
    pub note: String,
}

/// The comparison of two reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The compared metric column.
    pub metric: String,
    /// One row per figure.
    pub rows: Vec<Row>,
    /// The worst row's status.
    pub status: Status,
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

/// Compares the verdict metric of two reports; `warn` and `fail` are in percent.
pub fn compare(base: &Report, cand: &Report, warn: f64, fail: f64) -> Result<Comparison, String> {
    let (Some(b), Some(c)) = (base.main_metric(), cand.main_metric()) else {
        return Err("a report has no analysed metric".into());
    };
    if b.metric != c.metric {
        return Err(format!(
            "the reports judge different metrics ({} vs {}); re-analyse one with --metric",
            b.metric, c.metric
        ));
    }
    let u = b.unit;
    let v = |x: Option<f64>| x.map(|x| fmt_value(u, x)).unwrap_or_else(|| "–".into());
    let mut rows = Vec::new();
    let level = |b: &SeriesAnalysis| b.end_level.or(b.last);
    for (figure, bv, cv) in [
        ("peak", b.peak, c.peak),
        ("final level", level(b), level(c)),
    ] {
        let row = match (bv, cv) {
            (Some(x), Some(y)) if x.abs() > 0.0 => {
                let pct = (y - x) / x.abs() * 100.0;
                Row {
                    figure: figure.into(),
                    baseline: v(bv),
                    candidate: v(cv),
                    worse_percent: Some(pct),
                    status: grade(pct, warn, fail),
                    note: String::new(),
                }
            }
            _ => Row {
                figure: figure.into(),
                baseline: v(bv),
                candidate: v(cv),
                worse_percent: None,
                status: Status::Ok,
                note: "not measured in both".into(),
            },
        };
        rows.push(row);
    }
    rows.push(match (b.total_growth, c.total_growth, level(b)) {
        (Some(x), Some(y), Some(l)) if l.abs() > 0.0 => {
            let pct = (y - x) / l.abs() * 100.0;
            Row {
                figure: "growth after warm-up".into(),
                baseline: v(Some(x)),
                candidate: v(Some(y)),
                worse_percent: Some(pct),
                status: grade(pct, warn, fail),
                note: "extra growth in % of the baseline's final level".into(),
            }
        }
        _ => Row {
            figure: "growth after warm-up".into(),
            baseline: v(b.total_growth),
            candidate: v(c.total_growth),
            worse_percent: None,
            status: Status::Ok,
            note: "not measured in both".into(),
        },
    });
    let r = |a: &SeriesAnalysis| match (
        a.slope_per_hour,
        a.slope_low_per_hour,
        a.slope_high_per_hour,
    ) {
        (Some(s), Some(lo), Some(hi)) => Some((s, lo, hi)),
        _ => None,
    };
    let show = |x: Option<(f64, f64, f64)>| {
        x.map(|(s, lo, hi)| {
            format!(
                "{} [{} … {}]",
                fmt_rate(u, s),
                fmt_rate(u, lo),
                fmt_rate(u, hi)
            )
        })
        .unwrap_or_else(|| "–".into())
    };
    rows.push(match (r(b), r(c)) {
        (Some(x), Some(y)) => {
            let overlap = y.1 <= x.2 && x.1 <= y.2;
            if overlap {
                Row {
                    figure: "growth rate".into(),
                    baseline: show(Some(x)),
                    candidate: show(Some(y)),
                    worse_percent: None,
                    status: Status::Ok,
                    note: "90% intervals overlap: the difference is noise".into(),
                }
            } else {
                let pct = (y.0 - x.0) / x.0.abs().max(rate_floor(u)) * 100.0;
                Row {
                    figure: "growth rate".into(),
                    baseline: show(Some(x)),
                    candidate: show(Some(y)),
                    worse_percent: Some(pct),
                    status: grade(pct, warn, fail),
                    note: format!(
                        "intervals apart; % of max(|baseline|, {})",
                        fmt_rate(u, rate_floor(u))
                    ),
                }
            }
        }
        (x, y) => Row {
            figure: "growth rate".into(),
            baseline: show(x),
            candidate: show(y),
            worse_percent: None,
            status: Status::Ok,
            note: "no trend in both (run too short?)".into(),
        },
    });
    let status = rows.iter().map(|r| r.status).max().unwrap_or(Status::Ok);
    Ok(Comparison {
        metric: b.metric.clone(),
        rows,
        status,
    })
}

/// The comparison as a Markdown table.
pub fn markdown(c: &Comparison, base_name: &str, cand_name: &str, warn: f64, fail: f64) -> String {
    let mut s = String::new();
    let word = match c.status {
        Status::Ok => "OK",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    };
    let _ = writeln!(
        s,
        "## soak compare: {word} — {} vs baseline {} ({})\n",
        md_code(cand_name),
        md_code(base_name),
        md_text(&c.metric)
    );
    let _ = writeln!(
        s,
        "| figure | baseline | candidate | worse by | status | note |\n|---|---|---|---|---|---|"
    );
    for r in &c.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:?} | {} |",
            md_text(&r.figure),
            md_text(&r.baseline),
            md_text(&r.candidate),
            r.worse_percent
                .map(|p| format!("{p:+.1}%"))
                .unwrap_or_else(|| "–".into()),
            r.status,
            md_text(&r.note)
        );
    }
    let _ = writeln!(s, "\nWarn above {warn}% worse, fail above {fail}% worse.");
    s
}
