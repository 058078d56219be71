//! Nothing left behind: not by a soak killed in its first milliseconds, not by a full
//! disk, not by a run that fails before it starts.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// soak's folders in /dev/shm (heap counters, node's preload) for soak pid `pid`.
fn shm_of(pid: u32) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.starts_with(&format!("soak-heap-{pid}-"))
                        || n.starts_with(&format!("soak-runtime-{pid}-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (the guard cleans up after soak dies) until `gone` holds; its last answer.
fn eventually(mut gone: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if gone() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gone()
}

#[test]
fn sigkill_in_the_first_milliseconds_leaves_no_shim_and_no_shm() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..24u64 {
        let out = d.path().join(format!("run{round}"));
        let mut c = Command::new(soak())
            .args([
                "--duration",
                "10s",
                "--interval",
                "100ms",
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .args(["--", "sleep", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = c.id();
        // 0.5 to 6 ms: around the moment the heap files are made.
        std::thread::sleep(Duration::from_micros(500 + (round * 250)));
        c.kill().unwrap();
        c.wait().unwrap();
        let shim = out.join(".soak-heap-shim.so");
        assert!(
            eventually(|| !shim.exists() && shm_of(pid).is_empty()),
            "round {round}: left {} and {:?}",
            if shim.exists() {
                shim.display().to_string()
            } else {
                "no shim".into()
            },
            shm_of(pid)
        );
    }
}

#[test]
fn a_run_that_fails_before_it_starts_leaves_no_reports_folder() {
    let d = tempfile::tempdir().unwrap();
    // Exit 4: the target does not start.
    let o = Command::new(soak())
        .current_dir(d.path())
        .args(["--duration", "5s", "--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", show(&o));
    assert!(!d.path().join("reports").exists(), "reports/ left behind");
    // Exit 5: the metrics port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(soak())
        .current_dir(d.path())
        .args([
            "--duration",
            "5s",
            "--metrics-addr",
            &addr,
            "--",
            "sleep",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", show(&o));
    assert!(!d.path().join("reports").exists(), "reports/ left behind");
    // A reports/ folder that already held something is kept.
    std::fs::create_dir(d.path().join("reports")).unwrap();
    std::fs::write(d.path().join("reports/keep"), b"").unwrap();
    let o = Command::new(soak())
        .current_dir(d.path())
        .args(["--duration", "5s", "--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", show(&o));
    let left: Vec<_> = std::fs::read_dir(d.path().join("reports"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("keep")]);
}

#[test]
fn stale_shm_folders_of_dead_soaks_are_swept() {
    // A pid that has exited (and, this soon, has not been reused).
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = [
        format!("/dev/shm/soak-heap-{dead}-1"),
        format!("/dev/shm/soak-runtime-{dead}-1"),
    ];
    for s in &stale {
        std::fs::create_dir_all(s).unwrap();
    }
    // A live process's folder is kept.
    let me = std::process::id();
    let live = format!("/dev/shm/soak-heap-{me}-1");
    std::fs::create_dir_all(&live).unwrap();
    let d = tempfile::tempdir().unwrap();
    let o = run(&[
        "--duration",
        "1s",
        "--interval",
        "100ms",
        "--out",
        d.path().join("run").to_str().unwrap(),
        "--",
        "sleep",
        "5",
    ]);
    let kept = Path::new(&live).exists();
    let _ = std::fs::remove_dir_all(&live);
    assert!(matches!(code(&o), 0 | 1 | 3), "{}", show(&o));
    for s in &stale {
        assert!(!Path::new(s).exists(), "{s} not swept");
    }
    assert!(kept, "a live pid's folder was removed");
}

#[test]
fn full_disk_at_start_leaves_no_shm() {
    if skip_unless(
        is_root(),
        "full_disk_at_start_leaves_no_shm",
        "needs root to mount a tmpfs",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("tiny");
    std::fs::create_dir(&mnt).unwrap();
    // One page: the run directory and its probe fit, the heap shim does not.
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a 4 kB tmpfs");
    let c = Command::new(soak())
        .args(["--duration", "5s", "--out"])
        .arg(mnt.join("run"))
        .args(["--", "sleep", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = c.id();
    let o = c.wait_with_output().unwrap();
    let run_left = mnt.join("run").exists();
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(code(&o), 5, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No space left on device"),
        "{}",
        show(&o)
    );
    assert!(
        eventually(|| shm_of(pid).is_empty()),
        "left in /dev/shm: {:?}",
        shm_of(pid)
    );
    assert!(!run_left, "the run directory of a run that never started");
}
