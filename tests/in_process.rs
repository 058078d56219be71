//! The in-process API, in a test binary with the counting allocator installed — the way
//! a user's crate would use it.

#![allow(clippy::unwrap_used)]

use soak::{heap_stats, CountingAlloc, InProcess};
use std::time::Duration;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The heap counter is process-wide: tests that measure it take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn counting_allocator_counts() {
    let _turn = serial();
    let before = heap_stats().unwrap();
    let v: Vec<u8> = std::hint::black_box(vec![1u8; 10_000_000]);
    let during = heap_stats().unwrap();
    // The counter is process-wide: the test harness's other threads may free a few
    // bytes meanwhile (seen: 24 bytes), so allow 64 kB of their traffic either way.
    assert!(
        during.bytes + 64_000 >= before.bytes + 10_000_000
            && during.bytes <= before.bytes + 10_000_000 + 64_000,
        "{before:?} → {during:?}"
    );
    drop(v);
    let after = heap_stats().unwrap();
    assert!(
        after.bytes < during.bytes - 9_000_000,
        "{during:?} → {after:?}"
    );
}

#[test]
fn steady_closure_passes_and_returns_to_baseline() {
    let _turn = serial();
    let d = tmp();
    let r = InProcess::new("steady")
        .duration(Duration::from_secs(3))
        .interval(Duration::from_millis(20))
        .warmup(Duration::from_millis(500))
        .max_growth_rate_per_hour(50e6)
        .max_residual(1_000_000)
        .out_dir(d.path().join("run"))
        .run_with_state(
            || vec![0u64; 1000],
            |v| {
                let tmp: Vec<u64> = v.iter().map(|x| x + 1).collect();
                v.copy_from_slice(&tmp);
                std::thread::sleep(Duration::from_micros(200));
            },
        )
        .assert_pass();
    assert_eq!(r.report.settings.metric, "heap_bytes");
    assert!(r.iterations > 100);
    assert!(r
        .report
        .checks
        .iter()
        .any(|c| c.limit_name == "max_residual" && c.verdict == soak::analysis::Verdict::Pass));
    for f in [
        "timeline.csv",
        "report.json",
        "report.md",
        "report.html",
        "junit.xml",
    ] {
        assert!(r.dir.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(r.dir.join("timeline.csv")).unwrap();
    let heap = csv.lines().nth(5).unwrap().split(',').nth(7).unwrap();
    assert!(
        heap.parse::<u64>().unwrap() > 0,
        "heap_bytes filled: {heap}"
    );
}

#[test]
fn leaking_closure_fails_with_report_written_before_the_panic() {
    let _turn = serial();
    let d = tmp();
    let dir = d.path().join("run");
    let dir2 = dir.clone();
    let res = std::panic::catch_unwind(move || {
        InProcess::new("leaky")
            .duration(Duration::from_secs(3))
            .interval(Duration::from_millis(20))
            .warmup(Duration::from_millis(500))
            .max_growth_rate_per_hour(50e6)
            .out_dir(dir2)
            .run_with_state(Vec::<Vec<u8>>::new, |kept| {
                // 10 kB per millisecond: about 36 GB/h if it ran that long.
                kept.push(vec![7u8; 10_000]);
                std::thread::sleep(Duration::from_millis(1));
            })
            .assert_pass()
    });
    let msg = res.unwrap_err();
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.starts_with("soak: FAIL"), "{msg}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["verdict"], "FAIL");
    assert_eq!(r["target"]["kind"], "closure");
    assert_eq!(r["metrics"][0]["metric"], "heap_bytes");
}

#[test]
fn state_that_escapes_fails_the_return_to_baseline() {
    let _turn = serial();
    let d = tmp();
    let r = InProcess::new("escape")
        .iterations(2_000)
        .interval(Duration::from_millis(10))
        .max_growth_rate_per_hour(1e15)
        .max_residual(1_000_000)
        .out_dir(d.path().join("run"))
        .run(|| {
            // Leaked on purpose: 5 kB per iteration that no drop will give back.
            std::hint::black_box(Box::leak(vec![1u8; 5_000].into_boxed_slice()));
        });
    let c = r
        .report
        .checks
        .iter()
        .find(|c| c.limit_name == "max_residual")
        .unwrap();
    assert_eq!(
        c.verdict,
        soak::analysis::Verdict::Fail,
        "{}",
        c.explanation
    );
    assert!(
        c.measured.unwrap() >= 9_000_000.0,
        "2,000 × 5 kB escaped: {}",
        c.explanation
    );
    assert_eq!(r.report.verdict, soak::analysis::Verdict::Fail);
}

#[test]
fn rss_growing_outside_the_heap_is_named() {
    let _turn = serial();
    let d = tmp();
    let r = InProcess::new("retention")
        .duration(Duration::from_secs(3))
        .interval(Duration::from_millis(20))
        .warmup(Duration::from_millis(500))
        .max_growth_rate_per_hour(1e15)
        .out_dir(d.path().join("run"))
        .run(|| {
            // Memory the heap counter does not see, as an allocator's retained arenas:
            // 256 kB mapped and touched every 5 ms, never unmapped.
            unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    256 * 1024,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                std::ptr::write_bytes(p as *mut u8, 1, 256 * 1024);
            }
            std::thread::sleep(Duration::from_millis(5));
        });
    assert!(
        r.report
            .notes
            .iter()
            .any(|n| n.contains("heap is flat") && n.contains("retention")),
        "{:?}",
        r.report.notes
    );
}
