//! `soak prune` on run directories made by real short runs (aged with libfaketime, one
//! SIGKILLed before its report, one still running), next to decoys it must never touch.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The arguments of a one-second run named `name` writing into `out`.
fn run_args(name: &str, out: &Path) -> Vec<String> {
    let w = workload();
    [
        "--duration",
        "1s",
        "--interval",
        "100ms",
        "--warmup",
        "300ms",
        "--quiet",
        "--name",
        name,
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "steady",
        "3",
    ]
    .map(String::from)
    .to_vec()
}

/// soak with the wall clock `days_ago` days back (libfaketime), so the run's report and
/// timeline say it ended then; the monotonic clock is left alone.
fn soak_at(days_ago: u32, args: &[String]) -> Command {
    let mut c = Command::new(soak());
    c.args(args);
    if days_ago > 0 {
        c.env("LD_PRELOAD", libfaketime())
            .env("FAKETIME", format!("-{days_ago}d"))
            .env("DONT_FAKE_MONOTONIC", "1");
    }
    c
}

/// A finished run `name` that ended `days_ago` days ago, at `dir/dir_name`.
fn finished_run(dir: &Path, dir_name: &str, name: &str, days_ago: u32) -> PathBuf {
    let out = dir.join(dir_name);
    let o = soak_at(days_ago, &run_args(name, &out)).output().unwrap();
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    assert!(out.join("report.json").exists());
    out
}

/// A run whose soak was SIGKILLed once its timeline had rows: no report.json.
fn killed_run(dir: &Path, dir_name: &str, days_ago: u32) -> PathBuf {
    let out = dir.join(dir_name);
    let mut args = run_args("killed", &out);
    args[1] = "1h".into();
    let mut child = soak_at(days_ago, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_rows(&out, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("report.json").exists());
    out
}

/// Waits until `dir`'s timeline has `rows` rows.
fn wait_rows(dir: &Path, rows: usize) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let n = std::fs::read_to_string(dir.join("timeline.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if n >= rows {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{}: no {rows} timeline rows within 20 s", dir.display());
}

fn prune(args: &[&str]) -> Output {
    let mut all = vec!["prune"];
    all.extend(args);
    run(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn removes_old_runs_and_nothing_else() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("reports");
    std::fs::create_dir(&dir).unwrap();
    let old_a = finished_run(&dir, "a-old", "a", 40);
    let new_a = finished_run(&dir, "a-new", "a", 0);
    let old_b = finished_run(&dir, "b-old", "b", 35);
    let killed = killed_run(&dir, "killed-20261001T020000Z", 50);
    // An old run the user added a file to: not soak's alone any more.
    let annotated = finished_run(&dir, "annotated", "c", 60);
    std::fs::write(annotated.join("notes.txt"), "why this run failed").unwrap();
    // Decoys: a file, a folder of the user's, a folder with a timeline that is not
    // soak's, one with someone else's report.json, and a link to an old run elsewhere.
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/data.csv"), "x,y\n1,2\n").unwrap();
    std::fs::create_dir(dir.join("other-csv")).unwrap();
    std::fs::write(dir.join("other-csv/timeline.csv"), "time,value\n1,2\n").unwrap();
    std::fs::create_dir(dir.join("other-json")).unwrap();
    std::fs::write(dir.join("other-json/report.json"), r#"{"name":"x"}"#).unwrap();
    let elsewhere = finished_run(t.path(), "elsewhere", "a", 90);
    std::os::unix::fs::symlink(&elsewhere, dir.join("link-to-old-run")).unwrap();

    let dry = prune(&[dir.to_str().unwrap(), "--older-than", "30d", "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", show(&dry));
    assert!(stdout(&dry).contains("would remove"), "{}", show(&dry));
    for d in [&old_a, &old_b, &killed] {
        assert!(d.exists(), "--dry-run removed {}", d.display());
    }

    let o = prune(&[dir.to_str().unwrap(), "--older-than", "30d"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = stdout(&o);
    for gone in [&old_a, &old_b, &killed] {
        assert!(
            !gone.exists(),
            "{} not removed: {}",
            gone.display(),
            show(&o)
        );
        assert!(
            out.contains(&format!("removed {}", gone.display())),
            "each removal printed: {out}"
        );
    }
    assert!(out.contains("ended 2"), "{out}");
    assert!(out.contains("removed 3 of 5 runs"), "{out}");
    assert!(
        out.contains("(killed, ended"),
        "a killed run's name comes from its directory: {out}"
    );
    assert!(new_a.join("report.json").exists(), "a young run stays");
    assert!(
        annotated.join("notes.txt").exists() && annotated.join("report.json").exists(),
        "a run holding a file soak did not write stays whole"
    );
    assert!(
        stderr(&o).contains("holds notes.txt, a file soak did not write"),
        "{}",
        show(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert!(dir.join("mine/data.csv").exists());
    assert!(dir.join("other-csv/timeline.csv").exists());
    assert!(dir.join("other-json/report.json").exists());
    assert!(
        std::fs::symlink_metadata(dir.join("link-to-old-run")).is_ok()
            && elsewhere.join("report.json").exists(),
        "a link and what it points to stay"
    );
}

#[test]
fn keep_leaves_the_newest_of_each_name() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("reports");
    let a3 = finished_run(&dir, "a-3", "a", 3);
    let a2 = finished_run(&dir, "a-2", "a", 2);
    let a1 = finished_run(&dir, "a-1", "a", 1);
    let b9 = finished_run(&dir, "b-9", "b", 9);
    let o = prune(&[dir.to_str().unwrap(), "--keep", "2"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(!a3.exists(), "the oldest a goes: {}", show(&o));
    assert!(a2.exists() && a1.exists(), "the newest two a stay");
    assert!(b9.exists(), "b's only run stays: --keep counts per name");
    // Both rules: past the newest one AND older than 2.5 days — a-2 is too young.
    let o = prune(&[dir.to_str().unwrap(), "--keep", "1", "--older-than", "60h"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(a2.exists() && a1.exists() && b9.exists(), "{}", show(&o));
}

#[test]
fn a_run_being_written_is_left_alone() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("reports");
    let out = dir.join("live");
    let mut args = run_args("live", &out);
    args[1] = "4s".into();
    let mut child: Child = soak_at(0, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_rows(&out, 2);
    let o = prune(&[dir.to_str().unwrap(), "--keep", "0"]);
    let running = child.try_wait().unwrap().is_none();
    assert!(running, "the run lasted through prune");
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(out.join("timeline.csv").exists(), "{}", show(&o));
    assert!(
        stderr(&o).contains("a running soak is writing it"),
        "{}",
        show(&o)
    );
    assert!(child
        .wait()
        .unwrap()
        .code()
        .is_some_and(|c| c == 0 || c == 3));
    let o = prune(&[dir.to_str().unwrap(), "--keep", "0"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(!out.exists(), "removable once finished: {}", show(&o));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("f");
    std::fs::write(&file, "").unwrap();
    let missing = t.path().join("missing");
    for (args, says) in [
        (vec![t.path().to_str().unwrap()], "needs --keep N"),
        (
            vec![missing.to_str().unwrap(), "--keep", "1"],
            "cannot read",
        ),
        (
            vec![file.to_str().unwrap(), "--keep", "1"],
            "not a directory",
        ),
        (
            vec![t.path().to_str().unwrap(), "--older-than", "soon"],
            "--older-than",
        ),
    ] {
        let o = prune(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", show(&o));
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
