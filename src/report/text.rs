//! The one-screen summary soak prints at the end.

use super::markup::plain;
use super::markup::Markup;
use super::rows::{metrics_table, target_line};
use super::Report;
use crate::console::{paint, paint_padded};
use crate::units::Secs;
use std::fmt::Write;

/// Renders the summary; `run_dir` is shown when the run wrote files.
pub fn summary(r: &Report, run_dir: Option<&std::path::Path>) -> String {
    summary_coloured(r, run_dir, false)
}

/// [`summary`], with the verdicts in colour when `colour` (see [`crate::console::colour`]).
pub fn summary_coloured(r: &Report, run_dir: Option<&std::path::Path>, colour: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "soak: {} — {}",
        paint(&r.outcome(), colour),
        plain(&r.outcome_explanation())
    );
    if r.outcome_overrides_verdict() {
        let _ = writeln!(
            s,
            "  memory   {} — {}",
            paint(&r.verdict.to_string(), colour),
            plain(&r.explanation)
        );
    }
    let _ = writeln!(s, "  target   {}", target_line(r, Markup::Plain));
    if !r.runtimes.is_empty() {
        let _ = writeln!(
            s,
            "  runtime  {}",
            plain(&super::runtimes_line(&r.runtimes))
        );
    }
    if let Some(x) = &r.target_exit {
        let _ = writeln!(s, "  exit     target {}", x.describe_when());
    }
    if r.interrupted {
        match &r.end.detail {
            Some(d) => {
                let _ = writeln!(s, "  ended    interrupted: {}", plain(d));
            }
            None => {
                let _ = writeln!(
                    s,
                    "  ended    interrupted by {}",
                    r.end.signal.as_deref().unwrap_or("a signal")
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "  samples  {} taken, {} missed over {}",
        r.samples.taken,
        r.samples.missed,
        Secs(r.elapsed_s)
    );
    s.push_str(&metrics_table(&r.metrics).render(Markup::Plain));
    for c in &r.checks {
        let _ = writeln!(
            s,
            "  {} {}: {}",
            paint_padded(&c.verdict.to_string(), 12, colour),
            c.limit_name,
            c.explanation
        );
    }
    if let Some(m) = r.main_metric() {
        if let Some(d) = super::rows::detectable_text(m) {
            let _ = writeln!(s, "  detectable  growth above {d}");
        }
        if let Some(d) = m.decide_after_s {
            let _ = writeln!(
                s,
                "  decide      a run of about {} would likely decide",
                Secs(d)
            );
        }
    }
    // The site that grew fastest answers "which code?" on the summary's screen; the rest
    // are in the reports.
    if let Some(site) = r.allocation_sites.first() {
        let rate = site
            .growth_rate_per_hour
            .map(|v| format!("{} ", crate::units::fmt_rate(crate::units::Unit::Bytes, v)))
            .unwrap_or_default();
        let at = site.frames.first().map(String::as_str).unwrap_or("?");
        let _ = writeln!(
            s,
            "  site     {rate}at {at} (#1 of {} in the reports)",
            r.allocation_sites.len()
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "  note     {n}");
    }
    if let Some(d) = run_dir {
        let _ = writeln!(s, "  reports  {}", d.display());
    }
    let _ = writeln!(s, "  exit     {}", r.exit_code);
    s
}
