//! `report.md`: the verdict, the checks, the metrics and the run's facts.

use super::{Exporter, Input};
use crate::report::markup::Markup;
use crate::report::rows::{checks_table, metrics_table, run_facts, sites_intro, sites_table};
use crate::report::Report;
use crate::units::{fmt_value, Secs};
use std::fmt::Write;

pub(crate) struct Markdown;

/// A text sparkline (▁…█) of values, for step summaries that show no images.
pub fn sparkline(values: &[f64]) -> Option<String> {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    Some(
        v.iter()
            .map(|x| {
                let k = if span > 0.0 {
                    ((x - lo) / span * 7.0).round() as usize
                } else {
                    0
                };
                BARS[k.min(7)]
            })
            .collect(),
    )
}

/// User or target text in a heading, list item or table cell.
fn cell(s: &str) -> String {
    crate::report::markup::md_text(s)
}

/// Where the Markdown goes: `report.md` (every section under its heading, readable as
/// plain text too) or a CI step summary, which shares its page with the job's other
/// steps: there the verdict is the first screen and the long parts (checks, metrics,
/// run facts, notes) are folded into `<details>` blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `report.md`.
    File,
    /// `$GITHUB_STEP_SUMMARY`.
    StepSummary,
}

/// Writes a section: a heading (File), or a folded block whose summary line is
/// `title` and `detail` (StepSummary). GitHub renders Markdown inside `<details>` only
/// after a blank line.
fn section(s: &mut String, layout: Layout, title: &str, detail: &str, body: &str) {
    match layout {
        Layout::File => {
            let _ = write!(s, "\n## {title}\n\n{body}");
        }
        Layout::StepSummary => {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", crate::report::markup::html(detail))
            };
            let _ = write!(
                s,
                "\n<details><summary>{title}{detail}</summary>\n\n{body}\n</details>\n"
            );
        }
    }
}

/// "1 FAIL, 2 PASS": how many checks gave each verdict, worst first.
fn verdict_counts(checks: &[crate::analysis::Check]) -> String {
    use crate::analysis::Verdict;
    [Verdict::Fail, Verdict::Inconclusive, Verdict::Pass]
        .iter()
        .filter_map(|v| {
            let n = checks.iter().filter(|c| c.verdict == *v).count();
            (n > 0).then(|| format!("{n} {v}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report in Markdown, laid out for `layout`.
pub(crate) fn render(r: &Report, layout: Layout) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# soak: {} — {}\n", r.outcome(), cell(&r.name));
    let _ = writeln!(s, "**{}**", cell(&r.outcome_explanation()));
    if r.outcome_overrides_verdict() {
        let _ = writeln!(
            s,
            "\nMemory verdict so far: **{}** — {}",
            r.verdict,
            cell(&r.explanation)
        );
    }
    if r.interrupted {
        let _ = writeln!(
            s,
            "\n> Interrupted by {} after {}: the verdict covers what was collected.{}",
            cell(r.end.signal.as_deref().unwrap_or("a signal")),
            Secs(r.elapsed_s),
            r.end
                .detail
                .as_deref()
                .map(|d| format!(" {}.", cell(d)))
                .unwrap_or_default()
        );
    }
    if let Some(x) = &r.target_exit {
        let _ = writeln!(s, "\n> Target {}.", cell(&x.describe_when()));
    }
    let trend = r.main_metric().map(trend_lines).unwrap_or_default();
    if layout == Layout::StepSummary && !trend.is_empty() {
        // The verdict metric's figures stay on the first screen, under the verdict.
        let _ = write!(s, "\n{trend}");
    }
    section(
        &mut s,
        layout,
        "Checks",
        &verdict_counts(&r.checks),
        &checks_table(&r.checks).render(Markup::Markdown),
    );
    let mut metrics = metrics_table(&r.metrics).render(Markup::Markdown);
    if layout == Layout::File && !trend.is_empty() {
        let _ = write!(metrics, "\n{trend}");
    }
    section(
        &mut s,
        layout,
        "Metrics",
        &format!("{}", r.metrics.len()),
        &metrics,
    );
    if !r.allocation_sites.is_empty() {
        let body = format!(
            "{}\n\n{}",
            sites_intro(&r.allocation_sites),
            sites_table(&r.allocation_sites).render(Markup::Markdown)
        );
        section(
            &mut s,
            layout,
            "Allocation sites that grew after warm-up",
            &format!("{}", r.allocation_sites.len()),
            &body,
        );
    }
    let mut run = String::new();
    for (k, v) in run_facts(r, Markup::Markdown) {
        let _ = writeln!(run, "- {k}: {v}");
    }
    section(&mut s, layout, "Run", "", &run);
    if !r.sources.is_empty() {
        let mut body = String::new();
        for (k, v) in &r.sources {
            let _ = writeln!(body, "- {}: {}", crate::report::markup::md_code(k), cell(v));
        }
        section(&mut s, layout, "Sources", "", &body);
    }
    if !r.notes.is_empty() {
        let mut body = String::new();
        for n in &r.notes {
            let _ = writeln!(body, "- {}", cell(&n.to_string()));
        }
        section(
            &mut s,
            layout,
            "Notes",
            &format!("{}", r.notes.len()),
            &body,
        );
    }
    s
}

/// The verdict metric's trend in a few list items: the sparkline of its robust points,
/// the smallest growth it would detect, how long a run would decide, how it was fitted.
fn trend_lines(m: &crate::analysis::SeriesAnalysis) -> String {
    let mut s = String::new();
    let ys: Vec<f64> = m.points.iter().map(|p| p.y).collect();
    if let Some(line) = sparkline(&ys) {
        let _ = writeln!(
            s,
            "- Trend of the robust points: `{line}` ({} to {})",
            fmt_value(m.unit, ys.iter().copied().fold(f64::INFINITY, f64::min)),
            fmt_value(m.unit, ys.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        );
    }
    if let Some(d) = crate::report::rows::detectable_text(m) {
        let _ = writeln!(s, "- Smallest growth this run would detect: {}", cell(&d));
    }
    if let Some(d) = m.decide_after_s {
        let _ = writeln!(
            s,
            "- A run of about {} would likely decide (estimate: same slope, noise averaging like white noise).",
            Secs(d)
        );
    }
    if let Some(pm) = &m.point_method {
        let _ = writeln!(
            s,
            "- Trend fitted to {} robust points ({pm}) after a {} warm-up.",
            m.points.len(),
            Secs(m.warmup_s)
        );
    }
    s
}

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, input: &Input) -> String {
        render(input.report, Layout::File)
    }
}
