//! What a series is before it is judged: a counter (refused: its growth is its job),
//! a gauge whose level was reset by restarts (cut into stretches between them), and the
//! staleness gaps it has.
//!
//! A restart is a drop back to near the series' starting level from well above it: the
//! value after the drop is within a fifth of the rise above the start, and the rise is at
//! least half the series' whole rise. A leak under a GC sawtooth does not qualify (its
//! troughs climb with the leak), and a steady sawtooth that falls back to its start
//! every cycle is told apart by count: more than [`MAX_RESTARTS`] such drops is a
//! rhythm, which the engine's sawtooth handling judges as it is; so is a series with more
//! than that many large drops of any kind (a quarter of its range or more: a leaking
//! sawtooth whose first troughs happen to sit near its start).

/// Name suffixes of Prometheus counters and histogram/summary parts.
const COUNTER_SUFFIXES: [&str; 5] = ["_total", "_count", "_sum", "_bucket", "_created"];

/// More level-resetting drops than this are a sawtooth, not restarts.
pub const MAX_RESTARTS: usize = 3;

/// Why a series is not judged as a gauge: its name says it is a counter. Only the name
/// decides: a series that only rises and drops to near zero now and then may as well be
/// a leaking gauge restarted by its OOM kills, which must be judged (see
/// [`counter_like_resets`] for the note it gets instead).
pub fn counter_reason(name: Option<&str>) -> Option<String> {
    let n = name?;
    let suffix = COUNTER_SUFFIXES.iter().find(|s| n.ends_with(*s))?;
    Some(format!(
        "{n} is a counter (its name ends in {suffix}): it grows by design; judge a gauge (e.g. *_bytes) or its rate(...), or pass --metric NAME to judge it as a gauge if it is one despite its name"
    ))
}

/// How many times a series that otherwise only rises fell to below a tenth of its
/// previous value (1 to [`MAX_RESTARTS`] times): the shape of a counter reset, or of a
/// leaking gauge that restarts. `None` for any other shape.
pub fn counter_like_resets(v: &[f64]) -> Option<usize> {
    monotonic_resets(v).filter(|r| (1..=MAX_RESTARTS).contains(r))
}

/// For a series that never decreases except by falling to below a tenth of its previous
/// value (a counter reset): the number of such resets. `None` when it decreases in any
/// other way (a gauge).
fn monotonic_resets(v: &[f64]) -> Option<usize> {
    let mut resets = 0;
    for w in v.windows(2) {
        if w[1] < w[0] {
            if w[1] < 0.1 * w[0] {
                resets += 1;
            } else {
                return None;
            }
        }
    }
    Some(resets)
}

/// The indices where a new stretch begins after a restart (the first value after each
/// drop); empty when there is none, or when the drops are a sawtooth's rhythm.
pub fn restarts(v: &[f64]) -> Vec<usize> {
    if v.len() < 4 {
        return Vec::new();
    }
    let head = (v.len() / 20).max(3).min(v.len());
    let start = median(&v[..head]);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let rise = max - start;
    if rise.is_nan() || rise <= 0.0 {
        return Vec::new();
    }
    // Large drops of any kind: a sawtooth has many, restarts are few.
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let large = (1..v.len())
        .filter(|&i| v[i - 1] - v[i] >= 0.25 * (max - min))
        .count();
    let found: Vec<usize> = (1..v.len())
        .filter(|&i| {
            let (before, after) = (v[i - 1], v[i]);
            before - start >= 0.5 * rise && after - start <= 0.2 * (before - start)
        })
        .collect();
    if large > MAX_RESTARTS {
        Vec::new()
    } else {
        found
    }
}

/// The longest stretch (by time) between restarts, as an index range.
pub fn longest_stretch(t: &[f64], cuts: &[usize]) -> std::ops::Range<usize> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(t.len());
    bounds
        .windows(2)
        .map(|w| w[0]..w[1])
        .filter(|r| !r.is_empty())
        .max_by(|a, b| {
            let span = |r: &std::ops::Range<usize>| t[r.end - 1] - t[r.start];
            span(a).total_cmp(&span(b))
        })
        .unwrap_or(0..t.len())
}

/// Missing steps inside the series (staleness gaps): how many, and the longest gap in
/// seconds. Steps before the first and after the last sample are not gaps.
pub fn gaps(t: &[f64], step: f64) -> (usize, f64) {
    let mut missing = 0;
    let mut longest = 0.0f64;
    for w in t.windows(2) {
        let dt = w[1] - w[0];
        let skipped = (dt / step).round() as i64 - 1;
        if skipped > 0 {
            missing += skipped as usize;
            longest = longest.max(dt);
        }
    }
    (missing, longest)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_by_name_only_and_counter_like_shapes_noted() {
        assert!(counter_reason(Some("http_requests_total"))
            .unwrap()
            .contains("rate(...)"));
        assert_eq!(counter_reason(Some("m_bytes")), None);
        assert_eq!(counter_reason(None), None);
        // Rises and falls to zero once: a counter reset, or a leak restarted (noted).
        let reset: Vec<f64> = (0..100).map(|i| f64::from(i % 50) * 10.0).collect();
        assert_eq!(counter_like_resets(&reset), Some(1));
        // A leak that only rises has no reset.
        let leak: Vec<f64> = (0..100).map(|i| 1e6 + f64::from(i)).collect();
        assert_eq!(counter_like_resets(&leak), None);
        // A queue that drains to zero every few samples is a gauge's rhythm.
        let queue: Vec<f64> = (0..100).map(|i| f64::from(i % 7)).collect();
        assert_eq!(counter_like_resets(&queue), None);
    }

    #[test]
    fn a_restart_is_cut_a_sawtooth_and_a_leaking_sawtooth_are_not() {
        // 100 → 300 twice, the second after a restart at index 60.
        let r: Vec<f64> = (0..100)
            .map(|i| 100.0 + 200.0 * f64::from(i % 60) / 60.0)
            .collect();
        assert_eq!(restarts(&r), vec![60]);
        let t: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(longest_stretch(&t, &[60]), 0..60);
        // A steady sawtooth back to its start every 10 samples: a rhythm.
        let saw: Vec<f64> = (0..200).map(|i| 100.0 + f64::from(i % 10) * 5.0).collect();
        assert!(restarts(&saw).is_empty());
        // A leak under a sawtooth: troughs climb.
        let leak: Vec<f64> = (0..200)
            .map(|i| 100.0 + f64::from(i) + f64::from(i % 10) * 5.0)
            .collect();
        assert!(restarts(&leak).is_empty());
        // Two hours of a leak under a sawtooth with a large amplitude: its early troughs
        // sit near its start, but its drops are many.
        let leak: Vec<f64> = (0..1440)
            .map(|i| {
                let h = f64::from(i) / 720.0;
                20.0 * h + (h * 6.0).fract() * 30.0
            })
            .collect();
        assert!(restarts(&leak).is_empty());
    }

    #[test]
    fn gaps_count_missing_steps() {
        let t = [0.0, 60.0, 120.0, 600.0, 660.0];
        assert_eq!(gaps(&t, 60.0), (7, 480.0));
        assert_eq!(gaps(&[0.0, 60.0], 60.0), (0, 0.0));
    }
}
