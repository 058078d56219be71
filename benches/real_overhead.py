#!/usr/bin/env python3
"""The heap shim's cost on real programs, in one run (issue #12): each workload runs under
soak alternately with the shim (soak's default: counting, and sampling allocation sites at
the default period of these 5- and 10-minute runs, 64 KiB) and without it (--no-heap), so
both arms pay the same sampling; prints each arm's median and the loss.

- redis-server (jemalloc) under redis-benchmark: requests per second (SET, GET, LPUSH,
  LPOP; 100,000 requests each, 50 clients, 100-byte values).
- python3: a dict/list/str churn loop, timed inside the program.
- node: an object/array/string churn loop, timed inside the program.

Run: `cargo build --release && python3 benches/real_overhead.py [ROUNDS]` (default 5).
Needs redis-server, redis-tools, python3 and node (see .ci/run).
"""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOAK = os.path.join(ROOT, "target", "release", "soak")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5

PY_CHURN = r"""
import time
t = time.perf_counter()
keep = {}
for i in range(1_500_000):
    k = "k%d" % (i % 50_000)
    keep[k] = [i, str(i) * 3, {"v": i}]
    if i % 7 == 0:
        keep.pop("k%d" % ((i * 13) % 50_000), None)
print("elapsed", time.perf_counter() - t)
"""

NODE_CHURN = r"""
const t = process.hrtime.bigint();
const keep = new Map();
for (let i = 0; i < 3_000_000; i++) {
  const k = 'k' + (i % 50000);
  keep.set(k, [i, String(i).repeat(3), { v: i }]);
  if (i % 7 === 0) keep.delete('k' + ((i * 13) % 50000));
}
console.log('elapsed', Number(process.hrtime.bigint() - t) / 1e9);
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soak_cmd(out, heap, cmd, duration="10m"):
    args = [SOAK, "--duration", duration, "--interval", "1s", "-q", "--out", out]
    if not heap:
        args.append("--no-heap")
    return args + ["--allow-exit", "--"] + cmd


def redis_round(tmp, heap, n):
    port = free_port()
    out = os.path.join(tmp, f"redis-{heap}-{n}")
    p = subprocess.Popen(
        soak_cmd(out, heap, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], "5m"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            r = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                               capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        b = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", "100000",
                            "-c", "50", "-d", "100", "-r", "100000",
                            "-t", "set,get,lpush,lpop"],
                           capture_output=True, text=True, check=True)
        rps = [float(x) for x in re.findall(r"([\d.]+) requests per second", b.stdout)]
        if len(rps) != 4:
            raise SystemExit(f"redis-benchmark printed {b.stdout!r}")
        return sum(rps) / len(rps)
    finally:
        p.send_signal(2)
        p.wait()


def timed_round(tmp, heap, n, name, cmd):
    out = os.path.join(tmp, f"{name}-{heap}-{n}")
    subprocess.run(soak_cmd(out, heap, cmd), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    log = open(os.path.join(out, "target.stdout.log")).read()
    m = re.search(r"elapsed ([\d.]+)", log)
    if not m:
        raise SystemExit(f"{name}: no timing in {log!r}")
    return float(m.group(1))


def main():
    for tool in ["redis-server", "redis-benchmark", "redis-cli", "python3", "node"]:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (see .ci/run for the packages)")
    if not os.path.exists(SOAK):
        raise SystemExit("build soak first: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="soak-real-overhead-")
    py = os.path.join(tmp, "churn.py")
    js = os.path.join(tmp, "churn.js")
    open(py, "w").write(PY_CHURN)
    open(js, "w").write(NODE_CHURN)
    print(f"{ROUNDS} alternating rounds per arm (shim on = soak's default: counting and sites, "
          "off = --no-heap); medians")
    print(f"{'workload':<34} {'no shim':>12} {'shim':>12} {'loss':>7}")
    rows = [
        ("redis-benchmark (req/s, higher=better)", True,
         lambda h, n: redis_round(tmp, h, n)),
        ("python3 churn (s, lower=better)", False,
         lambda h, n: timed_round(tmp, h, n, "py", ["python3", py])),
        ("node churn (s, lower=better)", False,
         lambda h, n: timed_round(tmp, h, n, "node", ["node", js])),
    ]
    for name, higher_better, f in rows:
        on, off = [], []
        for n in range(ROUNDS):
            # Alternate which arm goes first, so drift hits both alike.
            order = [False, True] if n % 2 == 0 else [True, False]
            for heap in order:
                (on if heap else off).append(f(heap, n))
        m_on, m_off = statistics.median(on), statistics.median(off)
        loss = (1 - m_on / m_off) if higher_better else (m_on / m_off - 1)
        print(f"{name:<34} {m_off:>12.3f} {m_on:>12.3f} {loss * 100:>6.1f}%")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
