//! The SVG charts of `report.html`: the verdict metric's chart (samples, robust points,
//! the warm-up, the trend with its 90% band, the limits) and the small charts of the
//! other metrics.
//!
//! The growth-rate limit is drawn as the line a leak at exactly the limit would follow,
//! through the trend's own pivot (the middle robust point), so a trend steeper than the
//! limit line is a rate above the limit, and one less steep is below it, wherever the
//! two lines sit.

use super::axis::{text_width, time_label, time_ticks, YAxis, GAP};
use super::esc;
use crate::analysis::{SeriesAnalysis, Unit};
use crate::report::Report;
use crate::units::{fmt_rate, fmt_value};
use std::fmt::Write;

/// The trend's colour (legend swatch and `.trend` stroke).
const TREND: &str = "#d9480f";
/// The limits' colour: a hue far from the trend's, and the lines are dashed.
const LIMIT: &str = "#6b3fa0";
/// The samples' colour.
const SAMPLES: &str = "#4a78c2";
/// The robust points' colour.
const POINTS: &str = "#1d2430";
/// The 90% band's colour (drawn at .28 opacity).
const BAND: &str = "#f2b233";

/// The x axis's title on every chart.
const X_TITLE: &str = "time since start";

/// The charts' styles, in the colours above.
pub(crate) fn css() -> String {
    format!(
        "svg text{{font:11px system-ui,sans-serif;fill:#5b6472}}
.samples{{fill:none;stroke:{SAMPLES};stroke-width:1.2}}.point{{fill:{POINTS}}}.warm{{fill:#eef0f3}}
.band{{fill:{BAND};fill-opacity:.28;stroke:none}}.trend{{stroke:{TREND};stroke-width:2.5}}
.limit{{stroke:{LIMIT};stroke-width:2;stroke-dasharray:7 5;fill:none}}svg text.limit-label{{fill:{LIMIT}}}svg text.trend-label{{fill:{TREND}}}
.axis{{stroke:#b8bec7}}.gridline{{stroke:#eef0f3}}svg text.axis-title{{fill:#3b4350}}"
    )
}

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
    fn plot_bottom(&self) -> f64 {
        self.h - self.bottom
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

/// Builds the frame of a `w`×`h` chart over times [t0, t1] and `axis`, with room for
/// the tick labels and the x axis's title; returns the frame and the time ticks.
fn frame(w: f64, h: f64, t0: f64, t1: f64, axis: &YAxis, max_ticks: usize) -> (Frame, Vec<f64>) {
    let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
    let tt = time_ticks(t0, t1, max_ticks);
    // The last time label is centred on its tick: half of it may hang past the plot.
    let right = tt
        .last()
        .map(|t| text_width(&time_label(*t)) / 2.0 + GAP)
        .unwrap_or(GAP)
        .max(12.0);
    let f = Frame {
        w,
        h,
        left: axis.margin(),
        right,
        top: 10.0,
        bottom: 40.0,
        t0,
        t1,
        y0: axis.lo,
        y1: axis.hi,
    };
    (f, tt)
}

fn polyline(points: &[(f64, f64)], f: &Frame) -> String {
    let mut s = String::with_capacity(points.len() * 14);
    for (t, y) in points {
        let _ = write!(s, "{:.1},{:.1} ", f.x(*t), f.y(*y));
    }
    s
}

/// Grid lines, tick labels, both axes and the x axis's title.
fn axes(svg: &mut String, f: &Frame, axis: &YAxis, time_ticks: &[f64]) {
    for (v, label) in axis.ticks.iter().zip(&axis.labels) {
        let y = f.y(*v);
        let _ = write!(
            svg,
            r#"<line class="gridline" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            f.left,
            f.w - f.right,
            f.left - GAP,
            y + 4.0,
            esc(label)
        );
    }
    for t in time_ticks {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            f.x(*t),
            f.plot_bottom() + 16.0,
            esc(&time_label(*t))
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{l:.1}" x2="{r:.1}" y1="{b:.1}" y2="{b:.1}"/><line class="axis" x1="{l:.1}" x2="{l:.1}" y1="{t:.1}" y2="{b:.1}"/><text class="axis-title" x="{c:.1}" y="{ty:.1}" text-anchor="middle">{X_TITLE}</text>"#,
        l = f.left,
        r = f.w - f.right,
        t = f.top,
        b = f.plot_bottom(),
        c = (f.left + f.w - f.right) / 2.0,
        ty = f.h - 6.0,
    );
}

/// A straight line from (t0, y0) to (t1, y1), in data coordinates.
type Segment = (f64, f64, f64, f64);

/// The trend, its band and the growth-rate limit line, all pivoting on one point.
struct Lines {
    trend: Segment,
    /// The 90% band as a polygon (low end, then high end back).
    band: Option<[(f64, f64); 4]>,
    /// The line a leak at exactly the limit would follow through the trend's pivot.
    limit: Option<Segment>,
}

/// Through (`pt`, `py`) with slope `per_s`, from `t0` to `t1`.
fn through(pt: f64, py: f64, per_s: f64, t0: f64, t1: f64) -> Segment {
    (t0, py + per_s * (t0 - pt), t1, py + per_s * (t1 - pt))
}

fn lines(a: &SeriesAnalysis, end_t: f64, rate_limit: Option<f64>) -> Option<Lines> {
    let (s, b) = (a.slope_per_hour? / 3600.0, a.intercept?);
    let tw = a.points.first()?.t;
    let pivot = a.points[a.points.len() / 2].t;
    let py = b + s * pivot;
    let band = match (a.slope_low_per_hour, a.slope_high_per_hour) {
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => {
            let (lo, hi) = (
                through(pivot, py, lo / 3600.0, tw, end_t),
                through(pivot, py, hi / 3600.0, tw, end_t),
            );
            Some([(lo.0, lo.1), (lo.2, lo.3), (hi.2, hi.3), (hi.0, hi.1)])
        }
        _ => None,
    };
    Some(Lines {
        trend: through(pivot, py, s, tw, end_t),
        band,
        limit: rate_limit.map(|l| through(pivot, py, l / 3600.0, tw, end_t)),
    })
}

/// The verdict metric's chart and its legend (HTML, below the chart).
pub(super) fn main_chart(r: &Report, a: &SeriesAnalysis, t: &[f64], y: &[f64]) -> String {
    let p = pairs(t, y);
    let (Some(first), Some(last)) = (p.first(), p.last()) else {
        return "<p class=\"note\">No samples to chart.</p>".into();
    };
    let (start_t, end_t) = (first.0, last.0);
    let warm_end = start_t + a.warmup_s;
    let rate_limit = r
        .limits
        .max_growth_rate_bytes_per_hour
        .filter(|_| a.metric == r.settings.metric);
    let lines = lines(a, end_t, rate_limit);
    let total_limit = match (r.limits.max_total_growth_bytes, a.start_level) {
        (Some(l), Some(s)) => Some(s + l as f64),
        _ => None,
    };
    // A peak limit far above the data would flatten the chart; it is drawn only if near.
    let peak_limit = r
        .limits
        .max_peak_bytes
        .map(|p| p as f64)
        .filter(|p| *p <= a.peak.unwrap_or(0.0) * 1.5);
    // The y range is the analysed part's (samples after warm-up, the lines and limits):
    // growth is judged there, and a warm-up ramp from zero would flatten it to a line.
    // The warm-up's samples are clipped to the plot.
    let analysed: Vec<f64> = p
        .iter()
        .filter(|x| x.0 >= warm_end)
        .map(|x| x.1)
        .collect();
    let mut range: Vec<f64> = if analysed.len() >= 2 {
        analysed
    } else {
        p.iter().map(|x| x.1).collect()
    };
    if let Some(l) = &lines {
        range.extend([l.trend.1, l.trend.3]);
        range.extend(l.band.iter().flatten().map(|x| x.1));
        range.extend(l.limit.iter().flat_map(|s| [s.1, s.3]));
    }
    range.extend(total_limit);
    range.extend(peak_limit);
    let Some(axis) = YAxis::over(range.into_iter(), a.unit, is_whole(a.unit, &p)) else {
        return "<p class=\"note\">No samples to chart.</p>".into();
    };
    let (f, tt) = frame(960.0, 400.0, start_t, end_t, &axis, 8);
    let mut svg = format!(
        r#"<svg id="main-chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{label} over time" xmlns="http://www.w3.org/2000/svg"><defs><clipPath id="plot"><rect x="{l:.1}" y="{t:.1}" width="{pw:.1}" height="{ph:.1}"/></clipPath></defs>"#,
        w = f.w,
        h = f.h,
        label = esc(&a.metric),
        l = f.left,
        t = f.top,
        pw = f.w - f.left - f.right,
        ph = f.h - f.top - f.bottom,
    );
    if a.warmup_s > 0.0 {
        let x1 = f.x(warm_end.min(f.t1));
        let _ = write!(
            svg,
            r#"<rect class="warm" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
            f.left,
            f.top,
            (x1 - f.left).max(0.0),
            f.h - f.top - f.bottom,
        );
    }
    axes(&mut svg, &f, &axis, &tt);
    svg.push_str(r#"<g clip-path="url(#plot)">"#);
    let _ = write!(
        svg,
        r#"<polyline class="samples" points="{}"/>"#,
        polyline(&downsample(&p, &f), &f)
    );
    if let Some(band) = lines.as_ref().and_then(|l| l.band) {
        let _ = write!(
            svg,
            r#"<polygon class="band" points="{}"/>"#,
            polyline(&band, &f)
        );
    }
    svg.push_str("</g>");
    let seg = |svg: &mut String, class: &str, (t0, y0, t1, y1): Segment| {
        let _ = write!(
            svg,
            r#"<line class="{class}" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
            f.x(t0),
            f.y(y0),
            f.x(t1),
            f.y(y1)
        );
    };
    if let Some(l) = &lines {
        seg(&mut svg, "trend", l.trend);
    }
    for pt in &a.points {
        let _ = write!(
            svg,
            r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.6"/>"#,
            f.x(pt.t),
            f.y(pt.y)
        );
    }
    for (v, name) in [
        (total_limit, "total-growth limit"),
        (peak_limit, "peak limit"),
    ] {
        if let Some(v) = v {
            seg(&mut svg, "limit", (f.t0, v, f.t1, v));
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="limit-label">{name}</text>"#,
                f.left + GAP,
                f.y(v) - 5.0
            );
        }
    }
    if let Some(l) = &lines {
        if let Some(limit) = l.limit {
            seg(&mut svg, "limit rate-limit", limit);
        }
        end_labels(&mut svg, &f, l);
    }
    if a.warmup_s > 0.0 {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">warm-up</text>"#,
            f.left + 4.0,
            f.top + 12.0
        );
    }
    svg.push_str("</svg>");
    svg.push_str(&legend(a, lines.as_ref(), rate_limit, total_limit.or(peak_limit).is_some()));
    svg
}

/// "trend" and "limit" at the right ends of their lines: the upper line's label above
/// its end, the lower's below, so the two never overlap where the lines end close.
fn end_labels(svg: &mut String, f: &Frame, l: &Lines) {
    let x = f.x(l.trend.2) - GAP;
    let (lo_y, hi_y) = (f.top + 12.0, f.plot_bottom() - 4.0);
    let trend_y = f.y(l.trend.3);
    let mut put = |y: f64, above: bool, class: &str, text: &str| {
        let y = if above { y - 7.0 } else { y + 15.0 };
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="end" class="{class}">{text}</text>"#,
            y.clamp(lo_y, hi_y)
        );
    };
    match l.limit {
        Some(limit) => {
            let limit_y = f.y(limit.3);
            // Screen y grows downwards: the smaller y is the upper line.
            let trend_above = trend_y <= limit_y;
            put(trend_y, trend_above, "trend-label", "trend");
            put(limit_y, !trend_above, "limit-label", "growth limit");
        }
        None => put(trend_y, true, "trend-label", "trend"),
    }
}

/// The legend under the main chart, naming what is drawn (with the two rates).
fn legend(a: &SeriesAnalysis, lines: Option<&Lines>, rate_limit: Option<f64>, level_limits: bool) -> String {
    let sw = |style: &str, text: &str| {
        format!("<span><i class=\"sw\" style=\"{style}\"></i>{}</span>", esc(text))
    };
    let mut items = vec![
        sw(&format!("background:{SAMPLES}"), "samples"),
        sw(&format!("background:{POINTS}"), "robust points"),
    ];
    if let Some(s) = lines.and(a.slope_per_hour) {
        items.push(sw(
            &format!("background:{TREND}"),
            &format!("Theil–Sen trend: {}", fmt_rate(a.unit, s)),
        ));
        if lines.is_some_and(|l| l.band.is_some()) {
            items.push(sw(&format!("background:{BAND}"), "90% interval"));
        }
    }
    let dashed = format!("height:0;border-top:2px dashed {LIMIT}");
    if let (Some(l), true) = (rate_limit, lines.is_some_and(|l| l.limit.is_some())) {
        items.push(sw(
            &dashed,
            &format!(
                "growth limit: {}, drawn through the trend's middle point (a trend steeper than it grows faster than the limit)",
                fmt_rate(a.unit, l)
            ),
        ));
    }
    if level_limits {
        items.push(sw(&dashed, "level limits"));
    }
    if a.warmup_s > 0.0 {
        items.push(sw("background:#dde1e6", "warm-up"));
    }
    format!("<p class=\"legend note\">{}</p>", items.concat())
}

/// Whether a count column holds whole numbers only (threads, descriptors, processes):
/// its ticks are then whole numbers too.
fn is_whole(unit: Unit, p: &[(f64, f64)]) -> bool {
    unit == Unit::Count && p.iter().all(|x| x.1.fract() == 0.0)
}

/// A metric's small chart, or a sentence when it was constant.
pub(super) fn small_chart(name: &str, unit: Unit, t: &[f64], y: &[f64]) -> Option<String> {
    let p = pairs(t, y);
    let first = p.first()?.1;
    if p.iter().all(|x| x.1 == first) {
        // A flat line says less than its value.
        return Some(format!(
            "<p class=\"note\">constant at {} over the run</p>",
            esc(&fmt_value(unit, first))
        ));
    }
    let axis = YAxis::over(p.iter().map(|x| x.1), unit, is_whole(unit, &p))?;
    let (f, tt) = frame(320.0, 140.0, p.first()?.0, p.last()?.0, &axis, 5);
    let mut svg = format!(
        r#"<svg class="small-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        f.w,
        f.h,
        esc(name)
    );
    axes(&mut svg, &f, &axis, &tt);
    let _ = write!(
        svg,
        r#"<polyline class="samples" points="{}"/></svg>"#,
        polyline(&downsample(&p, &f), &f)
    );
    Some(svg)
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
    let whole = sets.iter().all(|p| is_whole(unit, p));
    let axis = YAxis::over(sets.iter().flatten().map(|x| x.1), unit, whole)?;
    let t0 = sets.iter().flatten().map(|x| x.0).fold(f64::INFINITY, f64::min);
    let t1 = sets.iter().flatten().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max);
    let (f, tt) = frame(960.0, 380.0, t0, t1, &axis, 8);
    let label: Vec<&str> = series.iter().map(|s| s.label).collect();
    let mut svg = format!(
        r#"<svg id="{}" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(id),
        f.w,
        f.h,
        esc(&label.join(" vs "))
    );
    axes(&mut svg, &f, &axis, &tt);
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
    fn the_limit_line_pivots_on_the_trend() {
        use crate::analysis::{analyze_series, SeriesOptions};
        // 100 MB growing 50 MB/h, judged against 60 MB/h: the trend is less steep.
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let y: Vec<f64> = t
            .iter()
            .map(|x| 100e6 + x * 50e6 / 3600.0 + ((x * 7.0) % 5.0) * 1e4)
            .collect();
        let a = analyze_series(
            "rss_bytes",
            &t,
            &y,
            &SeriesOptions {
                warmup_s: Some(60.0),
                max_rate_per_hour: Some(60e6),
                max_total_growth: None,
            },
        );
        let l = lines(&a, 599.0, Some(60e6)).unwrap();
        let limit = l.limit.unwrap();
        // Both start and end at the same times…
        assert_eq!((l.trend.0, l.trend.2), (limit.0, limit.2));
        // …cross at the pivot, so the less steep trend starts above and ends below.
        assert!(l.trend.1 > limit.1 && l.trend.3 < limit.3, "{:?} {limit:?}", l.trend);
        let slope = |s: Segment| (s.3 - s.1) / (s.2 - s.0) * 3600.0;
        assert!((slope(limit) - 60e6).abs() < 1.0);
    }
}
