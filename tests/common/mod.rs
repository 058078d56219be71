//! Helpers shared by the integration tests: paths to the built binaries, running soak,
//! reading its report, and finding processes by a marker in their command line.
#![allow(dead_code)]

pub mod browser;
pub mod prometheus;
pub mod redis;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The soak binary cargo built for these tests.
pub fn soak() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_soak"))
}

/// The example workload (cargo builds examples along with the tests).
pub fn workload() -> PathBuf {
    let p = soak()
        .parent()
        .expect("target dir")
        .join("examples")
        .join("workload");
    assert!(
        p.exists(),
        "{} missing: run `cargo build --examples`",
        p.display()
    );
    p
}

/// A file of `tests/data`.
pub fn test_data(f: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(f)
}

/// Runs soak with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(soak()).args(args).output().expect("run soak")
}

/// The run's report.json as JSON.
pub fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json"))
        .unwrap_or_else(|e| panic!("report.json in {}: {e}", dir.display()));
    serde_json::from_str(&text).expect("report.json parses")
}

/// Pids whose command line contains `marker`, other than soak's own processes (soak
/// carries the target's arguments, marker included, in its command line). soak is
/// recognised by its executable, not by a name: the clone's path (and so the workload's)
/// often contains "soak" too. Zombies are left out.
pub fn pids_with(marker: &str) -> Vec<u32> {
    let soak_exe = std::fs::canonicalize(soak()).unwrap_or_else(|_| soak());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if !cmd.contains(marker) {
                continue;
            }
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                        .unwrap_or(false)
                })
                .unwrap_or(false);
            let is_soak =
                std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == soak_exe);
            if !zombie && !is_soak {
                out.push(pid);
            }
        }
    }
    out
}

/// Whether a test must be skipped because this machine lacks what it needs (`available`
/// false). Under CI (`CI=true`) it must not be: the test fails instead, since a skip
/// counts as a pass. Elsewhere the skip is printed and appended to
/// `target/tmp/skipped-tests.log`, so the count of skips stays visible.
pub fn skip_unless(available: bool, test: &str, need: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    skip_unless_in(ci, available, test, need)
}

/// [`skip_unless`] with the CI decision given.
pub fn skip_unless_in(ci: bool, available: bool, test: &str, need: &str) -> bool {
    if available {
        return false;
    }
    assert!(
        !ci,
        "{test} cannot run here: {need} (CI=true, where a skipped test would pass vacuously)"
    );
    eprintln!("SKIPPED {test}: {need}");
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.log");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        use std::io::Write;
        let _ = writeln!(f, "{test}: {need}");
    }
    true
}

/// Whether soak's tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Waits until no process carries `marker`; false after `timeout`.
pub fn wait_gone(marker: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if pids_with(marker).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    pids_with(marker).is_empty()
}

/// A unique decimal number to tag a workload's command line with (its MB argument).
pub fn marker() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    // Ends in 1: the tree workload passes it on as an f64, which would drop a trailing 0.
    format!("7.{:09}{}1", n, std::process::id())
}

/// Exit code of an output.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Starts soak (quietly, in the background) on a workload tree tagged with `marker`:
/// `children` steady children plus the parent, for 60 s at `interval`.
pub fn spawn_soak_on_tree(
    out: &Path,
    interval: &str,
    children: u32,
    marker: &str,
) -> std::process::Child {
    Command::new(soak())
        .args([
            "--duration",
            "60s",
            "--interval",
            interval,
            "--out",
            out.to_str().expect("utf-8 path"),
            "--",
        ])
        .arg(workload())
        .args(["tree", &children.to_string(), marker])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn soak")
}

/// Runs soak with `opts` on the command `cmd`, writing its run directory `out`.
pub fn run_on(out: &Path, opts: &str, cmd: &[&str]) -> Output {
    Command::new(soak())
        .args(opts.split_whitespace())
        .arg("--out")
        .arg(out)
        .arg("--")
        .args(cmd)
        .output()
        .expect("run soak")
}

/// libfaketime (Debian package faketime), which .ci/run installs.
pub fn libfaketime() -> std::path::PathBuf {
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ] {
        let p = std::path::Path::new(dir).join("faketime/libfaketime.so.1");
        if p.exists() {
            return p;
        }
    }
    panic!("libfaketime not found: apt-get install faketime (.ci/run does)");
}
