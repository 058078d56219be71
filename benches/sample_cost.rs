//! Cost of one sample, against the physical limit of a raw `/proc/PID/status` read, in
//! one run (ratios are what to trust on a shared machine; absolute times are indicative).
//!
//! Run: `cargo bench --bench sample_cost`. Starts the example workload twice (20 MB and
//! 1 GB resident), so build examples first: `cargo build --release --examples`.

#![allow(clippy::unwrap_used)]

use soak::sample::procfs::ProcReader;
use soak::workload::tree::{ProcId, ProcessTree};
use std::io::Read;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn time_per_call(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() / iters as f64
}

fn start(mb: &str) -> Child {
    let exe =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/workload");
    assert!(
        exe.exists(),
        "build the workload first: cargo build --release --examples"
    );
    let c = Command::new(exe).args(["steady", mb]).spawn().unwrap();
    // Let it fill its memory.
    let mut r = ProcReader::new(false);
    let want = mb.parse::<f64>().unwrap() * 1e6 * 0.95;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if let Ok(s) = r.status(c.id()) {
            if s.rss as f64 >= want {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    c
}

fn main() {
    println!("cost of one sample of one process (median-free mean over many calls, one run)");
    for mb in ["20", "1000"] {
        let mut child = start(mb);
        let pid = child.id();
        let path = format!("/proc/{pid}/status");
        let mut buf = Vec::with_capacity(4096);
        let raw = time_per_call(20_000, || {
            buf.clear();
            std::fs::File::open(&path)
                .unwrap()
                .read_to_end(&mut buf)
                .unwrap();
        });
        let statm = format!("/proc/{pid}/statm");
        let raw_statm = time_per_call(20_000, || {
            buf.clear();
            std::fs::File::open(&statm)
                .unwrap()
                .read_to_end(&mut buf)
                .unwrap();
        });
        let mut r = ProcReader::new(false);
        let sample = time_per_call(20_000, || {
            let st = r.stat_tracked(pid).unwrap();
            r.sample(pid, &st).unwrap().unwrap();
        });
        let mut rt = ProcReader::new(false);
        let st0 = rt.stat(pid).unwrap();
        let mut whole = ProcessTree::new(
            ProcId {
                pid,
                starttime: st0.starttime,
            },
            vec![],
            vec![],
        );
        let tick = time_per_call(5_000, || {
            soak::sample::tree::sample_tree(&mut whole, &mut rt).unwrap();
        });
        let mut rp = ProcReader::new(true);
        let iters = if mb == "20" { 5_000 } else { 500 };
        let pss_only = time_per_call(iters, || {
            rp.pss(pid).unwrap();
        });
        let st = r.stat(pid).unwrap();
        let mut tree = ProcessTree::new(
            ProcId {
                pid,
                starttime: st.starttime,
            },
            vec![],
            vec![],
        );
        tree.refresh(&mut r).unwrap();
        let refresh = time_per_call(2_000, || {
            tree.refresh(&mut r).unwrap();
        });
        let listing = time_per_call(2_000, || {
            std::hint::black_box(std::fs::read_dir("/proc").unwrap().count());
        });
        println!("process holding {mb} MB (pid {pid}):");
        println!(
            "  raw read of /proc/PID/status        {:>9.1} µs   (1.00×)",
            raw * 1e6
        );
        println!(
            "  raw read of /proc/PID/statm         {:>9.1} µs   ({:.2}× status)",
            raw_statm * 1e6,
            raw_statm / raw
        );
        println!(
            "  soak sample (stat+status+fd count)  {:>9.1} µs   ({:.2}× status)",
            sample * 1e6,
            sample / raw
        );
        println!(
            "  soak tick (tree refresh + sample)   {:>9.1} µs   ({:.2}× status)",
            tick * 1e6,
            tick / raw
        );
        println!(
            "  smaps_rollup read for --pss         {:>9.1} µs   ({:.1}× status)",
            pss_only * 1e6,
            pss_only / raw
        );
        let pids = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .count();
        println!(
            "  tree refresh, no process created    {:>9.1} µs   ({:.2}× status)",
            refresh * 1e6,
            refresh / raw
        );
        println!(
            "  listing /proc ({pids} pids; a refresh after any fork) {:>6.1} µs   ({:.2}× status)",
            listing * 1e6,
            listing / raw
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    tree_scaling();
}

/// The cost of one tick over a process tree of 1, 10 and 50 processes.
fn tree_scaling() {
    println!("cost of one tick over a whole tree (tree refresh + sample of every member)");
    let exe =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/workload");
    let mut base = None;
    for n in [1usize, 10, 50] {
        let mut child = Command::new(&exe)
            .args(["tree", &(n - 1).to_string(), "2"])
            .spawn()
            .unwrap();
        let mut r = ProcReader::new(false);
        let st = r.stat(child.id()).unwrap();
        let mut tree = ProcessTree::new(
            ProcId {
                pid: child.id(),
                starttime: st.starttime,
            },
            vec![],
            vec![],
        );
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            let s = soak::sample::tree::sample_tree(&mut tree, &mut r).unwrap();
            if s.sample.processes as usize >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let per_tick = time_per_call(2_000, || {
            soak::sample::tree::sample_tree(&mut tree, &mut r).unwrap();
        });
        let b = *base.get_or_insert(per_tick);
        println!(
            "  {n:>3} processes: {:>8.1} µs per tick, {:>6.1} µs per process ({:.1}× the 1-process tick)",
            per_tick * 1e6,
            per_tick * 1e6 / n as f64,
            per_tick / b
        );
        // The tree's children are killed with their parent's process group below.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        for m in tree.members().collect::<Vec<_>>() {
            unsafe { libc::kill(m.pid as i32, libc::SIGKILL) };
        }
        child.kill().ok();
        child.wait().unwrap();
    }
}
