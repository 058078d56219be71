#!/usr/bin/env python3
"""The four performance goals of issue #15, measured as ratios in one run.

    cargo build --release --examples && cargo build --release
    python3 benches/perf_goals.py [--soak PATH] [--seconds 60] [--tree-seconds 30] [--goals ac]

Starts everything itself (the targets, a churn process, the C floor, psrecord) and prints:

  (a) soak's CPU / the C floor's CPU, both attached to one 50 MB process at 10 Hz for
      60 s side by side, while a churn process forks a short-lived child every 50 ms;
  (b) soak's CPU per tick on a 50-process tree / a C floor reading the same 50
      `/proc/PID/status` files per tick (10 ms interval, side by side, no churn);
  (c) psrecord's peak RSS / soak's, from run (a) (psrecord attached too);
  (d) missed ticks at a 1 ms interval for 10 s, without and with the churn process.

Run (a) also runs benches/contract_floor.c beside them: a C loop making exactly the reads
and the row write soak's contract needs per tick (stat, status, children, the descriptor
count, one timeline row). contract floor / floor is the part of goal (a) that no sampler
keeping soak's contract can remove; soak / contract floor is what soak adds to it.

CPU is user + system and peak RSS is ru_maxrss, both from wait4 in a small C parent
(benches/rusage.c). soak's CPU includes its start, the final analysis and the
four report files; the floor only reads. Ratios are what to compare on a shared machine:
both sides run at the same time under the same load. Takes about 2 minutes. Needs cc,
and psrecord (`pip install psrecord==1.4`; installed if missing).
"""
import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOAD = os.path.join(ROOT, "target/release/examples/workload")


def build_c(out, name):
    exe = os.path.join(out, name)
    subprocess.check_call(["cc", "-O2", "-o", exe, os.path.join(ROOT, "benches", name + ".c")])
    return exe


def ensure_psrecord():
    if shutil.which("psrecord") is None:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "psrecord==1.4"])
    exe = shutil.which("psrecord") or sys.exit("psrecord did not install")
    try:
        from importlib.metadata import version
        ver = version("psrecord")
    except Exception:  # noqa: BLE001 - the version is only printed
        ver = "?"
    return exe, ver


def start(cmd, group=False):
    """`group`: in a process group of its own, so stop_group ends its children too."""
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=group)


class Measured:
    """A command run under benches/rusage.c, which writes its wait4 figures to a file."""

    def __init__(self, rusage, cmd):
        self.out = tempfile.mktemp(prefix="rusage-")
        self.p = start([rusage, self.out, *cmd])

    def reap(self):
        """CPU seconds (user + system) and peak RSS (MB)."""
        self.p.wait()
        with open(self.out) as f:
            user, system, maxrss_kb = f.read().split()
        os.unlink(self.out)
        return float(user) + float(system), int(maxrss_kb) / 1024.0


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def stop_group(p):
    """Kills a process started with group=True and every process of its group: killing
    only the root of `workload tree` would leave its 49 children running."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def descendants(root):
    """Pids whose parent chain reaches root (one /proc scan)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    s = f.read()
                parent[int(d)] = int(s[s.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    out = []
    for pid in parent:
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root and pid != root:
            out.append(pid)
    return out


def soak_cmd(soak, pid, interval, seconds, out):
    return [soak, "--pid", str(pid), "--interval", interval, "--duration", f"{seconds:g}s",
            "--quiet", "--out", out]


def samples(run_dir):
    with open(os.path.join(run_dir, "report.json")) as f:
        s = json.load(f)["samples"]
    return s["taken"], s["missed"]


def verdict(ok):
    return "met" if ok else "NOT met"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--soak", default=os.path.join(ROOT, "target/release/soak"))
    ap.add_argument("--seconds", type=float, default=60.0, help="run (a)'s length")
    ap.add_argument("--tree-seconds", type=float, default=30.0, help="run (b)'s length")
    ap.add_argument("--fast-seconds", type=float, default=10.0, help="each run (d)'s length")
    ap.add_argument("--goals", default="abcd",
                    help="which goals to run, e.g. 'a' or 'ac' ((c) comes from run (a))")
    a = ap.parse_args()
    for p in (a.soak, WORKLOAD):
        if not os.path.exists(p):
            sys.exit(f"{p} missing: cargo build --release --examples && cargo build --release")
    psrecord, ps_ver = ensure_psrecord()
    tmp = tempfile.mkdtemp(prefix="soak-perf-")
    floor = build_c(tmp, "floor")
    contract_floor = build_c(tmp, "contract_floor")
    churn_exe = build_c(tmp, "churn")
    rusage = build_c(tmp, "rusage")
    soak_ver = subprocess.run([a.soak, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"{soak_ver} ({a.soak}), psrecord {ps_ver}")
    results = {}
    live = []
    groups = []
    try:
        if "a" in a.goals or "c" in a.goals:
            # (a) + (c): one process, 10 Hz, churn on the machine.
            target = start([WORKLOAD, "steady", "50"])
            churn = start([churn_exe, "50"])
            live += [target, churn]
            time.sleep(1.0)
            secs = a.seconds
            run_a = os.path.join(tmp, "a")
            procs = {
                "soak": Measured(rusage, soak_cmd(a.soak, target.pid, "100ms", secs, run_a)),
                "floor": Measured(rusage, [floor, str(target.pid), "100", f"{secs:g}"]),
                "contract floor": Measured(rusage, [contract_floor, str(target.pid), "100",
                                                    f"{secs:g}", os.path.join(tmp, "cf.csv")]),
                "psrecord": Measured(rusage, [psrecord, str(target.pid), "--interval", "0.1",
                                              "--duration", f"{secs:g}",
                                              "--log", os.path.join(tmp, "ps.txt")]),
            }
            use = {k: p.reap() for k, p in procs.items()}
            stop(churn)
            stop(target)
            taken, missed = samples(run_a)
            print(f"\n(a)+(c) one 50 MB process, 10 Hz for {secs:g} s, churn forking every 50 ms:")
            print(f"  {'':<15} {'CPU s':>8} {'peak RSS MB':>12}")
            for k in ("soak", "floor", "contract floor", "psrecord"):
                print(f"  {k:<15} {use[k][0]:>8.3f} {use[k][1]:>12.1f}")
            print(f"  soak took {taken} samples, missed {missed}")
            cf = use["contract floor"][0]
            print(f"  contract floor / floor {cf / max(use['floor'][0], 1e-9):.2f}x (what soak's "
                  f"contract costs), soak / contract floor {use['soak'][0] / max(cf, 1e-9):.2f}x")
            results["a"] = use["soak"][0] / max(use["floor"][0], 1e-9)
            results["c"] = use["psrecord"][1] / max(use["soak"][1], 1e-9)

        if "b" in a.goals:
            # (b): a 50-process tree, 10 ms, side by side, no churn.
            tree = start([WORKLOAD, "tree", "49", "1"], group=True)
            groups.append(tree)
            kids = []
            for _ in range(100):
                time.sleep(0.1)
                kids = descendants(tree.pid)
                if len(kids) >= 49:
                    break
            time.sleep(0.5)
            tsecs = a.tree_seconds
            run_b = os.path.join(tmp, "b")
            procs = {
                "soak": Measured(rusage, soak_cmd(a.soak, tree.pid, "10ms", tsecs, run_b)),
                "floor": Measured(rusage, [floor, str(tree.pid), "10", f"{tsecs:g}",
                                           *map(str, kids)]),
            }
            use = {k: p.reap() for k, p in procs.items()}
            stop_group(tree)
            taken, missed = samples(run_b)
            floor_ticks = int(tsecs * 1000 / 10)
            per_soak = use["soak"][0] / max(taken, 1) * 1e6
            per_floor = use["floor"][0] / floor_ticks * 1e6
            print(f"\n(b) a tree of {1 + len(kids)} processes, 10 ms for {tsecs:g} s, side by side:")
            print(f"  soak   {use['soak'][0]:.3f} s CPU, {taken} ticks ({missed} missed): "
                  f"{per_soak:.0f} us per tick")
            print(f"  floor  {use['floor'][0]:.3f} s CPU, {floor_ticks} ticks: {per_floor:.0f} us per tick")
            results["b"] = per_soak / max(per_floor, 1e-9)

        if "d" in a.goals:
            # (d): 1 ms, without and with churn.
            target = start([WORKLOAD, "steady", "20"])
            live.append(target)
            time.sleep(0.5)
            fsecs = a.fast_seconds
            print(f"\n(d) 1 ms interval for {fsecs:g} s on one process:")
            results["d"] = []
            for with_churn in (False, True):
                ch = start([churn_exe, "50"]) if with_churn else None
                if ch:
                    live.append(ch)
                    time.sleep(0.2)
                run_d = os.path.join(tmp, f"d{int(with_churn)}")
                cpu, _ = Measured(rusage, soak_cmd(a.soak, target.pid, "1ms", fsecs, run_d)).reap()
                if ch:
                    stop(ch)
                taken, missed = samples(run_d)
                pct = 100.0 * missed / max(taken + missed, 1)
                results["d"].append(pct)
                print(f"  {'with' if with_churn else 'without':<7} churn: {taken} taken, {missed} missed "
                      f"({pct:.2f}%), soak CPU {cpu:.2f} s")
            stop(target)
    finally:
        for p in live:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        for p in groups:
            stop_group(p)
        shutil.rmtree(tmp, ignore_errors=True)

    print("\nGoals (issue #15):")
    if "a" in a.goals:
        print(f"  (a) soak CPU / C floor, 10 Hz, churn      {results['a']:5.2f}x  (<= 1.3x)  "
              f"{verdict(results['a'] <= 1.3)}")
    if "b" in a.goals:
        print(f"  (b) CPU per tick, 50 processes / floor    {results['b']:5.2f}x  (<= 1.3x)  "
              f"{verdict(results['b'] <= 1.3)}")
    if "c" in a.goals:
        print(f"  (c) psrecord peak RSS / soak's            {results['c']:5.2f}x  (>= 3x)    "
              f"{verdict(results['c'] >= 3.0)}")
    if "d" in a.goals:
        d0, d1 = results["d"]
        print(f"  (d) 1 ms missed ticks, without / with churn  {d0:.2f}% / {d1:.2f}%  (<= 1%)  "
              f"{verdict(max(d0, d1) <= 1.0)}")


if __name__ == "__main__":
    main()
