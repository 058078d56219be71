//! A container as a workload: created by soak from a local image (then stopped and
//! removed on every way out, with the guard covering a SIGKILLed soak) or attached to
//! (never stopped); the engine's wait endpoint tells when it ends.

use super::engine::{new_token, socket_path, Container, Engine};
use super::guard::Guard;
use super::watch::{Stopped, Workload};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::note::Note;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A container soak created or attached to.
pub struct ContainerWorkload {
    engine: Engine,
    container: Container,
    created: bool,
    grace: Duration,
    guard: Option<Guard>,
    /// The engine's wait endpoint: resolves when the container stops.
    wait: Pin<Box<dyn Future<Output = ()>>>,
    ended_at: Option<f64>,
    removed: bool,
}

impl ContainerWorkload {
    /// Creates and starts the container (the guard first: from the moment it exists, a
    /// SIGKILLed soak still gets it removed), or finds the attached one.
    pub async fn start(
        cfg: &RunConfig,
        guard_exe: Option<&Path>,
        engine: Engine,
    ) -> Result<ContainerWorkload> {
        let (container, guard) = match &cfg.target {
            TargetSpec::Image(spec) => {
                let mut guard = match guard_exe {
                    Some(exe) => Some(
                        Guard::start(exe)
                            .map_err(|e| Error::io("cannot start guard process", exe, e))?,
                    ),
                    None => None,
                };
                let token = new_token();
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
        let wait: Pin<Box<dyn Future<Output = ()>>> = Box::pin(engine.wait_owned(&container.id));
        Ok(ContainerWorkload {
            created: matches!(cfg.target, TargetSpec::Image(_)),
            grace: cfg.grace,
            engine,
            container,
            guard,
            wait,
            ended_at: None,
            removed: false,
        })
    }

    /// The engine it runs on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Whether soak created it (and so stops and removes it).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Whether it was removed at the stop.
    pub fn removed(&self) -> bool {
        self.removed
    }

    /// Notes that the container ended at `at_s` (its cgroup vanished at a tick).
    pub fn ended_at(&mut self, at_s: f64) {
        self.ended_at = Some(at_s);
    }

    /// Removes a container soak created and lets the guard go (it retries the removal if
    /// this one failed).
    async fn remove(&mut self) {
        if self.created {
            match self.engine.remove(&self.container.id).await {
                Ok(()) => self.removed = true,
                Err(e) => crate::console::err_line(&format!("soak: {e}")),
            }
        }
        if let Some(g) = self.guard.take() {
            if self.removed || !self.created {
                g.done();
            } else {
                // Closing the pipe without `done` makes the guard try the removal again.
                drop(g);
            }
        }
    }

    /// Gives up a container that was started but will not be soaked (its source could
    /// not be opened): removed if soak created it.
    pub async fn abandon(&mut self) {
        self.remove().await;
    }
}

impl Workload for ContainerWorkload {
    type View = ();

    fn describe(&self) -> String {
        let c = &self.container;
        let short: String = c.id.chars().take(12).collect();
        format!(
            "container {} ({short}, image {}{})",
            c.name,
            c.image,
            if self.created { "" } else { ", attached" }
        )
    }

    async fn ended(&mut self, start: Instant) -> bool {
        self.wait.as_mut().await;
        self.ended_at = Some(start.elapsed().as_secs_f64());
        // The wait future is done: never poll it again (the loop ends on `true`).
        self.wait = Box::pin(std::future::pending());
        true
    }

    async fn stop(&mut self, _view: &mut (), gone: bool, at_s: f64) -> Stopped {
        let (engine, id) = (&self.engine, &self.container.id);
        let mut out = Stopped::default();
        if gone {
            // The engine may still be recording the exit: wait for it to say so.
            let _ = tokio::time::timeout(Duration::from_secs(5), engine.wait(id)).await;
            out.exit = Some(
                engine
                    .exit_info(id, self.ended_at.unwrap_or(at_s), false)
                    .await,
            );
        } else if self.created {
            if let Err(e) = engine.stop(id, self.grace).await {
                out.notes.push(Note::ContainerRemovedByForce {
                    error: e.to_string(),
                });
            }
            let x = engine.exit_info(id, at_s, true).await;
            // The engine sends SIGKILL after the grace period: exit 137 without an OOM kill.
            out.escalated = Some(x.signal.as_deref() == Some("SIGKILL") && x.oom.is_none());
            out.exit = Some(x);
        }
        self.remove().await;
        out
    }
}
