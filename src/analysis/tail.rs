//! The tail test: the last third of the analysed span fitted on its own, so a leak that
//! starts late is not averaged away by a flat beginning, with a step model so that one
//! level shift in the tail is not taken for a late-onset slope.

use super::{points, trend, verdict};
use serde::Serialize;

/// Deserializes a number that JSON may hold as `null`: serde_json writes NaN and ±∞ as
/// `null`, and an unbounded interval end is ±∞.
pub fn nullable_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
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

/// How many time constants after the start of the analysed span a warm-up curve counts
/// as settled for `settled_fit`: after 2τ it has done 86% of its rise. (3τ, 95%, leaves
/// too little of a 10-minute run to fit: measured, it lost one more synthetic late onset.)
pub const SETTLED_AFTER_TAU: f64 = 2.0;

/// The line over the samples after a warm-up curve of time constant `tau_s` has settled
/// (from the first sample + [`SETTLED_AFTER_TAU`]·τ), reduced and fitted as the whole run
/// is. `None` when that leaves less than half the analysed samples or too few points.
pub(super) fn settled_fit(t: &[f64], y: &[f64], tau_s: f64) -> Option<TailFit> {
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
pub(super) fn tail_fit(t: &[f64], y: &[f64]) -> Option<TailFit> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{ci_series, opts};
    use super::super::{analyze_series, Reason, Verdict};
    use crate::sample::Col;

    #[test]
    fn one_step_in_the_last_third_is_not_a_late_onset_leak() {
        // A V8 heap resize or a cache block: +20 MB once, anywhere in the last third.
        for seed in 0..10 {
            for at in [430.0, 480.0, 505.0, 510.0, 515.0, 530.0, 570.0] {
                let (t, y) = ci_series(seed, |x| if x >= at { 20e6 } else { 0.0 });
                let a = analyze_series(Col::Rss.name(), &t, &y, &opts(10.0));
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
                let a = analyze_series(Col::Rss.name(), &t, &y, &opts(10.0));
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
            let a = analyze_series(Col::Rss.name(), &t, &y, &opts(10.0));
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
}
