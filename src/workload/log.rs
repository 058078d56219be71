//! The target's stdout and stderr logs, capped: a 24-hour soak of a chatty target must
//! not fill the disk through them.
//!
//! The target writes into a pipe; a small thread copies it to the log. The first half
//! of the cap goes straight to the log file (so `tail -f` works from the start); past
//! it, the output goes round a ring file of the other half beside it
//! (`target.stdout.log.tail`). When the run ends the ring is appended in order after a
//! line saying how many bytes were cut, and removed: the log keeps the head and the
//! tail of the output, at most the cap plus that one line. Memory stays one 64 KiB
//! buffer per log.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a capped log is incomplete (named in the report's notes).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LogError(String);

/// The default cap of each log (16 MiB).
pub const DEFAULT_CAP: u64 = 16 * 1024 * 1024;

/// What a log lost to its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Bytes the target wrote in all.
    pub total: u64,
    /// Bytes cut from the middle.
    pub cut: u64,
}

/// One log being written.
pub struct CappedLog {
    state: Arc<Mutex<State>>,
    done: std::sync::mpsc::Receiver<()>,
}

struct State {
    path: PathBuf,
    file: File,
    /// 0: unlimited.
    cap: u64,
    ring: Option<File>,
    ring_path: PathBuf,
    /// Bytes written to the head (the log file itself).
    head: u64,
    /// Bytes in the ring, at most `tail_cap`.
    ring_len: u64,
    /// Where the next ring write goes.
    ring_pos: u64,
    total: u64,
    finished: bool,
    error: Option<String>,
}

impl State {
    fn head_cap(&self) -> u64 {
        self.cap - self.cap / 2
    }

    fn tail_cap(&self) -> u64 {
        self.cap / 2
    }

    fn write(&mut self, mut data: &[u8]) {
        if self.finished || self.error.is_some() {
            return;
        }
        self.total += data.len() as u64;
        if self.cap == 0 || self.head < self.head_cap() {
            let room = if self.cap == 0 {
                data.len()
            } else {
                (self.head_cap() - self.head).min(data.len() as u64) as usize
            };
            if let Err(e) = self.file.write_all(&data[..room]) {
                self.error = Some(format!("cannot write {}: {e}", self.path.display()));
                return;
            }
            self.head += room as u64;
            data = &data[room..];
        }
        if data.is_empty() || self.tail_cap() == 0 {
            return;
        }
        if let Err(e) = self.ring_write(data) {
            self.error = Some(format!("cannot write {}: {e}", self.ring_path.display()));
        }
    }

    fn ring_write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        let tail_cap = self.tail_cap();
        if data.len() as u64 > tail_cap {
            // Only the last tail_cap bytes can survive.
            let skip = data.len() - tail_cap as usize;
            self.ring_pos = (self.ring_pos + skip as u64) % tail_cap;
            self.ring_len = (self.ring_len + skip as u64).min(tail_cap);
            data = &data[skip..];
        }
        if self.ring.is_none() {
            self.ring = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&self.ring_path)?,
            );
        }
        let Some(ring) = self.ring.as_mut() else {
            return Ok(());
        };
        while !data.is_empty() {
            let n = ((tail_cap - self.ring_pos) as usize).min(data.len());
            ring.seek(SeekFrom::Start(self.ring_pos))?;
            ring.write_all(&data[..n])?;
            self.ring_pos = (self.ring_pos + n as u64) % tail_cap;
            self.ring_len = (self.ring_len + n as u64).min(tail_cap);
            data = &data[n..];
        }
        Ok(())
    }

    /// Appends the ring in order after the head; returns what was cut.
    fn finish(&mut self) -> Result<Option<Truncation>, LogError> {
        if self.finished {
            return Ok(None);
        }
        self.finished = true;
        let kept = self.head + self.ring_len;
        let cut = self.total - kept;
        let mut result = Ok(None);
        if let Some(mut ring) = self.ring.take() {
            let appended = (|| -> std::io::Result<()> {
                if cut > 0 {
                    writeln!(
                        self.file,
                        "\n[soak: {cut} bytes of output cut here (--log-cap {}): the log keeps the first {} and the last {} bytes]",
                        crate::units::Bytes(self.cap as f64),
                        self.head,
                        self.ring_len
                    )?;
                }
                // Oldest first: from the write position to the end, then the start.
                let start = if self.ring_len < self.tail_cap() {
                    0
                } else {
                    self.ring_pos
                };
                let first = self.ring_len.min(self.tail_cap() - start);
                let file = &mut self.file;
                let mut copy = |from: u64, len: u64| -> std::io::Result<()> {
                    ring.seek(SeekFrom::Start(from))?;
                    std::io::copy(&mut (&mut ring).take(len), file)?;
                    Ok(())
                };
                copy(start, first)?;
                copy(0, self.ring_len - first)?;
                Ok(())
            })();
            match appended {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.ring_path);
                }
                Err(e) => {
                    result = Err(LogError(format!(
                        "cannot append the log's tail {} to {}: {e}",
                        self.ring_path.display(),
                        self.path.display()
                    )))
                }
            }
        }
        if let Some(e) = self.error.take() {
            return Err(LogError(e));
        }
        if result.is_ok() && cut > 0 {
            result = Ok(Some(Truncation {
                total: self.total,
                cut,
            }));
        }
        result
    }
}

impl CappedLog {
    /// Creates the log at `path` (cap 0: unlimited) and returns it with the write end
    /// of the pipe to give the target as its stdout or stderr.
    pub fn create(path: &Path, cap: u64) -> std::io::Result<(CappedLog, OwnedFd)> {
        let file = File::create(path)?;
        let mut fds = [0i32; 2];
        // SAFETY: pipe2 fills two new descriptors, owned just below.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned by nobody else.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut ring_path = path.as_os_str().to_owned();
        ring_path.push(".tail");
        let state = Arc::new(Mutex::new(State {
            path: path.to_path_buf(),
            file,
            cap,
            ring: None,
            ring_path: PathBuf::from(ring_path),
            head: 0,
            ring_len: 0,
            ring_pos: 0,
            total: 0,
            finished: false,
            error: None,
        }));
        let (tx, done) = std::sync::mpsc::channel();
        let s = state.clone();
        std::thread::Builder::new()
            .name("soak-log".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let mut reader = File::from(reader);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Ok(mut st) = s.lock() {
                                st.write(&buf[..n]);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            })?;
        Ok((CappedLog { state, done }, writer))
    }

    /// Waits up to `wait` for every writer to close the pipe (the target's tree was
    /// stopped), then completes the log. Output that comes later (a process that
    /// escaped the tree still holding the pipe) is dropped.
    pub fn finish(self, wait: Duration) -> Result<Option<Truncation>, LogError> {
        let _ = self.done.recv_timeout(wait);
        match self.state.lock() {
            Ok(mut st) => st.finish(),
            Err(_) => Err(LogError("the log writer failed".into())),
        }
    }
}

/// The report note for a log cut to its cap.
pub fn truncation_note(name: &str, t: &Truncation, cap: u64) -> crate::note::Note {
    crate::note::Note::LogCapped {
        name: name.to_string(),
        cap,
        total: t.total,
        cut: t.cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &Path, cap: u64) -> State {
        let path = dir.join("log");
        State {
            file: File::create(&path).unwrap(),
            ring_path: dir.join("log.tail"),
            path,
            cap,
            ring: None,
            head: 0,
            ring_len: 0,
            ring_pos: 0,
            total: 0,
            finished: false,
            error: None,
        }
    }

    fn run(cap: u64, chunks: &[&[u8]]) -> (String, Option<Truncation>, bool) {
        let d = tempfile::tempdir().unwrap();
        let mut s = state(d.path(), cap);
        for c in chunks {
            s.write(c);
        }
        let t = s.finish().unwrap();
        let text = std::fs::read_to_string(d.path().join("log")).unwrap();
        (text, t, d.path().join("log.tail").exists())
    }

    #[test]
    fn under_the_cap_the_log_is_whole() {
        let (text, t, ring) = run(10, &[b"abc", b"defgh", b"ij"]);
        assert_eq!(text, "abcdefghij");
        assert_eq!(t, None);
        assert!(!ring, "the ring file is removed");
    }

    #[test]
    fn over_the_cap_head_and_tail_are_kept_in_order() {
        let data: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let chunks: Vec<&[u8]> = data.chunks(7).collect();
        let (text, t, ring) = run(10, &chunks);
        assert_eq!(
            t,
            Some(Truncation {
                total: 100,
                cut: 90
            })
        );
        let expected_head = String::from_utf8(data[..5].to_vec()).unwrap();
        let expected_tail = String::from_utf8(data[95..].to_vec()).unwrap();
        assert!(text.starts_with(&expected_head), "{text}");
        assert!(text.ends_with(&expected_tail), "{text}");
        assert!(text.contains("90 bytes of output cut here"), "{text}");
        assert!(!ring);
        // One write larger than the whole tail.
        let (text, _, _) = run(10, &[&data]);
        assert!(text.starts_with(&expected_head) && text.ends_with(&expected_tail));
    }

    #[test]
    fn zero_is_unlimited() {
        let data = vec![b'x'; 10_000];
        let (text, t, _) = run(0, &[&data]);
        assert_eq!(text.len(), 10_000);
        assert_eq!(t, None);
    }

    #[test]
    fn the_pipe_is_drained_and_finished() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("out.log");
        let (log, writer) = CappedLog::create(&path, 1000).unwrap();
        let mut w = File::from(writer);
        for _ in 0..100 {
            w.write_all(&[b'y'; 100]).unwrap();
        }
        drop(w);
        let t = log.finish(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(t.total, 10_000);
        assert_eq!(t.cut, 9_000);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() < 1200, "{}", text.len());
    }
}
