//! `report.html`: one self-contained page (inline CSS and SVG, no network, no external
//! script or font) with the verdict on top, a chart of the verdict metric — raw samples,
//! robust points, the warm-up shaded, the trend with its 90% band, the limits — small
//! charts of the other metrics, the checks and the run's facts.
//!
//! The SVG is written by hand: the charts are a few polylines and polygons, and a
//! charting crate would add weight (or scripts) without making them clearer.
//! Every string that can come from the target or the user goes through [`esc`].

use super::{Exporter, Input};
use crate::analysis::{SeriesAnalysis, Unit};
use crate::report::markup::Markup;
use crate::report::rows::{checks_table, metrics_table_wide, run_facts, sites_table};
use crate::report::Report;
use crate::units::Secs;
use crate::units::{fmt_rate, fmt_value};
use std::fmt::Write;

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
svg text{font:11px system-ui,sans-serif;fill:#5b6472}
.samples{fill:none;stroke:#4a78c2;stroke-width:1.2}.point{fill:#1d2430}.warm{fill:#eef0f3}
.band{fill:#f2b233;fill-opacity:.28;stroke:none}.trend{stroke:#d9480f;stroke-width:2}
.limit{stroke:#c62828;stroke-width:1.4;stroke-dasharray:6 4;fill:none}svg text.limit-label{fill:#c62828}.axis{stroke:#b8bec7}.gridline{stroke:#eef0f3}
.legend span{margin-right:14px;white-space:nowrap}.sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}";

/// A chart's mapping from data to pixels.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    t0: f64,
    t1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        self.left + (t - self.t0) / (self.t1 - self.t0) * (self.w - self.left - self.right)
    }
    fn y(&self, v: f64) -> f64 {
        self.top + (1.0 - (v - self.y0) / (self.y1 - self.y0)) * (self.h - self.top - self.bottom)
    }
}

/// Finite (t, y) pairs of one column.
fn pairs(t: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    t.iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect()
}

/// Keeps the min and max of each pixel column, so a million samples draw as the same
/// shape in a few thousand points.
fn downsample(p: &[(f64, f64)], f: &Frame) -> Vec<(f64, f64)> {
    let cols = (f.w - f.left - f.right).max(1.0) as usize;
    if p.len() <= cols * 2 {
        return p.to_vec();
    }
    let mut out = Vec::with_capacity(cols * 2);
    let mut i = 0;
    for c in 0..cols {
        let end_t = f.t0 + (f.t1 - f.t0) * (c + 1) as f64 / cols as f64;
        let start = i;
        while i < p.len() && (p[i].0 <= end_t || c == cols - 1) {
            i += 1;
        }
        if i > start {
            let seg = &p[start..i];
            let lo = seg.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
            let hi = seg.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            if let (Some(lo), Some(hi)) = (lo, hi) {
                if lo.0 <= hi.0 {
                    out.extend([lo, hi]);
                } else {
                    out.extend([hi, lo]);
                }
            }
        }
    }
    out
}

/// About five round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 && out.len() < 12 {
        out.push(v);
        v += step;
    }
    out
}

fn polyline(points: &[(f64, f64)], f: &Frame) -> String {
    let mut s = String::with_capacity(points.len() * 14);
    for (t, y) in points {
        let _ = write!(s, "{:.1},{:.1} ", f.x(*t), f.y(*y));
    }
    s
}

/// A tick label with as many decimals as the tick step needs.
fn tick_label(unit: Unit, v: f64, step: f64) -> String {
    let (scale, suffix) = match unit {
        Unit::Bytes => (1e6, " MB"),
        Unit::Seconds => (1.0, " s"),
        Unit::Count => (1.0, ""),
    };
    let decimals = if step > 0.0 {
        (-(step / scale).log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    format!("{:.*}{suffix}", decimals, v / scale)
}

fn axes(svg: &mut String, f: &Frame, unit: Unit) {
    let yt = ticks(f.y0, f.y1);
    let step = if yt.len() > 1 { yt[1] - yt[0] } else { 0.0 };
    for v in yt {
        let y = f.y(v);
        let _ = write!(
            svg,
            r#"<line class="gridline" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            f.left,
            f.w - f.right,
            f.left - 6.0,
            y + 4.0,
            esc(&tick_label(unit, v, step))
        );
    }
    for t in ticks(f.t0, f.t1) {
        let x = f.x(t);
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            f.h - f.bottom + 16.0,
            esc(&Secs(t).to_string())
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{l:.1}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/><line class="axis" x1="{l:.1}" x2="{l:.1}" y1="{t:.1}" y2="{b:.1}"/>"#,
        l = f.left,
        r = f.w - f.right,
        t = f.top,
        b = f.h - f.bottom
    );
}

fn frame_for(p: &[(f64, f64)], extra: &[f64], w: f64, h: f64, small: bool) -> Option<Frame> {
    let (t0, t1) = (p.first()?.0, p.last()?.0);
    let mut lo = p.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    let mut hi = p.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
    for v in extra.iter().filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.01).max(1e-9);
    Some(Frame {
        w,
        h,
        left: if small { 56.0 } else { 78.0 },
        right: 12.0,
        top: 10.0,
        bottom: 24.0,
        t0,
        t1: if t1 > t0 { t1 } else { t0 + 1.0 },
        y0: (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY }),
        y1: hi + pad,
    })
}

/// The verdict metric's chart.
fn main_chart(r: &Report, a: &SeriesAnalysis, t: &[f64], y: &[f64]) -> String {
    let p = pairs(t, y);
    let unit = a.unit;
    let warm_end = p.first().map(|x| x.0 + a.warmup_s);
    let end_t = p.last().map(|x| x.0);
    // The trend and its band pivot on the robust points' middle.
    let trend = match (a.slope_per_hour, a.intercept, a.points.first(), end_t) {
        (Some(s), Some(b), Some(first), Some(te)) => {
            let mid = a.points[a.points.len() / 2].t;
            Some((s / 3600.0, b, first.t, te, mid))
        }
        _ => None,
    };
    let rate_limit = r
        .limits
        .max_growth_rate_bytes_per_hour
        .filter(|_| a.metric == r.settings.metric);
    let mut extra = Vec::new();
    let mut limit_line = None;
    if let (Some(l), Some(sl), Some(tw), Some(te)) = (
        rate_limit,
        a.start_level,
        a.points.first().map(|p| p.t),
        end_t,
    ) {
        let end = sl + l / 3600.0 * (te - tw);
        extra.push(end);
        limit_line = Some((tw, sl, te, end));
    }
    let total_limit = match (r.limits.max_total_growth_bytes, a.start_level) {
        (Some(l), Some(s)) => Some(s + l as f64),
        _ => None,
    };
    extra.extend(total_limit);
    // A peak limit far above the data would flatten the chart; it is drawn only if near.
    let data_hi = a.peak.unwrap_or(0.0);
    let peak_limit = r
        .limits
        .max_peak_bytes
        .map(|p| p as f64)
        .filter(|p| *p <= data_hi * 1.5);
    extra.extend(peak_limit);
    let Some(f) = frame_for(&p, &extra, 960.0, 380.0, false) else {
        return "<p class=\"note\">No samples to chart.</p>".into();
    };
    let mut svg = format!(
        r#"<svg id="main-chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{label} over time" xmlns="http://www.w3.org/2000/svg">"#,
        w = f.w,
        h = f.h,
        label = esc(&a.metric)
    );
    if let Some(we) = warm_end {
        let x1 = f.x(we.min(f.t1));
        let _ = write!(
            svg,
            r#"<rect class="warm" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">warm-up</text>"#,
            f.left,
            f.top,
            (x1 - f.left).max(0.0),
            f.h - f.top - f.bottom,
            f.left + 4.0,
            f.top + 12.0
        );
    }
    axes(&mut svg, &f, unit);
    let _ = write!(
        svg,
        r#"<polyline class="samples" points="{}"/>"#,
        polyline(&downsample(&p, &f), &f)
    );
    if let (Some((s, b, tw, te, mid)), Some(lo), Some(hi)) =
        (trend, a.slope_low_per_hour, a.slope_high_per_hour)
    {
        let (lo, hi) = (lo / 3600.0, hi / 3600.0);
        let ym = b + s * mid;
        if lo.is_finite() && hi.is_finite() {
            let band = [
                (tw, ym + lo * (tw - mid)),
                (te, ym + lo * (te - mid)),
                (te, ym + hi * (te - mid)),
                (tw, ym + hi * (tw - mid)),
            ];
            let _ = write!(
                svg,
                r#"<polygon class="band" points="{}"/>"#,
                polyline(&band, &f)
            );
        }
        let _ = write!(
            svg,
            r#"<line class="trend" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
            f.x(tw),
            f.y(b + s * tw),
            f.x(te),
            f.y(b + s * te)
        );
    }
    for pt in &a.points {
        let _ = write!(
            svg,
            r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.6"/>"#,
            f.x(pt.t),
            f.y(pt.y)
        );
    }
    if let Some((t0, y0, t1, y1)) = limit_line {
        let _ = write!(
            svg,
            r#"<line class="limit" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="limit-label">growth limit</text>"#,
            f.x(t0),
            f.y(y0),
            f.x(t1),
            f.y(y1),
            f.x(t1) - 4.0,
            f.y(y1) - 6.0
        );
    }
    for (v, name) in [
        (total_limit, "total-growth limit"),
        (peak_limit, "peak limit"),
    ] {
        if let Some(v) = v {
            let yy = f.y(v);
            let _ = write!(
                svg,
                r#"<line class="limit" x1="{:.1}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}"/><text x="{:.1}" y="{:.1}" class="limit-label">{name}</text>"#,
                f.left,
                f.w - f.right,
                f.left + 6.0,
                yy - 5.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn small_chart(name: &str, unit: Unit, t: &[f64], y: &[f64]) -> Option<String> {
    let p = pairs(t, y);
    let first = p.first()?.1;
    if p.iter().all(|x| x.1 == first) {
        // A flat line says less than its value.
        return Some(format!(
            "<p class=\"note\">constant at {} over the run</p>",
            esc(&fmt_value(unit, first))
        ));
    }
    let f = frame_for(&p, &[], 320.0, 120.0, true)?;
    let mut svg = format!(
        r#"<svg class="small-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        f.w,
        f.h,
        esc(name)
    );
    axes(&mut svg, &f, unit);
    let _ = write!(
        svg,
        r#"<polyline class="samples" points="{}"/></svg>"#,
        polyline(&downsample(&p, &f), &f)
    );
    Some(svg)
}

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
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>soak {} — {}</title><style>{CSS}</style></head><body>",
            esc(&v),
            esc(&r.name)
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
            let _ = write!(
                h,
                "<p class=\"note\">Target {} at {}{}.</p>",
                esc(&x.describe()),
                Secs(x.at_s),
                if x.stopped_by_soak {
                    " (stopped by soak)"
                } else {
                    ""
                }
            );
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
                h.push_str("<p class=\"legend note\"><span><i class=\"sw\" style=\"background:#4a78c2\"></i>samples</span><span><i class=\"sw\" style=\"background:#1d2430\"></i>robust points</span><span><i class=\"sw\" style=\"background:#d9480f\"></i>Theil–Sen trend</span><span><i class=\"sw\" style=\"background:#f2b233\"></i>90% interval</span><span><i class=\"sw\" style=\"background:#c62828\"></i>limits</span><span><i class=\"sw\" style=\"background:#dde1e6\"></i>warm-up</span></p>");
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
            h.push_str("<h2>Allocation sites that grew after warm-up</h2><p>Live at the end of the run, allocated after warm-up (dhat-rs; dhat-heap.json opens in DHAT's viewer).</p>");
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

/// One run's series in an [`overlay_chart`].
pub(crate) struct Overlay<'a> {
    /// The CSS class of its line (its colour).
    pub class: &'static str,
    /// Its name, shown on hover.
    pub label: &'a str,
    /// Seconds since that run's start.
    pub t: &'a [f64],
    /// Its values.
    pub y: &'a [f64],
}

/// Several runs' series of one metric on shared axes (soak compare), drawn with the
/// same frame, ticks and downsampling as a report's charts.
pub(crate) fn overlay_chart(id: &str, unit: Unit, series: &[Overlay]) -> Option<String> {
    let sets: Vec<Vec<(f64, f64)>> = series.iter().map(|s| pairs(s.t, s.y)).collect();
    let mut all = sets.concat();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let f = frame_for(&all, &[], 960.0, 380.0, false)?;
    let label: Vec<&str> = series.iter().map(|s| s.label).collect();
    let mut svg = format!(
        r#"<svg id="{}" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(id),
        f.w,
        f.h,
        esc(&label.join(" vs "))
    );
    axes(&mut svg, &f, unit);
    for (s, p) in series.iter().zip(&sets) {
        let _ = write!(
            svg,
            r#"<polyline class="{}" points="{}"><title>{}</title></polyline>"#,
            s.class,
            polyline(&downsample(p, &f), &f),
            esc(s.label)
        );
    }
    svg.push_str("</svg>");
    Some(svg)
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

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(5.0, 5.0), vec![5.0]);
    }
}
