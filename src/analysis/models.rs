//! Models the line is compared with: a warm-up curve plus a line (ΔBIC decides which
//! explains a series better) and a line plus one level shift, fitted by least squares.

use super::points::Point;
use super::trend::student_t_95;
use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
