//! What each command does, between the parsed command line and the exit code.

use crate::analysis::{evaluate, EvaluateOptions};
use crate::cli::{AnalyzeArgs, Cli, Sub};
use crate::config::Format;
use crate::error::Result;
use crate::report::{self, LimitsReport, Report, SampleCounts, Settings, TargetInfo};
use crate::timeline::read_timeline;

/// Runs a parsed command line; returns the exit code.
pub fn execute(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Sub::Guard) => {
            crate::target::guard::run_guard();
            Ok(0)
        }
        Some(Sub::Analyze(a)) => analyze(a),
        None => {
            let cfg = cli.run.into_config(chrono::Utc::now())?;
            let exe = std::env::current_exe().ok();
            let out = crate::monitor::run(&cfg, exe.as_deref())?;
            match cfg.format {
                Format::Text => print!("{}", report::text_summary(&out.report, Some(&out.run_dir))),
                Format::Json => print!("{}", report::to_json(&out.report)),
            }
            Ok(out.report.exit_code)
        }
    }
}

/// `soak analyze`: judge a saved timeline with any limits.
fn analyze(a: AnalyzeArgs) -> Result<i32> {
    let prof = a.verdict.load_profile()?;
    let limits = a.verdict.limits(&prof)?;
    let metric = a.verdict.metric(&prof);
    let inconclusive = a.verdict.inconclusive(&prof)?;
    let warmup = a.verdict.warmup(&prof)?;
    let tl = read_timeline(&a.timeline, &metric)?;
    let n = tl
        .column(&metric)
        .map(|v| v.iter().filter(|x| x.is_finite()).count())
        .unwrap_or(0);
    let mut notes = tl.notes.clone();
    if tl.elapsed_s.is_empty() {
        notes.push("the timeline has a header but no rows".into());
    } else if n < 2 {
        notes.push(format!("only {n} value(s) of {metric}: nothing to fit"));
    }
    if limits.rate_is_default {
        notes.push(format!(
            "no memory limit given: the default --max-growth-rate {} MB/h applies",
            crate::config::DEFAULT_MAX_GROWTH_RATE_BYTES_PER_HOUR / 1e6
        ));
    }
    notes.push("host facts are those of the machine that ran the analysis".into());
    let eval = evaluate(
        &tl.elapsed_s,
        &tl.columns,
        &EvaluateOptions {
            metric: metric.clone(),
            warmup_s: warmup.map(|w| w.as_secs_f64()),
            limits: limits.clone(),
        },
    );
    let elapsed_s = match (tl.elapsed_s.first(), tl.elapsed_s.last()) {
        (Some(f), Some(l)) => l - f,
        _ => 0.0,
    };
    let name = a
        .timeline
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = TargetInfo {
        kind: "timeline".into(),
        command: None,
        pid: None,
        timeline: Some(a.timeline.display().to_string()),
    };
    let settings = Settings {
        duration_s: None,
        interval_s: None,
        warmup_s: 0.0,
        metric,
        pss: false,
    };
    let mut r = Report::new(
        name,
        target,
        settings,
        LimitsReport::new(&limits, inconclusive),
    );
    r.started_at = tl.first_timestamp.clone();
    r.ended_at = tl.last_timestamp.clone();
    r.elapsed_s = elapsed_s;
    r.samples = SampleCounts {
        taken: tl.elapsed_s.len() as u64,
        missed: 0,
    };
    r.notes = notes;
    r.set_evaluation(eval);
    r.exit_code = report::verdict_exit_code(r.verdict, inconclusive);
    match a.verdict.format {
        Format::Text => print!("{}", report::text_summary(&r, None)),
        Format::Json => print!("{}", report::to_json(&r)),
    }
    Ok(r.exit_code)
}
