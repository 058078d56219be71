//! What the report says about heap counting: which allocators served the tree, what
//! heap_bytes misses, and whether the shim may be to blame for a crash.

use super::heap::{self, HeapFiles};
use super::Sample;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::report::ExitInfo;
use crate::sample::Col;

/// The heap shim's files for a command (planned, not yet created), unless `--no-heap` or
/// the program is statically linked (then a note says why heap_bytes stays empty).
pub fn heap_files(
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
        if cfg.metric == Col::Heap.name() {
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
pub fn heap_notes(
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
