//! soak soaking soak: the monitor's own memory must not grow with the number of samples
//! (nothing of the timeline is held in memory during a run).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn soaks_own_rss_stays_flat_over_ten_thousand_samples() {
    let d = tempfile::tempdir().unwrap();
    let mut target = Command::new(workload())
        .args(["steady", "5"])
        .spawn()
        .unwrap();
    let inner_out = d.path().join("inner");
    // The soak under test: 10,000 samples at 2 ms, attached (so its tree is itself alone
    // when observed from outside: no target child, no guard).
    let inner = Command::new(soak())
        .args([
            "--pid",
            &target.id().to_string(),
            "--duration",
            "20s",
            "--interval",
            "2ms",
        ])
        .args(["--out", inner_out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let outer_out = d.path().join("outer");
    // If soak kept ~100 bytes per sample, 10,000 samples in 20 s would grow 180 MB/h.
    let o = run(&[
        "--pid",
        &inner.id().to_string(),
        "--duration",
        "18s",
        "--interval",
        "100ms",
        "--warmup",
        "3s",
        "--max-growth-rate",
        "20MB/h",
        "--format",
        "json",
        "--out",
        outer_out.to_str().unwrap(),
    ]);
    let mut inner = inner;
    inner.wait().unwrap();
    target.kill().unwrap();
    target.wait().unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", show(&o)));
    assert_eq!(r["verdict"], "PASS", "{}", r["explanation"]);
    let inner_r = report(&inner_out);
    let taken = inner_r["samples"]["taken"].as_u64().unwrap();
    let missed = inner_r["samples"]["missed"].as_u64().unwrap();
    assert!(
        taken + missed >= 9_000,
        "inner soak took {taken} samples, missed {missed}"
    );
}
