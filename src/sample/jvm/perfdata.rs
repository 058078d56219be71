//! The HotSpot perf-data file (`hsperfdata_<user>/<pid>`, what `jstat` reads): the JVM
//! keeps its counters in that small memory-mapped file, and soak reads it whole with one
//! `pread` each tick, without attaching.
//!
//! Derived figures:
//! - used heap: the sum of `sun.gc.generation.*.space.*.used` (eden, survivors, old);
//! - used heap after the last full collection: old generation plus survivors, taken at
//!   the first tick after the full-collection count (`sun.gc.collector.1.invocations`:
//!   G1, Parallel and Serial full collections) changed, carried forward until the next.
//!   G1's mixed collections are not counted: no perf counter tells them from young ones
//!   (`collector.0` counts both), so with G1 the figure moves only on full collections,
//!   which `--full-gc-every` requests.

use std::fs::File;
use std::io;

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

/// Reads a whole (small) file from offset 0 with as few `pread`s as it takes (one for
/// the usual 32 KiB file).
pub(super) fn read_whole(f: &File, buf: &mut Vec<u8>) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from a Java 17 G1 JVM (-Xmx64m) holding 12 MiB after one System.gc().
    const G1: &[u8] = include_bytes!("../../../tests/data/runtime/g1-17.hsperfdata");

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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(e) = parse(&b) { let _ = figures(&e); }
            // Behind a valid prologue, the entries themselves are arbitrary.
            let mut h = G1[..PROLOGUE_LEN].to_vec();
            h.extend_from_slice(&b);
            if let Ok(e) = parse(&h) { let _ = figures(&e); }
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
