//! A command soak starts, or a running pid it attaches to, as a workload: spawned in its
//! own process group with soak as its subreaper (the guard learns every member), watched
//! through SIGCHLD, stopped with SIGTERM then SIGKILL after the grace period; its logs
//! capped; its end explained (exit code, signal, OOM evidence).

use super::guard::Guard;
use super::log::{truncation_note, CappedLog};
use super::oom;
use super::process::{self, Launched, Reaped};
use super::signal::signal_number;
use super::tree::ProcId;
use super::watch::{Stopped, Workload};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::note::Note;
use crate::report::ExitInfo;
use crate::sample::tree::TreeSource;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// What the command needs besides the run's configuration: what the samplers inject.
#[derive(Default)]
pub struct Launch {
    /// Environment entries for the command (the heap shim's LD_PRELOAD, Node's preload).
    pub env: Vec<(String, String)>,
    /// Files the guard removes if soak is killed (the shim's segments, the preload).
    pub guard_paths: Vec<PathBuf>,
}

/// A command soak started, or a pid it attached to.
pub struct Command {
    argv: Option<Vec<String>>,
    root: ProcId,
    pgid: Option<i32>,
    sigchld: Signal,
    guard: Option<Guard>,
    logs: Vec<(&'static str, CappedLog)>,
    log_cap: u64,
    grace: Duration,
    root_exit: Option<ExitInfo>,
    oom_before: Option<u64>,
    oom_mark: oom::OomMark,
    /// Whether another stop signal came during the grace period (set by the monitor).
    another_stop: Option<Box<dyn FnMut() -> bool>>,
}

impl Command {
    /// Starts the command of `cfg` (or takes the attached pid `attached`). `prepare`
    /// runs once the guard knows `launch.guard_paths` and before the command starts, to
    /// create those files.
    pub fn start(
        cfg: &RunConfig,
        guard_exe: Option<&Path>,
        attached: Option<ProcId>,
        launch: Launch,
        prepare: impl FnOnce() -> Result<()>,
    ) -> Result<Command> {
        // Installed before the target starts, so no exit is missed.
        let sigchld = signal(SignalKind::child())
            .map_err(|e| Error::Monitor(format!("cannot install signal handler: {e}")))?;
        let oom_before = oom::cgroup_oom_kills();
        let oom_mark = oom::OomMark::now();
        let mut w = Command {
            argv: None,
            root: ProcId {
                pid: 0,
                starttime: 0,
            },
            pgid: None,
            sigchld,
            guard: None,
            logs: Vec::new(),
            log_cap: cfg.log_cap,
            grace: cfg.grace,
            root_exit: None,
            oom_before,
            oom_mark,
            another_stop: None,
        };
        match (&cfg.target, attached) {
            (TargetSpec::Command(argv), _) => {
                process::become_subreaper();
                if let Some(exe) = guard_exe {
                    let mut g = Guard::start(exe)
                        .map_err(|e| Error::io("cannot start guard process", exe, e))?;
                    for p in &launch.guard_paths {
                        g.remove_path(p);
                    }
                    w.guard = Some(g);
                }
                let launched = prepare().and_then(|_| w.spawn(cfg, argv, &launch.env));
                let l = match launched {
                    Ok(l) => l,
                    Err(e) => {
                        if let Some(g) = w.guard.take() {
                            g.done();
                        }
                        return Err(e);
                    }
                };
                if let Some(g) = w.guard.as_mut() {
                    g.process_group(l.pgid);
                    g.member(l.root);
                }
                w.argv = Some(argv.clone());
                w.root = l.root;
                w.pgid = Some(l.pgid);
            }
            (TargetSpec::Pid(_), Some(p)) => w.root = p,
            (other, _) => return Err(Error::Monitor(format!("{other:?} is not a process target"))),
        }
        Ok(w)
    }

    /// Opens the capped logs and spawns the command with `env`.
    fn spawn(
        &mut self,
        cfg: &RunConfig,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<Launched> {
        let open = |name: &str| {
            let p = cfg.out_dir.join(name);
            CappedLog::create(&p, cfg.log_cap).map_err(|e| Error::io("cannot create", p, e))
        };
        let (o, ow) = open("target.stdout.log")?;
        let (e, ew) = open("target.stderr.log")?;
        self.logs = vec![("target.stdout.log", o), ("target.stderr.log", e)];
        let mut env = env.to_vec();
        // The target may want to signal soak (and a signal it sends is told apart).
        env.push(("SOAK_PID".into(), std::process::id().to_string()));
        process::spawn(argv, &env, ow.into(), ew.into())
    }

    /// The root process.
    pub fn root(&self) -> ProcId {
        self.root
    }

    /// The command's process group (`None` for an attached pid).
    pub fn pgid(&self) -> Option<i32> {
        self.pgid
    }

    /// Whether soak attached to a running pid (and so never stops it).
    pub fn attached(&self) -> bool {
        self.argv.is_none()
    }

    /// Processes soak itself excludes from the tree (the guard).
    pub fn excluded(&self) -> Vec<u32> {
        self.guard
            .as_ref()
            .map(|g| vec![g.pid()])
            .unwrap_or_default()
    }

    /// Tells the guard about processes that joined the tree.
    pub fn joined(&mut self, members: impl IntoIterator<Item = ProcId>) {
        if let Some(g) = self.guard.as_mut() {
            for m in members {
                g.member(m);
            }
        }
    }

    /// The root's end, once known.
    pub fn root_exit(&self) -> Option<&ExitInfo> {
        self.root_exit.as_ref()
    }

    /// Records that the attached root ended at `at_s` (seen at a tick, not reaped).
    pub fn root_gone(&mut self, at_s: f64) {
        self.root_exit = Some(ExitInfo {
            code: None,
            signal: None,
            oom: None,
            at_s,
            stopped_by_soak: false,
        });
    }

    /// Reaps every exited child; records the root's end.
    pub fn reap(&mut self, at_s: f64) {
        for r in process::reap_all() {
            self.reaped(r, at_s, false);
        }
    }

    fn reaped(&mut self, r: Reaped, at_s: f64, by_soak: bool) {
        if r.pid == self.root.pid && self.root_exit.is_none() {
            self.root_exit = Some(process::exit_info(r, at_s, by_soak));
        }
    }

    /// What tells whether another stop signal came during the grace period.
    pub fn on_another_stop(&mut self, f: Box<dyn FnMut() -> bool>) {
        self.another_stop = Some(f);
    }
}

/// What stopping a command adds to [`Stopped`].
#[derive(Debug, Default)]
pub struct CommandStop {
    /// A second stop signal cut the grace period short.
    pub cut_short: bool,
    /// Evidence that the OOM killer killed a member besides the root.
    pub child_oom: Option<String>,
}

impl Command {
    /// [`Workload::stop`] with what only a command has: whether the grace period was
    /// cut short, and OOM kills of members other than the root (over every pid `seen`).
    pub fn stop_command(&mut self, view: &mut TreeSource, at_s: f64) -> (Stopped, CommandStop) {
        let mut out = Stopped::default();
        let mut extra = CommandStop::default();
        if let Some(g) = self.pgid {
            let mut reaped = Vec::new();
            let mut another = self.another_stop.take();
            let stopped = process::stop_tree(
                g,
                &mut view.tree,
                &mut view.reader,
                self.grace,
                |r| reaped.push(r),
                || another.as_mut().is_some_and(|f| f()),
            );
            out.escalated = Some(stopped.killed);
            extra.cut_short = stopped.cut_short;
            for r in reaped {
                self.reaped(r, at_s, true);
            }
        }
        if extra.cut_short {
            out.notes.push(Note::GraceCutShort {
                grace_s: self.grace.as_secs_f64(),
            });
        }
        if let Some(g) = self.guard.take() {
            g.done();
        }
        for (name, log) in std::mem::take(&mut self.logs) {
            match log.finish(Duration::from_secs(2)) {
                Ok(None) => {}
                Ok(Some(t)) => out.notes.push(truncation_note(name, &t, self.log_cap)),
                Err(e) => out.notes.push(Note::LogIncomplete {
                    name: name.to_string(),
                    error: e.to_string(),
                }),
            }
        }
        let (root, oom_before) = (self.root.pid, self.oom_before);
        if let Some(x) = self.root_exit.as_mut() {
            if !x.stopped_by_soak {
                let sig = x.signal.as_deref().and_then(signal_number);
                x.oom = oom::explain(root, sig, oom_before);
            }
        }
        let root_oom = self
            .root_exit
            .as_ref()
            .and_then(|x| x.oom.as_deref())
            .is_some_and(|o| o.starts_with("OOM-killed"));
        extra.child_oom =
            oom::members_killed(self.oom_mark, root, &view.seen, oom_before, root_oom);
        out.exit = self.root_exit.clone();
        (out, extra)
    }
}

impl Workload for Command {
    type View = TreeSource;

    fn describe(&self) -> String {
        match &self.argv {
            Some(c) => format!("`{}` (pid {})", c.join(" "), self.root.pid),
            None => format!("pid {} (attached)", self.root.pid),
        }
    }

    /// A child exited: `true` when it was the root of a command (the session decides
    /// whether descendants keep the run going).
    async fn ended(&mut self, start: Instant) -> bool {
        self.sigchld.recv().await;
        self.reap(start.elapsed().as_secs_f64());
        !self.attached() && self.root_exit.is_some()
    }

    async fn stop(&mut self, view: &mut TreeSource, _gone: bool, at_s: f64) -> Stopped {
        self.stop_command(view, at_s).0
    }
}
