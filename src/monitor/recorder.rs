//! The recorder: everything a tick does once the target was read. It fans each sample
//! out to the timeline on disk, the live trend, `/metrics` and the progress line.

use super::live::{progress_line, progress_text, trend_so_far, LiveSeries, BAR_TEMPLATE};
use super::metrics::LiveMetrics;
use super::session::End;
use super::ticker::Ticker;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::sample::Sample;
use crate::timeline::Extra;
use crate::timeline::TimelineWriter;
use std::sync::Arc;
use std::time::Instant;

/// Everything a tick does after the target was read: the timeline row, the live trend,
/// `/metrics`, the progress bar or status line, the periodic sync, the deadline.
pub(super) struct Recorder<'a> {
    /// The run's columns, for the `/metrics` gauges.
    columns: Vec<&'static crate::sample::Column>,
    /// The verdict metric's column, looked up once.
    metric: Option<&'static crate::sample::Column>,
    cfg: &'a RunConfig,
    writer: TimelineWriter,
    live: Option<Arc<LiveMetrics>>,
    live_series: LiveSeries,
    trend: Option<crate::analysis::SeriesAnalysis>,
    trend_every: f64,
    last_trend: f64,
    bar: Option<indicatif::ProgressBar>,
    /// Whether the bar and status lines colour the verdict so far.
    colour: bool,
    /// When the bar's text was last set (it is set twice a second, not at every tick).
    last_message: f64,
    status_every: f64,
    last_status: f64,
    last_index: Option<u64>,
    missed: u64,
    last_sync: Instant,
    started_at: String,
    start: Instant,
    ticker: Ticker,
}

/// What a finished recording hands to the report.
// Without `cli` only the in-process closure session is built; the CLI run reads the rest.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) struct Recorded {
    pub started_at: String,
    pub ended_at: String,
    pub elapsed_s: f64,
    pub taken: u64,
    pub missed: u64,
    pub sync_error: Option<std::io::Error>,
}

impl<'a> Recorder<'a> {
    /// Creates the timeline (with the container columns for a container) and prints the
    /// one start line naming `what` is monitored.
    pub(super) fn start(
        cfg: &'a RunConfig,
        extra: Extra,
        live: Option<(Arc<LiveMetrics>, std::net::SocketAddr)>,
        what: Option<&str>,
    ) -> Result<Recorder<'a>> {
        let dir = &cfg.out_dir;
        let started_at = now_rfc3339();
        let start = Instant::now();
        let writer = TimelineWriter::create_with(&dir.join("timeline.csv"), extra)
            .map_err(|e| Error::io("cannot create timeline", dir.join("timeline.csv"), e))?;
        let serving = live
            .as_ref()
            .map(|(_, a)| format!("; metrics at http://{a}/metrics"))
            .unwrap_or_default();
        // The target's argv and the run directory come from the user: a newline in them
        // must not start a line of its own (a CI runner reads `::error::` lines as commands).
        if let Some(what) = what {
            crate::console::err_line(&crate::report::markup::plain(&format!(
                "soak: monitoring {what} for {} every {} → {}{serving}",
                crate::units::Secs(cfg.duration.as_secs_f64()),
                crate::units::Secs(cfg.interval.as_secs_f64()),
                dir.display()
            )));
        }
        // A progress bar on a terminal; status lines (for CI logs) elsewhere.
        let bar = (!cfg.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let b = indicatif::ProgressBar::new((cfg.duration.as_secs_f64() * 10.0) as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(BAR_TEMPLATE) {
                b.set_style(style);
            }
            b
        });
        let ticker = Ticker::new(cfg.interval)
            .map_err(|e| Error::Monitor(format!("cannot create the sampling timer: {e}")))?;
        Ok(Recorder {
            columns: crate::sample::columns::of_groups(extra.group()).collect(),
            metric: crate::sample::Col::named(&cfg.metric).map(|c| c.column()),
            ticker,
            cfg,
            writer,
            live: live.map(|(m, _)| m),
            live_series: LiveSeries::new(),
            trend: None,
            // The live slope is recomputed every 1% of the run, at least every 2 s.
            trend_every: (cfg.duration.as_secs_f64() / 100.0).max(2.0),
            last_trend: 0.0,
            bar,
            colour: crate::console::colour(crate::console::Stream::Stderr),
            last_message: f64::NEG_INFINITY,
            status_every: cfg.status_every.as_secs_f64(),
            last_status: 0.0,
            last_index: None,
            missed: 0,
            last_sync: Instant::now(),
            started_at,
            start,
        })
    }

    /// When the run started (monotonic).
    pub(super) fn started(&self) -> Instant {
        self.start
    }

    /// Rows written so far.
    pub(super) fn taken(&self) -> u64 {
        self.writer.rows()
    }

    /// Seconds since the run started (monotonic).
    pub(super) fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Waits for the next tick; returns its index and the seconds since the start.
    /// More than one timer expiration since the last read means ticks came while soak was
    /// busy: they are missed, not bunched.
    pub(super) async fn next_tick(&mut self) -> std::result::Result<(u64, f64), End> {
        let expirations = self
            .ticker
            .tick()
            .await
            .map_err(|e| End::MonitorError(format!("sampling timer failed: {e}")))?
            .max(1);
        let index = self.last_index.map(|i| i + expirations).unwrap_or(0);
        if self.last_index.is_some() && expirations > 1 {
            self.missed += expirations - 1;
            if let Some(m) = &self.live {
                m.record_missed(expirations - 1);
            }
        }
        self.last_index = Some(index);
        Ok((index, self.elapsed()))
    }

    /// Whether tick `index` is the run's last.
    pub(super) fn deadline(&self, index: u64) -> bool {
        index as f64 * self.cfg.interval.as_secs_f64() >= self.cfg.duration.as_secs_f64() - 1e-9
    }

    /// Writes one row and updates everything live; an error names the timeline.
    pub(super) fn record(&mut self, elapsed: f64, sample: &Sample) -> std::result::Result<(), End> {
        let cfg = self.cfg;
        if let Err(e) = self.writer.write_now(elapsed, sample) {
            return Err(End::MonitorError(format!(
                "cannot write {}: {e}",
                self.writer.path().display()
            )));
        }
        if let Some(v) = self.metric.and_then(|c| (c.value)(sample)) {
            self.live_series.push(elapsed, v);
        }
        if let Some(m) = &self.live {
            m.record_sample(elapsed, sample, &self.columns);
        }
        // The trend so far and the progress text are computed only where they are shown:
        // on `/metrics` and the bar (every 1% of the run, at least every 2 s), and at
        // each status line. A quiet run without `/metrics` computes neither.
        let status_due =
            self.bar.is_none() && !cfg.quiet && elapsed - self.last_status >= self.status_every;
        let trend_due = elapsed - self.last_trend >= self.trend_every;
        if status_due || ((self.live.is_some() || self.bar.is_some()) && trend_due) {
            self.last_trend = elapsed;
            self.trend = Some(trend_so_far(&self.live_series, cfg));
            if let (Some(m), Some(a)) = (&self.live, &self.trend) {
                m.record_trend(a);
            }
        }
        let duration_s = cfg.duration.as_secs_f64();
        if let Some(bar) = &self.bar {
            if elapsed - self.last_message >= 0.5 {
                self.last_message = elapsed;
                let text = progress_text(cfg, elapsed, sample, self.trend.as_ref(), self.colour);
                // Asked at each redraw, so a resized terminal gets a line that fits.
                // (`::console` is the crate; soak has a `console` module of its own.)
                let (_, width) = ::console::Term::stderr().size();
                bar.set_message(progress_line(width, elapsed, duration_s, &text));
            }
        } else if status_due {
            self.last_status = elapsed;
            crate::console::err_line(&format!(
                "soak: {} of {}: {}; {} samples, {} missed",
                crate::units::Secs(elapsed),
                crate::units::Secs(duration_s),
                progress_text(cfg, elapsed, sample, self.trend.as_ref(), self.colour),
                self.writer.rows(),
                self.missed
            ));
        }
        if self.last_sync.elapsed().as_secs() >= 60 {
            let _ = self.writer.sync();
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Clears the progress bar when the loop ends (before the target is stopped).
    pub(super) fn clear_progress(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Syncs and closes the timeline.
    pub(super) fn finish(mut self, elapsed_s: f64) -> Recorded {
        self.clear_progress();
        let sync_error = self.writer.sync().err();
        Recorded {
            started_at: self.started_at,
            ended_at: now_rfc3339(),
            elapsed_s,
            taken: self.writer.rows(),
            missed: self.missed,
            sync_error,
        }
    }
}

/// The wall-clock time now, as the report and timeline write it.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
