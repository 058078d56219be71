//! What the report says about the language runtimes whose heap soak read, and the
//! full collections it requested.

use super::procfs::ProcReader;
use crate::note::Note;
use crate::report::{FullGcReport, RuntimeSeen};
use crate::sample::Col;
use std::collections::BTreeMap;

/// The runtimes seen over the run and the full collections requested, with the notes
/// they call for.
pub fn runtime_report(
    reader: &ProcReader,
    gc: Option<(std::time::Duration, &crate::sample::runtime::GcCounts)>,
    notes: &mut Vec<Note>,
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
        notes.push(Note::FullGcRequested {
            every_s: every.as_secs_f64(),
            requested,
        });
        if failed > 0 {
            let last = c
                .last_error
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            notes.push(Note::FullGcFailed { failed, last });
        }
        let via_jcmd = c.via_jcmd.load(Relaxed);
        if via_jcmd > 0 {
            notes.push(Note::FullGcViaJcmd { count: via_jcmd });
        }
        let skipped = c.skipped.load(Relaxed);
        if skipped > 0 {
            notes.push(Note::FullGcSkipped { count: skipped });
        }
        if seen.is_empty() {
            notes.push(Note::FullGcNoRuntime);
        }
        FullGcReport {
            every_s: every.as_secs_f64(),
            requested,
            failed,
        }
    });
    if report.is_none() && seen.iter().any(|s| s.kind == "jvm" && s.full_gcs == 0) {
        notes.push(Note::JvmAfterGcEmpty);
    }
    (seen, report)
}

/// The column sources of the runtime heaps.
pub fn runtime_sources(m: &mut BTreeMap<String, String>, seen: &[RuntimeSeen]) {
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
    m.insert(Col::RuntimeHeap.name().into(), join(heap));
    m.insert(Col::RuntimeHeapAfterGc.name().into(), join(after));
}

/// "node" when `pid`'s executable is node (or nodejs).
pub fn runs_node(pid: u32) -> Option<String> {
    let exe = procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .exe()
        .ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    name.starts_with("node").then_some(name)
}
