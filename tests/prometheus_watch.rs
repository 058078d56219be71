//! Prometheus watching soaks: the shipped alert rules pass `promtool check rules` and
//! their unit tests, and a real Prometheus scraping a running soak's `/metrics` sees the
//! verdict so far with the run's labels.

#![allow(clippy::unwrap_used)]

mod common;

use common::prometheus::{free_port, has, Prometheus};
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rules_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prometheus")
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    if skip_unless(
        has("promtool"),
        "alert_rules_pass_promtool_check_and_unit_tests",
        "promtool is not installed (apt-get install prometheus)",
    ) {
        return;
    }
    for args in [
        ["check", "rules", "soak.rules.yml"],
        ["test", "rules", "soak.rules.test.yml"],
    ] {
        let o = Command::new("promtool")
            .args(args)
            .current_dir(rules_dir())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "promtool {}: {}",
            args.join(" "),
            show(&o)
        );
    }
}

#[test]
fn prometheus_scrapes_a_running_soak_and_sees_its_verdict() {
    if skip_unless(
        has("prometheus"),
        "prometheus_scrapes_a_running_soak_and_sees_its_verdict",
        "prometheus is not installed (apt-get install prometheus)",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut soak_run = Command::new(soak())
        .args(["--duration", "60s", "--interval", "200ms", "--warmup", "2s"])
        .args([
            "--max-growth-rate",
            "60MB/h",
            "--quiet",
            "--name",
            "live-fleet",
        ])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--out", d.path().join("run").to_str().unwrap(), "--"])
        .arg(workload())
        .args(["leak", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let scrape = format!(
        "  - job_name: soak\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let data = d.path().join("data");
    let prom = Prometheus::start(d.path(), &data, &scrape);
    let end = Instant::now() + Duration::from_secs(45);
    let mut seen = Vec::new();
    while Instant::now() < end {
        seen = prom.query(r#"soak_verdict{run="live-fleet"} == 1"#);
        let slope = prom.query(r#"soak_growth_rate_per_hour{run="live-fleet",bound="low"}"#);
        if !seen.is_empty() && !slope.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // SIGTERM: soak stops its target and writes its report, as on any interruption.
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(soak_run.id() as i32, libc::SIGTERM) };
    let _ = soak_run.wait();
    assert_eq!(seen.len(), 1, "one verdict so far: {seen:?}");
    let m = &seen[0]["metric"];
    assert_eq!(m["target"], "command", "{m}");
    assert_eq!(m["metric"], "rss_bytes", "{m}");
    assert!(
        ["PASS", "FAIL", "INCONCLUSIVE"].contains(&m["verdict"].as_str().unwrap()),
        "{m}"
    );
    let limit = prom.query(r#"soak_limit_growth_rate_per_hour{run="live-fleet"}"#);
    assert_eq!(limit[0]["value"][1], "60000000", "{limit:?}");
}
