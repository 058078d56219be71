//! What soak::CountingAlloc costs against the system allocator it wraps, in one run:
//! the same allocate/free pattern through each (called directly, so both are in one
//! binary under the same load). Run: `cargo bench --bench alloc_cost`; with
//! `--features dhat` CountingAlloc forwards to dhat::Alloc, and the bench also times it
//! while dhat's profiler records (what an in-process soak pays after warm-up).

#![allow(clippy::unwrap_used)]

use soak::CountingAlloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Instant;

fn churn<A: GlobalAlloc>(a: &A, rounds: usize) -> f64 {
    let sizes = [16usize, 64, 256, 1024, 4096];
    let mut live: Vec<(*mut u8, Layout)> = Vec::with_capacity(1024);
    let start = Instant::now();
    for i in 0..rounds {
        let layout = Layout::from_size_align(sizes[i % sizes.len()], 8).unwrap();
        // SAFETY: non-zero size, valid alignment; every block is freed with its layout.
        let p = unsafe { a.alloc(layout) };
        assert!(!p.is_null());
        live.push((p, layout));
        if live.len() == 1024 {
            for (p, l) in live.drain(..) {
                // SAFETY: allocated above by the same allocator with this layout.
                unsafe { a.dealloc(p, l) };
            }
        }
    }
    for (p, l) in live.drain(..) {
        // SAFETY: as above.
        unsafe { a.dealloc(p, l) };
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let rounds = 20_000_000;
    let mut sys = Vec::new();
    let mut counting = Vec::new();
    for _ in 0..5 {
        sys.push(churn(&System, rounds));
        counting.push(churn(&CountingAlloc, rounds));
    }
    sys.sort_by(f64::total_cmp);
    counting.sort_by(f64::total_cmp);
    let (s, c) = (sys[2], counting[2]);
    println!("allocate+free {rounds} blocks of 16 B–4 KiB, median of 5, alternating:");
    println!(
        "  System          {:>8.1} ns per alloc+free",
        s / rounds as f64 * 1e9
    );
    println!(
        "  CountingAlloc   {:>8.1} ns per alloc+free  ({:.2}× System)",
        c / rounds as f64 * 1e9,
        c / s
    );
    if cfg!(feature = "dhat") {
        println!(
            "  (built with --features dhat: CountingAlloc forwards to dhat::Alloc, profiler idle)"
        );
    }
    #[cfg(feature = "dhat")]
    {
        // Recording captures a backtrace per allocation: far fewer rounds.
        let few = 200_000;
        let dir = tempfile::tempdir().unwrap();
        let profiler = dhat::Profiler::builder()
            .file_name(dir.path().join("dhat-heap.json"))
            .build();
        let d = churn(&CountingAlloc, few);
        drop(profiler);
        println!(
            "  dhat recording  {:>8.1} ns per alloc+free  ({:.0}× System; {few} rounds)",
            d / few as f64 * 1e9,
            d / few as f64 / (s / rounds as f64)
        );
    }
}
