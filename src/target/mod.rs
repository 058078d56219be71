//! What is being soaked: a command soak starts ([`process::Launched`]), a running pid
//! ([`process::attach`]), and the process tree under either ([`tree::ProcessTree`]).

pub mod container;
pub mod guard;
pub mod in_process;
pub mod log;
pub mod oom;
pub mod process;
pub mod tree;

use serde::{Deserialize, Serialize};

/// Unit tests that start child processes, and those that count this process's tree,
/// take turns: a child of one would be a member of the other's tree.
#[cfg(test)]
pub(crate) static CHILDREN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How a target process ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Signal name, when a signal killed it.
    pub signal: Option<String>,
    /// OOM evidence, when there is some (or a hint when killed by SIGKILL).
    pub oom: Option<String>,
    /// Seconds into the run.
    pub at_s: f64,
    /// Whether soak caused the exit (stopping the target at the end).
    pub stopped_by_soak: bool,
}

impl ExitInfo {
    /// One line: "exited with code 3", "killed by SIGSEGV".
    pub fn describe(&self) -> String {
        let mut s = match (&self.code, &self.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(sig)) => format!("killed by {sig}"),
            _ => "ended".to_string(),
        };
        if let Some(o) = &self.oom {
            s.push_str(&format!(" ({o})"));
        }
        s
    }
}

/// Name of a signal number ("SIGTERM").
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}
