//! The library's errors and the exit codes they map to (a DESIGN.md contract).

use std::path::PathBuf;

/// Documented exit codes.
pub mod exit_code {
    /// Every check passed.
    pub const PASS: i32 = 0;
    /// A limit was exceeded.
    pub const FAIL: i32 = 1;
    /// Usage error or bad input (nothing was run).
    pub const USAGE: i32 = 2;
    /// The evidence could not decide (unless `--inconclusive` maps it).
    pub const INCONCLUSIVE: i32 = 3;
    /// The target failed: did not start, crashed, was OOM-killed, or exited early.
    pub const TARGET_FAILED: i32 = 4;
    /// soak itself failed: I/O, permissions.
    pub const MONITOR_ERROR: i32 = 5;
}

/// Everything that can stop soak before it reaches a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments or the input are wrong; nothing was run.
    #[error("{0}")]
    Usage(String),
    /// The target could not be started.
    #[error("cannot start {program}: {source}{hint}")]
    Spawn {
        /// What was started.
        program: String,
        /// Why it failed.
        source: std::io::Error,
        /// Advice.
        hint: &'static str,
    },
    /// The target (a container) could not be created or started.
    #[error("{0}")]
    Start(String),
    /// The process to attach to cannot be read.
    #[error("cannot monitor pid {pid}: {detail}")]
    Attach {
        /// The pid.
        pid: u32,
        /// What went wrong.
        detail: String,
        /// Permission problems are exit 5, a missing process exit 2.
        permission: bool,
    },
    /// An I/O problem of soak's own (run directory, timeline, reports).
    #[error("{what} {path}: {source}")]
    Io {
        /// What soak was doing.
        what: &'static str,
        /// Which file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading a timeline failed.
    #[error(transparent)]
    Timeline(#[from] crate::timeline::ReadError),
    /// Something else soak needed failed (signals, the runtime).
    #[error("{0}")]
    Monitor(String),
    /// A fleet query (`soak analyze --prometheus`) failed before any series was judged.
    #[cfg(feature = "cli")]
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
}

impl Error {
    /// The exit code this error ends soak with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit_code::USAGE,
            Error::Spawn { .. } | Error::Start(_) => exit_code::TARGET_FAILED,
            Error::Attach { permission, .. } => {
                if *permission {
                    exit_code::MONITOR_ERROR
                } else {
                    exit_code::USAGE
                }
            }
            Error::Io { .. } | Error::Monitor(_) => exit_code::MONITOR_ERROR,
            #[cfg(feature = "cli")]
            Error::Fleet(e) => e.exit_code(),
            Error::Timeline(e) => match e {
                crate::timeline::ReadError::Io { .. } => exit_code::USAGE,
                _ => exit_code::USAGE,
            },
        }
    }

    /// Shorthand for an I/O error with context.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// Result with soak's error.
pub type Result<T> = std::result::Result<T, Error>;
