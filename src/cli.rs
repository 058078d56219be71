//! The command line (a DESIGN.md contract): clap definitions and their validation into
//! [`crate::config`]. Raw arguments never reach the engine unchecked.

use crate::config::{
    metric_column, Format, InconclusivePolicy, Limits, RunConfig, TargetSpec,
    DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR,
};
use crate::error::{Error, Result};
use crate::units::{parse_duration, parse_rate, parse_size, Rate};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Exit codes:
  0  PASS: every limit held
  1  FAIL: a limit was exceeded
  2  usage error or bad input (nothing was run)
  3  INCONCLUSIVE: the run could not decide (see --inconclusive)
  4  target failed: did not start, crashed, was OOM-killed, or exited before the end
  5  monitor error: I/O or permissions

Sources: memory, threads and CPU from /proc/PID/status and /proc/PID/stat, descriptors
from /proc/PID/fd, summed over the target and all its descendants.

Examples:
  soak --duration 10m -- ./my-server --port 8080
  soak --duration 30s --interval 200ms --max-growth-rate 60MB/h -- python3 server.py
  soak --pid 4242 --duration 1h
  soak analyze reports/my-server-20261123T101500Z/timeline.csv --max-growth-rate 5MB/h";

/// soak: does this workload's memory keep growing once it has warmed up?
#[derive(Debug, Parser)]
#[command(
    name = "soak",
    version,
    about = "Run or attach to a workload, sample its memory, and decide whether it leaks.",
    after_help = AFTER_HELP,
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
    /// Re-analyse a saved timeline CSV with any limits (same exit codes as a run).
    Analyze(AnalyzeArgs),
    #[command(name = "__guard", hide = true)]
    /// Internal: the process that stops the target if soak is killed.
    Guard,
}

/// Limits and verdict options shared by a run and `analyze`.
#[derive(Debug, Args, Clone)]
pub struct VerdictArgs {
    /// Growth-rate limit after warm-up, e.g. 1MB/h, 60MB/h, 10kB/min
    /// [default: 10MB/h when no memory limit is given].
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub max_growth_rate: Option<Rate>,
    /// Total-growth limit after warm-up (end level minus level after warm-up), e.g. 100MB.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub max_total_growth: Option<u64>,
    /// Peak limit of the verdict metric, e.g. 2GB.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub max_peak: Option<u64>,
    /// Average CPU limit of the whole tree, in % of one core, e.g. 80.
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    pub max_cpu: Option<f64>,
    /// Descriptor-growth limit per hour (fds column), e.g. 10.
    #[arg(long, value_name = "PER_HOUR", allow_hyphen_values = true)]
    pub max_fd_growth: Option<f64>,
    /// Thread-growth limit per hour (threads column), e.g. 5.
    #[arg(long, value_name = "PER_HOUR", allow_hyphen_values = true)]
    pub max_thread_growth: Option<f64>,
    /// Warm-up to ignore before judging growth [default: max(30s, 10% of the run), at most half the run].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<Duration>,
    /// Metric the verdict is on: rss, anon, heap, pss, or any timeline column.
    #[arg(long, default_value = "rss", value_name = "METRIC")]
    pub metric: String,
    /// What INCONCLUSIVE exits with: exit3 (3), pass (0) or fail (1).
    #[arg(long, value_enum, default_value_t = InconclusivePolicy::Exit3)]
    pub inconclusive: InconclusivePolicy,
    /// Summary on stdout: text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Options of a run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How long to run, e.g. 30s, 10m, 24h.
    #[arg(long, value_parser = parse_duration, default_value = "10m", value_name = "DURATION", allow_hyphen_values = true)]
    pub duration: Duration,
    /// Time between samples, e.g. 200ms, 1s, 30s.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Duration,
    /// Grace between SIGTERM and SIGKILL when stopping the target.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "DURATION")]
    pub grace: Duration,
    /// Attach to a running process (and its descendants) instead of starting one.
    /// soak never signals it.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Also sample PSS from /proc/PID/smaps_rollup. The kernel walks every page table
    /// for it: measured 0.19 ms for a 20 MB process and 8 ms for a 1 GB one, against
    /// 0.03 ms for soak's default sample (benches/sample_cost.rs, one run).
    #[arg(long)]
    pub pss: bool,
    /// The workload is finite (a test suite, a batch job): its exit with code 0 ends the
    /// run normally instead of failing it with exit 4.
    #[arg(long)]
    pub allow_exit: bool,
    /// Run directory [default: reports/<name>-<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run name [default: the command's file name, or pid-N].
    #[arg(long)]
    pub name: Option<String>,
    /// Limits and verdict options.
    #[command(flatten)]
    pub verdict: VerdictArgs,
    /// The command to run, after `--` (started directly, no shell).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `soak analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The timeline CSV (soak's own, or any CSV with elapsed_s and the metric column).
    pub timeline: PathBuf,
    /// Limits and verdict options.
    #[command(flatten)]
    pub verdict: VerdictArgs,
}

impl VerdictArgs {
    /// Checked limits.
    pub fn limits(&self) -> Result<Limits> {
        if let Some(c) = self.max_cpu {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::Usage(format!(
                    "invalid --max-cpu '{c}': give a positive percentage of one core, e.g. 80"
                )));
            }
        }
        for (name, v) in [
            ("--max-fd-growth", self.max_fd_growth),
            ("--max-thread-growth", self.max_thread_growth),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(Error::Usage(format!(
                        "invalid {name} '{v}': give a non-negative number per hour, e.g. 10"
                    )));
                }
            }
        }
        let none_given = self.max_growth_rate.is_none()
            && self.max_total_growth.is_none()
            && self.max_peak.is_none();
        Ok(Limits {
            max_growth_rate: self.max_growth_rate.or_else(|| {
                none_given.then(|| Rate::per_hour(DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR))
            }),
            max_total_growth: self.max_total_growth,
            max_peak: self.max_peak,
            max_cpu_percent: self.max_cpu,
            max_fd_growth_per_hour: self.max_fd_growth,
            max_thread_growth_per_hour: self.max_thread_growth,
            rate_is_default: none_given,
        })
    }
}

impl RunArgs {
    /// Validates a run into a [`RunConfig`]; `now` names the default run directory.
    pub fn into_config(self, now: chrono::DateTime<chrono::Utc>) -> Result<RunConfig> {
        let target =
            match (self.pid, self.command.is_empty()) {
                (Some(_), false) => {
                    return Err(Error::Usage(
                        "give either --pid or a command after --, not both".into(),
                    ))
                }
                (Some(0), true) => {
                    return Err(Error::Usage(
                        "invalid --pid 0: give the pid of a running process".into(),
                    ))
                }
                (Some(p), true) => TargetSpec::Pid(p),
                (None, false) => TargetSpec::Command(self.command),
                (None, true) => return Err(Error::Usage(
                    "nothing to soak: give a command after -- (e.g. soak -- ./server) or --pid N"
                        .into(),
                )),
            };
        if self.interval.is_zero() {
            return Err(Error::Usage(
                "invalid --interval 0: give a positive interval, e.g. 1s or 200ms".into(),
            ));
        }
        if self.interval < Duration::from_millis(1) {
            return Err(Error::Usage(format!(
                "--interval {:?} is below 1ms, the fastest soak samples at",
                self.interval
            )));
        }
        if self.duration.is_zero() {
            return Err(Error::Usage(
                "invalid --duration 0: give a positive duration, e.g. 10m".into(),
            ));
        }
        if self.interval > self.duration {
            return Err(Error::Usage(format!(
                "--interval {} is longer than --duration {}: nothing could be sampled twice",
                crate::units::Secs(self.interval.as_secs_f64()),
                crate::units::Secs(self.duration.as_secs_f64())
            )));
        }
        if let Some(w) = self.verdict.warmup {
            if w >= self.duration {
                return Err(Error::Usage(format!(
                    "--warmup {} is not shorter than --duration {}: nothing would be judged",
                    crate::units::Secs(w.as_secs_f64()),
                    crate::units::Secs(self.duration.as_secs_f64())
                )));
            }
        }
        let limits = self.verdict.limits()?;
        let metric = metric_column(&self.verdict.metric);
        if !crate::timeline::COLUMNS[2..].contains(&metric.as_str()) {
            return Err(Error::Usage(format!(
                "unknown --metric '{}': use rss, anon, heap, pss or a timeline column",
                self.verdict.metric
            )));
        }
        if metric == "pss_bytes" && !self.pss {
            return Err(Error::Usage("--metric pss needs --pss".into()));
        }
        let name = match (&self.name, &target) {
            (Some(n), _) => n.clone(),
            (None, TargetSpec::Command(c)) => std::path::Path::new(&c[0])
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
            (None, TargetSpec::Pid(p)) => format!("pid-{p}"),
        };
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let out_dir = self.out.unwrap_or_else(|| {
            PathBuf::from("reports").join(format!("{safe}-{}", now.format("%Y%m%dT%H%M%SZ")))
        });
        Ok(RunConfig {
            target,
            duration: self.duration,
            interval: self.interval,
            warmup: self.verdict.warmup,
            grace: self.grace,
            metric,
            pss: self.pss,
            out_dir,
            name,
            allow_exit: self.allow_exit,
            limits,
            inconclusive: self.verdict.inconclusive,
            format: self.verdict.format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Result<RunConfig> {
        let cli = Cli::try_parse_from(std::iter::once("soak").chain(args.iter().copied()))
            .map_err(|e| Error::Usage(e.to_string()))?;
        cli.run.into_config(chrono::Utc::now())
    }

    #[test]
    fn command_and_defaults() {
        let c = cfg(&["--duration", "30s", "--", "python3", "x.py", "--port", "1"]).unwrap();
        assert_eq!(
            c.target,
            TargetSpec::Command(vec![
                "python3".into(),
                "x.py".into(),
                "--port".into(),
                "1".into()
            ])
        );
        assert_eq!(c.interval, Duration::from_secs(1));
        assert!(c.limits.rate_is_default);
        assert!(c.out_dir.starts_with("reports"));
        assert_eq!(c.metric, "rss_bytes");
    }

    #[test]
    fn bad_inputs() {
        for (args, needle) in [
            (vec!["--interval", "0s", "--", "x"], "--interval 0"),
            (
                vec!["--interval", "1m", "--duration", "30s", "--", "x"],
                "longer than",
            ),
            (vec!["--pid", "1", "--", "x"], "not both"),
            (vec![], "nothing to soak"),
            (vec!["--metric", "pss", "--", "x"], "--pss"),
            (vec!["--metric", "bogus", "--", "x"], "unknown --metric"),
            (vec!["--max-cpu", "-5", "--", "x"], "--max-cpu"),
            (vec!["--warmup", "20m", "--", "x"], "--warmup"),
        ] {
            let e = cfg(&args).unwrap_err().to_string();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }
}
