//! Allocation sites of a command's heap growth (issue #18), end to end: soak runs a real
//! program with the heap shim sampling allocation stacks, symbolizes them after the
//! fact, and the report's first site must be the code that leaks. The programs: a C
//! target with three allocation paths (one leaking, plus a thread and a forked child),
//! built with and without frame pointers and stripped; a C++ cache; soak's Rust example
//! workload; and redis-server from Debian, filled with keys that never expire.

mod common;

use common::redis::soak_redis;
use common::{report, run_on};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sites")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// Builds `tests/sites/SRC` with `compiler` into `out`.
fn compile(compiler: &str, src: &str, out: &Path, extra: &[&str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sites")
        .join(src);
    let o = Command::new(compiler)
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(&src)
        .arg("-pthread")
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        o.status.success(),
        "{compiler} {}: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn sites(r: &Value) -> Vec<Value> {
    r["allocation_sites"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn frames(site: &Value) -> Vec<String> {
    site["frames"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn notes(r: &Value) -> String {
    r["notes"].to_string()
}

/// A 20-second soak of `cmd` sampling every 64 KiB (a short run needs more samples than
/// the default gives).
fn soak_sites(dir: &Path, cmd: &[&str]) -> (i32, Value) {
    let out = dir.join("run");
    let o = run_on(
        &out,
        "--duration 20s --interval 250ms --warmup 5s --sites-period 64KiB -q",
        cmd,
    );
    assert!(
        out.join("report.json").exists(),
        "no report: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), report(&out))
}

/// The frames of every reported site, for failure messages.
fn all_frames(r: &Value) -> String {
    sites(r)
        .iter()
        .enumerate()
        .map(|(i, s)| format!("#{} {} {:?}", i + 1, s["growth_rate_per_hour"], frames(s)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn heap_slope(r: &Value) -> f64 {
    r["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["metric"] == "heap_bytes"))
        .and_then(|m| m["slope_per_hour"].as_f64())
        .expect("heap_bytes slope")
}

fn rate(site: &Value) -> f64 {
    site["growth_rate_per_hour"]
        .as_f64()
        .expect("a site's rate")
}

/// Checks the three-path C target's report: the leaking function is site #1, with its
/// file and line when the binary has debug info; the forked child's leak is a site of
/// its own; churn never is; and the two leaks' rates add up to the heap's slope.
fn check_three_paths(r: &Value, code: i32, debug_info: bool) {
    assert_eq!(code, 1, "a leak of ~1 GB/h must FAIL: {}", notes(r));
    let s = sites(r);
    let shown = all_frames(r);
    assert!(!s.is_empty(), "no sites: {}", notes(r));
    let first = frames(&s[0]);
    assert!(first[0].contains("leak_here"), "site #1:\n{shown}");
    if debug_info {
        assert!(first[0].contains("three_paths.c:"), "file:line: {shown}");
    }
    let child = s
        .iter()
        .find(|x| {
            frames(x)
                .first()
                .is_some_and(|f| f.contains("child_leak_here"))
        })
        .unwrap_or_else(|| panic!("the forked child's leak is a site:\n{shown}"));
    assert!(
        !s.iter()
            .any(|x| frames(x).first().is_some_and(|f| f.contains("churn_here"))),
        "freed at once, churn never grows:\n{shown}"
    );
    // Each leak's estimate, against the exact count the shim keeps of the whole heap.
    let sum = rate(&s[0]) + rate(child);
    let heap = heap_slope(r);
    assert!(
        (sum - heap).abs() / heap < 0.25,
        "sites' rates {sum} vs heap_bytes slope {heap}:\n{shown}"
    );
    assert!(
        notes(r).contains("allocation sites are estimates"),
        "{}",
        notes(r)
    );
}

#[test]
fn a_c_leak_is_site_one_with_a_thread_and_a_fork_with_and_without_frame_pointers() {
    let dir = scratch("c");
    for (name, flags, debug) in [
        ("fp", &["-O2", "-g", "-fno-omit-frame-pointer"][..], true),
        ("nofp", &["-O2", "-g", "-fomit-frame-pointer"][..], true),
    ] {
        let case = dir.join(name);
        std::fs::create_dir_all(&case).expect("mkdir");
        let exe = case.join("three_paths");
        compile("cc", "three_paths.c", &exe, flags);
        let (code, r) = soak_sites(&case, &[exe.to_str().expect("utf8")]);
        check_three_paths(&r, code, debug);
    }
}

#[test]
fn a_stripped_program_shows_module_offsets_and_says_so() {
    let dir = scratch("stripped");
    let exe = dir.join("three_paths");
    compile("cc", "three_paths.c", &exe, &["-O2"]);
    let o = Command::new("strip").arg(&exe).output().expect("run strip");
    assert!(o.status.success());
    let (code, r) = soak_sites(&dir, &[exe.to_str().expect("utf8")]);
    assert_eq!(code, 1);
    let s = sites(&r);
    assert!(!s.is_empty(), "{}", notes(&r));
    let first = frames(&s[0]);
    assert!(
        first[0].starts_with("three_paths+0x"),
        "no symbols: module+offset: {first:?}"
    );
    assert!(notes(&r).contains("have no symbols"), "{}", notes(&r));
}

#[test]
fn a_cpp_leak_names_the_method_through_operator_new() {
    let dir = scratch("cpp");
    let exe = dir.join("leak");
    compile("c++", "leak.cc", &exe, &["-O2", "-g"]);
    let (code, r) = soak_sites(&dir, &[exe.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{}", notes(&r));
    let s = sites(&r);
    let shown = all_frames(&r);
    assert!(!s.is_empty(), "{}", notes(&r));
    assert!(
        frames(&s[0])
            .iter()
            .any(|f| f.contains("cache::Registry::remember")),
        "site #1 names the leaking method:\n{shown}"
    );
    assert!(
        !frames(&s[0])[0].starts_with("operator new"),
        "operator new is plumbing:\n{shown}"
    );
}

#[test]
fn a_rust_leak_names_the_program_not_the_allocator() {
    let dir = scratch("rust");
    let w = common::workload();
    let (code, r) = soak_sites(&dir, &[w.to_str().expect("utf8"), "leak", "30"]);
    assert_eq!(code, 1, "{}", notes(&r));
    let s = sites(&r);
    let shown = all_frames(&r);
    assert!(!s.is_empty(), "{}", notes(&r));
    let first = frames(&s[0]);
    assert!(
        first[0].starts_with("workload::"),
        "the program's own frame first, not alloc::/malloc:\n{shown}"
    );
}

#[test]
fn sites_off_records_none() {
    let dir = scratch("off");
    let out = dir.join("run");
    let w = common::workload();
    let o = run_on(
        &out,
        "--duration 4s --interval 250ms --warmup 1s --sites off -q",
        &[w.to_str().expect("utf8"), "leak", "30"],
    );
    assert!(out.join("report.json").exists(), "{}", common::show(&o));
    let r = report(&out);
    assert!(sites(&r).is_empty());
    assert!(!notes(&r).contains("allocation sites"), "{}", notes(&r));
}

#[test]
fn sites_on_where_the_shim_cannot_go_is_a_usage_error() {
    let dir = scratch("usage");
    for (opts, says) in [
        ("--sites on --no-heap", "drop --no-heap"),
        ("--sites-period 0", "--sites-period 0"),
    ] {
        let o = run_on(
            &dir.join("run"),
            &format!("--duration 2s {opts}"),
            &["true"],
        );
        assert_eq!(o.status.code(), Some(2), "{opts}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{opts}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{opts}: one line: {err}");
    }
    let o = common::run(&["--duration", "2s", "--sites", "on", "--pid", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not available with --pid"));
}

/// redis-server (Debian's, on jemalloc) under redis-benchmark writing keys that never
/// expire: the keyspace grows, and the top site must lie in redis's own code.
#[test]
fn redis_keys_without_ttl_put_the_top_site_in_redis() {
    let dir = scratch("redis");
    let out = dir.join("run");
    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let port_s = port.to_string();
    let mut soak = soak_redis(
        &dir,
        &out,
        &[
            "--duration",
            "30s",
            "--interval",
            "250ms",
            "--warmup",
            "5s",
            "--sites-period",
            "64KiB",
        ],
        port,
        &[],
    );
    // SETs of random keys out of a space far larger than the requests: almost every one
    // is a new key, kept (no TTL), until soak stops redis.
    let mut bench = Command::new("redis-benchmark")
        .args(["-p", &port_s, "-q", "-t", "set", "-d", "200", "-c", "4"])
        .args(["-r", "100000000", "-n", "100000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run redis-benchmark (apt-get install redis-tools)");
    let status = soak.wait().expect("wait soak");
    let _ = bench.kill();
    let _ = bench.wait();
    let r = report(&out);
    assert_eq!(
        status.code(),
        Some(1),
        "a growing keyspace FAILs: {}",
        notes(&r)
    );
    assert_eq!(
        r["target_exit"]["stopped_by_soak"], true,
        "redis ended early"
    );
    let s = sites(&r);
    let shown = all_frames(&r);
    assert!(!s.is_empty(), "{}", notes(&r));
    // redis is linked with -rdynamic (for its crash log), so its functions keep names
    // in a stripped binary. Debian's redis-server is a link to redis-check-rdb (one
    // binary, two names): frames carry the file the process mapped.
    let which = Command::new("sh")
        .args(["-c", "command -v redis-server"])
        .output()
        .expect("sh");
    let exe = std::fs::canonicalize(String::from_utf8_lossy(&which.stdout).trim())
        .expect("redis-server's path");
    let module = exe
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name")
        .to_string();
    let first = frames(&s[0]);
    assert!(
        first
            .iter()
            .all(|f| f.contains(&format!("({module})")) || f.starts_with(&format!("{module}+0x"))),
        "site #1 lies in {module} only:\n{shown}"
    );
    // The keyspace's own allocations are among the sites: the key's copy in dbAdd or
    // the dictionary entry.
    assert!(
        s.iter()
            .any(|x| frames(x).iter().any(|f| f.starts_with("dbAdd ("))),
        "a site through dbAdd:\n{shown}"
    );
    assert!(notes(&r).contains("libjemalloc"), "{}", notes(&r));
}

/// node (Debian's) keeping Buffers: their native backing stores are malloc'd by V8 for
/// the script, so the site names node's allocator frames, and the report says the
/// JavaScript frames above them (JIT code) cannot be walked. Few, large Buffers keep V8's
/// own heap flat, so the growth is native memory, which the notes must say.
#[test]
fn a_node_leak_names_the_native_frames_and_says_where_stacks_end() {
    let dir = scratch("node");
    let script = dir.join("leak.js");
    std::fs::write(
        &script,
        "const keep = [];\nsetInterval(() => { for (let i = 0; i < 4; i++) keep.push(Buffer.alloc(65536, 1)); }, 50);\n",
    )
    .expect("write script");
    let (code, r) = soak_sites(&dir, &["node", script.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{}", notes(&r));
    let s = sites(&r);
    let shown = all_frames(&r);
    assert!(!s.is_empty(), "{}", notes(&r));
    assert!(
        frames(&s[0]).iter().any(|f| f.contains("node::")),
        "site #1 is in node's native Buffer allocation:\n{shown}"
    );
    assert!(
        notes(&r).contains("node ran; its Java/JavaScript frames are JIT-compiled code"),
        "{}",
        notes(&r)
    );
    // V8's own heap is flat while malloc's grows: native memory that lives, not memory
    // the allocator keeps.
    assert!(
        notes(&r).contains("malloc's heap (native memory outside the runtime's heap) grows"),
        "{}",
        notes(&r)
    );
    assert!(!notes(&r).contains("retention"), "{}", notes(&r));
}

/// A process that grew, then exec'd a static program (which cannot load the shim), has
/// no sites of its own afterwards: the table its earlier image left is not its.
#[test]
fn an_exec_into_a_static_program_drops_the_earlier_images_sites() {
    let dir = scratch("exec-static");
    let dynamic = dir.join("exec_static");
    let fixed = dir.join("exec_static_static");
    compile("cc", "exec_static.c", &dynamic, &["-O2", "-g"]);
    compile("cc", "exec_static.c", &fixed, &["-O2", "-static"]);
    let out = dir.join("run");
    let o = run_on(
        &out,
        "--duration 9s --interval 250ms --warmup 1s --sites-period 64KiB -q",
        &[
            dynamic.to_str().expect("utf8"),
            "grow",
            fixed.to_str().expect("utf8"),
        ],
    );
    assert!(out.join("report.json").exists(), "{}", common::show(&o));
    let r = report(&out);
    assert!(
        !sites(&r)
            .iter()
            .any(|s| frames(s).iter().any(|f| f.contains("grow_before_exec"))),
        "the image before the exec is gone:\n{}",
        all_frames(&r)
    );
}
