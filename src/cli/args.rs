//! The clap definitions of the command line: what can be typed, with its help text.

use super::help::{self, AFTER_HELP, AFTER_SHORT_HELP};
use super::manual::{CompletionsArgs, ManArgs};
use super::prune::PruneArgs;
use super::values::parse_percent;
use super::verdict::VerdictArgs;
use crate::units::{parse_duration, parse_size};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// soak: does this workload's memory keep growing once it has warmed up?
#[derive(Debug, Parser)]
#[command(
    name = "soak",
    version,
    about = "Run or attach to a workload, sample its memory, and decide whether it leaks.",
    after_help = AFTER_SHORT_HELP,
    after_long_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand; without one, soak runs a target.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// Run options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Re-judge a saved timeline, or every series of a Prometheus query.
    ///
    /// A timeline CSV is judged with any limits (same exit codes as a run); with
    /// --prometheus URL --query PROMQL every series of the range query is judged.
    #[command(after_help = help::ANALYZE_EXAMPLES)]
    Analyze(Box<AnalyzeArgs>),
    /// Re-render report.md, report.html and junit.xml of a run.
    ///
    /// From the run directory's report.json and timeline.csv.
    #[command(after_help = help::REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Compare a candidate run with a baseline.
    ///
    /// Run directories or report.json files: exit 0 unless a figure is worse by more than
    /// --fail.
    #[command(after_help = super::compare::COMPARE_HELP)]
    Compare(CompareArgs),
    /// Run an A/B test: soak two commands under the same options, compare B with A.
    ///
    /// The commands are given as -- CMD_A ARGS ::: CMD_B ARGS.
    #[command(after_help = super::ab::AB_HELP)]
    Ab(Box<super::ab::AbArgs>),
    /// Remove old run directories under DIR (default: reports), keeping the newest N of
    /// each name and/or those younger than an age.
    ///
    /// Nothing but soak's run directories: a run directory is one directly under DIR
    /// holding soak's report.json, or the timeline.csv of a run killed before its report.
    /// It is removed only when every file in it is one soak writes and no running soak
    /// holds it; anything else (other files and folders, symbolic links, a run being
    /// written) is left alone, and a run left alone for such a reason is named on stderr.
    #[command(after_help = help::PRUNE_EXAMPLES)]
    Prune(PruneArgs),
    /// Print a shell completion script (bash, zsh, fish) to stdout.
    #[command(after_help = help::COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of soak or of one subcommand, or write them all.
    #[command(after_help = help::MAN_EXAMPLES)]
    Man(ManArgs),
}

/// Options of a run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The command to run, after `--` (started directly, no shell).
    #[arg(last = true, value_name = "CMD", help_heading = help::TARGET)]
    pub command: Vec<String>,
    /// Attach to a running process and its descendants instead of starting one.
    ///
    /// soak never signals it.
    #[arg(long, value_name = "PID", help_heading = help::TARGET)]
    pub pid: Option<u32>,
    /// Grace between SIGTERM and SIGKILL when stopping the target [default: 10s].
    #[arg(long, help_heading = help::TARGET, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub grace: Option<Duration>,
    /// The workload is finite: its exit with code 0 ends the run normally.
    ///
    /// For a test suite or a batch job; without it any exit of the target fails the run
    /// with exit 4.
    #[arg(long, help_heading = help::TARGET)]
    pub allow_exit: bool,
    /// An OOM kill of a process other than the main one is reported, not a failure.
    ///
    /// For a worker pool that restarts its workers. Without it such a kill fails the run
    /// with exit 4.
    #[arg(long, help_heading = help::TARGET)]
    pub allow_child_oom: bool,
    /// Start a container from this local image, soak it, then stop and remove it.
    ///
    /// soak never pulls. Arguments after -- replace the image's command. Needs the Docker
    /// engine (DOCKER_HOST or /var/run/docker.sock).
    #[arg(long, value_name = "IMAGE", help_heading = help::CONTAINERS)]
    pub image: Option<String>,
    /// Attach to a running container (name or id); soak never stops it.
    #[arg(long, value_name = "NAME|ID", help_heading = help::CONTAINERS)]
    pub container: Option<String>,
    /// Memory limit of the container soak starts with --image, e.g. 512MB.
    ///
    /// No swap beyond it: reaching it is an OOM kill.
    #[arg(long, value_parser = parse_size, value_name = "SIZE", help_heading = help::CONTAINERS)]
    pub memory_limit: Option<u64>,
    /// An environment variable of the container soak starts, K=V (repeatable).
    #[arg(long = "env", value_name = "K=V", help_heading = help::CONTAINERS)]
    pub env: Vec<String>,
    /// Where the cgroup file systems are mounted [default: /sys/fs/cgroup].
    ///
    /// When the container's cgroup cannot be read there, soak reads the engine's stats
    /// API instead and says so in the report.
    #[arg(long, value_name = "DIR", help_heading = help::CONTAINERS)]
    pub cgroup_root: Option<PathBuf>,
    /// How long to run, e.g. 30s, 10m, 24h [default: 10m].
    #[arg(long, help_heading = help::SAMPLING, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Time between samples, e.g. 200ms, 1s, 30s [default: 1s].
    #[arg(long, help_heading = help::SAMPLING, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Option<Duration>,
    /// Also sample PSS from /proc/PID/smaps_rollup.
    ///
    /// The kernel walks every page table for it: measured 0.19 ms for a 20 MB process and 8 ms for a 1 GB one, against
    /// 0.02 ms for soak's default sample (benches/sample_cost.rs, one run).
    #[arg(long, help_heading = help::SAMPLING)]
    pub pss: bool,
    /// Do not inject the heap-counting shim (LD_PRELOAD) into the command.
    ///
    /// heap_bytes stays empty. Use it when a target misbehaves with the shim loaded.
    #[arg(long, help_heading = help::SAMPLING)]
    pub no_heap: bool,
    /// Sample allocation call stacks in the heap shim and report the sites that grew [default: on].
    ///
    /// The shim records the call stack of one allocation per --sites-period bytes on
    /// average (Poisson, by bytes) and matches their frees; soak symbolizes the stacks
    /// and judges each site's live bytes like a metric. Needs the heap shim (a command,
    /// without --no-heap).
    #[arg(long, value_enum, value_name = "SWITCH", help_heading = help::SAMPLING)]
    pub sites: Option<Switch>,
    /// Mean bytes allocated between two sampled call stacks, e.g. 512KiB [default: 512KiB].
    #[arg(long, value_parser = parse_size, value_name = "SIZE", help_heading = help::SAMPLING)]
    pub sites_period: Option<u64>,
    /// Ask the target's JVMs and node processes for a full collection this often, e.g. 5m.
    ///
    /// JVMs through the attach protocol (or jcmd GC.run), node through gc() in soak's
    /// preload, so that runtime_heap_after_gc follows the live set [default: never].
    #[arg(long, help_heading = help::SAMPLING, value_parser = parse_duration, value_name = "DURATION")]
    pub full_gc_every: Option<Duration>,
    /// Limits and verdict options.
    #[command(flatten)]
    pub verdict: VerdictArgs,
    /// Run directory; by default `reports/<name>-<UTC timestamp>`.
    // The help is spelled out because rustdoc reads the bare `<name>` of the doc comment
    // as an HTML tag, and clap would print backticks.
    #[arg(
        long,
        value_name = "DIR",
        help = "Run directory [default: reports/<name>-<UTC timestamp>]",
        help_heading = help::OUTPUT
    )]
    pub out: Option<PathBuf>,
    /// Run name [default: the command's file name, pid-N, the image or the container].
    ///
    /// With --image also the container's name (the engine picks one otherwise).
    #[arg(long, help_heading = help::OUTPUT)]
    pub name: Option<String>,
    /// Cap of each of the target's logs, e.g. 100MB; 0: unlimited [default: 16MiB].
    ///
    /// target.stdout.log and target.stderr.log: past the cap a log keeps the first and
    /// the last half and the report says how much was cut.
    #[arg(long, value_parser = parse_size, value_name = "SIZE", help_heading = help::OUTPUT)]
    pub log_cap: Option<u64>,
    /// Serve live figures at http://ADDR/metrics [with no value: 127.0.0.1:9464].
    ///
    /// In the OpenMetrics text format Prometheus scrapes.
    #[arg(long, value_name = "ADDR", help_heading = help::OUTPUT, num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    pub metrics_addr: Option<String>,
    /// Off a terminal, print a status line this often.
    ///
    /// [default: 1m for runs up to an hour, 10m for longer ones]. On a terminal a
    /// progress bar shows instead.
    #[arg(long, help_heading = help::OUTPUT, value_parser = parse_duration, value_name = "DURATION")]
    pub status_every: Option<Duration>,
    /// No progress bar and no status lines (the start line and summary remain).
    #[arg(long, short, help_heading = help::OUTPUT)]
    pub quiet: bool,
}

/// Arguments of `soak report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory (holding report.json and timeline.csv).
    pub run_dir: PathBuf,
}

/// Arguments of `soak compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run directory or a report.json (e.g. one checked into the repo).
    pub baseline: PathBuf,
    /// The candidate: a run directory or a report.json.
    pub candidate: PathBuf,
    /// Warn when a figure is more than this much worse.
    #[arg(long, value_parser = parse_percent, default_value = "5%", value_name = "PERCENT")]
    pub warn: f64,
    /// Fail (exit 1) when a figure is more than this much worse.
    #[arg(long, value_parser = parse_percent, default_value = "20%", value_name = "PERCENT")]
    pub fail: f64,
    /// What stdout gets: text (a table), json (the comparison, as compare.json) or
    /// markdown (as compare.md).
    #[arg(long, value_enum, default_value_t = super::compare::CompareFormat::Text)]
    pub format: super::compare::CompareFormat,
    /// Also write compare.json, compare.md and compare.html (with both runs' timelines
    /// overlaid when their timeline.csv is beside the reports) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Arguments of `soak analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The timeline CSV (soak's own, or any CSV with elapsed_s and the metric column).
    #[arg(required_unless_present = "prometheus", conflicts_with = "prometheus")]
    pub timeline: Option<PathBuf>,
    /// Judge every series of a Prometheus range query instead of a timeline.
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
    /// Limits and verdict options.
    #[command(flatten)]
    pub verdict: VerdictArgs,
}

/// `soak analyze --prometheus URL --query PROMQL`: the series to judge. Credentials come
/// from the environment only: SOAK_PROMETHEUS_TOKEN (bearer), or SOAK_PROMETHEUS_USER and
/// SOAK_PROMETHEUS_PASSWORD (basic).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Prometheus (judge every series of a range query)")]
pub struct PrometheusArgs {
    /// The Prometheus-compatible server (Prometheus, Thanos, Mimir, VictoriaMetrics).
    // The help is spelled out: rustdoc would flag the bare URLs of a doc comment, and
    // clap would print the backticks that quiet it.
    #[arg(
        long,
        value_name = "URL",
        requires = "query",
        help = "The Prometheus-compatible server (Prometheus, Thanos, Mimir, VictoriaMetrics), e.g. http://prometheus:9090 or https://mimir.example/prometheus. Credentials from the environment only: SOAK_PROMETHEUS_TOKEN (bearer), or SOAK_PROMETHEUS_USER and SOAK_PROMETHEUS_PASSWORD (basic); SOAK_PROMETHEUS_CA names a PEM file of the CAs to trust for https instead of the Mozilla roots"
    )]
    pub prometheus: Option<String>,
    /// The PromQL expression; every series it returns is judged, e.g.
    /// 'container_memory_working_set_bytes{namespace="staging",container!=""}'.
    #[arg(long, value_name = "PROMQL", requires = "prometheus")]
    pub query: Option<String>,
    /// Range start: RFC 3339, Unix seconds, or relative to now (-24h, now-90m)
    /// [default: --range before --end].
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "prometheus"
    )]
    pub start: Option<String>,
    /// Range end: RFC 3339, Unix seconds, or relative to now [default: now].
    #[arg(
        long,
        value_name = "TIME",
        allow_hyphen_values = true,
        requires = "prometheus"
    )]
    pub end: Option<String>,
    /// The range ending at --end, e.g. 6h, 24h, 7d [default: 24h].
    #[arg(
        long,
        value_name = "DURATION",
        requires = "prometheus",
        conflicts_with = "start"
    )]
    pub range: Option<String>,
    /// Query resolution, e.g. 30s, 1m [default: the round step giving at most ~1,500
    /// points: 1m for 24h].
    #[arg(long, value_name = "DURATION", requires = "prometheus")]
    pub step: Option<String>,
    /// Time the server has for the query, and soak for the whole request [default: 60s].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "prometheus")]
    pub timeout: Option<Duration>,
    /// Most series to judge in one call; more is an error that says how to narrow the
    /// query [default: 10000].
    #[arg(long, value_name = "N", requires = "prometheus")]
    pub max_series: Option<usize>,
    /// Write the fleet report here: fleet.json, fleet.md, fleet.html.
    #[arg(long, value_name = "DIR", requires = "prometheus")]
    pub out: Option<PathBuf>,
}

/// An on/off switch (`--sites on|off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}
