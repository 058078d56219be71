//! A process tree as one sample: its members' figures summed, members that ended or
//! whose pid was reused dropped.

use super::procfs::{gone, ProcReader};
use super::Sample;
use crate::workload::tree::{ProcId, ProcessTree};

/// Whether `p` still runs as the same process (not exited, not a zombie, pid not reused).
pub fn alive_as(reader: &mut ProcReader, p: ProcId) -> bool {
    matches!(reader.stat_tracked(p.pid), Ok(s) if s.starttime == p.starttime && s.state != b'Z')
}

/// How many members of the tree still run as themselves.
pub fn live_members(tree: &mut ProcessTree, reader: &mut ProcReader) -> usize {
    let members: Vec<ProcId> = tree.members().collect();
    members.into_iter().filter(|m| alive_as(reader, *m)).count()
}

/// One tick's reading of the tree.
pub struct Tick {
    /// The sample summed over live members.
    pub sample: Sample,
    /// Whether the root itself is still alive as itself (not exited, not a zombie).
    pub root_alive: bool,
    /// Processes that joined the tree at this tick (the guard must learn them).
    pub joined: Vec<ProcId>,
}

/// Refreshes the tree and sums a sample over its live members (public for the
/// benchmarks, which time exactly what a tick does).
///
/// One walk over the members: each is read once (`stat`, `status`, the descriptor
/// count) and, at ticks when a process was created somewhere, its children files are
/// read right after, with the thread count just read (one thread: one file). Children
/// that join are appended to the walk and sampled at this same tick.
pub fn sample_tree(tree: &mut ProcessTree, reader: &mut ProcReader) -> std::io::Result<Tick> {
    let mut joined = Vec::new();
    let scan = tree.begin_tick(reader, &mut joined)?;
    let mut total = Sample::default();
    let root = tree.root();
    let mut root_alive = false;
    let mut i = 0;
    while let Some(m) = tree.member_at(i) {
        let st = match reader.stat_tracked(m.pid) {
            Ok(s) => s,
            Err(e) if gone(&e) => {
                tree.forget(m.pid);
                continue;
            }
            Err(e) => return Err(e),
        };
        if st.starttime != m.starttime {
            // The pid now belongs to another process: never sample it as the target.
            tree.forget(m.pid);
            continue;
        }
        let mut threads = None;
        if st.state != b'Z' {
            if let Some(s) = reader.sample(m.pid, &st)? {
                root_alive |= m == root;
                threads = Some(s.threads);
                total.add(&s);
            }
        }
        if scan && !tree.scan_member(i, threads, reader, &mut joined)? {
            continue;
        }
        i += 1;
    }
    if scan {
        tree.end_scan();
    }
    if tree.take_changed() {
        reader.retain(|pid| tree.contains(pid));
    }
    Ok(Tick {
        sample: total,
        root_alive,
        joined,
    })
}

/// A process tree as a source: refreshed and summed at each read.
pub struct TreeSource {
    /// The tree's membership (stopping the target walks it too).
    pub tree: ProcessTree,
    /// The kept-open procfs reader (the stop and the signal tracing read through it).
    pub reader: ProcReader,
    /// Every pid the tree had at a read (OOM evidence and signal senders are checked
    /// against it).
    pub seen: std::collections::BTreeSet<u32>,
    root_alive: bool,
    joined: Vec<ProcId>,
    heap_seen: bool,
}

impl TreeSource {
    /// A source over `tree`, read through `reader`.
    pub fn new(tree: ProcessTree, reader: ProcReader) -> TreeSource {
        TreeSource {
            seen: std::collections::BTreeSet::from([tree.root().pid]),
            tree,
            reader,
            root_alive: false,
            joined: Vec::new(),
            heap_seen: false,
        }
    }

    /// Whether the root was alive as itself at the last read.
    pub fn root_alive(&self) -> bool {
        self.root_alive
    }

    /// Processes that joined the tree since the last call.
    pub fn take_joined(&mut self) -> Vec<ProcId> {
        std::mem::take(&mut self.joined)
    }
}

impl super::Source for TreeSource {
    /// The tree's sample; `None` when no member is left.
    fn read(&mut self) -> std::io::Result<Option<Sample>> {
        let t = sample_tree(&mut self.tree, &mut self.reader)?;
        self.root_alive = t.root_alive;
        // Every member joined at some read: `seen` grows by the joiners only.
        self.seen.extend(t.joined.iter().map(|j| j.pid));
        self.joined.extend(t.joined);
        self.heap_seen |= t.sample.heap_bytes.is_some();
        if t.sample.processes == 0 {
            return Ok(None);
        }
        Ok(Some(t.sample))
    }

    fn sources(&self) -> std::collections::BTreeMap<String, String> {
        super::procfs::procfs_sources(self.reader.pss, self.heap_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_pid_is_never_sampled_as_the_target() {
        let mut reader = ProcReader::new(false);
        let me = std::process::id();
        let real = reader.stat(me).unwrap().starttime;
        // Same pid, other start time: what a reused pid looks like.
        let ghost = ProcId {
            pid: me,
            starttime: real + 1,
        };
        let mut tree = ProcessTree::new(ghost, vec![], vec![]);
        let t = sample_tree(&mut tree, &mut reader).unwrap();
        assert_eq!(t.sample.processes, 0);
        assert!(!t.root_alive);
        assert!(tree.is_empty(), "the impostor is dropped from the tree");

        let _turn = crate::workload::CHILDREN_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut tree = ProcessTree::new(
            ProcId {
                pid: me,
                starttime: real,
            },
            vec![],
            vec![],
        );
        let t = sample_tree(&mut tree, &mut reader).unwrap();
        assert!(t.root_alive);
        let s = t.sample;
        assert_eq!(s.processes, 1);
        assert!(s.rss_bytes > 0 && s.threads >= 1);
    }
}
