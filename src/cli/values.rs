//! Value parsers of the command line: clap needs a `Display` error, so these return
//! `String` errors; nothing outside `cli` sees them.

/// Parses a percentage such as `5%` or `5`.
pub fn parse_percent(s: &str) -> std::result::Result<f64, String> {
    let v = s.trim().trim_end_matches('%').trim();
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("invalid percentage '{s}': use e.g. 5% or 20%")),
    }
}
