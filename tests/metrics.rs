//! `--metrics-addr`: a Prometheus scrape during a real run.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn scrape_during_a_run() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    // Port 0: the kernel picks a free port and soak prints where it listens.
    let mut child = Command::new(soak())
        .args([
            "--duration",
            "8s",
            "--interval",
            "100ms",
            "--warmup",
            "1s",
            "--max-growth-rate",
            "60MB/h",
        ])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--name",
            "scrape-test",
            "--out",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(workload())
        .args(["leak", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    std::thread::sleep(Duration::from_secs(5));
    let resp = get(&addr, "/metrics");
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    for needle in [
        r#"soak_current{run="scrape-test",metric="rss_bytes",target="command",column="rss_bytes"}"#,
        // The live heap, from the shim soak injected into the workload.
        r#"soak_current{run="scrape-test",metric="rss_bytes",target="command",column="heap_bytes"}"#,
        r#"soak_growth_rate_per_hour{run="scrape-test",metric="rss_bytes",target="command",bound="low"}"#,
        r#"soak_verdict{run="scrape-test",metric="rss_bytes",target="command",verdict="FAIL"} 1"#,
        "soak_samples_total",
        "soak_samples_missed_total",
        r#"soak_limit_growth_rate_per_hour{run="scrape-test",metric="rss_bytes",target="command"} 60000000"#,
    ] {
        assert!(resp.contains(needle), "missing {needle} in:\n{resp}");
    }
    let samples: f64 = resp
        .lines()
        .find(|l| l.starts_with("soak_samples_total"))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(samples >= 30.0, "{samples} samples after 5 s at 10 Hz");
    assert!(get(&addr, "/").starts_with("HTTP/1.1 404"));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the leak fails the run");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the endpoint closes with the run"
    );
}

#[test]
fn taken_port_fails_before_the_target_starts() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let m = marker();
    let o = run(&[
        "--duration",
        "5s",
        "--metrics-addr",
        &addr,
        "--out",
        out.to_str().unwrap(),
        "--",
        workload().to_str().unwrap(),
        "steady",
        &m,
    ]);
    assert_eq!(code(&o), 5, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot serve metrics"),
        "{}",
        show(&o)
    );
    assert!(pids_with(&m).is_empty(), "target must not have started");
    assert!(!out.exists(), "no run directory left behind");
}

#[test]
fn serving_on_every_interface_is_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let run_with = |addr: &str, dir: &str| {
        Command::new(soak())
            .args([
                "--duration",
                "1s",
                "--interval",
                "100ms",
                "--metrics-addr",
                addr,
            ])
            .arg("--out")
            .arg(d.path().join(dir))
            .args(["--", "sleep", "30"])
            .output()
            .unwrap()
    };
    let o = run_with("0.0.0.0:0", "all");
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("every network interface"),
        "{}",
        show(&o)
    );
    let o = run_with("127.0.0.1:0", "local");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("every network interface"),
        "{}",
        show(&o)
    );
}

/// Idle connections must not exhaust soak's descriptors: with a low fd limit, a flood
/// of connections that never send a request leaves the run to finish normally, and
/// `/metrics` answers again once the idle ones are dropped.
#[test]
fn idle_connections_cannot_exhaust_descriptors() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    // `ulimit -n 128`, then soak itself in place of the shell.
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -n 128 && exec \"$0\" \"$@\""])
        .arg(soak())
        .args(["--duration", "14s", "--interval", "100ms"])
        .args(["--metrics-addr", "127.0.0.1:0", "--out"])
        .arg(&out)
        .args(["--", "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = metrics_address(&mut err);
    let sock_addr: std::net::SocketAddr = addr.parse().unwrap();
    // 200 idle connections, more than soak's 128 descriptors, topped up for 4 s as
    // soak lets some go; some may never be accepted (a full backlog), which is fine:
    // they are held open all the same.
    let connect = || std::net::TcpStream::connect_timeout(&sock_addr, Duration::from_millis(500));
    let mut idle: Vec<_> = (0..200).filter_map(|_| connect().ok()).collect();
    assert!(idle.len() >= 100, "only {} connections opened", idle.len());
    let flood_end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < flood_end {
        std::thread::sleep(Duration::from_millis(200));
        idle.extend((0..20).filter_map(|_| connect().ok()));
    }
    // Still held open by this side; soak must answer a scrape regardless, once the
    // idle ones it accepted have timed out.
    let mut answered = None;
    for _ in 0..30 {
        let resp = connect()
            .ok()
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").ok()?;
                let mut body = String::new();
                s.read_to_string(&mut body).ok()?;
                Some(body)
            })
            .filter(|b| b.starts_with("HTTP/1.1 200 OK"));
        if resp.is_some() {
            answered = resp;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut rest = String::new();
    let status = child.wait().unwrap();
    let _ = err.read_to_string(&mut rest);
    drop(idle);
    assert!(
        matches!(status.code(), Some(0 | 1 | 3)),
        "the run must finish normally, not {status}: {rest}"
    );
    let resp =
        answered.unwrap_or_else(|| panic!("/metrics never answered after the flood: {rest}"));
    assert!(resp.contains("soak_samples_total"), "{resp}");
}

/// The `/metrics` address soak's start line names (its first line on stderr).
fn metrics_address(err: &mut impl BufRead) -> String {
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    first
        .split("http://")
        .nth(1)
        .and_then(|s| s.strip_suffix("/metrics\n"))
        .unwrap_or_else(|| panic!("start line names the metrics address: {first}"))
        .to_string()
}
