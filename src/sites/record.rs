//! Each allocation site's sampled live bytes over time, read from the heap shim's
//! `PID.sites` tables while the run goes on: sites are series too, judged at the end by
//! the same engine as the timeline (`sites::judge`).
//!
//! A site is keyed by where its frames lie (file and offset, located with the process's
//! `/proc/PID/maps` when the site first appears, while the process lives), so the same
//! call stack in two processes of the tree — a fork's children, or a program run twice —
//! is one series, and a library loaded at different addresses still matches.

use super::maps::{Location, Maps};
use crate::sample::sites::{read_sites, SiteTable, Unwinder};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Snapshots kept before every other one is dropped (and the spacing doubles): bounds
/// memory over a day-long run while keeping at least this many points to fit.
const MAX_POINTS: usize = 1024;

/// What one process's table said, for the report's notes.
#[derive(Debug, Clone, PartialEq)]
pub struct TableFacts {
    /// Mean sampling period, bytes.
    pub period: u64,
    /// How its stacks were unwound.
    pub unwinder: Unwinder,
    /// Sampled allocations.
    pub samples: u64,
    /// Samples the shim could not keep (its tables were full).
    pub dropped: u64,
    /// Some thread's period was coarsened by the shim's rate cap.
    pub throttled: bool,
}

/// One site's series, aligned with [`SiteEvidence::times`].
#[derive(Debug, Clone)]
pub struct SiteSeries {
    /// Where its frames lie, innermost first.
    pub locations: Vec<Location>,
    /// Estimated live bytes at each snapshot (summed over the tree's processes).
    pub bytes: Vec<f64>,
    /// Estimated live blocks at the last snapshot.
    pub blocks_last: f64,
    /// Sampled blocks still live at the last snapshot (not weighted): how many samples
    /// the site's figures rest on.
    pub sampled_last: f64,
}

/// One site's sums over the tree at one snapshot.
#[derive(Debug, Clone, Copy, Default)]
struct Snapshot {
    bytes: f64,
    blocks: f64,
    sampled: f64,
}

/// Everything recorded, for the judge.
#[derive(Debug, Clone, Default)]
pub struct SiteEvidence {
    /// Seconds since the run's start of each snapshot.
    pub times: Vec<f64>,
    /// One series per site.
    pub sites: Vec<SiteSeries>,
    /// Each process's table (by pid), as last read.
    pub tables: BTreeMap<u32, TableFacts>,
}

/// Reads the tables at the run's ticks (at most about once a second) and keeps the series.
#[derive(Debug)]
pub struct SiteRecorder {
    dir: PathBuf,
    /// Record every `stride`-th call.
    stride: u64,
    calls: u64,
    evidence: SiteEvidence,
    /// Location key → index into `evidence.sites`.
    ids: HashMap<Vec<Location>, usize>,
    /// (pid, table's created_ns, record number) → index into `evidence.sites`.
    known: HashMap<(u32, u64, u32), usize>,
}

impl SiteRecorder {
    /// A recorder of the tables in `dir` (the heap shim's counters folder), called every
    /// `interval_s`: it snapshots about once a second, since a site's growth is judged
    /// over minutes and each snapshot reads every table.
    pub fn new(dir: &Path, interval_s: f64) -> SiteRecorder {
        let stride = if interval_s > 0.0 && interval_s < 1.0 {
            (1.0 / interval_s).round().max(1.0) as u64
        } else {
            1
        };
        SiteRecorder {
            dir: dir.to_path_buf(),
            stride,
            calls: 0,
            evidence: SiteEvidence::default(),
            ids: HashMap::new(),
            known: HashMap::new(),
        }
    }

    /// Called at each tick with the tree's live processes.
    pub fn record(&mut self, elapsed_s: f64, pids: impl IntoIterator<Item = u32>) {
        self.calls += 1;
        if !(self.calls - 1).is_multiple_of(self.stride) {
            return;
        }
        let mut now: HashMap<usize, Snapshot> = HashMap::new();
        let mut live = std::collections::HashSet::new();
        for pid in pids {
            live.insert(pid);
            // A process without a table (not yet published, exec'd into a static
            // program, gone since the listing) has no sampled blocks to add.
            let Ok(Some(table)) = read_sites(&self.dir, pid) else {
                continue;
            };
            if table.pid != pid {
                continue;
            }
            self.take(pid, &table, &mut now);
        }
        // The records of processes gone from the tree are never read again: without
        // this, a target that starts processes all day grows this map without bound.
        self.known.retain(|(pid, _, _), _| live.contains(pid));
        let n = self.evidence.times.len();
        self.evidence.times.push(elapsed_s);
        for (id, site) in self.evidence.sites.iter_mut().enumerate() {
            let got = now.get(&id).copied().unwrap_or_default();
            site.bytes.resize(n, 0.0);
            site.bytes.push(got.bytes);
            site.blocks_last = got.blocks;
            site.sampled_last = got.sampled;
        }
        if self.evidence.times.len() >= 2 * MAX_POINTS {
            self.thin();
        }
    }

    /// Adds one process's table to this snapshot's sums, locating its new sites.
    fn take(&mut self, pid: u32, table: &SiteTable, now: &mut HashMap<usize, Snapshot>) {
        self.evidence.tables.insert(
            pid,
            TableFacts {
                period: table.period,
                unwinder: table.unwinder,
                samples: table.samples,
                dropped: table.dropped,
                throttled: table.throttled,
            },
        );
        // The maps are read at most once per process per snapshot, and only when a new
        // site appears: that is when a library loaded since may hold its frames.
        let mut maps: Option<Maps> = None;
        for site in &table.sites {
            let key = (pid, table.created_ns, site.index);
            let id = match self.known.get(&key) {
                Some(&id) => id,
                None => {
                    if maps.is_none() {
                        match Maps::read(pid) {
                            Ok(m) => maps = Some(m),
                            // Gone since the listing: its sites are read next time, if
                            // it is back (it is not).
                            Err(_) => return,
                        }
                    }
                    let Some(m) = maps.as_ref() else { return };
                    let locations: Vec<Location> = site
                        .frames
                        .iter()
                        .map(|&a| key_location(m.locate(a)))
                        .collect();
                    let id = self.id_of(locations);
                    self.known.insert(key, id);
                    id
                }
            };
            let e = now.entry(id).or_default();
            e.bytes += site.live_bytes as f64;
            e.blocks += site.live_blocks;
            e.sampled += site.allocs.saturating_sub(site.frees) as f64;
        }
    }

    fn id_of(&mut self, locations: Vec<Location>) -> usize {
        if let Some(&id) = self.ids.get(&locations) {
            return id;
        }
        let id = self.evidence.sites.len();
        self.evidence.sites.push(SiteSeries {
            locations: locations.clone(),
            bytes: Vec::new(),
            blocks_last: 0.0,
            sampled_last: 0.0,
        });
        self.ids.insert(locations, id);
        id
    }

    /// Keeps every other snapshot and doubles the spacing from now on.
    fn thin(&mut self) {
        fn halve(v: &mut Vec<f64>) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
        halve(&mut self.evidence.times);
        for s in &mut self.evidence.sites {
            halve(&mut s.bytes);
        }
        self.stride *= 2;
    }

    /// The series recorded; sites absent at the last snapshots read 0 there.
    pub fn finish(mut self) -> SiteEvidence {
        let n = self.evidence.times.len();
        for s in &mut self.evidence.sites {
            s.bytes.resize(n, 0.0);
        }
        self.evidence
    }
}

/// A location as a key: the same file seen through another process's root
/// (`/proc/PID/root/...`) is the same file.
fn key_location(l: Location) -> Location {
    match l {
        Location::File { path, file_offset } => Location::File {
            path: strip_proc_root(&path),
            file_offset,
        },
        other => other,
    }
}

fn strip_proc_root(path: &Path) -> PathBuf {
    let mut parts = path.components();
    let head: Vec<_> = parts.by_ref().take(4).collect();
    let is_root = head.len() == 4
        && head[1].as_os_str() == "proc"
        && head[2]
            .as_os_str()
            .to_str()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        && head[3].as_os_str() == "root";
    if is_root {
        Path::new("/").join(parts.as_path())
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_through_a_process_root_is_the_plain_path() {
        assert_eq!(
            strip_proc_root(Path::new("/proc/42/root/usr/lib/libc.so.6")),
            PathBuf::from("/usr/lib/libc.so.6")
        );
        assert_eq!(
            strip_proc_root(Path::new("/proc/self/root/x")),
            PathBuf::from("/proc/self/root/x")
        );
        assert_eq!(
            strip_proc_root(Path::new("/usr/bin/redis-server")),
            PathBuf::from("/usr/bin/redis-server")
        );
    }

    #[test]
    fn thinning_keeps_every_other_snapshot_and_doubles_the_stride() {
        let dir = tempfile_dir();
        let mut r = SiteRecorder::new(&dir, 1.0);
        r.evidence.sites.push(SiteSeries {
            locations: vec![],
            bytes: vec![],
            blocks_last: 0.0,
            sampled_last: 0.0,
        });
        for i in 0..(2 * MAX_POINTS) {
            r.record(i as f64, std::iter::empty());
        }
        let e = r.finish();
        assert_eq!(e.times.len(), MAX_POINTS);
        assert_eq!(e.times[1], 2.0);
        assert_eq!(e.sites[0].bytes.len(), MAX_POINTS);
    }

    #[test]
    fn short_intervals_snapshot_about_once_a_second() {
        let dir = tempfile_dir();
        let mut r = SiteRecorder::new(&dir, 0.1);
        for i in 0..100 {
            r.record(i as f64 / 10.0, std::iter::empty());
        }
        assert_eq!(r.finish().times.len(), 10);
    }

    #[test]
    fn records_of_processes_gone_from_the_tree_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // A table of this process with one ready site.
        let mut b = Vec::new();
        b.extend(0x4554_4953_4b41_4f53u64.to_ne_bytes());
        b.extend(1u32.to_ne_bytes());
        b.extend(me.to_ne_bytes());
        b.extend(65_536u64.to_ne_bytes());
        b.extend(4096u32.to_ne_bytes());
        b.extend(1u32.to_ne_bytes()); // used
        b.extend(32u32.to_ne_bytes());
        b.extend(1u32.to_ne_bytes()); // flags: eh
        b.extend([0u8; 24]);
        let mut r = Vec::new();
        r.extend(7u64.to_ne_bytes());
        r.extend(1u32.to_ne_bytes()); // nframes
        r.extend(1u32.to_ne_bytes()); // ready
        r.extend(4096i64.to_ne_bytes());
        r.extend(1000i64.to_ne_bytes());
        r.resize(64, 0);
        r.extend(0x1000u64.to_ne_bytes()); // a frame outside every mapping: still a site
        r.resize(320, 0);
        b.extend(r);
        std::fs::write(crate::sample::sites::sites_path(dir.path(), me), &b).unwrap();
        let mut rec = SiteRecorder::new(dir.path(), 1.0);
        rec.record(0.0, [me]);
        assert_eq!(rec.known.len(), 1);
        rec.record(1.0, std::iter::empty());
        assert!(rec.known.is_empty(), "a process gone from the tree");
        let e = rec.finish();
        assert_eq!(e.sites.len(), 1, "its series stays");
        assert_eq!(e.sites[0].bytes, vec![4096.0, 0.0]);
    }

    fn tempfile_dir() -> PathBuf {
        std::env::temp_dir().join(format!("soak-sites-record-{}", std::process::id()))
    }
}
