//! fleet.html: one self-contained page, the table worst first with an inline SVG
//! sparkline per series. Everything from Prometheus (labels, the query, warnings) is
//! escaped; the SVG holds only numbers soak computed.

use super::super::model::FleetReport;
use super::super::rows::{counts_line, series_table};
use super::sparkline;
use crate::report::markup::{html as esc, Markup};
use std::fmt::Write;

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#1d2430;padding:0 16px}
h1{font-size:20px;margin:0 0 8px}.note{color:#5b6472}code{font-size:13px}
.badge{display:inline-block;padding:2px 8px;border-radius:5px;color:#fff;font-weight:700;font-size:12px}
.PASS{background:#1f8a4c}.FAIL{background:#c62828}.INCONCLUSIVE{background:#b26a00}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}
th{color:#5b6472;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg.spark polyline{fill:none;stroke:#4a78c2;stroke-width:1.3}svg.spark.FAIL polyline{stroke:#c62828}";

/// The HTML report.
pub fn render(r: &FleetReport) -> String {
    let mut s = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>soak fleet — {}</title><style>{CSS}</style></head><body>",
        esc(&counts_line(r))
    );
    let _ = write!(
        s,
        "<h1>{}</h1><p class=\"note\"><code>{}</code> from {}, {} … {} (step {}s); exit code {}.</p>",
        esc(&counts_line(r)),
        esc(&r.query),
        esc(&r.prometheus),
        esc(&r.start),
        esc(&r.end),
        r.step_s,
        r.exit_code
    );
    for w in &r.warnings {
        let _ = write!(s, "<p class=\"note\">Prometheus warning: {}</p>", esc(w));
    }
    let chart = |x: &super::super::SeriesResult| sparkline::svg(&x.spark, &x.verdict.to_string());
    s.push_str(&series_table(r, Some(&chart)).render(Markup::Html));
    s.push_str("</body></html>\n");
    s
}
