//! Every series of an answer judged by the same engine as a run's timeline
//! ([`analysis::evaluate`](crate::analysis::evaluate)): counters refused, restarts cut
//! (the longest stretch between them judged), gaps and NaN values noted. Series are
//! independent, so they are judged on all cores.

use super::model::{count, sort_worst_first, FleetReport, SeriesResult, SPARK_POINTS};
use super::parse::RawSeries;
use super::range::{rfc3339, QueryRange};
use super::shape;
use crate::analysis::{evaluate, EvaluateOptions, Reason, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::note::Note;
use crate::report::{verdict_exit_code, LimitsReport, MetricReport};

/// The column a series is judged as when its query dropped the metric name (e.g. a
/// `sum by (pod)`): memory is soak's subject, so its figures read as bytes.
pub const UNNAMED_COLUMN: &str = "value_bytes";

/// What every series is judged against.
#[derive(Debug, Clone)]
pub struct FleetRules {
    /// The column name (and so the unit) every series is judged as, from `--metric`;
    /// `None`: the series' `__name__`, or [`UNNAMED_COLUMN`].
    pub metric: Option<String>,
    /// Warm-up from the start of the judged stretch; `None` = the engine's default.
    pub warmup_s: Option<f64>,
    /// The limits.
    pub limits: Limits,
    /// What an INCONCLUSIVE verdict exits with.
    pub inconclusive: InconclusivePolicy,
}

/// Where the answer came from, for the report.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The server's URL.
    pub prometheus: String,
    /// The PromQL expression.
    pub query: String,
    /// The range asked.
    pub range: QueryRange,
    /// Prometheus's warnings.
    pub warnings: Vec<String>,
}

/// Judges every series and orders them worst first.
pub fn judge_fleet(series: Vec<RawSeries>, origin: Origin, rules: &FleetRules) -> FleetReport {
    let step = origin.range.step;
    let mut results = judge_all(series, rules, &origin.range);
    sort_worst_first(&mut results);
    let exit_code = results
        .iter()
        .map(|s| verdict_exit_code(s.verdict, rules.inconclusive))
        .max_by_key(|c| match *c {
            1 => 2,
            3 => 1,
            _ => 0,
        })
        .unwrap_or(0);
    FleetReport {
        schema_version: super::model::FLEET_SCHEMA_VERSION,
        soak_version: env!("CARGO_PKG_VERSION").to_string(),
        prometheus: origin.prometheus,
        query: origin.query,
        start: rfc3339(origin.range.start),
        end: rfc3339(origin.range.end),
        step_s: step,
        limits: LimitsReport::new(&rules.limits, rules.inconclusive),
        counts: count(&results),
        warnings: origin.warnings,
        series: results,
        exit_code,
    }
}

/// Judges the series on every core (each series is independent and the engine is pure).
fn judge_all(series: Vec<RawSeries>, rules: &FleetRules, range: &QueryRange) -> Vec<SeriesResult> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || series.len() < 8 {
        return series
            .iter()
            .map(|s| judge_series(s, rules, range))
            .collect();
    }
    let chunk = series.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = series
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|s| judge_series(s, rules, range))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in the engine is a bug; let it surface as one.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// One series judged (or refused).
pub fn judge_series(s: &RawSeries, rules: &FleetRules, range: &QueryRange) -> SeriesResult {
    let name = s.labels.get("__name__").map(String::as_str);
    let mut notes = Vec::new();
    if s.dropped > 0 {
        notes.push(Note::NonFiniteValues { count: s.dropped });
    }
    let spark = sparkline(&s.t, &s.v, range);
    let refused = |explanation: String, notes: Vec<Note>| SeriesResult {
        labels: s.labels.clone(),
        verdict: Verdict::Inconclusive,
        exit_code: verdict_exit_code(Verdict::Inconclusive, rules.inconclusive),
        reason: Some(Reason::NotAGauge),
        explanation,
        refused: true,
        samples: s.v.len(),
        judged_from: None,
        judged_to: None,
        checks: Vec::new(),
        metrics: Vec::new(),
        notes,
        spark: spark.clone(),
    };
    if s.v.len() < 2 {
        return refused(
            format!(
                "only {} finite sample(s) in the range: nothing to judge",
                s.v.len()
            ),
            notes,
        );
    }
    // --metric says how to judge it: a gauge, whatever its name says.
    if rules.metric.is_none() {
        if let Some(why) = shape::counter_reason(name) {
            return refused(why, notes);
        }
    }
    if let Some(resets) = shape::counter_like_resets(&s.v) {
        notes.push(Note::CounterLikeResets { resets });
    }
    let (missing, longest) = shape::gaps(&s.t, range.step);
    if missing > 0 {
        notes.push(Note::StalenessGaps {
            missing,
            steps: range.points(),
            longest_s: longest,
        });
    }
    let cuts = shape::restarts(&s.v);
    let keep = shape::longest_stretch(&s.t, &cuts);
    if !cuts.is_empty() {
        notes.push(Note::SeriesRestarted {
            restarts: cuts.len(),
            at: cuts.iter().map(|&i| rfc3339(s.t[i])).collect(),
            kept_s: s.t[keep.end - 1] - s.t[keep.start],
            span_s: s.t[s.t.len() - 1] - s.t[0],
        });
    }
    let (t, v) = (&s.t[keep.clone()], &s.v[keep.clone()]);
    let column = rules
        .metric
        .clone()
        .or_else(|| name.map(str::to_string))
        .unwrap_or_else(|| UNNAMED_COLUMN.to_string());
    let t0 = t[0];
    let elapsed: Vec<f64> = t.iter().map(|x| x - t0).collect();
    let eval = evaluate(
        &elapsed,
        &[(column.clone(), v.to_vec())],
        &EvaluateOptions {
            metric: column,
            warmup_s: rules.warmup_s,
            limits: rules.limits.clone(),
        },
    );
    notes.extend(eval.notes);
    let (mut verdict, mut reason, mut explanation) = (eval.verdict, eval.reason, eval.explanation);
    if !cuts.is_empty() && verdict == Verdict::Fail {
        // Drops back to the start cannot be told apart by this series alone: a leak
        // restarted by its OOM kills, or a slow collector's sawtooth (a few full
        // collections in the range). Each stretch alone is one ramp, so its interval is
        // narrow whichever it is: say it, do not FAIL on it.
        verdict = Verdict::Inconclusive;
        reason = Some(Reason::Undecided);
        explanation = format!(
            "{explanation} — but the level fell back to its start {} time(s): restarts of a leaking service or a slow collector's sawtooth cannot be told apart from this series alone (check process_start_time_seconds or the restarts of these labels) → INCONCLUSIVE",
            cuts.len()
        );
    }
    SeriesResult {
        labels: s.labels.clone(),
        verdict,
        exit_code: verdict_exit_code(verdict, rules.inconclusive),
        reason,
        explanation,
        refused: false,
        samples: s.v.len(),
        judged_from: Some(rfc3339(t[0])),
        judged_to: Some(rfc3339(t[t.len() - 1])),
        checks: eval.checks,
        metrics: eval.metrics.into_iter().map(MetricReport::from).collect(),
        notes,
        spark,
    }
}

/// The series as [`SPARK_POINTS`] bucket means over the query range (NaN where a bucket
/// has no sample, so gaps show as gaps).
fn sparkline(t: &[f64], v: &[f64], range: &QueryRange) -> Vec<f64> {
    let mut sum = vec![0.0; SPARK_POINTS];
    let mut n = vec![0u32; SPARK_POINTS];
    let span = (range.end - range.start).max(f64::MIN_POSITIVE);
    for (x, y) in t.iter().zip(v) {
        let i = (((x - range.start) / span) * SPARK_POINTS as f64).floor() as usize;
        let i = i.min(SPARK_POINTS - 1);
        sum[i] += y;
        n[i] += 1;
    }
    sum.iter()
        .zip(&n)
        .map(|(s, k)| if *k == 0 { f64::NAN } else { s / f64::from(*k) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn series(name: &str, f: impl Fn(f64) -> f64) -> RawSeries {
        // 6 h at one-minute steps.
        let t: Vec<f64> = (0..=360).map(|i| 1e9 + 60.0 * f64::from(i)).collect();
        let v = t.iter().map(|x| f(x - 1e9)).collect();
        RawSeries {
            labels: BTreeMap::from([("__name__".to_string(), name.to_string())]),
            t,
            v,
            dropped: 0,
        }
    }

    fn rules() -> FleetRules {
        FleetRules {
            metric: None,
            warmup_s: None,
            limits: Limits {
                max_growth_rate: Some(crate::units::Rate::per_hour(1e6)),
                ..Default::default()
            },
            inconclusive: InconclusivePolicy::Exit3,
        }
    }

    fn range() -> QueryRange {
        QueryRange {
            start: 1e9,
            end: 1e9 + 21600.0,
            step: 60.0,
        }
    }

    fn origin() -> Origin {
        Origin {
            prometheus: "http://p".into(),
            query: "q".into(),
            range: range(),
            warnings: vec![],
        }
    }

    #[test]
    fn leak_fails_steady_passes_counter_is_refused_worst_first() {
        let noise = |x: f64| (x * 0.37).sin() * 2e5;
        let all = vec![
            series("steady_bytes", move |x| 100e6 + noise(x)),
            series("requests_total", |x| x * 3.0),
            series("leak_bytes", move |x| 100e6 + 10e6 * x / 3600.0 + noise(x)),
        ];
        let r = judge_fleet(all, origin(), &rules());
        let names: Vec<&str> = r
            .series
            .iter()
            .map(|s| s.labels["__name__"].as_str())
            .collect();
        assert_eq!(names, ["leak_bytes", "requests_total", "steady_bytes"]);
        assert_eq!(r.series[0].verdict, Verdict::Fail);
        assert!(r.series[1].refused);
        assert_eq!(r.series[1].reason, Some(Reason::NotAGauge));
        assert_eq!(r.series[2].verdict, Verdict::Pass);
        assert_eq!(r.exit_code, 1);
        assert_eq!(
            (r.counts.fail, r.counts.inconclusive, r.counts.pass),
            (1, 1, 1)
        );
    }

    #[test]
    fn a_restart_is_noted_and_the_longest_stretch_judged() {
        // Steady at 100 MB, a 3 h climb to 300 MB, then a restart back to 100 MB, steady.
        let s = series("svc_bytes", |x| {
            let h = x / 3600.0;
            if h < 4.0 {
                100e6 + 50e6 * h + (x * 0.37).sin() * 1e5
            } else {
                100e6 + (x * 0.37).sin() * 1e5
            }
        });
        let r = judge_series(&s, &rules(), &range());
        assert!(
            r.notes
                .iter()
                .any(|n| matches!(n, Note::SeriesRestarted { restarts: 1, .. })),
            "{:?}",
            r.notes
        );
        // The stretch grows 50 MB/h, but a restart cannot be told from a slow
        // collector's drop by this series alone: INCONCLUSIVE, never FAIL on it.
        assert_eq!(r.verdict, Verdict::Inconclusive, "{}", r.explanation);
        assert!(
            r.explanation.contains("cannot be told apart"),
            "{}",
            r.explanation
        );
    }

    #[test]
    fn a_slow_collectors_sawtooth_is_not_failed_as_restarts() {
        // An old generation filling 100 → 400 MB and collected every 2 h, no leak (the
        // reviewer's case: cut at its drops, it read as a 150 MB/h FAIL).
        let s = series("old_gen_bytes", |x| {
            let phase = ((x + 3600.0) % 7200.0) / 7200.0;
            100e6 + 300e6 * phase + (x * 0.37).sin() * 1e5
        });
        let r = judge_series(&s, &rules(), &range());
        assert_ne!(r.verdict, Verdict::Fail, "{}", r.explanation);
    }

    #[test]
    fn a_leaking_gauge_that_restarts_is_judged_not_refused() {
        // Descriptors leaking 20 → ~1,800 over 2 h, restarted three times (the
        // reviewer's case: refused as a counter by its shape).
        let s = series("process_open_fds", |x| 20.0 + ((x % 7200.0) / 4.0).floor());
        let r = judge_series(&s, &rules(), &range());
        assert!(!r.refused, "{}", r.explanation);
        assert!(
            r.notes
                .iter()
                .any(|n| matches!(n, Note::CounterLikeResets { .. })),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn a_gauge_named_like_a_counter_is_judged_when_metric_says_so() {
        let s = series("nodejs_active_handles_total", |x| 100.0 + x / 60.0);
        assert!(judge_series(&s, &rules(), &range()).refused);
        let as_gauge = FleetRules {
            metric: Some("nodejs_active_handles".into()),
            ..rules()
        };
        let r = judge_series(&s, &as_gauge, &range());
        assert!(!r.refused, "{}", r.explanation);
        assert!(r.explanation.contains("grows 60.0/h"), "{}", r.explanation);
    }
}
