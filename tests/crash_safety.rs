//! soak killed at random moments, and the disk filling up: the timeline stays valid and
//! the target never outlives soak.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A tmpfs of `size` mounted at `dir/small` (root only): a disk that fills up.
fn small_tmpfs(dir: &std::path::Path, size: &str) -> std::path::PathBuf {
    let mnt = dir.join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a {size} tmpfs");
    mnt
}

/// Every line but the last must be a whole row; the last may be torn.
fn check_rows(csv: &str) -> usize {
    let lines: Vec<&str> = csv.split_inclusive('\n').collect();
    assert!(!lines.is_empty(), "an empty timeline (no header)");
    assert!(
        lines[0].starts_with("timestamp,elapsed_s"),
        "header: {:?}",
        lines[0]
    );
    // The contract's 13 columns and the extras a process run adds after them.
    let width = lines[0].trim_end().split(',').count();
    assert!(width >= 13, "header: {:?}", lines[0]);
    for (i, l) in lines.iter().enumerate().skip(1) {
        let whole = l.ends_with('\n') && l.trim_end().split(',').count() == width;
        assert!(
            whole || i == lines.len() - 1,
            "line {} torn in the middle: {l:?}",
            i + 1
        );
    }
    lines.len() - 1
}

#[test]
fn sigkill_at_twenty_random_moments() {
    let d = tempfile::tempdir().unwrap();
    // A fixed pseudo-random sequence of kill delays, 150 ms to 1.5 s.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut checked = 0;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(150 + seed % 1350);
        let out = d.path().join(format!("run{round}"));
        let m = marker();
        let mut soak_p = spawn_soak_on_tree(&out, "10ms", 1, &m);
        let soak_pid = soak_p.id();
        std::thread::sleep(delay);
        soak_p.kill().unwrap();
        soak_p.wait().unwrap();
        assert!(
            wait_gone(&m, Duration::from_secs(5)),
            "round {round} ({delay:?}): target outlived soak: {:?}",
            pids_with(&m)
        );
        // The heap counters in /dev/shm go too (the guard removes them).
        let counters = |pid: u32| -> Vec<String> {
            std::fs::read_dir("/dev/shm")
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with(&format!("soak-heap-{pid}-")))
                        .collect()
                })
                .unwrap_or_default()
        };
        let t0 = std::time::Instant::now();
        while !counters(soak_pid).is_empty() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            counters(soak_pid).is_empty(),
            "round {round}: heap counters left in /dev/shm"
        );
        let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap_or_default();
        if csv.is_empty() {
            // Killed before the timeline was created: nothing to lose.
            continue;
        }
        let rows = check_rows(&csv);
        let a = run(&[
            "analyze",
            out.join("timeline.csv").to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(matches!(code(&a), 0 | 1 | 3), "round {round}: {}", show(&a));
        let r: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
        let taken = r["samples"]["taken"].as_u64().unwrap() as usize;
        assert!(
            taken + 1 >= rows,
            "round {round}: at most the last row lost ({taken} of {rows})"
        );
        checked += 1;
    }
    // Kills at 150 ms and later come after the timeline's creation nearly always: a
    // test that checked few rounds would pass without testing anything.
    assert!(
        checked >= 15,
        "only {checked} of 20 rounds had a timeline to check"
    );
}

#[test]
fn full_disk_is_exit_5_with_a_valid_timeline() {
    if skip_unless(
        is_root(),
        "full_disk_is_exit_5_with_a_valid_timeline",
        "needs root to mount a tmpfs",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // The heap shim (about 40 kB) goes into the run directory too: room for it and a
    // few hundred rows.
    let mnt = small_tmpfs(d.path(), "128k");
    let out = mnt.join("run");
    let m = marker();
    let o = Command::new(soak())
        .args([
            "--duration",
            "60s",
            "--interval",
            "2ms",
            "--grace",
            "2s",
            "--out",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(workload())
        .args(["steady", &m])
        .output()
        .unwrap();
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let rows = check_rows(&csv);
    let copy = d.path().join("timeline.csv");
    std::fs::write(&copy, &csv).unwrap();
    let files = ["report.json", "report.md", "report.html", "junit.xml"];
    let present: Vec<bool> = files.iter().map(|f| out.join(f).exists()).collect();
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(code(&o), 5, "{}", show(&o));
    // What the error says was (not) written is what is on the disk.
    let said = String::from_utf8_lossy(&o.stderr).to_string();
    let exists = |f: &str| present[files.iter().position(|x| *x == f).unwrap()];
    if said.contains("report not written") {
        assert!(!exists("report.json"), "report.json is there: {said}");
    } else if let Some(rest) = said.split("report incomplete: ").nth(1) {
        let (missing, written) = rest.split_once(" not written").unwrap();
        for f in missing.split(", ") {
            assert!(!exists(f.trim()), "{f} said missing but there: {said}");
        }
        let written = written.split("written: ").nth(1).unwrap().trim();
        for f in written.split(", ") {
            assert!(exists(f.trim()), "{f} said written but missing: {said}");
        }
    } else {
        assert!(present.iter().all(|p| *p), "report said written: {said}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.contains("No space left on device") && last.contains("complete rows"),
        "{err}"
    );
    assert_eq!(
        err.trim().lines().count(),
        2,
        "start line and one error line: {err}"
    );
    assert!(rows > 100, "{rows} rows before the disk filled");
    assert!(wait_gone(&m, Duration::from_secs(3)), "target stopped");
    let a = run(&["analyze", copy.to_str().unwrap()]);
    assert!(matches!(code(&a), 0 | 1 | 3), "{}", show(&a));
}

/// A monitor error while attached says the pid was left running (soak never signals
/// a process it did not start), not "target stopped"; the report that cannot be written
/// leaves no `report.tmp`.
#[test]
fn full_disk_while_attached_leaves_the_pid_running_and_says_so() {
    if skip_unless(
        is_root(),
        "full_disk_while_attached_leaves_the_pid_running_and_says_so",
        "needs root to mount a tmpfs",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mnt = small_tmpfs(d.path(), "48k");
    let mut target = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = target.id().to_string();
    let o = Command::new(soak())
        .args(["--duration", "60s", "--interval", "2ms", "--out"])
        .arg(mnt.join("run"))
        .args(["--pid", &pid])
        .output()
        .unwrap();
    let tmp_left = mnt.join("run/report.tmp").exists();
    let _ = Command::new("umount").arg(&mnt).status();
    let alive = target.try_wait().unwrap().is_none();
    let _ = target.kill();
    let _ = target.wait();
    assert_eq!(code(&o), 5, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.contains("No space left on device")
            && last.contains(&format!("pid {pid} left running (attached)"))
            && !last.contains("target stopped"),
        "{err}"
    );
    assert!(alive, "the attached pid was never signalled");
    assert!(
        !tmp_left,
        "a report that could not be written leaves no report.tmp"
    );
}

#[test]
fn wall_clock_jump_does_not_disturb_elapsed() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let clock = d.path().join("faketime");
    std::fs::write(&clock, "+0\n").unwrap();
    let mut child = Command::new(soak())
        .args([
            "--duration",
            "3s",
            "--interval",
            "100ms",
            "--out",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(workload())
        .args(["steady", "3"])
        // Fake only the wall clock (CLOCK_REALTIME), re-read on every call.
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME_TIMESTAMP_FILE", &clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("DONT_FAKE_MONOTONIC", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(&clock, "+2d\n").unwrap(); // the wall clock jumps two days ahead
    assert!(child.wait().unwrap().success());
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let rows: Vec<(chrono::DateTime<chrono::FixedOffset>, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            let ts = chrono::DateTime::parse_from_rfc3339(f.next().unwrap()).unwrap();
            (ts, f.next().unwrap().parse().unwrap())
        })
        .collect();
    let jumps = rows
        .windows(2)
        .filter(|w| (w[1].0 - w[0].0).num_hours() >= 47)
        .count();
    assert_eq!(jumps, 1, "the wall clock jumped once in the timestamps");
    for w in rows.windows(2) {
        let dt = w[1].1 - w[0].1;
        assert!(
            dt > 0.05 && dt < 0.3,
            "elapsed_s stays monotonic and even: {dt}"
        );
    }
    let r = report(&out);
    assert!(
        r["elapsed_s"].as_f64().unwrap() < 10.0,
        "elapsed is not the wall-clock span"
    );
}
