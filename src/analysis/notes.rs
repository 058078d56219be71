//! Observations across metrics that no single limit captures, for the report's notes.

use super::SeriesAnalysis;
use crate::note::Note;
use crate::sample::Col;

/// Compares the heap's trend with RSS's when both were measured, and names the case
/// where RSS grows but the live heap does not: memory the allocator keeps (retention,
/// fragmentation), not live objects that leak.
pub fn heap_vs_rss(metrics: &[SeriesAnalysis]) -> Option<Note> {
    let find = |m: &str| {
        metrics
            .iter()
            .find(|a| a.metric == m && a.slope_per_hour.is_some())
    };
    let rss = find(Col::Rss.name())?;
    let malloc = find(Col::Heap.name());
    // The heap that holds the program's objects: a runtime's own when one was read (the
    // JVM's and V8's heaps do not come from malloc, so a flat heap_bytes says nothing
    // about them), else malloc's.
    let (heap, what, runtime) = if let Some(h) = find(Col::RuntimeHeapAfterGc.name()) {
        (h, "the runtime's heap after collections", true)
    } else if let Some(h) = find(Col::RuntimeHeap.name()) {
        (h, "the runtime's heap", true)
    } else {
        (malloc?, "the heap", false)
    };
    let (hs, hl, hh) = (
        heap.slope_per_hour?,
        heap.slope_low_per_hour?,
        heap.slope_high_per_hour?,
    );
    let (rs, rl) = (rss.slope_per_hour?, rss.slope_low_per_hour?);
    // A runtime's heap is flat but malloc's grows: native memory the program holds
    // outside the runtime's heap (a node Buffer's backing store, a JNI library's data) —
    // live, not memory the allocator keeps.
    let native = malloc
        .filter(|_| runtime)
        .and_then(|m| Some((m.slope_per_hour?, m.slope_low_per_hour?)))
        .filter(|&(_, low)| low > 0.0);
    if let (true, Some((ms, _))) = (rl > 0.0 && hl <= 0.0, native) {
        Some(Note::LiveObjectsGrow {
            heap: "malloc's heap (native memory outside the runtime's heap)",
            heap_per_hour: ms,
            rss_per_hour: rs,
        })
    } else if rl > 0.0 && hl <= 0.0 && hh < rl {
        Some(Note::RetentionNotLeak {
            rss_per_hour: rs,
            heap: what,
            heap_per_hour: hs,
            heap_low: hl,
            heap_high: hh,
        })
    } else if hl > 0.0 && rl > 0.0 {
        Some(Note::LiveObjectsGrow {
            heap: what,
            heap_per_hour: hs,
            rss_per_hour: rs,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::noisy;
    use super::super::{evaluate, EvaluateOptions};
    use crate::sample::Col;

    #[test]
    fn rss_growing_with_a_flat_heap_is_named_retention() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let (_, noise) = noisy(600, 0.0, 9);
        let growing: Vec<f64> = t
            .iter()
            .zip(&noise)
            .map(|(x, n)| n + x * 100e6 / 3600.0)
            .collect();
        let flat: Vec<f64> = noise.iter().map(|n| n - 150e6).collect();
        let notes = |rss: &[f64], heap: &[f64]| {
            let cols = vec![
                (Col::Rss.name().to_string(), rss.to_vec()),
                (Col::Heap.name().to_string(), heap.to_vec()),
            ];
            let opts = EvaluateOptions {
                metric: Col::Heap.name().into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits::default(),
            };
            evaluate(&t, &cols, &opts).notes
        };
        let n = notes(&growing, &flat);
        assert!(n.iter().any(|n| n.contains("retention")), "{n:?}");
        let n = notes(&growing, &growing);
        assert!(
            n.iter().any(|n| n.contains("live objects accumulate")),
            "{n:?}"
        );
        assert!(notes(&flat, &flat).is_empty());

        // A runtime's heap, when one was read, is the heap that counts: a JVM whose
        // after-GC heap grows is not "retention" because its (malloc) heap_bytes is flat.
        let with = |extra: Vec<(String, Vec<f64>)>| {
            let mut cols = vec![
                (Col::Rss.name().to_string(), growing.clone()),
                (Col::Heap.name().to_string(), flat.clone()),
            ];
            cols.extend(extra);
            let opts = EvaluateOptions {
                metric: Col::Rss.name().into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits::default(),
            };
            evaluate(&t, &cols, &opts).notes
        };
        let n = with(vec![(
            Col::RuntimeHeapAfterGc.name().into(),
            growing.clone(),
        )]);
        assert!(
            n.iter()
                .any(|n| n.contains("runtime's heap after collections grows")),
            "{n:?}"
        );
        assert!(!n.iter().any(|n| n.contains("retention")), "{n:?}");

        // A runtime's heap that is flat while malloc's grows (node keeping Buffers, whose
        // backing stores V8 mallocs): native memory that lives, not retention.
        let native = |heap: &[f64]| {
            let cols = vec![
                (Col::Rss.name().to_string(), growing.clone()),
                (Col::Heap.name().to_string(), heap.to_vec()),
                (Col::RuntimeHeapAfterGc.name().into(), flat.clone()),
            ];
            let opts = EvaluateOptions {
                metric: Col::Rss.name().into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits::default(),
            };
            evaluate(&t, &cols, &opts).notes
        };
        let n = native(&growing);
        assert!(
            n.iter().any(|n| n.contains("malloc's heap (native memory")
                && n.contains("live objects accumulate")),
            "{n:?}"
        );
        assert!(!n.iter().any(|n| n.contains("retention")), "{n:?}");
        // Both heaps flat: the runtime's rule stands.
        let n = native(&flat);
        assert!(n.iter().any(|n| n.contains("retention")), "{n:?}");
    }
}
