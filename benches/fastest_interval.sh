#!/usr/bin/env bash
# The fastest interval soak sustains on one process with <= 1% missed ticks.
# Runs soak --pid on a steady workload for 10 s at each interval and reads the counts
# from report.json. Build first: cargo build --release --examples
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK=target/release/soak
W=target/release/examples/workload
[ -x "$SOAK" ] && [ -x "$W" ] || { echo "build first: cargo build --release --examples" >&2; exit 2; }
"$W" steady 20 & TARGET=$!
trap 'kill $TARGET 2>/dev/null' EXIT
sleep 0.5
OUT=$(mktemp -d)
printf "%-10s %10s %8s %9s\n" interval taken missed "missed %"
for i in 10ms 5ms 2ms 1ms; do
  "$SOAK" --pid "$TARGET" --duration 10s --interval "$i" --quiet --out "$OUT/$i" >/dev/null
  python3 - "$OUT/$i/report.json" "$i" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t, m = r["samples"]["taken"], r["samples"]["missed"]
print(f"{sys.argv[2]:<10} {t:>10} {m:>8} {100.0 * m / max(t + m, 1):>8.2f}%")
PY
done
rm -rf "$OUT"
