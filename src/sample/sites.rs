//! Sampled allocation sites of a subprocess (issue #18): with `SOAK_SITES_PERIOD` in its
//! environment, the heap shim (heap_shim.c) samples allocations by bytes (Poisson, mean
//! one sample per period bytes), records each sampled allocation's call stack, and
//! publishes per-site estimates of live bytes and blocks in `DIR/PID.sites` beside the
//! process's heap segment. This reads that file; symbolizing the frames is another
//! module's job.
//!
//! The frames are return addresses in the target's address space, innermost first, the
//! shim's own frames already dropped: a symbolizer looks up `frame - 1` (the call
//! instruction) in the process's maps.

use super::heap::{u32_at, u64_at};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The suffix of a process's sites file after its pid (`DIR/PID.sites`).
pub const SITES_SUFFIX: &str = ".sites";
/// The environment variable that turns sampling on in the shim: the mean bytes between
/// samples (decimal, > 0).
pub const SITES_ENV: &str = "SOAK_SITES_PERIOD";

/// "SOAKSITE" read as a little-endian u64, as the shim writes it.
const MAGIC: u64 = 0x4554_4953_4b41_4f53;
/// Layout version (see `struct sites_file` in heap_shim.c).
const VERSION: u32 = 1;
/// The header's length; records follow it.
const HEADER_LEN: usize = 64;
/// One site record's length.
const RECORD_LEN: usize = 320;
/// Frames a record holds at most.
const MAX_FRAMES: usize = 32;
/// `flags` bits.
const FLAG_EH: u32 = 1;
const FLAG_FP: u32 = 2;
const FLAG_SITES_FULL: u32 = 4;
const FLAG_LIVE_FULL: u32 = 8;
const FLAG_THROTTLED: u32 = 16;

/// How the shim captured stacks in that process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwinder {
    /// libgcc's `_Unwind_Backtrace`, from .eh_frame: works without frame pointers.
    EhFrame,
    /// A frame-pointer walk (libgcc_s missing, or `SOAK_SITES_UNWIND=fp`): frames of
    /// code built without frame pointers end the stack early.
    FramePointer,
    /// The file does not say.
    Unknown,
}

/// One process's published sites.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteTable {
    /// The pid that wrote it.
    pub pid: u32,
    /// Mean bytes between samples (`SOAK_SITES_PERIOD`).
    pub period: u64,
    /// How stacks were captured.
    pub unwinder: Unwinder,
    /// Sampled allocations so far (including dropped ones).
    pub samples: u64,
    /// Samples not recorded because a table was full.
    pub dropped: u64,
    /// The site table was full: samples of new stacks were dropped.
    pub sites_full: bool,
    /// The table of live sampled blocks was full: samples were dropped.
    pub live_full: bool,
    /// Some thread sampled so often that its period was coarsened for a while (the
    /// shim's rate cap; the weights account for it).
    pub throttled: bool,
    /// CLOCK_BOOTTIME (ns) when this process (or exec'd image) began publishing.
    pub created_ns: u64,
    /// The sites whose record is complete, in record order.
    pub sites: Vec<RawSite>,
}

/// One allocation site: a distinct call stack and its estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSite {
    /// The record's number in the file (stable for the process's life).
    pub index: u32,
    /// Return addresses, innermost first (the shim's frames dropped).
    pub frames: Vec<u64>,
    /// Estimated live bytes allocated here (usable sizes; sum of the unbiased weights
    /// of sampled blocks not yet freed).
    pub live_bytes: i64,
    /// Estimated live blocks allocated here.
    pub live_blocks: f64,
    /// Sampled allocations here, ever.
    pub allocs: u64,
    /// Sampled allocations here whose free was seen.
    pub frees: u64,
}

fn parse_header(b: &[u8]) -> Option<(usize, SiteTable)> {
    if u64_at(b, 0)? != MAGIC || u32_at(b, 8)? != VERSION {
        return None;
    }
    let capacity = u32_at(b, 24)?;
    let used = u32_at(b, 28)?.min(capacity) as usize;
    let flags = u32_at(b, 36)?;
    let unwinder = if flags & FLAG_EH != 0 {
        Unwinder::EhFrame
    } else if flags & FLAG_FP != 0 {
        Unwinder::FramePointer
    } else {
        Unwinder::Unknown
    };
    Some((
        used,
        SiteTable {
            pid: u32_at(b, 12)?,
            period: u64_at(b, 16)?,
            unwinder,
            samples: u64_at(b, 40)?,
            dropped: u64_at(b, 48)?,
            sites_full: flags & FLAG_SITES_FULL != 0,
            live_full: flags & FLAG_LIVE_FULL != 0,
            throttled: flags & FLAG_THROTTLED != 0,
            created_ns: u64_at(b, 56)?,
            sites: Vec::new(),
        },
    ))
}

/// One record; `None` while it is being written (`ready` is 0) or when cut off.
fn parse_record(r: &[u8], index: u32) -> Option<RawSite> {
    if u32_at(r, 12)? != 1 {
        return None;
    }
    let n = (u32_at(r, 8)? as usize).min(MAX_FRAMES);
    let frames = (0..n)
        .map(|i| u64_at(r, 64 + 8 * i))
        .collect::<Option<Vec<u64>>>()?;
    Some(RawSite {
        index,
        frames,
        live_bytes: u64_at(r, 16)? as i64,
        live_blocks: u64_at(r, 24)? as i64 as f64 / 1000.0,
        allocs: u64_at(r, 32)?,
        frees: u64_at(r, 40)?,
    })
}

/// Parses a sites file: its header and the records it says were claimed (`b` may stop
/// after them). `None` when it is not (yet) a valid file or its claimed records are cut
/// off; records still being written are left out.
pub fn parse_sites(b: &[u8]) -> Option<SiteTable> {
    let (used, mut t) = parse_header(b)?;
    let end = HEADER_LEN.checked_add(used.checked_mul(RECORD_LEN)?)?;
    let records = b.get(HEADER_LEN..end)?;
    t.sites = records
        .chunks_exact(RECORD_LEN)
        .enumerate()
        .filter_map(|(i, r)| parse_record(r, u32::try_from(i).ok()?))
        .collect();
    Some(t)
}

/// The path of `pid`'s sites file in the counters folder `dir`.
pub fn sites_path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{pid}{SITES_SUFFIX}"))
}

/// The pid a counters-folder file name of a sites file names (`"123.sites"` → 123).
pub fn sites_pid(file_name: &str) -> Option<u32> {
    let digits = file_name.strip_suffix(SITES_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads `DIR/PID.sites`: the header, then only the records it says were claimed.
/// `Ok(None)` when the process publishes no sites (no file: sampling off, or the shim
/// not loaded) or the file is not valid yet.
pub fn read_sites(dir: &Path, pid: u32) -> io::Result<Option<SiteTable>> {
    let f = match File::open(sites_path(dir, pid)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; HEADER_LEN];
    if read_full(&f, &mut header, 0)? < HEADER_LEN {
        return Ok(None);
    }
    let Some((used, _)) = parse_header(&header) else {
        return Ok(None);
    };
    // A damaged header cannot make this allocate more than the file holds.
    let in_file = (f.metadata()?.len() as usize).saturating_sub(HEADER_LEN) / RECORD_LEN;
    if used > in_file {
        return Ok(None);
    }
    let mut b = vec![0u8; HEADER_LEN + used * RECORD_LEN];
    b[..HEADER_LEN].copy_from_slice(&header);
    let n = read_full(&f, &mut b[HEADER_LEN..], HEADER_LEN as u64)?;
    b.truncate(HEADER_LEN + n);
    // `used` may have grown since the header was read: the records read are the ones
    // that header claimed, and its counts are as old as they.
    Ok(parse_sites(&b))
}

/// Reads into `buf` at `offset` until it is full or the file ends; the bytes read.
fn read_full(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A header claiming `used` records with `flags`, then those records.
    fn file(pid: u32, used: u32, flags: u32, records: &[Vec<u8>]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(MAGIC.to_ne_bytes());
        b.extend(VERSION.to_ne_bytes());
        b.extend(pid.to_ne_bytes());
        b.extend(524_288u64.to_ne_bytes());
        b.extend(4096u32.to_ne_bytes());
        b.extend(used.to_ne_bytes());
        b.extend(32u32.to_ne_bytes());
        b.extend(flags.to_ne_bytes());
        b.extend(10u64.to_ne_bytes());
        b.extend(1u64.to_ne_bytes());
        b.extend(77u64.to_ne_bytes());
        assert_eq!(b.len(), HEADER_LEN);
        for r in records {
            b.extend(r);
        }
        b
    }

    fn record(frames: &[u64], ready: u32, live: i64, milli: i64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(0xabcdu64.to_ne_bytes());
        r.extend((frames.len() as u32).to_ne_bytes());
        r.extend(ready.to_ne_bytes());
        r.extend(live.to_ne_bytes());
        r.extend(milli.to_ne_bytes());
        r.extend(5u64.to_ne_bytes());
        r.extend(2u64.to_ne_bytes());
        r.resize(64, 0);
        for f in frames {
            r.extend(f.to_ne_bytes());
        }
        r.resize(RECORD_LEN, 0);
        r
    }

    #[test]
    fn magic_spells_soaksite() {
        assert_eq!(&MAGIC.to_le_bytes(), b"SOAKSITE");
    }

    #[test]
    fn records_parse_and_unready_ones_are_left_out() {
        let b = file(
            42,
            3,
            FLAG_EH | FLAG_LIVE_FULL,
            &[
                record(&[0x1000, 0x2000], 1, 123_456, 2_500),
                record(&[0x3000], 0, 9, 9),
                record(&[], 1, -5, -1_000),
            ],
        );
        let t = parse_sites(&b).unwrap();
        assert_eq!(
            (t.pid, t.period, t.samples, t.dropped),
            (42, 524_288, 10, 1)
        );
        assert_eq!(t.unwinder, Unwinder::EhFrame);
        assert!(t.live_full && !t.sites_full);
        assert_eq!(t.created_ns, 77);
        assert_eq!(t.sites.len(), 2, "the record being written is left out");
        let s = &t.sites[0];
        assert_eq!(
            (s.index, s.live_bytes, s.allocs, s.frees),
            (0, 123_456, 5, 2)
        );
        assert_eq!(s.frames, vec![0x1000, 0x2000]);
        assert!((s.live_blocks - 2.5).abs() < 1e-9);
        assert_eq!(t.sites[1].index, 2);
        assert_eq!(t.sites[1].live_bytes, -5);
        assert!(t.sites[1].frames.is_empty());

        assert_eq!(
            parse_sites(&b[..HEADER_LEN + RECORD_LEN]),
            None,
            "claimed records cut off"
        );
        let mut bad = b.clone();
        bad[0] ^= 1;
        assert_eq!(parse_sites(&bad), None, "no magic: not valid yet");
        let fp = parse_sites(&file(1, 0, FLAG_FP | FLAG_SITES_FULL, &[])).unwrap();
        assert_eq!(fp.unwinder, Unwinder::FramePointer);
        assert!(fp.sites_full && fp.sites.is_empty());
        let none = parse_sites(&file(1, 0, 0, &[])).unwrap();
        assert_eq!(none.unwinder, Unwinder::Unknown);
    }

    #[test]
    fn a_frame_count_past_the_record_is_clamped() {
        let mut r = record(&[7; 32], 1, 1, 1);
        r[8..12].copy_from_slice(&1000u32.to_ne_bytes());
        let t = parse_sites(&file(1, 1, 0, &[r])).unwrap();
        assert_eq!(t.sites[0].frames.len(), 32);
    }

    #[test]
    fn files_are_read_by_pid_and_missing_ones_are_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_sites(dir.path(), 7).unwrap(), None);
        // The whole capacity is in the file, as the shim's ftruncate makes it.
        let mut b = file(7, 1, FLAG_EH, &[record(&[0x10], 1, 4096, 1000)]);
        b.resize(HEADER_LEN + 4096 * RECORD_LEN, 0);
        std::fs::write(sites_path(dir.path(), 7), &b).unwrap();
        let t = read_sites(dir.path(), 7).unwrap().unwrap();
        assert_eq!(t.sites.len(), 1);
        assert_eq!(t.sites[0].live_bytes, 4096);
        std::fs::write(sites_path(dir.path(), 8), [0u8; 10]).unwrap();
        assert_eq!(read_sites(dir.path(), 8).unwrap(), None, "too short");
    }

    #[test]
    fn sites_file_names_give_their_pid() {
        assert_eq!(sites_pid("123.sites"), Some(123));
        assert_eq!(sites_pid(".sites"), None);
        assert_eq!(sites_pid("123"), None);
        assert_eq!(sites_pid("1a.sites"), None);
        assert_eq!(sites_pid("+1.sites"), None);
        assert_eq!(sites_path(Path::new("/d"), 9), PathBuf::from("/d/9.sites"));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = parse_sites(&b);
            // With a valid header in front, the records part is what varies.
            let mut f = file(1, u32::from(b.first().copied().unwrap_or(0)), 3, &[]);
            f.extend(&b);
            let _ = parse_sites(&f);
        }
    }
}
