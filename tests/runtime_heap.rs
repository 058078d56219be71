//! The runtimes' own heaps (issue #12), end to end on the real runtimes: a JVM read
//! through its HotSpot perf data (started by soak, and attached to with --pid), full
//! collections requested with --full-gc-every, and node read through soak's preload.
//!
//! Under `CI=true` a missing java or node fails these tests; elsewhere they are skipped
//! with a SKIPPED line.

mod common;

use common::{code, report, run, show};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether `tool` runs; under CI its absence is a failure, never a skip.
fn have(tool: &str, test: &str) -> bool {
    let ok = Command::new(tool)
        .arg(if tool == "java" {
            "-version"
        } else {
            "--version"
        })
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {tool} is not installed (CI=true: install it, e.g. in .ci/run)"
        );
        eprintln!("SKIPPED {test}: {tool} is not installed");
    }
    ok
}

/// A fresh directory for a test's sources and runs.
fn workdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("runtime-heap")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// A numeric column of a run's timeline (None for empty cells).
fn column(run_dir: &Path, name: &str) -> Vec<Option<f64>> {
    let text = std::fs::read_to_string(run_dir.join("timeline.csv")).expect("timeline");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no {name} in {header:?}"));
    lines
        .map(|l| l.split(',').nth(i).and_then(|c| c.parse().ok()))
        .collect()
}

/// A Java program (single-file source launch) that keeps `mb_per_s` MiB more live
/// every second, for ever.
const GROW_JAVA: &str = r#"
import java.util.*;
public class Grow {
  public static void main(String[] a) throws Exception {
    int kib = Integer.parseInt(a[0]) * 1024 / 4;
    List<byte[]> keep = new ArrayList<>();
    while (true) {
      for (int i = 0; i < 4; i++) keep.add(new byte[kib * 1024]);
      for (int j = 0; j < 200; j++) { byte[] g = new byte[10000]; g[0] = 1; }
      Thread.sleep(1000);
    }
  }
}
"#;

/// A cache whose entries (2 MiB a second) live 10 s: they die in the old generation,
/// which G1 does not reclaim without a concurrent cycle or a full collection.
const CACHE_JAVA: &str = r#"
import java.util.*;
public class Cache {
  public static void main(String[] a) throws Exception {
    ArrayDeque<Long> times = new ArrayDeque<>();
    ArrayDeque<byte[][]> entries = new ArrayDeque<>();
    while (true) {
      long now = System.currentTimeMillis();
      byte[][] batch = new byte[16][];
      for (int i = 0; i < batch.length; i++) batch[i] = new byte[64 * 1024];
      entries.add(batch); times.add(now);
      while (!times.isEmpty() && now - times.peek() > 10_000) { times.poll(); entries.poll(); }
      for (int j = 0; j < 2000; j++) { byte[] g = new byte[4096]; g[0] = 1; }
      Thread.sleep(500);
    }
  }
}
"#;

fn write_java(dir: &Path, class: &str, src: &str) -> PathBuf {
    let p = dir.join(format!("{class}.java"));
    std::fs::write(&p, src).expect("write java source");
    p
}

#[test]
fn a_growing_java_heap_is_read_from_perf_data_and_full_collections_are_counted() {
    if !have("java", "a_growing_java_heap_is_read_from_perf_data") {
        return;
    }
    let dir = workdir("grow");
    let src = write_java(&dir, "Grow", GROW_JAVA);
    let out = dir.join("run");
    let o = run(&[
        "--duration",
        "20s",
        "--warmup",
        "5s",
        "--full-gc-every",
        "2s",
        "--max-growth-rate",
        "10GB/h",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--",
        "java",
        "-Xmx512m",
        src.to_str().unwrap(),
        "1",
    ]);
    assert!(code(&o) == 0 || code(&o) == 3, "{}", show(&o));
    let heap = column(&out, "runtime_heap_bytes");
    let seen: Vec<f64> = heap.iter().flatten().copied().collect();
    assert!(
        seen.len() >= 15,
        "runtime_heap_bytes in most rows: {heap:?}"
    );
    // The used heap includes eden's garbage: compare the lowest readings of the first
    // and last quarters, which sit closest to the live set.
    let q = seen.len() / 4;
    let low = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    let (first, last) = (low(&seen[..q]), low(&seen[seen.len() - q..]));
    assert!(
        last > first + 8e6,
        "the live heap grows ~1 MiB/s: {first} → {last} ({seen:?})"
    );
    let after = column(&out, "runtime_heap_after_gc_bytes");
    let after_seen: Vec<f64> = after.iter().flatten().copied().collect();
    assert!(
        after_seen.len() >= 10,
        "after-GC figure once a full collection happened: {after:?}"
    );
    assert!(
        after_seen[after_seen.len() - 1] > after_seen[0] + 8e6,
        "the live set after GC grows too: {after_seen:?}"
    );
    let r = report(&out);
    let requested = r["full_gc"]["requested"].as_u64().unwrap_or(0);
    assert!(
        (6..=10).contains(&requested),
        "about one request every 2 s over 20 s: {}",
        r["full_gc"]
    );
    assert_eq!(r["full_gc"]["every_s"], 2.0);
    assert_eq!(r["runtimes"][0]["kind"], "jvm", "{}", r["runtimes"]);
    assert!(
        r["runtimes"][0]["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("G1"),
        "{}",
        r["runtimes"]
    );
    // The last request may end after the last sample.
    assert!(r["runtimes"][0]["full_gcs"].as_u64().unwrap_or(0) + 1 >= requested);
    let notes = r["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "a full collection was requested every 2s ({requested} times)"
        )),
        "{notes}"
    );
    assert!(
        r["sources"]["runtime_heap_bytes"]
            .as_str()
            .unwrap_or("")
            .contains("hsperfdata"),
        "{}",
        r["sources"]
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("JVM (G1"), "report.md names the runtime");
    // SIGQUIT started the attach listener without a thread dump.
    let stdout = std::fs::read_to_string(out.join("target.stdout.log")).unwrap();
    assert!(!stdout.contains("Full thread dump"), "{stdout}");
}

#[test]
fn a_java_cache_dying_in_the_old_generation_passes_on_the_heap_after_gc() {
    if !have("java", "a_java_cache_dying_in_the_old_generation") {
        return;
    }
    let dir = workdir("cache");
    let src = write_java(&dir, "Cache", CACHE_JAVA);
    let java = |extra: &[&str]| {
        let mut v: Vec<String> = ["--duration", "40s", "--max-growth-rate", "10MB/h", "-q"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(
            [
                "--",
                "java",
                "-Xmx1g",
                "-XX:MaxTenuringThreshold=0",
                "-XX:InitiatingHeapOccupancyPercent=90",
                "-XX:-G1UseAdaptiveIHOP",
                src.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        v
    };
    let (judged, plain) = (dir.join("after-gc"), dir.join("rss"));
    // Both runs at once, so the test takes one run's time.
    let a = java(&[
        "--metric",
        "runtime_heap_after_gc",
        "--full-gc-every",
        "3s",
        "--out",
        judged.to_str().unwrap(),
    ]);
    let b = java(&["--out", plain.to_str().unwrap()]);
    let ta = std::thread::spawn(move || {
        Command::new(common::soak())
            .args(&a)
            .output()
            .expect("soak")
    });
    let ob = Command::new(common::soak())
        .args(&b)
        .output()
        .expect("soak");
    let oa = ta.join().expect("thread");
    let ra = report(&judged);
    assert_ne!(ra["verdict"], "FAIL", "{}", show(&oa));
    assert_eq!(ra["metrics"][0]["metric"], "runtime_heap_after_gc_bytes");
    let live: Vec<f64> = column(&judged, "runtime_heap_after_gc_bytes")
        .into_iter()
        .flatten()
        .collect();
    assert!(live.len() >= 30, "{live:?}");
    let live_end = live[live.len() - 1];
    assert!(
        live_end < 40e6,
        "the live set is ~20 MiB of entries: {live:?}"
    );
    // Without full collections, dead entries pile up in the old generation and the
    // heap expands: RSS climbs far above the live set.
    let rss: Vec<f64> = column(&plain, "rss_bytes").into_iter().flatten().collect();
    let (first, last) = (rss[0], rss[rss.len() - 1]);
    assert!(
        last - first > 100e6 && last > 3.0 * live_end,
        "RSS {first} → {last} against a live set of {live_end}\n{}",
        show(&ob)
    );
}

/// A node program that retains ~1 MB of objects a second.
const KEEP_JS: &str = r#"
const keep = [];
setInterval(() => {
  for (let i = 0; i < 5000; i++) keep.push({ i, s: 'x'.repeat(150) + i });
}, 1000);
"#;

#[test]
fn node_heap_is_published_by_the_preload() {
    if !have("node", "node_heap_is_published_by_the_preload") {
        return;
    }
    let dir = workdir("node");
    let src = dir.join("keep.js");
    std::fs::write(&src, KEEP_JS).unwrap();
    let out = dir.join("run");
    let o = run(&[
        "--duration",
        "15s",
        "--warmup",
        "4s",
        "--full-gc-every",
        "2s",
        "--max-growth-rate",
        "10GB/h",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--",
        "node",
        src.to_str().unwrap(),
    ]);
    assert!(code(&o) == 0 || code(&o) == 3, "{}", show(&o));
    let heap: Vec<f64> = column(&out, "runtime_heap_bytes")
        .into_iter()
        .flatten()
        .collect();
    assert!(heap.len() >= 12, "{heap:?}");
    assert!(
        heap[heap.len() - 1] > heap[0] + 5e6,
        "retained objects grow V8's heap: {heap:?}"
    );
    let after: Vec<f64> = column(&out, "runtime_heap_after_gc_bytes")
        .into_iter()
        .flatten()
        .collect();
    assert!(after.len() >= 8, "forced gc() every 2 s: {after:?}");
    assert!(after[after.len() - 1] > after[0] + 4e6, "{after:?}");
    let r = report(&out);
    assert_eq!(r["runtimes"][0]["kind"], "node", "{}", r["runtimes"]);
    assert!(r["runtimes"][0]["detail"]
        .as_str()
        .unwrap_or("")
        .starts_with('v'));
    assert!(
        r["full_gc"]["requested"].as_u64().unwrap_or(0) >= 5,
        "{}",
        r["full_gc"]
    );
    assert!(r["sources"]["runtime_heap_bytes"]
        .as_str()
        .unwrap_or("")
        .contains("used_heap_size"));
    // The preload left the program's output alone.
    assert_eq!(
        std::fs::read_to_string(out.join("target.stderr.log")).unwrap(),
        ""
    );
}

#[test]
fn attaching_to_a_running_jvm_reads_its_perf_data() {
    if !have("java", "attaching_to_a_running_jvm_reads_its_perf_data") {
        return;
    }
    let dir = workdir("attach");
    let src = write_java(&dir, "Grow", GROW_JAVA);
    let mut jvm = Command::new("java")
        .args(["-Xmx256m", src.to_str().unwrap(), "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start java");
    let pid = jvm.id();
    // The JVM publishes its perf data as it starts.
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end
        && !std::fs::read_dir("/tmp")
            .map(|d| d.flatten().any(|e| e.path().join(pid.to_string()).exists()))
            .unwrap_or(false)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = dir.join("run");
    let o = run(&[
        "--pid",
        &pid.to_string(),
        "--duration",
        "10s",
        "--full-gc-every",
        "2s",
        "--metric",
        "runtime_heap",
        "--max-growth-rate",
        "10GB/h",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    let _ = jvm.kill();
    let _ = jvm.wait();
    assert!(code(&o) == 0 || code(&o) == 3, "{}", show(&o));
    let heap: Vec<f64> = column(&out, "runtime_heap_bytes")
        .into_iter()
        .flatten()
        .collect();
    assert!(heap.len() >= 9, "{heap:?}");
    let after: Vec<f64> = column(&out, "runtime_heap_after_gc_bytes")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        !after.is_empty(),
        "full collections through the attach protocol"
    );
    let r = report(&out);
    assert_eq!(r["target"]["kind"], "pid");
    assert_eq!(r["runtimes"][0]["kind"], "jvm");
    assert_eq!(r["runtimes"][0]["pid"], pid);
    assert!(
        r["full_gc"]["requested"].as_u64().unwrap_or(0) >= 3,
        "{}",
        r["full_gc"]
    );
    assert_eq!(r["full_gc"]["failed"], 0, "{}", r["notes"]);
    assert_eq!(r["metrics"][0]["metric"], "runtime_heap_bytes");
}
