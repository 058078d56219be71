//! The one table of a fleet report, drawn by the terminal summary, Markdown and HTML:
//! a row per series, worst first. Labels are untrusted (any exporter can set them), so
//! they are only ever [`Cell::Text`], which every markup escapes.

use super::model::{FleetReport, SeriesResult};
use crate::report::markup::{Cell, Table};
use crate::units::{fmt_rate, Unit};

/// The robust slope with its interval, `12.0 MB/h [10.1 … 13.9]`, or `—`.
pub fn slope_text(s: &SeriesResult) -> String {
    let Some(a) = s.analysis() else {
        return "—".into();
    };
    let unit: Unit = a.unit;
    match (
        a.slope_per_hour,
        a.slope_low_per_hour,
        a.slope_high_per_hour,
    ) {
        (Some(x), Some(lo), Some(hi)) => {
            let f = |v: f64| fmt_rate(unit, v);
            let lo = f(lo);
            let hi = f(hi);
            // "[10.1 … 13.9 MB/h]": the unit once.
            let strip = |s: &str| s.split(' ').next().unwrap_or("").to_string();
            format!("{} [{} … {}]", f(x), strip(&lo), strip(&hi))
        }
        _ => "—".into(),
    }
}

/// The table; `chart` adds a first column drawn by it (the HTML sparkline).
pub fn series_table(r: &FleetReport, chart: Option<&dyn Fn(&SeriesResult) -> String>) -> Table {
    let mut headers = vec!["verdict", "series", "growth (robust, 90% interval)", "why"];
    if chart.is_some() {
        headers.insert(2, "chart");
    }
    let mut t = Table::new(&headers);
    for s in &r.series {
        let mut row = vec![
            Cell::Verdict(s.verdict),
            Cell::Text(s.selector()),
            Cell::Figure(slope_text(s)),
            Cell::Text(why(s)),
        ];
        if let Some(c) = chart {
            row.insert(2, Cell::Figure(c(s)));
        }
        t.rows.push(row);
    }
    t
}

/// The explanation, then the series' notes.
fn why(s: &SeriesResult) -> String {
    let mut w = s.explanation.clone();
    for n in &s.notes {
        w.push_str("; ");
        w.push_str(&n.to_string());
    }
    w
}

/// "3 series: 1 FAIL, 1 INCONCLUSIVE (1 refused), 1 PASS".
pub fn counts_line(r: &FleetReport) -> String {
    let c = r.counts;
    let refused = if c.refused > 0 {
        format!(" ({} refused)", c.refused)
    } else {
        String::new()
    };
    format!(
        "{} series: {} FAIL, {} INCONCLUSIVE{refused}, {} PASS",
        r.series.len(),
        c.fail,
        c.inconclusive,
        c.pass
    )
}
