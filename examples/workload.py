#!/usr/bin/env python3
"""The Python twin of examples/workload.rs, for A/B soaks of two implementations.

    workload.py steady [MB]        hold MB (default 20) and idle
    workload.py leak RATE_MB_MIN   start at 10 MB, grow at RATE MB per minute
"""
import sys
import time


def hold(mb):
    # bytes(...) of a repeated byte is filled memory, so the pages are resident.
    return bytearray(b"\x5a" * int(mb * 1e6))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "steady"
    if mode == "steady":
        keep = hold(float(sys.argv[2]) if len(sys.argv) > 2 else 20.0)
        while True:
            time.sleep(3600)
            keep[0] ^= 1
    elif mode == "leak":
        rate = float(sys.argv[2]) * 1e6 / 60.0 if len(sys.argv) > 2 else 1e6
        base, leaked, total, start = hold(10), [], 0.0, time.monotonic()
        while True:
            time.sleep(0.05)
            due = (time.monotonic() - start) * rate
            if due - total >= 1:
                leaked.append(bytearray(b"\xa5" * int(due - total)))
                total += int(due - total)
    else:
        print(f"workload.py: unknown mode {mode!r}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
