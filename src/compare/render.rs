//! The comparison in words: the terminal text and the Markdown (compare.md, the CI step
//! summary). Both draw the figures as one [`Table`] and say the same sentences.

use super::{Comparison, Figure, Side, Status};
use crate::analysis::Unit;
use crate::report::markup::{md_code, md_text, plain, Cell, Markup, Table};
use crate::units::{fmt_rate, fmt_value, num, Secs};
use std::fmt::Write;

/// A value of a figure in the metric's unit (per hour for the rate).
pub(super) fn value(u: Unit, per_hour: bool, v: f64) -> String {
    if per_hour {
        fmt_rate(u, v)
    } else {
        fmt_value(u, v)
    }
}

/// One side's value of a figure, with the rate's 90% interval.
pub(super) fn side_value(
    u: Unit,
    f: &Figure,
    v: Option<f64>,
    interval: Option<[f64; 2]>,
) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    let scale = if u == Unit::Bytes { 1e6 } else { 1.0 };
    match interval {
        Some([lo, hi]) => format!(
            "{} [{} … {}]",
            value(u, f.per_hour, v),
            num(lo / scale),
            num(hi / scale)
        ),
        None => value(u, f.per_hour, v),
    }
}

/// The change, signed (`+11.8 MB`).
pub(super) fn delta(u: Unit, f: &Figure) -> String {
    match f.delta {
        Some(d) if d > 0.0 => format!("+{}", value(u, f.per_hour, d)),
        Some(d) => value(u, f.per_hour, d),
        None => "–".into(),
    }
}

/// How much worse, signed (`+25.0%`), or why there is no percentage.
pub(super) fn worse(f: &Figure) -> String {
    match (f.worse_percent, f.outcome) {
        (Some(p), _) => format!("{p:+.1}%"),
        (None, Status::Ok) => "noise".into(),
        (None, _) => "–".into(),
    }
}

/// The figures whose outcome is `s`, by name.
fn named(c: &Comparison, s: Status) -> String {
    c.figures
        .iter()
        .filter(|f| f.outcome == s)
        .map(|f| f.figure)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict of the comparison in one sentence, names as code in markup `m`.
pub fn headline(c: &Comparison, m: Markup) -> String {
    let (cand, base) = (m.code(&c.candidate.name), m.code(&c.baseline.name));
    match c.outcome {
        Status::Fail => format!(
            "{cand} is more than {}% worse than baseline {base} on {}",
            c.fail_percent,
            named(c, Status::Fail)
        ),
        Status::Warn => format!(
            "{cand} is more than {}% worse than baseline {base} on {} (within the {}% failure threshold)",
            c.warn_percent,
            named(c, Status::Warn),
            c.fail_percent
        ),
        _ if c.figures.iter().all(|f| f.outcome == Status::NotCompared) => {
            format!("nothing of {cand} could be compared with baseline {base}")
        }
        _ => format!(
            "no figure of {cand} is more than {}% worse than baseline {base}",
            c.warn_percent
        ),
    }
}

/// The figures as a table; `notes` adds the note column (Markdown, HTML) where a
/// terminal lists the notes under the table instead.
pub(super) fn figures_table(c: &Comparison, notes: bool) -> Table {
    let mut headers = vec![
        "figure",
        "baseline",
        "candidate",
        "change",
        "worse by",
        "outcome",
    ];
    if notes {
        headers.push("note");
    }
    let mut t = Table::new(&headers).figures_after(1);
    t.rows = c
        .figures
        .iter()
        .map(|f| {
            let mut row = vec![
                Cell::Text(f.figure.into()),
                Cell::Figure(side_value(c.unit, f, f.baseline, f.baseline_interval)),
                Cell::Figure(side_value(c.unit, f, f.candidate, f.candidate_interval)),
                Cell::Figure(delta(c.unit, f)),
                Cell::Figure(worse(f)),
                Cell::Figure(f.outcome.to_string()),
            ];
            if notes {
                row.push(Cell::Text(f.note.clone()));
            }
            row
        })
        .collect();
    if notes {
        // The note is prose, not a figure.
        if let Some(n) = t.numeric.last_mut() {
            *n = false;
        }
    }
    t
}

/// A side's settings in a few words: `6s every 100ms, warm-up 1s`.
pub(super) fn settings(s: &Side) -> String {
    let mut o = match s.duration_s {
        Some(d) => Secs(d).to_string(),
        None => format!("{} of timeline", Secs(s.elapsed_s)),
    };
    if let Some(i) = s.interval_s {
        let _ = write!(o, " every {}", Secs(i));
    }
    let _ = write!(o, ", warm-up {}", Secs(s.warmup_s));
    o
}

/// The thresholds in words.
fn thresholds(c: &Comparison) -> String {
    format!(
        "WARN above {}% worse, FAIL above {}% worse",
        c.warn_percent, c.fail_percent
    )
}

/// The comparison for a terminal: headline, both sides, the table, notes, warnings.
/// Callers add where files went and the exit code.
pub fn text(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "soak compare: {} — {} ({})",
        c.outcome,
        headline(c, Markup::Plain),
        plain(&c.metric)
    );
    for (role, side) in [("baseline", &c.baseline), ("candidate", &c.candidate)] {
        let _ = writeln!(
            s,
            "  {role:<10} {:<13} {}  {}{}",
            side.outcome,
            Markup::Plain.code(&side.name),
            settings(side),
            side.path
                .as_deref()
                .map(|p| format!("  {}", plain(p)))
                .unwrap_or_default()
        );
    }
    s.push_str(&figures_table(c, false).render(Markup::Plain));
    for f in c.figures.iter().filter(|f| !f.note.is_empty()) {
        let _ = writeln!(s, "  note     {}: {}", f.figure, plain(&f.note));
    }
    for w in &c.warnings {
        let _ = writeln!(s, "  warning  {}", plain(&w.message()));
    }
    let _ = writeln!(s, "  rule     {}", thresholds(c));
    s
}

/// The comparison as Markdown (compare.md, the step summary).
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## soak compare: {} — {} vs baseline {} ({})\n",
        c.outcome,
        md_code(&c.candidate.name),
        md_code(&c.baseline.name),
        md_text(&c.metric)
    );
    let _ = writeln!(s, "{}.\n", headline(c, Markup::Markdown));
    if let Some(ab) = &c.ab {
        let _ = writeln!(
            s,
            "Run by `soak ab`, order {}: {}\n",
            md_text(&ab.order),
            md_text(&ab.meaning)
        );
    }
    for (role, side) in [("baseline", &c.baseline), ("candidate", &c.candidate)] {
        let _ = writeln!(
            s,
            "- {role} {}: **{}** — {} ({})",
            md_code(&side.name),
            md_text(&side.outcome),
            md_text(&side.explanation),
            md_text(&settings(side))
        );
    }
    s.push('\n');
    s.push_str(&figures_table(c, true).render(Markup::Markdown));
    if !c.warnings.is_empty() {
        s.push_str("\n**Warnings** — the comparison may mislead:\n\n");
        for w in &c.warnings {
            let _ = writeln!(s, "- {}", md_text(&w.message()));
        }
    }
    let _ = writeln!(s, "\n{}.", thresholds(c));
    s
}
