//! `report.md`: the verdict, the checks, the metrics and the run's facts.

use super::{metric_cells, target_line, Exporter, Input, METRIC_HEADERS};
use crate::units::{Bytes, Secs};
use std::fmt::Write;

pub(super) struct Markdown;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, input: &Input) -> String {
        let r = input.report;
        let mut s = String::new();
        let _ = writeln!(s, "# soak: {} — {}\n", r.verdict, cell(&r.name));
        let _ = writeln!(s, "**{}**\n", cell(&r.explanation));
        if r.interrupted {
            let _ = writeln!(
                s,
                "> Interrupted by {} after {}: the verdict covers what was collected.\n",
                r.end.signal.as_deref().unwrap_or("a signal"),
                Secs(r.elapsed_s)
            );
        }
        if let Some(x) = &r.target_exit {
            let _ = writeln!(
                s,
                "> Target {} at {}{}.\n",
                x.describe(),
                Secs(x.at_s),
                if x.stopped_by_soak {
                    " (stopped by soak)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(
            s,
            "## Checks\n\n| verdict | limit | metric | explanation |\n|---|---|---|---|"
        );
        for c in &r.checks {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                c.verdict,
                c.limit_name,
                c.metric,
                cell(&c.explanation)
            );
        }
        let _ = writeln!(s, "\n## Metrics\n");
        let _ = writeln!(s, "| {} |", METRIC_HEADERS.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(METRIC_HEADERS.len()));
        for m in &r.metrics {
            let cells = metric_cells(&m.analysis);
            let _ = writeln!(s, "| {} |", cells.map(|c| cell(&c)).join(" | "));
        }
        if let Some(m) = r.main_metric() {
            let _ = writeln!(s);
            if let Some(d) = m.min_detectable_rate_per_hour {
                let _ = writeln!(
                    s,
                    "- Smallest growth this run would detect (≈95% power): {}",
                    crate::analysis::verdict::fmt_rate(m.unit, d)
                );
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
        let _ = writeln!(s, "\n## Run\n");
        let _ = writeln!(s, "- Target: {}", cell(&target_line(r)));
        if let (Some(a), Some(b)) = (&r.started_at, &r.ended_at) {
            let _ = writeln!(s, "- From {a} to {b} ({})", Secs(r.elapsed_s));
        }
        let _ = writeln!(
            s,
            "- Samples: {} taken, {} missed{}",
            r.samples.taken,
            r.samples.missed,
            r.settings
                .interval_s
                .map(|i| format!(", every {}", Secs(i)))
                .unwrap_or_default()
        );
        if let Some(c) = r.cpu_average_percent {
            let _ = writeln!(s, "- Average CPU: {c:.1}% of one core");
        }
        let _ = writeln!(
            s,
            "- Host: {} · kernel {} · {} CPUs · {} memory",
            r.host.os.as_deref().unwrap_or("?"),
            r.host.kernel.as_deref().unwrap_or("?"),
            r.host.cpus,
            Bytes(r.host.total_memory_bytes as f64)
        );
        let _ = writeln!(
            s,
            "- soak {} · report schema {}",
            r.soak_version, r.schema_version
        );
        if !r.sources.is_empty() {
            let _ = writeln!(s, "\n## Sources\n");
            for (k, v) in &r.sources {
                let _ = writeln!(s, "- `{k}`: {v}");
            }
        }
        if !r.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &r.notes {
                let _ = writeln!(s, "- {}", cell(n));
            }
        }
        s
    }
}
