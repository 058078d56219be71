//! The OOM killer named in the report, and attaching to another user's process. Both
//! need root (a memory cgroup to create; a user to switch to), which CI has.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

/// A fresh memory cgroup limited to `bytes` (v1 or v2), or why there is none.
fn memory_cgroup(name: &str, bytes: u64) -> Result<(PathBuf, &'static str), String> {
    let v1 = PathBuf::from("/sys/fs/cgroup/memory");
    if v1.join("memory.limit_in_bytes").exists() {
        let d = v1.join(name);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        std::fs::write(d.join("memory.limit_in_bytes"), bytes.to_string())
            .map_err(|e| e.to_string())?;
        return Ok((d, "v1"));
    }
    let v2 = PathBuf::from("/sys/fs/cgroup");
    let ctl = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
    if ctl.split_whitespace().any(|c| c == "memory") {
        let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+memory");
        let d = v2.join(name);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        std::fs::write(d.join("memory.max"), bytes.to_string()).map_err(|e| e.to_string())?;
        let _ = std::fs::write(d.join("memory.swap.max"), "0");
        return Ok((d, "v2"));
    }
    Err("no writable memory cgroup (v1 or v2) on this machine".into())
}

#[test]
fn oom_killed_target_is_named_and_exits_4() {
    if skip_unless(
        is_root(),
        "oom_killed_target_is_named_and_exits_4",
        "needs root to create a memory cgroup",
    ) {
        return;
    }
    let name = format!("soak-oom-test-{}", std::process::id());
    let (cg, _) = memory_cgroup(&name, 64 * 1024 * 1024).expect("memory cgroup for the OOM test");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    // soak joins the cgroup, then execs: the target (which is much bigger) inherits it.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec \"$0\" \"$@\"",
        cg.display()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(soak())
        .args([
            "--duration",
            "60s",
            "--interval",
            "100ms",
            "--out",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(workload())
        .args(["leak", "1200"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&cg);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["target_exit"]["signal"], "SIGKILL");
    let oom = r["target_exit"]["oom"].as_str().unwrap();
    assert!(oom.starts_with("OOM-killed"), "evidence expected: {oom}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("OOM-killed"));
}

#[test]
fn attaching_to_another_users_process_is_a_permission_error() {
    if skip_unless(
        is_root(),
        "attaching_to_another_users_process_is_a_permission_error",
        "needs root to switch users",
    ) {
        return;
    }
    let mut target = Command::new(workload())
        .args(["steady", "5"])
        .spawn()
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(soak())
        .args([
            "--pid",
            &target.id().to_string(),
            "--duration",
            "5s",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("setpriv (util-linux) runs soak as nobody");
    target.kill().unwrap();
    target.wait().unwrap();
    assert_eq!(code(&o), 5, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Permission denied") && err.contains("run soak as"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1);
    assert!(!out.exists());
}

#[test]
fn a_skip_under_ci_fails_the_test() {
    // Under CI a test that cannot run must fail, not pass vacuously.
    let r = std::panic::catch_unwind(|| skip_unless_in(true, false, "some_test", "needs root"));
    assert!(r.is_err(), "a skip under CI=true panics");
    // Elsewhere it is a visible skip; a test that can run is never skipped.
    assert!(skip_unless_in(false, false, "some_test", "needs root"));
    assert!(!skip_unless_in(true, true, "some_test", "needs root"));
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.log");
    assert!(std::fs::read_to_string(log)
        .unwrap()
        .contains("some_test: needs root"));
}

#[test]
fn oom_killed_child_fails_the_run_unless_allowed() {
    if skip_unless(
        is_root(),
        "oom_killed_child_fails_the_run_unless_allowed",
        "needs root to create a memory cgroup",
    ) {
        return;
    }
    let name = format!("soak-child-oom-test-{}", std::process::id());
    let (cg, _) = memory_cgroup(&name, 64 * 1024 * 1024).expect("memory cgroup for the OOM test");
    let d = tempfile::tempdir().unwrap();
    // The main process (sh) stays small and lives; its child leaks into the OOM killer.
    let target = format!("\"{}\" leak 1200 & sleep 30", workload().display());
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec \"$0\" \"$@\"",
        cg.display()
    );
    let run_in_cgroup = |out: &std::path::Path, extra: &[&str]| {
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .arg(soak())
            .args(["--duration", "6s", "--interval", "100ms", "--out"])
            .arg(out)
            .args(extra)
            .args(["--", "sh", "-c", &target])
            .output()
            .unwrap()
    };
    let out = d.path().join("strict");
    let o = run_in_cgroup(&out, &[]);
    let allowed_out = d.path().join("allowed");
    let allowed = run_in_cgroup(&allowed_out, &["--allow-child-oom"]);
    let _ = std::fs::remove_dir(&cg);

    assert_eq!(code(&o), 4, "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["end"]["reason"], "deadline", "the main process lived");
    assert_eq!(r["target_failed"], true);
    let child = r["child_oom"].as_str().unwrap();
    assert!(child.contains("OOM"), "{child}");
    assert!(r["notes"].to_string().contains("--allow-child-oom"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("child_oom_killed"), "{junit}");

    assert!(
        matches!(code(&allowed), 0 | 1 | 3),
        "allowed: the verdict decides: {}",
        show(&allowed)
    );
    let r = report(&allowed_out);
    assert_eq!(r["target_failed"], false);
    assert!(r["child_oom"].is_string(), "still reported");
}

/// A member whose `smaps_rollup` soak may not read (a non-dumpable process, seen by a
/// soak without CAP_SYS_PTRACE) costs that member's PSS, named in a note, never the run.
#[test]
fn unreadable_smaps_rollup_skips_that_members_pss() {
    if skip_unless(
        is_root(),
        "unreadable_smaps_rollup_skips_that_members_pss",
        "needs root to run soak and its target as nobody",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = d.path().join("run");
    let m = marker();
    let py = "import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); time.sleep(60)";
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(soak())
        .args([
            "--duration",
            "3s",
            "--interval",
            "200ms",
            "--pss",
            "--no-heap",
            "--out",
            out.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &format!("/usr/bin/python3 -c '{py}' & wait"),
            "sh",
            &m,
        ])
        .output()
        .unwrap();
    assert!(matches!(code(&o), 0 | 1 | 3), "{}", show(&o));
    let r = report(&out);
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("pss_bytes leaves out 1 process(es)")
            && notes.contains("/smaps_rollup: Permission denied"),
        "{notes}"
    );
    let csv = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    let pss: Vec<&str> = csv
        .lines()
        .skip(2)
        .filter_map(|l| l.split(',').nth(8))
        .collect();
    assert!(
        !pss.is_empty() && pss.iter().all(|v| v.parse::<u64>().is_ok()),
        "the shell's PSS is still read: {pss:?}"
    );
    assert!(
        wait_gone(&m, std::time::Duration::from_secs(3)),
        "{:?}",
        pids_with(&m)
    );
}
