//! What one container sample costs from the cgroup files against the engine's stats API
//! (the fallback, one-shot calls and the stream soak uses), on a running container of
//! the test image, in one run.
//! Needs the Docker engine and the image tests/container.rs builds
//! (`cargo test --test container` once). Run: `cargo bench --bench container_sample_cost`.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Instant;

fn main() {
    let image = "soak-test-workload:latest";
    let name = format!("soak-bench-{}", std::process::id());
    let started = Command::new("docker")
        .args(["run", "-d", "--name", &name, image, "steady", "20"])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "docker run {image}: {} (run `cargo test --test container` once to build it)",
        String::from_utf8_lossy(&started.stderr)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = soak::workload::engine::Engine::connect().await.unwrap();
        let c = engine.inspect(&name).await.unwrap();
        let mut cg =
            soak::sample::cgroup::CgroupReader::open(std::path::Path::new("/sys/fs/cgroup"), c.pid)
                .unwrap();
        let n_cg = 2000;
        let t = Instant::now();
        for _ in 0..n_cg {
            std::hint::black_box(cg.read().unwrap());
        }
        let per_cg = t.elapsed().as_secs_f64() / n_cg as f64;
        // One-shot API calls: the engine answers the first at once, later ones only at
        // its collector's next tick.
        let mut one_shot = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            std::hint::black_box(engine.stats(&c.id).await.unwrap());
            one_shot.push(t.elapsed().as_secs_f64());
        }
        // The fallback soak uses: a stats stream; how often does it refresh?
        let feed = engine.stats_feed(&c.id, "benchmark").await.unwrap();
        let (_, before) = feed.latest().unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let (_, after) = feed.latest().unwrap();
        let t = Instant::now();
        for _ in 0..n_cg {
            std::hint::black_box(feed.latest().unwrap());
        }
        let per_feed = t.elapsed().as_secs_f64() / n_cg as f64;
        println!("one container sample, cgroup v{}:", cg.version());
        println!("  cgroup files            {:>9.1} µs per sample ({n_cg} reads)", per_cg * 1e6);
        println!(
            "  engine stats, one-shot  {:>9.1} ms, then {:.0} ms, {:.0} ms (three calls in a row)",
            one_shot[0] * 1e3,
            one_shot[1] * 1e3,
            one_shot[2] * 1e3
        );
        println!(
            "  engine stats stream     {:>9.0} ns per tick to take the latest reading; {} readings in 5 s ({:.1} Hz)",
            per_feed * 1e9,
            after - before,
            (after - before) as f64 / 5.0
        );
    });
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
}
