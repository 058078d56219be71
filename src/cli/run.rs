//! A run's arguments checked into a [`RunConfig`].

use super::args::RunArgs;
use super::profile::Merge;
use super::verdict::usage;
use crate::config::{RunConfig, TargetSpec};
use crate::error::Result;
use crate::sample::columns::{Col, Group};
use std::path::PathBuf;
use std::time::Duration;

impl RunArgs {
    /// Validates a run into a [`RunConfig`] (flags over `--profile`, then defaults);
    /// `now` names the default run directory.
    pub fn into_config(self, now: chrono::DateTime<chrono::Utc>) -> Result<RunConfig> {
        use crate::units::Secs;
        let m = Merge::load(self.verdict.profile.as_deref())?;
        let duration = m
            .duration(self.duration)?
            .unwrap_or(Duration::from_secs(600));
        let interval = m.interval(self.interval)?.unwrap_or(Duration::from_secs(1));
        let grace = m.grace(self.grace)?.unwrap_or(Duration::from_secs(10));
        let log_cap = m
            .log_cap(self.log_cap)?
            .unwrap_or(crate::workload::log::DEFAULT_CAP);
        let warmup = m.warmup(self.verdict.warmup)?;
        let command = m.command(
            self.command,
            self.pid.is_some() || self.image.is_some() || self.container.is_some(),
        );
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
        let limits = m.limits(&self.verdict.limits)?.check()?;
        let metric = m.metric(self.verdict.metric.as_deref());
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
        let full_gc_every = m.full_gc_every(self.full_gc_every)?;
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
        if is_container && (self.pss || metric == Col::Pss.name()) {
            return Err(usage(
                "--pss reads processes' smaps_rollup; a container run samples its cgroup: drop --pss",
            ));
        }
        if metric == Col::Heap.name() {
            if !matches!(target, TargetSpec::Command(_)) {
                return Err(usage(
                    "--metric heap needs soak to start the command (the heap shim is injected at start); it is not available with --pid or containers",
                ));
            }
            if self.no_heap {
                return Err(usage("--metric heap needs heap counting: drop --no-heap"));
            }
        }
        let sites_asked = m.sites(self.sites)?;
        let sites_period = m.sites_period(self.sites_period)?;
        if sites_period == Some(0) {
            return Err(usage(
                "--sites-period 0: give the mean bytes between two sampled stacks, e.g. 512KiB",
            ));
        }
        if sites_asked == Some(true) {
            if !matches!(target, TargetSpec::Command(_)) {
                return Err(usage(
                    "--sites on samples allocations in the heap shim, which soak injects into a command it starts: not available with --pid or containers",
                ));
            }
            if self.no_heap {
                return Err(usage("--sites on needs the heap shim: drop --no-heap"));
            }
        }
        let sites_on = sites_asked.unwrap_or(crate::config::DEFAULT_SITES)
            && matches!(target, TargetSpec::Command(_))
            && !self.no_heap;
        let sites_period =
            sites_on.then(|| sites_period.unwrap_or(crate::config::DEFAULT_SITES_PERIOD));
        let pss = !is_container && m.pss(self.pss);
        if metric == Col::Pss.name() && !pss {
            return Err(usage("--metric pss needs --pss"));
        }
        let name = match (m.name(self.name.as_deref()), &target) {
            (Some(n), _) => n,
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
        let out_dir = self.out.unwrap_or_else(|| {
            m.reports_dir()
                .join(format!("{safe}-{}", now.format("%Y%m%dT%H%M%SZ")))
        });
        let metrics_addr = match m.metrics_addr(self.metrics_addr) {
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
            allow_exit: m.allow_exit(self.allow_exit),
            allow_child_oom: m.allow_child_oom(self.allow_child_oom),
            limits,
            inconclusive: m.inconclusive(self.verdict.inconclusive)?,
            format: self.verdict.format,
            metrics_addr,
            quiet: self.quiet,
            heap: !self.no_heap,
            sites_period,
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
    use crate::cli::Cli;
    use crate::error::Error;
    use crate::sample::Col;
    use clap::Parser;

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
        assert_eq!(c.metric, Col::Rss.name());
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
            ("runtime_heap", Col::RuntimeHeap.name()),
            ("runtime_heap_after_gc", Col::RuntimeHeapAfterGc.name()),
            (Col::RuntimeHeap.name(), Col::RuntimeHeap.name()),
            (
                Col::RuntimeHeapAfterGc.name(),
                Col::RuntimeHeapAfterGc.name(),
            ),
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
