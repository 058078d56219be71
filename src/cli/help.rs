//! The `--help` epilogue: exit codes, data sources and examples. Kept apart so the
//! argument structs stay readable.

/// Printed after the options of `soak --help`.
pub(crate) const AFTER_HELP: &str = "\
Exit codes:
  0  PASS: every limit held
  1  FAIL: a limit was exceeded
  2  usage error or bad input (nothing was run)
  3  INCONCLUSIVE: the run could not decide (see --inconclusive)
  4  target failed: did not start, crashed, was OOM-killed, or exited before the end
  5  monitor error: I/O or permissions

Sources: memory, threads and CPU from /proc/PID/status and /proc/PID/stat, descriptors
from /proc/PID/fd, summed over the target and all its descendants; the live heap of a
command from an LD_PRELOAD shim soak injects (counting malloc and friends); a JVM's own
heap from its HotSpot perf data (hsperfdata, no attach), node's from a preload soak
injects with NODE_OPTIONS (runtime_heap_bytes, runtime_heap_after_gc_bytes). A container is read
from its cgroup (v1 or v2), or from the Docker engine's stats API when the cgroup cannot
be read; the report names the source of every column.

Examples:
  soak --duration 10m -- ./my-server --port 8080
  soak --duration 30s --interval 200ms --max-growth-rate 60MB/h -- python3 server.py
  soak --pid 4242 --duration 1h
  soak --image my-service:latest --memory-limit 512MB --duration 10m -- --port 8080
  soak --container my-service --duration 24h
  soak analyze reports/my-server-20261123T101500Z/timeline.csv --max-growth-rate 5MB/h";
