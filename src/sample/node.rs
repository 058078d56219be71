//! Node's own (V8) heap: soak injects a preload script (node_preload.js, embedded) into
//! the commands it starts through `NODE_OPTIONS=--require PATH` (only node reads that
//! variable, so it is harmless for any other program). Each node process of the tree
//! publishes one padded JSON line in `SOAK_RUNTIME_DIR/<pid>`, rewritten in place every
//! second: V8's used heap, the used heap after the last major (mark-compact) collection,
//! and its collection counts. With `--full-gc-every`, the preload also calls `gc()` at
//! that period (`SOAK_NODE_GC_EVERY_MS`).
//!
//! A process soak attaches to (`--pid`) cannot be given the preload.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The preload script.
pub static PRELOAD: &str = include_str!("node_preload.js");

/// One node process's published figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct NodeFigures {
    /// Format version (1).
    pub v: u32,
    /// `process.pid` as node sees it.
    pub pid: u32,
    /// `process.version`, e.g. `v20.11.1`.
    pub node: String,
    /// `v8.getHeapStatistics().used_heap_size`, bytes.
    pub heap_used: u64,
    /// Used heap after the last major collection, once one happened.
    pub after_gc: Option<u64>,
    /// Major (mark-compact) collections seen.
    pub major_gcs: u64,
    /// Other collections (scavenges, incremental marking, weak callbacks) seen.
    pub minor_gcs: u64,
    /// Collections the preload forced (`--full-gc-every`).
    pub forced_gcs: u64,
}

/// Parses a published file: the first line, trailing padding ignored. `None` for
/// anything else (an empty file, a torn write, another format).
pub fn parse(b: &[u8]) -> Option<NodeFigures> {
    let line = b.split(|&c| c == b'\n').next()?;
    let f: NodeFigures = serde_json::from_slice(line.trim_ascii()).ok()?;
    (f.v == 1).then_some(f)
}

/// The preload written out and the folder node processes publish in; both removed
/// when dropped.
pub struct NodeFiles {
    dir: PathBuf,
    script: PathBuf,
    gc_every: Option<Duration>,
}

impl NodeFiles {
    /// Makes the folder (in /dev/shm when there is one) and writes the preload in it;
    /// what was made before a failure is removed.
    pub fn create(run_dir: &Path, gc_every: Option<Duration>) -> io::Result<NodeFiles> {
        let f = Self::plan(run_dir, gc_every);
        f.make()?;
        Ok(f)
    }

    /// Chooses the paths without creating anything (see [`crate::sample::heap::HeapFiles::plan`]).
    pub fn plan(run_dir: &Path, gc_every: Option<Duration>) -> NodeFiles {
        let dir = crate::sample::heap::shared_dir("soak-runtime", run_dir);
        let script = dir.join("soak-node-preload.js");
        NodeFiles {
            dir,
            script,
            gc_every,
        }
    }

    /// Creates the planned folder and preload (dropping `self` removes them again).
    pub fn make(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(&self.script, PRELOAD)
    }

    /// The folder node processes publish in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment that injects the preload: `--require` appended to any
    /// NODE_OPTIONS soak was given.
    pub fn env(&self) -> Vec<(String, String)> {
        let script = self.script.display().to_string();
        let require = if script.contains([' ', '"', '\\']) {
            format!(
                "--require \"{}\"",
                script.replace('\\', "\\\\").replace('"', "\\\"")
            )
        } else {
            format!("--require {script}")
        };
        let options = match std::env::var("NODE_OPTIONS") {
            Ok(existing) if !existing.trim().is_empty() => format!("{existing} {require}"),
            _ => require,
        };
        let mut env = vec![
            ("NODE_OPTIONS".to_string(), options),
            (
                "SOAK_RUNTIME_DIR".to_string(),
                self.dir.display().to_string(),
            ),
        ];
        if let Some(p) = self.gc_every {
            env.push((
                "SOAK_NODE_GC_EVERY_MS".to_string(),
                p.as_millis().max(1).to_string(),
            ));
        }
        env
    }

    /// A reader of this folder.
    pub fn reader(&self) -> NodeReader {
        NodeReader {
            dir: self.dir.clone(),
            path: PathBuf::new(),
            open: HashMap::new(),
            looked: HashMap::new(),
            last: HashMap::new(),
            ever: std::collections::BTreeMap::new(),
            buf: Vec::with_capacity(1024),
        }
    }
}

impl Drop for NodeFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How often a process with no published file is looked for again: the preload
/// publishes once a second, and a member that is not node (most of them) then costs a
/// failed `open` twice a second, not at every tick.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Reads the node processes' published figures.
pub struct NodeReader {
    dir: PathBuf,
    /// Reused for the file name of a pid.
    path: PathBuf,
    /// The published files found, kept open (the preload rewrites them in place).
    open: HashMap<u32, std::fs::File>,
    /// Pids without a file yet: when they were last looked for.
    looked: HashMap<u32, std::time::Instant>,
    /// The last good figures of each pid (a torn read keeps them) and the text they
    /// were parsed from (an unchanged text is not parsed again).
    last: HashMap<u32, (NodeFigures, Vec<u8>)>,
    /// Every node process seen during the run, with its latest figures.
    ever: std::collections::BTreeMap<u32, NodeFigures>,
    buf: Vec<u8>,
}

impl NodeReader {
    /// The figures `pid` published, if it is a node process that loaded the preload.
    pub fn read(&mut self, pid: u32) -> Option<NodeFigures> {
        self.read_heap(pid)?;
        self.last.get(&pid).map(|(f, _)| f.clone())
    }

    /// The used heap and the used heap after the last major collection that `pid`
    /// published, without allocating once its text is unchanged.
    pub fn read_heap(&mut self, pid: u32) -> Option<(u64, Option<u64>)> {
        use std::os::unix::fs::FileExt;
        if !self.open.contains_key(&pid) {
            let now = std::time::Instant::now();
            if let Some(t) = self.looked.get(&pid) {
                if now.duration_since(*t) < LOOK_EVERY {
                    return None;
                }
            }
            self.path.clear();
            self.path.push(&self.dir);
            self.path.push(itoa(pid, &mut [0u8; 10]));
            match std::fs::File::open(&self.path) {
                Ok(f) => {
                    self.looked.remove(&pid);
                    self.open.insert(pid, f);
                }
                Err(_) => {
                    self.looked.insert(pid, now);
                    return None;
                }
            }
        }
        let f = self.open.get(&pid)?;
        self.buf.resize(1024, 0);
        let ok = f
            .read_at(&mut self.buf, 0)
            .map(|n| self.buf.truncate(n))
            .is_ok();
        let unchanged = self.last.get(&pid).is_some_and(|(_, raw)| *raw == self.buf);
        if ok && !unchanged {
            if let Some(f) = parse(&self.buf) {
                self.ever.insert(pid, f.clone());
                self.last.insert(pid, (f, self.buf.clone()));
            }
        }
        self.last.get(&pid).map(|(f, _)| (f.heap_used, f.after_gc))
    }

    /// Forgets processes no longer tracked.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.last.retain(|pid, _| keep(*pid));
        self.open.retain(|pid, _| keep(*pid));
        self.looked.retain(|pid, _| keep(*pid));
    }

    /// Every node process seen during the run (by pid), with its latest figures.
    pub fn seen(&self) -> Vec<NodeFigures> {
        self.ever.values().cloned().collect()
    }
}

/// `n` in decimal, in `buf` (a file name without allocating).
fn itoa(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_preload_line() {
        let mut line = br#"{"v":1,"pid":42,"node":"v20.20.2","heap_used":7743744,"after_gc":7742784,"major_gcs":2,"minor_gcs":5,"forced_gcs":2,"t":1795882923326}"#.to_vec();
        line.resize(511, b' ');
        line.push(b'\n');
        let f = parse(&line).unwrap();
        assert_eq!(f.pid, 42);
        assert_eq!(f.heap_used, 7_743_744);
        assert_eq!(f.after_gc, Some(7_742_784));
        assert_eq!((f.major_gcs, f.forced_gcs), (2, 2));
        let none = br#"{"v":1,"pid":4,"node":"v20","heap_used":1,"after_gc":null,"major_gcs":0,"minor_gcs":0,"forced_gcs":0}"#;
        assert_eq!(parse(none).unwrap().after_gc, None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(br#"{"v":1,"pid":4,"#), None);
        assert_eq!(parse(br#"{"v":2,"pid":4,"node":"v20","heap_used":1,"after_gc":null,"major_gcs":0,"minor_gcs":0,"forced_gcs":0}"#), None);
    }

    #[test]
    fn env_appends_to_node_options() {
        let dir = tempfile::tempdir().unwrap();
        let files = NodeFiles::create(dir.path(), Some(Duration::from_secs(2))).unwrap();
        let env = files.env();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert!(get("NODE_OPTIONS").unwrap().contains("--require "));
        assert_eq!(get("SOAK_NODE_GC_EVERY_MS").as_deref(), Some("2000"));
        assert_eq!(
            std::fs::read_to_string(files.dir().join("soak-node-preload.js")).unwrap(),
            PRELOAD
        );
        let d = files.dir().to_path_buf();
        drop(files);
        assert!(!d.exists(), "removed when dropped");
    }

    /// The preload's own output, from a real node when there is one (the integration
    /// tests in tests/runtime_heap.rs require it under CI).
    #[test]
    fn preload_output_parses() {
        let Ok(out) = std::process::Command::new("node").arg("--version").output() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "node is missing under CI: .ci/run installs nodejs"
            );
            return;
        };
        assert!(out.status.success());
        let dir = tempfile::tempdir().unwrap();
        let files = NodeFiles::create(dir.path(), None).unwrap();
        let st = std::process::Command::new("node")
            .args(["-e", "globalThis.keep = new Array(1e5).fill(1)"])
            .envs(files.env())
            .status()
            .unwrap();
        assert!(st.success());
        let published: Vec<_> = std::fs::read_dir(files.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "soak-node-preload.js")
            .collect();
        assert_eq!(published.len(), 1, "one file per process");
        let bytes = std::fs::read(published[0].path()).unwrap();
        assert_eq!(bytes.len(), 512, "fixed width");
        let f = parse(&bytes).unwrap();
        assert!(f.heap_used > 1_000_000 && f.node.starts_with('v'), "{f:?}");
    }
}
