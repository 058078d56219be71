//! Limits and verdict options, shared by a run and `soak analyze`.

use super::help;
use super::profile::Merge;
use super::values;
use crate::config::{Format, InconclusivePolicy, Limits, DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR};
use crate::error::{Error, Result};
use crate::units::{parse_duration, parse_rate, parse_size, Rate};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The limits as given, each optional: the one description of them that the flags fill
/// and a profile fills (same names: `--max-peak` is the profile key `max_peak`).
/// [`LimitArgs::check`] turns the merged set into [`Limits`].
#[derive(Debug, Args, Clone, Default, PartialEq)]
#[command(next_help_heading = help::LIMITS)]
pub struct LimitArgs {
    /// Growth-rate limit after warm-up, e.g. 1MB/h, 60MB/h, 10kB/min
    /// [default: 10MB/h when no memory limit is given].
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub max_growth_rate: Option<Rate>,
    /// Total-growth limit after warm-up, e.g. 100MB.
    ///
    /// The end level minus the level after warm-up.
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
}

impl LimitArgs {
    /// Checks the merged limits and applies the default growth limit when no memory
    /// limit is given (so a run without limits still decides something).
    pub fn check(self) -> Result<Limits> {
        if let Some(c) = self.max_cpu {
            if !(c.is_finite() && c > 0.0) {
                return Err(usage(format!(
                    "invalid --max-cpu '{c}': give a positive percentage of one core, e.g. 80"
                )));
            }
        }
        for (name, v) in [
            ("--max-fd-growth", self.max_fd_growth),
            ("--max-thread-growth", self.max_thread_growth),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(usage(format!(
                    "invalid {name} '{v}': give a non-negative number per hour, e.g. 10"
                )));
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

/// Limits and verdict options shared by a run and `analyze`.
#[derive(Debug, Args, Clone)]
pub struct VerdictArgs {
    /// The limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Warm-up to ignore before judging growth
    /// [default: max(30s, 10% of the run), at most half the run].
    #[arg(long, help_heading = help::LIMITS, value_parser = parse_duration, value_name = "DURATION")]
    pub warmup: Option<Duration>,
    /// Metric the verdict is on [default: rss].
    ///
    /// rss, anon, heap, pss; runtime_heap and runtime_heap_after_gc (a JVM's or node's
    /// own heap); for containers also usage and working_set; or any timeline column.
    #[arg(long, value_name = "METRIC", help_heading = help::LIMITS)]
    pub metric: Option<String>,
    /// What INCONCLUSIVE exits with: exit3 (3), pass (0) or fail (1) [default: exit3].
    #[arg(long, value_parser = values::inconclusive(), help_heading = help::LIMITS)]
    pub inconclusive: Option<InconclusivePolicy>,
    /// Summary on stdout: text or json.
    #[arg(long, value_parser = values::format(), default_value = "text", help_heading = help::OUTPUT)]
    pub format: Format,
    /// A TOML profile (e.g. soak/ci.toml); flags given here override its values.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

/// What `soak analyze` judges with: flags over `--profile`, then defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Checked limits.
    pub limits: Limits,
    /// Timeline column the verdict is on.
    pub metric: String,
    /// INCONCLUSIVE mapping.
    pub inconclusive: InconclusivePolicy,
    /// Warm-up; `None` = the analysis picks it.
    pub warmup: Option<Duration>,
    /// Summary format.
    pub format: Format,
}

/// A usage error (exit 2): the arguments are wrong and nothing was run.
pub(super) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

impl VerdictArgs {
    /// The settings of `soak analyze`; the order of the merges is the order in which
    /// errors are reported.
    pub fn resolve(&self) -> Result<Verdict> {
        let m = Merge::load(self.profile.as_deref())?;
        let limits = m.limits(&self.limits)?.check()?;
        let metric = m.metric(self.metric.as_deref());
        let inconclusive = m.inconclusive(self.inconclusive)?;
        let warmup = m.warmup(self.warmup)?;
        Ok(Verdict {
            limits,
            metric,
            inconclusive,
            warmup,
            format: self.format,
        })
    }
}
