//! The run of a container: started by soak from a local image (then stopped and removed
//! on every way out), or attached to (never stopped). Samples come from the container's
//! cgroup, or from the engine's stats API when the cgroup cannot be read; the engine's
//! wait endpoint tells when the container ends.

use super::{conclude, End, Ending, Outcome, Recorder, StopSignals};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::ExitInfo;
use crate::report::{ContainerInfo, TargetInfo};
use crate::sample::cgroup::{self, CgroupReader};
use crate::sample::Sample;
use crate::workload::container::{socket_path, Container, Engine, StatsFeed};
use crate::workload::guard::Guard;
use std::path::Path;

/// Where a tick's figures come from.
enum Source {
    Cgroup(Box<CgroupReader>),
    /// The engine's stats stream, with the reason the cgroup could not be read.
    Api(StatsFeed, String),
}

/// Runs a container target to its end and reports. A container soak created is removed
/// whatever happens after it was created.
pub(super) async fn run_container(
    cfg: &RunConfig,
    guard_exe: Option<&Path>,
    engine: Engine,
) -> Result<Outcome> {
    let mut stops = StopSignals::install()?;
    let live = super::serve_metrics(cfg).await?;
    let (container, mut guard) = match &cfg.target {
        TargetSpec::Image(spec) => {
            // The guard starts first: from the moment the container exists, a SIGKILLed
            // soak still gets it removed.
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
    let result = soak(cfg, &engine, &container, created, &mut stops, live).await;
    let mut removed = false;
    if created {
        match engine.remove(&container.id).await {
            Ok(()) => removed = true,
            Err(e) => crate::console::err_line(&format!("soak: {e}")),
        }
    }
    if let Some(g) = guard.take() {
        if removed {
            g.done();
        } else {
            // Closing the pipe without `done` makes the guard try the removal once more.
            drop(g);
        }
    }
    let mut ending = result?;
    if let Some(c) = ending.target.container.as_mut() {
        c.removed = removed;
    }
    conclude(cfg, ending)
}

/// The loop and the stop; everything but the removal.
async fn soak(
    cfg: &RunConfig,
    engine: &Engine,
    c: &Container,
    created: bool,
    stops: &mut StopSignals,
    live: Option<(
        std::sync::Arc<crate::metrics::LiveMetrics>,
        std::net::SocketAddr,
    )>,
) -> Result<Ending> {
    let mut source = match CgroupReader::open(&cfg.cgroup_root, c.pid) {
        Ok(r) => Source::Cgroup(Box::new(r)),
        Err(e) => {
            let why = format!(
                "cannot read the container's cgroup under {}: {e}",
                cfg.cgroup_root.display()
            );
            let feed = engine.stats_feed(&c.id).await.map_err(|f| {
                Error::Monitor(format!(
                    "{why}; and the engine's stats API at {} failed too: {f}",
                    engine.host
                ))
            })?;
            Source::Api(feed, why)
        }
    };
    let short: String = c.id.chars().take(12).collect();
    let from = match &source {
        Source::Cgroup(r) => format!("cgroup v{} {}", r.version(), r.memory_dir().display()),
        Source::Api(..) => format!("the engine's stats API at {}", engine.host),
    };
    let what = format!(
        "container {} ({short}, image {}{}) from {from}",
        c.name,
        c.image,
        if created { "" } else { ", attached" }
    );
    let mut rec = Recorder::start(cfg, true, live, &what)?;
    let wait = engine.wait(&c.id);
    tokio::pin!(wait);
    let mut last: Option<Sample> = None;
    let mut api_readings = 0u64;
    let mut ended_at: Option<f64> = None;

    let end = loop {
        tokio::select! {
            biased;
            s = stops.recv() => break End::Signal(s),
            _ = &mut wait => {
                ended_at = Some(rec.elapsed());
                break End::TargetGone;
            }
            t = rec.next_tick() => {
                let (index, elapsed) = match t { Ok(t) => t, Err(end) => break end };
                let sample = match &mut source {
                    Source::Cgroup(r) => match r.read() {
                        Ok(s) => Some(s),
                        // The cgroup goes with the container.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => break End::MonitorError(format!(
                            "cannot read the container's cgroup {}: {e}",
                            r.memory_dir().display()
                        )),
                    },
                    // The engine publishes about once a second: a faster tick repeats
                    // its latest reading (the report says so).
                    Source::Api(feed, _) => match feed.latest() {
                        Ok((s, readings)) => {
                            api_readings = readings;
                            s
                        }
                        Err(e) => {
                            if engine.inspect(&c.id).await.map(|i| i.pid != 0).unwrap_or(false) {
                                break End::MonitorError(format!(
                                    "the engine's stats stream for the container ended: {e}"
                                ));
                            }
                            None
                        }
                    },
                };
                let Some(sample) = sample.filter(|s| s.processes > 0) else {
                    ended_at = Some(elapsed);
                    break End::TargetGone;
                };
                if let Err(e) = rec.record(elapsed, &sample) {
                    break End::MonitorError(e);
                }
                last = Some(sample);
                if rec.deadline(index) {
                    break End::Deadline;
                }
            }
        }
    };
    let elapsed_s = rec.elapsed();
    rec.clear_progress();

    let mut notes = Vec::new();
    let mut stop_escalated = None;
    let target_exit: Option<ExitInfo> = match (&end, created) {
        (End::TargetGone, _) => {
            // The engine may still be recording the exit: wait for it to say so.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), engine.wait(&c.id)).await;
            Some(
                engine
                    .exit_info(&c.id, ended_at.unwrap_or(elapsed_s), false)
                    .await,
            )
        }
        (_, true) => {
            if let Err(e) = engine.stop(&c.id, cfg.grace).await {
                notes.push(format!("{e}; it was removed by force"));
            }
            let x = engine.exit_info(&c.id, elapsed_s, true).await;
            // The engine sends SIGKILL after the grace period: exit 137 without an OOM kill.
            stop_escalated = Some(x.signal.as_deref() == Some("SIGKILL") && x.oom.is_none());
            Some(x)
        }
        (_, false) => None,
    };
    let recorded = rec.finish(elapsed_s);
    let mut child_oom = None;
    if let Some(n) = last
        .and_then(|s| s.cgroup)
        .map(|c| c.oom_kills)
        .filter(|n| *n > 0)
    {
        notes.push(format!(
            "the kernel OOM-killed {n} process(es) inside the container during the run (cgroup oom_kill count)"
        ));
        // A container soak created starts at 0; an attached one may count older kills.
        let main_oom = target_exit.as_ref().is_some_and(|x| x.oom.is_some());
        let others = n.saturating_sub(u64::from(main_oom));
        if created && others > 0 {
            child_oom = Some(format!(
                "the kernel OOM-killed {others} process(es) inside the container besides its main process"
            ));
        }
    }
    let (sources, source_name) = match &source {
        Source::Cgroup(r) => (r.sources(), format!("cgroup v{}", r.version())),
        Source::Api(_, why) => {
            notes.push(format!(
                "samples came from the engine's stats API, not the cgroup ({why}); swap, fds and OOM-kill counts are not available there and are written as 0"
            ));
            notes.push(format!(
                "the engine sent {api_readings} stats readings for {} samples: it publishes about once a second, and a faster tick repeats its latest reading",
                recorded.taken
            ));
            (
                cgroup::api_sources(&engine.host, why),
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
            removed: false,
        }),
    };
    Ok(Ending {
        end,
        recorded,
        target,
        target_exit,
        stop_escalated,
        sources,
        notes,
        runtimes: Vec::new(),
        full_gc: None,
        child_oom,
        signal: None,
    })
}
