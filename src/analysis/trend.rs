//! Trend estimators over robust points: Theil–Sen with Sen's interval (widened for
//! autocorrelation), the plain OLS slope users know, and the warm-up-plus-line model.
//!
//! All slopes here are in the metric's unit per second; callers convert to per hour.

use super::points::Point;
use serde::Serialize;

pub use super::models::{step_model, warmup_model, StepFit, WarmupModel};
pub use super::student_t::{student_t_95, student_t_quantile};

/// One-sided 5% on each side: the interval is a 90% two-sided one.
pub const Z_ONE_SIDED_5: f64 = 1.6448536269514722;

/// A robust slope with its distribution-free interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct SlopeFit {
    /// Theil–Sen slope (median of pairwise slopes), unit per second.
    pub slope: f64,
    /// Lower end of Sen's interval, unit per second.
    pub low: f64,
    /// Upper end of Sen's interval, unit per second.
    pub high: f64,
    /// Intercept at t = 0 (median of `y - slope * t`).
    pub intercept: f64,
    /// Lag-1 correlation of the residual ranks.
    pub lag1_rank_correlation: f64,
    /// Factor the variance of Kendall's S was multiplied by (1 = no autocorrelation).
    pub variance_inflation: f64,
    /// Points the fit used.
    pub points: usize,
}

impl SlopeFit {
    /// Half the interval's width, unit per second.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }
}

/// The median of the pairwise slopes (sorted in place); `None` with fewer than three.
fn median_slope(slopes: &mut [f64]) -> Option<f64> {
    if slopes.len() < 3 {
        return None;
    }
    slopes.sort_by(f64::total_cmp);
    let n = slopes.len();
    Some(if n % 2 == 1 {
        slopes[n / 2]
    } else {
        (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0
    })
}

/// Theil–Sen slope with Sen's interval at one-sided 5% per side, widened by the
/// Hamed–Rao factor (AR(1) form from the lag-1 correlation of the residual ranks) when
/// that correlation is significantly positive. `None` for fewer than 3 distinct times.
pub fn theil_sen(points: &[Point]) -> Option<SlopeFit> {
    let pts: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.t.is_finite() && p.y.is_finite())
        .collect();
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in (i + 1)..n {
            let dt = pts[j].t - pts[i].t;
            if dt.abs() > 0.0 {
                slopes.push((pts[j].y - pts[i].y) / dt);
            }
        }
    }
    let slope = median_slope(&mut slopes)?;
    let mut offsets: Vec<f64> = pts.iter().map(|p| p.y - slope * p.t).collect();
    let intercept = super::points::median(&mut offsets);

    let residuals: Vec<f64> = pts
        .iter()
        .map(|p| p.y - (intercept + slope * p.t))
        .collect();
    let rho = lag1_rank_correlation(&residuals);
    let nf = n as f64;
    let inflation = if rho > Z_ONE_SIDED_5 / nf.sqrt() {
        hamed_rao_ar1(n, rho)
    } else {
        1.0
    };
    let var_s = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0 * inflation;
    let (low, high) = sen_bounds(&slopes, var_s);
    Some(SlopeFit {
        slope,
        low: low.min(slope),
        high: high.max(slope),
        intercept,
        lag1_rank_correlation: rho,
        variance_inflation: inflation,
        points: n,
    })
}

/// Sen's interval from the sorted pairwise slopes and the variance of Kendall's S.
fn sen_bounds(slopes: &[f64], var_s: f64) -> (f64, f64) {
    let big_n = slopes.len();
    let c = Z_ONE_SIDED_5 * var_s.sqrt();
    let m1 = (big_n as f64 - c) / 2.0;
    let m2 = (big_n as f64 + c) / 2.0;
    // Sen: the lower limit is the M1-th smallest slope, the upper the (M2+1)-th (1-based).
    let lo_idx = (m1.floor() as isize - 1).clamp(0, big_n as isize - 1) as usize;
    let hi_idx = (m2.ceil() as isize).clamp(0, big_n as isize - 1) as usize;
    // An interval that runs off the ends of the slope list is unbounded on that side.
    let low = if m1 < 1.0 {
        f64::NEG_INFINITY
    } else {
        slopes[lo_idx]
    };
    let high = if m2 + 1.0 > big_n as f64 {
        f64::INFINITY
    } else {
        slopes[hi_idx]
    };
    (low, high)
}

/// Theil–Sen over segments that share one slope but not one level (Hirsch's seasonal
/// Kendall estimator with the segments as seasons): the median of the pairwise slopes
/// *within* each segment, and Sen's interval from the summed variances of the segments'
/// Kendall S, widened for autocorrelation as [`theil_sen`] does. A level shift between
/// segments does not enter the slope at all. `None` with fewer than 3 pairwise slopes.
pub fn theil_sen_within(segments: &[&[Point]]) -> Option<SlopeFit> {
    let segs: Vec<Vec<Point>> = segments
        .iter()
        .map(|s| {
            s.iter()
                .copied()
                .filter(|p| p.t.is_finite() && p.y.is_finite())
                .collect()
        })
        .collect();
    let mut slopes = Vec::new();
    let mut var_s = 0.0;
    for seg in &segs {
        for i in 0..seg.len() {
            for j in (i + 1)..seg.len() {
                let dt = seg[j].t - seg[i].t;
                if dt.abs() > 0.0 {
                    slopes.push((seg[j].y - seg[i].y) / dt);
                }
            }
        }
        let m = seg.len() as f64;
        var_s += m * (m - 1.0) * (2.0 * m + 5.0) / 18.0;
    }
    let slope = median_slope(&mut slopes)?;
    let mut residuals = Vec::new();
    let mut intercept = f64::NAN;
    for seg in segs.iter().filter(|s| !s.is_empty()) {
        let mut offsets: Vec<f64> = seg.iter().map(|p| p.y - slope * p.t).collect();
        let level = super::points::median(&mut offsets);
        if intercept.is_nan() {
            intercept = level;
        }
        residuals.extend(seg.iter().map(|p| p.y - (level + slope * p.t)));
    }
    let n = residuals.len();
    let rho = lag1_rank_correlation(&residuals);
    let inflation = if rho > Z_ONE_SIDED_5 / (n as f64).sqrt() {
        hamed_rao_ar1(n, rho)
    } else {
        1.0
    };
    let (low, high) = sen_bounds(&slopes, var_s * inflation);
    Some(SlopeFit {
        slope,
        low: low.min(slope),
        high: high.max(slope),
        intercept,
        lag1_rank_correlation: rho,
        variance_inflation: inflation,
        points: n,
    })
}

/// Lag-1 autocorrelation of the ranks of `x` (in time order).
pub fn lag1_rank_correlation(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 4 {
        return 0.0;
    }
    // Values closer than a billionth of the spread are ties (average rank): float noise,
    // e.g. from adding a large constant, must not reorder them and change the answer.
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let eps = (hi - lo).abs() * 1e-9;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && x[idx[end]] - x[idx[end - 1]] <= eps {
            end += 1;
        }
        let avg = (start + end - 1) as f64 / 2.0;
        for &i in &idx[start..end] {
            ranks[i] = avg;
        }
        start = end;
    }
    let mean = ranks.iter().sum::<f64>() / n as f64;
    let den: f64 = ranks.iter().map(|r| (r - mean).powi(2)).sum();
    if den <= 0.0 {
        return 0.0;
    }
    let num: f64 = ranks
        .windows(2)
        .map(|w| (w[0] - mean) * (w[1] - mean))
        .sum();
    num / den
}

/// Hamed & Rao (1998) variance correction with ρ_k = ρ^k (an AR(1) model of the ranks).
fn hamed_rao_ar1(n: usize, rho: f64) -> f64 {
    let nf = n as f64;
    let mut sum = 0.0;
    let mut rk = 1.0;
    for k in 1..n {
        rk *= rho;
        if rk.abs() < 1e-6 {
            break;
        }
        let kf = k as f64;
        sum += (nf - kf) * (nf - kf - 1.0) * (nf - kf - 2.0) * rk;
    }
    (1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum).max(1.0)
}

/// The ordinary least-squares slope (unit per second) over raw samples, through the
/// `linreg` crate: shown beside the robust figure because users know it, never used to
/// decide.
pub fn ols_slope(t: &[f64], y: &[f64]) -> Option<f64> {
    if t.len() < 2 || t.len() != y.len() {
        return None;
    }
    let (slope, _): (f64, f64) = linreg::linear_regression(t, y).ok()?;
    slope.is_finite().then_some(slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(n: usize, a: f64, b: f64) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                t: i as f64 * 10.0,
                y: a + b * i as f64 * 10.0,
            })
            .collect()
    }

    #[test]
    fn exact_line() {
        let f = theil_sen(&line(30, 100.0, 2.5)).unwrap();
        assert!((f.slope - 2.5).abs() < 1e-12);
        assert!((f.intercept - 100.0).abs() < 1e-9);
        assert!(f.low <= 2.5 && f.high >= 2.5);
    }

    #[test]
    fn ols_matches_line() {
        let t: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let y: Vec<f64> = t.iter().map(|x| 3.0 * x + 1.0).collect();
        assert!((ols_slope(&t, &y).unwrap() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn too_few_points() {
        assert!(theil_sen(&line(2, 0.0, 1.0)).is_none());
        let same_t = vec![Point { t: 1.0, y: 1.0 }; 10];
        assert!(theil_sen(&same_t).is_none());
    }

    proptest! {
        #[test]
        fn noiseless_slope_recovered(a in -1e9f64..1e9, b in -1e4f64..1e4, n in 3usize..80) {
            let f = theil_sen(&line(n, a, b)).unwrap();
            prop_assert!((f.slope - b).abs() <= 1e-6 * (1.0 + b.abs()));
        }

        #[test]
        fn constant_offset_changes_nothing(c in -1e9f64..1e9, ys in proptest::collection::vec(0f64..1e6, 5..60)) {
            let p: Vec<Point> = ys.iter().enumerate().map(|(i, &y)| Point { t: i as f64, y }).collect();
            let q: Vec<Point> = p.iter().map(|p| Point { t: p.t, y: p.y + c }).collect();
            let (a, b) = (theil_sen(&p).unwrap(), theil_sen(&q).unwrap());
            let tol = 1e-6 * (1.0 + c.abs());
            prop_assert!((a.slope - b.slope).abs() <= tol);
            prop_assert!((a.low - b.low).abs() <= tol || (a.low.is_infinite() && b.low.is_infinite()));
        }

        #[test]
        fn one_segment_is_plain_theil_sen(ys in proptest::collection::vec(0f64..1e6, 5..60)) {
            let p: Vec<Point> = ys.iter().enumerate().map(|(i, &y)| Point { t: i as f64, y }).collect();
            prop_assert_eq!(theil_sen_within(&[&p]), theil_sen(&p));
        }

        #[test]
        fn never_panics(ys in proptest::collection::vec(prop_oneof![Just(f64::NAN), Just(f64::INFINITY), -1e12f64..1e12], 0..50)) {
            let p: Vec<Point> = ys.iter().enumerate().map(|(i, &y)| Point { t: (i / 2) as f64, y }).collect();
            let _ = theil_sen(&p);
            let _ = warmup_model(&p, 1.0);
            let _ = step_model(&p);
        }
    }
}
