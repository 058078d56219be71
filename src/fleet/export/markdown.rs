//! fleet.md: the counts, the query, and the table worst first with a block-character
//! sparkline per series (GitHub does not render inline SVG in Markdown).

use super::super::model::FleetReport;
use super::super::rows::{counts_line, series_table};
use super::sparkline;
use crate::report::markup::{md_code, md_text, Markup};
use std::fmt::Write;

/// The Markdown report.
pub fn render(r: &FleetReport) -> String {
    let mut s = format!(
        "# soak fleet: {}\n\n{} from {}, {} … {} (step {}s); exit code {}.\n\n",
        counts_line(r),
        md_code(&r.query),
        md_text(&r.prometheus),
        r.start,
        r.end,
        r.step_s,
        r.exit_code
    );
    for w in &r.warnings {
        let _ = writeln!(s, "- Prometheus warning: {}", md_text(w));
    }
    let chart = |x: &super::super::SeriesResult| format!("`{}`", sparkline::blocks(&x.spark));
    s.push_str(&series_table(r, Some(&chart)).render(Markup::Markdown));
    s
}
