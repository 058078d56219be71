//! The end of a CLI run: how it ended (deadline, signal, the target's exit, soak's
//! own failure) decides whether the target failed; the judge decides the rest; the
//! reports are written.

use super::run::Outcome;
use super::session::{End, Ending, Facts};
use crate::config::{RunConfig, TargetSpec};
use crate::error::{Error, Result};
use crate::judge::{judge, Rules, RunOutcome};
use crate::note::Note;
use crate::report::{self, LimitsReport, Report, RunEnd, SampleCounts, Settings};
use crate::timeline::read_timeline;

/// Analyses the timeline on disk and writes the reports; maps the run to its exit code.
pub(super) fn conclude(cfg: &RunConfig, e: Ending) -> Result<Outcome> {
    let dir = cfg.out_dir.clone();
    let Ending {
        end,
        recorded: r,
        facts,
    } = e;
    let Facts {
        target,
        target_exit: root_exit,
        stop_escalated,
        sources,
        notes: extra_notes,
        runtimes,
        full_gc,
        sites,
        child_oom,
        signal,
    } = facts;
    let mut notes = Vec::new();
    if cfg.limits.rate_is_default {
        notes.push(crate::config::default_rate_note());
    }
    notes.extend(extra_notes);
    let interrupted = matches!(end, End::Signal(_));
    let early_exit = matches!(end, End::TargetGone);
    let target_ok_finish =
        early_exit && cfg.allow_exit && root_exit.as_ref().is_some_and(|x| x.code == Some(0));
    // An OOM kill inside the tree fails the run unless child deaths are expected
    // (--allow-child-oom) and the main process lived on.
    let child_oom_fails = child_oom.is_some() && !cfg.allow_child_oom;
    // A target that signals soak to stop ended the run itself, before its end: that is
    // the target's failure, not the user's interruption.
    let signalled_by_target = signal.as_ref().is_some_and(|s| s.from_target);
    let target_failed = (early_exit && !target_ok_finish) || child_oom_fails || signalled_by_target;
    if signalled_by_target {
        if let Some(s) = &signal {
            notes.push(Note::StoppedByTarget {
                detail: s.detail.clone(),
            });
        }
    }
    if let Some(c) = &child_oom {
        notes.push(Note::ChildOomKilled {
            evidence: c.clone(),
            fails: child_oom_fails,
        });
    }
    if early_exit && cfg.allow_exit && !target_ok_finish {
        notes.push(Note::AllowExitNotZero);
    }
    let (end_reason, signal_name, detail) = match &end {
        End::Deadline => ("deadline", None, None),
        End::Signal(s) => (
            "interrupted",
            Some(crate::workload::signal_name(*s)),
            signal.as_ref().map(|x| x.detail.clone()),
        ),
        End::TargetGone => (
            "target_exit",
            None,
            root_exit.as_ref().map(|x| x.describe()),
        ),
        End::MonitorError(m) => ("monitor_error", None, Some(m.clone())),
    };
    let settings = Settings {
        duration_s: Some(cfg.duration.as_secs_f64()),
        interval_s: Some(cfg.interval.as_secs_f64()),
        warmup_s: 0.0,
        metric: cfg.metric.clone(),
        pss: cfg.pss,
    };
    let limits = LimitsReport::new(&cfg.limits, cfg.inconclusive);
    let mut report = Report::new(cfg.name.clone(), target, settings, limits);
    report.started_at = Some(r.started_at);
    report.ended_at = Some(r.ended_at);
    report.elapsed_s = r.elapsed_s;
    report.samples = SampleCounts {
        taken: r.taken,
        missed: r.missed,
    };
    report.end = RunEnd {
        reason: end_reason.into(),
        signal: signal_name,
        detail,
    };
    report.interrupted = interrupted;
    report.target_exit = root_exit;
    report.target_failed = target_failed;
    report.child_oom = child_oom;
    report.stop_escalated = stop_escalated;
    report.sources = sources;
    report.notes = notes;
    report.runtimes = runtimes;
    report.full_gc = full_gc;
    let tl = read_timeline(&dir.join("timeline.csv"), &cfg.metric)?;
    let outcome = if let End::MonitorError(_) = end {
        RunOutcome::MonitorFailed
    } else if target_failed {
        RunOutcome::TargetFailed
    } else {
        RunOutcome::Finished
    };
    let mut report = judge(
        report,
        &tl,
        Rules {
            warmup_s: cfg.warmup.map(|w| w.as_secs_f64()),
            limits: &cfg.limits,
            inconclusive: cfg.inconclusive,
            extra_checks: Vec::new(),
        },
        outcome,
    );
    if let Some(evidence) = sites {
        // Sites are judged after the same warm-up as the timeline, on the same clock.
        let warmup_end = tl.elapsed_s.first().copied().unwrap_or(0.0) + report.settings.warmup_s;
        let found = crate::sites::judge::judge_sites(evidence, warmup_end);
        report.allocation_sites = found.sites;
        report.notes.extend(found.notes);
    }
    if let Some(e) = r.sync_error {
        report.notes.push(Note::TimelineNotSynced {
            error: e.to_string(),
        });
    }
    if let End::MonitorError(msg) = &end {
        // The run failed on soak's side (a full disk, say): the timeline on disk is valid
        // up to the failure. Say so in one line, with or without a report.
        let rows = format!("the timeline keeps {} complete rows", r.taken);
        // soak stops only what it started: an attached pid or container is left running.
        let target = match &cfg.target {
            TargetSpec::Pid(p) => format!("pid {p} left running (attached)"),
            TargetSpec::Container(c) => format!("container {c} left running (attached)"),
            _ => "target stopped".to_string(),
        };
        return match report::write_all(&report, Some(&tl), &dir) {
            Ok(()) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}, report written to {}",
                dir.display()
            ))),
            Err(e @ Error::Monitor(_)) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}; report incomplete: {e}"
            ))),
            Err(e) => Err(Error::Monitor(format!(
                "{msg}; {target}, {rows}; report not written ({e})"
            ))),
        };
    }
    report::write_all(&report, Some(&tl), &dir)?;
    Ok(Outcome {
        report,
        run_dir: dir,
    })
}
