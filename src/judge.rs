//! The judge: a timeline, the limits and the run's facts in; the verdict, the report and
//! the exit code out. Every way a soak ends goes through [`judge`]: a CLI run (after
//! the monitor stopped the target), `soak analyze` (a saved timeline) and an
//! in-process soak, so the three cannot drift apart.

use crate::analysis::{evaluate, Check, EvaluateOptions, Verdict};
use crate::config::{InconclusivePolicy, Limits};
use crate::error::exit_code;
use crate::report::{verdict_exit_code, Report};
use crate::timeline::Timeline;

/// How the run ended, as far as the exit code is concerned: the memory verdict decides
/// only when neither the target nor soak failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The run ended as planned (deadline, interruption, an accepted exit).
    Finished,
    /// The target failed (exit 4): it ended early, was OOM-killed, or stopped soak.
    TargetFailed,
    /// soak itself failed (exit 5): the timeline is valid up to the failure.
    MonitorFailed,
}

/// What to judge a timeline against.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// Warm-up to drop, seconds; `None` = the default for the run's length.
    pub warmup_s: Option<f64>,
    /// The limits.
    pub limits: &'a Limits,
    /// What an INCONCLUSIVE verdict exits with.
    pub inconclusive: InconclusivePolicy,
    /// Checks decided outside the timeline (the in-process return to baseline), judged
    /// with the others.
    pub extra_checks: Vec<Check>,
}

/// Judges `timeline` for `report` (which already holds the run's identity and facts:
/// target, settings with the verdict metric, times, notes) and sets its verdict, checks,
/// metrics and exit code.
pub fn judge(mut report: Report, timeline: &Timeline, rules: Rules, outcome: RunOutcome) -> Report {
    report.notes.extend(timeline.notes.iter().cloned());
    let eval = evaluate(
        &timeline.elapsed_s,
        &timeline.columns,
        &EvaluateOptions {
            metric: report.settings.metric.clone(),
            warmup_s: rules.warmup_s,
            limits: rules.limits.clone(),
        },
    );
    report.set_evaluation(eval);
    add_checks(&mut report, rules.extra_checks);
    report.exit_code = match outcome {
        RunOutcome::MonitorFailed => exit_code::MONITOR_ERROR,
        RunOutcome::TargetFailed => exit_code::TARGET_FAILED,
        RunOutcome::Finished => verdict_exit_code(report.verdict, rules.inconclusive),
    };
    report
}

/// Adds checks decided outside the timeline (the in-process return to baseline) to a
/// judged report: the verdict becomes the worst of all, and a failed outside check
/// decides the explanation — it is what the test must fix.
pub fn add_checks(report: &mut Report, checks: Vec<Check>) {
    for check in checks {
        if check.verdict == Verdict::Fail {
            report.reason = Some(check.reason);
            report.explanation = check.explanation.clone();
        }
        report.checks.push(check);
        report.verdict = Verdict::combine(report.checks.iter().map(|c| c.verdict));
    }
}
