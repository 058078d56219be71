//! Asking a JVM for a full collection: [`request_full_gc`] speaks the HotSpot attach
//! protocol itself and falls back to `jcmd PID GC.run`. It blocks, so callers run it off
//! the sampling thread.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a full collection was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcRoute {
    /// soak spoke the HotSpot attach protocol itself.
    Attach,
    /// `jcmd PID GC.run`.
    Jcmd,
}

/// Why the attach protocol did not run a command.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The JVM's options make attaching unsafe or useless (see the text).
    #[error("{0}")]
    Unsafe(&'static str),
    /// The `.attach_pidNSPID` trigger file could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Trigger {
        /// The trigger file (in tmp: the working directory failed first).
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// SIGQUIT could not be sent.
    #[error("cannot signal pid {pid}: {source}")]
    Signal {
        /// The JVM's host pid.
        pid: u32,
        /// Why.
        source: io::Error,
    },
    /// The JVM did not open its attach socket in time.
    #[error("no attach socket {} after {:.1} s", path.display(), timeout.as_secs_f64())]
    NoSocket {
        /// The socket awaited.
        path: PathBuf,
        /// How long soak waited.
        timeout: Duration,
    },
    /// The attach socket refused the connection.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The request could not be written.
    #[error("cannot write to {}: {source}", path.display())]
    Write {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The JVM closed the connection without a result code.
    #[error("the JVM closed the connection without a reply")]
    NoReply,
    /// The JVM answered with a non-zero result code.
    #[error("the JVM answered {code}: {message}")]
    Refused {
        /// The result code, as the JVM wrote it.
        code: String,
        /// The reply's next line.
        message: String,
    },
}

/// Why `jcmd` did not run a command.
#[derive(Debug, thiserror::Error)]
pub enum JcmdError {
    /// `jcmd` could not be started (not installed, not on PATH).
    #[error("cannot run jcmd: {0}")]
    Spawn(#[source] io::Error),
    /// `jcmd` did not finish in time and was killed.
    #[error("jcmd took over {:.0} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// `jcmd` ran but did not report success: the line naming the failure.
    #[error("jcmd failed: {0}")]
    Failed(String),
}

/// Neither route ran the full collection.
#[derive(Debug, thiserror::Error)]
#[error("attach: {attach}; jcmd: {jcmd}")]
pub struct GcError {
    /// Why the attach protocol failed.
    pub attach: AttachError,
    /// Why `jcmd` failed after it.
    pub jcmd: JcmdError,
}

/// Asks the JVM `pid` (`nspid` in its namespace) for a full collection (`GC.run`) and
/// waits for it; the attach protocol first, `jcmd` when that fails. The pid of a
/// `jcmd` soak starts goes into `helpers`, locked while it starts, so that a sampler
/// holding that lock while it lists the tree never takes it for a target process.
/// Blocks up to about `timeout` plus the collection itself: run it off the sampler.
pub fn request_full_gc(
    pid: u32,
    nspid: u32,
    timeout: Duration,
    helpers: &Mutex<Vec<u32>>,
) -> Result<GcRoute, GcError> {
    match attach_command(pid, nspid, "GC.run", timeout) {
        Ok(()) => Ok(GcRoute::Attach),
        Err(attach) => jcmd(pid, "GC.run", timeout, helpers)
            .map(|_| GcRoute::Jcmd)
            .map_err(|jcmd| GcError { attach, jcmd }),
    }
}

/// JVM options that make the attach protocol unsafe or useless: with `-Xrs` a SIGQUIT
/// would kill the JVM; with DisableAttachMechanism nobody listens.
fn attach_unsafe(pid: u32) -> Option<&'static str> {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmd.split(|&c| c == 0).collect();
    if args.iter().any(|a| *a == b"-Xrs") {
        return Some("the JVM runs with -Xrs (SIGQUIT would stop it)");
    }
    if args
        .iter()
        .any(|a| *a == b"-XX:+DisableAttachMechanism".as_slice())
    {
        return Some("the JVM runs with -XX:+DisableAttachMechanism");
    }
    None
}

/// Runs one jcmd command through the HotSpot attach protocol: start the attach
/// listener (create `.attach_pidNSPID` in the JVM's working directory or tmp, send
/// SIGQUIT, wait for `/tmp/.java_pidNSPID` in the JVM's root), connect, send
/// `1\0jcmd\0COMMAND\0\0\0`, and read the result code (0 = done).
pub fn attach_command(
    pid: u32,
    nspid: u32,
    command: &str,
    timeout: Duration,
) -> Result<(), AttachError> {
    use std::io::{Read, Write};
    use std::os::unix::fs::FileTypeExt;
    if let Some(why) = attach_unsafe(pid) {
        return Err(AttachError::Unsafe(why));
    }
    let tmp = PathBuf::from(format!("/proc/{pid}/root/tmp"));
    let socket = tmp.join(format!(".java_pid{nspid}"));
    let is_socket = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.file_type().is_socket())
            .unwrap_or(false)
    };
    if !is_socket(&socket) {
        let name = format!(".attach_pid{nspid}");
        let mut trigger = PathBuf::from(format!("/proc/{pid}/cwd")).join(&name);
        if File::create(&trigger).is_err() {
            trigger = tmp.join(&name);
            if let Err(source) = File::create(&trigger) {
                return Err(AttachError::Trigger {
                    path: trigger,
                    source,
                });
            }
        }
        // SAFETY: kill has no memory-safety preconditions; the pid is a JVM of the tree.
        let sent = unsafe { libc::kill(pid as libc::pid_t, libc::SIGQUIT) };
        // Read errno before anything else can overwrite it.
        let signal_error = (sent != 0).then(io::Error::last_os_error);
        let end = Instant::now() + timeout;
        let mut wait = Duration::from_millis(20);
        while sent == 0 && !is_socket(&socket) && Instant::now() < end {
            std::thread::sleep(wait);
            wait = (wait + Duration::from_millis(20)).min(Duration::from_millis(200));
        }
        let _ = std::fs::remove_file(&trigger);
        if let Some(source) = signal_error {
            return Err(AttachError::Signal { pid, source });
        }
        if !is_socket(&socket) {
            return Err(AttachError::NoSocket {
                path: socket,
                timeout,
            });
        }
    }
    let mut s = match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(source) => {
            return Err(AttachError::Connect {
                path: socket,
                source,
            })
        }
    };
    // The reply comes once the collection is over: allow it time.
    let io_timeout = Some(timeout.max(Duration::from_secs(60)));
    let _ = s.set_write_timeout(io_timeout);
    let _ = s.set_read_timeout(io_timeout);
    let mut req = Vec::with_capacity(64);
    req.extend_from_slice(b"1\0jcmd\0");
    req.extend_from_slice(command.as_bytes());
    req.extend_from_slice(b"\0\0\0");
    if let Err(source) = s.write_all(&req) {
        return Err(AttachError::Write {
            path: socket,
            source,
        });
    }
    let mut reply = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut reply);
    attach_reply(&reply)
}

/// Judges the attach listener's reply: its first line is the result code.
pub fn attach_reply(reply: &[u8]) -> Result<(), AttachError> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => Ok(()),
        Some("") | None => Err(AttachError::NoReply),
        Some(code) => Err(AttachError::Refused {
            code: code.to_string(),
            message: lines.next().unwrap_or("").trim().to_string(),
        }),
    }
}

/// Runs `jcmd PID COMMAND` with a timeout (killed after it).
fn jcmd(
    pid: u32,
    command: &str,
    timeout: Duration,
    helpers: &Mutex<Vec<u32>>,
) -> Result<(), JcmdError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = {
        let mut h = helpers.lock().unwrap_or_else(|e| e.into_inner());
        let child = Command::new("jcmd")
            .arg(pid.to_string())
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(JcmdError::Spawn)?;
        h.push(child.id());
        child
    };
    let mut out = String::new();
    let deadline = Instant::now() + timeout.max(Duration::from_secs(30));
    fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    }
    let reader = child.stdout.take().map(drain);
    let errors = child.stderr.take().map(drain);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(JcmdError::Timeout(timeout));
            }
            // Reaped by soak's own child handler (soak is a subreaper): judge by output.
            Err(_) => break,
        }
    }
    if let Some(r) = reader {
        out = r.join().unwrap_or_default();
    }
    let err = errors.and_then(|e| e.join().ok()).unwrap_or_default();
    if out.contains("Command executed successfully") {
        return Ok(());
    }
    // The reason is the first line naming an exception or error, else the last line.
    let text = format!("{out}\n{err}");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let why = lines
        .iter()
        .find(|l| l.contains("Exception") || l.contains("rror"))
        .or(lines.last())
        .copied()
        .unwrap_or("no output");
    Err(JcmdError::Failed(why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn attach_replies() {
        assert!(attach_reply(b"0\nCommand executed\n").is_ok());
        let e = attach_reply(b"-1\nno such command\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "the JVM answered -1: no such command");
        assert_eq!(
            attach_reply(b"").unwrap_err().to_string(),
            "the JVM closed the connection without a reply"
        );
    }

    /// The texts the full-GC counter's last error shows are the ones it showed before
    /// the errors were typed.
    #[test]
    fn error_texts() {
        let e = GcError {
            attach: AttachError::NoSocket {
                path: "/proc/7/root/tmp/.java_pid1".into(),
                timeout: Duration::from_secs(5),
            },
            jcmd: JcmdError::Timeout(Duration::from_secs(5)),
        };
        assert_eq!(
            e.to_string(),
            "attach: no attach socket /proc/7/root/tmp/.java_pid1 after 5.0 s; jcmd: jcmd took over 5 s"
        );
        assert_eq!(
            JcmdError::Failed("java.lang.Error: x".into()).to_string(),
            "jcmd failed: java.lang.Error: x"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_replies_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = attach_reply(&b);
        }
    }
}
