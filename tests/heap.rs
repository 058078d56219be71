//! The heap of subprocesses (issue #4): soak injects its LD_PRELOAD shim into the
//! command and fills `heap_bytes`. The targets are small C programs the tests build with
//! the machine's cc (tests/heap/heap_target.c), dynamically and statically linked.

mod common;

use common::{report, run};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Builds the C target once: (dynamic, static).
fn targets() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("heap-targets");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/heap/heap_target.c");
        let build = |name: &str, extra: &[&str]| {
            let out = dir.join(name);
            let o = std::process::Command::new("cc")
                .args(["-O2", "-pthread", "-o"])
                .arg(&out)
                .arg(&src)
                .args(extra)
                .output()
                .expect("run cc");
            assert!(
                o.status.success(),
                "cc: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            out
        };
        (
            build("heap_target", &[]),
            build("heap_target_static", &["-static"]),
        )
    })
}

fn dynamic() -> &'static str {
    targets().0.to_str().expect("utf8")
}

/// Runs soak on `cmd` with `opts`; returns (exit code, report, run dir holder).
fn soak_on(opts: &str, cmd: &[&str]) -> (i32, serde_json::Value, tempfile::TempDir) {
    let d = tempfile::tempdir().expect("tempdir");
    // A space in the path: LD_PRELOAD cannot carry it, so soak must place the shim
    // elsewhere (every heap test would fail if it did not).
    let dir = d.path().join("run dir");
    let mut args: Vec<&str> = opts.split_whitespace().collect();
    args.extend(["-q", "--out", dir.to_str().expect("utf8"), "--"]);
    args.extend(cmd);
    let o = run(&args);
    let code = o.status.code().unwrap_or(-1);
    assert!(
        dir.join("report.json").exists(),
        "no report: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !dir.join(".soak-heap-shim.so").exists(),
        "the shim is removed after the run"
    );
    (code, report(&dir), d)
}

fn metric<'a>(r: &'a serde_json::Value, col: &str) -> &'a serde_json::Value {
    r["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metric"] == col)
        .unwrap_or_else(|| panic!("no {col} in the report"))
}

fn notes(r: &serde_json::Value) -> String {
    r["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_c_target_holding_100_mib_reads_within_1_percent() {
    let (code, r, _d) = soak_on(
        "--duration 3s --interval 250ms --max-growth-rate 1GB/h",
        &[dynamic(), "hold", "100"],
    );
    assert_eq!(code, 0, "{}", r["explanation"]);
    let heap = metric(&r, "heap_bytes")["last"].as_f64().expect("heap");
    let want = 100.0 * 1024.0 * 1024.0;
    assert!(
        (heap - want).abs() / want < 0.01,
        "heap {heap} vs {want}: off by {:.2}%",
        (heap - want) / want * 100.0
    );
    assert!(r["sources"]["heap_bytes"]
        .as_str()
        .expect("source")
        .contains("LD_PRELOAD"));
}

#[test]
fn a_heap_leak_fails_on_metric_heap() {
    let (code, r, _d) = soak_on(
        "--duration 10s --interval 250ms --metric heap --max-growth-rate 100MB/h",
        &[dynamic(), "leak", "2"],
    );
    assert_eq!(code, 1, "{}", r["explanation"]);
    assert_eq!(r["settings"]["metric"], "heap_bytes");
    assert_eq!(r["checks"][0]["metric"], "heap_bytes");
    // 2 MiB a second.
    let want = 2.0 * 1024.0 * 1024.0 * 3600.0;
    let slope = metric(&r, "heap_bytes")["slope_per_hour"]
        .as_f64()
        .expect("slope");
    assert!((slope - want).abs() / want < 0.1, "slope {slope} vs {want}");
}

#[test]
fn freed_memory_kept_by_the_allocator_is_named_retention() {
    let (code, r, _d) = soak_on(
        "--duration 10s --interval 250ms --max-growth-rate 100MB/h",
        &[dynamic(), "retain", "1"],
    );
    assert_eq!(code, 1, "RSS grows: {}", r["explanation"]);
    // The live heap is ~0 between rounds (a sample may catch one mid-round): its
    // robust slope is flat while RSS climbs.
    let heap = metric(&r, "heap_bytes");
    assert!(
        heap["slope_per_hour"].as_f64().expect("slope").abs() < 10e6,
        "the live heap stays flat: {heap}"
    );
    let n = notes(&r);
    assert!(
        n.contains("while the heap is flat") && n.contains("retention"),
        "{n}"
    );
}

#[test]
fn a_forking_target_sums_its_children() {
    let (code, r, _d) = soak_on(
        "--duration 3s --interval 250ms --max-growth-rate 1GB/h",
        &[dynamic(), "fork", "3", "20"],
    );
    assert_eq!(code, 0, "{}", r["explanation"]);
    assert_eq!(metric(&r, "processes")["last"], 4.0);
    let heap = metric(&r, "heap_bytes")["last"].as_f64().expect("heap");
    let want = 4.0 * 20.0 * 1024.0 * 1024.0;
    assert!(
        (heap - want).abs() / want < 0.01,
        "four processes of 20 MiB each: heap {heap} vs {want}"
    );
}

#[test]
fn threads_that_come_and_go_are_counted_exactly() {
    let (code, r, _d) = soak_on(
        "--duration 3s --interval 250ms --max-growth-rate 1GB/h",
        &[dynamic(), "threads"],
    );
    assert_eq!(code, 0, "{}", r["explanation"]);
    let heap = metric(&r, "heap_bytes")["last"].as_f64().expect("heap");
    let want = 20.0 * 1024.0 * 1024.0 + 300.0 * 100.0 * 1024.0;
    assert!(
        (heap - want).abs() / want < 0.01,
        "heap {heap} vs {want}: off by {:.2}%",
        (heap - want) / want * 100.0
    );
}

#[test]
fn memory_that_bypasses_malloc_is_called_out() {
    let (code, r, _d) = soak_on(
        "--duration 3s --interval 250ms --max-growth-rate 1GB/h",
        &[dynamic(), "mmap", "64"],
    );
    assert!(matches!(code, 0 | 3), "ran to the end: {code}");
    let n = notes(&r);
    assert!(n.contains("bypasses malloc"), "{n}");
}

/// Partial coverage is named only for a process that runs without counters, not for one
/// caught for a moment between fork (or vfork) and exec.
#[test]
fn partial_coverage_is_named_for_real_gaps_only() {
    let (_, r, _d) = soak_on(
        "--duration 4s --interval 100ms --max-growth-rate 1GB/h",
        &["sh", "-c", "while :; do sleep 0.05; done"],
    );
    assert!(
        !notes(&r).contains("covers only"),
        "short-lived children are no gap: {}",
        notes(&r)
    );
    let stat = targets().1.to_str().expect("utf8");
    let (_, r, _d) = soak_on(
        "--duration 3s --interval 100ms --max-growth-rate 1GB/h",
        &["sh", "-c", &format!("{stat} hold 1 & wait")],
    );
    assert!(
        notes(&r).contains("covers only"),
        "a static child is a gap: {}",
        notes(&r)
    );
}

#[test]
fn a_static_target_has_an_empty_heap_and_says_why() {
    let stat = targets().1.to_str().expect("utf8");
    let (code, r, d) = soak_on(
        "--duration 2s --interval 250ms --max-growth-rate 1GB/h",
        &[stat, "hold", "10"],
    );
    assert!(matches!(code, 0 | 3), "ran to the end: {code}");
    assert!(notes(&r).contains("statically linked"), "{}", notes(&r));
    let timeline =
        std::fs::read_to_string(d.path().join("run dir/timeline.csv")).expect("timeline");
    let row = timeline.lines().nth(1).expect("a row");
    assert_eq!(row.split(',').nth(7), Some(""), "heap_bytes empty: {row}");
    // Asking for a verdict on a heap that cannot be counted is refused up front.
    let o = run(&[
        "--metric",
        "heap",
        "--duration",
        "2s",
        "--",
        stat,
        "hold",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("statically linked"));
}

#[test]
fn no_heap_turns_injection_off() {
    let (code, r, d) = soak_on(
        "--duration 2s --interval 250ms --max-growth-rate 1GB/h --no-heap",
        &[dynamic(), "hold", "10"],
    );
    assert!(matches!(code, 0 | 3), "ran to the end: {code}");
    assert!(notes(&r).contains("--no-heap"), "{}", notes(&r));
    let timeline =
        std::fs::read_to_string(d.path().join("run dir/timeline.csv")).expect("timeline");
    assert!(timeline
        .lines()
        .skip(1)
        .all(|row| row.split(',').nth(7) == Some("")));
}
