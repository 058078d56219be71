//! The exporters — one file per format in `export/`, registered here by one line in the
//! `exporters!` list — and the atomic writing of a run's report files.

/// `report.json`: written first and on its own (the other formats are re-rendered from it).
pub(super) mod json;

/// Declares each human-facing exporter's module and lists it in `human_exporters`, so a
/// new format is its file plus one line here.
macro_rules! exporters {
    ($($module:ident :: $exporter:ident),* $(,)?) => {
        $(pub(super) mod $module;)*

        /// The human-facing formats `soak report` re-renders.
        fn human_exporters() -> Vec<Box<dyn Exporter>> {
            vec![$(Box::new($module::$exporter)),*]
        }
    };
}

exporters! {
    markdown::Markdown,
    html::Html,
    junit::Junit,
}

use super::{Report, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::timeline::Timeline;
use std::path::Path;

/// What an exporter renders: the report, and the timeline for charts when there is one.
pub struct Input<'a> {
    /// The report.
    pub report: &'a Report,
    /// The run's timeline (the HTML charts need it).
    pub timeline: Option<&'a Timeline>,
}

/// One output format.
pub(crate) trait Exporter {
    /// File name in the run directory.
    fn file_name(&self) -> &'static str;
    /// The rendered file.
    fn render(&self, input: &Input) -> String;
}

/// The report as JSON (what `--format json` prints).
pub fn to_json(r: &Report) -> String {
    json::Json.render(&Input {
        report: r,
        timeline: None,
    })
}

/// The Markdown rendering (`report.md`).
pub fn to_markdown(r: &Report) -> String {
    markdown::render(r, markdown::Layout::File)
}

/// The Markdown for a CI step summary: the verdict first, the long tables folded into
/// `<details>` blocks.
pub fn to_step_summary(r: &Report) -> String {
    markdown::render(r, markdown::Layout::StepSummary)
}

/// The report files a run directory holds (report.json and every human format), so
/// what recognises a run's own files (`soak prune`) follows the registered formats.
pub fn file_names() -> Vec<&'static str> {
    std::iter::once(json::Json.file_name())
        .chain(human_exporters().iter().map(|e| e.file_name()))
        .collect()
}

/// Writes `report.json` and every human format into `dir`, each atomically.
pub fn write_all(r: &Report, timeline: Option<&Timeline>, dir: &Path) -> Result<()> {
    let input = Input {
        report: r,
        timeline,
    };
    write_atomic(
        &dir.join(json::Json.file_name()),
        json::Json.render(&input).as_bytes(),
    )?;
    write_renderings(&input, dir, vec![json::Json.file_name()])
}

/// Writes the Markdown, HTML and JUnit renderings: each is tried even when one fails
/// (on a full disk a small file may still fit), and the error names what is missing and
/// what was written.
pub fn write_human(input: &Input, dir: &Path) -> Result<()> {
    write_renderings(input, dir, Vec::new())
}

/// [`write_human`], after `written` (files already in `dir`).
fn write_renderings(input: &Input, dir: &Path, mut written: Vec<&'static str>) -> Result<()> {
    let mut failed = Vec::new();
    let mut first_error = None;
    for e in human_exporters() {
        match write_atomic(&dir.join(e.file_name()), e.render(input).as_bytes()) {
            Ok(()) => written.push(e.file_name()),
            Err(err) => {
                failed.push(e.file_name());
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(err) => Err(Error::Monitor(format!(
            "{} not written ({err}); written: {}",
            failed.join(", "),
            if written.is_empty() {
                "none".to_string()
            } else {
                written.join(", ")
            }
        ))),
    }
}

/// Reads a report back from `report.json` (a run directory or the file itself).
pub fn load(path: &Path) -> Result<Report> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Usage(format!("cannot read report {}: {e}", file.display())))?;
    let r: Report = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not a soak report (line {}, column {}: {e})",
            file.display(),
            e.line(),
            e.column()
        ))
    })?;
    // Another schema's fields may mean something else: never compare or render them
    // as if they were this one's.
    if r.schema_version != SCHEMA_VERSION {
        return Err(Error::Usage(format!(
            "{} has report schema_version {}; this soak reads schema_version {SCHEMA_VERSION}",
            file.display(),
            r.schema_version
        )));
    }
    Ok(r)
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_data()
    });
    if let Err(e) = written {
        // A full disk must not leave a half-written temporary behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write", &tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}
