//! Sampling sources. One file per source; each turns "what the target is now" into a
//! [`Sample`]. Linux procfs is the first source; the trait keeps room for others
//! (cgroups for containers, sysinfo on other systems).

pub mod cgroup;
pub mod dhat_sites;
pub mod heap;
pub mod jvm;
pub mod node;
pub mod procfs;
pub mod runtime;

/// One tick's measurements of a whole target (all its processes summed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Resident set size, bytes (VmRSS).
    pub rss_bytes: u64,
    /// Resident anonymous memory, bytes (RssAnon).
    pub anon_bytes: u64,
    /// Resident file-backed memory, bytes (RssFile).
    pub file_bytes: u64,
    /// Resident shared memory, bytes (RssShmem).
    pub shmem_bytes: u64,
    /// Swapped-out memory, bytes (VmSwap).
    pub swap_bytes: u64,
    /// Live heap bytes, when a heap source knows them.
    pub heap_bytes: Option<u64>,
    /// Proportional set size, bytes, when `--pss` asked for it.
    pub pss_bytes: Option<u64>,
    /// Threads over all processes.
    pub threads: u64,
    /// Open file descriptors over all processes.
    pub fds: u64,
    /// Cumulative user+system CPU seconds (including reaped children).
    pub cpu_s: f64,
    /// Processes measured.
    pub processes: u64,
    /// The runtimes' own used heap (JVM perf data, Node's preload), summed over the
    /// processes that publish one; `None` when no runtime was seen.
    pub runtime_heap_bytes: Option<u64>,
    /// The runtimes' used heap after their last full (JVM) or major (V8) collection,
    /// summed over the processes that had one.
    pub runtime_heap_after_gc_bytes: Option<u64>,
    /// A container's cgroup totals (extra timeline columns), when the target is one.
    pub cgroup: Option<CgroupExtra>,
}

/// The cgroup's own totals, written after the contract's columns for a container.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupExtra {
    /// Charged memory: what the container's memory limit is enforced on.
    pub usage_bytes: u64,
    /// Usage minus inactive file cache (the kubelet's working set).
    pub working_set_bytes: u64,
    /// OOM kills inside the cgroup so far.
    pub oom_kills: u64,
}

impl Sample {
    /// Adds another process's figures into this one.
    pub fn add(&mut self, o: &Sample) {
        self.rss_bytes += o.rss_bytes;
        self.anon_bytes += o.anon_bytes;
        self.file_bytes += o.file_bytes;
        self.shmem_bytes += o.shmem_bytes;
        self.swap_bytes += o.swap_bytes;
        self.heap_bytes = add_opt(self.heap_bytes, o.heap_bytes);
        self.pss_bytes = add_opt(self.pss_bytes, o.pss_bytes);
        self.threads += o.threads;
        self.fds += o.fds;
        self.cpu_s += o.cpu_s;
        self.processes += o.processes;
        self.runtime_heap_bytes = add_opt(self.runtime_heap_bytes, o.runtime_heap_bytes);
        self.runtime_heap_after_gc_bytes = add_opt(
            self.runtime_heap_after_gc_bytes,
            o.runtime_heap_after_gc_bytes,
        );
    }
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, None) => x,
        (None, y) => y,
    }
}
