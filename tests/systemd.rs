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

/// Every unit the repository ships, with an instance where it is a template.
const UNITS: [&str; 5] = [
    "soak@nightly.service",
    "soak-nightly@nightly.timer",
    "soak-prune.service",
    "soak-prune.timer",
    "soak-notify@soak@nightly.service.service",
];

/// `systemd-analyze verify` of `units` in the root `r`: its stderr (empty when clean).
/// verify also looks up each Documentation=man: page with `man`, on MANPATH.
fn verify(r: &Path, units: &[&str]) -> String {
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .args(units)
        .env("MANPATH", r.join("usr/share/man"))
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed; .ci/run installs it");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "verify failed: {err}");
    err
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // A root with the units installed where the README's manual install puts them, soak
    // and the notify script where the units (and the package) expect them, and the
    // distribution's own units (sysinit.target, …).
    copy_dir(&repo.join("systemd"), &r.join("etc/systemd/system"));
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::copy(soak(), r.join("usr/bin/soak")).unwrap();
    std::fs::create_dir_all(r.join("usr/lib/soak")).unwrap();
    std::fs::copy(
        repo.join("systemd/soak-notify"),
        r.join("usr/lib/soak/soak-notify"),
    )
    .unwrap();
    copy_dir(
        Path::new("/usr/lib/systemd/system"),
        &r.join("usr/lib/systemd/system"),
    );
    // The pages Documentation= names, as the package installs them.
    let man1 = r.join("usr/share/man/man1");
    let o = run(&["man", "--dir", man1.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let err = verify(r, &UNITS);
    assert!(err.trim().is_empty(), "verify warned: {err}");
}

/// A unit file's values of `key`, in order.
fn values(unit: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    unit.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_run_unit_is_not_root_and_every_verdict_but_pass_fails_it() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(repo.join("systemd/soak@.service")).unwrap();
    assert_eq!(values(&unit, "User"), ["soak"]);
    assert_eq!(values(&unit, "OnFailure"), ["soak-notify@%n.service"]);
    assert!(
        values(&unit, "SuccessExitStatus").is_empty(),
        "FAIL (1), INCONCLUSIVE (3) and target failed (4) must fail the unit"
    );
    assert_eq!(values(&unit, "Documentation"), ["man:soak(1)"]);
    for exec in values(&unit, "ExecStart") {
        assert!(
            exec.starts_with("/usr/bin/soak "),
            "the package's path: {exec}"
        );
    }
}

#[test]
fn a_nightly_run_ends_before_the_next_nightly_start() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let timer = std::fs::read_to_string(repo.join("systemd/soak-nightly@.timer")).unwrap();
    assert_eq!(values(&timer, "OnCalendar"), ["*-*-* 02:00:00"], "daily");
    let profile: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo.join("soak/nightly.toml")).unwrap()).unwrap();
    let hours: u64 = profile["duration"]
        .as_str()
        .and_then(|d| d.strip_suffix('h'))
        .and_then(|h| h.parse().ok())
        .expect("nightly.toml's duration in whole hours");
    // The unit may take TimeoutStopSec=5min to stop; an hour or more must be left.
    assert!(hours <= 23, "a {hours} h run meets the next 02:00 start");
}

/// The notify script with the environment systemd gives an OnFailure= unit.
fn notify(unit: &str, status: i32, reports: &Path, hook: &Path) -> std::process::Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/soak-notify"))
        .arg(unit)
        .env("MONITOR_EXIT_STATUS", status.to_string())
        .env("MONITOR_SERVICE_RESULT", "exit-code")
        .env("SOAK_REPORTS", reports)
        .env("SOAK_NOTIFY_HOOK", hook)
        .output()
        .unwrap()
}

#[test]
fn a_failed_run_is_logged_at_err_and_reaches_the_hook() {
    let t = tempfile::tempdir().unwrap();
    let reports = t.path().join("reports");
    // The unit's run: soak named after the instance, default run directory under the
    // working directory, a leak that FAILs.
    let w = workload();
    let o = Command::new(soak())
        .current_dir(t.path())
        .args([
            "--name",
            "leaky",
            "--duration",
            "2s",
            "--interval",
            "100ms",
            "--warmup",
            "300ms",
            "--max-growth-rate",
            "1MB/h",
            "--quiet",
            "--",
        ])
        .arg(&w)
        .args(["leak", "50"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", show(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Another instance whose name starts the same is not this one's run.
    std::fs::create_dir(reports.join("leaky-b-20991231T000000Z")).unwrap();
    let hook = t.path().join("hook");
    let got = t.path().join("hook.env");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nenv | grep ^SOAK_ | sort > {}\n", got.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let n = notify("soak@leaky.service", code(&o), &reports, &hook);
    assert!(n.status.success(), "{}", show(&n));
    let line = String::from_utf8_lossy(&n.stderr).into_owned();
    assert!(
        line.starts_with("<3>soak@leaky.service: FAIL: a limit was exceeded (exit 1); report: "),
        "{line}"
    );
    assert!(line.contains(&run_dir.display().to_string()), "{line}");
    let env = std::fs::read_to_string(&got).unwrap();
    for want in [
        "SOAK_EXIT_STATUS=1".to_string(),
        "SOAK_INSTANCE=leaky".to_string(),
        "SOAK_UNIT=soak@leaky.service".to_string(),
        format!("SOAK_RUN_DIR={}", run_dir.display()),
    ] {
        assert!(
            env.lines().any(|l| l == want),
            "hook env lacks {want}: {env}"
        );
    }

    // No hook: the journal line alone, and a success.
    let none = t.path().join("no-hook");
    let n = notify("soak@other.service", 3, &reports, &none);
    assert!(n.status.success(), "{}", show(&n));
    let line = String::from_utf8_lossy(&n.stderr);
    assert!(
        line.starts_with("<3>soak@other.service: INCONCLUSIVE")
            && line.contains("no run directory"),
        "{line}"
    );
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
