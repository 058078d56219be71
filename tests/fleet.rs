//! `soak analyze --prometheus` against a real Prometheus: series the test generates
//! (leaks under a GC sawtooth, steady, a plateau, a restart, a gap, a counter) backfilled
//! with `promtool tsdb create-blocks-from openmetrics`, served by Debian's `prometheus`
//! on a loopback port; and the one-line errors (unreachable, bad PromQL, nothing matched).

#![allow(clippy::unwrap_used)]

mod common;

use common::prometheus::{backfill, free_port, has, make_tls, Prometheus};
use common::*;
use std::fmt::Write;
use std::process::Command;

const STEP: i64 = 30;
const HOURS: i64 = 6;

/// A reproducible noise source (no rand dependency): uniform in [-1, 1].
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// Each gauge: its `service` label and its value at `h` hours into the range (`None`: no
/// sample, a staleness gap).
type Shape = Box<dyn Fn(f64, f64) -> Option<f64>>;

fn gauges() -> Vec<(&'static str, Shape)> {
    let mb = 1e6;
    vec![
        // 20 MB/h under a 30 MB GC sawtooth of 10 minutes.
        (
            "leaky-gc",
            Box::new(move |h, n| {
                let saw = (h * 6.0).fract() * 30.0 * mb;
                Some(200.0 * mb + 20.0 * mb * h + saw + n * mb)
            }),
        ),
        // 15 MB/h, plain noise.
        (
            "leaky-linear",
            Box::new(move |h, n| Some(100.0 * mb + 15.0 * mb * h + n * 2.0 * mb)),
        ),
        (
            "steady",
            Box::new(move |_, n| Some(150.0 * mb + n * 2.0 * mb)),
        ),
        // Steady under a GC sawtooth.
        (
            "steady-gc",
            Box::new(move |h, n| Some(300.0 * mb + (h * 6.0).fract() * 40.0 * mb + n * mb)),
        ),
        // A cache filling up in its first half hour, then flat.
        (
            "plateau",
            Box::new(move |h, n| {
                Some(100.0 * mb + 200.0 * mb * (1.0 - (-h * 60.0 / 8.0).exp()) + n * mb)
            }),
        ),
        // 40 MB/h for 4 h, a restart back to its start, then 40 MB/h again.
        (
            "restarted",
            Box::new(move |h, n| {
                let since = if h < 4.0 { h } else { h - 4.0 };
                Some(120.0 * mb + 40.0 * mb * since + n * mb)
            }),
        ),
        // Steady, under a label that is markup: every report must show it as text.
        ("<b>odd</b>", Box::new(move |_, n| Some(60.0 * mb + n * mb))),
        // Steady, with an hour of no samples in the middle (a scrape outage).
        (
            "gap",
            Box::new(move |h, n| (!(2.5..3.5).contains(&h)).then_some(80.0 * mb + n * mb)),
        ),
    ]
}

/// The OpenMetrics text for the last [`HOURS`] hours ending at `end`.
fn openmetrics(end: i64) -> String {
    let start = end - HOURS * 3600;
    let mut s = String::from(
        "# HELP fleet_memory_bytes Working set of a service.\n# TYPE fleet_memory_bytes gauge\n",
    );
    let mut rng = Lcg(42);
    for (svc, f) in gauges() {
        for ts in (start..=end).step_by(STEP as usize) {
            let h = (ts - start) as f64 / 3600.0;
            if let Some(v) = f(h, rng.next()) {
                writeln!(s, "fleet_memory_bytes{{service=\"{svc}\"}} {v:.0} {ts}").unwrap();
            }
        }
    }
    s.push_str("# HELP fleet_requests Requests served.\n# TYPE fleet_requests counter\n");
    for ts in (start..=end).step_by(STEP as usize) {
        let v = (ts - start) * 7;
        writeln!(s, "fleet_requests_total{{service=\"api\"}} {v} {ts}").unwrap();
    }
    s.push_str("# EOF\n");
    s
}

fn prometheus_available(test: &str) -> bool {
    !skip_unless(
        has("prometheus") && has("promtool"),
        test,
        "prometheus and promtool are not installed (apt-get install prometheus)",
    )
}

/// A Prometheus serving the generated series; the range's start and end (Unix seconds).
fn backfilled(dir: &std::path::Path) -> (Prometheus, i64, i64) {
    let now = chrono::Utc::now().timestamp();
    let end = now - now % 60 - 60;
    let om = dir.join("fleet.om");
    std::fs::write(&om, openmetrics(end)).unwrap();
    let data = dir.join("data");
    backfill(&om, &data);
    (Prometheus::start(dir, &data, ""), end - HOURS * 3600, end)
}

fn analyze(url: &str, query: &str, start: i64, end: i64, extra: &[&str]) -> std::process::Output {
    Command::new(soak())
        .args(["analyze", "--prometheus", url, "--query", query])
        .args(["--start", &start.to_string(), "--end", &end.to_string()])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn every_series_judged_against_a_backfilled_prometheus() {
    if !prometheus_available("every_series_judged_against_a_backfilled_prometheus") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (prom, start, end) = backfilled(d.path());
    let out = d.path().join("fleet-report");
    let o = analyze(
        &prom.url,
        r#"{__name__=~"fleet_.+"}"#,
        start,
        end,
        &[
            "--max-growth-rate",
            "5MB/h",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}", show(&o)));
    let series = j["series"].as_array().unwrap();
    let by = |svc: &str| {
        series
            .iter()
            .find(|s| s["labels"]["service"] == svc)
            .unwrap_or_else(|| panic!("series {svc} in the answer: {}", show(&o)))
    };
    let verdict = |svc: &str| by(svc)["verdict"].as_str().unwrap().to_string();
    let why = |svc: &str| format!("{svc}: {}", by(svc));
    for svc in ["leaky-gc", "leaky-linear"] {
        assert_eq!(verdict(svc), "FAIL", "{}", why(svc));
        assert_eq!(by(svc)["exit_code"], 1);
    }
    for svc in ["steady", "steady-gc", "plateau", "gap", "<b>odd</b>"] {
        assert_eq!(verdict(svc), "PASS", "{}", why(svc));
    }
    // A drop back to the start: a restarted leak or a slow collector, which this series
    // alone cannot tell: INCONCLUSIVE, with the stretch's growth said.
    assert_eq!(verdict("restarted"), "INCONCLUSIVE", "{}", why("restarted"));
    assert!(
        by("restarted")["explanation"]
            .as_str()
            .unwrap()
            .contains("cannot be told apart"),
        "{}",
        why("restarted")
    );
    // The counter is refused with its reason, not judged.
    let api = by("api");
    assert_eq!(api["refused"], true, "{api}");
    assert_eq!(api["reason"], "not_a_gauge");
    assert!(
        api["explanation"].as_str().unwrap().contains("rate("),
        "{api}"
    );
    // The restart and the gap are said, per series.
    let notes = |svc: &str| by(svc)["notes"].to_string();
    assert!(
        notes("restarted").contains("restart"),
        "{}",
        why("restarted")
    );
    assert!(notes("gap").contains("staleness gaps"), "{}", why("gap"));
    // Each series carries the evaluation fields of report.json.
    let m = &by("leaky-gc")["metrics"][0];
    assert!(m["slope_low_per_hour"].as_f64().unwrap() > 5e6, "{m}");
    assert!(by("leaky-gc")["checks"][0]["limit_name"].is_string());
    // Worst first, the worst exit code.
    let order: Vec<&str> = series
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(order[..3], ["FAIL", "FAIL", "INCONCLUSIVE"], "{order:?}");
    assert_eq!(*order.last().unwrap(), "PASS");
    assert_eq!(j["exit_code"], 1);
    assert_eq!(code(&o), 1, "{}", show(&o));
    // The fleet report files, labels escaped.
    let html = std::fs::read_to_string(out.join("fleet.html")).unwrap();
    assert!(html.contains("<svg class=\"spark FAIL\""), "sparklines");
    assert!(
        html.contains("service=&quot;leaky-gc&quot;"),
        "escaped labels"
    );
    // Drawn in a real browser: not blank, one sparkline per series laid out.
    let shot = common::browser::screenshot(&out.join("fleet.html"), d.path());
    assert!(shot.colours > 20, "{} colours: blank page?", shot.colours);
    assert!(
        shot.drawn_percent >= 2,
        "only {}% drawn",
        shot.drawn_percent
    );
    let dom = common::browser::dom(&out.join("fleet.html"), d.path());
    assert_eq!(
        dom.matches("<svg class=\"spark").count(),
        series.len(),
        "{dom}"
    );
    assert!(
        !dom.contains("<b>odd") && dom.contains("&lt;b&gt;odd"),
        "a label is never markup"
    );
    let md = std::fs::read_to_string(out.join("fleet.md")).unwrap();
    assert!(md.contains("2 FAIL"), "{md}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(file, j);

    // The text table: worst first, one row per series.
    let o = analyze(
        &prom.url,
        r#"fleet_memory_bytes"#,
        start,
        end,
        &["--max-growth-rate", "5MB/h"],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let first_row = text.lines().find(|l| l.contains("service=")).unwrap();
    assert!(first_row.trim_start().starts_with("FAIL"), "{text}");
    assert!(text.contains("8 series: 2 FAIL"), "{text}");

    // Only the steady ones: exit 0.
    let o = analyze(
        &prom.url,
        r#"fleet_memory_bytes{service=~"steady.*|plateau"}"#,
        start,
        end,
        &["--max-growth-rate", "5MB/h"],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
}

#[test]
fn query_errors_are_one_line_with_their_exit_code() {
    if !prometheus_available("query_errors_are_one_line_with_their_exit_code") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (prom, start, end) = backfilled(d.path());
    let one_line = |o: &std::process::Output| {
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(e.trim_end().lines().count(), 1, "one line: {}", show(o));
        e
    };
    // Nothing listens: exit 5, naming the URL.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let o = analyze(&closed, "up", start, end, &[]);
    assert_eq!(code(&o), 5, "{}", show(&o));
    let e = one_line(&o);
    assert!(
        e.contains(&format!("cannot reach Prometheus at {closed}")),
        "{e}"
    );
    // Bad PromQL: exit 2 with Prometheus's own message.
    let o = analyze(&prom.url, "sum(rate(", start, end, &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    let e = one_line(&o);
    assert!(
        e.contains("rejected the query (bad_data)") && e.contains("parse error"),
        "{e}"
    );
    // Nothing matched: exit 2, saying the range.
    let o = analyze(&prom.url, "no_such_metric_bytes", start, end, &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    let e = one_line(&o);
    assert!(e.contains("matched no series between"), "{e}");
    // Too many series for the cap: exit 2, saying how to narrow.
    let o = analyze(
        &prom.url,
        "fleet_memory_bytes",
        start,
        end,
        &["--max-series", "3"],
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(one_line(&o).contains("label matcher"), "{}", show(&o));
    // A range vector is not a matrix of series: exit 2.
    let o = analyze(&prom.url, "fleet_memory_bytes[5m]", start, end, &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    one_line(&o);
}

/// A one-shot HTTP server answering `status` with `body`; returns its URL and the request
/// it received (head and form body).
fn one_shot(status: &str, body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let status = status.to_string();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head, then the form body its Content-Length announces.
        loop {
            let n = s.read(&mut buf).unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_string();
            if let Some(i) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if req.len() >= i + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&req).to_string()
    });
    (url, h)
}

#[test]
fn credentials_come_from_the_environment_and_never_show() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"m_bytes"},"values":[[1000,"1"],[1060,"1"],[1120,"1"]]}]}}"#;
    let (url, req) = one_shot("200 OK", body);
    let o = Command::new(soak())
        .args(["analyze", "--prometheus", &url, "--query", "m_bytes"])
        .args(["--start", "1000", "--end", "1120", "--step", "60s"])
        .args(["--inconclusive", "pass"])
        .env("SOAK_PROMETHEUS_TOKEN", "t0ken-s3cret")
        .output()
        .unwrap();
    let req = req.join().unwrap();
    assert!(req.starts_with("POST /api/v1/query_range "), "{req}");
    assert!(req.contains("Bearer t0ken-s3cret"), "{req}");
    assert!(
        req.contains("query=m_bytes") && req.contains("step=60"),
        "{req}"
    );
    // Three points are too few to judge: INCONCLUSIVE, mapped to 0 by --inconclusive.
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("INCONCLUSIVE"),
        "{}",
        show(&o)
    );
    assert!(!show(&o).contains("t0ken"), "{}", show(&o));

    // Refused credentials: exit 5, saying which variables to set.
    let (url, _req) = one_shot("401 Unauthorized", r#"{"status":"error"}"#);
    let o = Command::new(soak())
        .args(["analyze", "--prometheus", &url, "--query", "m_bytes"])
        .env("SOAK_PROMETHEUS_USER", "ops")
        .env("SOAK_PROMETHEUS_PASSWORD", "pw-s3cret")
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", show(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("HTTP 401") && e.contains("SOAK_PROMETHEUS_TOKEN"),
        "{e}"
    );
    assert!(!e.contains("pw-s3cret"), "{e}");
}

/// An https:// Prometheus with a private CA: trusted through SOAK_PROMETHEUS_CA, refused
/// (one line, exit 5) without it, and a CA file that is not one is a usage error.
#[test]
fn https_with_a_private_ca() {
    if !prometheus_available("https_with_a_private_ca") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let end = now - now % 60 - 60;
    let om = d.path().join("fleet.om");
    std::fs::write(&om, openmetrics(end)).unwrap();
    let data = d.path().join("data");
    backfill(&om, &data);
    let tls = make_tls(d.path());
    let prom = Prometheus::start_tls(d.path(), &data, &tls);
    assert!(prom.url.starts_with("https://"), "{}", prom.url);
    let start = end - HOURS * 3600;
    let with_ca = |ca: &std::path::Path| {
        Command::new(soak())
            .args(["analyze", "--prometheus", &prom.url, "--query"])
            .arg(r#"fleet_memory_bytes{service="leaky-linear"}"#)
            .args(["--start", &start.to_string(), "--end", &end.to_string()])
            .args(["--max-growth-rate", "5MB/h", "--format", "json"])
            .env("SOAK_PROMETHEUS_CA", ca)
            .output()
            .unwrap()
    };
    let o = with_ca(&tls.ca);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["series"][0]["verdict"], "FAIL", "{j}");

    // The Mozilla roots do not know this CA: a one-line certificate error, exit 5.
    let o = Command::new(soak())
        .args([
            "analyze",
            "--prometheus",
            &prom.url,
            "--query",
            "fleet_memory_bytes",
        ])
        .args(["--start", &start.to_string(), "--end", &end.to_string()])
        .env_remove("SOAK_PROMETHEUS_CA")
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // A CA file that holds no certificate: exit 2, naming the variable.
    let not_pem = d.path().join("fleet.om");
    let o = with_ca(&not_pem);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SOAK_PROMETHEUS_CA"));
}

/// An answer over the 256 MiB cap is refused (exit 2) with how to narrow the query, and
/// soak stops reading it there (a server streaming 300 MiB, on loopback).
#[test]
fn an_answer_over_the_byte_cap_is_refused_with_advice() {
    use std::io::{Read, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 65536];
        let _ = s.read(&mut buf);
        let total: usize = 300 << 20;
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
        );
        let chunk = vec![b' '; 1 << 20];
        let mut sent = 0usize;
        // soak hangs up at its cap: a write error ends the stream.
        while sent < total && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let o = Command::new(soak())
        .args([
            "analyze",
            "--prometheus",
            &url,
            "--query",
            "up",
            "--range",
            "1h",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("256 MiB"), "{err}");
    assert!(
        err.contains("label matcher") || err.contains("narrow"),
        "{err}"
    );
    let sent = server.join().unwrap();
    assert!(
        sent < 300 << 20,
        "soak read the whole answer ({sent} bytes)"
    );
}
