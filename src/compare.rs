//! `soak compare BASELINE CANDIDATE`: is the candidate's memory worse than the
//! baseline's? Pure functions over two reports; the CLI prints the table and exits 0/1.
//!
//! Levels (peak, final level) are compared in percent of the baseline's value. Growth
//! after warm-up is compared as the extra growth in percent of the baseline's final level
//! (growth near zero would make any change look infinite). Growth *rates* are compared
//! with their 90% intervals: while the intervals overlap the difference is noise, never
//! a warning; otherwise the change is in percent of max(|baseline rate|, 1 MB/h).

use crate::analysis::{SeriesAnalysis, Unit};
use crate::report::markup::{md_code, md_text, Cell, Markup, Table};
use crate::report::Report;
use crate::units::{fmt_rate, fmt_value};
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

/// Why two reports cannot be compared (a usage error: the user picked them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// One of the reports analysed no metric.
    #[error("a report has no analysed metric")]
    NoMetric,
    /// The reports' verdict metrics differ.
    #[error("the reports judge different metrics ({baseline} vs {candidate}); re-analyse one with --metric")]
    DifferentMetrics {
        /// The baseline's verdict metric.
        baseline: String,
        /// The candidate's verdict metric.
        candidate: String,
    },
}

/// Compares the verdict metric of two reports; `warn` and `fail` are in percent.
pub fn compare(
    base: &Report,
    cand: &Report,
    warn: f64,
    fail: f64,
) -> Result<Comparison, CompareError> {
    let (Some(b), Some(c)) = (base.main_metric(), cand.main_metric()) else {
        return Err(CompareError::NoMetric);
    };
    if b.metric != c.metric {
        return Err(CompareError::DifferentMetrics {
            baseline: b.metric.clone(),
            candidate: c.metric.clone(),
        });
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
    let mut t = Table::new(&[
        "figure",
        "baseline",
        "candidate",
        "worse by",
        "status",
        "note",
    ]);
    t.rows = c
        .rows
        .iter()
        .map(|r| {
            vec![
                Cell::Text(r.figure.clone()),
                Cell::Text(r.baseline.clone()),
                Cell::Text(r.candidate.clone()),
                Cell::Figure(
                    r.worse_percent
                        .map(|p| format!("{p:+.1}%"))
                        .unwrap_or_else(|| "–".into()),
                ),
                Cell::Figure(format!("{:?}", r.status)),
                Cell::Text(r.note.clone()),
            ]
        })
        .collect();
    s.push_str(&t.render(Markup::Markdown));
    let _ = writeln!(s, "\nWarn above {warn}% worse, fail above {fail}% worse.");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{evaluate, EvaluateOptions};
    use crate::config::Limits;
    use crate::report::{LimitsReport, Settings, TargetInfo};
    use crate::sample::Col;

    /// A report of a 10-minute run at 100 MB growing `mb_per_hour`, evaluated for real.
    fn report(name: &str, mb_per_hour: f64) -> Report {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let rss: Vec<f64> = t
            .iter()
            .map(|x| 100e6 + x * mb_per_hour * 1e6 / 3600.0 + ((x * 7.0) % 11.0 - 5.0) * 1e4)
            .collect();
        let limits = Limits::default();
        let eval = evaluate(
            &t,
            &[(Col::Rss.name().to_string(), rss)],
            &EvaluateOptions {
                metric: Col::Rss.name().into(),
                warmup_s: Some(60.0),
                limits: limits.clone(),
            },
        );
        let mut r = Report::new(
            name.into(),
            TargetInfo::default(),
            Settings {
                duration_s: Some(600.0),
                interval_s: Some(1.0),
                warmup_s: 0.0,
                metric: Col::Rss.name().into(),
                pss: false,
            },
            LimitsReport::new(&limits, crate::config::InconclusivePolicy::Exit3),
        );
        r.set_evaluation(eval);
        r
    }

    fn row<'a>(c: &'a Comparison, figure: &str) -> &'a Row {
        c.rows
            .iter()
            .find(|r| r.figure == figure)
            .unwrap_or_else(|| panic!("no row {figure}: {c:?}"))
    }

    fn main(r: &mut Report) -> &mut SeriesAnalysis {
        &mut r.metrics[0].analysis
    }

    #[test]
    fn a_report_compared_with_itself_is_ok_everywhere() {
        let b = report("base", 0.0);
        let c = compare(&b, &b, 5.0, 20.0).unwrap();
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.metric, Col::Rss.name());
        assert_eq!(c.rows.len(), 4);
        assert_eq!(row(&c, "peak").worse_percent, Some(0.0));
        assert!(row(&c, "growth rate").note.contains("overlap"));
    }

    #[test]
    fn growth_rates_with_intervals_apart_are_graded() {
        let b = report("base", 0.0);
        // A 60 MB/h leak against none: intervals apart, far worse than 1 MB/h.
        let c = compare(&b, &report("leaky", 60.0), 5.0, 20.0).unwrap();
        let r = row(&c, "growth rate");
        assert!(r.note.contains("intervals apart"), "{r:?}");
        let pct = r.worse_percent.unwrap();
        assert!(pct > 1000.0, "{pct}");
        assert_eq!(r.status, Status::Fail);
        assert_eq!(c.status, Status::Fail);
        // The other way round the candidate is better: negative, OK.
        let c = compare(&report("leaky", 60.0), &b, 5.0, 20.0).unwrap();
        let r = row(&c, "growth rate");
        assert!(
            r.worse_percent.unwrap() < 0.0 && r.status == Status::Ok,
            "{r:?}"
        );
    }

    #[test]
    fn growth_rate_percent_is_of_the_baseline_rate_above_the_floor() {
        let mut b = report("base", 0.0);
        let mut c = b.clone();
        let set = |r: &mut Report, s: f64, lo: f64, hi: f64| {
            let a = main(r);
            a.slope_per_hour = Some(s);
            a.slope_low_per_hour = Some(lo);
            a.slope_high_per_hour = Some(hi);
        };
        // 10 MB/h [9, 11] → 11 MB/h [10.6, 11.4] overlap: noise.
        set(&mut b, 10e6, 9e6, 11e6);
        set(&mut c, 11e6, 10.6e6, 11.4e6);
        let r = compare(&b, &c, 5.0, 20.0).unwrap();
        assert_eq!(row(&r, "growth rate").worse_percent, None);
        // 10 MB/h [9.5, 10.5] → 11.2 MB/h [10.8, 11.6]: apart, 12% worse → WARN.
        set(&mut b, 10e6, 9.5e6, 10.5e6);
        set(&mut c, 11.2e6, 10.8e6, 11.6e6);
        let r = compare(&b, &c, 5.0, 20.0).unwrap();
        let g = row(&r, "growth rate");
        assert!((g.worse_percent.unwrap() - 12.0).abs() < 1e-9, "{g:?}");
        assert_eq!(g.status, Status::Warn);
        // A baseline near 0 is measured against the 1 MB/h floor, not against ~0.
        set(&mut b, 0.01e6, 0.0, 0.02e6);
        set(&mut c, 0.5e6, 0.4e6, 0.6e6);
        let g = compare(&b, &c, 5.0, 20.0).unwrap();
        let g = row(&g, "growth rate");
        assert!((g.worse_percent.unwrap() - 49.0).abs() < 1e-9, "{g:?}");
        // No trend in one of them: not compared.
        main(&mut c).slope_per_hour = None;
        let g = compare(&b, &c, 5.0, 20.0).unwrap();
        assert!(row(&g, "growth rate").note.contains("no trend"));
    }

    #[test]
    fn growth_after_warm_up_is_in_percent_of_the_baseline_level() {
        let mut b = report("base", 0.0);
        let mut c = b.clone();
        main(&mut b).end_level = Some(100e6);
        main(&mut b).total_growth = Some(10e6);
        for (growth, pct, status) in [
            (12e6, 2.0, Status::Ok),
            (16e6, 6.0, Status::Warn),
            (40e6, 30.0, Status::Fail),
            (0.0, -10.0, Status::Ok),
        ] {
            main(&mut c).total_growth = Some(growth);
            let r = compare(&b, &c, 5.0, 20.0).unwrap();
            let g = row(&r, "growth after warm-up");
            assert!((g.worse_percent.unwrap() - pct).abs() < 1e-9, "{g:?}");
            assert_eq!(g.status, status, "{g:?}");
        }
        main(&mut c).total_growth = None;
        let r = compare(&b, &c, 5.0, 20.0).unwrap();
        assert!(row(&r, "growth after warm-up")
            .note
            .contains("not measured"));
    }

    #[test]
    fn levels_are_in_percent_of_the_baseline() {
        let b = report("base", 0.0);
        let mut c = b.clone();
        let peak = main(&mut c).peak.unwrap();
        main(&mut c).peak = Some(peak * 1.25);
        let r = compare(&b, &c, 5.0, 20.0).unwrap();
        let p = row(&r, "peak");
        assert!((p.worse_percent.unwrap() - 25.0).abs() < 1e-9);
        assert_eq!((p.status, r.status), (Status::Fail, Status::Fail));
        // A zero baseline level cannot give a percentage.
        let mut z = b.clone();
        main(&mut z).peak = Some(0.0);
        let r = compare(&z, &c, 5.0, 20.0).unwrap();
        assert_eq!(row(&r, "peak").worse_percent, None);
    }

    #[test]
    fn different_metrics_or_no_metric_are_errors() {
        let b = report("base", 0.0);
        let mut c = b.clone();
        main(&mut c).metric = Col::Anon.name().into();
        assert_eq!(
            compare(&b, &c, 5.0, 20.0).unwrap_err().to_string(),
            "the reports judge different metrics (rss_bytes vs anon_bytes); re-analyse one with --metric"
        );
        c.metrics.clear();
        assert_eq!(
            compare(&b, &c, 5.0, 20.0).unwrap_err(),
            CompareError::NoMetric
        );
    }

    #[test]
    fn markdown_escapes_names_and_renders_no_html() {
        let b = report("base`<img src=x onerror=alert(1)>`", 0.0);
        let c = compare(&b, &b, 5.0, 20.0).unwrap();
        let md = markdown(&c, &b.name, "x<script>alert(2)</script>", 5.0, 20.0);
        let mut html = String::new();
        pulldown_cmark::html::push_html(
            &mut html,
            pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::all()),
        );
        assert!(
            !html.contains("<img") && !html.contains("<script"),
            "{html}"
        );
        assert!(
            html.contains("<code>x&lt;script&gt;alert(2)&lt;/script&gt;</code>"),
            "{html}"
        );
        assert!(
            html.contains("## soak compare") || html.contains("<h2>soak compare: OK"),
            "{html}"
        );
    }
}
