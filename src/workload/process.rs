//! Starting a command (no shell) in its own process group, attaching to a running pid,
//! reaping, and stopping a tree: SIGTERM, a grace period, then SIGKILL.

use super::tree::{ProcId, ProcessTree};
use crate::error::{Error, Result};
use crate::report::ExitInfo;
use crate::sample::procfs::ProcReader;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command soak started.
#[derive(Debug)]
pub struct Launched {
    /// The direct child.
    pub root: ProcId,
    /// Its process group (equal to its pid).
    pub pgid: i32,
}

/// Makes soak a child subreaper, so a target that daemonizes (double fork) is
/// re-parented to soak and stays a visible descendant.
pub fn become_subreaper() {
    // SAFETY: prctl with these arguments only sets a flag on the calling process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Starts `argv` with the given stdout/stderr (the capped logs' pipes) and `env` added
/// to soak's environment, in a new process group, with SIGKILL as its parent-death
/// signal.
pub fn spawn(
    argv: &[String],
    env: &[(String, String)],
    out: Stdio,
    err: Stdio,
) -> Result<Launched> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| Error::Usage("no command given after --".into()))?;
    // SAFETY: getpid has no preconditions.
    let soak_pid = unsafe { libc::getpid() };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // soak may have died between fork and prctl: then nobody would stop us.
            if libc::getppid() != soak_pid {
                libc::_exit(137);
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| {
        let hint = match source.kind() {
            std::io::ErrorKind::NotFound => " (not found: check the name and PATH)",
            std::io::ErrorKind::PermissionDenied => " (permission denied: is it executable?)",
            _ => "",
        };
        Error::Spawn {
            program: program.clone(),
            source,
            hint,
        }
    })?;
    let pid = child.id();
    // The std handle is dropped: soak reaps with waitpid(-1) because, as subreaper, it
    // must also reap adopted orphans.
    drop(child);
    let starttime = ProcReader::new(false)
        .stat(pid)
        .map(|s| s.starttime)
        .unwrap_or(0);
    Ok(Launched {
        root: ProcId { pid, starttime },
        pgid: pid as i32,
    })
}

/// Checks that `pid` exists and is readable; returns its identity.
pub fn attach(pid: u32) -> Result<ProcId> {
    use procfs::ProcError;
    // Once, off the sampling path: the procfs crate's parser (the per-tick reads use the
    // kept-open `pread` reader in sample/procfs.rs, 4.9× → 1.4× the floor).
    let st = i32::try_from(pid)
        .map_err(|_| ProcError::NotFound(None))
        .and_then(procfs::process::Process::new)
        .and_then(|p| p.stat())
        .map_err(|e| Error::Attach {
            pid,
            detail: match &e {
                ProcError::NotFound(_) => "no such process (check the pid with ps)".into(),
                other => other.to_string(),
            },
            permission: matches!(e, ProcError::PermissionDenied(_)),
        })?;
    if st.state == 'Z' {
        return Err(Error::Attach {
            pid,
            detail: "it is a zombie (already exited)".into(),
            permission: false,
        });
    }
    // Listing the descriptors needs the rights sampling needs (stat of the folder does
    // not): another user's process fails here, before anything is created.
    if let Err(e) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        let permission = e.kind() == std::io::ErrorKind::PermissionDenied;
        return Err(Error::Attach {
            pid,
            detail: format!(
                "{e}{}",
                if permission {
                    " (run soak as the process's user or as root)"
                } else {
                    ""
                }
            ),
            permission,
        });
    }
    Ok(ProcId {
        pid,
        starttime: st.starttime,
    })
}

/// What waitpid reported for one child.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    /// The pid.
    pub pid: u32,
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal, if one killed it.
    pub signal: Option<i32>,
}

/// Reaps every exited child of soak without blocking.
pub fn reap_all() -> Vec<Reaped> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        let (code, signal) = if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            continue;
        };
        out.push(Reaped {
            pid: pid as u32,
            code,
            signal,
        });
    }
    out
}

/// Sends `sig` to the group and to every member still alive as itself.
pub fn signal_tree(pgid: Option<i32>, tree: &ProcessTree, sig: i32) {
    if let Some(g) = pgid.filter(|g| *g > 1) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-g, sig) };
    }
    let mut r = ProcReader::new(false);
    for m in tree.members() {
        if r.stat(m.pid)
            .map(|s| s.starttime == m.starttime)
            .unwrap_or(false)
        {
            // SAFETY: as above; the start-time check guards against pid reuse.
            unsafe { libc::kill(m.pid as i32, sig) };
        }
    }
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeStop {
    /// SIGKILL was needed (the grace period ran out, or was cut short).
    pub killed: bool,
    /// `cut_short` said so during the grace period (a second stop signal to soak).
    pub cut_short: bool,
}

/// Stops a launched tree: SIGTERM, wait up to `grace`, then SIGKILL, reaping all.
/// `on_reap` sees every reaped child (so the root's status is not lost). `cut_short` is
/// asked every 20 ms of the grace period: when it says so, SIGKILL goes at once (this
/// loop blocks the runtime, so it cannot wait on the signal streams; a flag set by a
/// signal handler is what it can see).
pub fn stop_tree(
    pgid: i32,
    tree: &mut ProcessTree,
    reader: &mut ProcReader,
    grace: Duration,
    mut on_reap: impl FnMut(Reaped),
    mut cut_short: impl FnMut() -> bool,
) -> TreeStop {
    signal_tree(Some(pgid), tree, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    let mut out = TreeStop::default();
    loop {
        reap_all().into_iter().for_each(&mut on_reap);
        let _ = tree.refresh(reader);
        tree.prune(reader);
        if tree.is_empty() {
            break;
        }
        out.cut_short = cut_short();
        if out.cut_short || Instant::now() >= deadline {
            signal_tree(Some(pgid), tree, libc::SIGKILL);
            out.killed = true;
            // SIGKILL cannot be ignored; give the kernel a moment to tear down.
            let after = Instant::now() + Duration::from_secs(5);
            while Instant::now() < after {
                reap_all().into_iter().for_each(&mut on_reap);
                let _ = tree.refresh(reader);
                tree.prune(reader);
                if tree.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reap_all().into_iter().for_each(&mut on_reap);
    out
}

/// Builds the exit record of a reaped root.
pub fn exit_info(r: Reaped, at_s: f64, stopped_by_soak: bool) -> ExitInfo {
    ExitInfo {
        code: r.code,
        signal: r.signal.map(super::signal_name),
        oom: None,
        at_s,
        stopped_by_soak,
    }
}
