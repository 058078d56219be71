#!/usr/bin/env python3
"""What allocation-site sampling costs (issue #18), side by side with heaptrack, in one run.

Arms, run alternately round by round (the order rotates each round, so drift on this shared
machine hits every arm alike); medians with min and max:
  none       no preload
  counting   soak's heap shim as soak injects it without sites (LD_PRELOAD + SOAK_HEAP_DIR)
  sites      the shim + SOAK_SITES_PERIOD=524288 (soak's default period for runs of 2 h and
             more at the default 10 MB/h limit)
  sites-64k  the shim + SOAK_SITES_PERIOD=65536 (soak's default period for a 10-minute run at
             10 MB/h: the default follows the run's length, src/config.rs)
  heaptrack  `heaptrack -o <tmp>/x <program>` (full call-stack tracing of every call)

Workloads:
  1. benches/malloc_loop.c (cc -O2 -pthread), PAIRS malloc+free pairs on 1 thread; the metric
     is the loop's own time, which the program prints (start-up and heaptrack's
     post-processing are outside it).
  2. redis-server (Debian's, jemalloc) under redis-benchmark -t set,get -n 100000 -c 50
     -d 100 -r 100000; the metric is the mean of the SET and GET requests per second.

Overhead = time ratio − 1 (malloc loop) or throughput loss (redis); the malloc loop's
throughput loss is 1 − t_none / t_arm. The goals (issue #18): ≤ 5% throughput loss at the
default period, and ≥ 10× less overhead than heaptrack; met / not met is printed from the
figures of this run.

With --instructions, also the instructions executed under valgrind's callgrind by malloc_loop
(1 M pairs) and by redis-server serving 20k SET + 20k GET from one client (none / counting /
sites / sites-64k): deterministic, so immune to the neighbours' load
(--instructions-only runs just that). heaptrack is not in it: its preload library records
nothing under valgrind (and this VM has no hardware counters for perf).

The shim is the libsoak_heap.so that target/release/soak embeds (found in the build's out
dirs and checked byte for byte against the binary; --shim PATH uses another, e.g. one under
development). The sites arms check that the shim wrote its PID.sites file and print how
many allocations it sampled per run.

Run: cargo build --release && python3 benches/sites_overhead.py [ROUNDS] [--pairs N]
     [--instructions | --instructions-only] [--no-redis] [--shim PATH]       (ROUNDS default 5)
Needs cc, heaptrack, redis-server, redis-tools, valgrind (for --instructions).
"""

import glob
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOAK = os.path.join(ROOT, "target", "release", "soak")
DEFAULT_PERIOD = 524288
SITES_MAGIC = int.from_bytes(b"SOAKSITE", "little")


def find_shim():
    """The out-dir shim whose bytes target/release/soak embeds (several out dirs may exist)."""
    if not os.path.exists(SOAK):
        raise SystemExit("build soak first: cargo build --release")
    binary = open(SOAK, "rb").read()
    found = sorted(glob.glob(os.path.join(ROOT, "target/release/build/soak-*/out/libsoak_heap.so")),
                   key=os.path.getmtime, reverse=True)
    for path in found:
        if open(path, "rb").read() in binary:
            return path
    raise SystemExit("no libsoak_heap.so under target/release/build matches target/release/soak")


def shim_has_sites(shim):
    return b"SOAK_SITES_PERIOD" in open(shim, "rb").read()


def arm_env(arm, shim, seg):
    """Environment additions of an arm (heaptrack is a wrapper, not an environment)."""
    if arm == "none" or arm == "heaptrack":
        return {}
    env = {"LD_PRELOAD": shim, "SOAK_HEAP_DIR": seg}
    if arm == "sites":
        env["SOAK_SITES_PERIOD"] = str(DEFAULT_PERIOD)
    elif arm == "sites-64k":
        env["SOAK_SITES_PERIOD"] = "65536"
    return env


def sites_samples(seg):
    """Sampled allocations recorded in the .sites files of seg (header offset 40), or None."""
    total, seen = 0, False
    for path in glob.glob(os.path.join(seg, "*.sites")):
        head = open(path, "rb").read(64)
        seen = True
        if len(head) == 64 and struct.unpack_from("<Q", head, 0)[0] == SITES_MAGIC:
            total += struct.unpack_from("<Q", head, 40)[0]
    return total if seen else None


class Runner:
    def __init__(self, tmp, shim, pairs):
        self.tmp, self.shim, self.pairs = tmp, shim, pairs
        self.exe = os.path.join(tmp, "malloc_loop")
        subprocess.run(["cc", "-O2", "-pthread", "-o", self.exe,
                        os.path.join(ROOT, "benches", "malloc_loop.c")], check=True)
        self.samples = {}  # arm -> sampled allocations per run

    def fresh_seg(self):
        seg = tempfile.mkdtemp(prefix="seg-", dir=self.tmp)
        return seg

    def note_samples(self, arm, seg):
        if arm.startswith("sites"):
            n = sites_samples(seg)
            if n is None:
                raise SystemExit(f"{arm}: the shim wrote no .sites file: sampling was not on")
            self.samples.setdefault(arm, []).append(n)
        shutil.rmtree(seg, ignore_errors=True)

    def malloc_loop(self, arm, pairs=None):
        """The loop's own seconds."""
        seg = self.fresh_seg()
        cmd = [self.exe, str(pairs or self.pairs), "1"]
        ht = None
        if arm == "heaptrack":
            ht = os.path.join(self.tmp, "ht-loop")
            cmd = ["heaptrack", "-o", ht] + cmd
        env = dict(os.environ, **arm_env(arm, self.shim, seg))
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"malloc_loop ({arm}) failed: {out.stderr[-2000:]}")
        # heaptrack prints its own lines around the program's; the figure is the bare number.
        nums = [ln for ln in out.stdout.splitlines() if re.fullmatch(r"\d+", ln.strip())]
        if len(nums) != 1:
            raise SystemExit(f"malloc_loop ({arm}) printed {out.stdout!r}")
        if ht:
            for f in glob.glob(ht + "*"):
                os.remove(f)
        self.note_samples(arm, seg)
        return int(nums[0]) / 1e9

    def redis(self, arm):
        """Mean of SET and GET requests per second."""
        seg = self.fresh_seg()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]
        ht = None
        if arm == "heaptrack":
            ht = os.path.join(self.tmp, "ht-redis")
            cmd = ["heaptrack", "-o", ht] + cmd
        env = dict(os.environ, **arm_env(arm, self.shim, seg))
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                r = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                   capture_output=True, text=True)
                if r.stdout.strip() == "PONG":
                    break
                if p.poll() is not None:
                    raise SystemExit(f"redis-server ({arm}) exited with {p.returncode}")
                time.sleep(0.05)
            else:
                raise SystemExit(f"redis-server ({arm}) did not answer")
            b = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", "100000",
                                "-c", "50", "-d", "100", "-r", "100000", "-t", "set,get"],
                               capture_output=True, text=True, check=True)
            rps = [float(x) for x in re.findall(r"([\d.]+) requests per second", b.stdout)]
            if len(rps) != 2:
                raise SystemExit(f"redis-benchmark printed {b.stdout!r}")
        finally:
            # A clean shutdown, so heaptrack finishes its file and the shim its counters.
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                           capture_output=True)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if ht:
            for f in glob.glob(ht + "*"):
                os.remove(f)
        self.note_samples(arm, seg)
        return sum(rps) / len(rps)


def measure(arms, rounds, f):
    got = {a: [] for a in arms}
    for n in range(rounds):
        k = n % len(arms)
        for arm in arms[k:] + arms[:k]:
            got[arm].append(f(arm))
    return got


def pct(x):
    return f"{x * 100:+.1f}%"


def report(title, unit, got, higher_better, samples):
    """Prints one workload's table and its goals; `overhead` is the cost as a fraction."""
    med = {a: statistics.median(v) for a, v in got.items()}
    none = med["none"]

    def overhead(m, base):
        return (1 - m / base) if higher_better else (m / base - 1)

    def loss(m, base):  # throughput loss
        return (1 - m / base) if higher_better else (1 - base / m)

    print(f"\n{title}")
    print(f"{'arm':<11} {'median ' + unit:>16} {'min':>12} {'max':>12} {'overhead vs none':>17}"
          f" {'samples/run':>12}")
    fmt = "{:,.0f}" if higher_better else "{:.4f}"
    for arm, v in got.items():
        s = samples.get(arm)
        s = f"{statistics.median(s):,.0f}" if s else ""
        print(f"{arm:<11} {fmt.format(med[arm]):>16} {fmt.format(min(v)):>12}"
              f" {fmt.format(max(v)):>12} {pct(overhead(med[arm], none)):>17} {s:>12}")
    lines = []
    sites_arms = [a for a in ("sites", "sites-64k") if a in med]
    for arm in sites_arms:
        label = "512 KiB" if arm == "sites" else "64 KiB"
        lines.append(f"{arm} ({label}) vs none:     overhead {pct(overhead(med[arm], none))}, "
                     f"throughput loss {pct(loss(med[arm], none))}")
        lines.append(f"{arm} ({label}) vs counting: overhead "
                     f"{pct(overhead(med[arm], med['counting']))}, throughput loss "
                     f"{pct(loss(med[arm], med['counting']))}")
    o_h = overhead(med["heaptrack"], none)
    lines.append(f"heaptrack vs none:           overhead {pct(o_h)}, throughput loss "
                 f"{pct(loss(med['heaptrack'], none))}")
    for ln in lines:
        print("  " + ln)
    if not sites_arms:
        print("  goals: not evaluated (this shim has no sampler)")
        return
    for arm in sites_arms:
        label = ("512 KiB, the default for runs of 2 h+" if arm == "sites"
                 else "64 KiB, the default for 10-minute runs")
        l_sn, l_sc = loss(med[arm], none), loss(med[arm], med["counting"])
        o_sn = overhead(med[arm], none)
        print(f"  goal ≤ 5% throughput loss at the default period ({label}):")
        print(f"    {arm} vs none (all of soak's heap instrumentation): {pct(l_sn)} → "
              f"{'met' if l_sn <= 0.05 else 'NOT met'}")
        print(f"    {arm} vs counting (the sampler alone):              {pct(l_sc)} → "
              f"{'met' if l_sc <= 0.05 else 'NOT met'}")
        if o_sn > 0:
            ratio = o_h / o_sn
            verdict = "met" if ratio >= 10 else "NOT met"
            print(f"  goal ≥ 10× less overhead than heaptrack ({arm}): heaptrack {pct(o_h)} / "
                  f"{arm} {pct(o_sn)} = {ratio:.1f}× → {verdict}")
        else:
            print(f"  goal ≥ 10× less overhead than heaptrack ({arm}): heaptrack {pct(o_h)}, "
                  f"{arm} {pct(o_sn)}: not measurable here ({arm} not above none, within noise)")


def callgrind_refs(log, what):
    m = re.search(r"refs:\s*([\d,]+)", log)
    if not m:
        raise SystemExit(f"callgrind ({what}) printed no instruction count: {log[-2000:]}")
    return int(m.group(1).replace(",", ""))


def cg_malloc_loop(runner, arm, seg):
    out = os.path.join(runner.tmp, f"cg.loop.{arm}")
    env = dict(os.environ, **arm_env(arm, runner.shim, seg))
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        runner.exe, "1000000", "1"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"callgrind malloc_loop ({arm}) failed: {r.stderr[-2000:]}")
    return callgrind_refs(r.stderr, f"malloc_loop {arm}")


def cg_redis(runner, arm, seg):
    """The server's instructions for 20k SET + 20k GET from one client (so the work is the
    same in every arm), as benches/shim_instructions.sh measures it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = os.path.join(runner.tmp, f"cg.redis.{arm}.log")
    env = dict(os.environ, **arm_env(arm, runner.shim, seg))
    with open(log, "w") as err:
        p = subprocess.Popen(["valgrind", "--tool=callgrind",
                              f"--callgrind-out-file={runner.tmp}/cg.redis.{arm}",
                              "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"],
                             env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(600):
            r = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                               capture_output=True, text=True)
            if r.stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", "20000", "-c", "1",
                        "-d", "100", "-r", "10000", "-t", "set,get"],
                       capture_output=True, check=True)
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                       capture_output=True)
        p.wait(timeout=300)
    return callgrind_refs(open(log).read(), f"redis {arm}")


def instructions(runner, arms, with_redis):
    """Instructions executed per arm under callgrind: deterministic, unlike wall time."""
    rows = [("malloc_loop 1,000,000 pairs, 1 thread", cg_malloc_loop, arms)]
    if with_redis:
        rows.append(("redis-server: 20k SET + 20k GET, 1 client", cg_redis,
                     arms))
    print("\ninstructions executed (valgrind --tool=callgrind); heaptrack cannot be counted"
          " this way\n(its preload library records nothing under valgrind)")
    print(f"{'workload':<42} {'arm':<10} {'instructions':>15} {'vs none':>8} {'vs counting':>12}"
          f" {'samples':>8}")
    for title, f, row_arms in rows:
        got = {}
        for arm in row_arms:
            seg = runner.fresh_seg()
            got[arm] = f(runner, arm, seg)
            s = sites_samples(seg)
            runner.note_samples(arm, seg)
            vc = f"{got[arm] / got['counting']:.3f}" if "counting" in got else ""
            print(f"{title:<42} {arm:<10} {got[arm]:>15,} {got[arm] / got['none']:>8.3f} {vc:>12}"
                  f" {'' if s is None else format(s, ','):>8}")
            title = ""


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def main():
    args = sys.argv[1:]
    flags = {a for a in args if a.startswith("--")}
    pairs = 5_000_000
    if "--pairs" in args:
        pairs = int(args[args.index("--pairs") + 1])
    pos = [a for i, a in enumerate(args)
           if not a.startswith("--") and (i == 0 or args[i - 1] not in ("--pairs", "--shim"))]
    rounds = int(pos[0]) if pos else 5
    tools = ["cc", "heaptrack", "redis-server", "redis-benchmark", "redis-cli"]
    if flags & {"--instructions", "--instructions-only"}:
        tools.append("valgrind")
    for tool in tools:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing")
    shim = find_shim()
    if "--shim" in args:  # e.g. a shim under development
        shim = os.path.abspath(args[args.index("--shim") + 1])
    with_sites = shim_has_sites(shim)
    tmp = tempfile.mkdtemp(prefix="soak-sites-overhead-")
    runner = Runner(tmp, shim, pairs)
    print(f"shim: {os.path.relpath(shim, ROOT)} ({'with' if with_sites else 'WITHOUT'} the sites "
          f"sampler); soak {subprocess.run([SOAK, '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"load average before: {' '.join(loadavg())} ({os.cpu_count()} CPUs)")
    sites_arms = ["sites", "sites-64k"] if with_sites else []
    if "--instructions-only" not in flags:
        arms = ["none", "counting"] + sites_arms + ["heaptrack"]
        print(f"{rounds} rounds, arms alternating (order rotated each round); medians")
        got = measure(arms, rounds, runner.malloc_loop)
        report(f"malloc_loop: {pairs:,} malloc+free pairs (16 B–4 KiB), 1 thread — loop time",
               "s", got, False, runner.samples)
        if "--no-redis" not in flags:
            runner.samples = {}
            arms = ["none", "counting"] + sites_arms + ["heaptrack"]
            got = measure(arms, rounds, runner.redis)
            report("redis-server (jemalloc) under redis-benchmark -t set,get -n 100000 -c 50 "
                   "-d 100 -r 100000 — mean SET/GET throughput", "req/s", got, True,
                   runner.samples)
    if flags & {"--instructions", "--instructions-only"}:
        instructions(runner, ["none", "counting"] + sites_arms, "--no-redis" not in flags)
    print(f"\nload average after: {' '.join(loadavg())}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
