//! Live fleet metrics: `/metrics` in the Prometheus text format during a run
//! (`--metrics-addr`), so a team can watch many soak boxes with the tools it runs.
//!
//! The server answers plain HTTP/1.x GETs on one socket: one scrape is one short
//! connection, which is all Prometheus needs, so no HTTP framework is pulled in.

use crate::analysis::{SeriesAnalysis, Verdict};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::sample::{Column, Sample};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Labels = Vec<(String, String)>;
type FGauge = Gauge<f64, AtomicU64>;

/// Binds `/metrics` before the target starts: a taken port fails the run with nothing
/// started.
pub(super) async fn serve_for_run(
    cfg: &RunConfig,
) -> Result<Option<(Arc<LiveMetrics>, std::net::SocketAddr)>> {
    let Some(addr) = cfg.metrics_addr else {
        return Ok(None);
    };
    if addr.ip().is_unspecified() {
        crate::console::err_line(&format!(
            "soak: warning: --metrics-addr {addr} serves /metrics on every network interface (the run's name and figures); use 127.0.0.1:{} to keep it local",
            addr.port()
        ));
    }
    let m = Arc::new(LiveMetrics::new(
        &cfg.name,
        &cfg.metric,
        target_label(&cfg.target),
        cfg.duration.as_secs_f64(),
    ));
    if let Some(r) = cfg.limits.max_growth_rate {
        m.limit.set(r.bytes_per_hour);
    }
    let bound = serve(addr, m.clone()).await.map_err(|e| {
        Error::Monitor(format!(
            "cannot serve metrics on {addr}: {e} (choose another --metrics-addr)"
        ))
    })?;
    Ok(Some((m, bound)))
}

/// The live figures of one run.
pub struct LiveMetrics {
    registry: Registry,
    /// Latest sample per column (`rss_bytes`, `threads`, …).
    pub current: Family<Labels, FGauge>,
    /// Robust slope so far of the verdict metric, per hour, with its interval bounds.
    pub slope: Family<Labels, FGauge>,
    /// 1 for the verdict so far, 0 for the others.
    pub verdict: Family<Labels, FGauge>,
    /// Rows written.
    pub samples: Counter,
    /// Ticks skipped because they came late.
    pub missed: Counter,
    /// Seconds since the run started.
    pub elapsed: FGauge,
    /// The growth-rate limit, per hour (NaN when none).
    pub limit: FGauge,
}

impl LiveMetrics {
    /// Registers the run's metrics; `name` (the `run` label), the verdict `metric` and
    /// the `target` kind (see [`target_label`]) label them all, so a fleet of soak boxes
    /// can be told apart and the alert rules in `prometheus/soak.rules.yml` can match
    /// each run's slope with its limit.
    pub fn new(name: &str, metric: &str, target: &str, duration_s: f64) -> LiveMetrics {
        use std::borrow::Cow;
        let mut registry = Registry::with_labels(
            [
                (Cow::Borrowed("run"), Cow::Owned(name.to_string())),
                (Cow::Borrowed("metric"), Cow::Owned(metric.to_string())),
                (Cow::Borrowed("target"), Cow::Owned(target.to_string())),
            ]
            .into_iter(),
        );
        let (current, slope, verdict) = (Family::default(), Family::default(), Family::default());
        let (samples, missed) = (Counter::default(), Counter::default());
        let (elapsed, limit, duration) = (FGauge::default(), FGauge::default(), FGauge::default());
        duration.set(duration_s);
        // No growth-rate limit until one is set: NaN compares false, so the alert rules
        // never fire against a limit of zero.
        limit.set(f64::NAN);
        registry.register(
            "soak_current",
            "Latest sample of each timeline column (bytes or count)",
            Family::clone(&current),
        );
        registry.register(
            "soak_growth_rate_per_hour",
            "Robust (Theil-Sen) slope so far of the verdict metric after warm-up, per hour; bound=estimate|low|high (90% interval)",
            Family::clone(&slope),
        );
        registry.register(
            "soak_verdict",
            "Verdict so far: 1 for the current one (PASS, FAIL, INCONCLUSIVE)",
            Family::clone(&verdict),
        );
        registry.register(
            "soak_samples",
            "Samples written to the timeline",
            samples.clone(),
        );
        registry.register(
            "soak_samples_missed",
            "Ticks skipped because they came late",
            missed.clone(),
        );
        registry.register(
            "soak_elapsed_seconds",
            "Seconds since the run started",
            elapsed.clone(),
        );
        registry.register(
            "soak_limit_growth_rate_per_hour",
            "The growth-rate limit, per hour",
            limit.clone(),
        );
        registry.register(
            "soak_duration_seconds",
            "Planned run length, seconds",
            duration,
        );
        LiveMetrics {
            registry,
            current,
            slope,
            verdict,
            samples,
            missed,
            elapsed,
            limit,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // Encoding into a String only fails on a formatter error, which String never has.
        let _ = encode(&mut s, &self.registry);
        s
    }

    /// Sets one labelled gauge.
    /// Counts ticks skipped because they came late.
    pub(super) fn record_missed(&self, n: u64) {
        self.missed.inc_by(n);
    }

    /// Counts a row and publishes every known figure of the sample (of the run's
    /// columns) as a gauge labelled with its column.
    pub(super) fn record_sample(&self, elapsed: f64, s: &Sample, columns: &[&'static Column]) {
        self.samples.inc();
        self.elapsed.set(elapsed);
        for c in columns {
            if let Some(v) = (c.value)(s) {
                LiveMetrics::set(&self.current, "column", c.name, v);
            }
        }
    }

    /// Publishes the trend so far: the slope with its bounds, and the verdict so far.
    pub(super) fn record_trend(&self, a: &SeriesAnalysis) {
        for (bound, v) in [
            ("estimate", a.slope_per_hour),
            ("low", a.slope_low_per_hour),
            ("high", a.slope_high_per_hour),
        ] {
            LiveMetrics::set(&self.slope, "bound", bound, v.unwrap_or(f64::NAN));
        }
        let so_far = Verdict::combine(a.checks().map(|c| c.verdict));
        for v in [Verdict::Pass, Verdict::Inconclusive, Verdict::Fail] {
            LiveMetrics::set(
                &self.verdict,
                "verdict",
                &v.to_string(),
                f64::from(u8::from(v == so_far)),
            );
        }
    }

    pub fn set(family: &Family<Labels, FGauge>, key: &str, value: &str, v: f64) {
        family
            .get_or_create(&vec![(key.to_string(), value.to_string())])
            .set(v);
    }
}

/// The `target` label of a run's metrics: what was soaked — `command` (soak started
/// it), `pid` (attached), `image` (a container soak started) or `container` (attached).
pub fn target_label(t: &crate::config::TargetSpec) -> &'static str {
    use crate::config::TargetSpec;
    match t {
        TargetSpec::Command(_) => "command",
        TargetSpec::Pid(_) => "pid",
        TargetSpec::Image(_) => "image",
        TargetSpec::Container(_) => "container",
    }
}

const ACCEPT_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(10);

/// The wait after another failed `accept()`: doubled, at most one second.
fn next_backoff(d: std::time::Duration) -> std::time::Duration {
    (d * 2).min(std::time::Duration::from_secs(1))
}

/// At most this many scrape connections are served at once; one beyond is closed as
/// soon as it is accepted, so idle clients cannot take the descriptors that sampling
/// `/proc` needs (a Prometheus server uses one connection per scrape).
pub const MAX_CONNECTIONS: usize = 32;

/// The time a client has to send its request head, and then again to take the response.
pub const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Binds `addr` now (so a taken port fails before the target starts) and serves
/// `/metrics` until the runtime ends, to at most [`MAX_CONNECTIONS`] clients at once.
pub async fn serve(addr: SocketAddr, metrics: Arc<LiveMetrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        loop {
            let sock = match listener.accept().await {
                Ok((sock, _)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    sock
                }
                Err(_) => {
                    // EMFILE and the like persist: retrying at once would spin a core
                    // that the sampling needs. Wait, doubling up to a second.
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff);
                    continue;
                }
            };
            // Over the cap: close at once (dropping the socket) rather than hold a
            // descriptor for a client that may never speak.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                drop(sock);
                continue;
            };
            let m = metrics.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let _ = tokio::time::timeout(2 * CLIENT_TIMEOUT, answer(sock, &m)).await;
            });
        }
    });
    Ok(bound)
}

/// Reads one request head (bounded in size and, by the caller, in time) and answers it.
async fn answer(mut sock: tokio::net::TcpStream, m: &LiveMetrics) {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    let head_read = tokio::time::timeout(CLIENT_TIMEOUT, async {
        while n < buf.len() {
            match sock.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    n += k;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") || buf[..n].ends_with(b"\n\n")
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    if head_read.is_err() {
        // A slow or silent client is dropped without an answer.
        return;
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, body, ctype) =
        if head.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
            (
                "200 OK",
                m.render(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
        } else {
            (
                "404 Not Found",
                "soak serves /metrics only\n".to_string(),
                "text/plain",
            )
        };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod backoff_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn accept_errors_back_off_up_to_a_second() {
        let mut d = ACCEPT_BACKOFF_MIN;
        let mut waits = vec![d];
        for _ in 0..10 {
            d = next_backoff(d);
            waits.push(d);
        }
        assert_eq!(waits[1], Duration::from_millis(20));
        assert_eq!(*waits.last().unwrap(), Duration::from_secs(1));
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
    }
}
