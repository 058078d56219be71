//! The live view of a run: the verdict metric's trend so far (on a bounded, decimated
//! copy of the series), `/metrics` gauges and the progress text.

use crate::analysis::Verdict;
use crate::config::RunConfig;
use crate::sample::Sample;

/// A bounded, evenly decimated copy of the verdict metric for the live trend (progress
/// bar, status lines, `/metrics`): at most [`LiveSeries::CAP`] samples, halved (every
/// other kept, stride doubled) whenever full. The run's memory stays flat however long
/// it is; the final report is computed from every row of the timeline on disk.
pub(super) struct LiveSeries {
    t: Vec<f64>,
    y: Vec<f64>,
    stride: u64,
    seen: u64,
}

impl LiveSeries {
    const CAP: usize = 2048;

    pub(super) fn new() -> Self {
        // Touch the whole buffer now, so soak's RSS does not creep up as it fills.
        let touched = || {
            let mut v = vec![0.0f64; Self::CAP];
            v.clear();
            v
        };
        LiveSeries {
            t: touched(),
            y: touched(),
            stride: 1,
            seen: 0,
        }
    }

    pub(super) fn push(&mut self, t: f64, y: f64) {
        if self.seen.is_multiple_of(self.stride) {
            if self.t.len() == Self::CAP {
                let keep = |v: &mut Vec<f64>| {
                    let mut i = 0;
                    v.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                };
                keep(&mut self.t);
                keep(&mut self.y);
                self.stride *= 2;
            }
            if self.seen.is_multiple_of(self.stride) {
                self.t.push(t);
                self.y.push(y);
            }
        }
        self.seen += 1;
    }
}

/// The verdict metric's trend so far (approximate: on the decimated live series).
pub(super) fn trend_so_far(live: &LiveSeries, cfg: &RunConfig) -> crate::analysis::SeriesAnalysis {
    crate::analysis::analyze_series(
        &cfg.metric,
        &live.t,
        &live.y,
        &crate::analysis::SeriesOptions {
            warmup_s: cfg.warmup.map(|w| w.as_secs_f64()),
            max_rate_per_hour: cfg.limits.max_growth_rate.map(|r| r.bytes_per_hour),
            max_total_growth: cfg.limits.max_total_growth.map(|b| b as f64),
        },
    )
}

/// "RSS 12.3 MB · 5.1 MB/h [3.2 … 7.0] · FAIL so far" for the progress bar and status lines.
pub(super) fn progress_text(
    cfg: &RunConfig,
    s: &Sample,
    a: Option<&crate::analysis::SeriesAnalysis>,
) -> String {
    use crate::analysis::verdict::fmt_rate;
    let unit = crate::analysis::Unit::of_column(&cfg.metric);
    let mut t = format!("rss {}", crate::units::Bytes(s.rss_bytes as f64));
    if let Some(a) = a {
        match (
            a.slope_per_hour,
            a.slope_low_per_hour,
            a.slope_high_per_hour,
        ) {
            (Some(x), Some(lo), Some(hi)) => {
                let _ = std::fmt::Write::write_fmt(
                    &mut t,
                    format_args!(
                        ", {} slope {} [{} … {}]",
                        cfg.metric,
                        fmt_rate(unit, x),
                        fmt_rate(unit, lo),
                        fmt_rate(unit, hi)
                    ),
                );
            }
            _ => t.push_str(", slope: not yet (warm-up)"),
        }
        let so_far = Verdict::combine(a.checks().map(|c| c.verdict));
        let _ = std::fmt::Write::write_fmt(&mut t, format_args!(", {so_far} so far"));
    }
    t
}

#[cfg(test)]
mod live_tests {
    use super::LiveSeries;

    #[test]
    fn live_series_stays_bounded_and_even() {
        let mut l = LiveSeries::new();
        for i in 0..100_000u64 {
            l.push(i as f64, 2.0 * i as f64);
        }
        assert!(l.t.len() <= LiveSeries::CAP && l.t.len() > LiveSeries::CAP / 2);
        let gaps: Vec<f64> = l.t.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g == gaps[0]), "evenly spaced");
        assert_eq!(l.t[0], 0.0);
        assert!(*l.t.last().unwrap() > 90_000.0, "covers the whole run");
    }
}
