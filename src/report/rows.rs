//! Pieces every rendering shares: a metric's row, the run's facts, the target line.

use super::markup::Markup;
use super::{Report, RuntimeSeen};
use crate::analysis::{SeriesAnalysis, Unit};

/// The smallest growth a series could have detected, for every rendering: "1.20 MB/h
/// (≈95% power)", or, when the data's resolution sets it (its noise would allow less),
/// that rate and the step it comes from. Rates too small for MB/h are shown in B/h, never as "0".
pub(super) fn detectable_text(m: &SeriesAnalysis) -> Option<String> {
    use crate::units::{fmt_rate, fmt_value};
    let d = m.min_detectable_rate_per_hour?;
    let rate = if m.unit == Unit::Bytes && d < 5e3 {
        format!("{}/h", crate::units::Bytes(d))
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

/// The cells of one metric's row, shared by the text and Markdown renderings:
/// name, last, peak, robust slope (interval), OLS slope, total growth.
pub(super) fn metric_cells(m: &SeriesAnalysis) -> [String; 6] {
    use crate::units::{fmt_rate, fmt_value};
    let u = m.unit;
    let opt_v = |v: Option<f64>| v.map(|x| fmt_value(u, x)).unwrap_or_else(|| "–".into());
    let slope = match (
        m.slope_per_hour,
        m.slope_low_per_hour,
        m.slope_high_per_hour,
    ) {
        (Some(s), Some(lo), Some(hi)) => {
            let strip = |x: String| x.split(' ').next().unwrap_or("").to_string();
            format!(
                "{} [{}, {}]",
                fmt_rate(u, s),
                strip(fmt_rate(u, lo)).trim_end_matches("/h"),
                strip(fmt_rate(u, hi)).trim_end_matches("/h")
            )
        }
        _ => "–".into(),
    };
    [
        m.metric.clone(),
        opt_v(m.last),
        opt_v(m.peak),
        slope,
        m.ols_slope_per_hour
            .map(|s| fmt_rate(u, s))
            .unwrap_or_else(|| "–".into()),
        opt_v(m.total_growth),
    ]
}

/// Headers matching [`metric_cells`].
pub(super) const METRIC_HEADERS: [&str; 6] = [
    "metric",
    "last",
    "peak",
    "robust slope [90% interval]",
    "OLS slope (reference)",
    "growth after warm-up",
];

/// The run's facts as (label, value) pairs, shared by the Markdown and HTML renderings.
pub(super) fn run_facts(r: &Report, m: Markup) -> Vec<(&'static str, String)> {
    use crate::units::{Bytes, Secs};
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
                .map(|b| format!(", memory limit {}", crate::units::Bytes(b as f64)))
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
