//! The time range of a fleet query: `--start`/`--end` as RFC 3339, Unix seconds or
//! relative to now (`-24h`, `now-2h`, `now`), or `--range 24h` ending now, and the
//! `--step` (by default a round step giving at most about [`TARGET_POINTS`] points,
//! under Prometheus's own cap of 11,000 points per series).

use super::FleetError;
use crate::units::parse_duration;

/// About this many points per series by default: enough for the robust points and the
/// tail test, and a 1,000-series answer stays in the tens of megabytes.
pub const TARGET_POINTS: f64 = 1500.0;

/// Round steps, seconds; the default is the smallest giving at most [`TARGET_POINTS`].
const ROUND_STEPS: [f64; 16] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    21600.0, 86400.0,
];

/// A checked range: Unix seconds, `start < end`, `step > 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryRange {
    /// Start, Unix seconds.
    pub start: f64,
    /// End, Unix seconds.
    pub end: f64,
    /// Step, seconds.
    pub step: f64,
}

impl QueryRange {
    /// The range from the flags as typed; `now` is Unix seconds.
    pub fn resolve(
        start: Option<&str>,
        end: Option<&str>,
        range: Option<&str>,
        step: Option<&str>,
        now: f64,
    ) -> Result<QueryRange, FleetError> {
        let end = match end {
            Some(e) => parse_time(e, now)?,
            None => now,
        };
        let start = match (start, range) {
            (Some(_), Some(_)) => {
                return Err(FleetError::Usage(
                    "give --start or --range, not both (--range R means --start now-R)".into(),
                ))
            }
            (Some(s), None) => parse_time(s, now)?,
            (None, Some(r)) => end - positive_duration("--range", r)?,
            (None, None) => end - 86400.0,
        };
        if start >= end {
            return Err(FleetError::Usage(format!(
                "the range is empty: --start ({}) is not before --end ({})",
                rfc3339(start),
                rfc3339(end)
            )));
        }
        let step = match step {
            Some(s) => positive_duration("--step", s)?,
            None => default_step(end - start),
        };
        let points = (end - start) / step;
        if points > 11_000.0 {
            return Err(FleetError::Usage(format!(
                "--step {step}s gives {points:.0} points per series, over Prometheus's cap of 11,000: use a larger --step or a shorter range"
            )));
        }
        Ok(QueryRange { start, end, step })
    }

    /// The number of steps in the range (points a series present throughout has).
    pub fn points(&self) -> usize {
        ((self.end - self.start) / self.step).floor() as usize + 1
    }
}

/// The smallest round step giving at most [`TARGET_POINTS`] points over `span_s`.
pub fn default_step(span_s: f64) -> f64 {
    let need = span_s / TARGET_POINTS;
    ROUND_STEPS
        .iter()
        .copied()
        .find(|s| *s >= need)
        .unwrap_or_else(|| need.ceil())
}

fn positive_duration(flag: &str, s: &str) -> Result<f64, FleetError> {
    let d = parse_duration(s)
        .map_err(|e| FleetError::Usage(format!("{flag}: {e}")))?
        .as_secs_f64();
    if d <= 0.0 {
        return Err(FleetError::Usage(format!(
            "{flag} must be longer than zero"
        )));
    }
    Ok(d)
}

/// A time as typed: `now`, `now-2h`, `-24h`, Unix seconds (`1700000000`, with a
/// fraction), or RFC 3339 (`2024-05-01T12:00:00Z`).
pub fn parse_time(s: &str, now: f64) -> Result<f64, FleetError> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rel) = t.strip_prefix("now-").or_else(|| t.strip_prefix('-')) {
        let d = parse_duration(rel).map_err(|_| bad_time(s))?;
        return Ok(now - d.as_secs_f64());
    }
    if let Ok(x) = t.parse::<f64>() {
        if x.is_finite() && x >= 0.0 {
            return Ok(x);
        }
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| bad_time(s))
}

fn bad_time(s: &str) -> FleetError {
    FleetError::Usage(format!(
        "invalid time '{s}': use RFC 3339 (2024-05-01T12:00:00Z), Unix seconds (1714564800), or a time relative to now (now, -24h, now-90m)"
    ))
}

/// Unix seconds as RFC 3339 UTC, for messages and reports.
pub fn rfc3339(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0).round() as i64)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_714_564_800.0; // 2024-05-01T12:00:00Z

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(parse_time("now", NOW).unwrap(), NOW);
        assert_eq!(parse_time("-24h", NOW).unwrap(), NOW - 86400.0);
        assert_eq!(parse_time("now-90m", NOW).unwrap(), NOW - 5400.0);
        assert_eq!(parse_time("1714564800", NOW).unwrap(), NOW);
        assert_eq!(parse_time("2024-05-01T12:00:00Z", NOW).unwrap(), NOW);
        assert_eq!(parse_time("2024-05-01T14:00:00+02:00", NOW).unwrap(), NOW);
        let e = parse_time("yesterday", NOW).unwrap_err().to_string();
        assert!(e.contains("RFC 3339") && e.contains("'yesterday'"), "{e}");
    }

    #[test]
    fn default_step_is_round_and_keeps_points_bounded() {
        assert_eq!(default_step(86400.0), 60.0);
        assert_eq!(default_step(3600.0), 5.0);
        assert_eq!(default_step(7.0 * 86400.0), 600.0);
        let r = QueryRange::resolve(None, None, Some("24h"), None, NOW).unwrap();
        assert_eq!((r.start, r.end, r.step), (NOW - 86400.0, NOW, 60.0));
        assert_eq!(r.points(), 1441);
    }

    #[test]
    fn contradictions_and_empty_ranges_are_usage_errors() {
        let e = QueryRange::resolve(Some("-1h"), None, Some("1h"), None, NOW).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let e = QueryRange::resolve(Some("now"), Some("-1h"), None, None, NOW).unwrap_err();
        assert!(e.to_string().contains("not before"), "{e}");
        let e = QueryRange::resolve(None, None, Some("24h"), Some("1s"), NOW).unwrap_err();
        assert!(e.to_string().contains("11,000"), "{e}");
    }
}
