//! Container memory from the container's cgroup (v1 or v2), and the same figures from the
//! Docker Engine's stats API when the cgroup files cannot be read.
//!
//! The contract's columns are filled so that a container's timeline reads like a
//! process tree's: `rss_bytes` is anonymous plus mapped file memory (what the processes'
//! summed VmRSS approximates), `anon_bytes` the cgroup's anonymous memory, and so on. The
//! cgroup's own totals go in three extra columns at the end: `usage_bytes` (what the
//! memory limit is enforced on), `working_set_bytes` (usage minus inactive file, as the
//! kubelet computes it for eviction) and `oom_kills`.

use super::procfs::ProcReader;
use super::Sample;
use crate::sample::Col;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// One cgroup's memory figures, version-neutral.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemFigures {
    /// Charged memory (v1 memory.usage_in_bytes, v2 memory.current).
    pub usage: u64,
    /// Anonymous memory (v1 total_rss, v2 anon).
    pub anon: u64,
    /// File pages mapped by the processes (v1 total_mapped_file, v2 file_mapped).
    pub mapped_file: u64,
    /// Shared memory (v1 total_shmem, v2 shmem).
    pub shmem: u64,
    /// Inactive file cache, the part of usage the kernel reclaims first.
    pub inactive_file: u64,
    /// Swapped-out memory, when the cgroup accounts swap.
    pub swap: u64,
    /// OOM kills inside the cgroup (v1 memory.oom_control, v2 memory.events).
    pub oom_kills: u64,
}

impl MemFigures {
    /// Usage minus inactive file, never below zero (the kubelet's working set).
    pub fn working_set(&self) -> u64 {
        self.usage.saturating_sub(self.inactive_file)
    }

    /// Fills a sample's memory columns.
    fn into_sample(self, threads: u64, processes: u64, fds: u64, cpu_s: f64) -> Sample {
        Sample {
            rss_bytes: self.anon + self.mapped_file,
            anon_bytes: self.anon,
            file_bytes: self.mapped_file,
            shmem_bytes: self.shmem,
            swap_bytes: self.swap,
            threads,
            fds,
            cpu_s,
            processes,
            usage_bytes: self.usage,
            working_set_bytes: self.working_set(),
            oom_kills: self.oom_kills,
            ..Sample::default()
        }
    }
}

/// A container's cgroup as a source: the container's end removes the cgroup, which
/// reads as the target being gone.
impl super::Source for CgroupReader {
    fn read(&mut self) -> io::Result<Option<Sample>> {
        match CgroupReader::read(self) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn sources(&self) -> BTreeMap<String, String> {
        CgroupReader::sources(self)
    }
}

/// `key value` lines (memory.stat, memory.events, cpu.stat) → the value of `key`.
pub fn kv(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Parses cgroup v1 memory.stat (hierarchical `total_*` keys) with usage and oom_control.
pub fn parse_v1(stat: &str, usage: &str, oom_control: &str) -> Option<MemFigures> {
    let g = |k: &str| kv(stat, k);
    Some(MemFigures {
        usage: usage.trim().parse().ok()?,
        anon: g("total_rss")?,
        mapped_file: g("total_mapped_file").unwrap_or(0),
        shmem: g("total_shmem").unwrap_or(0),
        inactive_file: g("total_inactive_file").unwrap_or(0),
        swap: g("total_swap").unwrap_or(0),
        oom_kills: kv(oom_control, "oom_kill").unwrap_or(0),
    })
}

/// Parses cgroup v2 memory.stat with memory.current, memory.swap.current and memory.events.
pub fn parse_v2(stat: &str, current: &str, swap: Option<&str>, events: &str) -> Option<MemFigures> {
    let g = |k: &str| kv(stat, k);
    Some(MemFigures {
        usage: current.trim().parse().ok()?,
        anon: g("anon")?,
        mapped_file: g("file_mapped").unwrap_or(0),
        shmem: g("shmem").unwrap_or(0),
        inactive_file: g("inactive_file").unwrap_or(0),
        swap: swap.and_then(|s| s.trim().parse().ok()).unwrap_or(0),
        oom_kills: kv(events, "oom_kill").unwrap_or(0),
    })
}

/// Where a container's cgroup files are.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// cgroup v1: one folder per controller.
    V1 {
        /// The memory controller's folder.
        memory: PathBuf,
        /// cpuacct's folder, when mounted.
        cpuacct: Option<PathBuf>,
        /// The pids controller's folder, when mounted.
        pids: Option<PathBuf>,
    },
    /// cgroup v2: one folder.
    V2 {
        /// The unified folder.
        dir: PathBuf,
    },
}

impl Layout {
    /// The file holding the cgroup's `oom_kill` count.
    pub fn oom_file(&self) -> PathBuf {
        match self {
            Layout::V1 { memory, .. } => memory.join("memory.oom_control"),
            Layout::V2 { dir } => dir.join("memory.events"),
        }
    }
}

/// Finds a process's cgroup folders under `root` (normally /sys/fs/cgroup) from the
/// text of its `/proc/PID/cgroup`. v1 controllers win where the memory controller is
/// mounted as v1 (a hybrid host has both, but memory is then accounted in v1 only).
pub fn locate(root: &Path, proc_cgroup: &str) -> Option<Layout> {
    let mut v1: BTreeMap<&str, &str> = BTreeMap::new();
    let mut v2: Option<&str> = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            v2 = Some(path);
        } else {
            for c in ctrls.split(',') {
                v1.insert(c, path);
            }
        }
    }
    // A v1 controller is mounted under a folder named after it, or after the
    // comma-joined set it is co-mounted with (cpu,cpuacct).
    let v1_dir = |ctrl: &str| -> Option<PathBuf> {
        let path = v1.get(ctrl)?.trim_start_matches('/');
        let mut names = vec![ctrl.to_string()];
        if ctrl == "cpuacct" || ctrl == "cpu" {
            names.push("cpu,cpuacct".into());
            names.push("cpuacct,cpu".into());
        }
        names
            .into_iter()
            .map(|n| root.join(n).join(path))
            .find(|d| d.is_dir())
    };
    if let Some(memory) = v1_dir("memory").filter(|d| d.join("memory.stat").exists()) {
        return Some(Layout::V1 {
            memory,
            cpuacct: v1_dir("cpuacct"),
            pids: v1_dir("pids"),
        });
    }
    let dir = root.join(v2?.trim_start_matches('/'));
    dir.join("memory.stat")
        .exists()
        .then_some(Layout::V2 { dir })
}

/// Reads a container's cgroup each tick.
pub struct CgroupReader {
    layout: Layout,
    procs: ProcReader,
}

impl CgroupReader {
    /// Locates the cgroup of `pid` (a process of the container) under `root` and checks
    /// that its memory figures can be read now.
    pub fn open(root: &Path, pid: u32) -> io::Result<CgroupReader> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let layout = locate(root, &text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no memory cgroup of pid {pid} under {} (from /proc/{pid}/cgroup)",
                    root.display()
                ),
            )
        })?;
        let r = CgroupReader {
            layout,
            procs: ProcReader::new(false),
        };
        r.memory()?;
        Ok(r)
    }

    /// The folder holding the memory files.
    pub fn memory_dir(&self) -> &Path {
        match &self.layout {
            Layout::V1 { memory, .. } => memory,
            Layout::V2 { dir } => dir,
        }
    }

    /// Which cgroup version is read.
    pub fn version(&self) -> u8 {
        match self.layout {
            Layout::V1 { .. } => 1,
            Layout::V2 { .. } => 2,
        }
    }

    fn memory(&self) -> io::Result<MemFigures> {
        let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f));
        let bad = |d: &Path| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected memory.stat in {}", d.display()),
            )
        };
        match &self.layout {
            Layout::V1 { memory, .. } => parse_v1(
                &read(memory, "memory.stat")?,
                &read(memory, "memory.usage_in_bytes")?,
                &std::fs::read_to_string(self.layout.oom_file()).unwrap_or_default(),
            )
            .ok_or_else(|| bad(memory)),
            Layout::V2 { dir } => parse_v2(
                &read(dir, "memory.stat")?,
                &read(dir, "memory.current")?,
                read(dir, "memory.swap.current").ok().as_deref(),
                &std::fs::read_to_string(self.layout.oom_file()).unwrap_or_default(),
            )
            .ok_or_else(|| bad(dir)),
        }
    }

    /// One tick. A vanished cgroup (the container ended) reads as NotFound.
    pub fn read(&mut self) -> io::Result<Sample> {
        let mem = self.memory()?;
        let procs_text = std::fs::read_to_string(self.memory_dir().join("cgroup.procs"))?;
        let pids: Vec<u32> = procs_text
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let num = |p: Option<PathBuf>| -> Option<u64> {
            std::fs::read_to_string(p?).ok()?.trim().parse().ok()
        };
        let (threads, cpu_s) = match &self.layout {
            Layout::V1 { cpuacct, pids, .. } => (
                num(pids.as_ref().map(|d| d.join("pids.current"))),
                num(cpuacct.as_ref().map(|d| d.join("cpuacct.usage"))).map(|ns| ns as f64 / 1e9),
            ),
            Layout::V2 { dir } => (
                num(Some(dir.join("pids.current"))),
                std::fs::read_to_string(dir.join("cpu.stat"))
                    .ok()
                    .and_then(|t| kv(&t, "usage_usec"))
                    .map(|us| us as f64 / 1e6),
            ),
        };
        // Without the pids controller, count threads the slow way.
        let threads = match threads {
            Some(t) => t,
            None => pids
                .iter()
                .filter_map(|p| self.procs.status(*p).ok())
                .map(|s| s.threads)
                .sum(),
        };
        let fds = pids
            .iter()
            .filter_map(|p| self.procs.fd_count(*p).ok())
            .sum();
        Ok(mem.into_sample(threads, pids.len() as u64, fds, cpu_s.unwrap_or(0.0)))
    }

    /// Which file each column came from, for the report.
    pub fn sources(&self) -> BTreeMap<String, String> {
        let d = self.memory_dir().display();
        let (stat_keys, usage, oom, cpu, threads) = match &self.layout {
            Layout::V1 {
                cpuacct, pids: p, ..
            } => (
                (
                    "total_rss",
                    "total_mapped_file",
                    "total_shmem",
                    "total_swap",
                    "total_inactive_file",
                ),
                "memory.usage_in_bytes",
                "memory.oom_control oom_kill",
                cpuacct
                    .as_ref()
                    .map(|c| format!("{}/cpuacct.usage", c.display()))
                    .unwrap_or_else(|| "not available (cpuacct not mounted): 0".into()),
                p.as_ref()
                    .map(|c| format!("{}/pids.current (tasks)", c.display()))
                    .unwrap_or_else(|| "/proc/PID/status Threads of cgroup.procs".into()),
            ),
            Layout::V2 { dir } => (
                (
                    "anon",
                    "file_mapped",
                    "shmem",
                    "memory.swap.current",
                    "inactive_file",
                ),
                "memory.current",
                "memory.events oom_kill",
                format!("{}/cpu.stat usage_usec", dir.display()),
                format!("{}/pids.current (tasks)", dir.display()),
            ),
        };
        let v = self.version();
        let mut m = BTreeMap::new();
        let mut put = |k: &str, s: String| {
            m.insert(k.to_string(), s);
        };
        put(
            Col::Rss.name(),
            format!(
                "cgroup v{v} {d}/memory.stat {} + {}",
                stat_keys.0, stat_keys.1
            ),
        );
        put(
            Col::Anon.name(),
            format!("cgroup v{v} {d}/memory.stat {}", stat_keys.0),
        );
        put(
            Col::File.name(),
            format!("cgroup v{v} {d}/memory.stat {}", stat_keys.1),
        );
        put(
            Col::Shmem.name(),
            format!("cgroup v{v} {d}/memory.stat {}", stat_keys.2),
        );
        put(
            Col::Swap.name(),
            format!("cgroup v{v} {} (0 when not accounted)", stat_keys.3),
        );
        put(Col::Usage.name(), format!("cgroup v{v} {d}/{usage}"));
        put(
            Col::WorkingSet.name(),
            format!("cgroup v{v} {usage} minus memory.stat {}", stat_keys.4),
        );
        put(Col::OomKills.name(), format!("cgroup v{v} {d}/{oom}"));
        put(Col::Cpu.name(), format!("cgroup v{v} {cpu}"));
        put(Col::Threads.name(), format!("cgroup v{v} {threads}"));
        put(Col::Processes.name(), format!("lines of {d}/cgroup.procs"));
        put(
            Col::Fds.name(),
            "entries of /proc/PID/fd over the cgroup's processes".into(),
        );
        put(
            Col::Heap.name(),
            "not sampled (no heap source for a container)".into(),
        );
        put(Col::Pss.name(), "not sampled for a container".into());
        m
    }
}

/// The same figures from one reading of the Engine's stats API (`GET
/// /containers/ID/stats?stream=false&one-shot=true`), which the daemon reads from the
/// same cgroup files.
#[cfg(feature = "containers")]
pub fn from_api(s: &bollard::container::Stats) -> Option<Sample> {
    use bollard::container::MemoryStatsStats;
    let ms = &s.memory_stats;
    let usage = ms.usage?;
    let mem = match ms.stats? {
        MemoryStatsStats::V1(v) => MemFigures {
            usage,
            anon: v.total_rss,
            mapped_file: v.total_mapped_file,
            shmem: v.total_shmem.unwrap_or(0),
            inactive_file: v.total_inactive_file,
            swap: 0,
            oom_kills: 0,
        },
        MemoryStatsStats::V2(v) => MemFigures {
            usage,
            anon: v.anon,
            mapped_file: v.file_mapped,
            shmem: v.shmem,
            inactive_file: v.inactive_file,
            swap: 0,
            oom_kills: 0,
        },
    };
    let tasks = s.pids_stats.current.unwrap_or(0);
    Some(mem.into_sample(
        tasks,
        tasks,
        0,
        s.cpu_stats.cpu_usage.total_usage as f64 / 1e9,
    ))
}

/// Sources when the Engine's stats API is read instead of the cgroup.
pub fn api_sources(socket: &str, why: &str) -> BTreeMap<String, String> {
    let api = format!("Docker Engine stats API at {socket} (fallback: {why})");
    let mut m = BTreeMap::new();
    for (k, what) in [
        (Col::Rss.name(), "memory_stats.stats anon + mapped file"),
        (Col::Anon.name(), "memory_stats.stats anon (v1 total_rss)"),
        (Col::File.name(), "memory_stats.stats mapped file"),
        (Col::Shmem.name(), "memory_stats.stats shmem"),
        (Col::Usage.name(), "memory_stats.usage"),
        (
            Col::WorkingSet.name(),
            "memory_stats.usage minus inactive file",
        ),
        (Col::Cpu.name(), "cpu_stats.cpu_usage.total_usage"),
        (Col::Threads.name(), "pids_stats.current (tasks)"),
        (
            Col::Processes.name(),
            "pids_stats.current (tasks: the API does not count processes apart from threads)",
        ),
    ] {
        m.insert(k.to_string(), format!("{api}: {what}"));
    }
    for k in [Col::Swap.name(), Col::Fds.name(), Col::OomKills.name()] {
        m.insert(
            k.to_string(),
            format!("not available from the Engine stats API: written as 0, not measured ({api})"),
        );
    }
    m.insert(
        Col::Heap.name().into(),
        "not sampled (no heap source for a container)".into(),
    );
    m.insert(Col::Pss.name().into(), "not sampled for a container".into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_STAT: &str = "cache 733184\nrss 5312512\nshmem 0\nmapped_file 638976\n\
        total_cache 733184\ntotal_rss 5312512\ntotal_shmem 4096\ntotal_mapped_file 638976\n\
        total_inactive_file 700000\ntotal_swap 0\n";

    #[test]
    fn v1_figures_and_working_set() {
        let m = parse_v1(
            V1_STAT,
            "6410240\n",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .expect("parses");
        assert_eq!(m.anon, 5_312_512);
        assert_eq!(m.mapped_file, 638_976);
        assert_eq!(m.shmem, 4096);
        assert_eq!(m.oom_kills, 2);
        assert_eq!(m.working_set(), 6_410_240 - 700_000);
        let s = m.into_sample(3, 1, 4, 0.5);
        assert_eq!(s.rss_bytes, 5_312_512 + 638_976);
        assert_eq!(s.usage_bytes, 6_410_240);
    }

    #[test]
    fn v2_figures() {
        let stat = "anon 1000\nfile 5000\nfile_mapped 300\nshmem 7\ninactive_file 9000\n";
        let m =
            parse_v2(stat, "4000\n", Some("12\n"), "low 0\noom 1\noom_kill 1\n").expect("parses");
        assert_eq!(
            (m.anon, m.mapped_file, m.shmem, m.swap, m.oom_kills),
            (1000, 300, 7, 12, 1)
        );
        // Inactive file above usage (racy reads): the working set floors at zero.
        assert_eq!(m.working_set(), 0);
    }

    #[test]
    fn malformed_files_are_refused_not_guessed() {
        assert_eq!(parse_v1("rss 1\n", "5", ""), None);
        assert_eq!(parse_v1(V1_STAT, "lots", ""), None);
        assert_eq!(parse_v2("file 1\n", "5", None, ""), None);
    }

    #[test]
    fn locate_v1_and_v2() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        let id = "docker/abc";
        for d in ["memory", "cpu,cpuacct", "pids"] {
            std::fs::create_dir_all(r.join(d).join(id)).expect("mkdir");
        }
        std::fs::write(r.join("memory").join(id).join("memory.stat"), V1_STAT).expect("write");
        let text =
            "9:pids:/docker/abc\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
        assert_eq!(
            locate(r, text),
            Some(Layout::V1 {
                memory: r.join("memory/docker/abc"),
                cpuacct: Some(r.join("cpu,cpuacct/docker/abc")),
                pids: Some(r.join("pids/docker/abc")),
            })
        );
        // A pure v2 host: only the 0:: line.
        let v2 = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(v2.path().join("system.slice/docker-abc.scope")).expect("mkdir");
        std::fs::write(
            v2.path().join("system.slice/docker-abc.scope/memory.stat"),
            "anon 1\n",
        )
        .expect("write");
        assert_eq!(
            locate(v2.path(), "0::/system.slice/docker-abc.scope\n"),
            Some(Layout::V2 {
                dir: v2.path().join("system.slice/docker-abc.scope")
            })
        );
        // Nothing readable under the root: no layout (the caller falls back to the API).
        assert_eq!(locate(Path::new("/nonexistent"), text), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(stat in "\\PC{0,200}", usage in "\\PC{0,20}") {
            let _ = parse_v1(&stat, &usage, &stat);
            let _ = parse_v2(&stat, &usage, Some(&usage), &stat);
            let _ = locate(Path::new("/nonexistent"), &stat);
        }
    }
}
