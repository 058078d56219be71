//! Limits and verdict options, shared by a run and `soak analyze`.

use crate::config::{
    metric_column, Format, InconclusivePolicy, Limits, Profile,
    DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR,
};
use crate::error::{Error, Result};
use crate::units::{parse_duration, parse_rate, parse_size, Rate};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

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

/// A usage error (exit 2): the arguments are wrong and nothing was run.
pub(super) fn usage(msg: impl Into<String>) -> Error {
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

    pub(super) fn profile_path(&self) -> PathBuf {
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
