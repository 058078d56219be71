//! The run of a command soak starts, or of a running pid it attached to: the target's
//! process tree is sampled from procfs; SIGCHLD tells when members exit.

use super::{conclude, End, Ending, Recorder, StopSignals};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::report::TargetInfo;
use crate::sample::heap::{self, HeapFiles};
use crate::sample::procfs::{gone, ProcReader};
use crate::sample::Sample;
use crate::target::guard::Guard;
use crate::target::log::CappedLog;
use crate::target::process::{self, Reaped};
use crate::target::tree::{ProcId, ProcessTree};
use crate::target::{oom, ExitInfo};
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
    let mut sigchld = super::install(SignalKind::child())?;
    let oom_before = oom::cgroup_oom_kills();
    let oom_since_us = oom::monotonic_us();
    let live = super::serve_metrics(cfg).await?;

    let mut guard = None;
    let mut notes = Vec::new();
    let mut logs: Vec<(&str, CappedLog)> = Vec::new();
    let heap = match &cfg.target {
        TargetSpec::Command(argv) => heap_files(cfg, argv, &mut notes)?,
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
                guard = Some(g);
            }
            let env = heap.as_ref().map(|h| h.env()).unwrap_or_default();
            let l = open_logs(&dir, cfg.log_cap).and_then(|(o, e, ow, ew)| {
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

    let mut reader = ProcReader::new(cfg.pss);
    if let Some(h) = &heap {
        reader = reader.with_heap(h.reader());
    }
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
                let (sample, root_alive) = match sample_tree(&mut tree, &mut reader, guard.as_mut()) {
                    Ok(t) => (t.sample, t.root_alive),
                    Err(e) => break End::MonitorError(format!("cannot read /proc: {e}")),
                };
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

    // Stop the target (never an attached one).
    let mut stop_escalated = None;
    if let Some(g) = pgid {
        let mut reaped = Vec::new();
        stop_escalated = Some(process::stop_tree(
            g,
            &mut tree,
            &mut reader,
            cfg.grace,
            |r| reaped.push(r),
        ));
        for r in reaped {
            handle_reaped(r, elapsed_s, true, &mut root_exit);
        }
    }
    if let Some(g) = guard.take() {
        g.done();
    }
    for (name, log) in logs {
        match log.finish(std::time::Duration::from_secs(2)) {
            Ok(None) => {}
            Ok(Some(t)) => notes.push(crate::target::log::truncation_note(name, &t, cfg.log_cap)),
            Err(e) => notes.push(format!("{name} is incomplete: {e}")),
        }
    }
    let recorded = rec.finish(elapsed_s);
    if heap.is_some() {
        if heap_ticks == 0 {
            notes.push(
                "heap_bytes is empty: no process of the tree loaded the heap shim (a static or setuid program, LD_PRELOAD cleared, or not glibc)".into(),
            );
        } else if let Some(note) = last.and_then(|s| bypass_note(&s)) {
            notes.push(note);
        } else if heap_missing_max > 0 {
            notes.push(format!(
                "heap_bytes covers only the processes that loaded the heap shim: up to {heap_missing_max} process(es) at once had none (static, setuid, or LD_PRELOAD cleared)"
            ));
        }
    }
    drop(heap);

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
            sources: procfs_sources(cfg.pss, heap_ticks > 0),
            notes,
            child_oom,
        },
    )
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

/// The heap shim's files for a command, unless `--no-heap` or the program is statically
/// linked (then a note says why heap_bytes stays empty).
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
    HeapFiles::create(&cfg.out_dir)
        .map(Some)
        .map_err(|e| Error::io("cannot set up heap counting in", &cfg.out_dir, e))
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

        let _turn = crate::target::CHILDREN_LOCK
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
