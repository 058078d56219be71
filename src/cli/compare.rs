//! `soak compare BASELINE CANDIDATE`: load both reports (and their timelines, for the
//! chart), compare, print in the chosen format, write compare.json, compare.md and
//! compare.html with `--out`, and tell CI. `soak ab` ends the same way.

use super::args::CompareArgs;
use super::commands::{append_step_summary, github_actions};
use crate::compare::{Comparison, Status};
use crate::console;
use crate::error::{Error, Result};
use crate::report::markup::{gh_message, Markup};
use crate::report::{self, Report};
use crate::timeline::{read_timeline, Timeline};
use clap::ValueEnum;
use std::path::Path;

/// `--format` of `soak compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// A table for a terminal.
    Text,
    /// The comparison as JSON (the shape of compare.json; see the README).
    Json,
    /// Markdown (what compare.md and the CI step summary hold).
    Markdown,
}

/// The epilogue of `soak compare --help`.
pub(super) const COMPARE_HELP: &str = "\
Exit codes:
  0  no figure is more than --fail worse (WARN is exit 0 too)
  1  a figure is more than --fail worse
  2  usage error or bad input (a report missing, unreadable, of another schema)
  5  --out could not be written

Warnings (in every format) say when the comparison may mislead: the runs used different
durations, intervals, warm-ups, limits, metrics, target kinds or hosts, or a side is
INCONCLUSIVE, FAILed its own limits, was interrupted, or its target failed.

Examples:
  soak compare baselines/my-server.json reports/my-server-20261123T101500Z
  soak compare reports/a reports/b --format json
  soak compare reports/a reports/b --warn 2% --fail 10% --out reports/a-vs-b";

/// A usage error unless `--fail` is at least `--warn`.
pub(super) fn check_thresholds(warn: f64, fail: f64) -> Result<()> {
    if fail < warn {
        return Err(Error::Usage(format!(
            "--fail {fail}% is below --warn {warn}%: the failure threshold must be the larger"
        )));
    }
    Ok(())
}

/// One side: its report and, when one lies beside it, its timeline.
pub(super) struct Loaded {
    /// The report.
    pub report: Report,
    /// Its timeline, for the chart.
    pub timeline: Option<Timeline>,
}

/// Loads a run directory or a report.json; the timeline is looked for in the directory
/// (or beside a file named report.json). A missing one only leaves the chart out; an
/// unreadable one says why on stderr.
pub(super) fn load(path: &Path) -> Result<Loaded> {
    let report = report::load(path)?;
    let beside = if path.is_dir() {
        Some(path.join("timeline.csv"))
    } else if path.file_name().is_some_and(|n| n == "report.json") {
        path.parent().map(|d| d.join("timeline.csv"))
    } else {
        None
    };
    let timeline = beside.filter(|p| p.exists()).and_then(|p| {
        read_timeline(&p, &report.settings.metric)
            .map_err(|e| console::err_line(&format!("soak: no chart of {}: {e}", p.display())))
            .ok()
    });
    Ok(Loaded { report, timeline })
}

/// Writes compare.json, compare.md and compare.html into `dir` (created if needed).
pub(super) fn write_files(
    c: &Comparison,
    dir: &Path,
    timelines: [Option<&Timeline>; 2],
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    for (file, body) in [
        ("compare.json", c.to_json()),
        ("compare.md", crate::compare::markdown(c)),
        ("compare.html", crate::compare::html(c, timelines)),
    ] {
        report::write_atomic(&dir.join(file), body.as_bytes())?;
    }
    Ok(())
}

/// Prints the comparison on stdout in `format`: text gets `preface` (soak ab's lines)
/// first, and where the files went and the exit code last; JSON and Markdown stay pure
/// (where the files went goes to stderr).
pub(super) fn print(
    c: &Comparison,
    format: CompareFormat,
    preface: &str,
    out: Option<&Path>,
    exit: i32,
) {
    match format {
        CompareFormat::Text => {
            let mut s = format!("{preface}{}", crate::compare::text(c));
            if let Some(d) = out {
                s.push_str(&format!(
                    "  reports  {} (compare.html, compare.md, compare.json)\n",
                    crate::report::markup::plain(&d.display().to_string())
                ));
            }
            s.push_str(&format!("  exit     {exit}\n"));
            console::out(&s);
        }
        CompareFormat::Json | CompareFormat::Markdown => {
            console::out(&if format == CompareFormat::Json {
                c.to_json()
            } else {
                crate::compare::markdown(c)
            });
            if let Some(d) = out {
                console::err_line(&crate::report::markup::plain(&format!(
                    "soak: wrote compare.json, compare.md and compare.html in {}",
                    d.display()
                )));
            }
        }
    }
}

/// The step summary (Markdown) and, in GitHub Actions, an annotation on stderr.
pub(super) fn tell_ci(c: &Comparison) {
    append_step_summary(&crate::compare::markdown(c));
    if github_actions() {
        let kind = match c.outcome {
            Status::Fail => "error",
            Status::Warn => "warning",
            Status::Ok | Status::NotCompared => "notice",
        };
        let msg = format!(
            "{}: {}",
            c.outcome,
            crate::compare::headline(c, Markup::Plain)
        );
        console::err_line(&format!(
            "::{kind} title=soak compare::{}",
            gh_message(&msg)
        ));
    }
}

/// `soak compare BASELINE CANDIDATE`.
pub(super) fn run(a: CompareArgs) -> Result<i32> {
    check_thresholds(a.warn, a.fail)?;
    let base = load(&a.baseline)?;
    let cand = load(&a.candidate)?;
    let mut c = crate::compare::compare(&base.report, &cand.report, a.warn, a.fail)
        .map_err(|e| Error::Usage(e.to_string()))?;
    c.baseline.path = Some(a.baseline.display().to_string());
    c.candidate.path = Some(a.candidate.display().to_string());
    if let Some(dir) = &a.out {
        write_files(&c, dir, [base.timeline.as_ref(), cand.timeline.as_ref()])?;
    }
    print(&c, a.format, "", a.out.as_deref(), c.exit_code);
    tell_ci(&c);
    Ok(c.exit_code)
}
