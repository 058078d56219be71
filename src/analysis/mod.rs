//! The verdict engine: pure functions from a series of `(elapsed seconds, value)` to a
//! verdict with its evidence. Nothing here does I/O, so `soak analyze`, a live run and
//! the in-process API all decide the same way.
//!
//! The method (see DESIGN.md and the README's "What the verdict means"):
//! 1. drop the warm-up; 2. reduce samples to robust points ([`points`]);
//! 3. Theil–Sen slope with Sen's interval, widened for autocorrelation ([`trend`]);
//! 4. a three-way call against the limit, refined by a tail test on the last third and a
//!    warm-up-plus-line model ([`verdict`]); 5. total growth and peak;
//! 6. the smallest rate the run could have detected.

pub mod points;
pub mod trend;
pub mod verdict;

use points::{Point, PointMethod};
use serde::Serialize;
use trend::{SlopeFit, WarmupModel};
pub use verdict::{Check, Reason, Verdict};

/// Deserializes a number that JSON may hold as `null`: serde_json writes NaN and ±∞ as
/// `null`, and an unbounded interval end is ±∞.
pub fn nullable_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The unit a metric's values are in, so figures are displayed sensibly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes (shown in decimal MB).
    Bytes,
    /// A count (threads, descriptors, processes).
    Count,
    /// Seconds (CPU time).
    Seconds,
}

impl Unit {
    /// The unit a metric column is in, from its name.
    pub fn of_column(column: &str) -> Unit {
        if column.ends_with("_bytes") || matches!(column, "rss" | "anon" | "heap" | "pss") {
            Unit::Bytes
        } else if column.ends_with("_s") {
            Unit::Seconds
        } else {
            Unit::Count
        }
    }
}

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

/// The tail test's fit over the last third of the analysed span.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct TailFit {
    /// Where the tail starts, seconds.
    #[serde(deserialize_with = "nullable_f64")]
    pub from_s: f64,
    /// Theil–Sen slope per hour over the tail.
    #[serde(deserialize_with = "nullable_f64")]
    pub slope_per_hour: f64,
    /// Lower end of its 90% interval, per hour.
    #[serde(deserialize_with = "nullable_f64")]
    pub low_per_hour: f64,
    /// Upper end of its 90% interval, per hour.
    #[serde(deserialize_with = "nullable_f64")]
    pub high_per_hour: f64,
    /// A level shift up inside the tail that a line-plus-step model explains clearly
    /// better than a line, with the tail's slope once the shift is taken out. A late-onset
    /// leak needs that slope above the limit too: one step is not a slope.
    #[serde(default)]
    pub step: Option<TailStep>,
}

/// A step up found in the tail, and the tail's trend without it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct TailStep {
    /// Where the level shifts, seconds.
    #[serde(deserialize_with = "nullable_f64")]
    pub at_s: f64,
    /// The shift, in the metric's unit.
    #[serde(deserialize_with = "nullable_f64")]
    pub height: f64,
    /// Theil–Sen slope per hour within the levels before and after the shift.
    #[serde(deserialize_with = "nullable_f64")]
    pub slope_per_hour: f64,
    /// Lower end of its 90% interval, per hour.
    #[serde(deserialize_with = "nullable_f64")]
    pub low_per_hour: f64,
    /// Upper end of its 90% interval, per hour.
    #[serde(deserialize_with = "nullable_f64")]
    pub high_per_hour: f64,
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
    /// has done most of its rise (see [`SETTLED_AFTER_TAU`]); its `step` is always `None`.
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

/// How many time constants after the start of the analysed span a warm-up curve counts
/// as settled for [`settled_fit`]: after 2τ it has done 86% of its rise. (3τ, 95%, leaves
/// too little of a 10-minute run to fit: measured, it lost one more synthetic late onset.)
pub const SETTLED_AFTER_TAU: f64 = 2.0;

/// The line over the samples after a warm-up curve of time constant `tau_s` has settled
/// (from the first sample + [`SETTLED_AFTER_TAU`]·τ), reduced and fitted as the whole run
/// is. `None` when that leaves less than half the analysed samples or too few points.
fn settled_fit(t: &[f64], y: &[f64], tau_s: f64) -> Option<TailFit> {
    let from_s = t.first()? + SETTLED_AFTER_TAU * tau_s;
    if !from_s.is_finite() {
        return None;
    }
    let i = t.partition_point(|&x| x < from_s);
    if 2 * (t.len() - i) < t.len() {
        return None;
    }
    let (pts, _) = points::robust_points(&t[i..], &y[i..]);
    if pts.len() < verdict::MIN_POINTS {
        return None;
    }
    let f = trend::theil_sen(&pts)?;
    Some(TailFit {
        from_s,
        slope_per_hour: f.slope * 3600.0,
        low_per_hour: f.low * 3600.0,
        high_per_hour: f.high * 3600.0,
        step: None,
    })
}

/// The last third of the analysed span, reduced and fitted on its own.
fn tail_fit(t: &[f64], y: &[f64]) -> Option<TailFit> {
    let n = t.len();
    if n < 2 {
        return None;
    }
    let from_s = t[0] + (t[n - 1] - t[0]) * 2.0 / 3.0;
    let i = t.partition_point(|&x| x < from_s);
    let (pts, _) = points::robust_points(&t[i..], &y[i..]);
    if pts.len() < verdict::MIN_POINTS {
        return None;
    }
    let f = trend::theil_sen(&pts)?;
    // The tail gets the protection against steps the whole run has from the tail test:
    // when a line plus one step up explains the tail clearly better than a line (ΔBIC),
    // the tail's growth is the slope within the two levels (the step's own rise left
    // out, and the two points either side of it, which may straddle it).
    let step = trend::step_model(&pts)
        .filter(|s| s.preferred && s.height > 0.0)
        .and_then(|s| {
            let k = s.split;
            let g = trend::theil_sen_within(&[&pts[..k - 1], &pts[k + 1..]])?;
            Some(TailStep {
                at_s: s.at_s,
                height: s.height,
                slope_per_hour: g.slope * 3600.0,
                low_per_hour: g.low * 3600.0,
                high_per_hour: g.high * 3600.0,
            })
        });
    Some(TailFit {
        from_s,
        slope_per_hour: f.slope * 3600.0,
        low_per_hour: f.low * 3600.0,
        high_per_hour: f.high * 3600.0,
        step,
    })
}

impl SeriesAnalysis {
    fn finish_checks(&mut self, opts: &SeriesOptions, fit: Option<&SlopeFit>) {
        if let Some(limit) = opts.max_rate_per_hour {
            let check = verdict::rate_check(self, fit, limit);
            if check.verdict == Verdict::Inconclusive {
                self.decide_after_s = self.estimate_decide_after(limit);
            }
            self.rate_check = Some(check);
        }
        if let Some(limit) = opts.max_total_growth {
            self.total_check = Some(verdict::total_check(self, limit));
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
    use super::*;

    fn noisy(n: usize, slope_per_s: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
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

    fn opts(limit_mb_h: f64) -> SeriesOptions {
        SeriesOptions {
            warmup_s: Some(60.0),
            max_rate_per_hour: Some(limit_mb_h * 1e6),
            max_total_growth: None,
        }
    }

    #[test]
    fn flat_passes_and_leak_fails() {
        let (t, y) = noisy(600, 0.0, 1);
        let a = analyze_series("rss_bytes", &t, &y, &opts(60.0));
        assert_eq!(
            a.rate_check.as_ref().unwrap().verdict,
            Verdict::Pass,
            "{a:?}"
        );
        let (t, y) = noisy(600, 180e6 / 3600.0, 2);
        let a = analyze_series("rss_bytes", &t, &y, &opts(60.0));
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
            let a = analyze_series("rss_bytes", &t, &y, &opts(1.0));
            assert!(a.rate_check.is_some());
        }
        let a = analyze_series("rss_bytes", &[0.0], &[1.0], &opts(1.0));
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
            let a = analyze_series("rss_bytes", &t, &with(lo), &opts(60.0));
            let b = analyze_series("rss_bytes", &t, &with(hi), &opts(60.0));
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
            let a = analyze_series("rss_bytes", &t, &ys, &SeriesOptions {
                warmup_s: None,
                max_rate_per_hour: Some(1e6),
                max_total_growth: Some(1e6),
            });
            proptest::prop_assert!(a.rate_check.is_some() && a.total_check.is_some());
        }
    }

    #[test]
    fn thread_and_fd_limits_gate_their_columns() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let threads: Vec<f64> = t.iter().map(|x| 4.0 + (x / 60.0).floor()).collect(); // 60/h
        let cols = vec![
            ("rss_bytes".to_string(), vec![50e6; 600]),
            ("threads".to_string(), threads),
            ("fds".to_string(), vec![9.0; 600]),
        ];
        let e = evaluate(
            &t,
            &cols,
            &EvaluateOptions {
                metric: "rss_bytes".into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits {
                    max_growth_rate: Some(crate::units::Rate::per_hour(1e6)),
                    max_thread_growth_per_hour: Some(10.0),
                    max_fd_growth_per_hour: Some(10.0),
                    ..Default::default()
                },
            },
        );
        let get = |m: &str| e.checks.iter().find(|c| c.metric == m).unwrap();
        assert_eq!(
            get("threads").verdict,
            Verdict::Fail,
            "{}",
            get("threads").explanation
        );
        assert_eq!(get("fds").verdict, Verdict::Pass);
        assert_eq!(get("rss_bytes").verdict, Verdict::Pass);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(e.reason, Some(Reason::Leak));
        assert!(
            get("threads").explanation.contains("threads grows"),
            "{}",
            get("threads").explanation
        );
    }

    #[test]
    fn rss_growing_with_a_flat_heap_is_named_retention() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let (_, noise) = noisy(600, 0.0, 9);
        let growing: Vec<f64> = t
            .iter()
            .zip(&noise)
            .map(|(x, n)| n + x * 100e6 / 3600.0)
            .collect();
        let flat: Vec<f64> = noise.iter().map(|n| n - 150e6).collect();
        let notes = |rss: &[f64], heap: &[f64]| {
            let cols = vec![
                ("rss_bytes".to_string(), rss.to_vec()),
                ("heap_bytes".to_string(), heap.to_vec()),
            ];
            let opts = EvaluateOptions {
                metric: "heap_bytes".into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits::default(),
            };
            evaluate(&t, &cols, &opts).notes
        };
        let n = notes(&growing, &flat);
        assert!(n.iter().any(|n| n.contains("retention")), "{n:?}");
        let n = notes(&growing, &growing);
        assert!(
            n.iter().any(|n| n.contains("live objects accumulate")),
            "{n:?}"
        );
        assert!(notes(&flat, &flat).is_empty());

        // A runtime's heap, when one was read, is the heap that counts: a JVM whose
        // after-GC heap grows is not "retention" because its (malloc) heap_bytes is flat.
        let with = |extra: Vec<(String, Vec<f64>)>| {
            let mut cols = vec![
                ("rss_bytes".to_string(), growing.clone()),
                ("heap_bytes".to_string(), flat.clone()),
            ];
            cols.extend(extra);
            let opts = EvaluateOptions {
                metric: "rss_bytes".into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits::default(),
            };
            evaluate(&t, &cols, &opts).notes
        };
        let n = with(vec![(
            "runtime_heap_after_gc_bytes".into(),
            growing.clone(),
        )]);
        assert!(
            n.iter()
                .any(|n| n.contains("runtime's heap after collections grows")),
            "{n:?}"
        );
        assert!(!n.iter().any(|n| n.contains("retention")), "{n:?}");
    }

    /// CI defaults: 10 minutes at 1 s, 10 MB/h, ±2 MB of noise.
    fn ci_series(seed: u64, level: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let (t, noise) = noisy(600, 0.0, seed);
        let y = t.iter().zip(&noise).map(|(x, n)| n + level(*x)).collect();
        (t, y)
    }

    #[test]
    fn one_step_in_the_last_third_is_not_a_late_onset_leak() {
        // A V8 heap resize or a cache block: +20 MB once, anywhere in the last third.
        for seed in 0..10 {
            for at in [430.0, 480.0, 505.0, 510.0, 515.0, 530.0, 570.0] {
                let (t, y) = ci_series(seed, |x| if x >= at { 20e6 } else { 0.0 });
                let a = analyze_series("rss_bytes", &t, &y, &opts(10.0));
                let c = a.rate_check.as_ref().unwrap();
                assert_ne!(
                    c.verdict,
                    Verdict::Fail,
                    "step at {at}, seed {seed}: {}",
                    c.explanation
                );
                assert_ne!(c.reason, Reason::LateOnsetLeak);
            }
        }
    }

    #[test]
    fn a_step_followed_by_growth_above_the_limit_fails() {
        // The step, then a leak of 200 MB/h (20 × the limit) from the step on.
        for seed in 0..10 {
            for at in [430.0, 460.0] {
                let (t, y) = ci_series(seed, |x| {
                    if x >= at {
                        20e6 + (x - at) * 200e6 / 3600.0
                    } else {
                        0.0
                    }
                });
                let a = analyze_series("rss_bytes", &t, &y, &opts(10.0));
                let c = a.rate_check.as_ref().unwrap();
                assert_eq!(
                    c.verdict,
                    Verdict::Fail,
                    "step at {at}, seed {seed}: {}",
                    c.explanation
                );
                let step = a.tail.and_then(|t| t.step);
                assert!(
                    step.is_some_and(|s| (s.height / 20e6 - 1.0).abs() < 0.3),
                    "{a:?}"
                );
            }
        }
    }

    #[test]
    fn a_late_onset_after_a_warm_up_is_still_caught() {
        // A 9 MB warm-up (τ 90 s), then a leak of 3–10× the limit from 380–500 s on: the
        // step test in the tail must not excuse these as level shifts. Measured: 1 of 120
        // not FAIL before it (a warm-up PASS), 2 of 120 with it (a 100 MB/h onset 100 s
        // before the end, read as a 1.6 MB step: INCONCLUSIVE). Goal: missed FAIL ≤ 2%.
        let mut missed = Vec::new();
        for seed in 0..120 {
            let rate = [30e6, 50e6, 100e6][(seed % 3) as usize];
            let on = [380.0, 420.0, 460.0, 500.0][(seed / 3 % 4) as usize];
            let (t, y) = ci_series(seed, |x| {
                -9e6 * (-x / 90.0).exp() + (x - on).max(0.0) * rate / 3600.0
            });
            let a = analyze_series("rss_bytes", &t, &y, &opts(10.0));
            let c = a.rate_check.as_ref().unwrap();
            if c.verdict != Verdict::Fail {
                missed.push(format!(
                    "{} MB/h from {on} s, seed {seed}: {}",
                    rate / 1e6,
                    c.explanation
                ));
            }
        }
        assert!(missed.len() <= 2, "{missed:#?}");
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
            let a = analyze_series("rss_bytes", &t, &y, &opts(10.0));
            let c = a.rate_check.as_ref().unwrap();
            failed += usize::from(c.verdict == Verdict::Fail);
            if c.explanation.contains("no growth beyond it") {
                assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.explanation);
            }
        }
        assert!(failed <= 14, "{failed} of 40 FAIL");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// A leak of five times the limit under a warm-up (white or wandering noise) is
        /// never excused as warm-up alone: growth beyond the curve shows in its fits.
        #[test]
        fn a_leak_under_a_warm_up_is_never_warm_up_alone(
            seed in 0u64..10_000,
            amp in 2e6f64..12e6,
            tau in 40f64..130.0,
            wander in proptest::bool::ANY,
        ) {
            let rate = 50e6 / 3600.0;
            let (t, y) = if wander {
                wander_warmup(seed, amp, tau, rate)
            } else {
                let (t, n) = noisy(600, rate, seed);
                let y = t.iter().zip(&n).map(|(x, v)| v - amp * (-x / tau).exp()).collect();
                (t, y)
            };
            let a = analyze_series("rss_bytes", &t, &y, &opts(10.0));
            let c = a.rate_check.unwrap();
            proptest::prop_assert!(!c.explanation.contains("no growth beyond it"), "{}", c.explanation);
        }
    }

    #[test]
    fn constant_series_passes() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let a = analyze_series("rss_bytes", &t, &vec![5e6; 600], &opts(1.0));
        assert_eq!(a.rate_check.unwrap().verdict, Verdict::Pass);
    }
}

/// Limits and settings for judging a whole timeline (the verdict metric and the others).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluateOptions {
    /// The verdict metric's column.
    pub metric: String,
    /// Warm-up, seconds; `None` = default.
    pub warmup_s: Option<f64>,
    /// The limits.
    pub limits: crate::config::Limits,
}

/// The judgement of a whole timeline.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Overall verdict: the worst check.
    pub verdict: Verdict,
    /// The deciding check's reason.
    pub reason: Option<Reason>,
    /// The deciding check's explanation.
    pub explanation: String,
    /// Every check, in a stable order.
    pub checks: Vec<Check>,
    /// Every analysed column, the verdict metric first.
    pub metrics: Vec<SeriesAnalysis>,
    /// Average CPU over the run, % of one core.
    pub cpu_average_percent: Option<f64>,
    /// Observations across metrics (e.g. RSS grows while the heap is flat).
    pub notes: Vec<String>,
}

/// Columns never fitted: cumulative CPU (a counter, not a level) and the time columns.
const NOT_LEVELS: [&str; 3] = ["cpu_s", "elapsed_s", "timestamp"];

/// Judges a timeline: the verdict metric against the memory limits, descriptors and
/// threads against theirs, CPU against its limit, and a trend for every other column.
pub fn evaluate(
    elapsed_s: &[f64],
    columns: &[(String, Vec<f64>)],
    opts: &EvaluateOptions,
) -> Evaluation {
    let l = &opts.limits;
    let mut metrics = Vec::new();
    let mut checks = Vec::new();
    let empty: Vec<f64> = Vec::new();
    let metric_values = columns
        .iter()
        .find(|(n, _)| *n == opts.metric)
        .map(|(_, v)| v)
        .unwrap_or(&empty);
    let main = analyze_series(
        &opts.metric,
        elapsed_s,
        metric_values,
        &SeriesOptions {
            warmup_s: opts.warmup_s,
            max_rate_per_hour: l.max_growth_rate.map(|r| r.bytes_per_hour),
            max_total_growth: l.max_total_growth.map(|b| b as f64),
        },
    );
    checks.extend(main.checks().cloned());
    if let Some(p) = l.max_peak {
        checks.push(verdict::peak_check(&main, p as f64));
    }
    // Every series is cut at the same warm-up as the verdict metric.
    let warmup_s = Some(main.warmup_s);
    metrics.push(main);
    for (name, values) in columns {
        if *name == opts.metric || NOT_LEVELS.contains(&name.as_str()) {
            continue;
        }
        if values.iter().all(|v| !v.is_finite()) {
            continue;
        }
        let limit = match name.as_str() {
            "fds" => l.max_fd_growth_per_hour,
            "threads" => l.max_thread_growth_per_hour,
            _ => None,
        };
        let a = analyze_series(
            name,
            elapsed_s,
            values,
            &SeriesOptions {
                warmup_s,
                max_rate_per_hour: limit,
                max_total_growth: None,
            },
        );
        checks.extend(a.checks().cloned());
        metrics.push(a);
    }
    let cpu_average_percent = columns
        .iter()
        .find(|(n, _)| n == "cpu_s")
        .and_then(|(_, v)| average_cpu_percent(elapsed_s, v));
    if let Some(limit) = l.max_cpu_percent {
        checks.push(verdict::cpu_check(cpu_average_percent, limit));
    }
    let verdict = Verdict::combine(checks.iter().map(|c| c.verdict));
    let deciding = checks
        .iter()
        .find(|c| c.verdict == verdict)
        .or_else(|| checks.first());
    let notes = heap_vs_rss(&metrics).into_iter().collect();
    Evaluation {
        verdict,
        reason: deciding.map(|c| c.reason),
        explanation: deciding
            .map(|c| c.explanation.clone())
            .unwrap_or_else(|| "no limits were given → PASS".into()),
        checks,
        metrics,
        cpu_average_percent,
        notes,
    }
}

/// Compares the heap's trend with RSS's when both were measured, and names the case
/// where RSS grows but the live heap does not: memory the allocator keeps (retention,
/// fragmentation), not live objects that leak.
pub fn heap_vs_rss(metrics: &[SeriesAnalysis]) -> Option<String> {
    let find = |m: &str| {
        metrics
            .iter()
            .find(|a| a.metric == m && a.slope_per_hour.is_some())
    };
    let rss = find("rss_bytes")?;
    // The heap that holds the program's objects: a runtime's own when one was read (the
    // JVM's and V8's heaps do not come from malloc, so a flat heap_bytes says nothing
    // about them), else malloc's.
    let (heap, what) = if let Some(h) = find("runtime_heap_after_gc_bytes") {
        (h, "the runtime's heap after collections")
    } else if let Some(h) = find("runtime_heap_bytes") {
        (h, "the runtime's heap")
    } else {
        (find("heap_bytes")?, "the heap")
    };
    let (hs, hl, hh) = (
        heap.slope_per_hour?,
        heap.slope_low_per_hour?,
        heap.slope_high_per_hour?,
    );
    let (rs, rl) = (rss.slope_per_hour?, rss.slope_low_per_hour?);
    let mb = |v: f64| format!("{:.2} MB/h", v / 1e6);
    if rl > 0.0 && hl <= 0.0 && hh < rl {
        Some(format!(
            "RSS grows {} while {what} is flat ({}, 90% interval {} to {}): memory the allocator keeps (retention or fragmentation), not a leak of live objects",
            mb(rs),
            mb(hs),
            mb(hl),
            mb(hh)
        ))
    } else if hl > 0.0 && rl > 0.0 {
        Some(format!(
            "{what} grows {} and RSS {}: live objects accumulate",
            mb(hs),
            mb(rs)
        ))
    } else {
        None
    }
}

/// Average CPU in % of one core from a cumulative CPU-seconds column.
pub fn average_cpu_percent(t: &[f64], cpu: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = t
        .iter()
        .zip(cpu)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let (first, last) = (pairs.first()?, pairs.last()?);
    let dt = last.0 - first.0;
    (dt > 0.0).then(|| ((last.1 - first.1) / dt * 100.0).max(0.0))
}
