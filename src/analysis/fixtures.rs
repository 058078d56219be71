//! Synthetic series the analysis tests share: a seeded noisy line and the options most
//! tests judge it with.

use super::SeriesOptions;

/// `n` samples one second apart: 200 MB plus `slope_per_s` growth and ±2 MB of uniform
/// noise from a seeded LCG, so every test run sees the same numbers.
pub(super) fn noisy(n: usize, slope_per_s: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut s = seed;
    let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let y = t
        .iter()
        .map(|x| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            200e6 + slope_per_s * x + (u - 0.5) * 4e6
        })
        .collect();
    (t, y)
}

/// A 60 s warm-up and a growth-rate limit of `limit_mb_h` MB/h.
pub(super) fn opts(limit_mb_h: f64) -> SeriesOptions {
    SeriesOptions {
        warmup_s: Some(60.0),
        max_rate_per_hour: Some(limit_mb_h * 1e6),
        max_total_growth: None,
    }
}

/// CI defaults: 10 minutes at 1 s, 10 MB/h, ±2 MB of noise.
pub(super) fn ci_series(seed: u64, level: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
    let (t, noise) = noisy(600, 0.0, seed);
    let y = t.iter().zip(&noise).map(|(x, n)| n + level(*x)).collect();
    (t, y)
}
