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

    /// Drops a member that was found gone or replaced.
    pub fn forget(&mut self, pid: u32) {
        self.members.remove(&pid);
    }

    /// Lists `/proc`, adds new descendants, drops members that are gone. Returns the
    /// pids that joined.
    pub fn refresh(&mut self, reader: &mut ProcReader) -> io::Result<Vec<ProcId>> {
        self.listing.clear();
        for entry in std::fs::read_dir("/proc")? {
            let entry = entry?;
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            {
                self.listing.push(pid);
            }
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
