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

/// The run's warm-up in seconds: the one given, or the default for the run's duration —
/// what the verdict at the deadline will use, so the live trend ignores the same samples.
pub(super) fn run_warmup_s(cfg: &RunConfig) -> f64 {
    cfg.warmup
        .map(|w| w.as_secs_f64())
        .unwrap_or_else(|| crate::analysis::default_warmup_s(cfg.duration.as_secs_f64()))
}

/// The verdict metric's trend so far (approximate: on the decimated live series).
pub(super) fn trend_so_far(live: &LiveSeries, cfg: &RunConfig) -> crate::analysis::SeriesAnalysis {
    crate::analysis::analyze_series(
        &cfg.metric,
        &live.t,
        &live.y,
        &crate::analysis::SeriesOptions {
            warmup_s: Some(run_warmup_s(cfg)),
            max_rate_per_hour: cfg.limits.max_growth_rate.map(|r| r.bytes_per_hour),
            max_total_growth: cfg.limits.max_total_growth.map(|b| b as f64),
        },
    )
}

/// "FAIL so far · rss 12.3 MB · rss_bytes 5.1 MB/h [3.2, 7.0]" for the progress bar and
/// status lines; "warming up (judging from 30s) · rss 12.3 MB" before the warm-up ends,
/// when no verdict is formed yet. The state comes first: a narrow terminal cuts the end.
pub(super) fn progress_text(
    cfg: &RunConfig,
    elapsed: f64,
    s: &Sample,
    a: Option<&crate::analysis::SeriesAnalysis>,
    colour: bool,
) -> String {
    let level = format!("rss {}", crate::units::Bytes(s.rss_bytes as f64));
    let warmup = run_warmup_s(cfg);
    if elapsed < warmup {
        return format!(
            "warming up (judging from {}) · {level}",
            crate::units::Secs(warmup)
        );
    }
    let trend = a.and_then(|a| {
        Some((
            a,
            a.slope_per_hour?,
            a.slope_low_per_hour?,
            a.slope_high_per_hour?,
        ))
    });
    let Some((a, x, lo, hi)) = trend else {
        return format!("collecting points for a trend · {level}");
    };
    let unit = crate::analysis::Unit::of_column(&cfg.metric);
    let so_far = Verdict::combine(a.checks().map(|c| c.verdict));
    format!(
        "{} so far · {level} · {} {}",
        crate::console::paint(&so_far.to_string(), colour),
        cfg.metric,
        crate::units::fmt_rate_interval(unit, x, lo, hi)
    )
}

/// The progress bar's template: soak draws the line itself ([`progress_line`]), since
/// indicatif 0.17 cuts a long `{wide_msg}` by bytes, not columns (a `·` or an escape code
/// and the line overflows), and a `{wide_bar}` beside a long message collapses to `[]`.
pub(super) const BAR_TEMPLATE: &str = "{msg}";

/// The progress bar's line for a terminal `width` columns wide: the time run, a bar a
/// quarter of the width (10 to 40 columns), the time left and `text`, cut to fit. The
/// last column stays free: writing it makes some terminals wrap.
pub(super) fn progress_line(width: u16, elapsed: f64, duration: f64, text: &str) -> String {
    let bar_w = (usize::from(width) / 4).clamp(10, 40);
    let done = if duration > 0.0 {
        (elapsed / duration).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let filled = (done * bar_w as f64).floor() as usize;
    let bar = if filled >= bar_w {
        "=".repeat(bar_w)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(bar_w - filled - 1))
    };
    let s = elapsed.max(0.0) as u64;
    let line = format!(
        "{:02}:{:02}:{:02} [{bar}] {} left · {text}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        crate::units::Secs((duration - elapsed).max(0.0).ceil())
    );
    ::console::truncate_str(&line, usize::from(width).saturating_sub(1), "…").into_owned()
}

#[cfg(test)]
mod live_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn cfg(args: &[&str]) -> RunConfig {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            ["soak"].iter().chain(args).chain(&["--", "true"]).copied(),
        )
        .unwrap();
        cli.run.into_config(chrono::Utc::now()).unwrap()
    }

    /// A terminal `width` columns wide that keeps what indicatif draws.
    #[derive(Debug)]
    struct Term {
        width: u16,
        drawn: Arc<Mutex<Vec<String>>>,
    }

    impl indicatif::TermLike for Term {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.drawn.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The line indicatif draws at `width` columns for a run half done with `text`.
    fn drawn_at(width: u16, text: &str) -> String {
        let drawn = Arc::new(Mutex::new(Vec::new()));
        let target = indicatif::ProgressDrawTarget::term_like(Box::new(Term {
            width,
            drawn: drawn.clone(),
        }));
        let bar = indicatif::ProgressBar::with_draw_target(Some(600), target);
        bar.set_style(indicatif::ProgressStyle::with_template(BAR_TEMPLATE).unwrap());
        bar.set_message(progress_line(width, 300.0, 600.0, text));
        bar.abandon();
        let lines = drawn.lock().unwrap();
        lines
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default()
    }

    /// A trend that FAILs a 60 MB/h limit, for the progress text.
    fn failing_trend(c: &RunConfig) -> crate::analysis::SeriesAnalysis {
        let mut live = LiveSeries::new();
        for i in 0..300 {
            live.push(f64::from(i), 200e6 + f64::from(i) * 1e5);
        }
        trend_so_far(&live, c)
    }

    #[test]
    fn the_bar_fits_80_columns_and_keeps_a_bar() {
        let c = cfg(&["--duration", "10m", "--max-growth-rate", "60MB/h"]);
        let s = Sample {
            rss_bytes: 219_700_000,
            ..Sample::default()
        };
        let a = failing_trend(&c);
        for colour in [false, true] {
            let text = progress_text(&c, 299.0, &s, Some(&a), colour);
            assert!(
                ::console::strip_ansi_codes(&text).starts_with("FAIL so far · rss 219.7 MB"),
                "{text}"
            );
            for width in [40u16, 60, 80, 120, 200] {
                let line = drawn_at(width, &text);
                let shown = ::console::measure_text_width(&line);
                assert!(shown < usize::from(width), "{shown} ≥ {width}: {line:?}");
                assert!(line.starts_with("00:05:00 ["), "{line:?}");
                let inner = line
                    .split_once('[')
                    .and_then(|(_, r)| r.split_once(']'))
                    .map(|(bar, _)| bar.chars().count())
                    .unwrap_or(0);
                assert!(inner >= 10, "the bar collapsed at {width}: {line:?}");
                if width >= 60 {
                    assert!(
                        line.contains("FAIL"),
                        "the verdict is kept at {width}: {line:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_warm_up_says_warming_up_not_a_verdict() {
        let c = cfg(&["--duration", "10m", "--warmup", "1m"]);
        let s = Sample::default();
        let a = failing_trend(&c);
        let text = progress_text(&c, 30.0, &s, Some(&a), false);
        assert!(text.starts_with("warming up (judging from 60s)"), "{text}");
        assert!(!text.contains("so far"), "{text}");
        // After the warm-up, before a trend: no verdict either.
        let text = progress_text(&c, 61.0, &s, None, false);
        assert!(text.starts_with("collecting points"), "{text}");
        // The default warm-up is the run's (60 s for 10 minutes), not the samples' so far.
        let c = cfg(&["--duration", "10m"]);
        assert_eq!(run_warmup_s(&c), 60.0);
        assert!(progress_text(&c, 45.0, &s, None, false).starts_with("warming up"));
    }

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
