//! Live heap of a process tree soak started: an LD_PRELOAD shim (heap_shim.c, built by
//! build.rs and embedded in the binary) counts malloc-family calls in every process of
//! the tree and publishes live bytes and blocks in one small file per process in shared
//! memory; this reader sums them each tick.
//!
//! What it cannot see, the report says: a statically linked target cannot load the
//! shim; setuid programs drop LD_PRELOAD; an allocator that does not go through malloc
//! (Go, a statically linked jemalloc, raw mmap) is not counted.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The shim, as compiled for this machine by build.rs.
pub static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libsoak_heap.so"));

/// "SOAKHEAP" as the shim writes it.
const MAGIC: u64 = 0x5041_454b_4841_4f53;
/// Layout version (see `struct segment` in heap_shim.c).
const VERSION: u32 = 3;
/// Size of the segment header; each thread slot is as long.
pub const HEADER_LEN: usize = 64;
/// The allocator's name follows the header; the thread slots follow it.
const NAME_LEN: usize = 64;
/// Where the thread slots begin.
const SLOTS_AT: usize = HEADER_LEN + NAME_LEN;
/// `flags` bit: the figures are counts (unset: the shim only forwards calls, because
/// counting with that allocator is not safe).
const FLAG_COUNTING: u32 = 1;
/// Thread slots in a segment.
pub const SLOTS: usize = 256;

/// One process's published figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// The pid that wrote it.
    pub pid: u32,
    /// CLOCK_BOOTTIME (ns) when this process (or exec'd image) began publishing.
    pub created_ns: u64,
    /// Bytes allocated and not freed (malloc_usable_size of each block).
    pub live_bytes: i64,
    /// Blocks allocated and not freed.
    pub live_blocks: i64,
    /// Whether the figures are counts (the shim could size this allocator's blocks).
    pub counting: bool,
    /// The object that serves malloc in that process (`libc.so.6`, `libjemalloc.so.2`).
    pub allocator: [u8; NAME_LEN],
    /// The image that published it: its text's start and end (`/proc/self/stat`'s
    /// startcode and endcode; 0 when unknown). A process that exec'd a program without
    /// the shim (static, setuid) still has its fork's segment, from another image.
    pub image: (u64, u64),
}

impl Segment {
    /// The allocator's name as text.
    pub fn allocator_name(&self) -> String {
        let end = self
            .allocator
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(NAME_LEN);
        String::from_utf8_lossy(&self.allocator[..end]).into_owned()
    }
}

/// The native-endian u64 at `o` of a shim-published file (segment or sites table), if
/// the bytes are there.
pub(super) fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    b.get(o..o.checked_add(8)?)?
        .try_into()
        .ok()
        .map(u64::from_ne_bytes)
}

/// The native-endian u32 at `o`, as [`u64_at`].
pub(super) fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o.checked_add(4)?)?
        .try_into()
        .ok()
        .map(u32::from_ne_bytes)
}

/// How many thread slots of a segment whose header is `b` may hold figures; `None`
/// when it is not (yet) a valid segment.
pub fn slots_used(b: &[u8]) -> Option<usize> {
    if u64_at(b, 0)? != MAGIC || u32_at(b, 8)? != VERSION {
        return None;
    }
    Some((u32_at(b, 40)? as usize).min(SLOTS))
}

/// Parses a segment: the header and its used slots (`b` may stop after them).
pub fn parse_segment(b: &[u8]) -> Option<Segment> {
    let used = slots_used(b)?;
    let mut bytes = u64_at(b, 24)? as i64;
    let mut blocks = u64_at(b, 32)? as i64;
    for i in 0..used {
        let o = SLOTS_AT + HEADER_LEN * i;
        bytes = bytes.wrapping_add(u64_at(b, o + 8)? as i64);
        blocks = blocks.wrapping_add(u64_at(b, o + 16)? as i64);
    }
    Some(Segment {
        pid: u32_at(b, 12)?,
        created_ns: u64_at(b, 16)?,
        live_bytes: bytes,
        live_blocks: blocks,
        counting: u32_at(b, 44)? & FLAG_COUNTING != 0,
        image: (u64_at(b, 48)?, u64_at(b, 56)?),
        allocator: b.get(HEADER_LEN..SLOTS_AT)?.try_into().ok()?,
    })
}

/// A folder of this soak's own for counters its targets publish: `/dev/shm/PREFIX-PID-NS`
/// when there is a /dev/shm (the counters never touch a disk), else `.PREFIX` in the run
/// directory. The pid in the name lets a later run sweep the folders of a dead soak.
pub fn shared_dir(prefix: &str, run_dir: &Path) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        shm.join(format!("{prefix}-{}-{nanos}", std::process::id()))
    } else {
        run_dir.join(format!(".{prefix}"))
    }
}

/// The files of one run's heap counting: the shim written out for ld.so to load, and
/// the folder the processes publish in. Both are removed when dropped.
pub struct HeapFiles {
    shim: PathBuf,
    dir: PathBuf,
}

impl HeapFiles {
    /// Makes the segment folder (in /dev/shm when there is one, so the counters never
    /// touch a disk) and writes the shim into the run directory. What was made before a
    /// failure (a full disk) is removed.
    pub fn create(run_dir: &Path) -> io::Result<HeapFiles> {
        let f = Self::plan(run_dir);
        f.make()?;
        Ok(f)
    }

    /// Chooses the paths without creating anything, so they can be handed to the guard
    /// first (a soak killed between creating and telling would leave them behind).
    pub fn plan(run_dir: &Path) -> HeapFiles {
        let dir = shared_dir("soak-heap", run_dir);
        // ld.so splits LD_PRELOAD on spaces and colons: a run directory whose path has
        // one cannot hold the shim, the segment folder (a name soak chose) can.
        let in_run_dir = run_dir.join(".soak-heap-shim.so");
        let shim = if in_run_dir.to_string_lossy().contains([' ', ':']) {
            dir.join(".soak-heap-shim.so")
        } else {
            in_run_dir
        };
        HeapFiles { shim, dir }
    }

    /// Creates the planned folder and shim (dropping `self` removes them again).
    pub fn make(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(&self.shim, SHIM)
    }

    /// The environment that injects the shim; an LD_PRELOAD the user set is kept after it.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut preload = self.shim.display().to_string();
        if let Ok(existing) = std::env::var("LD_PRELOAD") {
            if !existing.trim().is_empty() {
                preload = format!("{preload}:{existing}");
            }
        }
        vec![
            ("LD_PRELOAD".into(), preload),
            ("SOAK_HEAP_DIR".into(), self.dir.display().to_string()),
        ]
    }

    /// [`HeapFiles::env`], plus `SOAK_SITES_PERIOD` when `period` asks the shim to sample
    /// allocation sites (mean bytes between samples; `None` or 0: off).
    pub fn env_with_sites(&self, period: Option<u64>) -> Vec<(String, String)> {
        let mut env = self.env();
        if let Some(p) = period.filter(|p| *p > 0) {
            env.push((super::sites::SITES_ENV.into(), p.to_string()));
        }
        env
    }

    /// What to delete if soak dies without dropping this (handed to the guard).
    pub fn paths(&self) -> [&Path; 2] {
        [&self.dir, &self.shim]
    }

    /// A reader of this run's segments.
    pub fn reader(&self) -> HeapReader {
        HeapReader::new(&self.dir)
    }
}

/// Removes the /dev/shm folders (`soak-heap-PID-…`, `soak-runtime-PID-…`) of soaks that
/// are gone: a soak killed along with its guard (SIGKILL to the whole process group)
/// leaves them behind, and the next run sweeps them. A live pid's folder is kept.
pub fn sweep_stale_shm() {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix("soak-heap-")
            .or_else(|| name.strip_prefix("soak-runtime-"))
        else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, n)| n.bytes().all(|b| b.is_ascii_digit()).then_some(p))
            .and_then(|p| p.parse::<i32>().ok())
            .filter(|p| *p > 0)
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the pid exists.
        let dead = unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if dead {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for HeapFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.shim);
    }
}

/// Reads the segments of tree members, keeping each file open.
pub struct HeapReader {
    dir: PathBuf,
    open: HashMap<u32, File>,
    /// Allocators seen in the tree, and whether the shim could count each.
    allocators: std::collections::BTreeMap<String, bool>,
    /// The (pid, image) pairs whose allocator is in `allocators`.
    named: std::collections::HashSet<(u32, u64)>,
    buf: Vec<u8>,
    boot_ticks_per_second: f64,
    last_sweep: std::time::Instant,
    /// Pids whose segment was this process's and image's at its last read: only their
    /// other files in the folder (PID.sites) are theirs too.
    current: std::collections::HashSet<u32>,
}

/// How often the segment folder is swept for processes that lived and died between two
/// ticks (their segments were never opened, so `retain` cannot see them).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl HeapReader {
    /// Reads segments in `dir`.
    pub fn new(dir: &Path) -> HeapReader {
        // SAFETY: sysconf has no memory-safety preconditions.
        let tps = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        HeapReader {
            dir: dir.to_path_buf(),
            open: HashMap::new(),
            allocators: std::collections::BTreeMap::new(),
            named: std::collections::HashSet::new(),
            buf: vec![0; SLOTS_AT + HEADER_LEN * SLOTS],
            boot_ticks_per_second: if tps > 0 { tps as f64 } else { 100.0 },
            last_sweep: std::time::Instant::now(),
            current: std::collections::HashSet::new(),
        }
    }

    /// Live heap bytes of `pid`, whose /proc start time is `starttime` (clock ticks
    /// after boot); `None` when it publishes nothing (the shim is not loaded in it). A
    /// segment older than the process belongs to an earlier process with the same pid.
    pub fn live_bytes(&mut self, pid: u32, starttime: u64, image: (u64, u64)) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        self.current.remove(&pid);
        let new = !self.open.contains_key(&pid);
        if new {
            let f = File::open(self.dir.join(pid.to_string())).ok()?;
            self.open.insert(pid, f);
        }
        let f = self.open.get(&pid)?;
        // The header says how many thread slots to read: most programs use a few.
        let n = f.read_at(&mut self.buf[..SLOTS_AT], 0).ok()?;
        let used = slots_used(&self.buf[..n])?;
        let len = SLOTS_AT + HEADER_LEN * used;
        let n = f
            .read_at(&mut self.buf[SLOTS_AT..len], SLOTS_AT as u64)
            .ok()?;
        let s = parse_segment(&self.buf[..SLOTS_AT + n])?;
        // Start times have clock-tick resolution: allow one tick of slack.
        let started_ns = (starttime as f64 - 1.0) / self.boot_ticks_per_second * 1e9;
        if s.pid != pid || (s.created_ns as f64) < started_ns {
            self.open.remove(&pid);
            return None;
        }
        // Exec'd into an image without the shim: the segment is the fork's, not its own.
        let known = |i: (u64, u64)| i != (0, 0);
        if known(s.image) && known(image) && s.image != image {
            return None;
        }
        // Each image's allocator is recorded once (an exec may bring another allocator).
        if self.named.insert((pid, s.image.0)) {
            self.allocators.insert(s.allocator_name(), s.counting);
        }
        self.current.insert(pid);
        s.counting.then(|| s.live_bytes.max(0) as u64)
    }

    /// Whether `pid`'s segment, at its last read, was published by that very process and
    /// its current image (not a stale file of a process that exited, nor the fork's copy
    /// of a process that exec'd a program without the shim).
    pub fn is_current(&self, pid: u32) -> bool {
        self.current.contains(&pid)
    }

    /// The allocators seen in the tree's processes, each with whether the shim could
    /// count it.
    pub fn allocators(&self) -> &std::collections::BTreeMap<String, bool> {
        &self.allocators
    }

    /// Whether any process published a segment in this run (the shim loaded), even one
    /// that ended before a tick read it.
    pub fn any_published(&self) -> bool {
        !self.allocators.is_empty()
            || std::fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_some())
    }

    /// Forgets (and deletes the segments of) processes no longer in the tree.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.named.retain(|(pid, _)| keep(*pid));
        self.current.retain(|pid| keep(*pid));
        let dir = &self.dir;
        self.open.retain(|pid, _| {
            let k = keep(*pid);
            if !k {
                let _ = std::fs::remove_file(dir.join(pid.to_string()));
            }
            k
        });
        if self.last_sweep.elapsed() >= SWEEP_EVERY {
            self.sweep();
        }
    }

    /// Deletes the segments (and sites files) of processes that no longer exist, so a
    /// long soak of a target that starts many short-lived processes does not fill
    /// /dev/shm. Only dead pids go: a process forked a moment ago may not be in the tree
    /// yet.
    pub fn sweep(&mut self) -> usize {
        self.last_sweep = std::time::Instant::now();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let Some(pid) = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok().or_else(|| super::sites::sites_pid(n)))
            else {
                continue;
            };
            if !self.open.contains_key(&pid)
                && !Path::new(&format!("/proc/{pid}")).exists()
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }
}

/// Whether `program` (looked up in PATH when it has no slash) is a statically linked
/// ELF executable, which cannot load the shim. `None` when that cannot be told (not
/// found, a script, unreadable).
pub fn is_static_elf(program: &str) -> Option<bool> {
    let path = if program.contains('/') {
        PathBuf::from(program)
    } else {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())?
    };
    // Only the ELF header and the program headers are needed, not the whole binary.
    use std::os::unix::fs::FileExt;
    let f = File::open(path).ok()?;
    let mut header = [0u8; 64];
    let n = f.read_at(&mut header, 0).ok()?;
    let header = &header[..n];
    let phoff = u64::from_le_bytes(header.get(0x20..0x28)?.try_into().ok()?);
    let phentsize = u64::from(u16::from_le_bytes(header.get(0x36..0x38)?.try_into().ok()?));
    let phnum = u64::from(u16::from_le_bytes(header.get(0x38..0x3a)?.try_into().ok()?));
    let end = usize::try_from(phoff.checked_add(phentsize.checked_mul(phnum)?)?).ok()?;
    let mut bytes = vec![0u8; end.min(1 << 20)];
    let n = f.read_at(&mut bytes, 0).ok()?;
    elf_has_interp(&bytes[..n]).map(|interp| !interp)
}

/// Whether an ELF image has a PT_INTERP program header (a dynamic loader); `None` when
/// the bytes are not a 64-bit little-endian ELF file.
pub fn elf_has_interp(b: &[u8]) -> Option<bool> {
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .and_then(|s| s.try_into().ok())
            .map(u16::from_le_bytes)
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        if u32_at(phoff.checked_add(i.checked_mul(phentsize)?)?)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment with base figures (`bytes`, 7 blocks) and two thread slots.
    fn segment(pid: u32, created_ns: u64, bytes: i64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC.to_ne_bytes());
        b.extend(VERSION.to_ne_bytes());
        b.extend(pid.to_ne_bytes());
        b.extend(created_ns.to_ne_bytes());
        b.extend((bytes - 30).to_ne_bytes());
        b.extend(7i64.to_ne_bytes());
        b.extend(2u32.to_ne_bytes());
        b.extend(FLAG_COUNTING.to_ne_bytes());
        b.resize(HEADER_LEN, 0);
        b.extend(b"libc.so.6");
        b.resize(SLOTS_AT, 0);
        for (sb, sk) in [(100i64, 1i64), (-70, -1)] {
            let mut slot = vec![0u8; HEADER_LEN];
            slot[0] = 1;
            slot[8..16].copy_from_slice(&sb.to_ne_bytes());
            slot[16..24].copy_from_slice(&sk.to_ne_bytes());
            b.extend(slot);
        }
        b.resize(SLOTS_AT + HEADER_LEN * SLOTS, 0);
        b
    }

    #[test]
    fn segments_parse_and_stale_ones_are_refused() {
        let s = parse_segment(&segment(42, 5, 1000)).expect("valid");
        assert_eq!((s.pid, s.live_bytes, s.live_blocks), (42, 1000, 7));
        assert!(s.counting);
        assert_eq!(s.allocator_name(), "libc.so.6");
        let mut bad = segment(42, 5, 1000);
        bad[0] ^= 1;
        assert_eq!(parse_segment(&bad), None, "no magic, not valid yet");
        assert_eq!(parse_segment(&segment(1, 1, 1)[..20]), None);
        assert_eq!(
            parse_segment(&segment(1, 1, 1)[..SLOTS_AT + 10]),
            None,
            "slots cut off"
        );

        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let start = crate::sample::procfs::ProcReader::new(false)
            .stat(me)
            .unwrap()
            .starttime;
        let mut r = HeapReader::new(dir.path());
        assert_eq!(r.live_bytes(me, start, (0, 0)), None, "no file: no heap");
        // A segment written before this process started: a previous owner of the pid.
        std::fs::write(dir.path().join(me.to_string()), segment(me, 0, 5)).unwrap();
        assert_eq!(r.live_bytes(me, start, (0, 0)), None);
        let now_ns = {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: ts is a valid timespec to write into.
            unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        };
        std::fs::write(dir.path().join(me.to_string()), segment(me, now_ns, -3)).unwrap();
        assert_eq!(
            r.live_bytes(me, start, (0, 0)),
            Some(0),
            "negative clamps to zero"
        );
        std::fs::write(dir.path().join(me.to_string()), segment(me, now_ns, 4096)).unwrap();
        assert_eq!(r.live_bytes(me, start, (0, 0)), Some(4096));
        // A segment published by another image (the fork's, before an exec into a
        // program without the shim) is not this process's heap.
        let mut other = segment(me, now_ns, 4096);
        other[48..56].copy_from_slice(&0x1000u64.to_ne_bytes());
        other[56..64].copy_from_slice(&0x2000u64.to_ne_bytes());
        std::fs::write(dir.path().join(me.to_string()), &other).unwrap();
        assert_eq!(r.live_bytes(me, start, (0x5000, 0x6000)), None);
        assert_eq!(r.live_bytes(me, start, (0x1000, 0x2000)), Some(4096));
        // The allocator is named even when the first read saw another image's segment
        // (a tick between an exec and the new image's constructor).
        let mut fresh = HeapReader::new(dir.path());
        assert_eq!(fresh.live_bytes(me, start, (0x5000, 0x6000)), None);
        assert!(fresh.allocators().is_empty());
        assert_eq!(fresh.live_bytes(me, start, (0x1000, 0x2000)), Some(4096));
        assert_eq!(fresh.allocators().get("libc.so.6"), Some(&true));
        assert_eq!(r.allocators().get("libc.so.6"), Some(&true));
        assert!(r.any_published());
        r.retain(|_| false);
        // A segment whose allocator the shim could not size: forwarded, not counted.
        let mut uncounting = segment(me, now_ns, 4096);
        uncounting[44] = 0;
        uncounting[HEADER_LEN..HEADER_LEN + 9].copy_from_slice(b"libfoo.so");
        std::fs::write(dir.path().join(me.to_string()), uncounting).unwrap();
        assert_eq!(
            r.live_bytes(me, start, (0, 0)),
            None,
            "not counted: no heap figure"
        );
        assert_eq!(r.allocators().get("libfoo.so"), Some(&false));
        r.retain(|_| false);
        assert!(
            !dir.path().join(me.to_string()).exists(),
            "segment of a gone process deleted"
        );
    }

    #[test]
    fn sweep_deletes_only_segments_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        // A pid above pid_max never runs. (Spawning and reaping a child here would race
        // with the unit test that samples this process's tree.)
        let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let dead = pid_max + 1;
        let me = std::process::id();
        for pid in [dead, me] {
            std::fs::write(dir.path().join(pid.to_string()), segment(pid, 1, 1)).unwrap();
            std::fs::write(dir.path().join(format!("{pid}.sites")), b"x").unwrap();
        }
        let mut r = HeapReader::new(dir.path());
        assert_eq!(r.sweep(), 2, "the segment and the sites file");
        assert!(!dir.path().join(dead.to_string()).exists());
        assert!(!dir.path().join(format!("{dead}.sites")).exists());
        assert!(dir.path().join(format!("{me}.sites")).exists());
        assert!(
            dir.path().join(me.to_string()).exists(),
            "a live process keeps its segment"
        );
    }

    #[test]
    fn sites_period_is_added_to_the_environment_only_when_asked() {
        let f = HeapFiles::plan(Path::new("/nonexistent-run-dir"));
        let has = |env: &[(String, String)]| {
            env.iter()
                .find(|(k, _)| k == crate::sample::sites::SITES_ENV)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(has(&f.env_with_sites(None)), None);
        assert_eq!(has(&f.env_with_sites(Some(0))), None);
        let on = f.env_with_sites(Some(524_288));
        assert_eq!(has(&on).as_deref(), Some("524288"));
        assert_eq!(on.len(), f.env().len() + 1, "the shim's own variables stay");
    }

    #[test]
    fn static_and_dynamic_executables_are_told_apart() {
        assert_eq!(is_static_elf("/bin/sh"), Some(false));
        assert_eq!(is_static_elf("sh"), Some(false), "found in PATH");
        assert_eq!(is_static_elf("/nonexistent"), None);
        assert_eq!(elf_has_interp(b"#!/bin/sh\n"), None);
        assert!(!SHIM.is_empty(), "build.rs embedded the shim");
        assert_eq!(
            elf_has_interp(SHIM),
            Some(false),
            "a shared object has no interpreter"
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_segment(&b);
            let mut elf = b"\x7fELF\x02\x01".to_vec();
            elf.extend(&b);
            let _ = elf_has_interp(&elf);
        }
    }
}
