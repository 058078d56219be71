//! Trend estimators over robust points: Theil–Sen with Sen's interval (widened for
//! autocorrelation), the plain OLS slope users know, and the warm-up-plus-line model.
//!
//! All slopes here are in the metric's unit per second; callers convert to per hour.

use super::points::Point;
use serde::Serialize;

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

/// The linear part of a warm-up-plus-line model `y = a + b·e^(−(t−t0)/τ) + c·(t−t0)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct WarmupModel {
    /// Linear rate `c`, unit per second.
    #[serde(deserialize_with = "super::nullable_f64")]
    pub rate: f64,
    /// Lower end of its 90% interval.
    #[serde(deserialize_with = "super::nullable_f64")]
    pub low: f64,
    /// Upper end of its 90% interval.
    #[serde(deserialize_with = "super::nullable_f64")]
    pub high: f64,
    /// The fitted time constant τ, seconds.
    #[serde(deserialize_with = "super::nullable_f64")]
    pub tau_s: f64,
    /// Amplitude `b` (negative: the level rises towards a plateau).
    #[serde(deserialize_with = "super::nullable_f64")]
    pub amplitude: f64,
    /// Whether the model beats a plain line by BIC by a clear margin (ΔBIC ≥ 6).
    pub preferred: bool,
    /// Whether the fit is plausible (τ inside the span, no term moving the level more than
    /// twice the data's range). An implausible fit is never reported or used to pass.
    #[serde(default = "yes")]
    pub plausible: bool,
}

fn yes() -> bool {
    true
}

/// A warm-up fit whose line or curve alone moves the level by more than this many times
/// the data's range over the span is rejected as implausible.
const IMPLAUSIBLE_FACTOR: f64 = 2.0;

/// Fits the warm-up-plus-line model over a grid of τ and compares it with a line.
/// `None` when there are too few points; `plausible` is false when τ is not inside the
/// span or a term moves the level far beyond the data's range.
pub fn warmup_model(points: &[Point], variance_inflation: f64) -> Option<WarmupModel> {
    let n = points.len();
    if n < 8 {
        return None;
    }
    let t0 = points[0].t;
    let span = points[n - 1].t - t0;
    if span <= 0.0 {
        return None;
    }
    let line = least_squares(points, |p| [1.0, p.t - t0, 0.0], 2)?;
    let mut best: Option<(f64, LsFit)> = None;
    for k in 0..24 {
        let tau = span * 0.02 * (1.25f64).powi(k);
        let fit = least_squares(points, |p| [1.0, p.t - t0, (-(p.t - t0) / tau).exp()], 3);
        if let Some(fit) = fit {
            if best.as_ref().map(|(_, b)| fit.rss < b.rss).unwrap_or(true) {
                best = Some((tau, fit));
            }
        }
    }
    let (coarse, _) = best.as_ref()?;
    let coarse = *coarse;
    // Refine τ between the coarse grid's neighbours.
    for k in -10..=10 {
        let tau = coarse * (1.25f64).powf(k as f64 / 10.0);
        let fit = least_squares(points, |p| [1.0, p.t - t0, (-(p.t - t0) / tau).exp()], 3);
        if let Some(fit) = fit {
            if best.as_ref().map(|(_, b)| fit.rss < b.rss).unwrap_or(true) {
                best = Some((tau, fit));
            }
        }
    }
    let (tau, fit) = best?;
    // A fit whose line or curve alone would move the level far more than the data ever
    // moved is two nearly collinear terms cancelling each other (τ comparable to the
    // span), not a warm-up: reject it rather than report its rate (a Node plateau gave
    // "-596 MB/h (90% interval -1172 to -19.2)" for data that moved 30 MB).
    let (lo_y, hi_y) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.y), b.max(p.y))
        });
    let range = hi_y - lo_y;
    let line_moves = fit.coef[1].abs() * span;
    let curve_moves = fit.coef[2].abs() * (1.0 - (-span / tau).exp());
    let plausible = tau < span
        && line_moves <= IMPLAUSIBLE_FACTOR * range
        && curve_moves <= IMPLAUSIBLE_FACTOR * range;
    let nf = n as f64;
    let bic = |rss: f64, k: f64| nf * (rss.max(1e-300) / nf).ln() + k * nf.ln();
    let preferred = bic(fit.rss, 4.0) + 6.0 <= bic(line.rss, 2.0);
    let se = fit.se[1] * variance_inflation.sqrt();
    let t = student_t_95(n.saturating_sub(4).max(1));
    Some(WarmupModel {
        rate: fit.coef[1],
        low: fit.coef[1] - t * se,
        high: fit.coef[1] + t * se,
        tau_s: tau,
        amplitude: fit.coef[2],
        preferred,
        plausible,
    })
}

/// A level shift inside a line, `y = a + c·(t−t0) + h·[t ≥ at]`: the best split by least
/// squares, compared with the plain line by BIC.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct StepFit {
    /// Index of the first point after the shift.
    pub split: usize,
    /// Where the level shifts (midway between the points either side), seconds.
    pub at_s: f64,
    /// The shift `h`, in the metric's unit (positive: a step up).
    pub height: f64,
    /// Whether the step beats a plain line by BIC by a clear margin (ΔBIC ≥ 6).
    pub preferred: bool,
}

/// Fits a line with one level shift at the best split (at least two points on each
/// side) and compares it with the plain line, counting the split as a parameter.
pub fn step_model(points: &[Point]) -> Option<StepFit> {
    let n = points.len();
    if n < 6 {
        return None;
    }
    let t0 = points[0].t;
    let line = least_squares(points, |p| [1.0, p.t - t0, 0.0], 2)?;
    let mut best: Option<(usize, LsFit)> = None;
    for k in 2..=n - 2 {
        let at = points[k].t;
        if at <= points[k - 1].t {
            continue;
        }
        let step = |p: &Point| if p.t >= at { 1.0 } else { 0.0 };
        if let Some(fit) = least_squares(points, |p| [1.0, p.t - t0, step(p)], 3) {
            if best.as_ref().map(|(_, b)| fit.rss < b.rss).unwrap_or(true) {
                best = Some((k, fit));
            }
        }
    }
    let (k, fit) = best?;
    let nf = n as f64;
    let bic = |rss: f64, k: f64| nf * (rss.max(1e-300) / nf).ln() + k * nf.ln();
    Some(StepFit {
        split: k,
        at_s: (points[k - 1].t + points[k].t) / 2.0,
        height: fit.coef[2],
        preferred: bic(fit.rss, 4.0) + 6.0 <= bic(line.rss, 2.0),
    })
}

struct LsFit {
    coef: [f64; 3],
    se: [f64; 3],
    rss: f64,
}

/// Least squares with up to three regressors by the normal equations (points are few
/// and well-scaled after centring on t0, so this is stable enough).
fn least_squares(points: &[Point], row: impl Fn(&Point) -> [f64; 3], k: usize) -> Option<LsFit> {
    let mut xtx = [[0.0f64; 3]; 3];
    let mut xty = [0.0f64; 3];
    for p in points {
        let x = row(p);
        for i in 0..k {
            xty[i] += x[i] * p.y;
            for j in 0..k {
                xtx[i][j] += x[i] * x[j];
            }
        }
    }
    let inv = invert(&xtx, k)?;
    let mut coef = [0.0; 3];
    for i in 0..k {
        coef[i] = (0..k).map(|j| inv[i][j] * xty[j]).sum();
    }
    let rss: f64 = points
        .iter()
        .map(|p| {
            let x = row(p);
            let fit: f64 = (0..k).map(|i| coef[i] * x[i]).sum();
            (p.y - fit).powi(2)
        })
        .sum();
    let dof = points.len().saturating_sub(k).max(1) as f64;
    let s2 = rss / dof;
    let mut se = [0.0; 3];
    for i in 0..k {
        se[i] = (s2 * inv[i][i]).max(0.0).sqrt();
    }
    Some(LsFit { coef, se, rss })
}

fn invert(m: &[[f64; 3]; 3], k: usize) -> Option<[[f64; 3]; 3]> {
    // Gauss–Jordan on a k×k leading block.
    let mut a = *m;
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate().take(k) {
        row[i] = 1.0;
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 * (1.0 + a[col][col].abs()) {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..k {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for r in 0..k {
            if r != col {
                let f = a[r][col];
                for j in 0..k {
                    a[r][j] -= f * a[col][j];
                    inv[r][j] -= f * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// One-sided 95% quantile of Student's t (two-sided 90%) with `dof` degrees of freedom
/// (0 is read as 1): exact, by inverting the distribution function.
pub fn student_t_95(dof: usize) -> f64 {
    student_t_quantile(0.95, dof.max(1) as f64)
}

/// The `p`-quantile of Student's t with `dof` degrees of freedom, for 0.5 ≤ p < 1:
/// bisection on the distribution function `1 − I_x(ν/2, 1/2)/2` (x = ν/(ν+t²)), then
/// Newton steps on the density, so the result is good to about 1e-12.
pub fn student_t_quantile(p: f64, dof: f64) -> f64 {
    if !(p.is_finite() && dof.is_finite() && dof > 0.0) || p < 0.5 {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let cdf = |t: f64| 1.0 - 0.5 * regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t));
    // Bracket: at dof ≥ 1 the quantile is at most Cauchy's, tan(π(p − ½)); widen for
    // smaller dof.
    let (mut lo, mut hi) = (0.0, (std::f64::consts::PI * (p - 0.5)).tan().max(1.0));
    while cdf(hi) < p && hi < 1e300 {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    let mut t = 0.5 * (lo + hi);
    let ln_norm =
        ln_gamma((dof + 1.0) / 2.0) - ln_gamma(dof / 2.0) - 0.5 * (dof * std::f64::consts::PI).ln();
    for _ in 0..3 {
        let density = (ln_norm - (dof + 1.0) / 2.0 * (1.0 + t * t / dof).ln()).exp();
        let step = (cdf(t) - p) / density;
        if !step.is_finite() {
            break;
        }
        t -= step;
    }
    t
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: relative error below 1e-14).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction
/// (modified Lentz), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where that
/// converges faster.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
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

    #[test]
    fn warmup_model_finds_plateau() {
        let pts: Vec<Point> = (0..30)
            .map(|i| {
                let t = i as f64 * 20.0;
                Point {
                    t,
                    y: 300.0 - 100.0 * (-t / 120.0).exp() + ((i * 7919) % 13) as f64 * 0.1,
                }
            })
            .collect();
        let m = warmup_model(&pts, 1.0).unwrap();
        assert!(m.preferred);
        assert!(m.rate.abs() < 0.01, "{m:?}");
        assert!(m.amplitude < 0.0);
    }

    #[test]
    fn student_t_quantiles_match_published_values() {
        // One-sided 95% points, from mpmath at 30 digits (betainc + findroot); R's
        // qt(0.95, df) gives the same.
        for (dof, want) in [
            (1, 6.313_751_514_675_043),
            (2, 2.919_985_580_353_726),
            (5, 2.015_048_373_333_024),
            (30, 1.697_260_886_593_958),
            (31, 1.695_518_782_545_866),
            (60, 1.670_648_864_904_637),
            (120, 1.657_650_899_355_236),
            (1000, 1.646_378_817_285_465),
        ] {
            let got = student_t_95(dof);
            assert!((got - want).abs() < 1e-9, "dof {dof}: {got} vs {want}");
        }
        assert_eq!(student_t_95(0), student_t_95(1));
        // Other levels: the 0.975 point at 10 dof and the 0.995 point at 3 dof.
        assert!((student_t_quantile(0.975, 10.0) - 2.228_138_851_986_275).abs() < 1e-9);
        assert!((student_t_quantile(0.995, 3.0) - 5.840_909_309_733_357).abs() < 1e-9);
        // Large dof approaches the normal quantile.
        assert!((student_t_95(1_000_000) - Z_ONE_SIDED_5).abs() < 1e-5);
    }

    #[test]
    fn warmup_model_rejects_cancelling_terms() {
        // A curve and a line that cancel (τ twice the span): the data moves ~15 units,
        // the line alone would move 54 over the span. Such a fit is not reported.
        let pts: Vec<Point> = (0..30)
            .map(|i| {
                let t = i as f64 * 18.0;
                let wiggle = ((i * 7919) % 13) as f64 * 0.05;
                Point {
                    t,
                    y: 500.0 + 100.0 * (-t / 1000.0).exp() + 0.1 * t + wiggle,
                }
            })
            .collect();
        assert!(!warmup_model(&pts, 1.0).unwrap().plausible);
    }

    #[test]
    fn step_model_finds_a_level_shift_and_not_in_a_line() {
        let noise = |i: usize| ((i * 7919) % 13) as f64 * 0.1;
        let stepped: Vec<Point> = (0..30)
            .map(|i| Point {
                t: i as f64 * 6.0,
                y: 100.0 + if i >= 20 { 20.0 } else { 0.0 } + noise(i),
            })
            .collect();
        let s = step_model(&stepped).unwrap();
        assert!(s.preferred, "{s:?}");
        assert!((s.height - 20.0).abs() < 1.0, "{s:?}");
        assert!((s.at_s - 117.0).abs() < 1e-9, "{s:?}");
        let line: Vec<Point> = (0..30)
            .map(|i| Point {
                t: i as f64 * 6.0,
                y: 100.0 + i as f64 + noise(i),
            })
            .collect();
        assert!(!step_model(&line).unwrap().preferred);
        assert_eq!(step_model(&line[..5]), None);
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
