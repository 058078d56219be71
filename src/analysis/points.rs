//! Reducing raw samples to robust points before fitting a trend.
//!
//! Raw samples are autocorrelated and often shaped (GC sawtooth, spikes), so fitting
//! them directly overstates confidence and lets the sawtooth's phase decide the slope.
//! A sawtooth is reduced to one point per cycle (its trough: the floor a leak raises);
//! anything else to about [`TARGET_BLOCKS`] equal blocks summarised by their
//! interquartile mean, which ignores spikes in either direction.

use serde::Serialize;

/// How many blocks a non-sawtooth series is cut into.
pub const TARGET_BLOCKS: usize = 30;
/// Fewer sharp drops than this is not called a sawtooth.
const MIN_CYCLES: usize = 6;
/// Above this many troughs they are themselves blocked, keeping Theil–Sen's O(n²) small.
const MAX_TROUGHS: usize = 240;

/// One robust point: a time (seconds) and a level (the metric's unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Point {
    /// Seconds since the start of the run.
    pub t: f64,
    /// Robust level at `t`.
    pub y: f64,
}

/// How the points were formed; reported so a reader knows what the trend was fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PointMethod {
    /// One trough per GC-like cycle (sharp regular drops were found).
    Troughs {
        /// Sawtooth cycles found.
        cycles: usize,
    },
    /// Equal blocks of samples, each its interquartile mean.
    Blocks {
        /// Number of blocks.
        blocks: usize,
    },
}

impl std::fmt::Display for PointMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointMethod::Troughs { cycles } => {
                write!(f, "the trough of each of {cycles} GC-like cycles")
            }
            PointMethod::Blocks { blocks } => {
                write!(f, "{blocks} blocks, each its interquartile mean")
            }
        }
    }
}

/// Interquartile mean: the mean of the middle half, robust to spikes on either side.
/// `values` is reordered.
pub fn interquartile_mean(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n < 4 {
        values.sort_by(f64::total_cmp);
        return values[n / 2];
    }
    values.sort_by(f64::total_cmp);
    let lo = n / 4;
    let hi = n - n / 4;
    let mid = &values[lo..hi];
    mid.iter().sum::<f64>() / mid.len() as f64
}

/// Median of a slice (reordered); NaN for an empty slice.
pub fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The k-th smallest value (linear time; `values` is reordered).
fn nth(values: &mut [f64], k: usize) -> f64 {
    let k = k.min(values.len().saturating_sub(1));
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Cuts `(t, y)` into about `blocks` equal-count blocks, each summarised by the mean time
/// and the interquartile mean of its values.
pub fn block_points(t: &[f64], y: &[f64], blocks: usize) -> Vec<Point> {
    let n = t.len().min(y.len());
    if n == 0 || blocks == 0 {
        return Vec::new();
    }
    let blocks = blocks.min(n);
    let mut out = Vec::with_capacity(blocks);
    let mut scratch = Vec::with_capacity(n / blocks + 1);
    for b in 0..blocks {
        let lo = b * n / blocks;
        let hi = (b + 1) * n / blocks;
        if hi <= lo {
            continue;
        }
        scratch.clear();
        scratch.extend_from_slice(&y[lo..hi]);
        let tm = t[lo..hi].iter().sum::<f64>() / (hi - lo) as f64;
        out.push(Point {
            t: tm,
            y: interquartile_mean(&mut scratch),
        });
    }
    out
}

/// Finds the indices `i` where `y[i+1]` drops sharply below `y[i]` the way a garbage
/// collection or a pool release does: far beyond the sample-to-sample noise, and not the
/// return from a one-sample spike.
fn sharp_drops(y: &[f64]) -> Vec<usize> {
    let n = y.len();
    if n < 3 * MIN_CYCLES {
        return Vec::new();
    }
    let diffs: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let mut scratch: Vec<f64> = diffs.iter().map(|d| d.abs()).collect();
    let mid = scratch.len() / 2;
    let noise = 1.4826 * nth(&mut scratch, mid);
    scratch.clear();
    scratch.extend_from_slice(y);
    let hi = nth(&mut scratch, n * 95 / 100);
    let lo = nth(&mut scratch, n * 5 / 100);
    let spread = hi - lo;
    // A drop must clear both the noise and a quarter of the series' spread: GC drops
    // are large against the series, noise drops are not.
    let threshold = (8.0 * noise).max(0.25 * spread);
    if threshold <= 0.0 {
        return Vec::new();
    }
    let mut drops = Vec::new();
    for i in 0..diffs.len() {
        let d = diffs[i];
        if d < -threshold {
            // The return from an upward spike is not a collection.
            let rise_before = if i > 0 { diffs[i - 1] } else { 0.0 };
            if rise_before > 0.5 * (-d) {
                continue;
            }
            drops.push(i);
        }
    }
    drops
}

/// Reduces a post-warm-up series to robust points (see the module notes).
pub fn robust_points(t: &[f64], y: &[f64]) -> (Vec<Point>, PointMethod) {
    let drops = sharp_drops(y);
    if drops.len() >= MIN_CYCLES && is_regular(&drops, y.len()) {
        let mut troughs = Vec::with_capacity(drops.len());
        for (k, &d) in drops.iter().enumerate() {
            let start = d + 1;
            let end = drops.get(k + 1).map(|&e| e + 1).unwrap_or(y.len());
            if let Some((i, v)) = y[start..end]
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
            {
                troughs.push(Point {
                    t: t[start + i],
                    y: *v,
                });
            }
        }
        let cycles = troughs.len();
        if troughs.len() > MAX_TROUGHS {
            let tt: Vec<f64> = troughs.iter().map(|p| p.t).collect();
            let ty: Vec<f64> = troughs.iter().map(|p| p.y).collect();
            troughs = block_points(&tt, &ty, MAX_TROUGHS / 2);
        }
        return (troughs, PointMethod::Troughs { cycles });
    }
    // Short series get blocks of fewer samples (down to one) rather than too few points.
    let blocks = TARGET_BLOCKS.min(t.len());
    let points = block_points(t, y, blocks);
    let blocks = points.len();
    (points, PointMethod::Blocks { blocks })
}

/// Drops spread over the whole series (not bunched in one burst) make a sawtooth.
fn is_regular(drops: &[usize], n: usize) -> bool {
    let (Some(first), Some(last)) = (drops.first(), drops.last()) else {
        return false;
    };
    // Cycles must cover most of the series; a burst of drops in one corner is an event.
    let covered = (last - first) as f64 / n as f64;
    if covered < 0.6 {
        return false;
    }
    let gaps: Vec<f64> = drops.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let max_gap = gaps.iter().cloned().fold(0.0, f64::max);
    // No gap may be much longer than the mean, or part of the series has no cycles.
    max_gap < 4.0 * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iqm_ignores_spikes() {
        let mut v = vec![10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 1000.0, -1000.0];
        assert_eq!(interquartile_mean(&mut v), 10.0);
    }

    #[test]
    fn blocks_cover_series() {
        let t: Vec<f64> = (0..300).map(|i| i as f64).collect();
        let y: Vec<f64> = t.iter().map(|x| 2.0 * x).collect();
        let p = block_points(&t, &y, 30);
        assert_eq!(p.len(), 30);
        assert!((p[0].t - 4.5).abs() < 1e-9);
        assert!((p[29].y - 2.0 * 294.5).abs() < 1.0);
    }

    #[test]
    fn sawtooth_gives_troughs() {
        let t: Vec<f64> = (0..600).map(|i| i as f64).collect();
        // 20-sample cycles rising 50 each, floor rising 0.1 per sample.
        let y: Vec<f64> = t
            .iter()
            .map(|&x| 1000.0 + 0.1 * x + 2.5 * (x % 20.0))
            .collect();
        let (p, m) = robust_points(&t, &y);
        assert!(
            matches!(m, PointMethod::Troughs { cycles } if cycles >= 28),
            "{m:?}"
        );
        for w in p.windows(2) {
            assert!((w[1].y - w[0].y - 2.0).abs() < 1e-6);
        }
    }

    #[test]
    fn spikes_are_not_sawtooth() {
        let t: Vec<f64> = (0..600).map(|i| i as f64).collect();
        let y: Vec<f64> = t
            .iter()
            .map(|&x| {
                if (x as usize).is_multiple_of(37) {
                    500.0
                } else {
                    100.0
                }
            })
            .collect();
        let (_, m) = robust_points(&t, &y);
        assert!(matches!(m, PointMethod::Blocks { .. }), "{m:?}");
    }
}
