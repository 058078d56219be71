//! Durations, sizes and rates: parsing what users type and displaying what soak measured.
//!
//! Sizes follow the DESIGN contract: `kB`, `MB`, `GB` are decimal (10^3, 10^6, 10^9),
//! `KiB`, `MiB`, `GiB` binary; a bare number is bytes. Rates are `SIZE/h`, `SIZE/min` or
//! `SIZE/s` and are kept internally in bytes per hour, the unit the verdict speaks in.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A value the user typed that could not be understood, with a hint of the accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} '{input}': {hint}")]
pub struct UnitError {
    /// What was being parsed ("duration", "size", "rate").
    pub kind: &'static str,
    /// What the user typed.
    pub input: String,
    /// How to write it instead.
    pub hint: &'static str,
}

const DURATION_HINT: &str = "use a number with a unit, e.g. 500ms, 30s, 10m, 24h, 1h30m (units from largest to smallest, each once; a bare number is seconds)";
const SIZE_HINT: &str = "use a number with a unit, e.g. 512kB, 100MB, 2GB, 64MiB (kB/MB/GB decimal, KiB/MiB/GiB binary; a bare number is bytes)";
const RATE_HINT: &str = "use SIZE/h, SIZE/min, SIZE/s or SIZE/d, e.g. 1MB/h, 60MB/h, 10kB/min";

fn err(kind: &'static str, input: &str, hint: &'static str) -> UnitError {
    UnitError {
        kind,
        input: input.to_string(),
        hint,
    }
}

/// Splits "12.5MB" into (12.5, "MB"); the number must be finite and not negative.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let value: f64 = s[..end].parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Some((value, s[end..].trim()))
}

/// Parses a duration such as `500ms`, `30s`, `10m`, `24h`, `1d` or a compound `1h30m`
/// (units from the largest to the smallest, each at most once: `1h1h` is an error).
/// A bare number alone is seconds.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let e = || err("duration", input, DURATION_HINT);
    let mut rest = input.trim();
    if rest.is_empty() {
        return Err(e());
    }
    let mut total = 0.0f64;
    // The previous component's unit, in seconds: the next must be smaller.
    let mut previous = f64::INFINITY;
    let compound = split_number(input)
        .is_some_and(|(_, after)| after.contains(|c: char| c.is_ascii_digit() || c == '.'));
    while !rest.is_empty() {
        let (value, after) = split_number(rest).ok_or_else(e)?;
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map(|(i, _)| i)
            .unwrap_or(after.len());
        let unit = after[..unit_len].trim();
        let seconds = match unit {
            "" | "s" | "sec" | "secs" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return Err(e()),
        };
        // `1h1h`, `30m1h`, or a bare number inside a compound (`1h30`) is a typo.
        if seconds >= previous || (compound && unit.is_empty()) {
            return Err(e());
        }
        previous = seconds;
        total += value * seconds;
        rest = after[unit_len..].trim_start();
    }
    if !total.is_finite() || total > 1e12 {
        return Err(e());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses a size such as `100MB` or `64MiB` into bytes.
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let e = || err("size", input, SIZE_HINT);
    let (value, unit) = split_number(input).ok_or_else(e)?;
    let factor = size_factor(unit).ok_or_else(e)?;
    let bytes = value * factor;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(e());
    }
    Ok(bytes.round() as u64)
}

fn size_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "" | "B" => 1.0,
        "kB" | "KB" | "k" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0f64.powi(4),
        _ => return None,
    })
}

/// A growth rate in bytes per hour (may be negative when displayed, never when parsed).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    /// Bytes per hour.
    pub bytes_per_hour: f64,
}

impl Rate {
    /// A rate from bytes per hour.
    pub fn per_hour(bytes_per_hour: f64) -> Self {
        Rate { bytes_per_hour }
    }
    /// The rate in decimal megabytes per hour, the unit reports use.
    pub fn mb_per_hour(self) -> f64 {
        self.bytes_per_hour / 1e6
    }
}

/// Parses a rate such as `1MB/h`, `10kB/min` or `1KiB/s`.
pub fn parse_rate(input: &str) -> Result<Rate, UnitError> {
    let e = || err("rate", input, RATE_HINT);
    let (size, per) = input.trim().rsplit_once('/').ok_or_else(e)?;
    let bytes = parse_size(size).map_err(|_| e())? as f64;
    let per_hour = match per.trim() {
        "h" | "hr" | "hour" => 1.0,
        "min" | "m" => 60.0,
        "s" | "sec" => 3600.0,
        "d" | "day" => 1.0 / 24.0,
        _ => return Err(e()),
    };
    Ok(Rate::per_hour(bytes * per_hour))
}

/// The unit a metric's values are in, so figures are displayed sensibly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes (shown in decimal MB).
    Bytes,
    /// A count (threads, descriptors, processes).
    Count,
    /// Seconds (CPU time).
    Seconds,
}

impl Unit {
    /// The unit a metric column is in, from its name.
    pub fn of_column(column: &str) -> Unit {
        if column.ends_with("_bytes") || matches!(column, "rss" | "anon" | "heap" | "pss") {
            Unit::Bytes
        } else if column.ends_with("_s") {
            Unit::Seconds
        } else {
            Unit::Count
        }
    }
}

/// Displays bytes with a decimal unit (kB, MB, GB), three significant figures or so.
pub struct Bytes(pub f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        let a = b.abs();
        if a >= 1e9 {
            write!(f, "{:.2} GB", b / 1e9)
        } else if a >= 1e6 {
            write!(f, "{:.1} MB", b / 1e6)
        } else if a >= 1e3 {
            write!(f, "{:.1} kB", b / 1e3)
        } else {
            write!(f, "{b:.0} B")
        }
    }
}

/// Displays a duration compactly (`45s`, `10m`, `1h30m`, `2.5d`).
pub struct Secs(pub f64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if !s.is_finite() {
            return write!(f, "∞");
        }
        if s < 1e-3 {
            write!(f, "{:.0}µs", s * 1e6)
        } else if s < 1.0 {
            write!(f, "{:.0}ms", s * 1000.0)
        } else if s < 120.0 {
            write!(f, "{s:.0}s")
        } else if s < 3600.0 {
            let m = (s / 60.0).floor();
            let rem = (s - m * 60.0).round();
            if rem >= 1.0 {
                write!(f, "{m:.0}m{rem:.0}s")
            } else {
                write!(f, "{m:.0}m")
            }
        } else if s < 3.0 * 86400.0 {
            // Whole minutes first, so 3h59m50s reads 4h, not 3h60m.
            let minutes = (s / 60.0).round();
            let h = (minutes / 60.0).floor();
            let m = minutes - h * 60.0;
            if m >= 1.0 {
                write!(f, "{h:.0}h{m:.0}m")
            } else {
                write!(f, "{h:.0}h")
            }
        } else {
            write!(f, "{:.1}d", s / 86400.0)
        }
    }
}

/// Formats a value in the metric's unit.
pub fn fmt_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Bytes => Bytes(v).to_string(),
        Unit::Count => format!("{v:.1}"),
        Unit::Seconds => format!("{v:.2} s"),
    }
}

/// Formats a per-hour rate in the metric's unit (MB/h for bytes).
pub fn fmt_rate(unit: Unit, per_hour: f64) -> String {
    match unit {
        Unit::Bytes => format!("{} MB/h", num(per_hour / 1e6)),
        Unit::Count => format!("{}/h", num(per_hour)),
        Unit::Seconds => format!("{} s/h", num(per_hour)),
    }
}

/// A rate with its interval, the ends without their unit (the rate before them has it):
/// `120 MB/h [118, 122]`.
pub fn fmt_rate_interval(unit: Unit, rate: f64, low: f64, high: f64) -> String {
    let bare = |x: f64| {
        let s = fmt_rate(unit, x);
        s.split(' ')
            .next()
            .unwrap_or("")
            .trim_end_matches("/h")
            .to_string()
    };
    format!("{} [{}, {}]", fmt_rate(unit, rate), bare(low), bare(high))
}

/// A number with as many decimals as its size needs (none from 100, one from 10, two
/// below), `∞` for an unbounded interval end.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return if v > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_duration("1d2h3m4s").unwrap(),
            Duration::from_secs(93784)
        );
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        for bad in ["1h1h", "30m1h", "1h30", "1s500ms1s", "5s5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for bad in ["", "ten", "10x", "-5s", "m", "1e400s", "5s-"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_decimal_and_binary() {
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("64MiB").unwrap(), 64 * 1024 * 1024);
        assert_eq!(parse_size("512kB").unwrap(), 512_000);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 1_610_612_736);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "MB", "12XB", "-1MB", "1..2MB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1MB/h").unwrap().bytes_per_hour, 1e6);
        assert_eq!(parse_rate("60MB/h").unwrap().mb_per_hour(), 60.0);
        assert_eq!(parse_rate("1MB/min").unwrap().bytes_per_hour, 60e6);
        assert_eq!(parse_rate("1kB/s").unwrap().bytes_per_hour, 3.6e6);
        assert_eq!(parse_rate("24MB/d").unwrap().bytes_per_hour, 1e6);
        for bad in ["1MB", "MB/h", "1MB/week", "/h"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display() {
        assert_eq!(Bytes(84_200_000.0).to_string(), "84.2 MB");
        assert_eq!(Secs(600.0).to_string(), "10m");
        assert_eq!(Secs(5400.0).to_string(), "1h30m");
        assert_eq!(Secs(500e-6).to_string(), "500µs");
        assert_eq!(Secs(0.25).to_string(), "250ms");
        assert_eq!(fmt_rate(Unit::Bytes, 84.2e6), "84.2 MB/h");
        assert_eq!(fmt_rate(Unit::Count, 3.0), "3.00/h");
        assert_eq!(fmt_rate(Unit::Seconds, f64::NEG_INFINITY), "-∞ s/h");
        assert_eq!(fmt_value(Unit::Count, 4.0), "4.0");
        assert_eq!(fmt_value(Unit::Seconds, 1.5), "1.50 s");
    }

    proptest! {
        #[test]
        fn size_parser_never_panics(s in ".{0,20}") {
            let _ = parse_size(&s);
            let _ = parse_duration(&s);
            let _ = parse_rate(&s);
        }

        #[test]
        fn size_round_trips(n in 0u64..1_000_000_000u64) {
            prop_assert_eq!(parse_size(&format!("{n}")).unwrap(), n);
            prop_assert_eq!(parse_size(&format!("{n}kB")).unwrap(), n * 1000);
        }

        #[test]
        fn duration_round_trips(ms in 1u64..100_000_000u64) {
            prop_assert_eq!(parse_duration(&format!("{ms}ms")).unwrap(), Duration::from_millis(ms));
        }
    }
}
