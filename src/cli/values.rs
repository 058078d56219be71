//! Value parsers of the command line. `config` stays free of clap: the enums clap
//! lists live here and map onto the config types. clap needs a `Display` error, so the
//! parse functions return `String` errors; nothing outside `cli` sees them.

use crate::config::{Format, InconclusivePolicy};
use clap::builder::{EnumValueParser, MapValueParser, TypedValueParser};
use clap::ValueEnum;

/// `--inconclusive`'s values; the doc comments are the `--help` text of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InconclusiveArg {
    /// Exit 3 (the default).
    Exit3,
    /// Treat as PASS (exit 0).
    Pass,
    /// Treat as FAIL (exit 1).
    Fail,
}

impl From<InconclusiveArg> for InconclusivePolicy {
    fn from(a: InconclusiveArg) -> Self {
        match a {
            InconclusiveArg::Exit3 => InconclusivePolicy::Exit3,
            InconclusiveArg::Pass => InconclusivePolicy::Pass,
            InconclusiveArg::Fail => InconclusivePolicy::Fail,
        }
    }
}

impl InconclusiveArg {
    /// The policy a profile's `inconclusive` value names, spelled as on the command line.
    pub fn policy(name: &str) -> Option<InconclusivePolicy> {
        <Self as ValueEnum>::from_str(name, false)
            .ok()
            .map(Into::into)
    }
}

/// `--format`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// A one-screen text summary.
    Text,
    /// The report JSON.
    Json,
}

impl From<FormatArg> for Format {
    fn from(a: FormatArg) -> Self {
        match a {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Parses `--inconclusive` straight into the config type, listing the values in `--help`.
pub fn inconclusive(
) -> MapValueParser<EnumValueParser<InconclusiveArg>, fn(InconclusiveArg) -> InconclusivePolicy> {
    EnumValueParser::<InconclusiveArg>::new().map(InconclusivePolicy::from)
}

/// Parses `--format` straight into the config type, listing the values in `--help`.
pub fn format() -> MapValueParser<EnumValueParser<FormatArg>, fn(FormatArg) -> Format> {
    EnumValueParser::<FormatArg>::new().map(Format::from)
}

/// Parses a percentage such as `5%` or `5`.
pub fn parse_percent(s: &str) -> std::result::Result<f64, String> {
    let v = s.trim().trim_end_matches('%').trim();
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("invalid percentage '{s}': use e.g. 5% or 20%")),
    }
}
