//! The help's headings and epilogues: exit codes, data sources and examples. Kept apart
//! so the argument structs stay readable.

/// Heading of the options that say what to run or attach to and how to stop it.
pub(crate) const TARGET: &str = "Target";
/// Heading of the options about containers (--image, --container).
pub(crate) const CONTAINERS: &str = "Containers";
/// Heading of the options that say how long and what to sample.
pub(crate) const SAMPLING: &str = "Sampling";
/// Heading of the limits and the verdict's settings.
pub(crate) const LIMITS: &str = "Limits and verdict";
/// Heading of the options about what soak writes and prints.
pub(crate) const OUTPUT: &str = "Output";

/// Printed after the options of `soak -h`: the exit codes in one line, and where the rest is.
pub(crate) const AFTER_SHORT_HELP: &str = "\
Exit codes: 0 PASS, 1 FAIL, 2 usage error, 3 INCONCLUSIVE, 4 target failed, 5 monitor error.
Example: soak --duration 10m -- ./my-server --port 8080
More (each option in full, data sources, examples): soak --help";

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

/// Examples of `soak analyze`.
pub(crate) const ANALYZE_EXAMPLES: &str = "\
Examples:
  soak analyze reports/my-server-20261123T101500Z/timeline.csv --max-growth-rate 5MB/h
  soak analyze old-run/timeline.csv --metric heap --warmup 2m --format json
  soak analyze --prometheus http://prometheus:9090 --range 24h \\
    --query 'container_memory_working_set_bytes{namespace=\"staging\",container!=\"\"}' \\
    --max-growth-rate 5MB/h --out fleet-report";

/// Examples of `soak report`.
pub(crate) const REPORT_EXAMPLES: &str = "\
Examples:
  soak report reports/my-server-20261123T101500Z
  soak report /var/lib/soak/reports/nightly-20261124T020000Z";

/// Examples of `soak prune`.
pub(crate) const PRUNE_EXAMPLES: &str = "\
Examples:
  soak prune --keep 10 --dry-run
  soak prune /var/lib/soak/reports --keep 10 --older-than 30d";

/// Examples of `soak completions`.
pub(crate) const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  soak completions bash > ~/.local/share/bash-completion/completions/soak
  soak completions zsh > ~/.zfunc/_soak
  soak completions fish > ~/.config/fish/completions/soak.fish";

/// Examples of `soak man`.
pub(crate) const MAN_EXAMPLES: &str = "\
Examples:
  soak man | man -l -
  soak man prune | man -l -
  soak man --dir target/man";

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use clap::CommandFactory;

    #[test]
    fn every_visible_subcommand_has_examples() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Examples:\n  soak "),
                "`soak {} --help` has no examples",
                sub.get_name()
            );
        }
    }

    #[test]
    fn short_help_is_grouped_and_leaves_the_details_to_long_help() {
        let mut cmd = Cli::command();
        let short = cmd.render_help().to_string();
        let long = cmd.render_long_help().to_string();
        for heading in [
            super::TARGET,
            super::CONTAINERS,
            super::SAMPLING,
            super::LIMITS,
            super::OUTPUT,
        ] {
            assert!(
                short.contains(&format!("\n{heading}:\n")),
                "{heading} missing"
            );
        }
        assert!(!short.contains("Sources:") && long.contains("Sources:"));
        assert!(short.contains("Exit codes: 0 PASS"));
        // Each option's details (after its first sentence) are in --help only.
        assert!(!short.contains("measured 0.19 ms") && long.contains("measured 0.19 ms"));
        assert!(short.lines().count() * 2 < long.lines().count());
    }
}
