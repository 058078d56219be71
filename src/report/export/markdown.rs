//! `report.md`: the verdict, the checks, the metrics and the run's facts.

use super::{Exporter, Input};
use crate::report::markup::Markup;
use crate::report::rows::{checks_table, metrics_table, run_facts, sites_table};
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

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, input: &Input) -> String {
        let r = input.report;
        let mut s = String::new();
        let _ = writeln!(s, "# soak: {} — {}\n", r.outcome(), cell(&r.name));
        let _ = writeln!(s, "**{}**\n", cell(&r.outcome_explanation()));
        if r.outcome_overrides_verdict() {
            let _ = writeln!(
                s,
                "Memory verdict so far: **{}** — {}\n",
                r.verdict,
                cell(&r.explanation)
            );
        }
        if r.interrupted {
            let _ = writeln!(
                s,
                "> Interrupted by {} after {}: the verdict covers what was collected.{}\n",
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
            let _ = writeln!(
                s,
                "> Target {} at {}{}.\n",
                cell(&x.describe()),
                Secs(x.at_s),
                if x.stopped_by_soak {
                    " (stopped by soak)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(s, "## Checks\n");
        s.push_str(&checks_table(&r.checks).render(Markup::Markdown));
        let _ = writeln!(s, "\n## Metrics\n");
        s.push_str(&metrics_table(&r.metrics).render(Markup::Markdown));
        if let Some(m) = r.main_metric() {
            let _ = writeln!(s);
            if let Some(line) = sparkline(&m.points.iter().map(|p| p.y).collect::<Vec<_>>()) {
                let _ = writeln!(
                    s,
                    "- Trend of the robust points: `{line}` ({} to {})",
                    fmt_value(
                        m.unit,
                        m.points.iter().map(|p| p.y).fold(f64::INFINITY, f64::min)
                    ),
                    fmt_value(
                        m.unit,
                        m.points
                            .iter()
                            .map(|p| p.y)
                            .fold(f64::NEG_INFINITY, f64::max)
                    )
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
        }
        if !r.allocation_sites.is_empty() {
            let _ = writeln!(
                s,
                "\n## Allocation sites that grew after warm-up\n\nLive at the end of the run, allocated after warm-up (dhat-rs; `dhat-heap.json` opens in DHAT's viewer).\n"
            );
            s.push_str(&sites_table(&r.allocation_sites).render(Markup::Markdown));
        }
        let _ = writeln!(s, "\n## Run\n");
        for (k, v) in run_facts(r, Markup::Markdown) {
            let _ = writeln!(s, "- {k}: {v}");
        }
        if !r.sources.is_empty() {
            let _ = writeln!(s, "\n## Sources\n");
            for (k, v) in &r.sources {
                let _ = writeln!(s, "- {}: {}", crate::report::markup::md_code(k), cell(v));
            }
        }
        if !r.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &r.notes {
                let _ = writeln!(s, "- {}", cell(&n.to_string()));
            }
        }
        s
    }
}
