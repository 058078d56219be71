//! The heap shim's slowdown of a malloc-heavy target, in one run: benches/malloc_loop.c
//! built with the machine's cc, run alternately without and with the shim soak injects
//! (LD_PRELOAD plus SOAK_HEAP_DIR, so the counters are published to shared memory as in
//! a real run), on 1 and 2 threads. Prints the median loop time of each and the ratio.
//! Then what reading a process's heap segment adds to a tick, against the default
//! sample of the same process (stat + status + fd count).
//! Run: `cargo bench --bench heap_shim_cost`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("malloc_loop");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/malloc_loop.c");
    let cc = Command::new("cc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(cc.success(), "cc failed");
    let shim = tmp.path().join("shim.so");
    std::fs::write(&shim, soak::sample::heap::SHIM).unwrap();
    let seg_dir = tmp.path().join("segments");
    std::fs::create_dir(&seg_dir).unwrap();
    let ops = "10000000";
    println!(
        "{ops} malloc+free pairs per thread (16 B–4 KiB, 1024 live), median of 9 alternating runs"
    );
    for threads in ["1", "2"] {
        let run = |with_shim: bool| -> f64 {
            let mut c = Command::new(&exe);
            c.args([ops, threads]);
            if with_shim {
                c.env("LD_PRELOAD", &shim).env("SOAK_HEAP_DIR", &seg_dir);
            }
            let out = c.output().unwrap();
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .unwrap()
                / 1e9
        };
        let (mut plain, mut shimmed) = (Vec::new(), Vec::new());
        for _ in 0..9 {
            plain.push(run(false));
            shimmed.push(run(true));
        }
        let (p, s) = (median(plain), median(shimmed));
        println!(
            "{threads} thread(s): without shim {p:.3} s, with shim {s:.3} s → slowdown {:.1}% (ratio {:.3})",
            (s / p - 1.0) * 100.0,
            s / p
        );
    }

    // The sampler's side: a process that loaded the shim, read N times each way.
    let mut target = Command::new("sleep")
        .arg("60")
        .env("LD_PRELOAD", &shim)
        .env("SOAK_HEAP_DIR", &seg_dir)
        .spawn()
        .unwrap();
    let pid = target.id();
    while !seg_dir.join(pid.to_string()).exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut procs = soak::sample::procfs::ProcReader::new(false);
    let mut heap = soak::sample::heap::HeapReader::new(&seg_dir);
    let st = procs.stat(pid).unwrap();
    let n = 20_000;
    let (mut sample_ns, mut heap_ns) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for _ in 0..n {
            let s = procs.stat_tracked(pid).unwrap();
            std::hint::black_box(procs.sample(pid, &s).unwrap());
        }
        sample_ns.push(t.elapsed().as_nanos() as f64 / n as f64);
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                heap.live_bytes(pid, st.starttime, (st.startcode, st.endcode))
                    .unwrap(),
            );
        }
        heap_ns.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    let (a, h) = (median(sample_ns), median(heap_ns));
    println!(
        "sampler: default sample of one process {:.2} µs, its heap segment {:.2} µs more (+{:.0}%)",
        a / 1e3,
        h / 1e3,
        h / a * 100.0
    );
    target.kill().unwrap();
    target.wait().unwrap();
}
