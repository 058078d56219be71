//! The session of a command soak starts, or of a running pid it attached to: the
//! target's process tree is sampled from procfs; SIGCHLD tells when members exit.

use super::session::{End, Facts, Session, SignalEnd, Step};
use super::signals::{install, signal_number, signal_sender, StopSignals};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::{ExitInfo, TargetInfo};
use crate::sample::heap::{self, HeapFiles};
use crate::sample::heap_notes::{heap_files, heap_notes};
use crate::sample::node::NodeFiles;
use crate::sample::procfs::ProcReader;
use crate::sample::runtime::{FullGc, RuntimeReader};
use crate::sample::runtime_notes::{runs_node, runtime_report, runtime_sources};
use crate::sample::tree::{live_members, TreeSource};
use crate::sample::{Col, Sample, Source};
use crate::timeline::Extra;
use crate::workload::guard::Guard;
use crate::workload::log::CappedLog;
use crate::workload::oom;
use crate::workload::process::{self, Reaped};
use crate::workload::tree::{ProcId, ProcessTree};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;
use tokio::signal::unix::{Signal, SignalKind};

/// A command or attached pid, watched and sampled.
pub(super) struct ProcessRun<'a> {
    cfg: &'a RunConfig,
    attached: bool,
    root: ProcId,
    pgid: Option<i32>,
    sigchld: Signal,
    stops_before: u64,
    oom_before: Option<u64>,
    oom_mark: oom::OomMark,
    guard: Option<Guard>,
    notes: Vec<String>,
    logs: Vec<(&'static str, CappedLog)>,
    heap: Option<HeapFiles>,
    node: Option<NodeFiles>,
    source: TreeSource,
    full_gc: Option<FullGc>,
    root_exit: Option<ExitInfo>,
    /// Every pid the tree had at a tick, for OOM evidence about its members.
    seen: BTreeSet<u32>,
    /// Ticks with any heap figure, and the most processes seen at once without one.
    heap_ticks: u64,
    heap_missing_max: u64,
    last: Option<Sample>,
}

impl<'a> ProcessRun<'a> {
    /// Starts the command (or takes the attached pid): the heap shim, Node's preload, the
    /// guard and the capped logs are set up first, so nothing the target does is missed.
    pub(super) fn start(
        cfg: &'a RunConfig,
        guard_exe: Option<&Path>,
        attached: Option<ProcId>,
    ) -> Result<ProcessRun<'a>> {
        let stops_before = StopSignals::seen();
        // Installed before the target starts, so no exit is missed.
        let sigchld = install(SignalKind::child())?;
        let oom_before = oom::cgroup_oom_kills();
        let oom_mark = oom::OomMark::now();
        let mut guard = None;
        let mut notes = Vec::new();
        let mut logs: Vec<(&'static str, CappedLog)> = Vec::new();
        if matches!(cfg.target, TargetSpec::Command(_)) {
            heap::sweep_stale_shm();
        }
        let heap = match &cfg.target {
            TargetSpec::Command(argv) => heap_files(cfg, argv, &mut notes)?,
            _ => None,
        };
        // Node's preload goes into every command (only node reads NODE_OPTIONS). Both are
        // only planned here: the guard learns their paths before they are created.
        let node = match &cfg.target {
            TargetSpec::Command(_) => Some(NodeFiles::plan(&cfg.out_dir, cfg.full_gc_every)),
            _ => None,
        };
        let (root, pgid, adopters, exclude) = match (&cfg.target, attached) {
            (TargetSpec::Command(argv), _) => {
                process::become_subreaper();
                if let Some(exe) = guard_exe {
                    let mut g = Guard::start(exe)
                        .map_err(|e| Error::io("cannot start guard process", exe, e))?;
                    for p in heap.iter().flat_map(|h| h.paths()) {
                        g.remove_path(p);
                    }
                    if let Some(n) = &node {
                        g.remove_path(n.dir());
                    }
                    guard = Some(g);
                }
                let launched =
                    launch(cfg, argv, heap.as_ref(), node.as_ref()).map(|(l, opened)| {
                        logs = opened;
                        l
                    });
                let l = match launched {
                    Ok(l) => l,
                    Err(e) => {
                        if let Some(g) = guard.take() {
                            g.done();
                        }
                        return Err(e);
                    }
                };
                if let Some(g) = guard.as_mut() {
                    g.process_group(l.pgid);
                    g.member(l.root);
                }
                let excl = guard.as_ref().map(|g| vec![g.pid()]).unwrap_or_default();
                (l.root, Some(l.pgid), vec![std::process::id()], excl)
            }
            (TargetSpec::Pid(_), Some(p)) => (p, None, vec![], vec![]),
            (other, _) => return Err(Error::Monitor(format!("{other:?} is not a process target"))),
        };
        let mut reader = ProcReader::new(cfg.pss)
            .with_runtime(RuntimeReader::new(node.as_ref().map(|n| n.reader())));
        if let Some(h) = &heap {
            reader = reader.with_heap(h.reader());
        }
        let full_gc = match cfg.full_gc_every {
            Some(every) => Some(FullGc::start(every).map_err(|e| {
                Error::Monitor(format!("cannot start the full-collection worker: {e}"))
            })?),
            None => None,
        };
        Ok(ProcessRun {
            cfg,
            attached: attached.is_some(),
            root,
            pgid,
            sigchld,
            stops_before,
            oom_before,
            oom_mark,
            guard,
            notes,
            logs,
            heap,
            node,
            source: TreeSource::new(ProcessTree::new(root, adopters, exclude), reader),
            full_gc,
            root_exit: None,
            seen: BTreeSet::from([root.pid]),
            heap_ticks: 0,
            heap_missing_max: 0,
            last: None,
        })
    }

    fn handle_reaped(&mut self, r: Reaped, at_s: f64, by_soak: bool) {
        if r.pid == self.root.pid && self.root_exit.is_none() {
            self.root_exit = Some(process::exit_info(r, at_s, by_soak));
        }
    }
}

/// Creates the heap and Node files and the capped logs, and spawns the command with the
/// environment that loads them.
#[allow(clippy::type_complexity)]
fn launch(
    cfg: &RunConfig,
    argv: &[String],
    heap: Option<&HeapFiles>,
    node: Option<&NodeFiles>,
) -> Result<(process::Launched, Vec<(&'static str, CappedLog)>)> {
    let mut env = heap.map(|h| h.env()).unwrap_or_default();
    // The target may want to signal soak (and a signal it sends is told apart).
    env.push(("SOAK_PID".into(), std::process::id().to_string()));
    env.extend(node.iter().flat_map(|n| n.env()));
    if let Some(h) = heap {
        h.make()
            .map_err(|e| Error::io("cannot set up heap counting in", &cfg.out_dir, e))?;
    }
    if let Some(n) = node {
        n.make()
            .map_err(|e| Error::io("cannot set up node's heap reading in", &cfg.out_dir, e))?;
    }
    let open = |name: &str| {
        let p = cfg.out_dir.join(name);
        CappedLog::create(&p, cfg.log_cap).map_err(|e| Error::io("cannot create", p, e))
    };
    let (o, ow) = open("target.stdout.log")?;
    let (e, ew) = open("target.stderr.log")?;
    let l = process::spawn(argv, &env, ow.into(), ew.into())?;
    Ok((l, vec![("target.stdout.log", o), ("target.stderr.log", e)]))
}

impl Session for ProcessRun<'_> {
    fn describe(&self) -> String {
        match &self.cfg.target {
            TargetSpec::Command(c) => format!("`{}` (pid {})", c.join(" "), self.root.pid),
            _ => format!("pid {} (attached)", self.root.pid),
        }
    }

    fn extra_columns(&self) -> Extra {
        Extra::Process
    }

    async fn ended(&mut self, start: Instant) -> bool {
        self.sigchld.recv().await;
        let elapsed_s = start.elapsed().as_secs_f64();
        for r in process::reap_all() {
            self.handle_reaped(r, elapsed_s, false);
        }
        if self.attached || self.root_exit.is_none() {
            return false;
        }
        // The root is gone; the run goes on while descendants live.
        if let Ok(joined) = self.source.tree.refresh(&mut self.source.reader) {
            for j in joined {
                self.seen.insert(j.pid);
                if let Some(g) = self.guard.as_mut() {
                    g.member(j);
                }
            }
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
        // Every member joined at some tick: `seen` grows by the joiners only.
        for j in self.source.take_joined() {
            self.seen.insert(j.pid);
            if let Some(g) = self.guard.as_mut() {
                g.member(j);
            }
        }
        if let (Some(g), Some(r)) = (self.full_gc.as_mut(), self.source.reader.runtime()) {
            g.tick(elapsed, r.live_jvms());
        }
        // Attach mode: the root itself ending ends the run.
        if self.attached && !self.source.root_alive() {
            self.root_exit = Some(ExitInfo {
                code: None,
                signal: None,
                oom: None,
                at_s: elapsed,
                stopped_by_soak: false,
            });
            return Step::Gone;
        }
        let Some(sample) = sample else {
            for r in process::reap_all() {
                self.handle_reaped(r, elapsed, false);
            }
            return Step::Gone;
        };
        self.heap_ticks += u64::from(sample.heap_bytes.is_some());
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
        let root = self.root;
        // Who sent the signal that ended the run, while the tree is still there to ask.
        let sender = match end {
            End::Signal(sig) => Some(signal_sender(
                *sig,
                &self.source.tree,
                &mut self.source.reader,
                &self.seen,
                root.pid,
                self.pgid,
            )),
            _ => None,
        };
        // Stop the target (never an attached one). A stop signal beyond the one that
        // ended the loop cuts the grace period short.
        let mut stop_escalated = None;
        let mut cut_short = false;
        if let Some(g) = self.pgid {
            let mut reaped = Vec::new();
            let consumed = self.stops_before + u64::from(matches!(end, End::Signal(_)));
            let stopped = process::stop_tree(
                g,
                &mut self.source.tree,
                &mut self.source.reader,
                cfg.grace,
                |r| reaped.push(r),
                || StopSignals::seen() > consumed,
            );
            stop_escalated = Some(stopped.killed);
            cut_short = stopped.cut_short;
            for r in reaped {
                self.handle_reaped(r, elapsed_s, true);
            }
        }
        let mut notes = std::mem::take(&mut self.notes);
        if cut_short {
            notes.push(format!(
                "a second stop signal during the {} grace period cut it short: the target's tree was killed with SIGKILL",
                crate::units::Secs(cfg.grace.as_secs_f64())
            ));
        }
        if let Some(g) = self.guard.take() {
            g.done();
        }
        for (name, log) in std::mem::take(&mut self.logs) {
            match log.finish(std::time::Duration::from_secs(2)) {
                Ok(None) => {}
                Ok(Some(t)) => {
                    notes.push(crate::workload::log::truncation_note(name, &t, cfg.log_cap))
                }
                Err(e) => notes.push(format!("{name} is incomplete: {e}")),
            }
        }
        if let Some(e) = &self.source.reader.pss_first_error {
            notes.push(format!(
                "pss_bytes leaves out {} process(es) of the tree whose smaps_rollup could not be read (first: {e}); run soak as root or as the target's user for their PSS",
                self.source.reader.pss_unreadable.len()
            ));
        }
        if self.heap.is_some() {
            let runtime_seen = self
                .source
                .reader
                .runtime()
                .is_some_and(|r| !r.jvms().is_empty() || !r.nodes().is_empty());
            notes.extend(heap_notes(
                self.source.reader.heap(),
                runtime_seen,
                self.heap_ticks,
                self.heap_missing_max,
                self.last.as_ref(),
                self.root_exit.as_ref(),
            ));
        }
        self.heap = None;
        let gc_counts = self.full_gc.take().map(|g| {
            let every = g.every();
            (every, g.finish(std::time::Duration::from_secs(2)))
        });
        let (runtimes, full_gc) = runtime_report(
            &self.source.reader,
            gc_counts.as_ref().map(|(e, c)| (*e, c.as_ref())),
            &mut notes,
        );
        if let (TargetSpec::Pid(_), Some(n)) = (&cfg.target, runs_node(root.pid)) {
            if !runtimes.iter().any(|r| r.kind == "node") {
                notes.push(format!(
                    "pid {} runs {n}: node's heap is read through a preload soak injects with NODE_OPTIONS, which only reaches commands soak starts (soak -- node …), so runtime_heap_bytes is empty here",
                    root.pid
                ));
            }
        }
        let runtime_metric = Col::named(&cfg.metric).is_some_and(Col::is_runtime_heap);
        if runtime_metric && runtimes.is_empty() {
            notes.push(format!(
                "--metric {}: no runtime heap was seen (no JVM perf data in the tree, no node process loading soak's preload)",
                cfg.metric.trim_end_matches("_bytes")
            ));
        }
        self.node = None;
        let oom_before = self.oom_before;
        if let Some(x) = self.root_exit.as_mut() {
            if !x.stopped_by_soak {
                x.oom = oom::explain(
                    root.pid,
                    x.signal.as_deref().and_then(signal_number),
                    oom_before,
                );
            }
        }
        let root_oom = self
            .root_exit
            .as_ref()
            .and_then(|x| x.oom.as_deref())
            .is_some_and(|o| o.starts_with("OOM-killed"));
        let child_oom =
            oom::members_killed(self.oom_mark, root.pid, &self.seen, oom_before, root_oom);
        let target = TargetInfo {
            kind: match cfg.target {
                TargetSpec::Command(_) => "process",
                _ => "pid",
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
            target_exit: self.root_exit.take(),
            stop_escalated,
            sources,
            notes,
            runtimes,
            full_gc,
            child_oom,
            signal: sender.map(|(detail, from_target)| SignalEnd {
                detail: if cut_short {
                    format!("{detail}; a second stop signal cut the grace period short (SIGKILL)")
                } else {
                    detail
                },
                from_target,
            }),
        })
    }
}
