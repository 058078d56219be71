//! Finding a target's descendants.
//!
//! Each member's children are read from `/proc/PID/task/TID/children` (a child is
//! listed under the thread that forked it, so every thread's file is read; a
//! single-threaded member has one), through files kept open between ticks. What this
//! costs depends on the tree alone, not on the rest of the machine. A new pid found there
//! joins once its own `stat` names a member (or soak, the subreaper) as its parent: read
//! through the descriptor that will sample it, which stays bound to that process, so a pid
//! reused between the two reads is never taken for the child.
//!
//! The files are read only at ticks when some process was created anywhere since the
//! last look (the last pid in `/proc/loadavg` moved): with none, nobody can have joined.
//! On a busy machine that is every tick, and a scan is one `pread` per member thread.
//!
//! Where a kernel lacks the children files (no CONFIG_PROC_CHILDREN) — or
//! `SOAK_TREE_DISCOVERY=listing` says so, which the tests use to keep that path honest —
//! `/proc` is listed instead and `stat` (parent, start time) is read for pids not seen
//! before: that costs time proportional to every process on the machine.
//!
//! Members are sticky: a daemon that double-forks is re-parented (to init, or for a
//! command soak started to soak itself, a child subreaper, whose own children files are
//! read too) and stays a member. A member is identified by pid *and* start time.
//!
//! Limits: in `--pid` mode (no subreaper), a process whose parent exits before the next
//! scan is re-parented to init (or the nearest subreaper above the tree) before soak sees
//! the link, and is missed with its descendants: init's children cannot be told apart
//! from the tree's once their parent is gone. A process that forked and exited between
//! two scans is not seen either (it was never sampled).

use super::children::{read_children, Member, Scratch};
use super::proc_list::{parse_last_pid, DirLister, DIRENTS_BUF};
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

/// How new members are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Each member's `/proc/PID/task/TID/children`.
    Children,
    /// The `/proc` listing and each new pid's parent (kernels without children files).
    Listing,
}

impl Discovery {
    /// Children files where this kernel has them (probed on soak's own main thread),
    /// else the listing. `SOAK_TREE_DISCOVERY=listing` forces the listing, so tests can
    /// run the fallback on a kernel that does not need it.
    pub fn detect() -> Discovery {
        if std::env::var_os("SOAK_TREE_DISCOVERY").is_some_and(|v| v == "listing") {
            return Discovery::Listing;
        }
        let me = std::process::id();
        if std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists() {
            Discovery::Children
        } else {
            Discovery::Listing
        }
    }
}

/// The tracked tree: the root and every descendant seen.
pub struct ProcessTree {
    root: ProcId,
    /// Extra parents whose children belong to the tree (soak itself, as subreaper).
    adopters: Vec<u32>,
    /// The adopters' children files (read like a member's).
    adopter_files: Vec<Member>,
    /// Pids never to count (soak's guard process).
    exclude: Vec<u32>,
    /// Pid → start time, for membership tests.
    index: HashMap<u32, u64>,
    /// The members in the order they joined (the root first).
    members: Vec<Member>,
    discovery: Discovery,
    scratch: Scratch,
    /// The listing fallback's state: pids seen outside the tree, the listing.
    outside: HashMap<u32, ()>,
    listing: Vec<u32>,
    lister: Option<DirLister>,
    /// `/proc/loadavg` kept open: its last field is the most recently created pid.
    loadavg: Option<std::fs::File>,
    last_pid_seen: Option<u32>,
    /// Membership changed since [`take_changed`](Self::take_changed) was last called.
    changed: bool,
    /// Children files read by the last scan (0 before the first).
    files_last_scan: usize,
}

impl ProcessTree {
    /// A tree rooted at `root`; children of `adopters` also join (a subreaper's orphans).
    /// New members are found the way [`Discovery::detect`] says.
    pub fn new(root: ProcId, adopters: Vec<u32>, exclude: Vec<u32>) -> Self {
        Self::with_discovery(root, adopters, exclude, Discovery::detect())
    }

    /// As [`new`](Self::new), finding new members the way `discovery` says.
    pub fn with_discovery(
        root: ProcId,
        adopters: Vec<u32>,
        exclude: Vec<u32>,
        discovery: Discovery,
    ) -> Self {
        let mut index = HashMap::new();
        index.insert(root.pid, root.starttime);
        let adopter_files = adopters
            .iter()
            .map(|&pid| Member::new(ProcId { pid, starttime: 0 }))
            .collect();
        ProcessTree {
            root,
            adopters,
            adopter_files,
            exclude,
            index,
            members: vec![Member::new(root)],
            discovery,
            scratch: Scratch::default(),
            outside: HashMap::new(),
            listing: Vec::new(),
            lister: None,
            loadavg: None,
            last_pid_seen: None,
            changed: true,
            files_last_scan: 0,
        }
    }

    /// How this tree finds new members.
    pub fn discovery(&self) -> Discovery {
        self.discovery
    }

    /// The root process.
    pub fn root(&self) -> ProcId {
        self.root
    }

    /// Current members.
    pub fn members(&self) -> impl Iterator<Item = ProcId> + '_ {
        self.members.iter().map(|m| m.id)
    }

    /// The `i`-th member, in joining order (the per-tick walk, which may add members
    /// behind itself as it goes).
    pub fn member_at(&self, i: usize) -> Option<ProcId> {
        self.members.get(i).map(|m| m.id)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// No member left.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether membership changed since the last call (so that whoever keeps files per
    /// member closes those of members gone only then, not at every tick).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
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

    /// Whether a process was created anywhere since the last call (always true when
    /// that cannot be told). Read before a scan, so that a process created during it
    /// opens the next one.
    ///
    /// While the last scan read a single children file (one single-threaded member and no
    /// adopter: the usual `--pid` run), the answer is yes without asking: reading
    /// `/proc/loadavg` (formatted by the kernel) costs more than that one empty file.
    fn created_since(&mut self) -> bool {
        if self.files_last_scan == 1 && self.discovery == Discovery::Children {
            return true;
        }
        let last_pid = self.last_pid();
        if last_pid.is_some() && last_pid == self.last_pid_seen {
            return false;
        }
        self.last_pid_seen = last_pid;
        true
    }

    /// Drops members that are gone or whose pid now belongs to another process. Dead
    /// members are otherwise noticed when sampled; whoever needs an exact membership
    /// between ticks (stopping the tree) calls this.
    pub fn prune(&mut self, reader: &mut ProcReader) {
        let before = self.members.len();
        self.members
            .retain(|m| matches!(reader.stat(m.id.pid), Ok(s) if s.starttime == m.id.starttime));
        if self.members.len() != before {
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        self.index.clear();
        for m in &self.members {
            self.index.insert(m.id.pid, m.id.starttime);
        }
        self.changed = true;
    }

    /// Whether `pid` is a member.
    pub fn contains(&self, pid: u32) -> bool {
        self.index.contains_key(&pid)
    }

    /// Never counts `pid` (a helper soak started, e.g. `jcmd`), even as an orphan soak
    /// adopted; drops it if it had joined.
    pub fn exclude(&mut self, pid: u32) {
        if !self.exclude.contains(&pid) {
            self.exclude.push(pid);
        }
        self.forget(pid);
        self.outside.insert(pid, ());
    }

    /// Drops a member that was found gone or replaced.
    pub fn forget(&mut self, pid: u32) {
        if self.index.remove(&pid).is_some() {
            self.members.retain(|m| m.id.pid != pid);
            self.changed = true;
            // Its children are re-parented (to soak, the subreaper) after this tick's
            // scan may have read soak's children: scan at the next tick even if no
            // process was created since, or an orphan could wait for the next fork on
            // the machine to be found.
            self.last_pid_seen = None;
        }
    }

    fn join(&mut self, id: ProcId, joined: &mut Vec<ProcId>) {
        self.index.insert(id.pid, id.starttime);
        self.members.push(Member::new(id));
        self.changed = true;
        joined.push(id);
    }

    /// Adds new descendants; returns the pids that joined. Nothing is read when no
    /// process at all was created since the last look. With the listing fallback,
    /// members that are gone are dropped too; with children files, members whose files
    /// say they are gone are.
    pub fn refresh(&mut self, reader: &mut ProcReader) -> io::Result<Vec<ProcId>> {
        let mut joined = Vec::new();
        if !self.created_since() {
            return Ok(joined);
        }
        match self.discovery {
            Discovery::Listing => self.refresh_listing(reader, &mut joined)?,
            Discovery::Children => {
                self.scratch.files = 0;
                self.scan_adopters(reader, &mut joined)?;
                let mut i = 0;
                while i < self.members.len() {
                    if self.scan_member(i, None, reader, &mut joined)? {
                        i += 1;
                    }
                }
                self.end_scan();
            }
        }
        Ok(joined)
    }

    /// The start of a tick: whether the members' children files are to be read at this
    /// tick ([`scan_member`](Self::scan_member), as each member is sampled). The adopters'
    /// children are read here; with the listing fallback, the whole refresh is done here
    /// and the answer is no.
    pub fn begin_tick(
        &mut self,
        reader: &mut ProcReader,
        joined: &mut Vec<ProcId>,
    ) -> io::Result<bool> {
        if !self.created_since() {
            return Ok(false);
        }
        match self.discovery {
            Discovery::Listing => {
                self.refresh_listing(reader, joined)?;
                Ok(false)
            }
            Discovery::Children => {
                self.scratch.files = 0;
                self.scan_adopters(reader, joined)?;
                Ok(true)
            }
        }
    }

    /// The end of a children scan (a refresh, or a tick's walk that scanned).
    pub fn end_scan(&mut self) {
        self.files_last_scan = self.scratch.files;
    }

    fn scan_adopters(
        &mut self,
        reader: &mut ProcReader,
        joined: &mut Vec<ProcId>,
    ) -> io::Result<()> {
        let mut adopters = std::mem::take(&mut self.adopter_files);
        let mut r = Ok(());
        for a in adopters.iter_mut() {
            // soak's helper threads (log copiers, the collection worker) may spawn too.
            match read_children(a, None, &mut self.scratch) {
                Ok(()) => {}
                Err(e) if gone(&e) => continue,
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
            self.adopt_found(reader, joined)?;
        }
        self.adopter_files = adopters;
        r
    }

    /// Reads the children files of member `i` and adds the new children (and, when they
    /// are sampled later in the same walk, theirs). `threads` is the member's thread
    /// count if it was just read: one thread means only the main thread's file. Returns
    /// false when the member was found gone and dropped (the walk stays at `i`).
    pub fn scan_member(
        &mut self,
        i: usize,
        threads: Option<u64>,
        reader: &mut ProcReader,
        joined: &mut Vec<ProcId>,
    ) -> io::Result<bool> {
        let Some(m) = self.members.get_mut(i) else {
            return Ok(false);
        };
        match read_children(m, threads, &mut self.scratch) {
            Ok(()) => {}
            Err(e) if gone(&e) => {
                let pid = m.id.pid;
                self.forget(pid);
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        self.adopt_found(reader, joined)?;
        Ok(true)
    }

    /// Takes the pids of `scratch.found` that are new: each joins once its `stat`, read
    /// through the descriptor that will sample it, names a member or an adopter as its
    /// parent (a pid that was reused since the children file was read names another).
    fn adopt_found(&mut self, reader: &mut ProcReader, joined: &mut Vec<ProcId>) -> io::Result<()> {
        let mut found = std::mem::take(&mut self.scratch.found);
        let mut r = Ok(());
        for &pid in &found {
            if self.index.contains_key(&pid) || self.exclude.contains(&pid) {
                continue;
            }
            match reader.stat_tracked(pid) {
                Ok(st) => {
                    if self.index.contains_key(&st.ppid) || self.adopters.contains(&st.ppid) {
                        self.join(
                            ProcId {
                                pid,
                                starttime: st.starttime,
                            },
                            joined,
                        );
                    } else {
                        // Its files are closed with the other non-members'.
                        self.changed = true;
                    }
                }
                Err(e) if gone(&e) => {}
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        found.clear();
        self.scratch.found = found;
        r
    }

    /// Lists `/proc`, adds new descendants, drops members that are gone (the fallback).
    fn refresh_listing(
        &mut self,
        reader: &mut ProcReader,
        joined: &mut Vec<ProcId>,
    ) -> io::Result<()> {
        self.listing.clear();
        if self.lister.is_none() {
            self.lister = Some(DirLister::open("/proc")?);
        }
        if self.scratch.dirents.is_empty() {
            self.scratch.dirents = vec![0u8; DIRENTS_BUF];
        }
        if let Some(l) = self.lister.as_mut() {
            l.list(&mut self.scratch.dirents, &mut self.listing)?;
        }
        self.listing.sort_unstable();
        let listing = std::mem::take(&mut self.listing);
        // Forget pids that are gone.
        let alive = |pid: &u32| listing.binary_search(pid).is_ok();
        let before = self.members.len();
        self.members.retain(|m| alive(&m.id.pid));
        if self.members.len() != before {
            self.reindex();
        }
        self.outside.retain(|pid, _| alive(pid));
        let mut fresh: Vec<(u32, Stat)> = Vec::new();
        for &pid in &listing {
            if self.index.contains_key(&pid) || self.outside.contains_key(&pid) {
                continue;
            }
            match reader.stat(pid) {
                Ok(st) => fresh.push((pid, st)),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.listing = listing;
        // Parents usually have lower pids, but wrap-around breaks that; repeat until
        // nothing more joins.
        loop {
            let before = joined.len();
            let mut rest = Vec::with_capacity(fresh.len());
            for (pid, st) in fresh {
                let member = !self.exclude.contains(&pid)
                    && (self.index.contains_key(&st.ppid) || self.adopters.contains(&st.ppid));
                if member {
                    self.join(
                        ProcId {
                            pid,
                            starttime: st.starttime,
                        },
                        joined,
                    );
                } else {
                    rest.push((pid, st));
                }
            }
            fresh = rest;
            if joined.len() == before {
                break;
            }
        }
        for (pid, _) in fresh {
            self.outside.insert(pid, ());
        }
        Ok(())
    }
}

/// Unit tests that start child processes, and those that count this process's tree,
/// take turns: a child of one would be a member of the other's tree.
#[cfg(test)]
pub(crate) static CHILDREN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn me_as_root(r: &mut ProcReader, discovery: Discovery) -> ProcessTree {
        let me = std::process::id();
        let st = r.stat(me).unwrap();
        ProcessTree::with_discovery(
            ProcId {
                pid: me,
                starttime: st.starttime,
            },
            vec![],
            vec![],
            discovery,
        )
    }

    #[test]
    fn last_pid_parses_and_moves_with_forks() {
        assert_eq!(parse_last_pid(b"0.10 0.20 0.30 1/123 4567\n"), Some(4567));
        assert_eq!(parse_last_pid(b"garbage"), None);
        for discovery in [Discovery::Children, Discovery::Listing] {
            let mut r = ProcReader::new(false);
            let mut t = me_as_root(&mut r, discovery);
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
                "{discovery:?}: the new child joins"
            );
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// A child is listed under the thread that forked it: a member's other threads'
    /// files are read too, whether the walk knows the thread count or not.
    #[test]
    fn a_child_forked_by_another_thread_joins() {
        let _turn = crate::workload::CHILDREN_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut child = std::thread::spawn(|| {
            std::process::Command::new("sleep")
                .arg("5")
                .spawn()
                .unwrap()
        })
        .join()
        .unwrap();
        // The forking thread has ended: its child moved to a live thread of this process.
        let mut r = ProcReader::new(false);
        let mut t = me_as_root(&mut r, Discovery::Children);
        let joined = t.refresh(&mut r).unwrap();
        assert!(joined.iter().any(|p| p.pid == child.id()));
        child.kill().unwrap();
        child.wait().unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let forker = std::thread::spawn(move || {
            let c = std::process::Command::new("sleep")
                .arg("5")
                .spawn()
                .unwrap();
            tx.send(c.id()).unwrap();
            // Stay alive, so the child stays listed under this thread.
            done_rx.recv().ok();
            c
        });
        let pid = rx.recv().unwrap();
        let mut r = ProcReader::new(false);
        let mut t = me_as_root(&mut r, Discovery::Children);
        let threads = r.status(std::process::id()).unwrap().threads;
        assert!(threads > 1);
        let mut joined = Vec::new();
        assert!(t.begin_tick(&mut r, &mut joined).unwrap());
        assert!(t
            .scan_member(0, Some(threads), &mut r, &mut joined)
            .unwrap());
        assert!(
            joined.iter().any(|p| p.pid == pid),
            "{joined:?} lacks {pid}"
        );
        done_tx.send(()).unwrap();
        let mut c = forker.join().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }

    #[test]
    fn the_listing_is_forced_by_the_environment_switch() {
        // Only reads the variable: the default on this kernel is the children files.
        if std::env::var_os("SOAK_TREE_DISCOVERY").is_none() {
            let me = std::process::id();
            let has = std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists();
            assert_eq!(
                Discovery::detect(),
                if has {
                    Discovery::Children
                } else {
                    Discovery::Listing
                }
            );
        }
    }
}
