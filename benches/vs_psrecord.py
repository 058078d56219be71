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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--children", action="store_true")
    a = ap.parse_args()
    for p in (SOAK, WORKLOAD):
        if not os.path.exists(p):
            sys.exit(f"{p} missing: cargo build --release --examples")
    psrecord = ensure_psrecord()
    target_args = ["tree", "10", "5"] if a.children else ["steady", "20"]
    target = subprocess.Popen([WORKLOAD, *target_args])
    time.sleep(1.0)
    out = tempfile.mkdtemp()
    soak = subprocess.Popen(
        [SOAK, "--pid", str(target.pid), "--duration", f"{a.seconds}s", "--interval", "100ms",
         "--quiet", "--out", os.path.join(out, "run")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps_cmd = [psrecord, str(target.pid), "--interval", "0.1", "--duration", str(a.seconds),
              "--log", os.path.join(out, "psrecord.txt")]
    if a.children:
        ps_cmd.append("--include-children")
    ps = subprocess.Popen(ps_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    usage = {}
    for name, proc in (("soak", soak), ("psrecord", ps)):
        _, status, ru = os.wait4(proc.pid, 0)
        usage[name] = (ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, status)
    target.kill()
    target.wait()
    with open(os.path.join(out, "psrecord.txt")) as f:
        ps_rows = sum(1 for line in f if line.strip() and not line.startswith("#"))
    import json
    with open(os.path.join(out, "run", "report.json")) as f:
        r = json.load(f)
    print(f"soak vs psrecord, both attached to pid {target.pid} ({' '.join(target_args)}), "
          f"10 Hz for {a.seconds:.0f} s, at the same time; {os.cpu_count()} CPUs")
    print(f"{'tool':<10} {'CPU s':>8} {'peak RSS MB':>12} {'samples':>8}")
    print(f"{'soak':<10} {usage['soak'][0]:>8.3f} {usage['soak'][1]:>12.1f} {r['samples']['taken']:>8}")
    print(f"{'psrecord':<10} {usage['psrecord'][0]:>8.3f} {usage['psrecord'][1]:>12.1f} {ps_rows:>8}")
    cpu_ratio = usage["psrecord"][0] / max(usage["soak"][0], 1e-9)
    rss_ratio = usage["psrecord"][1] / max(usage["soak"][1], 1e-9)
    print(f"psrecord / soak: CPU {cpu_ratio:.1f}x, peak RSS {rss_ratio:.1f}x "
          f"(goals: soak >= 50x less CPU, >= 3x less RSS)")
    print("(CPU and RSS from wait4() rusage of each tool's own process; soak's includes "
          "its final analysis and report writing)")


if __name__ == "__main__":
    main()
