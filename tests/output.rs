//! soak's own output channels: a closed stdout or stderr, machine-readable stdout under
//! GitHub Actions, and hostile strings through every exporter.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Command, Stdio};

/// A pipe whose read end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fresh descriptors, each owned once below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fds[0] and fds[1] are valid and owned by nobody else.
    let (reader, writer) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    Stdio::from(writer)
}

/// Runs soak for 1 s on `sleep 30` with stdout and stderr as given; returns the exit
/// code and the run directory's tempdir.
fn run_with(stdout: Stdio, stderr: Stdio, format: &str) -> (i32, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let status = Command::new(soak())
        .args([
            "--duration",
            "1s",
            "--interval",
            "100ms",
            "--format",
            format,
        ])
        .arg("--out")
        .arg(&out)
        .args(["--", "sleep", "30"])
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .unwrap();
    (status.code().unwrap_or(-1), d)
}

fn assert_reported(d: &tempfile::TempDir) {
    let out = d.path().join("run");
    for f in ["report.json", "report.md", "report.html", "junit.xml"] {
        assert!(out.join(f).exists(), "{f} written");
    }
}

#[test]
fn closed_stdout_keeps_the_report_and_the_exit_code() {
    for format in ["text", "json"] {
        let (code, d) = run_with(closed_pipe(), Stdio::null(), format);
        // `sleep` neither grows nor ends: PASS or INCONCLUSIVE, never a panic (101).
        assert!(matches!(code, 0 | 3), "{format}: exit {code}");
        assert_reported(&d);
    }
}

#[test]
fn closed_stderr_keeps_the_report_and_the_exit_code() {
    let (code, d) = run_with(Stdio::null(), closed_pipe(), "text");
    assert!(matches!(code, 0 | 3), "exit {code}");
    assert_reported(&d);
}

#[test]
fn closed_stdout_and_stderr_keep_the_report_and_the_exit_code() {
    let (code, d) = run_with(closed_pipe(), closed_pipe(), "text");
    assert!(matches!(code, 0 | 3), "exit {code}");
    assert_reported(&d);
}

#[test]
fn closed_output_of_a_usage_error_keeps_exit_2() {
    let status = Command::new(soak())
        .args(["--duration", "nonsense", "--", "true"])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
