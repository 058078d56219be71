//! Stop signals to soak: a second one cuts the grace period short, and one the target
//! sends is told apart from the user's.

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

#[test]
fn sigterm_from_the_target_is_named_and_fails_the_run() {
    let d = tempfile::tempdir().unwrap();
    // The root sends it; then a grandchild (a subshell's own child) does.
    for (i, script) in [
        "sleep 1; kill -TERM $SOAK_PID; sleep 30",
        "sh -c 'sleep 1; kill -TERM $SOAK_PID'; sleep 30",
    ]
    .iter()
    .enumerate()
    {
        let out = d.path().join(format!("run{i}"));
        let m = marker();
        let c = soak_on(&out, "2s", script, &m);
        let o = c.wait_with_output().unwrap();
        let r = report(&out);
        assert_eq!(r["interrupted"], true, "{script}: {}", show(&o));
        assert_eq!(r["end"]["signal"], "SIGTERM");
        let detail = r["end"]["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("SIGTERM from pid ")
                && detail.contains(", a process of the target's tree"),
            "{script}: {detail}"
        );
        assert_eq!(code(&o), 4, "{script}: {}", show(&o));
        assert_eq!(r["target_failed"], true);
        assert!(
            r["notes"]
                .to_string()
                .contains("soak was stopped by its own target"),
            "{}",
            r["notes"]
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("interrupted: SIGTERM from pid"),
            "{script}: {text}"
        );
        assert!(wait_gone(&m, Duration::from_secs(2)), "{:?}", pids_with(&m));
    }

    // The user's SIGTERM (this test is outside the tree) is an interruption, not a
    // target failure.
    let out = d.path().join("user");
    let m = marker();
    let c = soak_on(&out, "2s", "sleep 30", &m);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&c, libc::SIGTERM);
    let o = c.wait_with_output().unwrap();
    let r = report(&out);
    let detail = r["end"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("outside the target's tree"),
        "{detail}: {}",
        show(&o)
    );
    assert_ne!(code(&o), 4, "{}", show(&o));
    assert_eq!(r["target_failed"], false);
}
