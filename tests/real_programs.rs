//! soak on real third-party programs and every allocator a program may link (issue #12):
//! the heap shim must never harm the target (same exit as without soak, no crash), and
//! heap_bytes is either counted through the program's own allocator or explained.
//!
//! The programs come from Debian's packages (.ci/run installs them): redis-server under
//! redis-benchmark (jemalloc), the JVM, node, python3, sqlite3; and small C/C++ programs
//! the test links against glibc, tcmalloc (libgoogle-perftools-dev), mimalloc
//! (libmimalloc-dev) and jemalloc (libjemalloc-dev), plus a static binary.
//! Under CI (`CI=true`) a missing program fails the test; elsewhere it is skipped with a
//! line on stderr.

mod common;

use common::redis::{redis_cli, soak_redis};
use common::report;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether `program` is on PATH; under CI its absence fails the test.
fn have(program: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is missing under CI: .ci/run must install {package}"
        );
        eprintln!("SKIPPED (not under CI): {program} is missing (apt-get install {package})");
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("real-programs")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn compile(compiler: &str, src: &str, out: &Path, extra: &[&str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/heap")
        .join(src);
    let o = Command::new(compiler)
        .args(["-O2", "-o"])
        .arg(out)
        .arg(&src)
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        o.status.success(),
        "{compiler} {}: {}",
        extra.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The exit code of `cmd` run without soak.
fn plain_exit(cmd: &[&str], cwd: &Path) -> i32 {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run plain")
        .code()
        .unwrap_or(-1)
}

/// Runs a finite `cmd` under soak (heap shim on, the default); returns the report.
fn soak_finite(dir: &Path, cmd: &[&str], secs: u32) -> serde_json::Value {
    let out = dir.join("run");
    let duration = format!("{secs}s");
    let mut args = vec![
        "--duration",
        &duration,
        "--interval",
        "100ms",
        "--warmup",
        "1s",
        "--allow-exit",
        "-q",
        "--out",
        out.to_str().expect("utf8"),
        "--",
    ];
    args.extend(cmd);
    let o = Command::new(common::soak())
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run soak");
    assert!(
        out.join("report.json").exists(),
        "no report for {cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    report(&out)
}

fn notes(r: &serde_json::Value) -> String {
    r["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// The target ended by itself with `code` (not a signal), and nothing blames the shim.
fn assert_unharmed(r: &serde_json::Value, code: i32, what: &str) {
    let x = &r["target_exit"];
    assert_eq!(
        x["signal"],
        serde_json::Value::Null,
        "{what} died of a signal under soak: {x} ({})",
        notes(r)
    );
    assert_eq!(x["code"], code, "{what}: exit code under soak differs: {x}");
    assert!(
        !notes(r).contains("died of"),
        "{what}: a death note: {}",
        notes(r)
    );
}

/// The highest heap_bytes of a run's timeline.
fn heap_peak(run: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(run.join("timeline.csv")).expect("timeline");
    let mut lines = text.lines();
    let col = lines.next()?.split(',').position(|c| c == "heap_bytes")?;
    lines
        .filter_map(|l| l.split(',').nth(col)?.parse::<f64>().ok())
        .reduce(f64::max)
}

/// (name, compiler, source, flags, the allocator's library, bytes it holds at least).
type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a str, f64);

#[test]
fn every_allocator_is_unharmed_and_counted_through_its_own_size_function() {
    if !have("cc", "gcc") || !have("c++", "g++") {
        return;
    }
    let dir = scratch("allocators");
    // Requested bytes held by alloc_matrix.c: 4096 blocks of 1000 + (i % 7) * 3000.
    let requested: f64 = (0..4096).map(|i| 1000.0 + f64::from(i % 7) * 3000.0).sum();
    // 100,000 strings of 200 chars: a 32-byte object plus a 201-byte buffer each.
    let strings = 100_000.0 * (32.0 + 201.0);
    let cases: [Case; 7] = [
        (
            "c-glibc",
            "cc",
            "alloc_matrix.c",
            &[],
            "libc.so.6",
            requested,
        ),
        (
            "c-tcmalloc",
            "cc",
            "alloc_matrix.c",
            &["-ltcmalloc"],
            "libtcmalloc",
            requested,
        ),
        (
            "c-mimalloc",
            "cc",
            "alloc_matrix.c",
            &["-lmimalloc"],
            "libmimalloc",
            requested,
        ),
        (
            "c-jemalloc",
            "cc",
            "alloc_matrix.c",
            &["-DWITH_JEMALLOC_API", "-ljemalloc"],
            "libjemalloc",
            requested,
        ),
        ("cxx-glibc", "c++", "hold.cc", &[], "libc.so.6", strings),
        (
            "cxx-tcmalloc",
            "c++",
            "hold.cc",
            &["-ltcmalloc"],
            "libtcmalloc",
            strings,
        ),
        (
            "cxx-mimalloc",
            "c++",
            "hold.cc",
            &["-lmimalloc"],
            "libmimalloc",
            strings,
        ),
    ];
    for (name, compiler, src, flags, lib, expected) in cases {
        let case = dir.join(name);
        std::fs::create_dir_all(&case).expect("mkdir");
        let exe = case.join(name);
        compile(compiler, src, &exe, flags);
        let cmd = [exe.to_str().expect("utf8"), "2"];
        assert_eq!(plain_exit(&cmd, &case), 0, "{name} fails without soak");
        let r = soak_finite(&case, &cmd, 8);
        assert_unharmed(&r, 0, name);
        assert!(
            notes(&r).contains(&format!("own allocator ({lib}")),
            "{name}: the allocator is not named: {}",
            notes(&r)
        );
        let peak = heap_peak(&case.join("run")).unwrap_or_else(|| panic!("{name}: no heap"));
        // Usable sizes round requests up to the allocator's size classes.
        assert!(
            peak >= expected && peak <= expected * 1.25,
            "{name}: heap peak {peak} for {expected} requested"
        );
    }
}

#[test]
fn runtimes_and_a_static_binary_are_unharmed() {
    let dir = scratch("runtimes");
    std::fs::write(
        dir.join("Hold.java"),
        "public class Hold { public static void main(String[] a) throws Exception {\n\
         java.util.List<byte[]> l = new java.util.ArrayList<>();\n\
         for (int i = 0; i < 200; i++) l.add(new byte[100_000]);\n\
         Thread.sleep(2000); System.out.println(\"done \" + l.size()); } }\n",
    )
    .expect("write java");
    std::fs::write(
        dir.join("hold.js"),
        "const a = []; for (let i = 0; i < 200; i++) a.push(Buffer.alloc(100000));\n\
         setTimeout(() => console.log('done', a.length), 2000);\n",
    )
    .expect("write js");
    std::fs::write(
        dir.join("hold.py"),
        "import time\na = [bytearray(100000) for _ in range(200)]\ntime.sleep(2)\nprint('done', len(a))\n",
    )
    .expect("write py");
    std::fs::write(
        dir.join("work.sql"),
        "create table t(x);\n\
         with recursive c(i) as (select 1 union all select i+1 from c where i < 300000)\n\
         insert into t select randomblob(100) from c;\n\
         create index ti on t(x);\nselect count(*) from t;\n",
    )
    .expect("write sql");
    let mut cases: Vec<(&str, Vec<String>)> = Vec::new();
    if have("java", "default-jdk-headless") {
        cases.push(("java", vec!["java".into(), "Hold.java".into()]));
    }
    if have("node", "nodejs") {
        cases.push(("node", vec!["node".into(), "hold.js".into()]));
    }
    if have("python3", "python3") {
        cases.push(("python3", vec!["python3".into(), "hold.py".into()]));
    }
    if have("sqlite3", "sqlite3") {
        cases.push((
            "sqlite3",
            vec!["sqlite3".into(), ":memory:".into(), ".read work.sql".into()],
        ));
    }
    for (name, cmd) in &cases {
        let case = dir.join(name);
        std::fs::create_dir_all(&case).expect("mkdir");
        for f in ["Hold.java", "hold.js", "hold.py", "work.sql"] {
            std::fs::copy(dir.join(f), case.join(f)).expect("copy");
        }
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let code = plain_exit(&cmd, &case);
        assert_eq!(code, 0, "{name} fails without soak");
        let r = soak_finite(&case, &cmd, 20);
        assert_unharmed(&r, code, name);
        let peak = heap_peak(&case.join("run"));
        assert!(
            peak.is_some_and(|p| p > 0.0) || notes(&r).contains("heap_bytes"),
            "{name}: heap_bytes neither present nor explained: {}",
            notes(&r)
        );
        assert!(
            notes(&r).contains("own allocator (libc.so.6"),
            "{name}: {}",
            notes(&r)
        );
    }
    // A static binary cannot load the shim: it runs unharmed and the report says why.
    if have("cc", "gcc") {
        let case = dir.join("static");
        std::fs::create_dir_all(&case).expect("mkdir");
        let exe = case.join("alloc-static");
        compile("cc", "alloc_matrix.c", &exe, &["-static"]);
        let cmd = [exe.to_str().expect("utf8"), "1"];
        let r = soak_finite(&case, &cmd, 6);
        assert_unharmed(&r, 0, "static");
        assert!(notes(&r).contains("statically linked"), "{}", notes(&r));
        assert_eq!(heap_peak(&case.join("run")), None);
    }
}

fn used_memory(port: u16) -> f64 {
    redis_cli(port, &["info", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

/// The last heap_bytes in a run's timeline.
fn last_heap(run: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(run.join("timeline.csv")).ok()?;
    let mut lines = text.lines();
    let col = lines.next()?.split(',').position(|c| c == "heap_bytes")?;
    lines
        .rev()
        .find_map(|l| l.split(',').nth(col)?.parse::<f64>().ok())
}

#[test]
fn redis_under_benchmark_is_unharmed_and_its_heap_matches_used_memory() {
    if !have("redis-server", "redis-server") || !have("redis-benchmark", "redis-tools") {
        return;
    }
    let dir = scratch("redis");
    let out = dir.join("run");
    // A port of this test's own, away from redis's default.
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let port_s = port.to_string();
    let mut soak = soak_redis(
        &dir,
        &out,
        &["--duration", "40s", "--interval", "250ms", "--warmup", "5s"],
        port,
        &["--enable-debug-command", "yes"],
    );
    // About 150 MB of keys (jemalloc serves them), then real traffic.
    redis_cli(port, &["debug", "populate", "500000", "key", "200"]);
    let bench = Command::new("redis-benchmark")
        .args([
            "-p",
            &port_s,
            "-q",
            "-n",
            "50000",
            "-t",
            "set,get,lpush,lpop",
            "-d",
            "100",
        ])
        .args(["-r", "100000"])
        .output()
        .expect("run redis-benchmark");
    assert!(bench.status.success(), "redis-benchmark failed");
    assert!(
        String::from_utf8_lossy(&bench.stdout).contains("requests per second"),
        "redis-benchmark measured nothing"
    );
    // Idle now: the next samples see what INFO says.
    std::thread::sleep(Duration::from_secs(2));
    let before = used_memory(port);
    std::thread::sleep(Duration::from_millis(600));
    let heap = last_heap(&out).expect("heap_bytes in the timeline");
    let after = used_memory(port);
    let used = (before + after) / 2.0;
    let err = (heap - used).abs() / used;
    assert!(
        err < 0.02,
        "heap_bytes {heap} vs redis used_memory {used}: {:.2}% apart",
        err * 100.0
    );
    let status = soak.wait().expect("wait soak");
    let r = report(&out);
    assert_eq!(status.code(), Some(0), "soak: {}", notes(&r));
    assert_eq!(
        r["target_exit"]["stopped_by_soak"], true,
        "redis ended early"
    );
    assert!(notes(&r).contains("libjemalloc"), "{}", notes(&r));
}
