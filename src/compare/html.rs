//! compare.html: one self-contained page (a report's CSS and chart code, inline SVG, no
//! network): the outcome, the warnings, the figures with their changes coloured, the
//! compared metric of both timelines overlaid on one chart when both are at hand, and
//! both sides' verdicts. Every name and sentence goes through [`esc`].

use super::render::{delta, headline, settings, side_value, worse};
use super::{Comparison, Side, Status};
use crate::report::markup::{html as esc, Markup};
use crate::report::{chart_css, overlay_chart, Overlay, HTML_CSS};
use crate::timeline::Timeline;
use std::fmt::Write;

/// Colours of the two series, the comparison's own badges and the changes.
const CSS: &str = ".base{fill:none;stroke:#4a78c2;stroke-width:1.6}.cand{fill:none;stroke:#d9480f;stroke-width:1.6}
.OK{background:#1f8a4c}.WARN{background:#b26a00}
td.num{white-space:nowrap}td.worse{color:#c62828;font-weight:700}td.warn{color:#b26a00;font-weight:700}td.better{color:#1f8a4c}td.same{color:#5b6472}
.warnings{background:#fff6e5;border:1px solid #f2c66d;border-radius:8px;padding:6px 12px 6px 30px;margin:12px 0}";

/// The class a figure's change is coloured with.
fn change_class(outcome: Status, worse_percent: Option<f64>) -> &'static str {
    match (outcome, worse_percent) {
        (Status::Fail, _) => "worse",
        (Status::Warn, _) => "warn",
        (Status::Ok, Some(p)) if p < 0.0 => "better",
        _ => "same",
    }
}

/// A side's outcome as a badge; a failed target or monitor is as red as a FAIL.
fn badge(s: &Side) -> String {
    let class = match s.outcome.as_str() {
        "PASS" | "FAIL" | "INCONCLUSIVE" => s.outcome.as_str(),
        _ => "FAIL",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(&s.outcome))
}

/// The figures table, the change and percentage cells coloured.
fn figures(c: &Comparison) -> String {
    let mut h = String::from("<table><tr><th>figure</th><th>baseline</th><th>candidate</th><th>change</th><th>worse by</th><th>outcome</th><th>note</th></tr>");
    for f in &c.figures {
        let class = change_class(f.outcome, f.worse_percent);
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num {class}\">{}</td><td class=\"num {class}\">{}</td><td class=\"{class}\">{}</td><td class=\"note\">{}</td></tr>",
            esc(f.figure),
            esc(&side_value(c.unit, f, f.baseline, f.baseline_interval)),
            esc(&side_value(c.unit, f, f.candidate, f.candidate_interval)),
            esc(&delta(c.unit, f)),
            esc(&worse(f)),
            esc(&f.outcome.to_string()),
            esc(&f.note)
        );
    }
    h.push_str("</table>");
    h
}

/// The overlaid chart, or why there is none.
fn chart(c: &Comparison, timelines: [Option<&Timeline>; 2]) -> String {
    let [Some(b), Some(k)] = timelines else {
        return "<p class=\"note\">No chart: it needs both runs' timeline.csv beside their report.json.</p>".into();
    };
    let (Some(by), Some(ky)) = (b.column(&c.metric), k.column(&c.metric)) else {
        return format!(
            "<p class=\"note\">No chart: a timeline has no {} column.</p>",
            esc(&c.metric)
        );
    };
    let series = [
        Overlay {
            class: "base",
            label: &c.baseline.name,
            t: &b.elapsed_s,
            y: by,
        },
        Overlay {
            class: "cand",
            label: &c.candidate.name,
            t: &k.elapsed_s,
            y: ky,
        },
    ];
    match overlay_chart("compare-chart", c.unit, &series) {
        Some(svg) => format!(
            "<h2>{} over time, both runs from their start</h2>{svg}<p class=\"legend note\"><span><i class=\"sw\" style=\"background:#4a78c2\"></i>baseline {}</span><span><i class=\"sw\" style=\"background:#d9480f\"></i>candidate {}</span></p>",
            esc(&c.metric),
            esc(&c.baseline.name),
            esc(&c.candidate.name)
        ),
        None => "<p class=\"note\">No chart: the timelines hold no samples.</p>".into(),
    }
}

/// compare.html; `timelines` are the baseline's and the candidate's, when at hand.
pub fn html(c: &Comparison, timelines: [Option<&Timeline>; 2]) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let outcome = c.outcome.to_string();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>soak compare {} — {} vs {}</title><style>{HTML_CSS}\n{}\n{CSS}</style></head><body>",
        esc(&outcome),
        esc(&c.candidate.name),
        esc(&c.baseline.name),
        chart_css()
    );
    let _ = write!(
        h,
        "<h1><span class=\"badge {}\">{}</span> {} vs baseline {}</h1><p class=\"expl\">{}.</p>",
        esc(&outcome),
        esc(&outcome),
        esc(&c.candidate.name),
        esc(&c.baseline.name),
        headline(c, Markup::Html)
    );
    if let Some(ab) = &c.ab {
        let _ = write!(
            h,
            "<p class=\"note\">Run by soak ab, order {}: {}</p>",
            esc(&ab.order),
            esc(&ab.meaning)
        );
    }
    if !c.warnings.is_empty() {
        h.push_str("<ul class=\"warnings\">");
        for w in &c.warnings {
            let _ = write!(h, "<li>{}</li>", esc(&w.message()));
        }
        h.push_str("</ul>");
    }
    h.push_str(&figures(c));
    h.push_str(&chart(c, timelines));
    h.push_str("<h2>Runs</h2><table><tr><th>side</th><th>run</th><th>outcome</th><th>why</th><th>settings</th><th>report</th></tr>");
    for (role, s) in [("baseline", &c.baseline), ("candidate", &c.candidate)] {
        let _ = write!(
            h,
            "<tr><td>{role}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.name),
            badge(s),
            esc(&s.explanation),
            esc(&settings(s)),
            s.path
                .as_deref()
                .map(|p| format!("<code>{}</code>", esc(p)))
                .unwrap_or_default()
        );
    }
    let _ = write!(
        h,
        "</table><p class=\"note\">Figures of {}: WARN above {}% worse, FAIL above {}% worse.</p>",
        esc(&c.metric),
        c.warn_percent,
        c.fail_percent
    );
    // Checked by the browser test: how many series have a size on screen.
    h.push_str("<script>addEventListener('load',function(){var n=0;document.querySelectorAll('#compare-chart polyline').forEach(function(p){var b=p.getBBox();if(b.width>0)n++;});document.body.setAttribute('data-series-drawn',String(n));});</script>");
    h.push_str("</body></html>\n");
    h
}
