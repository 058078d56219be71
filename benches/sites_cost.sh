#!/bin/sh
# What sampling allocation sites adds to the heap shim's cost on a malloc-heavy loop
# (benches/malloc_loop.c: 10M malloc+free pairs, 16 B-4 KiB, 1024 live): runs
# alternately without the shim, with it counting only, and counting plus sites at a
# 512 KiB and a 64 KiB period (libgcc unwinder), ROUNDS times each; prints ns per
# malloc+free pair for each run and the median ratios against counting only.
# usage: benches/sites_cost.sh [ROUNDS] [SHIM]  (SHIM: the newest one cargo built)
set -eu
rounds=${1:-3}
shim=${2:-$(ls -t target/*/build/soak-*/out/libsoak_heap.so | head -1)}
ops=10000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -pthread -o "$tmp/loop" benches/malloc_loop.c
mkdir "$tmp/seg"
run() { # label, then env assignments
    label=$1; shift
    ns=$(env "$@" "$tmp/loop" $ops 1)
    echo "$label $(echo "$ns $ops" | awk '{printf "%.2f", $1 / $2}')" | tee -a "$tmp/all"
}
for r in $(seq "$rounds"); do
    run plain X=1
    run counting LD_PRELOAD="$shim" SOAK_HEAP_DIR="$tmp/seg"
    run sites512k LD_PRELOAD="$shim" SOAK_HEAP_DIR="$tmp/seg" SOAK_SITES_PERIOD=524288
    run sites64k LD_PRELOAD="$shim" SOAK_HEAP_DIR="$tmp/seg" SOAK_SITES_PERIOD=65536
done
median() { grep "^$1 " "$tmp/all" | cut -d' ' -f2 | sort -n | sed -n "$(( (rounds + 1) / 2 ))p"; }
p=$(median plain); c=$(median counting); s5=$(median sites512k); s6=$(median sites64k)
echo "median ns/pair: plain $p, counting $c, sites 512 KiB $s5, sites 64 KiB $s6"
echo "$c $s5 $s6" | awk '{printf "ratio to counting only: sites 512 KiB %.3f, sites 64 KiB %.3f\n", $2 / $1, $3 / $1}'
