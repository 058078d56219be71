//! The JVM's own heap, read from the HotSpot perf-data file (`hsperfdata_<user>/<pid>`,
//! what `jstat` reads) without attaching: the JVM keeps its counters in that small
//! memory-mapped file, and soak reads it whole with one `pread` each tick.
//!
//! The file is found through the target's own root (`/proc/PID/root/tmp/hsperfdata_*/NSPID`,
//! NSpid from `/proc/PID/status`), so containers and systemd's PrivateTmp work.
//!
//! Derived figures:
//! - used heap: the sum of `sun.gc.generation.*.space.*.used` (eden, survivors, old);
//! - used heap after the last full collection: old generation plus survivors, taken at
//!   the first tick after the full-collection count (`sun.gc.collector.1.invocations`:
//!   G1, Parallel and Serial full collections) changed, carried forward until the next.
//!   G1's mixed collections are not counted: no perf counter tells them from young ones
//!   (`collector.0` counts both), so with G1 the figure moves only on full collections,
//!   which `--full-gc-every` requests.
//!
//! [`request_full_gc`] asks a JVM for a full collection through the HotSpot attach
//! protocol (falling back to `jcmd PID GC.run`); it blocks, so callers run it off the
//! sampling thread.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The prologue's magic number (stored big-endian whatever the byte order).
pub const MAGIC: u32 = 0xcafe_c0c0;
/// Size of the prologue.
const PROLOGUE_LEN: usize = 32;
/// Size of an entry's fixed header.
const ENTRY_HEADER_LEN: usize = 20;

/// Why a buffer is not readable perf data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PerfDataError {
    /// Shorter than the prologue.
    #[error("perf data too short ({0} bytes)")]
    Short(usize),
    /// The magic number is wrong.
    #[error("not HotSpot perf data (magic {0:#010x})")]
    Magic(u32),
    /// The byte-order byte is neither 0 (big) nor 1 (little).
    #[error("perf data byte order {0} unknown")]
    ByteOrder(u8),
    /// The major version is not 2.
    #[error("perf data version {0}.{1} not supported")]
    Version(u8, u8),
    /// The JVM has not finished setting the file up.
    #[error("perf data not yet accessible")]
    NotAccessible,
    /// An entry points outside the buffer.
    #[error("perf data entry {0} is malformed")]
    Entry(usize),
}

/// An entry's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A scalar long ('J').
    Long(i64),
    /// A byte array ('B'), usually a NUL-terminated string.
    Bytes(&'a [u8]),
    /// Another type (not used by soak).
    Other,
}

impl<'a> Value<'a> {
    /// The text of a byte-array value, up to its first NUL.
    pub fn text(&self) -> Option<&'a str> {
        match *self {
            Value::Bytes(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                std::str::from_utf8(&b[..end]).ok()
            }
            _ => None,
        }
    }
}

/// One named counter of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Its name, e.g. `sun.gc.generation.1.space.0.used`.
    pub name: &'a str,
    /// Its value.
    pub value: Value<'a>,
    /// HotSpot's unit code (1 none, 2 bytes, 3 ticks, 4 events, 5 string, 6 hertz).
    pub units: u8,
    /// HotSpot's variability code (1 constant, 2 monotonic, 3 variable).
    pub variability: u8,
}

/// Parses perf data from any byte slice: the prologue (magic, byte order, version,
/// entry offset and count), then each entry (length, name offset, vector length, data
/// type, flags, units, variability, data offset). Never panics on arbitrary bytes.
pub fn parse(b: &[u8]) -> Result<Vec<Entry<'_>>, PerfDataError> {
    if b.len() < PROLOGUE_LEN {
        return Err(PerfDataError::Short(b.len()));
    }
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != MAGIC {
        return Err(PerfDataError::Magic(magic));
    }
    let little = match b[4] {
        0 => false,
        1 => true,
        o => return Err(PerfDataError::ByteOrder(o)),
    };
    if b[5] != 2 {
        return Err(PerfDataError::Version(b[5], b[6]));
    }
    if b[7] == 0 {
        return Err(PerfDataError::NotAccessible);
    }
    let int = |o: usize| -> Option<i32> {
        let s: [u8; 4] = b.get(o..o.checked_add(4)?)?.try_into().ok()?;
        Some(if little {
            i32::from_le_bytes(s)
        } else {
            i32::from_be_bytes(s)
        })
    };
    let long = |o: usize| -> Option<i64> {
        let s: [u8; 8] = b.get(o..o.checked_add(8)?)?.try_into().ok()?;
        Some(if little {
            i64::from_le_bytes(s)
        } else {
            i64::from_be_bytes(s)
        })
    };
    let first = int(24).unwrap_or(0).max(0) as usize;
    let count = int(28).unwrap_or(0).max(0) as usize;
    let mut out = Vec::with_capacity(count.min(1024));
    let mut at = first;
    for i in 0..count {
        let bad = PerfDataError::Entry(i);
        let len = int(at).ok_or(bad.clone())?;
        if len < ENTRY_HEADER_LEN as i32 || at + len as usize > b.len() {
            return Err(bad);
        }
        let len = len as usize;
        let entry = &b[at..at + len];
        let field = |o: usize| int(at + o).filter(|v| *v >= 0).map(|v| v as usize);
        let name_off = field(4).ok_or(bad.clone())?;
        let vector = field(8).ok_or(bad.clone())?;
        let (dtype, units, variability) = (entry[12], entry[14], entry[15]);
        let data_off = field(16).ok_or(bad.clone())?;
        if name_off >= len || data_off > len {
            return Err(bad);
        }
        let name_bytes = &entry[name_off..];
        let name_end = name_bytes.iter().position(|&c| c == 0).ok_or(bad.clone())?;
        let name = std::str::from_utf8(&name_bytes[..name_end]).map_err(|_| bad.clone())?;
        let value = match (dtype, vector) {
            (b'J', 0) => Value::Long(long(at + data_off).ok_or(bad.clone())?),
            (b'B', n) if n > 0 => Value::Bytes(entry.get(data_off..data_off + n).ok_or(bad)?),
            _ => Value::Other,
        };
        out.push(Entry {
            name,
            value,
            units,
            variability,
        });
        at += len;
    }
    Ok(out)
}

/// What soak takes from one JVM's perf data at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JvmFigures {
    /// Used heap: every generation's spaces (eden, survivors, old), bytes.
    pub used_bytes: u64,
    /// The old generation plus survivors, bytes: the live set right after a full collection.
    pub old_and_survivors_bytes: u64,
    /// Young (and, for G1, mixed) collections so far (`sun.gc.collector.0.invocations`).
    pub young_gcs: u64,
    /// Full collections so far (`sun.gc.collector.1.invocations`).
    pub full_gcs: u64,
    /// Whether the last full collection ended after the last young one (the old
    /// generation then still holds the full collection's result).
    pub full_gc_is_latest: bool,
    /// The collector, e.g. `G1`, `Parallel`, `Serial` (first word of collector 0's name).
    pub collector: String,
    /// The VM's version (`java.property.java.vm.version`), when published.
    pub vm_version: Option<String>,
}

/// Derives [`JvmFigures`] from parsed entries; `None` when the file has no generation
/// spaces (a collector soak does not read, or a JVM not yet set up).
pub fn figures(entries: &[Entry]) -> Option<JvmFigures> {
    let mut f = JvmFigures::default();
    let mut spaces = 0;
    let (mut young_exit, mut full_exit) = (0i64, 0i64);
    for e in entries {
        let n = e.name;
        if let Some(rest) = n.strip_prefix("sun.gc.generation.") {
            // "<gen>.space.<n>.used"
            let mut parts = rest.split('.');
            let (Some(gen), Some("space"), Some(_), Some("used"), None) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                continue;
            };
            let Value::Long(v) = e.value else { continue };
            let v = v.max(0) as u64;
            f.used_bytes += v;
            spaces += 1;
            // Generation 0 holds eden (space 0) and the survivors (spaces 1, 2).
            let survivor = gen == "0" && !rest.starts_with("0.space.0.");
            if gen != "0" || survivor {
                f.old_and_survivors_bytes += v;
            }
        } else if let Some(rest) = n.strip_prefix("sun.gc.collector.") {
            match (rest, e.value) {
                ("0.invocations", Value::Long(v)) => f.young_gcs = v.max(0) as u64,
                ("1.invocations", Value::Long(v)) => f.full_gcs = v.max(0) as u64,
                ("0.lastExitTime", Value::Long(v)) => young_exit = v,
                ("1.lastExitTime", Value::Long(v)) => full_exit = v,
                ("0.name", v) => {
                    if let Some(t) = v.text() {
                        f.collector = t.split_whitespace().next().unwrap_or(t).to_string();
                    }
                }
                _ => {}
            }
        } else if n == "java.property.java.vm.version" {
            f.vm_version = e.value.text().map(str::to_string);
        }
    }
    f.full_gc_is_latest = f.full_gcs > 0 && full_exit >= young_exit;
    (spaces > 0).then_some(f)
}

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
                    || (since < PROBE_EVERY && !age(starttime).is_some_and(|a| a < PROBE_EAGER))
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

/// Reads a whole (small) file from offset 0 with as few `pread`s as it takes (one for
/// the usual 32 KiB file).
fn read_whole(f: &File, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len() as usize;
    buf.clear();
    buf.resize(len.max(PROLOGUE_LEN), 0);
    let mut off = 0;
    while off < buf.len() {
        let n = f.read_at(&mut buf[off..], off as u64)?;
        if n == 0 {
            break;
        }
        off += n;
    }
    buf.truncate(off);
    Ok(())
}

/// How a full collection was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcRoute {
    /// soak spoke the HotSpot attach protocol itself.
    Attach,
    /// `jcmd PID GC.run`.
    Jcmd,
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
) -> Result<GcRoute, String> {
    match attach_command(pid, nspid, "GC.run", timeout) {
        Ok(()) => Ok(GcRoute::Attach),
        Err(attach) => jcmd(pid, "GC.run", timeout, helpers)
            .map(|_| GcRoute::Jcmd)
            .map_err(|j| format!("attach: {attach}; jcmd: {j}")),
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
) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::os::unix::fs::FileTypeExt;
    if let Some(why) = attach_unsafe(pid) {
        return Err(why.into());
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
            File::create(&trigger)
                .map_err(|e| format!("cannot create {}: {e}", trigger.display()))?;
        }
        // SAFETY: kill has no memory-safety preconditions; the pid is a JVM of the tree.
        let sent = unsafe { libc::kill(pid as libc::pid_t, libc::SIGQUIT) };
        let end = Instant::now() + timeout;
        let mut wait = Duration::from_millis(20);
        while sent == 0 && !is_socket(&socket) && Instant::now() < end {
            std::thread::sleep(wait);
            wait = (wait + Duration::from_millis(20)).min(Duration::from_millis(200));
        }
        let _ = std::fs::remove_file(&trigger);
        if sent != 0 {
            return Err(format!(
                "cannot signal pid {pid}: {}",
                io::Error::last_os_error()
            ));
        }
        if !is_socket(&socket) {
            return Err(format!(
                "no attach socket {} after {:.1} s",
                socket.display(),
                timeout.as_secs_f64()
            ));
        }
    }
    let mut s = std::os::unix::net::UnixStream::connect(&socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    // The reply comes once the collection is over: allow it time.
    let io_timeout = Some(timeout.max(Duration::from_secs(60)));
    let _ = s.set_write_timeout(io_timeout);
    let _ = s.set_read_timeout(io_timeout);
    let mut req = Vec::with_capacity(64);
    req.extend_from_slice(b"1\0jcmd\0");
    req.extend_from_slice(command.as_bytes());
    req.extend_from_slice(b"\0\0\0");
    s.write_all(&req)
        .map_err(|e| format!("cannot write to {}: {e}", socket.display()))?;
    let mut reply = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut reply);
    attach_reply(&reply)
}

/// Judges the attach listener's reply: its first line is the result code.
pub fn attach_reply(reply: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => Ok(()),
        Some("") | None => Err("the JVM closed the connection without a reply".into()),
        Some(code) => Err(format!(
            "the JVM answered {code}: {}",
            lines.next().unwrap_or("").trim()
        )),
    }
}

/// Runs `jcmd PID COMMAND` with a timeout (killed after it).
fn jcmd(
    pid: u32,
    command: &str,
    timeout: Duration,
    helpers: &Mutex<Vec<u32>>,
) -> Result<(), String> {
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
            .map_err(|e| format!("cannot run jcmd: {e}"))?;
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
                return Err(format!("jcmd took over {:.0} s", timeout.as_secs_f64()));
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
    Err(format!("jcmd failed: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from a Java 17 G1 JVM (-Xmx64m) holding 12 MiB after one System.gc().
    const G1: &[u8] = include_bytes!("../../tests/data/runtime/g1-17.hsperfdata");

    #[test]
    fn parses_a_real_g1_file() {
        let e = parse(G1).unwrap();
        assert!(e.len() > 100, "{} entries", e.len());
        let get = |n: &str| e.iter().find(|x| x.name == n).map(|x| x.value);
        assert_eq!(
            get("sun.gc.policy.name").and_then(|v| v.text()),
            Some("GarbageFirst")
        );
        let f = figures(&e).unwrap();
        assert_eq!(f.collector, "G1");
        assert_eq!(f.full_gcs, 1);
        assert_eq!(f.young_gcs, 0);
        assert!(f.full_gc_is_latest);
        assert_eq!(f.used_bytes, 26_227_840);
        assert_eq!(f.old_and_survivors_bytes, 26_227_840);
        assert!(f.vm_version.as_deref().unwrap_or("").starts_with("17."));
    }

    #[test]
    fn rejects_what_is_not_perf_data() {
        assert_eq!(parse(b"short"), Err(PerfDataError::Short(5)));
        let mut b = G1.to_vec();
        b[0] = 0;
        assert!(matches!(parse(&b), Err(PerfDataError::Magic(_))));
        let mut b = G1.to_vec();
        b[7] = 0;
        assert_eq!(parse(&b), Err(PerfDataError::NotAccessible));
        let mut b = G1.to_vec();
        b[4] = 7;
        assert_eq!(parse(&b), Err(PerfDataError::ByteOrder(7)));
        // Cut in the middle of the entries.
        assert!(matches!(parse(&G1[..5000]), Err(PerfDataError::Entry(_))));
    }

    #[test]
    fn big_endian_files_parse_too() {
        // One 'J' entry and one 'B' entry, built by hand in big-endian order.
        let mut b = vec![0xca, 0xfe, 0xc0, 0xc0, 0, 2, 0, 1];
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&32i32.to_be_bytes());
        b.extend_from_slice(&2i32.to_be_bytes());
        let name = b"sun.gc.generation.1.space.0.used\0";
        let entry = |name: &[u8], t: u8, vec: i32, data: &[u8]| {
            let data_off = (20 + name.len()).next_multiple_of(8);
            let len = data_off + data.len();
            let mut e = Vec::new();
            e.extend_from_slice(&(len as i32).to_be_bytes());
            e.extend_from_slice(&20i32.to_be_bytes());
            e.extend_from_slice(&vec.to_be_bytes());
            e.extend_from_slice(&[t, 0, 2, 3]);
            e.extend_from_slice(&(data_off as i32).to_be_bytes());
            e.extend_from_slice(name);
            e.resize(data_off, 0);
            e.extend_from_slice(data);
            e
        };
        b.extend(entry(name, b'J', 0, &1234i64.to_be_bytes()));
        b.extend(entry(b"sun.gc.collector.0.name\0", b'B', 8, b"Serial\0\0"));
        let e = parse(&b).unwrap();
        assert_eq!(e[0].value, Value::Long(1234));
        let f = figures(&e).unwrap();
        assert_eq!((f.used_bytes, f.old_and_survivors_bytes), (1234, 1234));
        assert_eq!(f.collector, "Serial");
    }

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
    fn attach_replies() {
        assert!(attach_reply(b"0\nCommand executed\n").is_ok());
        let e = attach_reply(b"-1\nno such command\n").unwrap_err();
        assert!(e.contains("-1") && e.contains("no such command"), "{e}");
        assert!(attach_reply(b"").is_err());
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
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(e) = parse(&b) { let _ = figures(&e); }
            // Behind a valid prologue, the entries themselves are arbitrary.
            let mut h = G1[..PROLOGUE_LEN].to_vec();
            h.extend_from_slice(&b);
            if let Ok(e) = parse(&h) { let _ = figures(&e); }
            let _ = parse_nspid(&b);
            let _ = attach_reply(&b);
        }

        #[test]
        fn damaged_real_files_never_panic(at in 0usize..32768, byte in any::<u8>(), cut in 0usize..32768) {
            let mut b = G1.to_vec();
            if at < b.len() { b[at] = byte; }
            b.truncate(cut.max(1));
            if let Ok(e) = parse(&b) { let _ = figures(&e); }
        }
    }
}
