//! The checked configuration a run or an analysis executes. [`crate::cli`] turns what
//! was typed into this, rejecting bad combinations before anything starts.

use crate::units::Rate;
use std::path::PathBuf;
use std::time::Duration;

/// The limits a run is judged against. `None` = not checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Growth-rate limit of the verdict metric after warm-up.
    pub max_growth_rate: Option<Rate>,
    /// Total growth of the verdict metric after warm-up, bytes.
    pub max_total_growth: Option<u64>,
    /// Peak of the verdict metric, bytes.
    pub max_peak: Option<u64>,
    /// Average CPU of the tree, % of one core.
    pub max_cpu_percent: Option<f64>,
    /// Growth of open descriptors per hour.
    pub max_fd_growth_per_hour: Option<f64>,
    /// Growth of threads per hour.
    pub max_thread_growth_per_hour: Option<f64>,
    /// Whether the growth-rate limit is the built-in default (said in the report).
    pub rate_is_default: bool,
}

/// The growth limit applied when no memory limit is given: 10 MB/h. Loose enough for
/// a 10-minute run of a quiet process to decide, tight enough to catch a real leak.
pub const DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR: f64 = 10e6;

/// Allocation sites are sampled by default: on redis-server under load the sampler is
/// within the noise at both default periods (1.2% / 2.7% of its instructions), and a FAIL
/// that names no code sends the user back for a second run; only a program that does
/// little but malloc and free pays much (BENCHMARKS.md "Allocation sites").
pub const DEFAULT_SITES: bool = true;

/// The coarsest default sampling period: tcmalloc's and jemalloc's, for long runs.
pub const MAX_DEFAULT_SITES_PERIOD: u64 = 512 * 1024;
/// The finest default sampling period, for short runs (its cost: BENCHMARKS.md
/// "Allocation sites").
pub const MIN_DEFAULT_SITES_PERIOD: u64 = 64 * 1024;
/// Sampled blocks a leak at the growth limit should leave over a run: with fewer, its
/// site's series is a few steps that a bounded cache's sampling noise can outrank.
pub const SITES_SAMPLES_AT_LIMIT: f64 = 32.0;

/// The default mean sampling period of allocation sites: fine enough that a leak
/// growing at the run's rate limit (10 MB/h when none is given) leaves about
/// [`SITES_SAMPLES_AT_LIMIT`] sampled blocks over the run, between
/// [`MIN_DEFAULT_SITES_PERIOD`] and [`MAX_DEFAULT_SITES_PERIOD`]: a 10-minute run at
/// 10 MB/h samples every 64 KiB, runs of 2 hours and more every 512 KiB. The cost is per
/// sample, so the short runs that need fine sampling are the ones that pay for it.
pub fn default_sites_period(duration: Duration, rate_limit: Option<Rate>) -> u64 {
    let rate = rate_limit
        .map(|r| r.bytes_per_hour)
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR);
    let leaked = rate * duration.as_secs_f64() / 3600.0;
    let period = (leaked / SITES_SAMPLES_AT_LIMIT).round();
    if period.is_finite() {
        (period as u64).clamp(MIN_DEFAULT_SITES_PERIOD, MAX_DEFAULT_SITES_PERIOD)
    } else {
        MAX_DEFAULT_SITES_PERIOD
    }
}

/// What INCONCLUSIVE exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InconclusivePolicy {
    /// Exit 3 (the default).
    #[default]
    Exit3,
    /// Treat as PASS (exit 0).
    Pass,
    /// Treat as FAIL (exit 1).
    Fail,
}

/// Summary format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A one-screen text summary.
    #[default]
    Text,
    /// The report JSON.
    Json,
}

/// What to soak.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// Start this command (no shell) and monitor its tree.
    Command(Vec<String>),
    /// Attach to this running process and its descendants; never signal them.
    Pid(u32),
    /// Create a container from a local image, soak it, stop and remove it.
    Image(ImageSpec),
    /// Attach to this running container (name or id); never stop it.
    Container(String),
}

/// A container soak creates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageSpec {
    /// Local image (soak never pulls).
    pub image: String,
    /// Arguments after `--`: the container's command (replacing the image's CMD).
    pub args: Vec<String>,
    /// Memory limit, bytes (also the memory+swap limit: no swap beyond it).
    pub memory_limit: Option<u64>,
    /// `K=V` environment entries.
    pub env: Vec<String>,
    /// Container name (`--name`); the engine picks one otherwise.
    pub name: Option<String>,
}

/// A checked run configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// The target.
    pub target: TargetSpec,
    /// How long to run.
    pub duration: Duration,
    /// Time between samples.
    pub interval: Duration,
    /// Warm-up to drop before judging growth; `None` = max(30 s, 10% of the run), at most half.
    pub warmup: Option<Duration>,
    /// SIGTERM-to-SIGKILL grace when stopping the target.
    pub grace: Duration,
    /// Timeline column the verdict is on (e.g. `rss_bytes`).
    pub metric: String,
    /// Read PSS each tick.
    pub pss: bool,
    /// Run directory.
    pub out_dir: PathBuf,
    /// Run name.
    pub name: String,
    /// The workload is finite: its exit ends the run normally.
    pub allow_exit: bool,
    /// An OOM kill of a process of the tree other than the main one is reported but does
    /// not fail the run.
    pub allow_child_oom: bool,
    /// Limits.
    pub limits: Limits,
    /// INCONCLUSIVE mapping.
    pub inconclusive: InconclusivePolicy,
    /// Summary format.
    pub format: Format,
    /// Where to serve `/metrics` during the run.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// No progress bar or status lines.
    pub quiet: bool,
    /// Status line period off a terminal.
    pub status_every: Duration,
    /// Where cgroup file systems are mounted (container runs).
    pub cgroup_root: PathBuf,
    /// Inject the heap shim into a command soak starts (off with `--no-heap`).
    pub heap: bool,
    /// Sample allocation call stacks in the heap shim, one per this many bytes allocated
    /// on average (`--sites`, `--sites-period`); `None`: off.
    pub sites_period: Option<u64>,
    /// Request a full collection from the target's JVMs and node processes this often
    /// (`--full-gc-every`); `None` = never (the default).
    pub full_gc_every: Option<Duration>,
    /// Cap of each of the target's stdout/stderr logs in bytes; 0: unlimited.
    pub log_cap: u64,
}

/// The report note when the default growth limit applies.
pub fn default_rate_note() -> crate::note::Note {
    crate::note::Note::DefaultRateLimit {
        mb_per_hour: DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR / 1e6,
    }
}

/// Maps a `--metric` name to its timeline column: a byte column may be named without
/// its `_bytes` suffix (`rss`, `heap`, `runtime_heap_after_gc`).
pub fn metric_column(name: &str) -> String {
    let long = format!("{name}_bytes");
    if crate::sample::Col::named(&long).is_some() {
        long
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_sample_finer_than_long_ones() {
        let ten_min = Duration::from_secs(600);
        assert_eq!(
            default_sites_period(ten_min, None),
            MIN_DEFAULT_SITES_PERIOD
        );
        assert_eq!(
            default_sites_period(Duration::from_secs(24 * 3600), None),
            MAX_DEFAULT_SITES_PERIOD
        );
        // One hour at 10 MB/h: 10 MB / 32 samples.
        assert_eq!(
            default_sites_period(Duration::from_secs(3600), None),
            312_500
        );
        // A looser limit needs fewer samples per byte.
        assert_eq!(
            default_sites_period(ten_min, Some(Rate::per_hour(1e9))),
            MAX_DEFAULT_SITES_PERIOD
        );
        assert_eq!(
            default_sites_period(ten_min, Some(Rate::per_hour(f64::NAN))),
            MIN_DEFAULT_SITES_PERIOD
        );
    }
}
