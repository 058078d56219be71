//! The procfs source: `/proc/PID/stat`, `/proc/PID/status`, `/proc/PID/fd` and, with
//! `--pss`, `/proc/PID/smaps_rollup`. Parsers take byte slices so tests feed fixtures.
//!
//! Reads reuse one buffer and keep each tracked process's files open between ticks: a
//! sample of one process is a `pread` of `stat`, a `pread` of `status` and an `fstat`
//! of `/proc/PID/fd`. A kept-open procfs file stays bound to the process it was opened
//! for: once that process is gone it reads ESRCH (ENOENT for the directory), even if
//! its pid was reused, so a reused pid is never read through it.
//!
//! Why not the `procfs` crate here: it opens, reads and parses every file on each call
//! and allocates its structs, which measured 4.9× the cost of a raw read of
//! `/proc/PID/status` per sample against 1.4× for this kept-open `pread` reader
//! (benches/sample_cost.rs). The crate serves the paths that run once per run: attaching
//! to a pid, naming a signal's sender, a runtime's executable.

use super::{Col, Sample};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;

/// The fields of `/proc/PID/stat` soak uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Process state letter (R, S, D, Z, …).
    pub state: u8,
    /// Parent pid.
    pub ppid: u32,
    /// Process group.
    pub pgrp: i32,
    /// User CPU, clock ticks.
    pub utime: u64,
    /// System CPU, clock ticks.
    pub stime: u64,
    /// User CPU of waited-for children, clock ticks.
    pub cutime: u64,
    /// System CPU of waited-for children, clock ticks.
    pub cstime: u64,
    /// Start time after boot, clock ticks: with the pid, identifies a process.
    pub starttime: u64,
    /// Where the executable's text starts and ends (0 when hidden): changes at exec.
    pub startcode: u64,
    /// See `startcode`.
    pub endcode: u64,
}

/// Parses `/proc/PID/stat`. The command name may hold spaces and parentheses, so
/// fields are counted after the last `)`.
pub fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let close = bytes.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    let mut f = rest.split_ascii_whitespace();
    let state = *f.next()?.as_bytes().first()?;
    let mut nums = [0u64; 24];
    // Fields 4..=27 of proc(5): ppid .. starttime .. endcode (rsslim may be 2^64 - 1).
    for (i, slot) in nums.iter_mut().enumerate() {
        let Some(v) = f.next() else {
            // Kernels print every field; a short line still yields the first 19.
            if i >= 19 {
                break;
            }
            return None;
        };
        *slot = v
            .parse::<u64>()
            .or_else(|_| v.parse::<i64>().map(|x| x as u64))
            .ok()?;
    }
    Some(Stat {
        state,
        ppid: nums[0] as u32,
        pgrp: nums[1] as i64 as i32,
        utime: nums[10],
        stime: nums[11],
        cutime: nums[12],
        cstime: nums[13],
        starttime: nums[18],
        startcode: nums[22],
        endcode: nums[23],
    })
}

/// The fields of `/proc/PID/status` soak uses, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// VmRSS.
    pub rss: u64,
    /// RssAnon.
    pub anon: u64,
    /// RssFile.
    pub file: u64,
    /// RssShmem.
    pub shmem: u64,
    /// VmSwap.
    pub swap: u64,
    /// Threads.
    pub threads: u64,
    /// VmSize.
    pub vms: u64,
}

/// Parses `/proc/PID/status` (values in kB become bytes). Stops at `Threads:`, the
/// last of its keys in the kernel's order (the signal masks and CPU lists after it are
/// most of the text); a text in another order is read to its end.
pub fn parse_status(bytes: &[u8]) -> Status {
    let mut s = Status::default();
    let mut found = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if found == 7 {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        let slot = match key {
            b"VmRSS" => &mut s.rss,
            b"RssAnon" => &mut s.anon,
            b"RssFile" => &mut s.file,
            b"RssShmem" => &mut s.shmem,
            b"VmSwap" => &mut s.swap,
            b"Threads" => &mut s.threads,
            b"VmSize" => &mut s.vms,
            _ => continue,
        };
        let v = leading_number(&line[colon + 1..]);
        *slot = if key == b"Threads" { v } else { v * 1024 };
        found += 1;
    }
    s
}

fn leading_number(b: &[u8]) -> u64 {
    let mut v: u64 = 0;
    let mut seen = false;
    for &c in b {
        if c.is_ascii_digit() {
            v = v.saturating_mul(10).saturating_add((c - b'0') as u64);
            seen = true;
        } else if seen {
            break;
        }
    }
    v
}

/// Parses the `Pss:` line of `/proc/PID/smaps_rollup`, in bytes.
pub fn parse_smaps_rollup_pss(bytes: &[u8]) -> Option<u64> {
    bytes
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"Pss:"))
        .map(|l| leading_number(&l[4..]) * 1024)
}

/// `stat` and `status` of one process, kept open between ticks: re-reading an open
/// procfs file from offset 0 skips the path lookup, open and close that dominate the
/// cost of a sample.
struct OpenProc {
    stat: File,
    status: File,
    /// `/proc/PID/fd`, opened `O_PATH` (no read permission needed, as for a `stat` of
    /// the path): its size is the descriptor count.
    fd_dir: File,
}

/// Reads procfs files for one process at a time with a reused buffer.
pub struct ProcReader {
    buf: Vec<u8>,
    path: String,
    open: std::collections::HashMap<u32, OpenProc>,
    /// Clock ticks per second (for CPU times).
    pub ticks_per_second: f64,
    /// Whether to read PSS.
    pub pss: bool,
    /// The heap shim's segments, when soak injected it.
    heap: Option<super::heap::HeapReader>,
    /// Processes sampled without heap counters since this was last taken (the shim did
    /// not load in them).
    heap_missing: u64,
    /// Processes that had no heap counters at the last sample. A process is counted as
    /// missing only at its second sample without: one caught between fork (or vfork)
    /// and exec has none yet, for a moment.
    heap_missing_before: std::collections::HashSet<u32>,
    /// The runtimes' own heaps (JVM perf data, Node's preload), when a run reads them.
    runtime: Option<super::runtime::RuntimeReader>,
    /// Processes whose `smaps_rollup` could not be read (other than for having exited):
    /// their PSS is left out of the sum, the run goes on (at most [`PSS_UNREADABLE_CAP`]).
    pub pss_unreadable: std::collections::BTreeSet<u32>,
    /// The first such failure: the file and the error.
    pub pss_first_error: Option<String>,
}

/// How many unreadable PSS processes are remembered by pid.
pub const PSS_UNREADABLE_CAP: usize = 10_000;

impl Default for ProcReader {
    fn default() -> Self {
        Self::new(false)
    }
}

impl ProcReader {
    /// Processes at their second sample in a row without heap counters since the last
    /// call (a first sample without them may precede the exec that loads the shim).
    pub fn take_heap_missing(&mut self) -> u64 {
        std::mem::take(&mut self.heap_missing)
    }

    /// A reader; `pss` also reads `smaps_rollup` (costly on large processes).
    pub fn new(pss: bool) -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let tps = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ProcReader {
            buf: Vec::with_capacity(4096),
            path: String::with_capacity(32),
            open: std::collections::HashMap::new(),
            ticks_per_second: if tps > 0 { tps as f64 } else { 100.0 },
            pss,
            heap: None,
            heap_missing: 0,
            heap_missing_before: std::collections::HashSet::new(),
            runtime: None,
            pss_unreadable: std::collections::BTreeSet::new(),
            pss_first_error: None,
        }
    }

    /// Also reads each process's live heap from the shim's segments.
    pub fn with_heap(mut self, heap: super::heap::HeapReader) -> Self {
        self.heap = Some(heap);
        self
    }

    /// The heap shim's reader, when heap counting is on.
    pub fn heap(&self) -> Option<&super::heap::HeapReader> {
        self.heap.as_ref()
    }

    /// Also reads each process's runtime heap (a JVM's perf data, a node process's
    /// preload file).
    pub fn with_runtime(mut self, runtime: super::runtime::RuntimeReader) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The runtime-heap reader, when there is one.
    pub fn runtime(&self) -> Option<&super::runtime::RuntimeReader> {
        self.runtime.as_ref()
    }

    /// Reads a file of an untracked process (open, `pread`, close: no size probing).
    fn read(&mut self, pid: u32, file: &str) -> io::Result<&[u8]> {
        use std::fmt::Write;
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{file}");
        let f = File::open(&self.path)?;
        let n = pread_whole(&f, &mut self.buf, 4096)?;
        Ok(&self.buf[..n])
    }

    /// Reads and parses `/proc/PID/stat`.
    pub fn stat(&mut self, pid: u32) -> io::Result<Stat> {
        let b = self.read(pid, "stat")?;
        parse_stat(b).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable stat"))
    }

    /// Reads and parses `/proc/PID/status`.
    pub fn status(&mut self, pid: u32) -> io::Result<Status> {
        Ok(parse_status(self.read(pid, "status")?))
    }

    /// Counts open descriptors. Since Linux 6.2 the size of `/proc/PID/fd` is the count
    /// (one `stat` call); older kernels report 0 there, and the directory is listed.
    pub fn fd_count(&mut self, pid: u32) -> io::Result<u64> {
        use std::fmt::Write;
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/fd");
        let size = std::fs::metadata(&self.path)?.len();
        if size > 0 {
            return Ok(size);
        }
        Ok(std::fs::read_dir(&self.path)?.count() as u64)
    }

    /// [`fd_count`](Self::fd_count) of a tracked process: an `fstat` of its kept-open
    /// `/proc/PID/fd` (no path lookup).
    fn fd_count_tracked(&mut self, pid: u32) -> io::Result<u64> {
        let Some(o) = self.open.get(&pid) else {
            return self.fd_count(pid);
        };
        match o.fd_dir.metadata() {
            Ok(m) if m.len() > 0 => Ok(m.len()),
            Ok(_) => self.fd_count(pid),
            Err(e) => {
                self.open.remove(&pid);
                Err(e)
            }
        }
    }

    fn open_files(&mut self, pid: u32) -> io::Result<&OpenProc> {
        use std::collections::hash_map::Entry;
        use std::os::unix::fs::OpenOptionsExt;
        match self.open.entry(pid) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let stat = File::open(format!("/proc/{pid}/stat"))?;
                let status = File::open(format!("/proc/{pid}/status"))?;
                let fd_dir = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                    .open(format!("/proc/{pid}/fd"))?;
                Ok(v.insert(OpenProc {
                    stat,
                    status,
                    fd_dir,
                }))
            }
        }
    }

    /// `stat` of a tracked process through its kept-open file (a file kept open per process).
    pub fn stat_tracked(&mut self, pid: u32) -> io::Result<Stat> {
        self.open_files(pid)?;
        let mut buf = std::mem::take(&mut self.buf);
        let r = match self.open.get(&pid) {
            Some(o) => pread_whole(&o.stat, &mut buf, 4096).and_then(|n| {
                parse_stat(&buf[..n])
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable stat"))
            }),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "not cached")),
        };
        self.buf = buf;
        if r.is_err() {
            self.open.remove(&pid);
        }
        r
    }

    fn status_tracked(&mut self, pid: u32) -> io::Result<Status> {
        let Some(o) = self.open.get(&pid) else {
            return self.status(pid);
        };
        let r = pread_whole(&o.status, &mut self.buf, 4096).map(|n| parse_status(&self.buf[..n]));
        if r.is_err() {
            self.open.remove(&pid);
        }
        r
    }

    /// Closes the kept-open files of processes no longer tracked.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.open.retain(|pid, _| keep(*pid));
        self.heap_missing_before.retain(|pid| keep(*pid));
        if let Some(h) = self.heap.as_mut() {
            h.retain(&keep);
        }
        if let Some(r) = self.runtime.as_mut() {
            r.retain(&keep);
        }
    }

    /// Reads PSS from `smaps_rollup`.
    pub fn pss(&mut self, pid: u32) -> io::Result<Option<u64>> {
        Ok(parse_smaps_rollup_pss(self.read(pid, "smaps_rollup")?))
    }

    /// Samples one process whose `stat` was already read. A process that vanished
    /// mid-read is `Ok(None)`, not an error: processes come and go.
    pub fn sample(&mut self, pid: u32, stat: &Stat) -> io::Result<Option<Sample>> {
        let st = match self.status_tracked(pid) {
            Ok(s) => s,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let fds = match self.fd_count_tracked(pid) {
            Ok(n) => n,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let pss = if self.pss && !self.pss_unreadable.contains(&pid) {
            match self.pss(pid) {
                Ok(p) => p,
                Err(e) if gone(&e) => return Ok(None),
                // One member's unreadable PSS (a non-dumpable or setuid process, another
                // user's) costs that member's PSS, never the run.
                Err(e) => {
                    if self.pss_first_error.is_none() {
                        self.pss_first_error = Some(format!("/proc/{pid}/smaps_rollup: {e}"));
                    }
                    if self.pss_unreadable.len() < PSS_UNREADABLE_CAP {
                        self.pss_unreadable.insert(pid);
                    }
                    None
                }
            }
        } else {
            None
        };
        let heap = match self.heap.as_mut() {
            Some(h) => {
                let v = h.live_bytes(pid, stat.starttime, (stat.startcode, stat.endcode));
                if v.is_none() {
                    let again = !self.heap_missing_before.insert(pid);
                    self.heap_missing += u64::from(again);
                } else {
                    self.heap_missing_before.remove(&pid);
                }
                v
            }
            None => None,
        };
        let runtime = self
            .runtime
            .as_mut()
            .and_then(|r| r.read(pid, stat.starttime));
        let ticks = stat.utime + stat.stime + stat.cutime + stat.cstime;
        Ok(Some(Sample {
            rss_bytes: st.rss,
            vms_bytes: st.vms,
            anon_bytes: st.anon,
            file_bytes: st.file,
            shmem_bytes: st.shmem,
            swap_bytes: st.swap,
            heap_bytes: heap,
            pss_bytes: pss,
            threads: st.threads,
            fds,
            cpu_s: ticks as f64 / self.ticks_per_second,
            processes: 1,
            runtime_heap_bytes: runtime.map(|r| r.heap_bytes),
            runtime_heap_after_gc_bytes: runtime.and_then(|r| r.after_gc_bytes),
            ..Sample::default()
        }))
    }
}

/// The process exited between listing and reading (ENOENT, ESRCH).
pub fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

/// Reads a whole procfs file from offset 0 into `buf` and returns its length: one
/// `pread` when the text fits (a procfs read that returns less than asked has returned
/// it all), so a tick reads each file once. The buffer starts at `initial` bytes, stays
/// at its full length and is zeroed only when it grows: zeroing 4 KiB before every read
/// cost more instructions than parsing what was read.
pub(crate) fn pread_whole(f: &File, buf: &mut Vec<u8>, initial: usize) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    if buf.len() < initial {
        buf.resize(initial, 0);
    }
    let mut off = 0usize;
    loop {
        let n = f.read_at(&mut buf[off..], off as u64)?;
        off += n;
        if n == 0 || off < buf.len() {
            return Ok(off);
        }
        let len = buf.len();
        buf.resize(len * 2, 0);
    }
}

/// Where a process run's columns come from, for the report.
pub fn procfs_sources(pss: bool, heap: bool) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let tree = "summed over the target and its descendants";
    for (col, src) in [
        (Col::Rss, "/proc/PID/status VmRSS"),
        (Col::Anon, "/proc/PID/status RssAnon"),
        (Col::File, "/proc/PID/status RssFile"),
        (Col::Shmem, "/proc/PID/status RssShmem"),
        (Col::Swap, "/proc/PID/status VmSwap"),
        (Col::Threads, "/proc/PID/status Threads"),
        (Col::Vms, "/proc/PID/status VmSize"),
        (Col::Fds, "entries of /proc/PID/fd"),
        (Col::Cpu, "/proc/PID/stat utime+stime+cutime+cstime"),
    ] {
        m.insert(col.name().to_string(), format!("{src}, {tree}"));
    }
    m.insert(
        Col::Processes.name().into(),
        "live (non-zombie) processes in the tree".into(),
    );
    m.insert(
        Col::Heap.name().into(),
        if heap {
            format!("LD_PRELOAD shim counting malloc/calloc/realloc/free/memalign/posix_memalign/aligned_alloc (malloc_usable_size), published in shared memory, {tree}")
        } else {
            "not sampled (no heap counters: see the notes)".into()
        },
    );
    m.insert(
        Col::Pss.name().into(),
        if pss {
            format!("/proc/PID/smaps_rollup Pss, {tree}")
        } else {
            "not sampled (use --pss)".into()
        },
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAT: &[u8] = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 7 3 20 0 4 0 123456 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fixture() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4242);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (150, 25, 7, 3));
        assert_eq!(s.starttime, 123456);
    }

    #[test]
    fn status_fixture() {
        let b = b"Name:\tcat\nVmSize:\t    8192 kB\nVmRSS:\t    2048 kB\nRssAnon:\t     100 kB\nRssFile:\t    1900 kB\nRssShmem:\t       48 kB\nVmSwap:\t       0 kB\nThreads:\t3\n";
        let s = parse_status(b);
        assert_eq!(s.rss, 2048 * 1024);
        assert_eq!(s.vms, 8192 * 1024);
        assert_eq!(s.anon, 100 * 1024);
        assert_eq!(s.shmem, 48 * 1024);
        assert_eq!(s.threads, 3);
    }

    #[test]
    fn reads_self() {
        let mut r = ProcReader::new(true);
        let me = std::process::id();
        let st = r.stat(me).unwrap();
        let s = r.sample(me, &st).unwrap().unwrap();
        assert!(s.rss_bytes > 0 && s.threads >= 1 && s.fds >= 3);
        assert!(s.pss_bytes.unwrap() > 0);
    }

    #[test]
    fn kept_open_files_see_fresh_values() {
        let mut r = ProcReader::new(false);
        let me = std::process::id();
        let a = r.stat_tracked(me).unwrap();
        let big: Vec<u8> = std::hint::black_box(vec![1u8; 64 << 20]);
        let mut spin = 0u64;
        for i in 0..20_000_000u64 {
            spin = spin.wrapping_add(i * i);
        }
        std::hint::black_box(spin);
        let b = r.stat_tracked(me).unwrap();
        assert_eq!(a.starttime, b.starttime);
        let s = r.sample(me, &b).unwrap().unwrap();
        assert!(
            s.rss_bytes >= 64 << 20,
            "status re-read after allocating: {}",
            s.rss_bytes
        );
        assert!(b.utime + b.stime >= a.utime + a.stime);
        assert_eq!(
            s.fds,
            std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1
        );
        drop(big);
        r.retain(|_| false);
        assert!(r.open.is_empty());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_stat(&b);
            let _ = parse_status(&b);
            let _ = parse_smaps_rollup_pss(&b);
        }

        #[test]
        fn status_values_round_trip(rss in 0u64..1u64<<40, threads in 0u64..100000) {
            let text = format!("VmRSS:\t{rss} kB\nThreads:\t{threads}\n");
            let s = parse_status(text.as_bytes());
            prop_assert_eq!(s.rss, rss * 1024);
            prop_assert_eq!(s.threads, threads);
        }
    }
}
