//! One series judged on its own: drop the warm-up, reduce to robust points, fit the
//! Theil–Sen trend with its interval, run the tail test and the warm-up model, measure
//! total growth and peak, and check the growth-rate and total-growth limits.

use super::points::{self, Point, PointMethod};
use super::rules::growth_rate::rate_check;
use super::rules::total_growth::total_check;
use super::tail::{settled_fit, tail_fit, TailFit};
use super::trend::{self, SlopeFit, WarmupModel};
use super::verdict::{self, Check, Verdict};
use crate::units::Unit;
use serde::Serialize;

/// Limits and settings for analysing one series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesOptions {
    /// Warm-up to drop, seconds from the first sample; `None` = [`default_warmup_s`].
    pub warmup_s: Option<f64>,
    /// Growth-rate limit in the metric's unit per hour.
    pub max_rate_per_hour: Option<f64>,
    /// Total-growth limit in the metric's unit.
    pub max_total_growth: Option<f64>,
}

/// Everything the engine found about one series; the report renders this.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SeriesAnalysis {
    /// Column analysed (e.g. `rss_bytes`).
    pub metric: String,
    /// Unit of the values.
    pub unit: Unit,
    /// Samples with a value.
    pub samples: usize,
    /// Samples after the warm-up.
    pub samples_after_warmup: usize,
    /// Warm-up dropped, seconds.
    pub warmup_s: f64,
    /// Seconds between the first and last sample.
    pub span_s: f64,
    /// How the robust points were formed.
    pub point_method: Option<PointMethod>,
    /// The robust points the trend was fitted to.
    pub points: Vec<Point>,
    /// Theil–Sen slope per hour (the robust figure).
    pub slope_per_hour: Option<f64>,
    /// Its 90% interval (one-sided 5% each side), per hour.
    pub slope_low_per_hour: Option<f64>,
    /// Upper end of the interval, per hour.
    pub slope_high_per_hour: Option<f64>,
    /// Lag-1 correlation of the residual ranks.
    pub lag1_rank_correlation: Option<f64>,
    /// Variance inflation applied for autocorrelation (1 = none).
    pub variance_inflation: Option<f64>,
    /// Intercept of the robust line (value at t = 0).
    pub intercept: Option<f64>,
    /// Ordinary least-squares slope per hour over all raw samples (not used to decide).
    pub ols_slope_per_hour: Option<f64>,
    /// The tail test's fit.
    pub tail: Option<TailFit>,
    /// Warm-up-plus-line model: its linear rate per hour and whether it was preferred.
    pub warmup_model: Option<WarmupModel>,
    /// When a warm-up curve is preferred: the line fitted to the samples after the curve
    /// has done most of its rise (see `SETTLED_AFTER_TAU`); its `step` is always `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<TailFit>,
    /// A rising curve beat the line clearly (ΔBIC ≥ 6) but no plausible warm-up fit
    /// explains the data: the line's interval alone does not fail the run.
    #[serde(default)]
    pub line_disfavoured: bool,
    /// Level just after the warm-up (median of the first tenth of points).
    pub start_level: Option<f64>,
    /// Level at the end (median of the last tenth of points).
    pub end_level: Option<f64>,
    /// `end_level - start_level`.
    pub total_growth: Option<f64>,
    /// Highest raw sample, warm-up included.
    pub peak: Option<f64>,
    /// Lowest raw sample, warm-up included.
    pub minimum: Option<f64>,
    /// Last raw sample.
    pub last: Option<f64>,
    /// Growth rate (per hour) this run would have detected as growth with ~95%
    /// probability: twice the interval's half-width.
    pub min_detectable_rate_per_hour: Option<f64>,
    /// When the minimum detectable rate is the data's resolution rather than its noise
    /// (a noiseless series): the smallest step between two of its values (one unit when
    /// all are equal), which over the analysed span gives that rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_detectable_step: Option<f64>,
    /// For an undecided rate: how long a run (seconds, in total) would likely decide it,
    /// assuming the same slope and white-noise scaling (half-width ∝ span^-1.5).
    pub decide_after_s: Option<f64>,
    /// The growth-rate check, when a rate limit was given.
    pub rate_check: Option<Check>,
    /// The total-growth check, when a total limit was given.
    pub total_check: Option<Check>,
}

impl SeriesAnalysis {
    /// The checks this series produced (rate, total), in that order.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.rate_check.iter().chain(self.total_check.iter())
    }
}

/// Default warm-up: max(30 s, 10% of the run), but never more than half the run, so a
/// short run (a smoke test, an interrupted soak) still has something to judge.
pub fn default_warmup_s(span_s: f64) -> f64 {
    (0.1 * span_s).max(30.0).min(0.5 * span_s)
}

/// Analyses one series. `t` and `y` are parallel; non-finite values are skipped, and
/// times must be non-decreasing (readers sort or reject unsorted input first).
pub fn analyze_series(metric: &str, t: &[f64], y: &[f64], opts: &SeriesOptions) -> SeriesAnalysis {
    let unit = Unit::of_column(metric);
    let (t, y): (Vec<f64>, Vec<f64>) = t
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let n = t.len();
    let span_s = if n > 0 { t[n - 1] - t[0] } else { 0.0 };
    let warmup_s = opts
        .warmup_s
        .unwrap_or_else(|| default_warmup_s(span_s))
        .max(0.0);
    let mut out = SeriesAnalysis {
        metric: metric.to_string(),
        unit,
        samples: n,
        samples_after_warmup: 0,
        warmup_s,
        span_s,
        point_method: None,
        points: Vec::new(),
        slope_per_hour: None,
        slope_low_per_hour: None,
        slope_high_per_hour: None,
        lag1_rank_correlation: None,
        variance_inflation: None,
        intercept: None,
        ols_slope_per_hour: None,
        tail: None,
        warmup_model: None,
        settled: None,
        line_disfavoured: false,
        start_level: None,
        end_level: None,
        total_growth: None,
        peak: y.iter().cloned().reduce(f64::max),
        minimum: y.iter().cloned().reduce(f64::min),
        last: y.last().copied(),
        min_detectable_rate_per_hour: None,
        min_detectable_step: None,
        decide_after_s: None,
        rate_check: None,
        total_check: None,
    };
    if n == 0 {
        out.finish_checks(opts, None);
        return out;
    }
    let cut = t[0] + warmup_s;
    let start = t.partition_point(|&x| x < cut);
    let (tw, yw) = (&t[start..], &y[start..]);
    out.samples_after_warmup = tw.len();
    out.ols_slope_per_hour = trend::ols_slope(tw, yw).map(|s| s * 3600.0);

    let (pts, method) = points::robust_points(tw, yw);
    out.point_method = (!pts.is_empty()).then_some(method);
    let fit = if pts.len() >= verdict::MIN_POINTS {
        trend::theil_sen(&pts)
    } else {
        None
    };
    if let Some(f) = &fit {
        out.slope_per_hour = Some(f.slope * 3600.0);
        out.slope_low_per_hour = Some(f.low * 3600.0);
        out.slope_high_per_hour = Some(f.high * 3600.0);
        out.lag1_rank_correlation = Some(f.lag1_rank_correlation);
        out.variance_inflation = Some(f.variance_inflation);
        out.intercept = Some(f.intercept);
        let hw = f.half_width() * 3600.0;
        out.min_detectable_rate_per_hour = hw.is_finite().then_some(2.0 * hw);
        // A noiseless series has a zero-width interval: no rate is below what the data
        // can show, one step of its values over the analysed span.
        if let Some((step, rate)) = resolution_rate_per_hour(tw, yw) {
            if out.min_detectable_rate_per_hour.is_some_and(|d| d < rate) {
                out.min_detectable_rate_per_hour = Some(rate);
                out.min_detectable_step = Some(step);
            }
        }
        let warm = trend::warmup_model(&pts, f.variance_inflation);
        // An implausible warm-up fit is not reported; if it still beat the line clearly,
        // the line is a poor description of the data and its interval cannot fail the run.
        out.line_disfavoured =
            warm.is_some_and(|m| !m.plausible && m.preferred && m.amplitude < 0.0);
        out.warmup_model = warm.filter(|m| m.plausible).map(|m| WarmupModel {
            rate: m.rate * 3600.0,
            low: m.low * 3600.0,
            high: m.high * 3600.0,
            ..m
        });
        out.tail = tail_fit(tw, yw);
        out.settled = out
            .warmup_model
            .filter(|m| m.preferred && m.amplitude < 0.0)
            .and_then(|m| settled_fit(tw, yw, m.tau_s));
    }
    if !pts.is_empty() {
        let k = (pts.len() / 10).max(1);
        let mut first: Vec<f64> = pts[..k].iter().map(|p| p.y).collect();
        let mut last: Vec<f64> = pts[pts.len() - k..].iter().map(|p| p.y).collect();
        let (s, e) = (points::median(&mut first), points::median(&mut last));
        out.start_level = Some(s);
        out.end_level = Some(e);
        out.total_growth = Some(e - s);
    }
    out.points = pts;
    out.finish_checks(opts, fit.as_ref());
    out
}

/// The data's resolution as a rate: the smallest non-zero step between two of the values
/// (one unit when all are equal) over the span of `t`, per hour; with that step.
fn resolution_rate_per_hour(t: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let span = t.last()? - t.first()?;
    if span <= 0.0 {
        return None;
    }
    let mut v = y.to_vec();
    v.sort_by(f64::total_cmp);
    let step = v
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .reduce(f64::min)
        .unwrap_or(1.0);
    Some((step, step / span * 3600.0))
}

impl SeriesAnalysis {
    fn finish_checks(&mut self, opts: &SeriesOptions, fit: Option<&SlopeFit>) {
        if let Some(limit) = opts.max_rate_per_hour {
            let check = rate_check(self, fit, limit);
            if check.verdict == Verdict::Inconclusive {
                self.decide_after_s = self.estimate_decide_after(limit);
            }
            self.rate_check = Some(check);
        }
        if let Some(limit) = opts.max_total_growth {
            self.total_check = Some(total_check(self, limit));
        }
    }

    fn estimate_decide_after(&self, limit: f64) -> Option<f64> {
        let (s, lo, hi) = (
            self.slope_per_hour?,
            self.slope_low_per_hour?,
            self.slope_high_per_hour?,
        );
        let hw = (hi - lo) / 2.0;
        let gap = (s - limit).abs();
        let analysed = self.span_s - self.warmup_s;
        if !(hw.is_finite() && gap > 0.0 && analysed > 0.0) {
            return None;
        }
        let needed_analysed = analysed * (hw / gap).powf(2.0 / 3.0);
        let total = needed_analysed * self.span_s / analysed;
        (total.is_finite() && total < 1e9).then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{noisy, opts};
    use super::super::Reason;
    use super::*;
    use crate::sample::Col;

    #[test]
    fn flat_passes_and_leak_fails() {
        let (t, y) = noisy(600, 0.0, 1);
        let a = analyze_series(Col::Rss.name(), &t, &y, &opts(60.0));
        assert_eq!(
            a.rate_check.as_ref().unwrap().verdict,
            Verdict::Pass,
            "{a:?}"
        );
        let (t, y) = noisy(600, 180e6 / 3600.0, 2);
        let a = analyze_series(Col::Rss.name(), &t, &y, &opts(60.0));
        let c = a.rate_check.as_ref().unwrap();
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.explanation);
        assert!((a.slope_per_hour.unwrap() / 180e6 - 1.0).abs() < 0.1);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        for (t, y) in [
            (vec![], vec![]),
            (vec![0.0], vec![1.0]),
            (vec![0.0, 0.0, 0.0], vec![1.0, 2.0, 3.0]),
            (vec![0.0, 1.0, f64::NAN], vec![f64::NAN, 2.0, 3.0]),
            ((0..100).map(f64::from).collect(), vec![5.0; 100]),
        ] {
            let a = analyze_series(Col::Rss.name(), &t, &y, &opts(1.0));
            assert!(a.rate_check.is_some());
        }
        let a = analyze_series(Col::Rss.name(), &[0.0], &[1.0], &opts(1.0));
        assert_eq!(a.rate_check.unwrap().reason, Reason::RunTooShort);
    }

    fn rank(v: Verdict) -> u8 {
        match v {
            Verdict::Pass => 0,
            Verdict::Inconclusive => 1,
            Verdict::Fail => 2,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A faster leak never gets a milder verdict on the same noise.
        #[test]
        fn verdict_monotone_in_leak_rate(seed in 0u64..10_000, r1 in 0f64..200.0, r2 in 0f64..200.0) {
            let (lo, hi) = if r1 <= r2 { (r1, r2) } else { (r2, r1) };
            let (t, base) = noisy(600, 0.0, seed);
            let with = |r: f64| -> Vec<f64> {
                t.iter().zip(&base).map(|(x, y)| y + r * 1e6 / 3600.0 * x).collect()
            };
            let a = analyze_series(Col::Rss.name(), &t, &with(lo), &opts(60.0));
            let b = analyze_series(Col::Rss.name(), &t, &with(hi), &opts(60.0));
            let (va, vb) = (a.rate_check.unwrap().verdict, b.rate_check.unwrap().verdict);
            proptest::prop_assert!(rank(va) <= rank(vb), "{lo} MB/h → {va}, {hi} MB/h → {vb}");
        }

        /// NaN, infinities, repeated and out-of-order times: an answer, never a panic.
        #[test]
        fn arbitrary_input_never_panics(
            ys in proptest::collection::vec(proptest::prop_oneof![
                proptest::prelude::Just(f64::NAN),
                proptest::prelude::Just(f64::INFINITY),
                -1e12f64..1e12
            ], 0..400),
            step in proptest::prop_oneof![proptest::prelude::Just(0.0), 0.001f64..100.0],
        ) {
            let t: Vec<f64> = (0..ys.len()).map(|i| (i / 3) as f64 * step).collect();
            let a = analyze_series(Col::Rss.name(), &t, &ys, &SeriesOptions {
                warmup_s: None,
                max_rate_per_hour: Some(1e6),
                max_total_growth: Some(1e6),
            });
            proptest::prop_assert!(a.rate_check.is_some() && a.total_check.is_some());
        }
    }

    #[test]
    fn constant_series_passes() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let a = analyze_series(Col::Rss.name(), &t, &vec![5e6; 600], &opts(1.0));
        assert_eq!(a.rate_check.unwrap().verdict, Verdict::Pass);
    }

    /// A 10-minute run at 1 s whose level wanders like a V8 heap (AR(1), ρ 0.97, a few MB),
    /// rising by `amp` bytes with time constant `tau` from t = 0 towards a plateau, plus
    /// `rate` bytes/s of leak.
    fn wander_warmup(seed: u64, amp: f64, tau: f64, rate: f64) -> (Vec<f64>, Vec<f64>) {
        let (t, white) = noisy(600, 0.0, seed);
        let mut ar = 0.0;
        let y = t
            .iter()
            .zip(&white)
            .map(|(x, w)| {
                ar = 0.97 * ar + (w - 200e6) * 0.25;
                200e6 - amp * (-x / tau).exp() + ar + rate * x
            })
            .collect();
        (t, y)
    }

    #[test]
    fn a_warm_up_still_rising_after_the_cut_is_not_a_leak() {
        // A heap that keeps growing towards its plateau for minutes after the 60 s cut
        // (node-leak2mb-b.csv): the line through it is above the limit. Measured on these
        // 40 runs: 15 FAIL before the warm-up-alone rule, 14 with it (the one changed is
        // INCONCLUSIVE, not PASS). The rule is narrow on purpose: the others show growth
        // beyond the curve in one of the three fits, and undeciding those loses leaks.
        let mut failed = 0;
        for seed in 0..40 {
            let tau = [70.0, 90.0, 110.0, 130.0][(seed % 4) as usize];
            let (t, y) = wander_warmup(seed, 12e6, tau, 0.0);
            let a = analyze_series(Col::Rss.name(), &t, &y, &opts(10.0));
            let c = a.rate_check.as_ref().unwrap();
            failed += usize::from(c.verdict == Verdict::Fail);
            if c.explanation.contains("no growth beyond it") {
                assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.explanation);
            }
        }
        assert!(failed <= 14, "{failed} of 40 FAIL");
    }

    /// A leak of five times the limit under a warm-up is rarely excused as warm-up alone:
    /// growth beyond the curve shows in one of its fits. Measured on these 800 runs: under
    /// white noise never, under V8-like wandering noise 3 of 400 (those come out
    /// INCONCLUSIVE, not PASS). A property test of "never" found such a wandering case, so
    /// the rate is what is pinned.
    #[test]
    fn a_leak_under_a_warm_up_is_rarely_warm_up_alone() {
        for wander in [false, true] {
            let mut excused = 0;
            for seed in 0..400u64 {
                let amp = 2e6 + (seed % 11) as f64 * 1e6;
                let tau = 40.0 + (seed % 10) as f64 * 10.0;
                let rate = 50e6 / 3600.0;
                let (t, y) = if wander {
                    wander_warmup(seed, amp, tau, rate)
                } else {
                    let (t, n) = noisy(600, rate, seed);
                    let y = t
                        .iter()
                        .zip(&n)
                        .map(|(x, v)| v - amp * (-x / tau).exp())
                        .collect();
                    (t, y)
                };
                let a = analyze_series(Col::Rss.name(), &t, &y, &opts(10.0));
                let c = a.rate_check.unwrap();
                if c.explanation.contains("no growth beyond it") {
                    assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.explanation);
                    excused += 1;
                }
            }
            let allowed = if wander { 4 } else { 0 };
            assert!(
                excused <= allowed,
                "wander {wander}: {excused} of 400 excused"
            );
        }
    }
}
