//! `max_residual`: after an in-process soak drops the workload's state, has the heap come
//! back to the baseline it had before the first iteration?
//!
//! Not in the registration list: `evaluate` judges a timeline, and this rule needs two
//! counts the timeline does not hold (the live heap before the first iteration and after
//! the state was dropped). The in-process soak calls [`check`] with them.

use crate::analysis::verdict::{Check, Reason, Verdict};
use crate::sample::Col;
use crate::units::Bytes;

/// The heap left above `baseline_bytes` at `final_bytes` against `limit_bytes`: within
/// (or below the baseline) passes, beyond fails. Metric `heap_bytes`, limit name
/// `max_residual`.
pub fn check(limit_bytes: u64, baseline_bytes: u64, final_bytes: u64) -> Check {
    let residual = final_bytes as f64 - baseline_bytes as f64;
    let pass = residual <= limit_bytes as f64;
    let (verdict, reason, relation) = if pass {
        (Verdict::Pass, Reason::ResidualWithin, "within")
    } else {
        (Verdict::Fail, Reason::ResidualExceeded, "beyond")
    };
    let distance = if residual >= 0.0 {
        format!("{} above", Bytes(residual))
    } else {
        format!("{} below", Bytes(-residual))
    };
    Check {
        limit_name: "max_residual".into(),
        metric: Col::Heap.name().into(),
        limit: limit_bytes as f64,
        measured: Some(residual),
        verdict,
        reason,
        explanation: format!(
            "heap {distance} the baseline after the state was dropped ({} → {}), {relation} the {} allowed → {verdict}",
            Bytes(baseline_bytes as f64),
            Bytes(final_bytes as f64),
            Bytes(limit_bytes as f64),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_near_the_baseline_passes() {
        let c = check(1_000_000, 10_000_000, 10_400_000);
        assert_eq!(
            (c.verdict, c.reason),
            (Verdict::Pass, Reason::ResidualWithin)
        );
        assert_eq!(c.measured, Some(400_000.0));
        assert_eq!(
            c.explanation,
            "heap 400.0 kB above the baseline after the state was dropped (10.0 MB → 10.4 MB), within the 1.0 MB allowed → PASS"
        );
        assert_eq!(
            (c.limit_name.as_str(), c.metric.as_str()),
            ("max_residual", Col::Heap.name())
        );
    }

    #[test]
    fn below_the_baseline_passes_and_says_below() {
        let c = check(0, 10_000_000, 9_000_000);
        assert_eq!(c.verdict, Verdict::Pass);
        assert_eq!(c.measured, Some(-1_000_000.0));
        assert!(
            c.explanation.starts_with("heap 1.0 MB below the baseline"),
            "{}",
            c.explanation
        );
    }

    #[test]
    fn beyond_the_limit_fails() {
        let c = check(1_000_000, 10_000_000, 15_000_000);
        assert_eq!(
            (c.verdict, c.reason),
            (Verdict::Fail, Reason::ResidualExceeded)
        );
        assert_eq!(
            c.explanation,
            "heap 5.0 MB above the baseline after the state was dropped (10.0 MB → 15.0 MB), beyond the 1.0 MB allowed → FAIL"
        );
        // Exactly at the limit is within it.
        assert_eq!(check(1_000_000, 0, 1_000_000).verdict, Verdict::Pass);
    }
}
