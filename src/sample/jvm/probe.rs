//! Finding the JVMs among a tree's processes and following them: a process is a JVM
//! when its perf-data file exists, found through the target's own root
//! (`/proc/PID/root/tmp/hsperfdata_*/NSPID`, NSpid from `/proc/PID/status`), so
//! containers and systemd's PrivateTmp work.

use super::perfdata::{figures, parse, read_whole};
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The pid a process has in its own pid namespace (last field of `NSpid:`), from
/// `/proc/PID/status` text.
pub fn parse_nspid(status: &[u8]) -> Option<u32> {
    let line = status
        .split(|&c| c == b'\n')
        .find(|l| l.starts_with(b"NSpid:"))?;
    std::str::from_utf8(&line[6..])
        .ok()?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// The pid of `pid` in its own namespace (itself when the kernel does not say).
pub fn nspid(pid: u32) -> u32 {
    std::fs::read(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| parse_nspid(&s))
        .unwrap_or(pid)
}

/// Finds the perf-data file of `pid`: `/proc/PID/root/tmp/hsperfdata_*/NSPID`, with
/// `pid`'s own namespace pid (see [`nspid`]). That pid is read only once an
/// `hsperfdata_*` folder exists: most processes probed are not JVMs, and their status
/// was read this tick already.
pub fn locate(pid: u32) -> Option<(PathBuf, u32)> {
    let tmp = PathBuf::from(format!("/proc/{pid}/root/tmp"));
    let mut ns = None;
    for e in std::fs::read_dir(&tmp).ok()?.flatten() {
        if !e.file_name().as_encoded_bytes().starts_with(b"hsperfdata_") {
            continue;
        }
        let n = *ns.get_or_insert_with(|| nspid(pid));
        let p = e.path().join(n.to_string());
        if p.is_file() {
            return Some((p, n));
        }
    }
    None
}

/// One JVM being followed.
struct Jvm {
    starttime: u64,
    file: File,
    nspid: u32,
    last_full: Option<u64>,
    after_gc: Option<u64>,
}

/// A process not (yet) known to be a JVM: when it was last probed.
struct Probe {
    starttime: u64,
    last: Instant,
}

/// A JVM's figures for one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JvmSample {
    /// Used heap, bytes.
    pub used_bytes: u64,
    /// Used heap after the last full collection, once one was seen.
    pub after_gc_bytes: Option<u64>,
}

/// A JVM of the tree, for the report and for forced collections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JvmSeen {
    /// Host pid.
    pub pid: u32,
    /// Pid in its own namespace.
    pub nspid: u32,
    /// The collector (`G1`, `Parallel`, `Serial`, …).
    pub collector: String,
    /// VM version, when published.
    pub vm_version: Option<String>,
    /// Full collections so far.
    pub full_gcs: u64,
    /// Young collections so far.
    pub young_gcs: u64,
}

/// Follows the JVMs among a tree's processes: finds their perf data, reads it each
/// tick, and keeps the after-collection figure.
#[derive(Default)]
pub struct JvmReader {
    jvms: HashMap<u32, Jvm>,
    probes: HashMap<u32, Probe>,
    /// Every JVM seen during the run, with its latest figures (kept after it ends).
    ever: std::collections::BTreeMap<u32, JvmSeen>,
    buf: Vec<u8>,
}

/// A process is probed for perf data when first seen, then every [`PROBE_YOUNG`] while
/// it is younger than [`PROBE_EAGER`] by its own start time (a JVM creates the file as
/// it starts), then every [`PROBE_EVERY`] (a program may exec into java later). A probe
/// lists the process's `/tmp` (tens of microseconds), so it is kept off most ticks: at
/// 10 Hz, probing every tick of an attached process's first seconds cost soak more CPU
/// than sampling it.
const PROBE_EAGER: Duration = Duration::from_secs(10);
const PROBE_YOUNG: Duration = Duration::from_millis(500);
const PROBE_EVERY: Duration = Duration::from_secs(10);

/// How long ago a process started, from its start time (clock ticks after boot).
fn age(starttime: u64) -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only to `now`.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) } != 0 {
        return None;
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let tps = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if tps <= 0 {
        return None;
    }
    let started = Duration::from_secs_f64(starttime as f64 / tps as f64);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32).checked_sub(started)
}

impl JvmReader {
    /// A reader following no JVM yet.
    pub fn new() -> JvmReader {
        JvmReader {
            buf: Vec::with_capacity(64 * 1024),
            ..JvmReader::default()
        }
    }

    /// The figures of `pid` (identified with its start time) if it is a JVM.
    pub fn read(&mut self, pid: u32, starttime: u64) -> Option<JvmSample> {
        if self
            .jvms
            .get(&pid)
            .is_some_and(|j| j.starttime != starttime)
        {
            self.jvms.remove(&pid);
        }
        if !self.jvms.contains_key(&pid) {
            self.probe(pid, starttime)?;
        }
        let j = self.jvms.get_mut(&pid)?;
        if read_whole(&j.file, &mut self.buf).is_err() {
            self.jvms.remove(&pid);
            return None;
        }
        let f = figures(&parse(&self.buf).ok()?)?;
        match j.last_full {
            // First sight: the old generation is the full collection's result only if
            // no young collection ran since.
            None if f.full_gc_is_latest => j.after_gc = Some(f.old_and_survivors_bytes),
            Some(n) if n != f.full_gcs => j.after_gc = Some(f.old_and_survivors_bytes),
            _ => {}
        }
        j.last_full = Some(f.full_gcs);
        match self.ever.get_mut(&pid) {
            Some(e) => (e.full_gcs, e.young_gcs) = (f.full_gcs, f.young_gcs),
            None => {
                self.ever.insert(
                    pid,
                    JvmSeen {
                        pid,
                        nspid: j.nspid,
                        collector: f.collector.clone(),
                        vm_version: f.vm_version.clone(),
                        full_gcs: f.full_gcs,
                        young_gcs: f.young_gcs,
                    },
                );
            }
        }
        let s = JvmSample {
            used_bytes: f.used_bytes,
            after_gc_bytes: j.after_gc,
        };
        Some(s)
    }

    /// Looks for the perf-data file of a process not yet known as a JVM (on the
    /// schedule of [`PROBE_EAGER`] and [`PROBE_EVERY`]).
    fn probe(&mut self, pid: u32, starttime: u64) -> Option<()> {
        let now = Instant::now();
        match self.probes.get_mut(&pid) {
            Some(p) if p.starttime == starttime => {
                let since = now.duration_since(p.last);
                if since < PROBE_YOUNG
                    || (since < PROBE_EVERY && age(starttime).is_none_or(|a| a >= PROBE_EAGER))
                {
                    return None;
                }
                p.last = now;
            }
            _ => {
                self.probes.insert(
                    pid,
                    Probe {
                        starttime,
                        last: now,
                    },
                );
            }
        }
        let (path, ns) = locate(pid)?;
        let file = File::open(path).ok()?;
        self.probes.remove(&pid);
        self.jvms.insert(
            pid,
            Jvm {
                starttime,
                file,
                nspid: ns,
                last_full: None,
                after_gc: None,
            },
        );
        Some(())
    }

    /// Forgets processes no longer tracked.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.jvms.retain(|pid, _| keep(*pid));
        self.probes.retain(|pid, _| keep(*pid));
    }

    /// Every JVM seen during the run (by pid), with its latest figures.
    pub fn seen(&self) -> Vec<JvmSeen> {
        self.ever.values().cloned().collect()
    }

    /// The JVMs followed now: (host pid, pid in its namespace).
    pub fn live(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.jvms.iter().map(|(&p, j)| (p, j.nspid)).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nspid_is_the_innermost() {
        assert_eq!(
            parse_nspid(b"Name:\tjava\nNSpid:\t4242\t7\nThreads:\t9\n"),
            Some(7)
        );
        assert_eq!(parse_nspid(b"NSpid:\t99\n"), Some(99));
        assert_eq!(parse_nspid(b"Name:\tx\n"), None);
        assert_eq!(nspid(std::process::id()), std::process::id());
    }

    #[test]
    fn a_process_without_perf_data_is_not_a_jvm() {
        let mut r = JvmReader::new();
        let me = std::process::id();
        assert_eq!(r.read(me, 1), None);
        assert!(r.seen().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_status_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_nspid(&b);
        }
    }
}
