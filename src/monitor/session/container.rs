//! The session of a container: started by soak from a local image (then stopped and
//! removed on every way out), or attached to (never stopped). Samples come from the
//! container's cgroup, or from the engine's stats API when the cgroup cannot be read;
//! the engine's wait endpoint tells when the container ends.

use super::{End, Facts, Session, Step};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::note::Note;
use crate::report::{ContainerInfo, ExitInfo, TargetInfo};
use crate::sample::cgroup::CgroupReader;
use crate::sample::docker_stats::StatsFeed;
use crate::sample::Sample;
use crate::timeline::Extra;
use crate::workload::container::{socket_path, Container, Engine};
use crate::workload::guard::Guard;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Instant;

/// Where a tick's figures come from.
enum Source {
    Cgroup(Box<CgroupReader>),
    /// The engine's stats stream, with the reason the cgroup could not be read.
    Api(StatsFeed, String),
}

/// A container, watched through the engine and sampled from its cgroup.
pub(super) struct ContainerRun<'a> {
    cfg: &'a RunConfig,
    engine: Engine,
    container: Container,
    created: bool,
    guard: Option<Guard>,
    source: Source,
    /// The engine's wait endpoint: resolves when the container stops.
    wait: Pin<Box<dyn Future<Output = ()>>>,
    last: Option<Sample>,
    api_readings: u64,
    ended_at: Option<f64>,
}

impl<'a> ContainerRun<'a> {
    /// Creates and starts the container (the guard first: from the moment it exists, a
    /// SIGKILLed soak still gets it removed), or finds the attached one; then opens its
    /// cgroup or, failing that, the engine's stats stream.
    pub(super) async fn start(
        cfg: &'a RunConfig,
        guard_exe: Option<&Path>,
        engine: Engine,
    ) -> Result<ContainerRun<'a>> {
        let (container, mut guard) = match &cfg.target {
            TargetSpec::Image(spec) => {
                let mut guard = match guard_exe {
                    Some(exe) => Some(
                        Guard::start(exe)
                            .map_err(|e| Error::io("cannot start guard process", exe, e))?,
                    ),
                    None => None,
                };
                let token = crate::workload::container::new_token();
                if let (Some(g), Some(sock)) = (guard.as_mut(), socket_path(&engine.host)) {
                    g.container_token(sock, &token);
                }
                let c = match engine.launch(spec, &cfg.name, &token).await {
                    Ok(c) => c,
                    Err(e) => {
                        if let Some(g) = guard.take() {
                            g.done();
                        }
                        return Err(e);
                    }
                };
                if let (Some(g), Some(sock)) = (guard.as_mut(), socket_path(&engine.host)) {
                    g.container(sock, &c.id);
                }
                (c, guard)
            }
            TargetSpec::Container(name) => (engine.attach(name).await?, None),
            other => {
                return Err(Error::Monitor(format!(
                    "{other:?} is not a container target"
                )))
            }
        };
        let created = matches!(cfg.target, TargetSpec::Image(_));
        let source = match open_source(cfg, &engine, &container).await {
            Ok(s) => s,
            Err(e) => {
                // Nothing was sampled: a container soak created goes again.
                if created {
                    let _ = engine.remove(&container.id).await;
                }
                if let Some(g) = guard.take() {
                    g.done();
                }
                return Err(e);
            }
        };
        let wait: Pin<Box<dyn Future<Output = ()>>> = Box::pin(engine.wait_owned(&container.id));
        Ok(ContainerRun {
            cfg,
            engine,
            container,
            created,
            guard,
            source,
            wait,
            last: None,
            api_readings: 0,
            ended_at: None,
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

impl Session for ContainerRun<'_> {
    fn describe(&self) -> String {
        let c = &self.container;
        let short: String = c.id.chars().take(12).collect();
        let from = match &self.source {
            Source::Cgroup(r) => format!("cgroup v{} {}", r.version(), r.memory_dir().display()),
            Source::Api(..) => format!("the engine's stats API at {}", self.engine.host),
        };
        format!(
            "container {} ({short}, image {}{}) from {from}",
            c.name,
            c.image,
            if self.created { "" } else { ", attached" }
        )
    }

    fn extra_columns(&self) -> Extra {
        Extra::Container
    }

    async fn ended(&mut self, start: Instant) -> bool {
        self.wait.as_mut().await;
        self.ended_at = Some(start.elapsed().as_secs_f64());
        // The wait future is done: never poll it again (the loop ends on `true`).
        self.wait = Box::pin(std::future::pending());
        true
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
                let id = &self.container.id;
                if self
                    .engine
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
                self.ended_at = Some(elapsed);
                Step::Gone
            }
        }
    }

    async fn finish(&mut self, end: &End, elapsed_s: f64, taken: u64) -> Result<Facts> {
        let (engine, c, created) = (&self.engine, &self.container, self.created);
        let mut notes = Vec::new();
        let mut stop_escalated = None;
        let target_exit: Option<ExitInfo> = match (end, created) {
            (End::TargetGone, _) => {
                // The engine may still be recording the exit: wait for it to say so.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), engine.wait(&c.id))
                    .await;
                Some(
                    engine
                        .exit_info(&c.id, self.ended_at.unwrap_or(elapsed_s), false)
                        .await,
                )
            }
            (_, true) => {
                if let Err(e) = engine.stop(&c.id, self.cfg.grace).await {
                    notes.push(Note::ContainerRemovedByForce {
                        error: e.to_string(),
                    });
                }
                let x = engine.exit_info(&c.id, elapsed_s, true).await;
                // The engine sends SIGKILL after the grace period: exit 137 without an
                // OOM kill.
                stop_escalated = Some(x.signal.as_deref() == Some("SIGKILL") && x.oom.is_none());
                Some(x)
            }
            (_, false) => None,
        };
        let mut removed = false;
        if created {
            match engine.remove(&c.id).await {
                Ok(()) => removed = true,
                Err(e) => crate::console::err_line(&format!("soak: {e}")),
            }
        }
        if let Some(g) = self.guard.take() {
            if removed {
                g.done();
            } else {
                // Closing the pipe without `done` makes the guard try the removal again.
                drop(g);
            }
        }
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
