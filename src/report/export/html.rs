//! `report.html`: one self-contained page (inline CSS and SVG, no network, no external
//! script or font) with the verdict on top, a chart of the verdict metric — raw samples,
//! robust points, the warm-up shaded, the trend with its 90% band, the limits — small
//! charts of the other metrics, the checks and the run's facts.
//!
//! The SVG is written by hand: the charts are a few polylines and polygons, and a
//! charting crate would add weight (or scripts) without making them clearer.
//! Every string that can come from the target or the user goes through [`esc`].

use super::{Exporter, Input};
use crate::report::markup::Markup;
use crate::report::rows::{
    checks_table, metrics_table_wide, run_facts, sites_intro, sites_table,
};
use crate::units::fmt_rate;
use crate::units::Secs;
pub(crate) use chart::{css as chart_css, overlay_chart, Overlay};
use chart::{main_chart, small_chart};
use std::fmt::Write;

mod axis;
mod chart;

pub(crate) struct Html;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    crate::report::markup::html(s)
}

pub(crate) const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1040px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.badge{display:inline-block;padding:4px 12px;border-radius:6px;color:#fff;font-weight:700;letter-spacing:.04em}
.PASS{background:#1f8a4c}.FAIL{background:#c62828}.INCONCLUSIVE{background:#b26a00}
.expl{font-size:16px;margin:10px 0 4px}.note{color:#5b6472}
table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}
th{color:#5b6472;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.card{border:1px solid #e3e6ea;border-radius:8px;padding:8px 10px}.card h3{font-size:13px;margin:0 0 4px;color:#3b4350}
.legend span{margin-right:14px;display:inline-block}.sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}";

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, input: &Input) -> String {
        let r = input.report;
        let mut h = String::with_capacity(64 * 1024);
        let v = r.outcome();
        // A failed target or monitor is drawn as red as a FAIL.
        let class = if r.outcome_overrides_verdict() {
            "FAIL".to_string()
        } else {
            v.clone()
        };
        let _ = write!(
            h,
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>soak {} — {}</title><style>{CSS}{}</style></head><body>",
            esc(&v),
            esc(&r.name),
            chart::css()
        );
        let _ = write!(
            h,
            "<h1><span class=\"badge {class}\">{v}</span> {}</h1><p class=\"expl\">{}</p>",
            esc(&r.name),
            esc(&r.outcome_explanation())
        );
        if r.outcome_overrides_verdict() {
            let cv = r.verdict.to_string();
            let _ = write!(
                h,
                "<p class=\"note\">Memory verdict so far: <span class=\"badge {cv}\">{cv}</span> {}</p>",
                esc(&r.explanation)
            );
        }
        if r.interrupted {
            let _ = write!(h, "<p class=\"note\">Interrupted by {} after {}: the verdict covers what was collected.{}</p>", esc(r.end.signal.as_deref().unwrap_or("a signal")), Secs(r.elapsed_s), r.end.detail.as_deref().map(|d| format!(" {}.", esc(d))).unwrap_or_default());
        }
        if let Some(x) = &r.target_exit {
            let _ = write!(h, "<p class=\"note\">Target {}.</p>", esc(&x.describe_when()));
        }
        let main = r.main_metric();
        let tl = input.timeline;
        if let (Some(a), Some(tl)) = (main, tl) {
            if let Some(y) = tl.column(&a.metric) {
                let _ = write!(
                    h,
                    "<h2>{} over time</h2>{}",
                    esc(&a.metric),
                    main_chart(r, a, &tl.elapsed_s, y)
                );
            }
        } else if tl.is_none() {
            h.push_str("<p class=\"note\">The timeline was not available: no charts.</p>");
        }
        h.push_str("<h2>Checks</h2>");
        h.push_str(&checks_table(&r.checks).render(Markup::Html));
        h.push_str("<h2>Metrics</h2>");
        h.push_str(&metrics_table_wide(&r.metrics).render(Markup::Html));
        if let Some(a) = main {
            if let Some(d) = crate::report::rows::detectable_text(a) {
                let _ = write!(
                    h,
                    "<p class=\"note\">Smallest growth this run would detect: {}.",
                    esc(&d)
                );
                if let Some(s) = a.decide_after_s {
                    let _ = write!(
                        h,
                        " A run of about {} would likely decide (estimate).",
                        Secs(s)
                    );
                }
                h.push_str("</p>");
            }
        }
        if let Some(tl) = tl {
            let mut cards = String::new();
            for m in r.metrics.iter().skip(1) {
                let a = &m.analysis;
                if let Some(svg) = tl
                    .column(&a.metric)
                    .and_then(|y| small_chart(&a.metric, a.unit, &tl.elapsed_s, y))
                {
                    let slope = a
                        .slope_per_hour
                        .map(|s| fmt_rate(a.unit, s))
                        .unwrap_or_else(|| "–".into());
                    let _ = write!(
                        cards,
                        "<div class=\"card\"><h3>{} · {}</h3>{svg}</div>",
                        esc(&a.metric),
                        esc(&slope)
                    );
                }
            }
            if !cards.is_empty() {
                let _ = write!(h, "<h2>Other metrics</h2><div class=\"grid\">{cards}</div>");
            }
        }
        if !r.allocation_sites.is_empty() {
            let _ = write!(
                h,
                "<h2>Allocation sites that grew after warm-up</h2><p>{}</p>",
                esc(sites_intro(&r.allocation_sites))
            );
            h.push_str(&sites_table(&r.allocation_sites).render(Markup::Html));
        }
        h.push_str("<h2>Run</h2><table>");
        let mut fact = |k: &str, v: String| {
            // `v` is escaped already (it may hold markup of soak's own: <code>).
            let _ = write!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
        };
        for (k, v) in run_facts(r, Markup::Html) {
            fact(k, v);
        }
        for (k, v) in &r.sources {
            fact(&format!("source of {k}"), esc(v));
        }
        for n in &r.notes {
            fact("note", esc(&n.to_string()));
        }
        h.push_str("</table>");
        // Checked by the browser test: the chart drew (its samples have a size on screen).
        h.push_str("<script>addEventListener('load',function(){var c=document.querySelector('#main-chart .samples');var b=c?c.getBBox():{width:0,height:0};document.body.setAttribute('data-chart-drawn',(b.width>0&&b.height>=0)?'yes':'no');});</script>");
        h.push_str("</body></html>\n");
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }
}
