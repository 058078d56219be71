//! The fleet report's files (`--out DIR`): fleet.json (the model as `--format json`
//! prints it), fleet.md and fleet.html, one exporter per format in `export/`, each file
//! written atomically.

mod html;
mod markdown;
mod sparkline;

use super::model::FleetReport;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// The report as JSON (what `--format json` prints).
pub fn to_json(r: &FleetReport) -> String {
    // The model has only strings, numbers and maps with string keys: serialising it
    // cannot fail, and an empty object would be caught by every test if it did.
    serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".into())
}

/// One format's rendering.
type Render = fn(&FleetReport) -> String;

/// Every format: its file name and its rendering.
const EXPORTERS: [(&str, Render); 3] = [
    ("fleet.json", to_json),
    ("fleet.md", markdown::render),
    ("fleet.html", html::render),
];

/// Writes every format into `dir` (created if missing); returns the files written.
pub fn write_all(r: &FleetReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::io("cannot create", dir, e))?;
    let mut written = Vec::new();
    for (name, render) in EXPORTERS {
        let path = dir.join(name);
        crate::report::write_atomic(&path, render(r).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

pub use markdown::render as to_markdown;
