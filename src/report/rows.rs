//! Pieces every rendering shares, built once: the tables (checks, metrics, allocation
//! sites; drawn per markup by [`Table::render`]), the detectable rate, the run's facts,
//! the target line.

use super::markup::{Cell, Markup, Table};
use super::{MetricReport, Report, RuntimeSeen};
use crate::analysis::{Check, SeriesAnalysis};
use crate::sample::dhat_sites::AllocationSite;
use crate::units::{fmt_rate, fmt_value, Bytes, Unit};

/// The smallest growth a series could have detected, for every rendering: "1.20 MB/h
/// (≈95% power)", or, when the data's resolution sets it (its noise would allow less),
/// that rate and the step it comes from. Rates too small for MB/h are shown in B/h, never as "0".
pub(super) fn detectable_text(m: &SeriesAnalysis) -> Option<String> {
    let d = m.min_detectable_rate_per_hour?;
    let rate = if m.unit == Unit::Bytes && d < 5e3 {
        format!("{}/h", Bytes(d))
    } else {
        fmt_rate(m.unit, d)
    };
    Some(match m.min_detectable_step {
        Some(step) => format!(
            "{rate}, the resolution of the data: its smallest step between values ({}) over the {} analysed",
            fmt_value(m.unit, step),
            crate::units::Secs(step / d * 3600.0)
        ),
        None => format!("{rate} (≈95% power)"),
    })
}

/// The checks: verdict, limit, metric, explanation (Markdown and HTML).
pub(super) fn checks_table(checks: &[Check]) -> Table {
    let mut t = Table::new(&["verdict", "limit", "metric", "explanation"]);
    t.rows = checks
        .iter()
        .map(|c| {
            vec![
                Cell::Verdict(c.verdict),
                Cell::Text(c.limit_name.clone()),
                Cell::Text(c.metric.clone()),
                Cell::Text(c.explanation.clone()),
            ]
        })
        .collect();
    t
}

/// The metrics, one row each: name, last, peak, robust slope with its interval in
/// brackets, OLS slope, total growth (Markdown and the terminal summary).
pub(super) fn metrics_table(metrics: &[MetricReport]) -> Table {
    let mut t = Table::new(&[
        "metric",
        "last",
        "peak",
        "robust slope [90% interval]",
        "OLS slope (reference)",
        "growth after warm-up",
    ]);
    t.rows = metrics
        .iter()
        .map(|m| {
            let m = &m.analysis;
            let u = m.unit;
            let slope = match (
                m.slope_per_hour,
                m.slope_low_per_hour,
                m.slope_high_per_hour,
            ) {
                (Some(s), Some(lo), Some(hi)) => crate::units::fmt_rate_interval(u, s, lo, hi),
                _ => DASH.into(),
            };
            vec![
                Cell::Text(m.metric.clone()),
                Cell::Text(or_dash(m.last, |v| fmt_value(u, v))),
                Cell::Text(or_dash(m.peak, |v| fmt_value(u, v))),
                Cell::Text(slope),
                Cell::Text(or_dash(m.ols_slope_per_hour, |v| fmt_rate(u, v))),
                Cell::Text(or_dash(m.total_growth, |v| fmt_value(u, v))),
            ]
        })
        .collect();
    t
}

/// The metrics for a page with room: the interval in its own column with its units
/// (HTML), figures right-aligned.
pub(super) fn metrics_table_wide(metrics: &[MetricReport]) -> Table {
    let mut t = Table::new(&[
        "metric",
        "last",
        "peak",
        "robust slope",
        "90% interval",
        "OLS slope (reference)",
        "growth after warm-up",
    ])
    .figures_after(1);
    t.rows = metrics
        .iter()
        .map(|m| {
            let a = &m.analysis;
            let u = a.unit;
            let interval = match (a.slope_low_per_hour, a.slope_high_per_hour) {
                (Some(l), Some(h)) => format!("{} … {}", fmt_rate(u, l), fmt_rate(u, h)),
                _ => DASH.into(),
            };
            vec![
                Cell::Text(a.metric.clone()),
                Cell::Text(or_dash(a.last, |v| fmt_value(u, v))),
                Cell::Text(or_dash(a.peak, |v| fmt_value(u, v))),
                Cell::Text(or_dash(a.slope_per_hour, |v| fmt_rate(u, v))),
                Cell::Text(interval),
                Cell::Text(or_dash(a.ols_slope_per_hour, |v| fmt_rate(u, v))),
                Cell::Text(or_dash(a.total_growth, |v| fmt_value(u, v))),
            ]
        })
        .collect();
    t
}

/// The allocation sites that grew: rank, live bytes, blocks, backtrace (Markdown and
/// HTML).
pub(super) fn sites_table(sites: &[AllocationSite]) -> Table {
    // The shim's sites carry their growth (sites are series); dhat's do not.
    let rated = sites.iter().any(|s| s.growth_rate_per_hour.is_some());
    let mut t = if rated {
        Table::new(&[
            "#",
            "growth rate [90% interval]",
            "growth after warm-up",
            "live bytes",
            "blocks",
            "where (innermost first)",
        ])
    } else {
        Table::new(&["#", "live bytes", "blocks", "where (innermost first)"])
    };
    let u = crate::units::Unit::Bytes;
    t.rows = sites
        .iter()
        .enumerate()
        .map(|(i, site)| {
            let mut row = vec![Cell::Figure((i + 1).to_string())];
            if rated {
                let rate = match (
                    site.growth_rate_per_hour,
                    site.growth_rate_low_per_hour,
                    site.growth_rate_high_per_hour,
                ) {
                    (Some(r), Some(lo), Some(hi)) => crate::units::fmt_rate_interval(u, r, lo, hi),
                    (Some(r), _, _) => fmt_rate(u, r),
                    _ => DASH.into(),
                };
                row.push(Cell::Text(rate));
                row.push(Cell::Text(or_dash(site.growth_bytes, |v| fmt_value(u, v))));
            }
            row.push(Cell::Figure(Bytes(site.bytes as f64).to_string()));
            row.push(Cell::Figure(site.blocks.to_string()));
            row.push(Cell::Frames(site.frames.clone()));
            row
        })
        .collect();
    t
}

/// What the sites table shows, in one sentence before it.
pub(super) fn sites_intro(sites: &[AllocationSite]) -> &'static str {
    if sites.iter().any(|s| s.growth_rate_per_hour.is_some()) {
        "Sampled by soak's heap shim, so every figure is an estimate (see the notes): each site's live bytes were judged after warm-up like a metric; fastest growth first."
    } else {
        "Live at the end of the run, allocated after warm-up (dhat-rs; dhat-heap.json opens in DHAT's viewer)."
    }
}

/// What a missing figure shows.
const DASH: &str = "–";

/// `v` formatted by `f`, or the dash when it is missing.
fn or_dash(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| DASH.into())
}

/// The run's facts as (label, value) pairs, shared by the Markdown and HTML renderings.
pub(super) fn run_facts(r: &Report, m: Markup) -> Vec<(&'static str, String)> {
    use crate::units::Secs;
    let mut f = vec![("Target", target_line(r, m))];
    if let (Some(a), Some(b)) = (&r.started_at, &r.ended_at) {
        f.push((
            "Time",
            m.text(&format!("{a} → {b} ({})", Secs(r.elapsed_s))),
        ));
    }
    f.push((
        "Samples",
        m.text(&format!(
            "{} taken, {} missed{}",
            r.samples.taken,
            r.samples.missed,
            r.settings
                .interval_s
                .map(|i| format!(", every {}", Secs(i)))
                .unwrap_or_default()
        )),
    ));
    if let Some(c) = r.cpu_average_percent {
        f.push(("Average CPU", m.text(&format!("{c:.1}% of one core"))));
    }
    if !r.runtimes.is_empty() {
        f.push(("Runtimes", m.text(&runtimes_line(&r.runtimes))));
    }
    f.push((
        "Host",
        m.text(&format!(
            "{} · kernel {} · {} CPUs · {} memory",
            r.host.os.as_deref().unwrap_or("?"),
            r.host.kernel.as_deref().unwrap_or("?"),
            r.host.cpus,
            Bytes(r.host.total_memory_bytes as f64)
        )),
    ));
    f.push((
        "soak",
        m.text(&format!(
            "{} · report schema {}",
            r.soak_version, r.schema_version
        )),
    ));
    f
}

/// "JVM (G1) pid 42, node v20.11.1 pid 43" for the run's facts.
pub fn runtimes_line(seen: &[RuntimeSeen]) -> String {
    seen.iter()
        .map(|r| match r.kind.as_str() {
            "jvm" => format!("JVM ({}) pid {}", r.detail, r.pid),
            "node" => format!("node {} pid {}", r.detail, r.pid),
            k => format!("{k} {} pid {}", r.detail, r.pid),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line describing the target, escaped for `m` (the command as code).
pub(super) fn target_line(r: &Report, m: Markup) -> String {
    if r.target.kind == "closure" {
        return m.text(&format!(
            "a closure in this process{}",
            r.target
                .pid
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &r.target.container {
        let short: String = c.id.chars().take(12).collect();
        return m.text(&format!(
            "container {} ({short}, image {}{}, {})",
            c.name,
            c.image,
            c.memory_limit_bytes
                .map(|b| format!(", memory limit {}", Bytes(b as f64)))
                .unwrap_or_default(),
            if c.created_by_soak {
                if c.removed {
                    "started and removed by soak"
                } else {
                    "started by soak, NOT removed"
                }
            } else {
                "attached, left running"
            }
        ));
    }
    match (&r.target.command, r.target.pid, &r.target.timeline) {
        (Some(c), pid, _) => format!(
            "{}{}",
            m.code(&c.join(" ")),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        (None, Some(p), _) => format!("pid {p} (attached)"),
        (None, None, Some(t)) => m.text(&format!("timeline {t}")),
        _ => "?".into(),
    }
}
