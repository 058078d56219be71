//! The session of a container: started by soak from a local image (then stopped and
//! removed on every way out), or attached to (never stopped). Samples come from the
//! container's cgroup, or from the engine's stats API when the cgroup cannot be read;
//! the engine's wait endpoint tells when the container ends.

use super::{End, Facts, Session, Step};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::note::Note;
use crate::report::{ContainerInfo, TargetInfo};
use crate::sample::cgroup::CgroupReader;
use crate::sample::docker_stats::StatsFeed;
use crate::sample::Sample;
use crate::timeline::Extra;
use crate::workload::container::ContainerWorkload;
use crate::workload::engine::{Container, Engine};
use crate::workload::Workload;
use std::path::Path;
use std::time::Instant;

/// Where a tick's figures come from.
enum Source {
    Cgroup(Box<CgroupReader>),
    /// The engine's stats stream, with the reason the cgroup could not be read.
    Api(StatsFeed, String),
}

/// A container, watched through the engine and sampled from its cgroup.
pub(in crate::monitor) struct ContainerRun {
    workload: ContainerWorkload,
    source: Source,
    last: Option<Sample>,
    api_readings: u64,
}

impl ContainerRun {
    /// Starts (or attaches to) the container, then opens its cgroup or, failing that,
    /// the engine's stats stream.
    pub(in crate::monitor) async fn start(
        cfg: &RunConfig,
        guard_exe: Option<&Path>,
        engine: Engine,
    ) -> Result<ContainerRun> {
        let mut workload = ContainerWorkload::start(cfg, guard_exe, engine).await?;
        let source = match open_source(cfg, workload.engine(), workload.container()).await {
            Ok(s) => s,
            Err(e) => {
                // Nothing was sampled: a container soak created goes again.
                workload.abandon().await;
                return Err(e);
            }
        };
        Ok(ContainerRun {
            workload,
            source,
            last: None,
            api_readings: 0,
        })
    }
}

/// The container's cgroup, or the engine's stats stream when the cgroup cannot be read.
async fn open_source(cfg: &RunConfig, engine: &Engine, c: &Container) -> Result<Source> {
    match CgroupReader::open(&cfg.cgroup_root, c.pid) {
        Ok(r) => Ok(Source::Cgroup(Box::new(r))),
        Err(e) => {
            let why = format!(
                "cannot read the container's cgroup under {}: {e}",
                cfg.cgroup_root.display()
            );
            let feed = engine.stats_feed(&c.id, &why).await.map_err(|f| {
                Error::Monitor(format!(
                    "{why}; and the engine's stats API at {} failed too: {f}",
                    engine.host
                ))
            })?;
            Ok(Source::Api(feed, why))
        }
    }
}

impl Session for ContainerRun {
    fn describe(&self) -> String {
        let from = match &self.source {
            Source::Cgroup(r) => format!("cgroup v{} {}", r.version(), r.memory_dir().display()),
            Source::Api(..) => format!("the engine's stats API at {}", self.workload.engine().host),
        };
        format!("{} from {from}", self.workload.describe())
    }

    fn extra_columns(&self) -> Extra {
        Extra::Container
    }

    async fn ended(&mut self, start: Instant) -> bool {
        self.workload.ended(start).await
    }

    async fn tick(&mut self, elapsed: f64) -> Step {
        let source: &mut dyn crate::sample::Source = match &mut self.source {
            Source::Cgroup(r) => r.as_mut(),
            Source::Api(feed, _) => feed,
        };
        let sample = match (source.read(), &self.source) {
            // The engine publishes about once a second: a faster tick repeats its latest
            // reading (the report says so).
            (Ok(s), Source::Api(feed, _)) => {
                if let Ok((_, readings)) = feed.latest() {
                    self.api_readings = readings;
                }
                s
            }
            // A vanished cgroup (None) is the container's end.
            (Ok(s), Source::Cgroup(_)) => s,
            (Err(e), Source::Cgroup(r)) => {
                return Step::Failed(format!(
                    "cannot read the container's cgroup {}: {e}",
                    r.memory_dir().display()
                ))
            }
            (Err(e), Source::Api(..)) => {
                let id = &self.workload.container().id;
                if self
                    .workload
                    .engine()
                    .inspect(id)
                    .await
                    .map(|i| i.pid != 0)
                    .unwrap_or(false)
                {
                    return Step::Failed(format!(
                        "the engine's stats stream for the container ended: {e}"
                    ));
                }
                None
            }
        };
        match sample.filter(|s| s.processes > 0) {
            Some(s) => {
                self.last = Some(s);
                Step::Sample(s)
            }
            None => {
                self.workload.ended_at(elapsed);
                Step::Gone
            }
        }
    }

    async fn finish(&mut self, end: &End, elapsed_s: f64, taken: u64) -> Result<Facts> {
        let stopped = self
            .workload
            .stop(&mut (), *end == End::TargetGone, elapsed_s)
            .await;
        let (target_exit, stop_escalated, mut notes) =
            (stopped.exit, stopped.escalated, stopped.notes);
        let created = self.workload.created();
        let removed = self.workload.removed();
        let (engine, c) = (self.workload.engine(), self.workload.container());
        let mut child_oom = None;
        if let Some(n) = self.last.map(|s| s.oom_kills).filter(|n| *n > 0) {
            notes.push(Note::ContainerOomKills { count: n });
            // A container soak created starts at 0; an attached one may count older kills.
            let main_oom = target_exit.as_ref().is_some_and(|x| x.oom.is_some());
            let others = n.saturating_sub(u64::from(main_oom));
            if created && others > 0 {
                child_oom = Some(format!(
                    "the kernel OOM-killed {others} process(es) inside the container besides its main process"
                ));
            }
        }
        let (sources, source_name) = match &self.source {
            Source::Cgroup(r) => (
                crate::sample::Source::sources(r.as_ref()),
                format!("cgroup v{}", r.version()),
            ),
            Source::Api(feed, why) => {
                notes.push(Note::StatsApiFallback { why: why.clone() });
                notes.push(Note::StatsApiReadings {
                    readings: self.api_readings,
                    samples: taken,
                });
                (
                    crate::sample::Source::sources(feed),
                    "engine stats API".to_string(),
                )
            }
        };
        let target = TargetInfo {
            kind: if created {
                "container"
            } else {
                "attached_container"
            }
            .into(),
            command: None,
            pid: Some(c.pid),
            timeline: None,
            container: Some(ContainerInfo {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                created_by_soak: created,
                memory_limit_bytes: c.memory_limit,
                engine: engine.host.clone(),
                source: source_name,
                removed,
            }),
        };
        Ok(Facts {
            target,
            target_exit,
            stop_escalated,
            sources,
            notes,
            child_oom,
            ..Facts::default()
        })
    }
}
