//! The session of a command soak starts, or of a running pid it attached to: the
//! workload is `workload::command::Command`, the source the process tree through procfs
//! (with the heap shim's counters and the runtimes' heaps folded into its samples).

use super::{End, Facts, Session, SignalEnd, Step};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::monitor::signals::{signal_sender, StopSignals};
use crate::note::Note;
use crate::report::TargetInfo;
use crate::sample::heap::{self, HeapFiles};
use crate::sample::heap_notes::{heap_files, heap_notes};
use crate::sample::node::NodeFiles;
use crate::sample::procfs::ProcReader;
use crate::sample::runtime::{FullGc, RuntimeReader};
use crate::sample::runtime_notes::{runs_node, runtime_report, runtime_sources};
use crate::sample::tree::{live_members, TreeSource};
use crate::sample::{Col, Sample, Source};
use crate::sites::record::SiteRecorder;
use crate::timeline::Extra;
use crate::workload::command::{Command, Launch};
use crate::workload::tree::{ProcId, ProcessTree};
use crate::workload::Workload;
use std::path::Path;
use std::time::Instant;

/// A command or attached pid, watched and sampled.
pub(in crate::monitor) struct ProcessRun<'a> {
    cfg: &'a RunConfig,
    workload: Command,
    stops_before: u64,
    notes: Vec<Note>,
    heap: Option<HeapFiles>,
    node: Option<NodeFiles>,
    source: TreeSource,
    full_gc: Option<FullGc>,
    /// Each allocation site's sampled live bytes (`--sites on`).
    sites: Option<SiteRecorder>,
    /// Ticks with any heap figure, and the most processes seen at once without one.
    heap_ticks: u64,
    heap_missing_max: u64,
    last: Option<Sample>,
}

impl<'a> ProcessRun<'a> {
    /// Plans the heap shim and Node's preload (their files are made once the guard
    /// knows them), starts the command or takes the attached pid, and sets up the tree's
    /// reader.
    pub(in crate::monitor) fn start(
        cfg: &'a RunConfig,
        guard_exe: Option<&Path>,
        attached: Option<ProcId>,
    ) -> Result<ProcessRun<'a>> {
        let stops_before = StopSignals::seen();
        let mut notes = Vec::new();
        let command = matches!(cfg.target, TargetSpec::Command(_));
        if command {
            heap::sweep_stale_shm();
        }
        let heap = match &cfg.target {
            TargetSpec::Command(argv) => heap_files(cfg, argv, &mut notes)?,
            _ => None,
        };
        // Node's preload goes into every command (only node reads NODE_OPTIONS).
        let node = command.then(|| NodeFiles::plan(&cfg.out_dir, cfg.full_gc_every));
        let mut launch = Launch::default();
        if let Some(h) = &heap {
            launch.env.extend(h.env_with_sites(cfg.sites_period));
            launch
                .guard_paths
                .extend(h.paths().into_iter().map(Into::into));
        }
        if let Some(n) = &node {
            launch.env.extend(n.env());
            launch.guard_paths.push(n.dir().to_path_buf());
        }
        let prepare = || {
            if let Some(h) = &heap {
                h.make()
                    .map_err(|e| Error::io("cannot set up heap counting in", &cfg.out_dir, e))?;
            }
            if let Some(n) = &node {
                n.make().map_err(|e| {
                    Error::io("cannot set up node's heap reading in", &cfg.out_dir, e)
                })?;
            }
            Ok(())
        };
        // Before the target starts: a worker that cannot start leaves nothing running.
        let full_gc = match cfg.full_gc_every {
            Some(every) => Some(FullGc::start(every).map_err(|e| {
                Error::Monitor(format!("cannot start the full-collection worker: {e}"))
            })?),
            None => None,
        };
        let workload = Command::start(cfg, guard_exe, attached, launch, prepare)?;
        let mut reader = ProcReader::new(cfg.pss)
            .with_runtime(RuntimeReader::new(node.as_ref().map(|n| n.reader())));
        if let Some(h) = &heap {
            reader = reader.with_heap(h.reader());
        }
        // soak adopts the command's orphans (it is their subreaper).
        let adopters = if workload.attached() {
            vec![]
        } else {
            vec![std::process::id()]
        };
        let tree = ProcessTree::new(workload.root(), adopters, workload.excluded());
        if heap.is_none() && cfg.heap && cfg.sites_period.is_some() && command {
            notes.push(Note::NoAllocationSites {
                why: "allocation sites: the heap shim that samples them cannot load into this program (see the note on heap_bytes)".into(),
            });
        }
        let sites = match (&heap, cfg.sites_period) {
            (Some(h), Some(_)) => Some(SiteRecorder::new(h.paths()[0], cfg.interval.as_secs_f64())),
            _ => None,
        };
        Ok(ProcessRun {
            cfg,
            workload,
            stops_before,
            notes,
            heap,
            node,
            source: TreeSource::new(tree, reader),
            full_gc,
            sites,
            heap_ticks: 0,
            heap_missing_max: 0,
            last: None,
        })
    }
}

impl Session for ProcessRun<'_> {
    fn describe(&self) -> String {
        self.workload.describe()
    }

    fn extra_columns(&self) -> Extra {
        Extra::Process
    }

    async fn ended(&mut self, start: Instant) -> bool {
        if !self.workload.ended(start).await {
            return false;
        }
        // The root is gone; the run goes on while descendants live.
        if let Ok(joined) = self.source.tree.refresh(&mut self.source.reader) {
            self.source.seen.extend(joined.iter().map(|j| j.pid));
            self.workload.joined(joined);
        }
        live_members(&mut self.source.tree, &mut self.source.reader) == 0
    }

    async fn tick(&mut self, elapsed: f64) -> Step {
        // A jcmd soak started for a full collection is never the target's: the worker
        // holds this lock while it starts one.
        let helpers = self.full_gc.as_ref().map(|g| g.helpers.clone());
        let held = helpers
            .as_ref()
            .map(|h| h.lock().unwrap_or_else(|e| e.into_inner()));
        for p in held.iter().flat_map(|h| h.iter()) {
            self.source.tree.exclude(*p);
        }
        let sampled = self.source.read();
        drop(held);
        let sample = match sampled {
            Ok(s) => s,
            Err(e) => return Step::Failed(format!("cannot read /proc: {e}")),
        };
        self.workload.joined(self.source.take_joined());
        if let (Some(g), Some(r)) = (self.full_gc.as_mut(), self.source.reader.runtime()) {
            g.tick(elapsed, r.live_jvms());
        }
        // Attach mode: the root itself ending ends the run.
        if self.workload.attached() && !self.source.root_alive() {
            self.workload.root_gone(elapsed);
            return Step::Gone;
        }
        let Some(sample) = sample else {
            self.workload.reap(elapsed);
            return Step::Gone;
        };
        self.heap_ticks += u64::from(sample.heap_bytes.is_some());
        if let Some(r) = &mut self.sites {
            // Only a process whose heap segment is its own has sites of its own: a stale
            // file, or a fork's copy left by an exec into a program without the shim,
            // would count an image that no longer exists.
            let heap = self.source.reader.heap();
            r.record(
                elapsed,
                self.source
                    .tree
                    .members()
                    .map(|p| p.pid)
                    .filter(|&pid| heap.is_some_and(|h| h.is_current(pid))),
            );
        }
        self.last = Some(sample);
        // A process counts as missing only at its second sample without counters
        // (ProcReader), which also covers the first tick before the exec.
        self.heap_missing_max = self
            .heap_missing_max
            .max(self.source.reader.take_heap_missing());
        Step::Sample(sample)
    }

    async fn finish(&mut self, end: &End, elapsed_s: f64, _taken: u64) -> Result<Facts> {
        let cfg = self.cfg;
        let root = self.workload.root();
        // Who sent the signal that ended the run, while the tree is still there to ask.
        let sender = match end {
            End::Signal(sig) => Some(signal_sender(
                *sig,
                &self.source.tree,
                &mut self.source.reader,
                &self.source.seen,
                root.pid,
                self.workload.pgid(),
            )),
            _ => None,
        };
        // A stop signal beyond the one that ended the loop cuts the grace period short.
        let consumed = self.stops_before + u64::from(matches!(end, End::Signal(_)));
        self.workload
            .on_another_stop(Box::new(move || StopSignals::seen() > consumed));
        let (stopped, extra) = self.workload.stop_command(&mut self.source, elapsed_s);
        let mut notes = std::mem::take(&mut self.notes);
        notes.extend(stopped.notes);
        let reader = &self.source.reader;
        if let Some(e) = &reader.pss_first_error {
            notes.push(Note::PssUnreadable {
                processes: reader.pss_unreadable.len(),
                first: e.to_string(),
            });
        }
        if self.heap.is_some() {
            let runtime_seen = reader
                .runtime()
                .is_some_and(|r| !r.jvms().is_empty() || !r.nodes().is_empty());
            notes.extend(heap_notes(
                reader.heap(),
                runtime_seen,
                self.heap_ticks,
                self.heap_missing_max,
                self.last.as_ref(),
                stopped.exit.as_ref(),
            ));
        }
        self.heap = None;
        let gc_counts = self.full_gc.take().map(|g| {
            let every = g.every();
            (every, g.finish(std::time::Duration::from_secs(2)))
        });
        let (runtimes, full_gc) = runtime_report(
            reader,
            gc_counts.as_ref().map(|(e, c)| (*e, c.as_ref())),
            &mut notes,
        );
        if let (TargetSpec::Pid(_), Some(n)) = (&cfg.target, runs_node(root.pid)) {
            if !runtimes.iter().any(|r| r.kind == "node") {
                notes.push(Note::NodeNotPreloaded {
                    pid: root.pid,
                    exe: n,
                });
            }
        }
        let runtime_metric = Col::named(&cfg.metric).is_some_and(Col::is_runtime_heap);
        if runtime_metric && runtimes.is_empty() {
            notes.push(Note::RuntimeHeapUnseen {
                metric: cfg.metric.clone(),
            });
        }
        self.node = None;
        let target = TargetInfo {
            kind: if self.workload.attached() {
                "pid"
            } else {
                "process"
            }
            .into(),
            command: match &cfg.target {
                TargetSpec::Command(c) => Some(c.clone()),
                _ => None,
            },
            pid: Some(root.pid),
            ..TargetInfo::default()
        };
        let mut sources = self.source.sources();
        runtime_sources(&mut sources, &runtimes);
        Ok(Facts {
            target,
            target_exit: stopped.exit,
            stop_escalated: stopped.escalated,
            sources,
            notes,
            runtimes,
            full_gc,
            sites: self.sites.take().map(SiteRecorder::finish),
            child_oom: extra.child_oom,
            signal: sender.map(|(detail, from_target)| SignalEnd {
                detail: if extra.cut_short {
                    format!("{detail}; a second stop signal cut the grace period short (SIGKILL)")
                } else {
                    detail
                },
                from_target,
            }),
        })
    }
}
