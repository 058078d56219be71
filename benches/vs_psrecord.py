#!/usr/bin/env python3
"""soak and psrecord attached to the same process at 10 Hz for 60 s, at the same time.

Prints each tool's CPU seconds (user + system, from wait4's rusage of that child) and
peak RSS (ru_maxrss), and the ratios. Installs psrecord from PyPI if it is missing.

    cargo build --release --examples
    python3 benches/vs_psrecord.py [--seconds 60] [--children]

--children adds psrecord's --include-children and soak's default tree sampling on a
target with 10 child processes (soak always samples the tree).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOAK = os.path.join(ROOT, "target/release/soak")
WORKLOAD = os.path.join(ROOT, "target/release/examples/workload")


def ensure_psrecord():
    if shutil.which("psrecord") is None:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "psrecord"])
    return shutil.which("psrecord") or sys.exit("psrecord did not install")


def timed(cmd, out):
    """Runs cmd under GNU time (a small C parent, so the child's peak RSS is its own)."""
    return subprocess.Popen(["/usr/bin/time", "-f", "%U %S %M", "-o", out, *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def read_time(path):
    user, system, maxrss_kb = open(path).read().split()[-3:]
    return float(user) + float(system), int(maxrss_kb) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--children", action="store_true")
    a = ap.parse_args()
    for p in (SOAK, WORKLOAD):
        if not os.path.exists(p):
            sys.exit(f"{p} missing: cargo build --release --examples")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time missing: apt-get install time")
    psrecord = ensure_psrecord()
    out = tempfile.mkdtemp()
    floor = os.path.join(out, "floor")
    subprocess.check_call(["cc", "-O2", "-o", floor, os.path.join(ROOT, "benches/floor.c")])
    target_args = ["tree", "10", "5"] if a.children else ["steady", "20"]
    target = subprocess.Popen([WORKLOAD, *target_args])
    time.sleep(1.0)
    secs = f"{a.seconds:g}"
    procs = {
        "soak": timed([SOAK, "--pid", str(target.pid), "--duration", f"{secs}s", "--interval",
                       "100ms", "--quiet", "--out", os.path.join(out, "run")],
                      os.path.join(out, "soak.time")),
        "psrecord": timed([psrecord, str(target.pid), "--interval", "0.1", "--duration", secs,
                           "--log", os.path.join(out, "psrecord.txt")]
                          + (["--include-children"] if a.children else []),
                          os.path.join(out, "psrecord.time")),
        "C floor": timed([floor, str(target.pid), "100", secs], os.path.join(out, "floor.time")),
    }
    for p in procs.values():
        p.wait()
    target.kill()
    target.wait()
    usage = {
        "soak": read_time(os.path.join(out, "soak.time")),
        "psrecord": read_time(os.path.join(out, "psrecord.time")),
        "C floor": read_time(os.path.join(out, "floor.time")),
    }
    with open(os.path.join(out, "psrecord.txt")) as f:
        ps_rows = sum(1 for line in f if line.strip() and not line.startswith("#"))
    import json
    with open(os.path.join(out, "run", "report.json")) as f:
        r = json.load(f)
    rows = {"soak": r["samples"]["taken"], "psrecord": ps_rows, "C floor": int(a.seconds * 10)}
    print(f"attached to pid {target.pid} ({' '.join(target_args)}), 10 Hz for {a.seconds:.0f} s, "
          f"all at the same time; {os.cpu_count()} CPUs")
    print(f"{'tool':<10} {'CPU s':>8} {'peak RSS MB':>12} {'samples':>8}")
    for k in ("soak", "psrecord", "C floor"):
        print(f"{k:<10} {usage[k][0]:>8.3f} {usage[k][1]:>12.1f} {rows[k]:>8}")
    cpu = usage["psrecord"][0] / max(usage["soak"][0], 1e-9)
    rss = usage["psrecord"][1] / max(usage["soak"][1], 1e-9)
    floor_cpu = usage["psrecord"][0] / max(usage["C floor"][0], 1e-9)
    print(f"psrecord / soak: CPU {cpu:.1f}x, peak RSS {rss:.1f}x "
          f"(goals: >= 50x CPU, >= 3x RSS)")
    print(f"psrecord / C floor: CPU {floor_cpu:.1f}x (the most any sampler could gain here); "
          f"soak / C floor: CPU {usage['soak'][0] / max(usage['C floor'][0], 1e-9):.1f}x")
    print("(GNU time's user+sys and max RSS of each tool; soak's include its start, final "
          "analysis and reports; the C floor only reads /proc/PID/status)")


if __name__ == "__main__":
    main()
