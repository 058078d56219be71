//! The guard: a small process that outlives soak only to stop the target when soak is
//! killed with SIGKILL (which no handler can catch).
//!
//! soak re-executes itself as `soak __guard`, keeping the write end of a pipe whose read
//! end is the guard's stdin. soak writes the target's process group and each member's
//! identity as it learns them. If the pipe closes without a `done` line, soak died: the
//! guard sends SIGKILL to the group and to every member whose start time still matches.
//! The direct child also has a parent-death signal; the guard covers its descendants.
//! For a container soak created, the guard removes it through the engine's socket.

use super::tree::ProcId;
use crate::sample::procfs::ProcReader;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// soak's side of the guard.
pub struct Guard {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guard {
    /// Starts `exe __guard`.
    pub fn start(exe: &Path) -> std::io::Result<Guard> {
        let mut child = Command::new(exe)
            .arg("__guard")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Guard { child, stdin })
    }

    /// The guard's pid (excluded from the tree: it is soak's child, not the target's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, line: &str) {
        if let Some(s) = self.stdin.as_mut() {
            // A guard that died cannot be helped; the run goes on without it.
            let _ = s.write_all(line.as_bytes());
        }
    }

    /// Tells the guard the target's process group.
    pub fn process_group(&mut self, pgid: i32) {
        self.send(&format!("pgid {pgid}\n"));
    }

    /// Tells the guard about a tree member.
    pub fn member(&mut self, p: ProcId) {
        self.send(&format!("pid {} {}\n", p.pid, p.starttime));
    }

    /// Tells the guard, before soak creates a container, the token it will be labelled
    /// with: whatever moment soak dies at, the guard removes what carries it.
    pub fn container_token(&mut self, socket: &str, token: &str) {
        self.send(&format!("token {token} {socket}\n"));
    }

    /// Tells the guard about a container soak created, on the engine at `socket`.
    pub fn container(&mut self, socket: &str, id: &str) {
        self.send(&format!("container {id} {socket}\n"));
    }

    /// A file or folder of soak's to delete if soak dies (the heap counters in /dev/shm,
    /// which would otherwise outlive it).
    pub fn remove_path(&mut self, path: &Path) {
        self.send(&format!("rm {}\n", path.display()));
    }

    /// soak is ending normally: the guard exits without killing.
    pub fn done(mut self) {
        self.send("done\n");
        self.stdin = None;
        let _ = self.child.wait();
    }
}

/// The guard's main loop (`soak __guard`); returns when soak ends.
pub fn run_guard() {
    // The guard must survive the signals soak handles (Ctrl-C reaches the whole group).
    // SAFETY: setting dispositions to SIG_IGN is async-signal-safe and has no invariants.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut pgid: Option<i32> = None;
    let mut members: Vec<ProcId> = Vec::new();
    let mut containers: Vec<(String, String)> = Vec::new();
    let mut tokens: Vec<(String, String)> = Vec::new();
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if let Some(p) = line.strip_prefix("rm ") {
            paths.push(p.into());
            continue;
        }
        if let Some((token, socket)) = line.strip_prefix("token ").and_then(|r| r.split_once(' ')) {
            tokens.push((token.to_string(), socket.to_string()));
            continue;
        }
        if let Some((id, socket)) = line
            .strip_prefix("container ")
            .and_then(|r| r.split_once(' '))
        {
            containers.push((id.to_string(), socket.to_string()));
            continue;
        }
        let mut w = line.split_whitespace();
        match (w.next(), w.next(), w.next()) {
            (Some("done"), _, _) => return,
            (Some("pgid"), Some(g), _) => pgid = g.parse().ok(),
            (Some("pid"), Some(p), Some(s)) => {
                if let (Ok(pid), Ok(starttime)) = (p.parse(), s.parse()) {
                    members.push(ProcId { pid, starttime });
                }
            }
            _ => {}
        }
    }
    // soak died without saying done.
    kill_all(pgid, &members);
    // A build without containers never sends the guard a container to remove.
    #[cfg(not(feature = "containers"))]
    let _ = (containers, tokens);
    #[cfg(feature = "containers")]
    for (id, socket) in containers {
        // Nobody is left to report a failure to; the label lets `docker ps` find it.
        let _ = crate::workload::engine::remove_blocking(&socket, &id);
    }
    // A create or start soak sent just before dying may still complete in the engine:
    // look for the token's containers a few times over the next seconds.
    #[cfg(feature = "containers")]
    if !tokens.is_empty() {
        for pass in 0..4 {
            if pass > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1000));
            }
            for (token, socket) in &tokens {
                let _ = crate::workload::engine::remove_labelled_blocking(socket, token);
            }
        }
    }
    for p in paths {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

/// SIGKILL to a process group and to members that are still who they were.
pub fn kill_all(pgid: Option<i32>, members: &[ProcId]) {
    if let Some(g) = pgid.filter(|g| *g > 1) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-g, libc::SIGKILL) };
    }
    let mut r = ProcReader::new(false);
    for m in members {
        if r.stat(m.pid)
            .map(|s| s.starttime == m.starttime)
            .unwrap_or(false)
        {
            // SAFETY: as above; the start time check keeps a reused pid safe.
            unsafe { libc::kill(m.pid as i32, libc::SIGKILL) };
        }
    }
}
