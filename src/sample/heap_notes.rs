//! What the report says about heap counting: which allocators served the tree, what
//! heap_bytes misses, and whether the shim may be to blame for a crash.

use super::heap::{self, HeapFiles};
use super::Sample;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::note::Note;
use crate::report::ExitInfo;
use crate::sample::Col;

/// The heap shim's files for a command (planned, not yet created), unless `--no-heap` or
/// the program is statically linked (then a note says why heap_bytes stays empty).
pub fn heap_files(
    cfg: &RunConfig,
    argv: &[String],
    notes: &mut Vec<Note>,
) -> Result<Option<HeapFiles>> {
    if !cfg.heap {
        notes.push(Note::HeapOff);
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
        notes.push(Note::HeapStaticProgram {
            program: program.clone(),
        });
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
) -> Vec<Note> {
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
            notes.push(Note::ShimMayBeToBlame {
                signal: sig.to_string(),
            });
        }
    }
    if !counted.is_empty() {
        notes.push(Note::HeapCountedThrough {
            allocators: counted.iter().map(|s| s.to_string()).collect(),
        });
    }
    if !uncounted.is_empty() {
        notes.push(Note::HeapNotCountedFor {
            allocators: uncounted.iter().map(|s| s.to_string()).collect(),
        });
    }
    if heap_ticks == 0 {
        if !published {
            notes.push(Note::HeapNoShimLoaded);
        } else if counted.is_empty() && !uncounted.is_empty() {
            notes.push(Note::HeapNoCountableAllocator);
        } else {
            notes.push(Note::HeapNoCountingSample);
        }
    } else if runtime_seen {
        notes.push(Note::HeapIsMallocOnly);
    } else if let Some(note) = last.and_then(bypass_note) {
        notes.push(note);
    } else if heap_missing_max > 0 {
        notes.push(Note::HeapPartial {
            max_missing: heap_missing_max,
        });
    }
    notes
}

/// A heap far below the anonymous memory means the program's memory mostly does not
/// come from malloc: heap_bytes is then not its heap, and the report must say so.
fn bypass_note(s: &Sample) -> Option<Note> {
    let heap = s.heap_bytes? as f64;
    let anon = s.anon_bytes as f64;
    (anon >= 16e6 && heap < 0.05 * anon).then_some(Note::HeapBypassed { heap, anon })
}
