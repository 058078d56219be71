//! The systemd units: `systemd-analyze verify` passes on them, and the flags their
//! ExecStart gives soak are accepted (run with a shipped profile).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_dir(&src, &dst);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src).unwrap();
            let _ = std::os::unix::fs::symlink(target, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // A root with the units installed where the README says, soak where ExecStart
    // expects it, and the distribution's own units (sysinit.target, …).
    copy_dir(&repo.join("systemd"), &r.join("etc/systemd/system"));
    std::fs::create_dir_all(r.join("usr/local/bin")).unwrap();
    std::fs::copy(soak(), r.join("usr/local/bin/soak")).unwrap();
    copy_dir(
        Path::new("/usr/lib/systemd/system"),
        &r.join("usr/lib/systemd/system"),
    );
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .args(["soak@nightly.service", "soak-nightly@nightly.timer"])
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed; .ci/run installs it");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "verify failed: {err}");
    assert!(err.trim().is_empty(), "verify warned: {err}");
}

#[test]
fn exec_start_flags_work_with_a_shipped_profile() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(repo.join("systemd/soak@.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart line");
    let mut args: Vec<String> = exec
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("%i", "smoke"))
        .collect();
    // The instance's profile would be /etc/soak/smoke.toml; use the shipped one.
    for a in args.iter_mut() {
        if a == "/etc/soak/smoke.toml" {
            *a = repo.join("soak/smoke.toml").display().to_string();
        }
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let w = workload();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend([
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "steady",
        "5",
    ]);
    let o = run(&all);
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    let r = report(&out);
    assert_eq!(r["name"], "smoke");
    assert_eq!(
        r["limits"]["max_peak_bytes"], 2_000_000_000u64,
        "profile's max_peak applied"
    );
}
