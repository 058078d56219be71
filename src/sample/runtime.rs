//! The runtimes' own heaps, per process of the tree: the JVM's from its perf data
//! ([`super::jvm`]) and Node's from soak's preload ([`super::node`]); and the periodic
//! full collection `--full-gc-every` requests, run on a worker thread so the sampler
//! never waits for a JVM.

use super::jvm::{self, JvmReader, JvmSeen};
use super::node::{NodeFigures, NodeReader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One process's runtime heap at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSample {
    /// Used heap, bytes.
    pub heap_bytes: u64,
    /// Used heap after the last full (JVM) or major (V8) collection, once one was seen.
    pub after_gc_bytes: Option<u64>,
}

/// Reads the runtime heaps of a tree's processes.
pub struct RuntimeReader {
    jvm: JvmReader,
    node: Option<NodeReader>,
}

impl RuntimeReader {
    /// A reader of JVMs' perf data and, when soak injected the preload, node's files.
    pub fn new(node: Option<NodeReader>) -> RuntimeReader {
        RuntimeReader {
            jvm: JvmReader::new(),
            node,
        }
    }

    /// The runtime heap of `pid`, if it is a JVM or a node process publishing.
    pub fn read(&mut self, pid: u32, starttime: u64) -> Option<RuntimeSample> {
        if let Some((heap_bytes, after_gc_bytes)) =
            self.node.as_mut().and_then(|n| n.read_heap(pid))
        {
            return Some(RuntimeSample {
                heap_bytes,
                after_gc_bytes,
            });
        }
        self.jvm.read(pid, starttime).map(|j| RuntimeSample {
            heap_bytes: j.used_bytes,
            after_gc_bytes: j.after_gc_bytes,
        })
    }

    /// Forgets processes no longer tracked.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.jvm.retain(&keep);
        if let Some(n) = self.node.as_mut() {
            n.retain(&keep);
        }
    }

    /// The JVMs followed now: (host pid, pid in its namespace).
    pub fn live_jvms(&self) -> Vec<(u32, u32)> {
        self.jvm.live()
    }

    /// Every JVM seen during the run.
    pub fn jvms(&self) -> Vec<JvmSeen> {
        self.jvm.seen()
    }

    /// Every node process seen during the run.
    pub fn nodes(&self) -> Vec<NodeFigures> {
        self.node.as_ref().map(|n| n.seen()).unwrap_or_default()
    }
}

/// Counts of the full collections soak requested from JVMs.
#[derive(Debug, Default)]
pub struct GcCounts {
    /// Requests that completed (the JVM answered 0).
    pub done: AtomicU64,
    /// Requests that failed.
    pub failed: AtomicU64,
    /// Of the completed ones, those that needed `jcmd`.
    pub via_jcmd: AtomicU64,
    /// Periods skipped because the previous request was still running.
    pub skipped: AtomicU64,
    /// The last failure, for the report.
    pub last_error: Mutex<Option<String>>,
}

/// `--full-gc-every`: at each period, every JVM of the tree is asked for a full
/// collection by a worker thread (node processes collect on their own, told by the
/// preload's environment).
pub struct FullGc {
    every: Duration,
    next_s: f64,
    tx: Option<SyncSender<Vec<(u32, u32)>>>,
    worker: Option<std::thread::JoinHandle<()>>,
    /// The counts, shared with the worker.
    pub counts: Arc<GcCounts>,
    /// Pids of `jcmd` processes soak started: never members of the target's tree. The
    /// worker holds the lock while it starts one, the sampler while it lists the tree.
    pub helpers: Arc<Mutex<Vec<u32>>>,
}

impl FullGc {
    /// Starts the worker; the first request is one period after the start.
    pub fn start(every: Duration) -> std::io::Result<FullGc> {
        let (tx, rx) = sync_channel::<Vec<(u32, u32)>>(1);
        let counts = Arc::new(GcCounts::default());
        let helpers = Arc::new(Mutex::new(Vec::new()));
        let (c, h) = (counts.clone(), helpers.clone());
        let worker = std::thread::Builder::new()
            .name("soak-full-gc".into())
            .spawn(move || {
                let timeout = Duration::from_secs(5);
                for jvms in rx {
                    for (pid, nspid) in jvms {
                        match jvm::request_full_gc(pid, nspid, timeout, &h) {
                            Ok(route) => {
                                c.done.fetch_add(1, Ordering::Relaxed);
                                if route == jvm::GcRoute::Jcmd {
                                    c.via_jcmd.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                c.failed.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut l) = c.last_error.lock() {
                                    *l = Some(format!("pid {pid}: {e}"));
                                }
                            }
                        }
                    }
                }
            })?;
        Ok(FullGc {
            every,
            next_s: every.as_secs_f64(),
            tx: Some(tx),
            worker: Some(worker),
            counts,
            helpers,
        })
    }

    /// The period.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Called each tick: when a period has passed, hands the JVMs to the worker
    /// (never waits; a period whose previous request still runs is skipped).
    pub fn tick(&mut self, elapsed_s: f64, jvms: Vec<(u32, u32)>) {
        if elapsed_s < self.next_s {
            return;
        }
        while self.next_s <= elapsed_s {
            self.next_s += self.every.as_secs_f64();
        }
        if jvms.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(jvms) {
                self.counts.skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Stops the worker, waiting at most `wait` for a request in progress.
    pub fn finish(mut self, wait: Duration) -> Arc<GcCounts> {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            let end = std::time::Instant::now() + wait;
            while !w.is_finished() && std::time::Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            if w.is_finished() {
                let _ = w.join();
            }
        }
        self.counts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_kept_and_never_block() {
        let mut gc = FullGc::start(Duration::from_secs(2)).unwrap();
        gc.tick(1.0, vec![]);
        assert_eq!(gc.next_s, 2.0);
        gc.tick(2.5, vec![]);
        assert_eq!(gc.next_s, 4.0, "no JVM: the period passes");
        gc.tick(9.1, vec![]);
        assert_eq!(gc.next_s, 10.0, "missed periods are not made up");
        let c = gc.finish(Duration::from_secs(1));
        assert_eq!(c.done.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_process_that_is_no_runtime_has_no_runtime_heap() {
        let mut r = RuntimeReader::new(None);
        assert_eq!(r.read(std::process::id(), 0), None);
        assert!(r.jvms().is_empty() && r.nodes().is_empty());
    }
}
