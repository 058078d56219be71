//! Stop signals to soak: a second one cuts the grace period short.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn soak_on(out: &std::path::Path, grace: &str, script: &str, m: &str) -> Child {
    Command::new(soak())
        .args([
            "--duration",
            "60s",
            "--interval",
            "100ms",
            "--grace",
            grace,
            "--no-heap",
            "--out",
            out.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
            "sh",
            m,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(c: &Child, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(c.id() as i32, sig) };
}

#[test]
fn a_second_sigint_cuts_the_grace_period_short() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let m = marker();
    // The whole tree ignores SIGTERM (an ignored disposition survives exec).
    let c = soak_on(&out, "30s", "trap '' TERM; while :; do sleep 0.1; done", &m);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!pids_with(&m).is_empty(), "target running");
    let t0 = Instant::now();
    signal(&c, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !pids_with(&m).is_empty(),
        "the target ignores SIGTERM: still in the grace period"
    );
    signal(&c, libc::SIGINT);
    let o = c.wait_with_output().unwrap();
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "soak took {took:?} after the first SIGINT, with --grace 30s: {}",
        show(&o)
    );
    let r = report(&out);
    assert_eq!(r["interrupted"], true, "{}", show(&o));
    assert_eq!(r["end"]["signal"], "SIGINT");
    let detail = r["end"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("a second stop signal cut the grace period short (SIGKILL)"),
        "{detail}"
    );
    assert_eq!(r["stop_escalated"], true);
    assert!(
        r["notes"].to_string().contains("cut it short"),
        "{}",
        r["notes"]
    );
    assert_eq!(code(&o), r["exit_code"].as_i64().unwrap() as i32);
    assert!(
        matches!(code(&o), 0 | 1 | 3),
        "verdict's code: {}",
        show(&o)
    );
    assert!(wait_gone(&m, Duration::from_secs(2)), "{:?}", pids_with(&m));
}
