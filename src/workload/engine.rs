//! A container target through the Docker Engine API (bollard over the local socket):
//! create and start one from a local image, or find a running one; learn how it ended;
//! stop and remove what soak created.
//!
//! Containers soak creates carry the label [`LABEL`]`=true` (and [`RUN_LABEL`] with the
//! run's name), so `docker ps -a --filter label=io.soak.managed` shows anything left
//! behind — which should be nothing: they are removed on every way out of a run, and the
//! guard process removes them if soak itself is SIGKILLed.

use crate::config::ImageSpec;
use crate::error::{Error, Result};
use crate::report::ExitInfo;
use crate::sample::docker_stats::{StatsError, StatsFeed};
use bollard::container::{
    Config, CreateContainerOptions, RemoveContainerOptions, StatsOptions, StopContainerOptions,
    WaitContainerOptions,
};
use bollard::models::{ContainerInspectResponse, HostConfig};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Label on every container soak creates.
pub const LABEL: &str = "io.soak.managed";
/// Label carrying the run's name.
pub const RUN_LABEL: &str = "io.soak.run";
/// Label carrying a token unique to one soak process, which its guard knows before the
/// container is created: a soak SIGKILLed while create or start is under way still gets
/// its container removed (see [`remove_labelled_blocking`]).
pub const TOKEN_LABEL: &str = "io.soak.token";

/// A token for [`TOKEN_LABEL`], unique to this soak process.
pub fn new_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// The default engine address when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connection to the engine.
pub struct Engine {
    docker: Docker,
    /// The address used (`DOCKER_HOST` or the default socket), for messages and reports.
    pub host: String,
}

/// A container being soaked.
#[derive(Debug, Clone)]
pub struct Container {
    /// Full id.
    pub id: String,
    /// Name, without the leading slash.
    pub name: String,
    /// Image.
    pub image: String,
    /// Pid of its first process on this host (for its cgroup).
    pub pid: u32,
    /// Memory limit, when set.
    pub memory_limit: Option<u64>,
}

/// The socket path of a `unix://` host, for the guard.
pub fn socket_path(host: &str) -> Option<&str> {
    host.strip_prefix("unix://")
}

impl Engine {
    /// Connects and pings. Any failure is one line naming the engine's address and what
    /// to check; it is a monitor error (exit 5), never a fallback to another target.
    pub async fn connect() -> Result<Engine> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let unreachable = |cause: String| {
            let check = match socket_path(&host) {
                Some(p) if !std::path::Path::new(p).exists() => format!(
                    "{p} does not exist: is the Docker daemon installed and running (docker info)?"
                ),
                Some(p) => format!(
                    "check that dockerd is running (docker info) and that this user may open {p} (root or the docker group)"
                ),
                None => "check DOCKER_HOST and that the daemon listens there (docker info)".into(),
            };
            Error::Monitor(format!(
                "cannot reach the Docker engine at {host}: {cause}; {check}"
            ))
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(root_cause(&e)))?;
        // A stuck daemon must not hang soak: the ping gets 10 s.
        match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
            Ok(Ok(_)) => Ok(Engine { docker, host }),
            Ok(Err(e)) => Err(unreachable(root_cause(&e))),
            Err(_) => Err(unreachable("no answer within 10 s".into())),
        }
    }

    /// Creates and starts a container from a local image. A missing image or a start
    /// failure is the target failing to start (exit 4); the container, if created, is
    /// removed before returning the error.
    /// `token` labels it for the guard ([`TOKEN_LABEL`]).
    pub async fn launch(&self, spec: &ImageSpec, run_name: &str, token: &str) -> Result<Container> {
        let labels = HashMap::from([
            (LABEL.to_string(), "true".to_string()),
            (RUN_LABEL.to_string(), run_name.to_string()),
            (TOKEN_LABEL.to_string(), token.to_string()),
        ]);
        let limit = spec.memory_limit.map(|b| b.min(i64::MAX as u64) as i64);
        let config = Config {
            image: Some(spec.image.clone()),
            cmd: (!spec.args.is_empty()).then(|| spec.args.clone()),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                memory: limit,
                // Swap limit = memory limit: the container cannot swap past its limit,
                // so reaching it is an OOM kill, not a slow-down.
                memory_swap: limit,
                ..HostConfig::default()
            }),
            ..Config::default()
        };
        let options = spec.name.as_ref().map(|n| CreateContainerOptions {
            name: n.clone(),
            platform: None,
        });
        let created = self
            .docker
            .create_container(options, config)
            .await
            .map_err(|e| create_error(&e, spec))?;
        let id = created.id;
        if let Err(e) = self.docker.start_container::<String>(&id, None).await {
            let _ = self.remove(&id).await;
            return Err(Error::Start(format!(
                "cannot start a container from image {}: {}",
                spec.image,
                root_cause(&e)
            )));
        }
        match self.inspect(&id).await {
            Ok(c) => Ok(c),
            Err(e) => {
                let _ = self.remove(&id).await;
                Err(e)
            }
        }
    }

    /// Finds a running container by name or id (exit 2 when there is none, 4 when it is
    /// not running).
    pub async fn attach(&self, name_or_id: &str) -> Result<Container> {
        let c = self.inspect(name_or_id).await?;
        if c.pid == 0 {
            return Err(Error::Usage(format!(
                "container {name_or_id} is not running: start it first, or use --image to have soak start one"
            )));
        }
        Ok(c)
    }

    /// The container's identity and state.
    pub async fn inspect(&self, name_or_id: &str) -> Result<Container> {
        let r = self.inspect_raw(name_or_id).await?;
        let state = r.state.as_ref();
        let running = state.and_then(|s| s.running).unwrap_or(false);
        Ok(Container {
            id: r.id.clone().unwrap_or_default(),
            name: r
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: r
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            pid: if running {
                state
                    .and_then(|s| s.pid)
                    .and_then(|p| u32::try_from(p).ok())
                    .unwrap_or(0)
            } else {
                0
            },
            memory_limit: r
                .host_config
                .as_ref()
                .and_then(|h| h.memory)
                .filter(|m| *m > 0)
                .map(|m| m as u64),
        })
    }

    async fn inspect_raw(&self, name_or_id: &str) -> Result<ContainerInspectResponse> {
        self.docker
            .inspect_container(name_or_id, None)
            .await
            .map_err(|e| match status_of(&e) {
                Some(404) => Error::Usage(format!(
                    "no container named {name_or_id} on the engine at {}: check `docker ps`",
                    self.host
                )),
                _ => Error::Monitor(format!(
                    "cannot inspect container {name_or_id} at {}: {}",
                    self.host,
                    root_cause(&e)
                )),
            })
    }

    /// Resolves when the container is no longer running.
    /// [`wait`](Self::wait) as a future that owns what it needs, so a session can keep
    /// it across loop turns.
    pub fn wait_owned(&self, id: &str) -> impl std::future::Future<Output = ()> + 'static {
        let engine = Engine {
            docker: self.docker.clone(),
            host: self.host.clone(),
        };
        let id = id.to_string();
        async move { engine.wait(&id).await }
    }

    /// Resolves when the container is no longer running.
    pub async fn wait(&self, id: &str) {
        let options = WaitContainerOptions {
            condition: "not-running",
        };
        let mut s = self.docker.wait_container(id, Some(options));
        // A non-zero exit comes back as an error item; either way it has ended. A broken
        // stream (the engine went away) must not end the run: then wait forever and let
        // the cgroup reads tell.
        match s.next().await {
            Some(Ok(_)) | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => {}
            _ => std::future::pending::<()>().await,
        }
    }

    /// How the container ended, from its state (exit code, `State.OOMKilled`).
    pub async fn exit_info(&self, id: &str, at_s: f64, stopped_by_soak: bool) -> ExitInfo {
        let state = self.inspect_raw(id).await.ok().and_then(|r| r.state);
        let code = state.as_ref().and_then(|s| s.exit_code);
        let oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
        let error = state
            .as_ref()
            .and_then(|s| s.error.clone())
            .filter(|e| !e.is_empty());
        exit_from_state(code, oom_killed, error, at_s, stopped_by_soak)
    }

    /// Stops a container: SIGTERM, then SIGKILL after `grace` (the engine does both).
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let t = grace.as_secs().min(i64::MAX as u64) as i64;
        self.docker
            .stop_container(id, Some(StopContainerOptions { t }))
            .await
            .map_err(|e| Error::Monitor(format!("cannot stop container {id}: {}", root_cause(&e))))
    }

    /// Removes a container (forcibly, with its anonymous volumes).
    pub async fn remove(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..RemoveContainerOptions::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(Error::Monitor(format!(
                "cannot remove container {id}: {}; remove it with `docker rm -f {id}`",
                root_cause(&e)
            ))),
        }
    }

    /// One reading of the engine's stats API (`stream=false&one-shot=true`). The engine
    /// answers the first call at once but later ones only at its collector's next tick
    /// (about a second, measured in benches/container_sample_cost.rs), so sampling uses
    /// [`Engine::stats_feed`] instead.
    pub async fn stats(
        &self,
        id: &str,
    ) -> std::result::Result<bollard::container::Stats, StatsError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        match self.docker.stats(id, Some(options)).next().await {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => Err(StatsError(root_cause(&e))),
            None => Err(StatsError("the engine sent no stats".into())),
        }
    }

    /// Subscribes to the engine's stats stream for `id` (see [`StatsFeed`]); `why` says
    /// why the cgroup could not be read, for the report.
    pub async fn stats_feed(
        &self,
        id: &str,
        why: &str,
    ) -> std::result::Result<StatsFeed, StatsError> {
        let options = StatsOptions {
            stream: true,
            one_shot: false,
        };
        let sources = crate::sample::cgroup::api_sources(&self.host, why);
        StatsFeed::subscribe(self.docker.stats(id, Some(options)), root_cause, sources).await
    }
}

/// Builds the [`ExitInfo`] of a container from its state. The engine reports death by
/// signal N as exit code 128+N.
pub fn exit_from_state(
    code: Option<i64>,
    oom_killed: bool,
    error: Option<String>,
    at_s: f64,
    stopped_by_soak: bool,
) -> ExitInfo {
    let signal = code
        .filter(|c| (129..=159).contains(c))
        .map(|c| super::signal_name((c - 128) as i32));
    let oom = if oom_killed {
        Some("OOM-killed at the container's memory limit (State.OOMKilled)".to_string())
    } else {
        error.map(|e| format!("engine: {e}"))
    };
    ExitInfo {
        code: if signal.is_some() {
            None
        } else {
            code.map(|c| c as i32)
        },
        signal,
        oom,
        at_s,
        stopped_by_soak,
    }
}

fn create_error(e: &bollard::errors::Error, spec: &ImageSpec) -> Error {
    match status_of(e) {
        Some(404) => Error::Start(format!(
            "no image {} on this engine: build or load it first (docker build -t {} .); soak never pulls",
            spec.image, spec.image
        )),
        Some(409) => Error::Usage(format!(
            "a container named {} exists already: choose another --name or remove it",
            spec.name.as_deref().unwrap_or("?")
        )),
        Some(400) => Error::Usage(format!(
            "the engine refused the container for image {}: {}",
            spec.image,
            root_cause(e)
        )),
        _ => Error::Start(format!(
            "cannot create a container from image {}: {}",
            spec.image,
            root_cause(e)
        )),
    }
}

fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The innermost cause, on one line (bollard's errors wrap hyper's, which wrap io's).
fn root_cause(e: &bollard::errors::Error) -> String {
    if let bollard::errors::Error::DockerResponseServerError { message, .. } = e {
        return message.trim().to_string();
    }
    let mut cur: &dyn std::error::Error = e;
    let mut text = e.to_string();
    while let Some(next) = cur.source() {
        text = next.to_string();
        cur = next;
    }
    text.lines().next().unwrap_or_default().to_string()
}

/// Removes a container with one blocking HTTP request over a unix socket — for the guard
/// process, which runs when soak has died and has no runtime.
pub fn remove_blocking(socket: &str, id: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "DELETE /containers/{id}?force=true&v=true HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    let status = String::from_utf8_lossy(&reply);
    let ok = status.starts_with("HTTP/1.1 204") || status.starts_with("HTTP/1.1 404");
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other(
            status.lines().next().unwrap_or_default().to_string(),
        ))
    }
}

/// Removes (by force) every container labelled [`TOKEN_LABEL`]`=token` on the engine at
/// `socket`, with blocking I/O and no runtime (for the guard); returns how many.
pub fn remove_labelled_blocking(socket: &str, token: &str) -> std::io::Result<usize> {
    use std::io::{Read, Write};
    // HTTP/1.0: the reply is the plain body, never chunked.
    let filters = format!("{{\"label\":[\"{TOKEN_LABEL}={token}\"]}}");
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET /containers/json?all=1&filters={} HTTP/1.0\r\nHost: docker\r\n\r\n",
        percent_encode(&filters)
    )?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(
            head.lines().next().unwrap_or_default().to_string(),
        ));
    }
    let list: Vec<serde_json::Value> = serde_json::from_str(body).map_err(std::io::Error::other)?;
    let mut removed = 0;
    for id in list.iter().filter_map(|c| c["Id"].as_str()) {
        remove_blocking(socket, id)?;
        removed += 1;
    }
    Ok(removed)
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding() {
        assert_eq!(
            percent_encode("{\"a\":[\"b=c\"]}"),
            "%7B%22a%22%3A%5B%22b%3Dc%22%5D%7D"
        );
    }

    #[test]
    fn engine_exit_codes_name_signals_and_oom() {
        let x = exit_from_state(Some(137), true, None, 3.0, false);
        assert_eq!(x.signal.as_deref(), Some("SIGKILL"));
        assert!(x.describe().contains("OOM-killed"), "{}", x.describe());
        let x = exit_from_state(Some(3), false, None, 1.0, false);
        assert_eq!((x.code, x.signal.as_deref()), (Some(3), None));
        let x = exit_from_state(Some(0), false, Some("boom".into()), 1.0, false);
        assert_eq!(x.describe(), "exited with code 0 (engine: boom)");
    }

    #[test]
    fn socket_paths() {
        assert_eq!(socket_path(DEFAULT_HOST), Some("/var/run/docker.sock"));
        assert_eq!(socket_path("tcp://h:2375"), None);
    }
}
