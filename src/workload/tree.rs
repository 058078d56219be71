//! Finding a target's descendants.
//!
//! This kernel may lack `/proc/PID/task/TID/children`, so each tick lists `/proc` and
//! reads `stat` (parent, start time) only for pids not seen before: a process's parent
//! changes only by re-parenting, which moves it *out* of a tree, never in. Members are
//! sticky: a daemon that double-forks is re-parented to init (or, for a command soak
//! started, to soak itself, which is a child subreaper) and stays a member. A member is
//! identified by pid *and* start time, so a reused pid is never taken for it.
//!
//! Limits: a process that forks and whose parent exits before the next tick, in attach
//! mode, is re-parented to init before soak sees the link and is missed; pids reused
//! within one tick by an unrelated process are not re-read.

use crate::sample::procfs::{gone, ProcReader, Stat};
use std::collections::HashMap;
use std::io;

/// A process identity: pid plus start time (clock ticks after boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId {
    /// The pid.
    pub pid: u32,
    /// Its start time, which tells it from a later process with the same pid.
    pub starttime: u64,
}

/// Lists the numeric entries of `/proc` through one kept-open directory and a reused
/// buffer (`getdents64`), so a tick allocates nothing to find new processes.
struct ProcLister {
    dir: std::fs::File,
    buf: Vec<u8>,
}

impl ProcLister {
    fn new() -> io::Result<ProcLister> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open("/proc")?;
        Ok(ProcLister {
            dir,
            buf: vec![0u8; 32 * 1024],
        })
    }

    fn list(&mut self, out: &mut Vec<u32>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.dir.as_raw_fd();
        // SAFETY: lseek on a descriptor we own; rewinding restarts the listing.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            // SAFETY: the kernel writes at most buf.len() bytes into our buffer.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(());
            }
            parse_dirents(&self.buf[..n as usize], out);
        }
    }
}

/// Parses `linux_dirent64` records (ino u64, off i64, reclen u16, type u8, name, NUL),
/// keeping names that are pids.
fn parse_dirents(mut b: &[u8], out: &mut Vec<u32>) {
    while b.len() >= 19 {
        let reclen = u16::from_ne_bytes([b[16], b[17]]) as usize;
        if reclen < 19 || reclen > b.len() {
            return;
        }
        let name = &b[19..reclen];
        let mut pid: u32 = 0;
        let mut digits = 0;
        for &c in name.iter().take_while(|c| **c != 0) {
            if c.is_ascii_digit() && digits < 10 {
                pid = pid.wrapping_mul(10).wrapping_add((c - b'0') as u32);
                digits += 1;
            } else {
                digits = 0;
                break;
            }
        }
        if digits > 0 {
            out.push(pid);
        }
        b = &b[reclen..];
    }
}

/// The last field of `/proc/loadavg`.
fn parse_last_pid(b: &[u8]) -> Option<u32> {
    std::str::from_utf8(b)
        .ok()?
        .split_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

/// The tracked tree: the root and every descendant seen.
pub struct ProcessTree {
    root: ProcId,
    /// Extra parents whose children belong to the tree (soak itself, as subreaper).
    adopters: Vec<u32>,
    /// Pids never to count (soak's guard process).
    exclude: Vec<u32>,
    members: HashMap<u32, u64>,
    outside: HashMap<u32, ()>,
    listing: Vec<u32>,
    lister: Option<ProcLister>,
    /// `/proc/loadavg` kept open: its last field is the most recently created pid.
    loadavg: Option<std::fs::File>,
    last_pid_seen: Option<u32>,
}

impl ProcessTree {
    /// A tree rooted at `root`; children of `adopters` also join (a subreaper's orphans).
    pub fn new(root: ProcId, adopters: Vec<u32>, exclude: Vec<u32>) -> Self {
        let mut members = HashMap::new();
        members.insert(root.pid, root.starttime);
        ProcessTree {
            root,
            adopters,
            exclude,
            members,
            outside: HashMap::new(),
            listing: Vec::new(),
            lister: None,
            loadavg: None,
            last_pid_seen: None,
        }
    }

    /// The root process.
    pub fn root(&self) -> ProcId {
        self.root
    }

    /// Current members.
    pub fn members(&self) -> impl Iterator<Item = ProcId> + '_ {
        self.members
            .iter()
            .map(|(&pid, &starttime)| ProcId { pid, starttime })
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// No member left.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The most recently created pid, from `/proc/loadavg` ("… 1/123 4567").
    fn last_pid(&mut self) -> Option<u32> {
        use std::os::unix::fs::FileExt;
        if self.loadavg.is_none() {
            self.loadavg = std::fs::File::open("/proc/loadavg").ok();
        }
        let mut buf = [0u8; 128];
        let n = self.loadavg.as_ref()?.read_at(&mut buf, 0).ok()?;
        parse_last_pid(&buf[..n])
    }

    /// Drops members that are gone or whose pid now belongs to another process. The
    /// listing that would notice is skipped while no process is created, so whoever
    /// needs an exact membership (stopping the tree) calls this.
    pub fn prune(&mut self, reader: &mut ProcReader) {
        self.members
            .retain(|pid, start| matches!(reader.stat(*pid), Ok(s) if s.starttime == *start));
    }

    /// Whether `pid` is a member.
    pub fn contains(&self, pid: u32) -> bool {
        self.members.contains_key(&pid)
    }

    /// Never counts `pid` (a helper soak started, e.g. `jcmd`), even as an orphan soak
    /// adopted; drops it if it had joined.
    pub fn exclude(&mut self, pid: u32) {
        if !self.exclude.contains(&pid) {
            self.exclude.push(pid);
        }
        self.members.remove(&pid);
        self.outside.insert(pid, ());
    }

    /// Drops a member that was found gone or replaced.
    pub fn forget(&mut self, pid: u32) {
        self.members.remove(&pid);
    }

    /// Lists `/proc`, adds new descendants, drops members that are gone. Returns the
    /// pids that joined.
    ///
    /// When no process at all was created since the last listing (the last pid in
    /// `/proc/loadavg` is unchanged), nothing can have joined, and the listing, the
    /// dearest part of a tick, is skipped. Members that exit are noticed when sampled.
    pub fn refresh(&mut self, reader: &mut ProcReader) -> io::Result<Vec<ProcId>> {
        let last_pid = self.last_pid();
        if last_pid.is_some() && last_pid == self.last_pid_seen {
            return Ok(Vec::new());
        }
        self.last_pid_seen = last_pid;
        self.listing.clear();
        if self.lister.is_none() {
            self.lister = Some(ProcLister::new()?);
        }
        if let Some(l) = self.lister.as_mut() {
            l.list(&mut self.listing)?;
        }
        self.listing.sort_unstable();
        let listing = std::mem::take(&mut self.listing);
        // Forget pids that are gone.
        let alive = |pid: &u32| listing.binary_search(pid).is_ok();
        self.members.retain(|pid, _| alive(pid));
        self.outside.retain(|pid, _| alive(pid));
        let mut fresh: Vec<(u32, Stat)> = Vec::new();
        for &pid in &listing {
            if self.members.contains_key(&pid) || self.outside.contains_key(&pid) {
                continue;
            }
            match reader.stat(pid) {
                Ok(st) => fresh.push((pid, st)),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.listing = listing;
        let mut joined = Vec::new();
        // Parents usually have lower pids, but wrap-around breaks that; repeat until
        // nothing more joins.
        loop {
            let before = joined.len();
            fresh.retain(|(pid, st)| {
                let member = !self.exclude.contains(pid)
                    && (self.members.contains_key(&st.ppid) || self.adopters.contains(&st.ppid));
                if member {
                    self.members.insert(*pid, st.starttime);
                    joined.push(ProcId {
                        pid: *pid,
                        starttime: st.starttime,
                    });
                }
                !member
            });
            if joined.len() == before {
                break;
            }
        }
        for (pid, _) in fresh {
            self.outside.insert(pid, ());
        }
        Ok(joined)
    }
}

/// Unit tests that start child processes, and those that count this process's tree,
/// take turns: a child of one would be a member of the other's tree.
#[cfg(test)]
pub(crate) static CHILDREN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lister_matches_read_dir() {
        let mut l = ProcLister::new().unwrap();
        let mut fast = Vec::new();
        l.list(&mut fast).unwrap();
        let mut slow: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        fast.sort_unstable();
        slow.sort_unstable();
        let me = std::process::id();
        assert!(fast.binary_search(&me).is_ok() && slow.binary_search(&me).is_ok());
        // Processes may come and go between the two listings.
        let common = fast
            .iter()
            .filter(|p| slow.binary_search(p).is_ok())
            .count();
        assert!(common + 5 >= slow.len(), "{} vs {}", fast.len(), slow.len());
        // Rewinding the open directory lists again.
        let mut again = Vec::new();
        l.list(&mut again).unwrap();
        assert!(again.contains(&me));
    }

    #[test]
    fn last_pid_parses_and_moves_with_forks() {
        assert_eq!(parse_last_pid(b"0.10 0.20 0.30 1/123 4567\n"), Some(4567));
        assert_eq!(parse_last_pid(b"garbage"), None);
        let me = std::process::id();
        let mut r = ProcReader::new(false);
        let st = r.stat(me).unwrap();
        let mut t = ProcessTree::new(
            ProcId {
                pid: me,
                starttime: st.starttime,
            },
            vec![],
            vec![],
        );
        let _turn = crate::workload::CHILDREN_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        t.refresh(&mut r).unwrap();
        let before = t.last_pid_seen;
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let joined = t.refresh(&mut r).unwrap();
        assert_ne!(t.last_pid_seen, before, "a fork moves the last pid");
        assert!(
            joined.iter().any(|p| p.pid == child.id()),
            "the new child joins"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn dirent_parser_is_defensive() {
        let mut out = Vec::new();
        parse_dirents(&[0u8; 10], &mut out);
        parse_dirents(&[0xffu8; 64], &mut out);
        assert!(out.is_empty());
    }
}
