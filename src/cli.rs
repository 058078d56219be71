//! The command line (a DESIGN.md contract): clap definitions and their validation into
//! [`crate::config`]. Raw arguments never reach the engine unchecked.

use crate::config::{
    metric_column, Format, InconclusivePolicy, Limits, Profile, RunConfig, TargetSpec,
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
    /// Re-render report.md, report.html and junit.xml of a run from its report.json and
    /// timeline.csv.
    Report(ReportArgs),
    /// Compare a candidate run with a baseline (run directories or report.json files):
    /// exit 0 unless a figure is worse by more than --fail.
    Compare(CompareArgs),
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
    /// Warm-up to ignore before judging growth
    /// [default: max(30s, 10% of the run), at most half the run].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<Duration>,
    /// Metric the verdict is on: rss, anon, heap, pss; runtime_heap and
    /// runtime_heap_after_gc (a JVM's or node's own heap); for containers also usage and
    /// working_set; or any timeline column [default: rss].
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,
    /// What INCONCLUSIVE exits with: exit3 (3), pass (0) or fail (1) [default: exit3].
    #[arg(long, value_enum)]
    pub inconclusive: Option<InconclusivePolicy>,
    /// Summary on stdout: text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A TOML profile (e.g. soak/ci.toml); flags given here override its values.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

/// Options of a run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How long to run, e.g. 30s, 10m, 24h [default: 10m].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Time between samples, e.g. 200ms, 1s, 30s [default: 1s].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Option<Duration>,
    /// Grace between SIGTERM and SIGKILL when stopping the target [default: 10s].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub grace: Option<Duration>,
    /// Attach to a running process (and its descendants) instead of starting one.
    /// soak never signals it.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Start a container from this local image (soak never pulls), soak it, then stop
    /// and remove it. Arguments after -- replace the image's command. Needs the Docker
    /// engine (DOCKER_HOST or /var/run/docker.sock).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Attach to a running container (name or id); soak never stops it.
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// Memory limit of the container soak starts with --image, e.g. 512MB (no swap
    /// beyond it: reaching it is an OOM kill).
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub memory_limit: Option<u64>,
    /// An environment variable of the container soak starts, K=V (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Where the cgroup file systems are mounted, for container runs [default:
    /// /sys/fs/cgroup]. When the container's cgroup cannot be read there, soak reads the
    /// engine's stats API instead and says so in the report.
    #[arg(long, value_name = "DIR")]
    pub cgroup_root: Option<PathBuf>,
    /// Do not inject the heap-counting shim (LD_PRELOAD) into the command; heap_bytes
    /// stays empty.
    #[arg(long)]
    pub no_heap: bool,
    /// Ask the target's JVMs (attach protocol, or jcmd GC.run) and node processes
    /// (gc() in soak's preload) for a full collection this often, e.g. 5m, so that
    /// runtime_heap_after_gc follows the live set [default: never].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub full_gc_every: Option<Duration>,
    /// Also sample PSS from /proc/PID/smaps_rollup. The kernel walks every page table
    /// for it: measured 0.19 ms for a 20 MB process and 8 ms for a 1 GB one, against
    /// 0.02 ms for soak's default sample (benches/sample_cost.rs, one run).
    #[arg(long)]
    pub pss: bool,
    /// The workload is finite (a test suite, a batch job): its exit with code 0 ends the
    /// run normally instead of failing it with exit 4.
    #[arg(long)]
    pub allow_exit: bool,
    /// A process of the tree other than the main one killed by the OOM killer is
    /// expected (a worker pool that restarts its workers): reported, but not a failure.
    /// Without it such a kill fails the run with exit 4.
    #[arg(long)]
    pub allow_child_oom: bool,
    /// Cap of each of the target's logs (target.stdout.log, target.stderr.log), e.g.
    /// 100MB; past it the log keeps the first and the last half and the report says how
    /// much was cut. 0: unlimited [default: 16MiB].
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub log_cap: Option<u64>,
    /// Run directory [default: reports/<name>-<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run name [default: the command's file name, pid-N, the image or the container];
    /// with --image also the container's name (the engine picks one otherwise).
    #[arg(long)]
    pub name: Option<String>,
    /// Serve live figures at http://ADDR/metrics in the OpenMetrics text format Prometheus scrapes
    /// [with no value: 127.0.0.1:9464].
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    pub metrics_addr: Option<String>,
    /// Off a terminal, print a status line this often [default: 1m for runs up to an
    /// hour, 10m for longer ones]. On a terminal a progress bar shows instead.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub status_every: Option<Duration>,
    /// No progress bar and no status lines (the start line and summary remain).
    #[arg(long, short)]
    pub quiet: bool,
    /// Limits and verdict options.
    #[command(flatten)]
    pub verdict: VerdictArgs,
    /// The command to run, after `--` (started directly, no shell).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `soak report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory (holding report.json and timeline.csv).
    pub run_dir: PathBuf,
}

/// Parses a percentage such as `5%` or `5`.
pub fn parse_percent(s: &str) -> std::result::Result<f64, String> {
    let v = s.trim().trim_end_matches('%').trim();
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("invalid percentage '{s}': use e.g. 5% or 20%")),
    }
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

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

impl VerdictArgs {
    /// The profile named by `--profile`, or an empty one.
    pub fn load_profile(&self) -> Result<Profile> {
        match &self.profile {
            Some(p) => Profile::load(p),
            None => Ok(Profile::default()),
        }
    }

    fn profile_path(&self) -> PathBuf {
        self.profile.clone().unwrap_or_default()
    }

    /// Checked limits: flags over the profile.
    pub fn limits(&self, prof: &Profile) -> Result<Limits> {
        let path = self.profile_path();
        let max_growth_rate = match self.max_growth_rate {
            Some(r) => Some(r),
            None => prof.value(&path, "max_growth_rate", &prof.max_growth_rate, parse_rate)?,
        };
        let max_total_growth = match self.max_total_growth {
            Some(v) => Some(v),
            None => prof.value(
                &path,
                "max_total_growth",
                &prof.max_total_growth,
                parse_size,
            )?,
        };
        let max_peak = match self.max_peak {
            Some(v) => Some(v),
            None => prof.value(&path, "max_peak", &prof.max_peak, parse_size)?,
        };
        let max_cpu = self.max_cpu.or(prof.max_cpu);
        if let Some(c) = max_cpu {
            if !(c.is_finite() && c > 0.0) {
                return Err(usage(format!(
                    "invalid --max-cpu '{c}': give a positive percentage of one core, e.g. 80"
                )));
            }
        }
        let max_fd_growth = self.max_fd_growth.or(prof.max_fd_growth);
        let max_thread_growth = self.max_thread_growth.or(prof.max_thread_growth);
        for (name, v) in [
            ("--max-fd-growth", max_fd_growth),
            ("--max-thread-growth", max_thread_growth),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(usage(format!(
                    "invalid {name} '{v}': give a non-negative number per hour, e.g. 10"
                )));
            }
        }
        let none_given =
            max_growth_rate.is_none() && max_total_growth.is_none() && max_peak.is_none();
        Ok(Limits {
            max_growth_rate: max_growth_rate.or_else(|| {
                none_given.then(|| Rate::per_hour(DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR))
            }),
            max_total_growth,
            max_peak,
            max_cpu_percent: max_cpu,
            max_fd_growth_per_hour: max_fd_growth,
            max_thread_growth_per_hour: max_thread_growth,
            rate_is_default: none_given,
        })
    }

    /// The verdict metric's column: flag, profile, or rss.
    pub fn metric(&self, prof: &Profile) -> String {
        metric_column(
            self.metric
                .as_deref()
                .or(prof.metric.as_deref())
                .unwrap_or("rss"),
        )
    }

    /// The INCONCLUSIVE policy: flag, profile, or exit 3.
    pub fn inconclusive(&self, prof: &Profile) -> Result<InconclusivePolicy> {
        if let Some(p) = self.inconclusive {
            return Ok(p);
        }
        match prof.inconclusive.as_deref() {
            None | Some("exit3") => Ok(InconclusivePolicy::Exit3),
            Some("pass") => Ok(InconclusivePolicy::Pass),
            Some("fail") => Ok(InconclusivePolicy::Fail),
            Some(other) => Err(usage(format!(
                "profile {}: key 'inconclusive': '{other}' is not one of exit3, pass, fail",
                self.profile_path().display()
            ))),
        }
    }

    /// The warm-up: flag or profile.
    pub fn warmup(&self, prof: &Profile) -> Result<Option<Duration>> {
        match self.warmup {
            Some(w) => Ok(Some(w)),
            None => prof.value(&self.profile_path(), "warmup", &prof.warmup, parse_duration),
        }
    }
}

impl RunArgs {
    /// Validates a run into a [`RunConfig`] (flags over `--profile`, then defaults);
    /// `now` names the default run directory.
    pub fn into_config(self, now: chrono::DateTime<chrono::Utc>) -> Result<RunConfig> {
        use crate::units::Secs;
        let prof = self.verdict.load_profile()?;
        let ppath = self.verdict.profile_path();
        let dur = |flag: Option<Duration>, key: &str, v: &Option<String>, default: u64| match flag {
            Some(d) => Ok(d),
            None => prof
                .value(&ppath, key, v, parse_duration)
                .map(|d| d.unwrap_or(Duration::from_secs(default))),
        };
        let duration = dur(self.duration, "duration", &prof.duration, 600)?;
        let interval = dur(self.interval, "interval", &prof.interval, 1)?;
        let grace = dur(self.grace, "grace", &prof.grace, 10)?;
        let log_cap = match self.log_cap {
            Some(c) => c,
            None => prof
                .value(&ppath, "log_cap", &prof.log_cap, crate::units::parse_size)?
                .unwrap_or(crate::workload::log::DEFAULT_CAP),
        };
        let warmup = self.verdict.warmup(&prof)?;
        let command = if self.command.is_empty()
            && self.pid.is_none()
            && self.image.is_none()
            && self.container.is_none()
        {
            prof.command.clone().unwrap_or_default()
        } else {
            self.command
        };
        let chosen = [
            self.pid.map(|_| "--pid"),
            self.image.as_ref().map(|_| "--image"),
            self.container.as_ref().map(|_| "--container"),
        ];
        let chosen: Vec<&str> = chosen.into_iter().flatten().collect();
        if chosen.len() > 1 {
            return Err(usage(format!(
                "give one target: {} cannot be combined",
                chosen.join(" and ")
            )));
        }
        if self.image.is_none() && (self.memory_limit.is_some() || !self.env.is_empty()) {
            return Err(usage(
                "--memory-limit and --env apply to a container soak starts: add --image IMAGE",
            ));
        }
        for e in &self.env {
            if !e.contains('=') || e.starts_with('=') {
                return Err(usage(format!("invalid --env '{e}': give KEY=VALUE")));
            }
        }
        let target = match (self.pid, self.image, self.container, command.is_empty()) {
            (Some(_), _, _, false) => {
                return Err(usage("give either --pid or a command after --, not both"))
            }
            (Some(0), ..) => return Err(usage("invalid --pid 0: give the pid of a running process")),
            (Some(p), ..) => TargetSpec::Pid(p),
            (None, Some(image), _, _) => {
                if image.trim().is_empty() {
                    return Err(usage("--image needs an image name, e.g. --image my-service:latest"));
                }
                TargetSpec::Image(crate::config::ImageSpec {
                    image,
                    args: command,
                    memory_limit: self.memory_limit,
                    env: self.env,
                    name: self.name.clone(),
                })
            }
            (None, None, Some(_), false) => {
                return Err(usage(
                    "--container attaches to a running container: a command after -- has no place there",
                ))
            }
            (None, None, Some(c), true) => TargetSpec::Container(c),
            (None, None, None, false) => TargetSpec::Command(command),
            (None, None, None, true) => return Err(usage(
                "nothing to soak: give a command after -- (e.g. soak -- ./server), --pid N, --image IMAGE or --container NAME",
            )),
        };
        if let TargetSpec::Image(crate::config::ImageSpec {
            memory_limit: Some(m),
            ..
        }) = &target
        {
            // The engine refuses less than 6 MB; say so before anything starts.
            if *m < 6 * 1024 * 1024 {
                return Err(usage(format!(
                    "--memory-limit {} is below the engine's minimum of 6MiB",
                    crate::units::Bytes(*m as f64)
                )));
            }
        }
        let is_container = matches!(target, TargetSpec::Image(_) | TargetSpec::Container(_));
        if interval.is_zero() {
            return Err(usage(
                "invalid --interval 0: give a positive interval, e.g. 1s or 200ms",
            ));
        }
        if interval < Duration::from_millis(1) {
            return Err(usage(format!(
                "--interval {} is below 1ms, the fastest soak samples at",
                Secs(interval.as_secs_f64())
            )));
        }
        if duration.is_zero() {
            return Err(usage(
                "invalid --duration 0: give a positive duration, e.g. 10m",
            ));
        }
        if interval > duration {
            return Err(usage(format!(
                "--interval {} is longer than --duration {}: nothing could be sampled twice",
                Secs(interval.as_secs_f64()),
                Secs(duration.as_secs_f64())
            )));
        }
        if let Some(w) = warmup.filter(|w| *w >= duration) {
            return Err(usage(format!(
                "--warmup {} is not shorter than --duration {}: nothing would be judged",
                Secs(w.as_secs_f64()),
                Secs(duration.as_secs_f64())
            )));
        }
        let limits = self.verdict.limits(&prof)?;
        let metric = self.verdict.metric(&prof);
        use crate::sample::columns::{Col, Group};
        let col = Col::named(&metric);
        let group = col.map(|c| c.column().group);
        let container_metric = group == Some(Group::Container);
        let runtime_metric = col.is_some_and(Col::is_runtime_heap);
        if group.is_none() {
            return Err(usage(format!(
                "unknown --metric '{}': use rss, anon, heap, pss, runtime_heap, runtime_heap_after_gc, usage, working_set or a timeline column",
                metric.trim_end_matches("_bytes")
            )));
        }
        if runtime_metric && is_container {
            return Err(usage(format!(
                "--metric {} reads a JVM's perf data or node's preload in processes soak starts or attaches to (a command or --pid): not available for containers",
                metric.trim_end_matches("_bytes")
            )));
        }
        if group == Some(Group::Process) && is_container {
            return Err(usage(format!(
                "--metric {} is sampled in process runs only (a command or --pid): not available for containers",
                metric.trim_end_matches("_bytes")
            )));
        }
        let full_gc_every = match self.full_gc_every {
            Some(d) => Some(d),
            None => prof.value(&ppath, "full_gc_every", &prof.full_gc_every, parse_duration)?,
        };
        if let Some(p) = full_gc_every {
            if is_container {
                return Err(usage(
                    "--full-gc-every asks the JVMs and node processes of a command or --pid for full collections: not available for containers",
                ));
            }
            if p < Duration::from_millis(100) {
                return Err(usage(format!(
                    "--full-gc-every {} is too short: give at least 100ms (e.g. 5m)",
                    Secs(p.as_secs_f64())
                )));
            }
        }
        if container_metric && !is_container {
            return Err(usage(format!(
                "--metric {} is a container's cgroup figure: use it with --image or --container",
                metric.trim_end_matches("_bytes")
            )));
        }
        if is_container && (self.pss || metric == "pss_bytes") {
            return Err(usage(
                "--pss reads processes' smaps_rollup; a container run samples its cgroup: drop --pss",
            ));
        }
        if metric == "heap_bytes" {
            if !matches!(target, TargetSpec::Command(_)) {
                return Err(usage(
                    "--metric heap needs soak to start the command (the heap shim is injected at start); it is not available with --pid or containers",
                ));
            }
            if self.no_heap {
                return Err(usage("--metric heap needs heap counting: drop --no-heap"));
            }
        }
        let pss = !is_container && (self.pss || prof.pss.unwrap_or(false));
        if metric == "pss_bytes" && !pss {
            return Err(usage("--metric pss needs --pss"));
        }
        let name = match (self.name.as_ref().or(prof.name.as_ref()), &target) {
            (Some(n), _) => n.clone(),
            (None, TargetSpec::Command(c)) => std::path::Path::new(&c[0])
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
            (None, TargetSpec::Pid(p)) => format!("pid-{p}"),
            (None, TargetSpec::Image(i)) => i
                .image
                .rsplit('/')
                .next()
                .unwrap_or("image")
                .replace(':', "-"),
            (None, TargetSpec::Container(c)) => c.clone(),
        };
        if name.trim().is_empty() {
            return Err(usage(
                "--name is empty: give the run a name, or leave --name out for the default",
            ));
        }
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
        let root = prof.reports_dir.clone().unwrap_or_else(|| "reports".into());
        let out_dir = self.out.unwrap_or_else(|| {
            PathBuf::from(root).join(format!("{safe}-{}", now.format("%Y%m%dT%H%M%SZ")))
        });
        let metrics_addr = match self.metrics_addr.or(prof.metrics_addr.clone()) {
            Some(a) => Some(a.parse::<std::net::SocketAddr>().map_err(|_| {
                usage(format!(
                    "invalid --metrics-addr '{a}': give IP:PORT, e.g. 127.0.0.1:9464"
                ))
            })?),
            None => None,
        };
        Ok(RunConfig {
            target,
            duration,
            interval,
            warmup,
            grace,
            metric,
            pss,
            out_dir,
            name,
            allow_exit: self.allow_exit || prof.allow_exit.unwrap_or(false),
            allow_child_oom: self.allow_child_oom || prof.allow_child_oom.unwrap_or(false),
            limits,
            inconclusive: self.verdict.inconclusive(&prof)?,
            format: self.verdict.format,
            metrics_addr,
            quiet: self.quiet,
            heap: !self.no_heap,
            full_gc_every,
            log_cap,
            cgroup_root: self
                .cgroup_root
                .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup")),
            status_every: self
                .status_every
                .unwrap_or(if duration <= Duration::from_secs(3600) {
                    Duration::from_secs(60)
                } else {
                    Duration::from_secs(600)
                }),
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
            (
                vec!["--metric", "heap", "--pid", "1"],
                "not available with --pid",
            ),
            (
                vec!["--metric", "heap", "--no-heap", "--", "x"],
                "drop --no-heap",
            ),
            (vec!["--max-cpu", "-5", "--", "x"], "--max-cpu"),
            (
                vec!["--metric", "runtime_heap", "--container", "c"],
                "not available for containers",
            ),
            (
                vec!["--full-gc-every", "1m", "--container", "c"],
                "not available for containers",
            ),
            (vec!["--full-gc-every", "1ms", "--", "x"], "too short"),
            (vec!["--warmup", "20m", "--", "x"], "--warmup"),
            (
                vec!["--metrics-addr", "nowhere", "--", "x"],
                "--metrics-addr",
            ),
            (vec!["--name", "", "--", "x"], "--name is empty"),
            (vec!["--name", "  ", "--", "x"], "--name is empty"),
            (vec!["--duration", "1h1h", "--", "x"], "invalid duration"),
        ] {
            let e = cfg(&args).unwrap_err().to_string();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }

    #[test]
    fn runtime_metrics_and_full_gc_period() {
        for (m, col) in [
            ("runtime_heap", "runtime_heap_bytes"),
            ("runtime_heap_after_gc", "runtime_heap_after_gc_bytes"),
            ("runtime_heap_bytes", "runtime_heap_bytes"),
            ("runtime_heap_after_gc_bytes", "runtime_heap_after_gc_bytes"),
        ] {
            let c = cfg(&["--metric", m, "--pid", "1"]).unwrap();
            assert_eq!(c.metric, col);
            assert_eq!(c.full_gc_every, None, "off by default");
        }
        let c = cfg(&["--full-gc-every", "2s", "--", "java", "A.java"]).unwrap();
        assert_eq!(c.full_gc_every, Some(Duration::from_secs(2)));
    }

    #[test]
    fn profile_values_and_flag_override() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(
            &p,
            r#"duration = "2m"
interval = "500ms"
max_growth_rate = "5MB/h"
command = ["srv", "-x"]
reports_dir = "/var/lib/soak/reports"
"#,
        )
        .unwrap();
        let ps = p.to_str().unwrap();
        let c = cfg(&["--profile", ps]).unwrap();
        assert_eq!(c.duration, Duration::from_secs(120));
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.limits.max_growth_rate.unwrap().bytes_per_hour, 5e6);
        assert_eq!(
            c.target,
            TargetSpec::Command(vec!["srv".into(), "-x".into()])
        );
        assert!(c.out_dir.starts_with("/var/lib/soak/reports"));
        let c = cfg(&[
            "--profile",
            ps,
            "--duration",
            "1m",
            "--max-growth-rate",
            "1MB/h",
            "--",
            "other",
        ])
        .unwrap();
        assert_eq!(c.duration, Duration::from_secs(60));
        assert_eq!(c.limits.max_growth_rate.unwrap().bytes_per_hour, 1e6);
        assert_eq!(c.target, TargetSpec::Command(vec!["other".into()]));

        std::fs::write(&p, r#"duration = "ten minutes""#).unwrap();
        let e = cfg(&["--profile", ps]).unwrap_err().to_string();
        assert!(
            e.contains("p.toml") && e.contains("'duration'") && e.contains("ten minutes"),
            "{e}"
        );
        std::fs::write(&p, r#"durration = "10m""#).unwrap();
        let e = cfg(&["--profile", ps, "--", "x"]).unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("durration"), "{e}");
        let e = cfg(&["--profile", "/nonexistent.toml", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent.toml"), "{e}");
    }
}
