# Re-judges each real 10-minute run of tests/data/real/session3/ with a soak binary
# (`soak analyze`, CI defaults: --max-growth-rate 10MB/h, default warm-up) on the metric
# given, and prints the Markdown table of the session-3 closing note.
# Run from the repository: python3 tests/data/real/workloads/table.py target/release/soak
import json, os, subprocess, sys
SOAK = sys.argv[1]
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "session3")
runs = [
 ("JVM 17 G1 -Xmx256m", "jvm-steady", "none", "rss_bytes"),
 ("JVM 17 G1 -Xmx256m", "jvm-leak45", "45 MB/h leak", "rss_bytes"),
 ("JVM 17 G1 -Xmx256m", "jvm-cache-rss", "none (cache, entries live 180 s)", "rss_bytes"),
 ("JVM 17 G1 -Xmx256m", "jvm-cache-gc10", "none (cache, entries live 180 s)", "runtime_heap_after_gc_bytes"),
 ("JVM 17 G1 -Xmx256m", "jvm-steady-gc10", "none", "runtime_heap_after_gc_bytes"),
 ("JVM 17 G1 -Xmx256m", "jvm-leak45-gc10", "45 MB/h leak", "runtime_heap_after_gc_bytes"),
 ("Node 20 (heap jumps)", "node-steady", "none", "rss_bytes"),
 ("Node 20 (heap jumps)", "node-steady", "none", "runtime_heap_after_gc_bytes"),
 ("Node 20 (heap jumps)", "node-leak2", "2 MB/h leak", "rss_bytes"),
 ("Node 20 (heap jumps)", "node-leak2", "2 MB/h leak", "runtime_heap_after_gc_bytes"),
 ("Node 20 (heap jumps)", "node-leak45", "45 MB/h leak", "rss_bytes"),
 ("Node 20 (heap jumps)", "node-leak45", "45 MB/h leak", "runtime_heap_after_gc_bytes"),
 ("Python 3.11", "py-steady", "none (bounded cache)", "rss_bytes"),
 ("Python 3.11", "py-steady", "none (bounded cache)", "heap_bytes"),
 ("Python 3.11", "py-leak45", "45 MB/h leak", "rss_bytes"),
 ("Python 3.11", "py-leak45", "45 MB/h leak", "heap_bytes"),
 ("redis 7.0 (jemalloc)", "redis-plateau", "none (cache fills 3 min)", "rss_bytes"),
 ("redis 7.0 (jemalloc)", "redis-plateau", "none (cache fills 3 min)", "heap_bytes"),
 ("redis 7.0 (jemalloc)", "redis-leak45", "45 MB/h leak", "rss_bytes"),
 ("redis 7.0 (jemalloc)", "redis-leak45", "45 MB/h leak", "heap_bytes"),
]
print("| runtime | run | truth | metric | verdict (reason) | slope MB/h [90%] |")
print("|---|---|---|---|---|---|")
for rt, d, truth, metric in runs:
    o = subprocess.run([SOAK, "analyze", os.path.join(HERE, f"{d}.csv"), "--max-growth-rate", "10MB/h",
                        "--metric", metric, "--format", "json"], capture_output=True, text=True)
    try:
        r = json.loads(o.stdout)
    except Exception:
        print(f"| {rt} | {d} | {truth} | {metric} | exit {o.returncode}: {o.stderr.strip()[:80]} | |"); continue
    m = next(x for x in r["metrics"] if x["metric"] == metric)
    fmt = lambda v: "–" if v is None else f"{v/1e6:.1f}"
    print(f"| {rt} | {d} | {truth} | {metric.replace('_bytes','')} | {r['verdict']} ({r.get('reason')}) | {fmt(m.get('slope_per_hour'))} [{fmt(m.get('slope_low_per_hour'))}, {fmt(m.get('slope_high_per_hour'))}] |")
