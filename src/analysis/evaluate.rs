//! A whole timeline judged: every level column analysed, the registered rules run over
//! the analyses, the worst check decides, and the notes across metrics.

use super::notes::heap_vs_rss;
use super::rules::{self, Scope};
use super::{analyze_series, Check, Reason, SeriesAnalysis, Verdict};
use crate::sample::columns::Kind;
use crate::sample::Col;
use serde::Serialize;

/// Limits and settings for judging a whole timeline (the verdict metric and the others).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluateOptions {
    /// The verdict metric's column.
    pub metric: String,
    /// Warm-up, seconds; `None` = default.
    pub warmup_s: Option<f64>,
    /// The limits.
    pub limits: crate::config::Limits,
}

/// The judgement of a whole timeline.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Overall verdict: the worst check.
    pub verdict: Verdict,
    /// The deciding check's reason.
    pub reason: Option<Reason>,
    /// The deciding check's explanation.
    pub explanation: String,
    /// Every check, in a stable order.
    pub checks: Vec<Check>,
    /// Every analysed column, the verdict metric first.
    pub metrics: Vec<SeriesAnalysis>,
    /// Average CPU over the run, % of one core.
    pub cpu_average_percent: Option<f64>,
    /// Observations across metrics (e.g. RSS grows while the heap is flat).
    pub notes: Vec<crate::note::Note>,
}

/// The time columns, never fitted.
const TIME_COLUMNS: [&str; 2] = ["elapsed_s", "timestamp"];

/// Whether a column is fitted for growth: not a time column, and not a counter of the
/// column table (cumulative CPU); a column soak does not know is fitted.
fn is_level(name: &str) -> bool {
    !TIME_COLUMNS.contains(&name) && Col::named(name).is_none_or(|c| c.column().kind == Kind::Level)
}

/// Judges a timeline: a trend for every level column (each cut at the verdict metric's
/// warm-up), then every registered rule (see [`rules`](super::rules)): the verdict
/// metric against the memory limits, descriptors and threads against theirs, CPU against
/// its limit.
pub fn evaluate(
    elapsed_s: &[f64],
    columns: &[(String, Vec<f64>)],
    opts: &EvaluateOptions,
) -> Evaluation {
    let limits = &opts.limits;
    let empty: Vec<f64> = Vec::new();
    let metric_values = columns
        .iter()
        .find(|(n, _)| *n == opts.metric)
        .map(|(_, v)| v)
        .unwrap_or(&empty);
    let main = analyze_series(
        &opts.metric,
        elapsed_s,
        metric_values,
        &rules::series_options(Scope::VerdictMetric, limits, opts.warmup_s),
    );
    // Every series is cut at the same warm-up as the verdict metric.
    let warmup_s = Some(main.warmup_s);
    let mut metrics = vec![main];
    for (name, values) in columns {
        if *name == opts.metric || !is_level(name) {
            continue;
        }
        if values.iter().all(|v| !v.is_finite()) {
            continue;
        }
        metrics.push(analyze_series(
            name,
            elapsed_s,
            values,
            &rules::series_options(Scope::Column(name), limits, warmup_s),
        ));
    }
    let cpu_average_percent = columns
        .iter()
        .find(|(n, _)| n == Col::Cpu.name())
        .and_then(|(_, v)| average_cpu_percent(elapsed_s, v));
    let checks = rules::judge(&metrics, cpu_average_percent, limits);
    let verdict = Verdict::combine(checks.iter().map(|c| c.verdict));
    let deciding = checks
        .iter()
        .find(|c| c.verdict == verdict)
        .or_else(|| checks.first());
    let notes = heap_vs_rss(&metrics).into_iter().collect();
    Evaluation {
        verdict,
        reason: deciding.map(|c| c.reason),
        explanation: deciding
            .map(|c| c.explanation.clone())
            .unwrap_or_else(|| "no limits were given → PASS".into()),
        checks,
        metrics,
        cpu_average_percent,
        notes,
    }
}

/// Average CPU in % of one core from a cumulative CPU-seconds column.
pub fn average_cpu_percent(t: &[f64], cpu: &[f64]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = t
        .iter()
        .zip(cpu)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let (first, last) = (pairs.first()?, pairs.last()?);
    let dt = last.0 - first.0;
    (dt > 0.0).then(|| ((last.1 - first.1) / dt * 100.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_and_fd_limits_gate_their_columns() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let threads: Vec<f64> = t.iter().map(|x| 4.0 + (x / 60.0).floor()).collect(); // 60/h
        let cols = vec![
            (Col::Rss.name().to_string(), vec![50e6; 600]),
            (Col::Threads.name().to_string(), threads),
            (Col::Fds.name().to_string(), vec![9.0; 600]),
        ];
        let e = evaluate(
            &t,
            &cols,
            &EvaluateOptions {
                metric: Col::Rss.name().into(),
                warmup_s: Some(60.0),
                limits: crate::config::Limits {
                    max_growth_rate: Some(crate::units::Rate::per_hour(1e6)),
                    max_thread_growth_per_hour: Some(10.0),
                    max_fd_growth_per_hour: Some(10.0),
                    ..Default::default()
                },
            },
        );
        let get = |m: &str| e.checks.iter().find(|c| c.metric == m).unwrap();
        assert_eq!(
            get(Col::Threads.name()).verdict,
            Verdict::Fail,
            "{}",
            get(Col::Threads.name()).explanation
        );
        assert_eq!(get(Col::Fds.name()).verdict, Verdict::Pass);
        assert_eq!(get(Col::Rss.name()).verdict, Verdict::Pass);
        assert_eq!(e.verdict, Verdict::Fail);
        assert_eq!(e.reason, Some(Reason::Leak));
        assert!(
            get(Col::Threads.name())
                .explanation
                .contains("threads grows"),
            "{}",
            get(Col::Threads.name()).explanation
        );
    }
}
