//! End-to-end runs of the built `soak` binary on real processes (the example workload).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn steady_workload_passes() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    let o = run(&[
        "--duration",
        "12s",
        "--interval",
        "100ms",
        "--warmup",
        "3s",
        "--max-growth-rate",
        "60MB/h",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "steady",
        "20",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["verdict"], "PASS");
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["end"]["reason"], "deadline");
    assert_eq!(
        r["stop_escalated"], false,
        "the target obeys SIGTERM: no SIGKILL needed"
    );
    assert_eq!(r["target_exit"]["signal"], "SIGTERM");
    assert!(r["samples"]["taken"].as_u64().unwrap() >= 100);
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(header, "timestamp,elapsed_s,rss_bytes,anon_bytes,file_bytes,shmem_bytes,swap_bytes,heap_bytes,pss_bytes,threads,fds,cpu_s,processes,runtime_heap_bytes,runtime_heap_after_gc_bytes,vms_bytes");
    let last = csv.lines().last().unwrap();
    let rss: f64 = last.split(',').nth(2).unwrap().parse().unwrap();
    assert!(rss > 20e6, "steady holds 20 MB: {last}");
    assert!(out.join("report.md").exists());
    assert!(out.join("target.stdout.log").exists() && out.join("target.stderr.log").exists());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.starts_with("soak: PASS"), "{stdout}");
}

#[test]
fn leaking_workload_fails_with_its_true_rate() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    // 30 MB/min = 1800 MB/h.
    let o = run(&[
        "--duration",
        "15s",
        "--interval",
        "100ms",
        "--warmup",
        "3s",
        "--max-growth-rate",
        "60MB/h",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--",
        w.to_str().unwrap(),
        "leak",
        "30",
    ]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("--format json prints the report");
    assert_eq!(r["verdict"], "FAIL");
    assert_eq!(r["reason"], "leak");
    let slope = r["metrics"][0]["mb_per_hour"]["slope"].as_f64().unwrap();
    assert!(
        (slope / 1800.0 - 1.0).abs() < 0.10,
        "robust slope {slope} MB/h vs 1800 MB/h true"
    );
    assert_eq!(r["metrics"][0]["metric"], "rss_bytes");
    assert!(
        r["metrics"][0]["mb_per_hour"]["ols"].is_number(),
        "OLS shown for reference"
    );
}

#[test]
fn process_tree_is_summed() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    let o = run(&[
        "--duration",
        "4s",
        "--interval",
        "200ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "tree",
        "2",
        "15",
    ]);
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    assert_eq!(last[12], "3", "three processes: {last:?}");
    let rss: f64 = last[2].parse().unwrap();
    assert!(rss > 45e6, "3 × 15 MB summed, got {rss}");
}

#[test]
fn children_that_come_and_go_are_counted_while_they_live() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    let o = run(&[
        "--duration",
        "4s",
        "--interval",
        "50ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "churn",
    ]);
    assert!(matches!(code(&o), 0 | 1 | 3), "{}", show(&o));
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let procs: Vec<u32> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(12).unwrap().parse().unwrap())
        .collect();
    let max = *procs.iter().max().unwrap();
    assert!(max >= 2, "short-lived children were seen: {procs:?}");
    assert!(
        procs.iter().skip(20).any(|p| *p == max) && procs.iter().skip(20).any(|p| *p < max),
        "they come and go: {procs:?}"
    );
    assert_eq!(report(&out)["end"]["reason"], "deadline");
}

#[test]
fn daemonizing_target_keeps_being_tracked_and_is_stopped() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    let m = marker();
    let o = run(&[
        "--duration",
        "4s",
        "--interval",
        "200ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "daemon",
        &m,
    ]);
    assert!(
        matches!(code(&o), 0 | 3),
        "the daemon outlives its starter: {}",
        show(&o)
    );
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    assert_eq!(last[12], "1", "{last:?}");
    assert!(last[2].parse::<f64>().unwrap() > 7e6);
    assert!(wait_gone(&m, Duration::from_secs(5)), "daemon left running");
}

/// The `/proc` listing (kernels without `/proc/PID/task/TID/children`) finds the same
/// members: a tree, and a daemon that double-forks (re-parented to soak, the subreaper).
#[test]
fn the_proc_listing_fallback_finds_trees_and_daemons() {
    let w = workload();
    let m = marker();
    for (args, procs) in [
        (vec!["tree", "2", "15"], "3"),
        (vec!["daemon", m.as_str()], "1"),
    ] {
        let d = tmp();
        let out = d.path().join("run");
        let o = Command::new(soak())
            .env("SOAK_TREE_DISCOVERY", "listing")
            .args(["--duration", "3s", "--interval", "200ms", "--out"])
            .arg(&out)
            .arg("--")
            .arg(&w)
            .args(&args)
            .output()
            .unwrap();
        assert!(matches!(code(&o), 0 | 3), "{args:?}: {}", show(&o));
        let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
        let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
        assert_eq!(last[12], procs, "{args:?}: {last:?}");
    }
    assert!(wait_gone(&m, Duration::from_secs(5)), "daemon left running");
}

#[test]
fn attach_to_pid_never_signals_it() {
    let d = tmp();
    let out = d.path().join("run");
    let mut child = Command::new(workload())
        .args(["steady", "12"])
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let o = run(&[
        "--pid",
        &pid,
        "--duration",
        "3s",
        "--interval",
        "100ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    assert!(
        child.try_wait().unwrap().is_none(),
        "attached process must keep running"
    );
    let r = report(&out);
    assert_eq!(r["target"]["kind"], "pid");
    assert!(r["target_exit"].is_null());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn attached_process_exiting_ends_run_with_4() {
    let d = tmp();
    let out = d.path().join("run");
    let mut child = Command::new(workload())
        .args(["exit", "1.5", "0"])
        .spawn()
        .unwrap();
    let pid = child.id();
    // Reap it from here so it does not linger as our zombie.
    let waiter = std::thread::spawn(move || child.wait());
    let o = run(&[
        "--pid",
        &pid.to_string(),
        "--duration",
        "20s",
        "--interval",
        "100ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    assert_eq!(report(&out)["end"]["reason"], "target_exit");
    waiter.join().unwrap().unwrap();
}

#[test]
fn early_exit_is_a_target_failure_unless_allowed() {
    let d = tmp();
    let w = workload();
    let out = d.path().join("a");
    let o = run(&[
        "--duration",
        "20s",
        "--interval",
        "100ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "exit",
        "2",
        "0",
    ]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["target_exit"]["code"], 0);
    assert_eq!(r["target_failed"], true);

    let out = d.path().join("b");
    let o = run(&[
        "--duration",
        "20s",
        "--interval",
        "100ms",
        "--allow-exit",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "exit",
        "2",
        "0",
    ]);
    assert_ne!(code(&o), 4, "{}", show(&o));
    assert_eq!(report(&out)["target_failed"], false);

    let out = d.path().join("c");
    let o = run(&[
        "--duration",
        "20s",
        "--interval",
        "100ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "crash",
        "1",
    ]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["target_exit"]["signal"], "SIGABRT");
    assert!(String::from_utf8_lossy(&o.stdout).contains("killed by SIGABRT"));
}

#[test]
fn sigterm_mid_run_reports_interrupted_and_leaves_no_orphan() {
    let d = tmp();
    let out = d.path().join("run");
    let m = marker();
    let child = Command::new(soak())
        .args([
            "--duration",
            "60s",
            "--interval",
            "100ms",
            "--grace",
            "2s",
            "--out",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(workload())
        .args(["tree", "2", &m])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pids_with(&m).len(), 3, "tree running");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let r = report(&out);
    assert_eq!(r["interrupted"], true, "{}", show(&o));
    assert_eq!(r["end"]["signal"], "SIGTERM");
    assert_eq!(code(&o), r["exit_code"].as_i64().unwrap() as i32);
    assert!(
        matches!(code(&o), 0 | 1 | 3),
        "verdict's code: {}",
        show(&o)
    );
    assert!(
        wait_gone(&m, Duration::from_secs(2)),
        "orphans: {:?}",
        pids_with(&m)
    );
}

#[test]
fn sigkill_of_soak_keeps_timeline_and_kills_target() {
    let d = tmp();
    let out = d.path().join("run");
    let m = marker();
    let mut child = spawn_soak_on_tree(&out, "50ms", 2, &m);
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        wait_gone(&m, Duration::from_secs(5)),
        "target outlived soak: {:?}",
        pids_with(&m)
    );
    let a = run(&[
        "analyze",
        out.join("timeline.csv").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(matches!(code(&a), 0 | 1 | 3), "{}", show(&a));
    let r: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert!(r["samples"]["taken"].as_u64().unwrap() >= 20);
}

#[test]
fn target_that_cannot_start_exits_4_and_leaves_nothing() {
    let d = tmp();
    let out = d.path().join("run");
    let o = run(&[
        "--duration",
        "5s",
        "--out",
        out.to_str().unwrap(),
        "--",
        "/nonexistent/program",
    ]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot start /nonexistent/program") && err.contains("not found"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        !out.exists(),
        "no run directory for a target that never started"
    );
}

#[test]
fn bad_inputs_get_one_line_and_the_right_code() {
    let d = tmp();
    let out = d.path().join("run");
    let o_s = out.to_str().unwrap();
    let ro = d.path().join("ro");
    std::fs::write(&ro, b"a file, not a directory").unwrap();
    let ro_out = ro.join("run");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--duration", "ten", "--out", o_s, "--", "true"],
            2,
            "invalid duration 'ten'",
        ),
        (
            vec![
                "--duration",
                "10m",
                "--max-total-growth",
                "lots",
                "--out",
                o_s,
                "--",
                "true",
            ],
            2,
            "invalid size 'lots'",
        ),
        (
            vec!["--max-growth-rate", "5MB", "--out", o_s, "--", "true"],
            2,
            "invalid rate '5MB'",
        ),
        (
            vec!["--interval", "0s", "--out", o_s, "--", "true"],
            2,
            "--interval 0",
        ),
        (
            vec!["--interval", "-1s", "--out", o_s, "--", "true"],
            2,
            "-1s",
        ),
        (
            vec!["--interval", "20m", "--out", o_s, "--", "true"],
            2,
            "longer than --duration",
        ),
        (
            vec!["--pid", "999999999", "--out", o_s],
            2,
            "no such process",
        ),
        (vec!["--out", o_s], 2, "nothing to soak"),
        (vec!["--bogus", "--", "true"], 2, "--bogus"),
        (
            vec!["--metric", "pss", "--out", o_s, "--", "true"],
            2,
            "--pss",
        ),
        (
            vec![
                "--duration",
                "2s",
                "--out",
                ro_out.to_str().unwrap(),
                "--",
                "true",
            ],
            5,
            "cannot create run directory",
        ),
    ];
    for (args, want, needle) in cases {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), want, "{args:?}: {}", show(&o));
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?} one line: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{args:?} left a run directory");
    }
}

#[test]
fn max_cpu_and_fd_limits_gate() {
    let d = tmp();
    let out = d.path().join("run");
    let w = workload();
    let o = run(&[
        "--duration",
        "8s",
        "--interval",
        "100ms",
        "--warmup",
        "2s",
        "--max-growth-rate",
        "1GB/h",
        "--max-fd-growth",
        "100",
        "--max-cpu",
        "50",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "fds",
        "20",
    ]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let r = report(&out);
    let checks = r["checks"].as_array().unwrap();
    let fd = checks
        .iter()
        .find(|c| c["limit_name"] == "max_growth_rate" && c["metric"] == "fds")
        .unwrap();
    assert_eq!(fd["verdict"], "FAIL", "20 fds/s = 72000/h: {fd}");
    let cpu = checks
        .iter()
        .find(|c| c["limit_name"] == "max_cpu")
        .unwrap();
    assert_eq!(cpu["verdict"], "PASS", "{cpu}");
}

#[test]
fn pids_with_finds_marked_processes_named_soak_but_never_soak_itself() {
    let m = marker();
    // A process whose command line says "soak" (as a clone's path would) is found.
    let mut named = Command::new("sh")
        .args(["-c", "sleep 30", &format!("soak-{m}")])
        .spawn()
        .unwrap();
    // soak carries the marker in its own command line (the target's arguments): it is
    // not one of the target's processes; its `sleep` target is.
    let d = tmp();
    let mut soak_p = Command::new(soak())
        .args(["--duration", "30s", "--out"])
        .arg(d.path().join("run"))
        .args(["--", "sleep", "30", &m])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let mut found = pids_with(&m);
    while found.len() < 2 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        found = pids_with(&m);
    }
    assert!(found.contains(&named.id()), "{found:?}");
    assert!(
        !found.contains(&soak_p.id()),
        "soak itself is excluded: {found:?}"
    );
    assert_eq!(found.len(), 2, "the sh and soak's sleep: {found:?}");
    named.kill().unwrap();
    named.wait().unwrap();
    soak_p.kill().unwrap();
    soak_p.wait().unwrap();
    assert!(wait_gone(&m, Duration::from_secs(5)), "{:?}", pids_with(&m));
}

/// A target with more threads than soak may open descriptors (a thread leak) is followed
/// to the end: soak keeps no descriptor per thread, so it never runs out.
#[test]
fn a_target_with_more_threads_than_soaks_descriptor_limit_is_followed() {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("threads.py");
    std::fs::write(
        &script,
        "import threading, time\nev = threading.Event()\nfor _ in range(300):\n    threading.Thread(target=ev.wait, daemon=True).start()\ntime.sleep(30)\n",
    )
    .unwrap();
    let out = d.path().join("run");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec {} --duration 3s --interval 500ms --no-heap -q --out {} -- python3 {}",
            soak().display(),
            out.display(),
            script.display()
        ))
        .output()
        .unwrap();
    assert_ne!(code(&o), 5, "{}", show(&o));
    let tl = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let header: Vec<&str> = tl.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|c| *c == "threads").unwrap();
    let last = tl.lines().last().unwrap().split(',').nth(col).unwrap();
    assert!(last.parse::<u64>().unwrap() >= 300, "{tl}");
}
