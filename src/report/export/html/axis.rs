//! The charts' axes: round ticks (whole numbers for counts, round durations for time),
//! labels in one unit per axis, and the margins those labels need.

use crate::analysis::Unit;
use crate::units::Secs;

/// Gap between a label and the plot, and around the chart's edge (px).
pub(super) const GAP: f64 = 6.0;

/// About five round tick values covering [lo, hi], at least `min_step` apart (1 for a
/// column of whole numbers: no tick at 1.5 threads).
fn ticks(lo: f64, hi: f64, min_step: f64) -> Vec<f64> {
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
        .unwrap_or(raw)
        .max(min_step);
    // 2.5 × a power of ten below 1 is not a whole number: round to the next integer step.
    let step = if min_step >= 1.0 { step.ceil() } else { step };
    steps_from(lo, hi, step)
}

/// Multiples of `step` in [lo, hi] (at most 12).
fn steps_from(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut k = (lo / step).ceil();
    while k * step <= hi + step * 1e-9 && out.len() < 12 {
        // Multiplying, not adding, keeps 0.1-steps free of accumulated error.
        out.push(k * step);
        k += 1.0;
    }
    out
}

/// Time ticks at round durations (10 s, 5 min, 2 h, …), at most `max` of them.
pub(super) fn time_ticks(t0: f64, t1: f64, max: usize) -> Vec<f64> {
    const STEPS: [f64; 24] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
        3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0, 2592000.0,
    ];
    let span = t1 - t0;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= max as f64 - 1.0)
        .unwrap_or(span.max(1.0));
    steps_from(t0, t1, step)
}

/// A time tick's label: `0` at the start (not `0µs`), else a duration.
pub(super) fn time_label(t: f64) -> String {
    if t.abs() < 1e-9 {
        "0".into()
    } else {
        Secs(t).to_string()
    }
}

/// The y ticks' labels: one unit for the whole axis (kB, MB or GB for bytes, chosen by
/// the largest tick), with as many decimals as the step needs, so neighbours never read
/// the same.
fn y_labels(unit: Unit, ticks: &[f64]) -> Vec<String> {
    let top = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (scale, suffix) = match unit {
        Unit::Bytes if top >= 1e9 => (1e9, " GB"),
        Unit::Bytes if top >= 1e6 => (1e6, " MB"),
        Unit::Bytes if top >= 1e3 => (1e3, " kB"),
        Unit::Bytes => (1.0, " B"),
        Unit::Seconds => (1.0, " s"),
        Unit::Count => (1.0, ""),
    };
    let step = match ticks {
        [a, b, ..] => (b - a) / scale,
        _ => 1.0,
    };
    let decimals = (0..=6)
        .find(|d| {
            let x = step * 10f64.powi(*d);
            (x - x.round()).abs() < 1e-6 * x.abs().max(1.0)
        })
        .unwrap_or(6) as usize;
    ticks
        .iter()
        .map(|v| format!("{:.*}{suffix}", decimals, v / scale))
        .collect()
}

/// A label's width in px at the charts' 11px font, on the generous side (DejaVu Sans,
/// a common fallback for `system-ui`, is wide): the margins are computed from it, so a
/// label is never clipped by the chart's edge.
pub(super) fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            '.' | ',' | ' ' | ':' | 'i' | 'l' | 'j' | 't' | 'f' | 'r' => 4.0,
            c if c.is_ascii_digit() => 7.2,
            'm' | 'w' | 'M' | 'W' => 10.0,
            c if c.is_ascii_uppercase() => 8.5,
            _ => 7.2,
        })
        .sum()
}

/// What a chart shows on its y axis: its range and labelled ticks.
pub(super) struct YAxis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) labels: Vec<String>,
}

impl YAxis {
    /// An axis over `values` with a little room above and below; whole-number ticks
    /// when `whole` (counts of threads, descriptors, processes).
    pub(super) fn over(values: impl Iterator<Item = f64>, unit: Unit, whole: bool) -> Option<YAxis> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return None;
        }
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.001).max(1e-9);
        // Values that are all ≥ 0 get no negative axis.
        let lo = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
        let hi = hi + pad;
        let ticks = ticks(lo, hi, if whole { 1.0 } else { 0.0 });
        let labels = y_labels(unit, &ticks);
        Some(YAxis {
            lo,
            hi,
            ticks,
            labels,
        })
    }

    /// The left margin its labels need.
    pub(super) fn margin(&self) -> f64 {
        let widest = self.labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
        (widest + 2.0 * GAP).max(32.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0, 0.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(5.0, 5.0, 0.0), vec![5.0]);
        assert_eq!(
            y_labels(Unit::Count, &ticks(0.0, 1.0, 0.0)),
            vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
    }

    #[test]
    fn whole_number_columns_get_whole_ticks() {
        // 1 to 3 threads, padded: 0.5-steps without the floor.
        assert_eq!(ticks(0.84, 3.16, 0.0), vec![1.0, 1.5, 2.0, 2.5, 3.0]);
        assert_eq!(ticks(0.84, 3.16, 1.0), vec![1.0, 2.0, 3.0]);
        let axis = YAxis::over([1.0, 2.0, 3.0].into_iter(), Unit::Count, true).unwrap();
        assert_eq!(axis.labels, vec!["1", "2", "3"]);
        // A step of 2.5 × 10^-1 never becomes a fractional whole-number step.
        assert!(ticks(0.0, 1.2, 1.0).iter().all(|v| v.fract() == 0.0));
    }

    #[test]
    fn labels_pick_one_unit_and_enough_decimals() {
        assert_eq!(
            y_labels(Unit::Bytes, &[4e3, 8e3, 12e3]),
            vec!["4 kB", "8 kB", "12 kB"]
        );
        assert_eq!(
            y_labels(Unit::Bytes, &[0.0, 2.5e6, 5e6]),
            vec!["0.0 MB", "2.5 MB", "5.0 MB"]
        );
        assert_eq!(
            y_labels(Unit::Bytes, &[12.15e6, 12.2e6]),
            vec!["12.15 MB", "12.20 MB"]
        );
        assert_eq!(y_labels(Unit::Count, &[10.0, 20.0]), vec!["10", "20"]);
    }

    #[test]
    fn margins_fit_the_widest_label() {
        let axis = YAxis::over([12.15e6, 12.2e6].into_iter(), Unit::Bytes, false).unwrap();
        let widest = axis.labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
        assert!(axis.margin() >= widest + GAP, "{:?}", axis.labels);
    }

    #[test]
    fn time_ticks_are_round_durations() {
        assert_eq!(time_ticks(0.1, 6.0, 8), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            time_ticks(0.0, 600.0, 8),
            vec![0.0, 120.0, 240.0, 360.0, 480.0, 600.0]
        );
        assert_eq!(time_label(0.0), "0");
        assert_eq!(time_label(120.0), "2m");
    }
}
