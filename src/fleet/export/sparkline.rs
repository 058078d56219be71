//! A series in a glance: an inline SVG polyline (HTML) or a line of block characters
//! (Markdown, where SVG does not render). Gaps (NaN buckets) break the line.

use std::fmt::Write;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

fn bounds(v: &[f64]) -> Option<(f64, f64)> {
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    lo.is_finite().then_some((lo, hi))
}

/// `▁▂▃▅▇` with a space for each gap.
pub fn blocks(v: &[f64]) -> String {
    let Some((lo, hi)) = bounds(v) else {
        return String::new();
    };
    let span = if hi > lo { hi - lo } else { 1.0 };
    v.iter()
        .map(|x| {
            if x.is_finite() {
                let i = ((x - lo) / span * 7.0).round() as usize;
                BLOCKS[i.min(7)]
            } else {
                ' '
            }
        })
        .collect()
}

/// A 120×24 SVG of the series; only numbers soak computed go into it.
pub fn svg(v: &[f64], class: &str) -> String {
    let (w, h, pad) = (120.0, 24.0, 2.0);
    let mut s = format!(
        "<svg class=\"spark {class}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">"
    );
    let Some((lo, hi)) = bounds(v) else {
        s.push_str("</svg>");
        return s;
    };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = v.len().max(2) as f64 - 1.0;
    let mut run = String::new();
    let flush = |run: &mut String, s: &mut String| {
        if !run.is_empty() {
            let _ = write!(s, "<polyline points=\"{}\"/>", run.trim_end());
            run.clear();
        }
    };
    for (i, x) in v.iter().enumerate() {
        if x.is_finite() {
            let px = pad + i as f64 / n * (w - 2.0 * pad);
            let py = h - pad - (x - lo) / span * (h - 2.0 * pad);
            let _ = write!(run, "{px:.1},{py:.1} ");
        } else {
            flush(&mut run, &mut s);
        }
    }
    flush(&mut run, &mut s);
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line() {
        let v = [1.0, 2.0, f64::NAN, 3.0, 4.0];
        assert_eq!(blocks(&v), "▁▃ ▆█");
        let s = svg(&v, "FAIL");
        assert_eq!(s.matches("<polyline").count(), 2, "{s}");
        assert!(svg(&[f64::NAN], "PASS").ends_with("</svg>"));
    }
}
