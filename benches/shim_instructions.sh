#!/usr/bin/env bash
# The heap shim's cost on real programs in instructions (valgrind's callgrind), which,
# unlike wall time, does not move with the other work on a shared machine: each workload
# runs without the shim, with it counting only (LD_PRELOAD + SOAK_HEAP_DIR: `--sites off`),
# and with it as soak injects it by default into a 10-minute run (also sampling allocation
# sites: SOAK_SITES_PERIOD=65536), and the ratios of instructions executed are printed.
#   - python3: a dict/list/str churn loop (150,000 iterations)
#   - redis-server (jemalloc): the server's instructions for 20,000 SET and 20,000 GET
#     requests from redis-benchmark (one client, so the work is the same in both arms)
#   - node: an object/array/string churn loop (300,000 iterations; V8's JIT makes this
#     the least repeatable of the three)
# Run: cargo build --release && bash benches/shim_instructions.sh
# Needs valgrind, python3, redis-server, redis-tools, node.
set -euo pipefail
cd "$(dirname "$0")/.."
shim=$(ls -t target/release/build/soak-*/out/libsoak_heap.so 2>/dev/null | head -1)
[ -n "$shim" ] || { echo "build first: cargo build --release" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/seg"
cat > "$tmp/churn.py" <<'EOF'
keep = {}
for i in range(150_000):
    k = "k%d" % (i % 50_000)
    keep[k] = [i, str(i) * 3, {"v": i}]
    if i % 7 == 0:
        keep.pop("k%d" % ((i * 13) % 50_000), None)
EOF
cat > "$tmp/churn.js" <<'EOF'
const keep = new Map();
for (let i = 0; i < 300000; i++) {
  const k = 'k' + (i % 50000);
  keep.set(k, [i, String(i).repeat(3), { v: i }]);
  if (i % 7 === 0) keep.delete('k' + ((i * 13) % 50000));
}
EOF

# Instructions of `$@` under callgrind, with the shim when $WITH is 1.
count() {
  local out="$tmp/cg.$RANDOM"
  if [ "$WITH" != 0 ]; then
    env "${shim_env[@]}" valgrind --tool=callgrind --trace-children=no \
      --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log"
  else
    valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log"
  fi
  grep -o 'refs: *[0-9,]*' "$out.log" | tr -dc '0-9'
}

redis() {
  local port=$((20000 + RANDOM % 20000)) out="$tmp/redis.$RANDOM"
  local pre=()
  [ "$WITH" != 0 ] && pre=(env "${shim_env[@]}")
  "${pre[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" \
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>"$out.log" &
  local pid=$!
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$port" -q -n 20000 -c 1 -d 100 -r 10000 -t set,get >/dev/null
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" || true
  grep -o 'refs: *[0-9,]*' "$out.log" | tr -dc '0-9'
}

# The shim's environment for arm $WITH: 1 counting only, 2 counting and sampling sites.
shim_arm() {
  shim_env=(LD_PRELOAD="$shim" SOAK_HEAP_DIR="$tmp/seg")
  [ "$WITH" = 2 ] && shim_env+=(SOAK_SITES_PERIOD=65536)
  return 0
}

row() {
  local name=$1; shift
  local a b c
  WITH=0 a=$("$@")
  WITH=1; shim_arm; b=$("$@")
  WITH=2; shim_arm; c=$("$@")
  python3 -c "a,b,c=$a,$b,$c; print(f'{\"$name\":<44} {a:>15,} {b:>15,} {100*(b/a-1):>+7.2f}% {c:>15,} {100*(c/a-1):>+7.2f}%')"
}

printf '%-44s %15s %15s %8s %15s %8s\n' workload "no shim" "counting" "extra" "+sites 64KiB" "extra"
# The interpreter itself, not a wrapper script (pyenv's shims exec it: callgrind would
# follow only the wrapper).
py=$(python3 -c 'import sys; print(sys.executable)')
row "python3 churn (150k iterations)" count "$py" "$tmp/churn.py"
row "redis-server, 20k SET + 20k GET (jemalloc)" redis
row "node churn (300k iterations)" count "$(readlink -f "$(command -v node)")" "$tmp/churn.js"
