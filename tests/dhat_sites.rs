//! The `dhat` feature: an in-process soak names the allocation sites whose live bytes
//! grew after warm-up. Run by .ci/run with `cargo test --features dhat --test dhat_sites`.
#![cfg(feature = "dhat")]
#![allow(clippy::unwrap_used)]

use soak::{CountingAlloc, InProcess};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The leak: one 1 KiB buffer kept per call.
#[inline(never)]
fn remember_request(cache: &mut Vec<Box<[u8]>>) {
    cache.push(std::hint::black_box(vec![7u8; 1024].into_boxed_slice()));
}

/// Allocation that does not outlive the call.
#[inline(never)]
fn parse_request() -> usize {
    let v = std::hint::black_box(vec![1u8; 4096]);
    v.len()
}

#[test]
fn the_site_that_grew_is_named_first() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("run");
    let r = InProcess::new("dhat-sites")
        .iterations(4_000)
        .interval(std::time::Duration::from_millis(20))
        .max_growth_rate_per_hour(1e6)
        .out_dir(&dir)
        .run_with_state(Vec::new, |cache| {
            parse_request();
            remember_request(cache);
        });
    let sites = &r.report.allocation_sites;
    assert!(!sites.is_empty(), "notes: {:?}", r.report.notes);
    let top = &sites[0];
    assert!(
        top.frames[0].contains("remember_request"),
        "top site: {top:?}"
    );
    // Profiling starts at iteration 400 (the first tenth): 3,600 buffers stay live.
    assert_eq!(top.blocks, 3_600, "{top:?}");
    assert_eq!(top.bytes, 3_600 * 1024);
    assert!(
        sites
            .iter()
            .all(|s| !s.frames.iter().any(|f| f.contains("parse_request"))),
        "a site whose allocations were freed is not growth: {sites:?}"
    );
    assert!(dir.join("dhat-heap.json").exists());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Allocation sites that grew after warm-up")
            && md.contains("remember_request")
    );
}
