//! The run of a command soak starts, or of a running pid it attached to: the target's
//! process tree is sampled from procfs; SIGCHLD tells when members exit.

use super::{conclude, End, Ending, Recorder, StopSignals};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::ExitInfo;
use crate::report::TargetInfo;
use crate::report::{FullGcReport, RuntimeSeen};
use crate::sample::heap::{self, HeapFiles};
use crate::sample::node::NodeFiles;
use crate::sample::procfs::{gone, ProcReader};
use crate::sample::runtime::{FullGc, RuntimeReader};
use crate::sample::Sample;
use crate::workload::guard::Guard;
use crate::workload::log::CappedLog;
use crate::workload::oom;
use crate::workload::process::{self, Reaped};
use crate::workload::tree::{ProcId, ProcessTree};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::signal::unix::SignalKind;

/// Runs a command (or an attached pid) to its end and reports.
pub(super) async fn run_process(
    cfg: &RunConfig,
    guard_exe: Option<&Path>,
    attached: Option<ProcId>,
) -> Result<super::Outcome> {
    let dir = cfg.out_dir.clone();
    // Installed before the target starts, so no exit or Ctrl-C is missed.
    let mut stops = StopSignals::install()?;
    let stops_before = StopSignals::seen();
    let mut sigchld = super::install(SignalKind::child())?;
    let oom_before = oom::cgroup_oom_kills();
    let oom_since_us = oom::monotonic_us();
    let live = super::serve_metrics(cfg).await?;

    let mut guard = None;
    let mut notes = Vec::new();
    let mut logs: Vec<(&str, CappedLog)> = Vec::new();
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
            let mut env = heap.as_ref().map(|h| h.env()).unwrap_or_default();
            // The target may want to signal soak (and a signal it sends is told apart).
            env.push(("SOAK_PID".into(), std::process::id().to_string()));
            env.extend(node.iter().flat_map(|n| n.env()));
            let made = match &heap {
                Some(h) => h
                    .make()
                    .map_err(|e| Error::io("cannot set up heap counting in", &cfg.out_dir, e)),
                None => Ok(()),
            }
            .and_then(|_| match &node {
                Some(n) => n.make().map_err(|e| {
                    Error::io("cannot set up node's heap reading in", &cfg.out_dir, e)
                }),
                None => Ok(()),
            });
            let l = made
                .and_then(|_| open_logs(&dir, cfg.log_cap))
                .and_then(|(o, e, ow, ew)| {
                    logs = vec![("target.stdout.log", o), ("target.stderr.log", e)];
                    process::spawn(argv, &env, ow.into(), ew.into())
                });
            let l = match l {
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
            let me = std::process::id();
            let excl = guard.as_ref().map(|g| vec![g.pid()]).unwrap_or_default();
            (l.root, Some(l.pgid), vec![me], excl)
        }
        (TargetSpec::Pid(_), Some(p)) => (p, None, vec![], vec![]),
        (other, _) => return Err(Error::Monitor(format!("{other:?} is not a process target"))),
    };
    let what = match &cfg.target {
        TargetSpec::Command(c) => format!("`{}` (pid {})", c.join(" "), root.pid),
        _ => format!("pid {} (attached)", root.pid),
    };
    let mut rec = Recorder::start(cfg, false, live, &what)?;

    let mut reader = ProcReader::new(cfg.pss)
        .with_runtime(RuntimeReader::new(node.as_ref().map(|n| n.reader())));
    if let Some(h) = &heap {
        reader = reader.with_heap(h.reader());
    }
    let mut full_gc = match cfg.full_gc_every {
        Some(every) => Some(FullGc::start(every).map_err(|e| {
            Error::Monitor(format!("cannot start the full-collection worker: {e}"))
        })?),
        None => None,
    };
    // Heap coverage over the run: ticks with any heap figure, and the most processes
    // seen at once without one.
    let mut heap_ticks = 0u64;
    let mut heap_missing_max = 0u64;
    let mut last: Option<Sample> = None;
    let mut tree = ProcessTree::new(root, adopters, exclude);
    let mut root_exit: Option<ExitInfo> = None;
    // Every pid the tree had at a tick, for OOM evidence about its members.
    let mut seen = std::collections::BTreeSet::new();
    let handle_reaped = |r: Reaped, at_s: f64, by_soak: bool, root_exit: &mut Option<ExitInfo>| {
        if r.pid == root.pid && root_exit.is_none() {
            *root_exit = Some(process::exit_info(r, at_s, by_soak));
        }
    };

    let end = loop {
        tokio::select! {
            biased;
            s = stops.recv() => break End::Signal(s),
            _ = sigchld.recv() => {
                let at = rec.elapsed();
                for r in process::reap_all() {
                    handle_reaped(r, at, false, &mut root_exit);
                }
                if attached.is_none() && root_exit.is_some() {
                    // The root is gone; the run goes on while descendants live.
                    if let Ok(joined) = tree.refresh(&mut reader) {
                        for j in joined { if let Some(g) = guard.as_mut() { g.member(j); } }
                    }
                    if live_members(&mut tree, &mut reader) == 0 {
                        break End::TargetGone;
                    }
                }
            }
            t = rec.next_tick() => {
                let (index, elapsed) = match t { Ok(t) => t, Err(end) => break end };
                // A jcmd soak started for a full collection is never the target's: the
                // worker holds this lock while it starts one.
                let helpers = full_gc.as_ref().map(|g| g.helpers.clone());
                let held = helpers.as_ref().map(|h| h.lock().unwrap_or_else(|e| e.into_inner()));
                for p in held.iter().flat_map(|h| h.iter()) {
                    tree.exclude(*p);
                }
                let sampled = sample_tree(&mut tree, &mut reader, guard.as_mut());
                drop(held);
                let (sample, root_alive) = match sampled {
                    Ok(t) => (t.sample, t.root_alive),
                    Err(e) => break End::MonitorError(format!("cannot read /proc: {e}")),
                };
                if let (Some(g), Some(r)) = (full_gc.as_mut(), reader.runtime()) {
                    g.tick(elapsed, r.live_jvms());
                }
                // Attach mode: the root itself ending ends the run.
                if attached.is_some() && !root_alive {
                    root_exit = Some(ExitInfo { code: None, signal: None, oom: None, at_s: elapsed, stopped_by_soak: false });
                    break End::TargetGone;
                }
                if sample.processes == 0 {
                    for r in process::reap_all() { handle_reaped(r, elapsed, false, &mut root_exit); }
                    break End::TargetGone;
                }
                seen.extend(tree.members().map(|m| m.pid));
                heap_ticks += u64::from(sample.heap_bytes.is_some());
                last = Some(sample);
                // A process counts as missing only at its second sample without counters
                // (ProcReader), which also covers the first tick before the exec.
                heap_missing_max = heap_missing_max.max(std::mem::take(&mut reader.heap_missing));
                if let Err(e) = rec.record(elapsed, &sample) {
                    break End::MonitorError(e);
                }
                if rec.deadline(index) {
                    break End::Deadline;
                }
            }
        }
    };
    let elapsed_s = rec.elapsed();
    rec.clear_progress();

    // Who sent the signal that ended the run, while the tree is still there to ask.
    let sender = match &end {
        End::Signal(sig) => Some(signal_sender(
            *sig,
            &tree,
            &mut reader,
            &seen,
            root.pid,
            pgid,
        )),
        _ => None,
    };

    // Stop the target (never an attached one). A stop signal beyond the one that ended
    // the loop cuts the grace period short.
    let mut stop_escalated = None;
    let mut cut_short = false;
    if let Some(g) = pgid {
        let mut reaped = Vec::new();
        let consumed = stops_before + u64::from(matches!(end, End::Signal(_)));
        let stopped = process::stop_tree(
            g,
            &mut tree,
            &mut reader,
            cfg.grace,
            |r| reaped.push(r),
            || StopSignals::seen() > consumed,
        );
        stop_escalated = Some(stopped.killed);
        cut_short = stopped.cut_short;
        for r in reaped {
            handle_reaped(r, elapsed_s, true, &mut root_exit);
        }
    }
    if cut_short {
        notes.push(format!(
            "a second stop signal during the {} grace period cut it short: the target's tree was killed with SIGKILL",
            crate::units::Secs(cfg.grace.as_secs_f64())
        ));
    }
    if let Some(g) = guard.take() {
        g.done();
    }
    for (name, log) in logs {
        match log.finish(std::time::Duration::from_secs(2)) {
            Ok(None) => {}
            Ok(Some(t)) => notes.push(crate::workload::log::truncation_note(name, &t, cfg.log_cap)),
            Err(e) => notes.push(format!("{name} is incomplete: {e}")),
        }
    }
    let recorded = rec.finish(elapsed_s);
    if let Some(e) = &reader.pss_first_error {
        notes.push(format!(
            "pss_bytes leaves out {} process(es) of the tree whose smaps_rollup could not be read (first: {e}); run soak as root or as the target's user for their PSS",
            reader.pss_unreadable.len()
        ));
    }
    if heap.is_some() {
        let runtime_seen = reader
            .runtime()
            .is_some_and(|r| !r.jvms().is_empty() || !r.nodes().is_empty());
        notes.extend(heap_notes(
            reader.heap(),
            runtime_seen,
            heap_ticks,
            heap_missing_max,
            last.as_ref(),
            root_exit.as_ref(),
        ));
    }
    drop(heap);
    let gc_counts = full_gc.take().map(|g| {
        let every = g.every();
        (every, g.finish(std::time::Duration::from_secs(2)))
    });
    let (runtimes, full_gc_report) = runtime_report(
        &reader,
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
    if crate::timeline::RUNTIME_COLUMNS.contains(&cfg.metric.as_str()) && runtimes.is_empty() {
        notes.push(format!(
            "--metric {}: no runtime heap was seen (no JVM perf data in the tree, no node process loading soak's preload)",
            cfg.metric.trim_end_matches("_bytes")
        ));
    }
    drop(node);

    if let Some(x) = root_exit.as_mut() {
        if !x.stopped_by_soak {
            x.oom = oom::explain(
                root.pid,
                x.signal.as_deref().and_then(super::signal_number),
                oom_before,
            );
        }
    }
    let root_oom = root_exit
        .as_ref()
        .and_then(|x| x.oom.as_deref())
        .is_some_and(|o| o.starts_with("OOM-killed"));
    let child_oom = oom::members_killed(oom_since_us, root.pid, &seen, oom_before, root_oom);
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
    conclude(
        cfg,
        Ending {
            end,
            recorded,
            target,
            target_exit: root_exit,
            stop_escalated,
            sources: {
                let mut s = procfs_sources(cfg.pss, heap_ticks > 0);
                runtime_sources(&mut s, &runtimes);
                s
            },
            notes,
            runtimes,
            full_gc: full_gc_report,
            child_oom,
            signal: sender.map(|(detail, from_target)| super::SignalEnd {
                detail: if cut_short {
                    format!("{detail}; a second stop signal cut the grace period short (SIGKILL)")
                } else {
                    detail
                },
                from_target,
            }),
        },
    )
}

/// Who sent stop signal `sig` to soak, in words, and whether it came from inside the
/// target's tree: the tree's members now or at any tick, the root, any descendant of the
/// root, or a process in the target's process group.
fn signal_sender(
    sig: i32,
    tree: &ProcessTree,
    reader: &mut ProcReader,
    seen: &std::collections::BTreeSet<u32>,
    root: u32,
    pgid: Option<i32>,
) -> (String, bool) {
    let name = crate::workload::signal_name(sig);
    let Some(pid) = StopSignals::sender_of(sig) else {
        return (
            format!("{name} came from no process (a terminal's Ctrl-C or the kernel)"),
            false,
        );
    };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| format!(" ({})", c.trim()))
        .unwrap_or_default();
    let stat = reader.stat(pid).ok();
    let mut inside = pid == root
        || tree.contains(pid)
        || seen.contains(&pid)
        || pgid.is_some_and(|g| stat.as_ref().is_some_and(|s| s.pgrp == g));
    // A descendant the ticks never saw (it lived less than an interval).
    let mut p = stat.map(|s| s.ppid);
    for _ in 0..64 {
        match p {
            Some(q) if q == root => inside = true,
            Some(q) if q > 1 && !inside => {
                p = reader.stat(q).ok().map(|s| s.ppid);
                continue;
            }
            _ => {}
        }
        break;
    }
    if inside {
        (
            format!("{name} from pid {pid}{comm}, a process of the target's tree: the target ended the run"),
            true,
        )
    } else {
        (
            format!("{name} from pid {pid}{comm}, outside the target's tree"),
            false,
        )
    }
}

/// The target's two capped logs in `dir`, and the pipe ends to give it.
#[allow(clippy::type_complexity)]
fn open_logs(
    dir: &Path,
    cap: u64,
) -> Result<(
    CappedLog,
    CappedLog,
    std::os::fd::OwnedFd,
    std::os::fd::OwnedFd,
)> {
    let open = |name: &str| {
        let p = dir.join(name);
        CappedLog::create(&p, cap).map_err(|e| Error::io("cannot create", p, e))
    };
    let (o, ow) = open("target.stdout.log")?;
    let (e, ew) = open("target.stderr.log")?;
    Ok((o, e, ow, ew))
}

/// The heap shim's files for a command (planned, not yet created), unless `--no-heap` or
/// the program is statically linked (then a note says why heap_bytes stays empty).
fn heap_files(
    cfg: &RunConfig,
    argv: &[String],
    notes: &mut Vec<String>,
) -> Result<Option<HeapFiles>> {
    if !cfg.heap {
        notes.push("heap not counted (--no-heap)".into());
        return Ok(None);
    }
    let Some(program) = argv.first() else {
        return Ok(None);
    };
    if heap::is_static_elf(program) == Some(true) {
        if cfg.metric == "heap_bytes" {
            return Err(Error::Usage(format!(
                "--metric heap: {program} is statically linked, so the LD_PRELOAD heap shim cannot load; use rss or anon"
            )));
        }
        notes.push(format!(
            "heap_bytes is empty: {program} is statically linked, so the LD_PRELOAD heap shim cannot load"
        ));
        return Ok(None);
    }
    Ok(Some(HeapFiles::plan(&cfg.out_dir)))
}

/// What the report says about heap counting: which allocators served the tree and
/// whether the shim could count them, what heap_bytes misses, and — when the target died
/// of a signal with the shim loaded — that the shim may be to blame.
fn heap_notes(
    heap: Option<&heap::HeapReader>,
    runtime_seen: bool,
    heap_ticks: u64,
    heap_missing_max: u64,
    last: Option<&Sample>,
    root_exit: Option<&ExitInfo>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let published = heap.is_some_and(|h| h.any_published());
    let allocators = heap.map(|h| h.allocators().clone()).unwrap_or_default();
    let counted: Vec<&str> = allocators
        .iter()
        .filter(|(_, &c)| c)
        .map(|(n, _)| n.as_str())
        .collect();
    let uncounted: Vec<&str> = allocators
        .iter()
        .filter(|(_, &c)| !c)
        .map(|(n, _)| n.as_str())
        .collect();
    if let Some(sig) = root_exit
        .filter(|x| !x.stopped_by_soak)
        .and_then(|x| x.signal.as_deref())
    {
        if published {
            notes.push(format!(
                "the target died of {sig} while soak's heap shim was loaded in it: if it does not die without the shim, rerun with --no-heap (and report it to soak)"
            ));
        }
    }
    if !counted.is_empty() {
        notes.push(format!(
            "heap_bytes counted through the program's own allocator ({}), each block sized by its usable-size function",
            counted.join(", ")
        ));
    }
    if !uncounted.is_empty() {
        notes.push(format!(
            "heap not counted where malloc is served by {}: its usable-size function is missing or belongs to another object, so the shim only forwarded calls",
            uncounted.join(", ")
        ));
    }
    if heap_ticks == 0 {
        if !published {
            notes.push("heap_bytes is empty: no process of the tree loaded the heap shim (a static or setuid program, or LD_PRELOAD cleared)".into());
        } else if counted.is_empty() && !uncounted.is_empty() {
            notes.push(
                "heap_bytes is empty: no process of the tree had an allocator the shim can count"
                    .into(),
            );
        } else {
            notes.push("heap_bytes is empty: the shim loaded, but no sample saw a counting process (it ended before the first tick)".into());
        }
    } else if runtime_seen {
        notes.push("heap_bytes is malloc's heap only: a JVM's or V8's objects live in heaps the runtime maps itself, read into runtime_heap_bytes and runtime_heap_after_gc_bytes (judge them with --metric runtime_heap_after_gc and --full-gc-every)".into());
    } else if let Some(note) = last.and_then(bypass_note) {
        notes.push(note);
    } else if heap_missing_max > 0 {
        notes.push(format!(
            "heap_bytes covers only the processes that loaded the heap shim: up to {heap_missing_max} process(es) at once had none (static, setuid, LD_PRELOAD cleared, or an allocator it cannot count)"
        ));
    }
    notes
}

/// A heap far below the anonymous memory means the program's memory mostly does not
/// come from malloc: heap_bytes is then not its heap, and the report must say so.
fn bypass_note(s: &Sample) -> Option<String> {
    let heap = s.heap_bytes? as f64;
    let anon = s.anon_bytes as f64;
    (anon >= 16e6 && heap < 0.05 * anon).then(|| {
        format!(
            "heap_bytes counts {} of {} anonymous memory at the end: this program's memory mostly bypasses malloc (Go, a statically linked jemalloc or mimalloc, raw mmap), so heap_bytes is not its heap — judge rss or anon",
            crate::units::Bytes(heap),
            crate::units::Bytes(anon)
        )
    })
}

fn procfs_sources(pss: bool, heap: bool) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let tree = "summed over the target and its descendants";
    for (col, src) in [
        ("rss_bytes", "/proc/PID/status VmRSS"),
        ("anon_bytes", "/proc/PID/status RssAnon"),
        ("file_bytes", "/proc/PID/status RssFile"),
        ("shmem_bytes", "/proc/PID/status RssShmem"),
        ("swap_bytes", "/proc/PID/status VmSwap"),
        ("threads", "/proc/PID/status Threads"),
        ("fds", "entries of /proc/PID/fd"),
        ("cpu_s", "/proc/PID/stat utime+stime+cutime+cstime"),
    ] {
        m.insert(col.to_string(), format!("{src}, {tree}"));
    }
    m.insert(
        "processes".into(),
        "live (non-zombie) processes in the tree".into(),
    );
    m.insert(
        "heap_bytes".into(),
        if heap {
            format!("LD_PRELOAD shim counting malloc/calloc/realloc/free/memalign/posix_memalign/aligned_alloc (malloc_usable_size), published in shared memory, {tree}")
        } else {
            "not sampled (no heap counters: see the notes)".into()
        },
    );
    m.insert(
        "pss_bytes".into(),
        if pss {
            format!("/proc/PID/smaps_rollup Pss, {tree}")
        } else {
            "not sampled (use --pss)".into()
        },
    );
    m
}

/// The runtimes seen over the run and the full collections requested, with the notes
/// they call for.
fn runtime_report(
    reader: &ProcReader,
    gc: Option<(std::time::Duration, &crate::sample::runtime::GcCounts)>,
    notes: &mut Vec<String>,
) -> (Vec<RuntimeSeen>, Option<FullGcReport>) {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(r) = reader.runtime() else {
        return (Vec::new(), None);
    };
    let jvms = r.jvms();
    let nodes = r.nodes();
    let mut seen: Vec<RuntimeSeen> = jvms
        .iter()
        .map(|j| RuntimeSeen {
            kind: "jvm".into(),
            pid: j.pid,
            detail: match &j.vm_version {
                Some(v) => format!("{}, Java {v}", j.collector),
                None => j.collector.clone(),
            },
            full_gcs: j.full_gcs,
        })
        .collect();
    seen.extend(nodes.iter().map(|n| RuntimeSeen {
        kind: "node".into(),
        pid: n.pid,
        detail: n.node.clone(),
        full_gcs: n.major_gcs,
    }));
    let report = gc.map(|(every, c)| {
        let forced_by_node: u64 = nodes.iter().map(|n| n.forced_gcs).sum();
        let requested = c.done.load(Relaxed) + forced_by_node;
        let failed = c.failed.load(Relaxed);
        notes.push(format!(
            "a full collection was requested every {} ({requested} times)",
            crate::units::Secs(every.as_secs_f64())
        ));
        if failed > 0 {
            let last = c
                .last_error
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            notes.push(format!(
                "{failed} full-collection request(s) to a JVM failed (last: {last})"
            ));
        }
        let via_jcmd = c.via_jcmd.load(Relaxed);
        if via_jcmd > 0 {
            notes.push(format!(
                "{via_jcmd} full collection(s) were requested with jcmd after the attach protocol failed"
            ));
        }
        let skipped = c.skipped.load(Relaxed);
        if skipped > 0 {
            notes.push(format!(
                "{skipped} full-collection period(s) were skipped: the previous request was still running"
            ));
        }
        if seen.is_empty() {
            notes.push(
                "--full-gc-every: no JVM or node process was seen, so no collection was requested"
                    .into(),
            );
        }
        FullGcReport {
            every_s: every.as_secs_f64(),
            requested,
            failed,
        }
    });
    if report.is_none() && seen.iter().any(|s| s.kind == "jvm" && s.full_gcs == 0) {
        notes.push("runtime_heap_after_gc_bytes stays empty for a JVM until its first full collection: --full-gc-every requests them".into());
    }
    (seen, report)
}

/// The column sources of the runtime heaps.
fn runtime_sources(m: &mut BTreeMap<String, String>, seen: &[RuntimeSeen]) {
    let jvm = seen.iter().find(|s| s.kind == "jvm");
    let node = seen.iter().find(|s| s.kind == "node");
    let tree = "summed over the tree's processes that publish one";
    let (mut heap, mut after) = (Vec::new(), Vec::new());
    if let Some(j) = jvm {
        heap.push(format!("JVM ({}): HotSpot perf data (hsperfdata, read without attaching), sun.gc.generation.*.space.*.used: eden, survivors and old generation", j.detail));
        after.push("JVM: old generation plus survivors at the first sample after a full collection (sun.gc.collector.1.invocations changed), carried forward until the next; G1's mixed collections are not told apart by perf data and do not count".to_string());
    }
    if let Some(n) = node {
        heap.push(format!("node {}: v8.getHeapStatistics().used_heap_size, published by soak's preload (NODE_OPTIONS=--require)", n.detail));
        after.push("node: used heap after the last major (mark-compact) collection, seen through perf_hooks 'gc' entries or a forced gc()".to_string());
    }
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "not sampled (no JVM perf data and no node process with soak's preload seen)"
                .to_string()
        } else {
            format!("{}; {tree}", v.join("; "))
        }
    };
    m.insert("runtime_heap_bytes".into(), join(heap));
    m.insert("runtime_heap_after_gc_bytes".into(), join(after));
}

/// "node" when `pid`'s executable is node (or nodejs).
fn runs_node(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    name.starts_with("node").then_some(name)
}

/// Whether `p` still runs as the same process (not exited, not a zombie, pid not reused).
fn alive_as(reader: &mut ProcReader, p: ProcId) -> bool {
    matches!(reader.stat_tracked(p.pid), Ok(s) if s.starttime == p.starttime && s.state != b'Z')
}

fn live_members(tree: &mut ProcessTree, reader: &mut ProcReader) -> usize {
    let members: Vec<ProcId> = tree.members().collect();
    members.into_iter().filter(|m| alive_as(reader, *m)).count()
}

/// One tick's reading of the tree.
pub struct Tick {
    /// The sample summed over live members.
    pub sample: Sample,
    /// Whether the root itself is still alive as itself (not exited, not a zombie).
    pub root_alive: bool,
}

/// Refreshes the tree and sums a sample over its live members (public for the
/// benchmarks, which time exactly what a tick does).
pub fn sample_tree(
    tree: &mut ProcessTree,
    reader: &mut ProcReader,
    mut guard: Option<&mut Guard>,
) -> std::io::Result<Tick> {
    for j in tree.refresh(reader)? {
        if let Some(g) = guard.as_deref_mut() {
            g.member(j);
        }
    }
    let mut total = Sample::default();
    let root = tree.root();
    let mut root_alive = false;
    let members: Vec<ProcId> = tree.members().collect();
    for m in members {
        let st = match reader.stat_tracked(m.pid) {
            Ok(s) => s,
            Err(e) if gone(&e) => {
                tree.forget(m.pid);
                continue;
            }
            Err(e) => return Err(e),
        };
        if st.starttime != m.starttime {
            // The pid now belongs to another process: never sample it as the target.
            tree.forget(m.pid);
            continue;
        }
        if st.state == b'Z' {
            continue;
        }
        if let Some(s) = reader.sample(m.pid, &st)? {
            root_alive |= m == root;
            total.add(&s);
        }
    }
    reader.retain(|pid| tree.contains(pid));
    Ok(Tick {
        sample: total,
        root_alive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_pid_is_never_sampled_as_the_target() {
        let mut reader = ProcReader::new(false);
        let me = std::process::id();
        let real = reader.stat(me).unwrap().starttime;
        // Same pid, other start time: what a reused pid looks like.
        let ghost = ProcId {
            pid: me,
            starttime: real + 1,
        };
        let mut tree = ProcessTree::new(ghost, vec![], vec![]);
        let t = sample_tree(&mut tree, &mut reader, None).unwrap();
        assert_eq!(t.sample.processes, 0);
        assert!(!t.root_alive);
        assert!(tree.is_empty(), "the impostor is dropped from the tree");

        let _turn = crate::workload::CHILDREN_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut tree = ProcessTree::new(
            ProcId {
                pid: me,
                starttime: real,
            },
            vec![],
            vec![],
        );
        let t = sample_tree(&mut tree, &mut reader, None).unwrap();
        assert!(t.root_alive);
        let s = t.sample;
        assert_eq!(s.processes, 1);
        assert!(s.rss_bytes > 0 && s.threads >= 1);
    }
}
