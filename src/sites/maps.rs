//! The executable mappings of a target process (`/proc/PID/maps`), read while it lives so
//! that its sampled return addresses can still be placed in a file after it exits.
//!
//! Which path a [`Mapping`] holds (decided by [`Maps::read`], where the process is known):
//! 1. the path as written in maps, when that file is the mapped one (same inode): it
//!    still opens after the target exits;
//! 2. otherwise `/proc/PID/root/<path>` when that is the mapped file: a target in
//!    another mount namespace (a container) whose files the monitor cannot see under
//!    the plain path. It opens only while the target lives, so symbolize before it exits;
//! 3. otherwise the path as written, " (deleted)" suffix included: the file was replaced
//!    or removed since it was mapped (a rebuild during the run). Symbolizing a different
//!    build would give plausible but wrong names; such a path fails to open and its frames
//!    degrade to "module+0xoffset".

use std::path::{Path, PathBuf};

/// One file-backed executable mapping of a process (from /proc/PID/maps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    /// Offset in the file of the byte mapped at `start`.
    pub file_offset: u64,
    /// The file to symbolize against (see the module docs for which path), or `[vdso]`.
    pub path: PathBuf,
}

/// The executable mappings of a process at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maps {
    /// Sorted by start (they overlap only in malformed text; locate then picks the
    /// last one starting at or before the address).
    mappings: Vec<Mapping>,
}

/// Where an address lies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// In a file's mapping (or `[vdso]`): the file and the offset in it.
    File {
        /// The mapping's path (see the module docs).
        path: PathBuf,
        /// Offset in the file of the looked-up address (`addr - 1`, see [`Maps::locate`]).
        file_offset: u64,
    },
    /// Outside every executable file mapping: JIT code, `[heap]`, unmapped.
    Anonymous {
        /// The address as given.
        addr: u64,
    },
}

/// One line of maps, before its path is resolved.
struct Entry {
    mapping: Mapping,
    inode: u64,
}

impl Maps {
    /// Reads `/proc/PID/maps` and resolves each path as the module docs say.
    pub fn read(pid: u32) -> std::io::Result<Maps> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
        let root = PathBuf::from(format!("/proc/{pid}/root"));
        let mappings = entries(&text)
            .into_iter()
            .map(|e| Mapping {
                path: resolve(&e.mapping.path, e.inode, &root),
                ..e.mapping
            })
            .collect();
        Ok(Maps::sorted(mappings))
    }

    /// Parses maps text without touching the file system (paths as written, " (deleted)"
    /// included). Never panics; keeps only executable mappings of an absolute path, and
    /// `[vdso]`.
    pub fn parse(text: &str) -> Maps {
        Maps::sorted(entries(text).into_iter().map(|e| e.mapping).collect())
    }

    fn sorted(mut mappings: Vec<Mapping>) -> Maps {
        mappings.sort_by_key(|m| m.start);
        Maps { mappings }
    }

    /// The mappings, sorted by start.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Where the return address `addr` lies. A return address points after the call,
    /// which may be past the end of the calling function (a call to a no-return
    /// function ends it), so this looks up `addr - 1` and reports that byte's offset:
    /// symbolizing it lands inside the call instruction. To locate a function's own
    /// start address, pass it plus one.
    pub fn locate(&self, addr: u64) -> Location {
        let Some(at) = addr.checked_sub(1) else {
            return Location::Anonymous { addr };
        };
        let i = self.mappings.partition_point(|m| m.start <= at);
        match i.checked_sub(1).and_then(|i| self.mappings.get(i)) {
            Some(m) if at < m.end => Location::File {
                path: m.path.clone(),
                file_offset: m.file_offset.saturating_add(at - m.start),
            },
            _ => Location::Anonymous { addr },
        }
    }
}

/// The executable file mappings of maps text, paths as written.
fn entries(text: &str) -> Vec<Entry> {
    text.lines().filter_map(entry).collect()
}

/// "start-end perms offset dev inode   path": the path is the rest of the line after
/// the inode and may hold spaces.
fn entry(line: &str) -> Option<Entry> {
    let mut rest = line;
    let mut field = || {
        let t = rest.trim_start_matches(' ');
        let end = t.find(' ').unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        f
    };
    let range = field();
    let perms = field();
    let offset = field();
    let _dev = field();
    let inode = field();
    let path = rest.trim_start_matches(' ');
    if perms.as_bytes().get(2) != Some(&b'x') || !(path.starts_with('/') || path == "[vdso]") {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    if end <= start {
        return None;
    }
    Some(Entry {
        mapping: Mapping {
            start,
            end,
            file_offset: u64::from_str_radix(offset, 16).ok()?,
            path: PathBuf::from(path),
        },
        inode: inode.parse().ok()?,
    })
}

/// The path to open for a mapping of `path` (as written in maps) with `inode`, for the
/// process whose root is `root` (see the module docs).
fn resolve(path: &Path, inode: u64, root: &Path) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path.to_path_buf();
    };
    if !text.starts_with('/') {
        return path.to_path_buf();
    }
    // A file deleted after mapping is shown with this suffix; a file replaced under the same
    // name too. The inode comparison below catches both: the name then names another file.
    let plain = Path::new(text.strip_suffix(" (deleted)").unwrap_or(text));
    let is_mapped = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.ino() == inode)
    };
    if is_mapped(plain) {
        return plain.to_path_buf();
    }
    let in_root = root.join(plain.strip_prefix("/").unwrap_or(plain));
    if is_mapped(&in_root) {
        return in_root;
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Real text (a Rust binary in a container, plus hand-made lines for the odd cases).
    const TEXT: &str = "\
55d4e6a00000-55d4e6a2c000 r--p 00000000 08:01 1311204                    /usr/local/bin/my server
55d4e6a2c000-55d4e6b90000 r-xp 0002c000 08:01 1311204                    /usr/local/bin/my server
55d4e6b90000-55d4e6bf0000 r--p 00190000 08:01 1311204                    /usr/local/bin/my server
55d4e7ef5000-55d4e7f16000 rw-p 00000000 00:00 0                          [heap]
7f3a5c000000-7f3a5c021000 rw-p 00000000 00:00 0 
7f3a5d628000-7f3a5d650000 r--p 00000000 08:01 2097301                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f3a5d650000-7f3a5d7e5000 r-xp 00028000 08:01 2097301                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f3a5d7e5000-7f3a5d83d000 r--p 001bd000 08:01 2097301                    /usr/lib/x86_64-linux-gnu/libc.so.6
7f3a5d900000-7f3a5d905000 r-xp 00001000 00:2a 77                         /tmp/run/.soak-heap-shim.so (deleted)
7f3a5da00000-7f3a5da10000 r-xp 00000000 00:00 0                          
7f3a5dbd1000-7f3a5dbd3000 r-xp 00001000 08:01 2097298                    /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffd2b1c0000-7ffd2b1e1000 rw-p 00000000 00:00 0                          [stack]
7ffd2b1f6000-7ffd2b1fa000 r--p 00000000 00:00 0                          [vvar]
7ffd2b1fa000-7ffd2b1fc000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn parse_keeps_executable_file_mappings_and_vdso() {
        let m = Maps::parse(TEXT);
        let paths: Vec<&str> = m
            .mappings()
            .iter()
            .map(|m| m.path.to_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                "/usr/local/bin/my server",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/tmp/run/.soak-heap-shim.so (deleted)",
                "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "[vdso]",
            ]
        );
        assert_eq!(
            m.mappings()[0],
            Mapping {
                start: 0x55d4e6a2c000,
                end: 0x55d4e6b90000,
                file_offset: 0x2c000,
                path: PathBuf::from("/usr/local/bin/my server"),
            }
        );
    }

    #[test]
    fn locate_looks_up_the_byte_before_a_return_address() {
        let m = Maps::parse(TEXT);
        let libc = PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6");
        // The first byte of the mapping belongs to it only as addr - 1 of the next address.
        assert_eq!(
            m.locate(0x7f3a5d650001),
            Location::File {
                path: libc.clone(),
                file_offset: 0x28000
            }
        );
        assert_eq!(
            m.locate(0x7f3a5d650000),
            Location::Anonymous {
                addr: 0x7f3a5d650000
            }
        );
        // A return address just past the end still belongs to the mapping (its last byte).
        assert_eq!(
            m.locate(0x7f3a5d7e5000),
            Location::File {
                path: libc,
                file_offset: 0x28000 + 0x7f3a5d7e5000 - 1 - 0x7f3a5d650000
            }
        );
        assert_eq!(
            m.locate(0x7f3a5d7e5001),
            Location::Anonymous {
                addr: 0x7f3a5d7e5001
            }
        );
        // [heap], anonymous executable memory (JIT), unmapped, zero.
        for a in [0x55d4e7ef5010, 0x7f3a5da00100, 0x1000, 0, u64::MAX] {
            assert_eq!(m.locate(a), Location::Anonymous { addr: a });
        }
        assert!(
            matches!(m.locate(0x7ffd2b1fa100), Location::File { path, file_offset: 0xff } if path == Path::new("[vdso]"))
        );
        assert_eq!(Maps::parse("").locate(5), Location::Anonymous { addr: 5 });
    }

    #[test]
    fn read_resolves_this_process_paths() {
        let m = Maps::read(std::process::id()).unwrap();
        let exe = std::env::current_exe().unwrap();
        let here = m.locate(read_resolves_this_process_paths as *const () as usize as u64 + 1);
        assert_eq!(
            here,
            Location::File {
                path: exe,
                file_offset: match &here {
                    Location::File { file_offset, .. } => *file_offset,
                    Location::Anonymous { .. } => u64::MAX,
                }
            },
            "the test binary exists under its plain path"
        );
    }

    #[test]
    fn resolve_prefers_the_plain_path_then_the_process_root_then_as_written() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("app")).unwrap();
        let inner = root.join("app/server");
        std::fs::write(&inner, b"x").unwrap();
        let ino = std::fs::metadata(&inner).unwrap().ino();
        // Only in the "container": the plain path does not exist here.
        assert_eq!(resolve(Path::new("/app/server"), ino, &root), inner);
        // The plain path is the mapped file.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"y").unwrap();
        let pino = std::fs::metadata(&plain).unwrap().ino();
        assert_eq!(resolve(&plain, pino, &root), plain);
        // Deleted: the suffix stays on a name that is not the mapped file any more.
        let gone = PathBuf::from(format!("{} (deleted)", plain.display()));
        assert_eq!(resolve(&gone, pino + 1, &root), gone);
        // Deleted but still the same inode under the plain name: hard-link replaced back.
        assert_eq!(resolve(&gone, pino, &root), plain);
        assert_eq!(
            resolve(Path::new("[vdso]"), 0, &root),
            PathBuf::from("[vdso]")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC*") {
            let m = Maps::parse(&text);
            let _ = m.locate(0x1000);
        }

        #[test]
        fn parse_never_panics_on_maps_like_lines(
            lines in proptest::collection::vec(
                "[0-9a-f]{0,17}-[0-9a-f]{0,17} [-rwxps]{0,5} [0-9a-f]{0,17} [0-9:a-f]{0,6} [0-9]{0,21} {0,20}(/[ -~]{0,20}|\\[vdso\\]|)",
                0..8),
            addr in any::<u64>(),
        ) {
            let m = Maps::parse(&lines.join("\n"));
            for w in m.mappings().windows(2) {
                prop_assert!(w[0].start <= w[1].start);
            }
            if let Location::File { file_offset, .. } = m.locate(addr) {
                let _ = file_offset;
            }
        }
    }
}
