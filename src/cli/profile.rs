//! `--profile FILE`: a TOML file of settings, and the one place where it and the flags
//! merge ([`Merge`]).

use super::values::InconclusiveArg;
use super::verdict::{usage, LimitArgs};
use crate::config::{metric_column, InconclusivePolicy};
use crate::error::{Error, Result};
use crate::units::{parse_duration, parse_rate, parse_size, UnitError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A TOML profile (`--profile FILE`): the same settings as the flags, which override it.
/// Durations, sizes and rates are strings in the flags' syntax (`"10m"`, `"50MB"`,
/// `"1MB/h"`). An unknown key is an error, so a typo never silently drops a limit.
///
/// The keys are flat fields here, limits included, rather than a nested
/// [`LimitArgs`]: serde's `flatten` cannot be combined with `deny_unknown_fields`
/// without losing the list of known keys in the error. The values stay text until
/// [`Merge`] needs them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Run name.
    pub name: Option<String>,
    /// The command to run when none is given after `--`.
    pub command: Option<Vec<String>>,
    /// Run length.
    pub duration: Option<String>,
    /// Sampling interval.
    pub interval: Option<String>,
    /// Warm-up.
    pub warmup: Option<String>,
    /// SIGTERM-to-SIGKILL grace.
    pub grace: Option<String>,
    /// Growth-rate limit.
    pub max_growth_rate: Option<String>,
    /// Total-growth limit.
    pub max_total_growth: Option<String>,
    /// Peak limit.
    pub max_peak: Option<String>,
    /// Average CPU limit, % of one core.
    pub max_cpu: Option<f64>,
    /// Descriptor growth per hour.
    pub max_fd_growth: Option<f64>,
    /// Thread growth per hour.
    pub max_thread_growth: Option<f64>,
    /// Verdict metric.
    pub metric: Option<String>,
    /// Sample PSS.
    pub pss: Option<bool>,
    /// A finite workload.
    pub allow_exit: Option<bool>,
    /// OOM kills of child processes are expected.
    pub allow_child_oom: Option<bool>,
    /// `exit3`, `pass` or `fail`.
    pub inconclusive: Option<String>,
    /// Folder the default run directories go under (default `reports`).
    pub reports_dir: Option<String>,
    /// Address for `/metrics` (Prometheus text format).
    pub metrics_addr: Option<String>,
    /// Period of requested full collections of JVMs and node processes (e.g. `"5m"`).
    pub full_gc_every: Option<String>,
    /// Cap of each target log (`"16MiB"`; `"0"`: unlimited).
    pub log_cap: Option<String>,
    /// Allocation sites of a command's heap growth: `"on"` or `"off"`.
    pub sites: Option<String>,
    /// Mean bytes between two sampled call stacks (`"512KiB"`).
    pub sites_period: Option<String>,
}

impl Profile {
    /// Reads and parses a profile; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read profile {}: {e}", path.display())))?;
        Profile::parse(&text, path)
    }

    /// Parses profile text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Profile> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    format!(
                        " (line {})",
                        text[..s.start.min(text.len())].matches('\n').count() + 1
                    )
                })
                .unwrap_or_default();
            let msg = e
                .message()
                .replace('`', "'")
                .replace("unknown field", "unknown key")
                .replace("expected one of", "known keys:");
            Error::Usage(format!("profile {}{line}: {msg}", path.display()))
        })
    }
}

/// Flags over a profile. Every setting goes through here: its flag when given, else the
/// profile's key, else `None` (the caller's default). A profile value is parsed only
/// when its flag is absent, so a flag overrides even a malformed profile value, and an
/// error names the key and the file.
#[derive(Debug, Default)]
pub struct Merge {
    profile: Profile,
    path: PathBuf,
}

impl Merge {
    /// Loads the profile at `path`, or merges with an empty one.
    pub fn load(path: Option<&Path>) -> Result<Merge> {
        match path {
            Some(p) => Ok(Merge {
                profile: Profile::load(p)?,
                path: p.to_path_buf(),
            }),
            None => Ok(Merge::default()),
        }
    }

    /// The flag, else the profile's string value parsed with the flag's unit parser.
    fn pick<T>(
        &self,
        flag: Option<T>,
        key: &str,
        value: &Option<String>,
        parse: impl Fn(&str) -> std::result::Result<T, UnitError>,
    ) -> Result<Option<T>> {
        if flag.is_some() {
            return Ok(flag);
        }
        value
            .as_deref()
            .map(|s| {
                parse(s).map_err(|e| {
                    usage(format!("profile {}: key '{key}': {e}", self.path.display()))
                })
            })
            .transpose()
    }

    /// The limits, each on its own: a flag replaces only its own limit.
    pub fn limits(&self, flags: &LimitArgs) -> Result<LimitArgs> {
        let p = &self.profile;
        Ok(LimitArgs {
            max_growth_rate: self.pick(
                flags.max_growth_rate,
                "max_growth_rate",
                &p.max_growth_rate,
                parse_rate,
            )?,
            max_total_growth: self.pick(
                flags.max_total_growth,
                "max_total_growth",
                &p.max_total_growth,
                parse_size,
            )?,
            max_peak: self.pick(flags.max_peak, "max_peak", &p.max_peak, parse_size)?,
            max_cpu: flags.max_cpu.or(p.max_cpu),
            max_fd_growth: flags.max_fd_growth.or(p.max_fd_growth),
            max_thread_growth: flags.max_thread_growth.or(p.max_thread_growth),
        })
    }

    /// The verdict metric's column; rss when neither names one.
    pub fn metric(&self, flag: Option<&str>) -> String {
        metric_column(flag.or(self.profile.metric.as_deref()).unwrap_or("rss"))
    }

    /// The INCONCLUSIVE policy; exit 3 when neither names one.
    pub fn inconclusive(&self, flag: Option<InconclusivePolicy>) -> Result<InconclusivePolicy> {
        if let Some(p) = flag {
            return Ok(p);
        }
        match self.profile.inconclusive.as_deref() {
            None => Ok(InconclusivePolicy::Exit3),
            Some(name) => InconclusiveArg::policy(name).ok_or_else(|| {
                usage(format!(
                    "profile {}: key 'inconclusive': '{name}' is not one of exit3, pass, fail",
                    self.path.display()
                ))
            }),
        }
    }

    /// The warm-up.
    pub fn warmup(&self, flag: Option<Duration>) -> Result<Option<Duration>> {
        self.pick(flag, "warmup", &self.profile.warmup, parse_duration)
    }

    /// The run length.
    pub fn duration(&self, flag: Option<Duration>) -> Result<Option<Duration>> {
        self.pick(flag, "duration", &self.profile.duration, parse_duration)
    }

    /// The sampling interval.
    pub fn interval(&self, flag: Option<Duration>) -> Result<Option<Duration>> {
        self.pick(flag, "interval", &self.profile.interval, parse_duration)
    }

    /// The SIGTERM-to-SIGKILL grace.
    pub fn grace(&self, flag: Option<Duration>) -> Result<Option<Duration>> {
        self.pick(flag, "grace", &self.profile.grace, parse_duration)
    }

    /// The period of requested full collections.
    pub fn full_gc_every(&self, flag: Option<Duration>) -> Result<Option<Duration>> {
        self.pick(
            flag,
            "full_gc_every",
            &self.profile.full_gc_every,
            parse_duration,
        )
    }

    /// The cap of each target log.
    pub fn log_cap(&self, flag: Option<u64>) -> Result<Option<u64>> {
        self.pick(flag, "log_cap", &self.profile.log_cap, parse_size)
    }

    /// `--sites`: the flag, else the profile's; `None` when neither says.
    pub fn sites(&self, flag: Option<super::args::Switch>) -> Result<Option<bool>> {
        use super::args::Switch;
        if let Some(f) = flag {
            return Ok(Some(f == Switch::On));
        }
        match self.profile.sites.as_deref() {
            None => Ok(None),
            Some("on") => Ok(Some(true)),
            Some("off") => Ok(Some(false)),
            Some(other) => Err(usage(format!(
                "profile {}: key 'sites': '{other}' is neither \"on\" nor \"off\"",
                self.path.display()
            ))),
        }
    }

    /// The mean sampling period of allocation sites.
    pub fn sites_period(&self, flag: Option<u64>) -> Result<Option<u64>> {
        self.pick(flag, "sites_period", &self.profile.sites_period, parse_size)
    }

    /// The command: the one after `--`, or the profile's when no target at all was
    /// given on the command line (a `--pid` must not inherit the profile's command).
    pub fn command(&self, flag: Vec<String>, other_target_given: bool) -> Vec<String> {
        if flag.is_empty() && !other_target_given {
            self.profile.command.clone().unwrap_or_default()
        } else {
            flag
        }
    }

    /// The run name, if either gives one.
    pub fn name(&self, flag: Option<&str>) -> Option<String> {
        flag.or(self.profile.name.as_deref()).map(str::to_owned)
    }

    /// The folder default run directories go under; `reports` when neither names one.
    pub fn reports_dir(&self) -> PathBuf {
        PathBuf::from(
            self.profile
                .reports_dir
                .clone()
                .unwrap_or_else(|| "reports".into()),
        )
    }

    /// The `/metrics` address, unparsed (the caller names the flag in its error).
    pub fn metrics_addr(&self, flag: Option<String>) -> Option<String> {
        flag.or(self.profile.metrics_addr.clone())
    }

    /// `--pss`: either turns it on.
    pub fn pss(&self, flag: bool) -> bool {
        flag || self.profile.pss.unwrap_or(false)
    }

    /// `--allow-exit`: either turns it on.
    pub fn allow_exit(&self, flag: bool) -> bool {
        flag || self.profile.allow_exit.unwrap_or(false)
    }

    /// `--allow-child-oom`: either turns it on.
    pub fn allow_child_oom(&self, flag: bool) -> bool {
        flag || self.profile.allow_child_oom.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn limits_merge_one_by_one_and_a_flag_hides_a_bad_value() {
        let m = Merge {
            profile: Profile::parse(
                "max_peak = \"not a size\"\nmax_total_growth = \"5MB\"\nmax_cpu = 50.0\n",
                Path::new("p.toml"),
            )
            .unwrap(),
            path: "p.toml".into(),
        };
        let flags = LimitArgs {
            max_peak: Some(1),
            max_cpu: Some(80.0),
            ..LimitArgs::default()
        };
        let l = m.limits(&flags).unwrap();
        assert_eq!(l.max_peak, Some(1));
        assert_eq!(l.max_total_growth, Some(5_000_000));
        assert_eq!(l.max_cpu, Some(80.0));
        let e = m.limits(&LimitArgs::default()).unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("'max_peak'"), "{e}");
    }

    #[test]
    fn shipped_profiles_parse() {
        for f in ["soak/ci.toml", "soak/nightly.toml", "soak/smoke.toml"] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
            let prof = Profile::load(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(prof.duration.is_some(), "{f}");
        }
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let e = Profile::parse(
            "duration = \"10m\"\nmax_groth_rate = \"1MB/h\"\n",
            Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.toml") && e.contains("max_groth_rate") && e.contains("line 2"),
            "{e}"
        );
        let e = Profile::parse("duration = 10\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("line 1"), "{e}");
    }
}
