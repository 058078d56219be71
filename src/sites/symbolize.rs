//! Return addresses of a target process → readable frames, in soak (never in the target):
//! each [`Location`] is symbolized against its file with blazesym (ELF symbols, DWARF
//! file:line and inlined functions, Rust and C++ demangling). Files, not the process, are
//! the source, so a target that has exited can still be symbolized from maps read while
//! it lived. Without the `cli` feature (the in-process library, which must not pull a
//! symbolizer) every frame is "module+0xoffset".

use super::maps::Location;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A frame for the report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Frame {
    /// Demangled function name (Rust hash suffix removed); `None` when the file has no
    /// symbol for the address (stripped, JIT code, unreadable file).
    pub function: Option<String>,
    /// Source file where DWARF says (as the compiler recorded it, usually absolute).
    pub file: Option<String>,
    /// Source line where DWARF says.
    pub line: Option<u32>,
    /// File name of the mapping ("redis-server", "libc.so.6"), `[vdso]`, or `[anon]`.
    pub module: String,
    /// Offset in the module's file, or the address itself for `[anon]`.
    pub offset: u64,
}

impl Frame {
    /// "fn (file:line)" or "fn (module)" or "module+0x1234": the string form reports show.
    pub fn display(&self) -> String {
        match (&self.function, &self.file, self.line) {
            (Some(f), Some(file), Some(line)) => format!("{f} ({file}:{line})"),
            (Some(f), Some(file), None) => format!("{f} ({file})"),
            (Some(f), None, _) => format!("{f} ({})", self.module),
            (None, _, _) => self.bare(),
        }
    }

    /// "module+0x1234".
    fn bare(&self) -> String {
        format!("{}+{:#x}", self.module, self.offset)
    }

    /// The unsymbolized frame of a location.
    fn unknown(location: &Location) -> Frame {
        let (module, offset) = match location {
            Location::File { path, file_offset } => (module_name(path), *file_offset),
            Location::Anonymous { addr } => ("[anon]".to_string(), *addr),
        };
        Frame {
            function: None,
            file: None,
            line: None,
            module,
            offset,
        }
    }
}

/// The file name of a mapping's path; the whole path when it has none (`[vdso]`).
fn module_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// Symbolizes locations, caching each file's results (the same sites recur in every
/// batch of a run); blazesym itself keeps each file's parsed ELF and DWARF open.
/// Not `Send` with the `cli` feature (blazesym's symbolizer is not).
pub struct Symbolizer {
    #[cfg(feature = "cli")]
    inner: blazesym::symbolize::Symbolizer,
    /// Per file: the frames of each offset seen, innermost (inlined) first.
    cache: HashMap<PathBuf, FileCache>,
}

/// One file's results, valid while the file is the same one.
#[derive(Default)]
struct FileCache {
    /// Device, inode and modification time when cached: a program rebuilt under the
    /// same path during a run must not be named with the old build's frames.
    id: Option<(u64, u64, i64, i64)>,
    frames: HashMap<u64, Vec<Frame>>,
}

/// What identifies the file now at `path` (None when it cannot be read).
fn file_id(path: &Path) -> Option<(u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbolizer {
    /// A symbolizer with empty caches.
    pub fn new() -> Self {
        Symbolizer {
            #[cfg(feature = "cli")]
            // Auto-reload (the default) re-reads a file replaced since it was parsed,
            // like the cache below.
            inner: blazesym::symbolize::Symbolizer::new(),
            cache: HashMap::new(),
        }
    }

    /// The frames of `locations` (one stack, innermost first), in order. A location in
    /// inlined code gives several frames, the innermost inlined function first, so the
    /// result may be longer than the input. Never fails: what cannot be symbolized is a
    /// "module+0xoffset" frame.
    pub fn symbolize(&mut self, locations: &[Location]) -> Vec<Frame> {
        // The offsets of each file in this batch.
        let mut by_file: HashMap<&Path, Vec<u64>> = HashMap::new();
        for l in locations {
            if let Location::File { path, file_offset } = l {
                by_file
                    .entry(path.as_path())
                    .or_default()
                    .push(*file_offset);
            }
        }
        // One stat per file per batch (a file replaced since is symbolized anew), then one
        // blazesym call per file for the offsets not seen before.
        let mut todo: Vec<(&Path, Vec<u64>)> = Vec::new();
        for (path, mut offsets) in by_file {
            let id = file_id(path);
            let c = self.cache.entry(path.to_path_buf()).or_default();
            if c.id != id {
                *c = FileCache {
                    id,
                    frames: HashMap::new(),
                };
            }
            offsets.retain(|o| !c.frames.contains_key(o));
            offsets.sort_unstable();
            offsets.dedup();
            if !offsets.is_empty() {
                todo.push((path, offsets));
            }
        }
        for (path, offsets) in todo {
            let frames = self.symbolize_file(path, &offsets);
            let cache = self.cache.entry(path.to_path_buf()).or_default();
            cache.frames.extend(offsets.into_iter().zip(frames));
        }
        let mut out = Vec::with_capacity(locations.len());
        for l in locations {
            let cached = match l {
                Location::File { path, file_offset } => self
                    .cache
                    .get(path.as_path())
                    .and_then(|c| c.frames.get(file_offset)),
                Location::Anonymous { .. } => None,
            };
            match cached {
                Some(frames) if !frames.is_empty() => out.extend(frames.iter().cloned()),
                _ => out.push(Frame::unknown(l)),
            }
        }
        out
    }

    /// The frames of each offset in `path` (one entry per offset, in order).
    #[cfg(feature = "cli")]
    fn symbolize_file(&self, path: &Path, offsets: &[u64]) -> Vec<Vec<Frame>> {
        use blazesym::symbolize::source::{Elf, Source};
        use blazesym::symbolize::{CodeInfo, Input, Symbolized};

        let module = module_name(path);
        let unknown = |offset: u64| Frame {
            function: None,
            file: None,
            line: None,
            module: module.clone(),
            offset,
        };
        // Only real files: "[vdso]" and "… (deleted)" (a replaced file: see maps) stay
        // bare rather than being looked up under some other file's name.
        let readable = path.is_absolute() && path.is_file();
        let syms = if readable {
            let src = Source::Elf(Elf::new(path));
            self.inner.symbolize(&src, Input::FileOffset(offsets)).ok()
        } else {
            None
        };
        let Some(syms) = syms else {
            return offsets.iter().map(|o| vec![unknown(*o)]).collect();
        };
        let code = |c: Option<&CodeInfo>| match c {
            Some(c) => (Some(c.to_path().to_string_lossy().into_owned()), c.line),
            None => (None, None),
        };
        offsets
            .iter()
            .zip(syms)
            .map(|(offset, s)| match s {
                Symbolized::Sym(sym) => {
                    // blazesym lists inlined calls outermost first, each with the
                    // location inside it (the last one's is the address's own line);
                    // the report reads innermost first.
                    let mut frames = Vec::with_capacity(1 + sym.inlined.len());
                    for f in sym.inlined.iter().rev() {
                        let (file, line) = code(f.code_info.as_ref());
                        frames.push(Frame {
                            function: Some(f.name.to_string()),
                            file,
                            line,
                            module: module.clone(),
                            offset: *offset,
                        });
                    }
                    let (file, line) = code(sym.code_info.as_deref());
                    frames.push(Frame {
                        function: Some(sym.name.to_string()),
                        file,
                        line,
                        module: module.clone(),
                        offset: *offset,
                    });
                    frames
                }
                Symbolized::Unknown(_) => vec![unknown(*offset)],
            })
            .collect()
    }

    /// Without the `cli` feature there is no symbolizer: bare frames.
    #[cfg(not(feature = "cli"))]
    fn symbolize_file(&self, path: &Path, offsets: &[u64]) -> Vec<Vec<Frame>> {
        offsets
            .iter()
            .map(|o| {
                vec![Frame::unknown(&Location::File {
                    path: path.to_path_buf(),
                    file_offset: *o,
                })]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "cli")]
    use crate::sites::maps::Maps;

    #[test]
    fn display_forms() {
        let mut f = Frame {
            function: Some("app::leak".into()),
            file: Some("src/app.rs".into()),
            line: Some(12),
            module: "app".into(),
            offset: 0x1234,
        };
        assert_eq!(f.display(), "app::leak (src/app.rs:12)");
        f.line = None;
        assert_eq!(f.display(), "app::leak (src/app.rs)");
        f.file = None;
        assert_eq!(f.display(), "app::leak (app)");
        f.function = None;
        assert_eq!(f.display(), "app+0x1234");
    }

    #[test]
    fn unknown_locations_stay_bare() {
        let mut s = Symbolizer::new();
        let frames = s.symbolize(&[
            Location::Anonymous { addr: 0xdead },
            Location::File {
                path: PathBuf::from("/nonexistent/libgone.so"),
                file_offset: 0x10,
            },
            Location::File {
                path: PathBuf::from("/tmp/x/app (deleted)"),
                file_offset: 0x20,
            },
            Location::File {
                path: PathBuf::from("[vdso]"),
                file_offset: 0x30,
            },
        ]);
        let shown: Vec<String> = frames.iter().map(Frame::display).collect();
        assert_eq!(
            shown,
            vec![
                "[anon]+0xdead",
                "libgone.so+0x10",
                "app (deleted)+0x20",
                "[vdso]+0x30"
            ]
        );
    }

    /// A function to find in this test binary's own debug info. Returns glibc's
    /// backtrace (real return addresses, innermost first, as the heap shim captures
    /// them) and the line of the call inside it.
    #[cfg(feature = "cli")]
    #[inline(never)]
    fn marker_function() -> (Vec<u64>, u32) {
        let mut buf = [std::ptr::null_mut(); 8];
        let line = line!() + 2;
        // SAFETY: backtrace writes at most `size` pointers into the buffer.
        let n = unsafe { libc::backtrace(buf.as_mut_ptr(), buf.len() as i32) };
        let addrs = buf[..n.max(0) as usize].iter().map(|p| *p as u64).collect();
        (addrs, line)
    }

    #[cfg(feature = "cli")]
    #[test]
    fn symbolizes_this_process() {
        let (stack, line) = marker_function();
        let maps = Maps::read(std::process::id()).unwrap();
        let fn_addr = marker_function as *const () as usize as u64;
        // locate() looks up addr - 1 (return addresses): +1 for the function's first byte;
        // stack[0] is the return address of the backtrace call, inside marker_function.
        let start = maps.locate(fn_addr + 1);
        let ret = maps.locate(*stack.first().unwrap());
        assert!(matches!(start, Location::File { .. }), "{start:?}");
        let mut s = Symbolizer::new();
        let frames = s.symbolize(&[start.clone(), ret.clone()]);
        assert_eq!(frames.len(), 2, "{frames:#?}");
        let this_file = |f: &Frame| {
            f.file
                .as_deref()
                .is_some_and(|p| p.ends_with("src/sites/symbolize.rs"))
        };
        for f in &frames {
            assert!(
                f.function
                    .as_deref()
                    .is_some_and(|n| n.ends_with("sites::symbolize::tests::marker_function")),
                "{f:?}"
            );
            assert!(this_file(f), "{f:?}");
            assert!(
                !f.display().contains("::h"),
                "no hash suffix: {}",
                f.display()
            );
        }
        assert!(
            frames[0].line.is_some_and(|l| l < line && l + 10 > line),
            "the function's first line: {:?}",
            frames[0]
        );
        assert_eq!(
            frames[1].line,
            Some(line),
            "the call's line: {:?}",
            frames[1]
        );
        let module = std::env::current_exe().unwrap();
        assert_eq!(frames[1].module, module_name(&module));
        // Cached: the same answer again, also for the caller's frame.
        let caller = maps.locate(stack[1]);
        let again = s.symbolize(&[ret, caller]);
        assert_eq!(again[0], frames[1]);
        assert!(
            again[1..].iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|n| n.ends_with("symbolizes_this_process"))),
            "{again:#?}"
        );
    }
}
