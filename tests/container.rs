//! Container mode against the real Docker engine of this machine. The tests build a small
//! image locally (a static C workload `FROM scratch`: there is no registry) and check what
//! issue #5 asks: a steady container PASSes, a leaking one FAILs, one hitting its memory
//! limit ends with exit 4 and the OOM kill named, attach leaves the container running,
//! the engine being unreachable is a one-line exit 5, and nothing soak created is left
//! behind (`docker ps -a` by soak's label) on any way out, SIGKILL included.
//!
//! No engine is a failure, not a skip: `.ci/run` checks `docker info` first.

mod common;

use common::{is_root, report, skip_unless, soak};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const IMAGE: &str = "soak-test-workload:latest";

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e} (install the Docker CLI)"))
}

/// Builds the test image once per test binary.
fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            info.status.success(),
            "no Docker engine reachable: {} — container tests need one (see .ci/run)",
            String::from_utf8_lossy(&info.stderr).trim()
        );
        let ctx = tempfile::tempdir().expect("tempdir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers/workload.c");
        let cc = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(ctx.path().join("workload"))
            .arg(&src)
            .output()
            .expect("run cc");
        assert!(
            cc.status.success(),
            "cc -static failed (libc6-dev provides libc.a): {}",
            String::from_utf8_lossy(&cc.stderr)
        );
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nCOPY workload /workload\nENTRYPOINT [\"/workload\"]\n",
        )
        .expect("Dockerfile");
        let b = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE])
            .arg(ctx.path())
            .output()
            .expect("docker build");
        assert!(
            b.status.success(),
            "docker build failed: {}",
            String::from_utf8_lossy(&b.stderr)
        );
    });
    IMAGE
}

/// A run name unique to this test process, also the container's name.
fn unique(tag: &str) -> String {
    format!("soak-test-{tag}-{}", std::process::id())
}

/// A run's name and its run directory (in a temporary folder kept alive by the caller).
fn setup(tag: &str) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    (unique(tag), out, dir)
}

/// Containers soak created for the run `name` that still exist.
fn leftovers(name: &str) -> Vec<String> {
    let o = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=io.soak.run={name}"),
    ]);
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn run_soak(args: &[&str]) -> Output {
    Command::new(soak()).args(args).output().expect("run soak")
}

/// `soak --image IMAGE --name NAME -q --out DIR OPTS [-- CMD]`, OPTS split on spaces.
fn soak_image(name: &str, dir: &Path, opts: &str, cmd: &[&str]) -> Output {
    let mut args = vec!["--image", image(), "--name", name, "-q"];
    args.extend(["--out", dir.to_str().expect("utf8")]);
    args.extend(opts.split_whitespace());
    if !cmd.is_empty() {
        args.push("--");
        args.extend(cmd);
    }
    run_soak(&args)
}

/// `soak --container NAME -q --out DIR OPTS`.
fn soak_attached(name: &str, dir: &Path, opts: &str) -> Output {
    let mut args = vec![
        "--container",
        name,
        "-q",
        "--out",
        dir.to_str().expect("utf8"),
    ];
    args.extend(opts.split_whitespace());
    run_soak(&args)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_steady_container_passes_and_is_removed() {
    let (name, _out, dir) = setup("steady");
    let o = soak_image(
        &name,
        &dir,
        "--duration 16s --interval 250ms --max-growth-rate 100MB/h --grace 5s",
        &["steady", "30"],
    );
    assert_eq!(code(&o), 0, "steady container should PASS: {}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["verdict"], "PASS");
    let c = &r["target"]["container"];
    assert_eq!(c["name"], name.as_str());
    assert_eq!(c["created_by_soak"], true);
    assert_eq!(c["removed"], true);
    assert_eq!(
        c["source"],
        format!("cgroup v{}", cgroup_version()).as_str()
    );
    // The workload holds 30 MB of touched memory: the cgroup's anonymous memory shows it.
    let anon = r["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == "anon_bytes")
        .expect("anon_bytes")["last"]
        .as_f64()
        .expect("number");
    assert!(anon > 29e6 && anon < 40e6, "anon {anon}");
    // It stopped on SIGTERM (the workload handles it), with no SIGKILL needed.
    assert_eq!(r["stop_escalated"], false, "{}", r["target_exit"]);
    // The timeline has the contract's columns, then the cgroup's.
    let header = std::fs::read_to_string(dir.join("timeline.csv")).expect("timeline");
    let header = header.lines().next().expect("header");
    assert!(
        header.ends_with(",processes,usage_bytes,working_set_bytes,oom_kills"),
        "{header}"
    );
    assert!(r["sources"]["working_set_bytes"]
        .as_str()
        .expect("source")
        .contains("inactive_file"));
    assert!(leftovers(&name).is_empty(), "container left behind");
}

fn cgroup_version() -> u8 {
    if Path::new("/sys/fs/cgroup/memory/memory.stat").exists()
        || Path::new("/sys/fs/cgroup/memory").is_dir()
    {
        1
    } else {
        2
    }
}

#[test]
fn a_leaking_container_fails_with_its_rate() {
    let (name, _out, dir) = setup("leak");
    // The mode and rate come through --env: 2 MB/s = 7200 MB/h.
    let o = soak_image(
        &name,
        &dir,
        "--duration 16s --interval 250ms --max-growth-rate 100MB/h --grace 5s --env MODE=leak --env MB=2",
        &[],
    );
    assert_eq!(code(&o), 1, "leaking container should FAIL: {}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["verdict"], "FAIL");
    let slope = r["metrics"][0]["slope_per_hour"].as_f64().expect("slope");
    assert!(
        (slope / 1e6 - 7200.0).abs() < 0.15 * 7200.0,
        "slope {} MB/h, expected about 7200",
        slope / 1e6
    );
    assert!(leftovers(&name).is_empty(), "container left behind");
}

#[test]
fn a_container_reaching_its_memory_limit_is_named_oom_killed() {
    let (name, _out, dir) = setup("oom");
    let o = soak_image(
        &name,
        &dir,
        "--duration 60s --interval 200ms --memory-limit 32MiB",
        &["leak", "10"],
    );
    assert_eq!(code(&o), 4, "OOM kill should exit 4: {}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["end"]["reason"], "target_exit");
    let x = &r["target_exit"];
    assert!(
        x["oom"].as_str().unwrap_or("").contains("OOMKilled"),
        "OOM not named: {x}"
    );
    assert!(x["at_s"].as_f64().expect("at") < 30.0);
    assert_eq!(
        r["target"]["container"]["memory_limit_bytes"],
        32 * 1024 * 1024
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("OOM-killed"));
    assert!(leftovers(&name).is_empty(), "container left behind");
}

#[test]
fn attaching_leaves_the_container_running() {
    let img = image();
    let name = unique("attach");
    let started = docker(&["run", "-d", "--name", &name, img, "steady", "20"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = soak_attached(
        &name,
        &dir,
        "--duration 6s --interval 200ms --max-growth-rate 100MB/h",
    );
    let running = docker(&["inspect", "-f", "{{.State.Running}}", &name]);
    let _ = docker(&["rm", "-f", &name]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&running.stdout).trim(), "true");
    let r = report(&dir);
    assert_eq!(r["target"]["kind"], "attached_container");
    assert_eq!(r["target"]["container"]["created_by_soak"], false);
    assert!(r["target_exit"].is_null());
}

#[test]
fn an_attached_container_that_exits_fails_the_run() {
    let img = image();
    let name = unique("attach-exit");
    let started = docker(&["run", "-d", "--name", &name, img, "exit", "3", "3"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = soak_attached(&name, &dir, "--duration 30s --interval 200ms");
    let _ = docker(&["rm", "-f", &name]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["target_exit"]["code"], 3, "{}", r["target_exit"]);
    assert_eq!(r["target_exit"]["stopped_by_soak"], false);
}

#[test]
fn a_started_container_exiting_early_fails_and_is_removed() {
    let (name, _out, dir) = setup("exit");
    let o = soak_image(
        &name,
        &dir,
        "--duration 30s --interval 200ms",
        &["exit", "7", "2"],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["target_exit"]["code"], 7);
    assert_eq!(r["target"]["container"]["removed"], true);
    assert!(leftovers(&name).is_empty(), "container left behind");
}

#[test]
fn sigterm_and_sigkill_of_soak_leave_no_container() {
    let img = image();
    for (sig, tag) in [(libc::SIGTERM, "term"), (libc::SIGKILL, "kill")] {
        let name = unique(tag);
        let out = tempfile::tempdir().expect("tempdir");
        let dir = out.path().join("run");
        let mut child = Command::new(soak())
            .args([
                "--image",
                img,
                "--name",
                &name,
                "--duration",
                "5m",
                "--interval",
                "200ms",
                "-q",
                "--grace",
                "3s",
                "--out",
                dir.to_str().expect("utf8"),
                "--",
                "steady",
                "5",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn soak");
        // Wait for the container to run and be sampled.
        let t0 = Instant::now();
        while !(dir.join("timeline.csv").exists() && leftovers(&name).len() == 1) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "container never started"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(1));
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().expect("wait soak");
        // After SIGKILL the guard removes it; give the engine a moment.
        let t0 = Instant::now();
        while !leftovers(&name).is_empty() && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(leftovers(&name).is_empty(), "{tag}: container left behind");
        if sig == libc::SIGTERM {
            assert_eq!(report(&dir)["interrupted"], true);
            assert_ne!(status.code(), Some(4));
        }
        let timeline = std::fs::read_to_string(dir.join("timeline.csv")).expect("timeline");
        assert!(timeline.lines().count() > 2, "{tag}: samples were kept");
    }
}

#[test]
fn sigkill_of_soak_while_the_container_is_created_leaves_none() {
    let img = image();
    // Kills from the first instant to well after the start: the window between create
    // and the guard learning the id is where containers used to be left running.
    let delays = [0u64, 30, 60, 100, 150, 200, 250, 300, 400, 600];
    for (i, ms) in delays.into_iter().enumerate() {
        let name = unique(&format!("early{i}"));
        let out = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(soak())
            .args([
                "--image",
                img,
                "--name",
                &name,
                "--duration",
                "5m",
                "-q",
                "--out",
            ])
            .arg(out.path().join("run"))
            .args(["--", "steady", "5"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn soak");
        std::thread::sleep(Duration::from_millis(ms));
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().expect("wait soak");
        let t0 = Instant::now();
        while !leftovers(&name).is_empty() && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let left = leftovers(&name);
        for id in &left {
            docker(&["rm", "-f", id]);
        }
        assert!(
            left.is_empty(),
            "SIGKILL after {ms} ms left container(s) {left:?}"
        );
    }
}

/// soak with DOCKER_HOST=`host` and `target` (`--image x` or `--container x`): its exit
/// code and stderr; checks no run directory was left.
fn with_engine_at(host: &str, target: &str, dir: &Path) -> (i32, String) {
    let o = Command::new(soak())
        .env("DOCKER_HOST", host)
        .args(target.split_whitespace())
        .args(["--duration", "5s", "--out", dir.to_str().expect("utf8")])
        .output()
        .expect("run soak");
    assert!(
        !dir.exists(),
        "no run directory for a run that never started"
    );
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    (code(&o), err)
}

#[test]
fn an_unreachable_engine_is_one_line_and_exit_5() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    // No socket at all.
    let (c, err) = with_engine_at("unix:///nonexistent/docker.sock", "--image x", &dir);
    assert_eq!(c, 5, "{err}");
    assert!(
        err.contains("/nonexistent/docker.sock") && err.contains("does not exist"),
        "{err}"
    );
    // A socket nobody listens on: what a stopped daemon leaves behind.
    let sock = out.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).expect("bind"));
    let (c, err) = with_engine_at(&format!("unix://{}", sock.display()), "--container x", &dir);
    assert_eq!(c, 5, "{err}");
    let named = err.contains(sock.to_str().expect("utf8"));
    assert!(named && err.contains("dockerd is running"), "{err}");
}

#[test]
fn missing_image_and_container_are_clear() {
    image();
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = run_soak(&[
        "--image",
        "soak-no-such-image:1",
        "--duration",
        "5s",
        "--out",
        dir.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("soak never pulls"), "{}", stderr(&o));
    assert!(!dir.exists());
    let o = run_soak(&[
        "--container",
        "soak-no-such-container",
        "--duration",
        "5s",
        "--out",
        dir.to_str().expect("utf8"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no container named soak-no-such-container"),
        "{}",
        stderr(&o)
    );
    for (args, says) in [
        (vec!["--container", "a", "--", "x"], "no place"),
        (
            vec!["--image", "a", "--container", "b"],
            "cannot be combined",
        ),
        (vec!["--memory-limit", "64MB", "--", "x"], "add --image"),
        (vec!["--image", "a", "--env", "NOEQUALS"], "KEY=VALUE"),
        (vec!["--image", "a", "--memory-limit", "1MB"], "minimum"),
        (vec!["--image", "a", "--pss"], "drop --pss"),
        (
            vec!["--metric", "working_set", "--", "x"],
            "--image or --container",
        ),
    ] {
        let o = run_soak(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{args:?}");
    }
}

#[test]
fn without_the_cgroup_soak_reads_the_engine_stats_api_and_says_so() {
    let (name, _out, dir) = setup("api");
    let empty = tempfile::tempdir().expect("tempdir");
    let cgroup_root = format!("--cgroup-root {}", empty.path().display());
    let o = soak_image(
        &name,
        &dir,
        &format!("--duration 12s --interval 250ms --max-growth-rate 100MB/h --metric working_set --grace 5s {cgroup_root}"),
        &["leak", "2"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let r = report(&dir);
    assert_eq!(r["target"]["container"]["source"], "engine stats API");
    assert!(r["sources"]["rss_bytes"]
        .as_str()
        .expect("src")
        .contains("stats API"));
    let notes = r["notes"].to_string();
    assert!(notes.contains("stats API"), "{notes}");
    assert_eq!(r["settings"]["metric"], "working_set_bytes");
    // The stream is read without blocking the tick: the engine's ~1 Hz pace shows as
    // repeated readings (said in a note), not as missed ticks.
    let (taken, missed) = (
        r["samples"]["taken"].as_u64().expect("taken"),
        r["samples"]["missed"].as_u64().expect("missed"),
    );
    assert!(missed * 4 < taken, "{taken} taken, {missed} missed");
    assert!(notes.contains("stats readings"), "{notes}");
    assert!(leftovers(&name).is_empty(), "container left behind");
}

#[test]
fn an_engine_socket_without_permission_is_exit_5() {
    image();
    if skip_unless(
        is_root(),
        "an_engine_socket_without_permission_is_exit_5",
        "needs root to switch users",
    ) {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    // nobody, outside the docker group, against the real socket.
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(soak())
        .args([
            "--container",
            "x",
            "--duration",
            "5s",
            "--out",
            dir.to_str().expect("utf8"),
        ])
        .output()
        .expect("setpriv (util-linux) runs soak as nobody");
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("ermission denied") && err.contains("docker group"),
        "{err}"
    );
}

#[test]
fn a_soak_error_still_removes_the_container() {
    if skip_unless(
        is_root(),
        "a_soak_error_still_removes_the_container",
        "needs root to mount a tmpfs",
    ) {
        return;
    }
    let (name, out, _) = setup("diskfull");
    let mnt = out.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48k", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount");
    assert!(mounted.success(), "mount a 48 kB tmpfs");
    let dir = mnt.join("run");
    // 5 ms rows fill 48 kB in a couple of seconds: the timeline write fails mid-run.
    let o = soak_image(
        &name,
        &dir,
        "--duration 60s --interval 5ms --grace 2s",
        &["steady", "5"],
    );
    let rows = std::fs::read_to_string(dir.join("timeline.csv"))
        .map(|t| t.lines().count())
        .unwrap_or(0);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(last.contains("No space left on device"), "{err}");
    assert!(rows > 10, "{rows} rows kept");
    assert!(
        leftovers(&name).is_empty(),
        "container left behind after a soak error"
    );
}
