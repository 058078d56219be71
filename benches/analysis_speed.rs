//! Analysis speed: reads and judges synthetic timelines of 86,400 and 1,000,000 rows
//! (a day at 1 s; eleven and a half days at 1 s), both in the corpus shape
//! (`elapsed_s,rss_bytes`) and in soak's full 13-column shape. Prints the median of 5
//! runs of read+evaluate, and the peak RSS growth of this process over the runs.
//!
//! Run: `cargo bench --bench analysis_speed`.

#![allow(clippy::unwrap_used)]

use soak::analysis::{evaluate, EvaluateOptions};
use soak::config::Limits;
use soak::timeline::read_timeline;
use soak::units::Rate;
use std::io::Write;
use std::time::Instant;

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn write_file(path: &std::path::Path, rows: usize, full: bool) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut seed = 42u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    if full {
        writeln!(f, "timestamp,elapsed_s,rss_bytes,anon_bytes,file_bytes,shmem_bytes,swap_bytes,heap_bytes,pss_bytes,threads,fds,cpu_s,processes").unwrap();
    } else {
        writeln!(f, "elapsed_s,rss_bytes").unwrap();
    }
    for i in 0..rows {
        let t = i as f64;
        // 200 MB, a GC sawtooth of 120 samples, 2 MB/h of growth, noise.
        let rss = 200e6 + 20e6 * ((i % 120) as f64 / 120.0) + t * 2e6 / 3600.0 + 1e6 * rnd();
        if full {
            writeln!(
                f,
                "2026-01-01T00:00:00.000Z,{t:.3},{},{},{},0,0,,,{},{},{:.2},1",
                rss as u64,
                (rss * 0.8) as u64,
                (rss * 0.2) as u64,
                8,
                12,
                t * 0.01
            )
            .unwrap();
        } else {
            writeln!(f, "{t},{}", rss as u64).unwrap();
        }
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("analysis speed (read + evaluate), median of 5 runs, release build");
    for &rows in &[86_400usize, 1_000_000] {
        for &full in &[false, true] {
            let path = dir.path().join(format!("t-{rows}-{full}.csv"));
            write_file(&path, rows, full);
            let before = rss_kb();
            let mut times = Vec::new();
            let mut verdict = None;
            for _ in 0..5 {
                let start = Instant::now();
                let tl = read_timeline(&path, "rss_bytes").unwrap();
                let read = start.elapsed();
                let e = evaluate(
                    &tl.elapsed_s,
                    &tl.columns,
                    &EvaluateOptions {
                        metric: "rss_bytes".into(),
                        warmup_s: None,
                        limits: Limits {
                            max_growth_rate: Some(Rate::per_hour(5e6)),
                            ..Limits::default()
                        },
                    },
                );
                times.push((start.elapsed().as_secs_f64(), read.as_secs_f64()));
                verdict = Some((e.verdict, e.metrics.len()));
            }
            times.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (total, read) = times[2];
            let (v, metrics) = verdict.unwrap();
            println!(
                "{rows:>9} rows, {:<10} {:>8.1} ms total ({:>7.1} ms reading the CSV, {:>7.1} ms analysing {metrics} metric(s)); peak RSS grew {:.1} MB; verdict {v}",
                if full { "13 columns" } else { "2 columns" },
                total * 1e3,
                read * 1e3,
                (total - read) * 1e3,
                (rss_kb().saturating_sub(before)) as f64 / 1e3,
            );
        }
    }
}
