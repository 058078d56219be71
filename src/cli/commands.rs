//! What each command does, between the parsed command line and the exit code.

use super::{AnalyzeArgs, Cli, ReportArgs, Sub, Verdict};
use crate::config::Format;
use crate::console;
use crate::error::Result;
use crate::judge::{judge, Rules, RunOutcome};
use crate::note::Note;
use crate::report::markup::{gh_message, gh_property};
use crate::report::{self, LimitsReport, Report, SampleCounts, Settings, TargetInfo};
use crate::timeline::read_timeline;
use std::path::Path;

/// Runs soak as its own guard process when started as one (`soak __guard`, see
/// [`crate::workload::guard`]) and returns true. Dispatched before clap parses anything,
/// so this internal entry point never shows in help, completions or manual pages (clap's
/// completion generators list hidden subcommands too).
pub fn run_as_guard() -> bool {
    if std::env::args_os().nth(1).is_some_and(|a| a == "__guard") {
        crate::workload::guard::run_guard();
        return true;
    }
    false
}

/// Runs a parsed command line; returns the exit code.
pub fn execute(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Sub::Analyze(a)) => analyze(*a),
        Some(Sub::Report(a)) => rerender(a),
        Some(Sub::Compare(a)) => super::compare::run(a),
        Some(Sub::Ab(a)) => super::ab::run(*a),
        Some(Sub::Prune(a)) => super::prune::prune(&a),
        Some(Sub::Completions(a)) => super::manual::completions(&a),
        Some(Sub::Man(a)) => super::manual::man(&a),
        None => {
            let cfg = cli.run.into_config(chrono::Utc::now())?;
            let exe = std::env::current_exe().ok();
            let out = crate::monitor::run(&cfg, exe.as_deref())?;
            print_summary(&out.report, cfg.format, Some(&out.run_dir));
            ci_outputs(&out.report);
            Ok(out.report.exit_code)
        }
    }
}

/// `soak analyze`: judge a saved timeline with any limits.
fn analyze(a: AnalyzeArgs) -> Result<i32> {
    let verdict = a.verdict.resolve()?;
    let Some(timeline) = &a.timeline else {
        return super::fleet::analyze_prometheus(
            &a.prometheus,
            &verdict,
            a.verdict.metric.as_deref(),
        );
    };
    let r = timeline_report(timeline, &verdict)?;
    print_summary(&r, verdict.format, None);
    ci_outputs(&r);
    Ok(r.exit_code)
}

/// The report on a saved timeline; host facts are those of this machine.
fn timeline_report(path: &Path, verdict: &Verdict) -> Result<Report> {
    let Verdict {
        limits,
        metric,
        inconclusive,
        warmup,
        ..
    } = verdict;
    let (metric, inconclusive) = (metric.clone(), *inconclusive);
    let tl = read_timeline(path, &metric)?;
    let n = tl
        .column(&metric)
        .map(|v| v.iter().filter(|x| x.is_finite()).count())
        .unwrap_or(0);
    let mut notes = Vec::new();
    if tl.elapsed_s.is_empty() {
        notes.push(Note::TimelineEmpty);
    } else if n < 2 {
        notes.push(Note::TooFewValues {
            count: n,
            metric: metric.clone(),
        });
    }
    if limits.rate_is_default {
        notes.push(crate::config::default_rate_note());
    }
    notes.push(Note::HostFactsOfAnalysis);
    let elapsed_s = match (tl.elapsed_s.first(), tl.elapsed_s.last()) {
        (Some(f), Some(l)) => l - f,
        _ => 0.0,
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = TargetInfo {
        kind: "timeline".into(),
        command: None,
        pid: None,
        timeline: Some(path.display().to_string()),
        container: None,
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
        LimitsReport::new(limits, inconclusive),
    );
    r.started_at = tl.first_timestamp.clone();
    r.ended_at = tl.last_timestamp.clone();
    r.elapsed_s = elapsed_s;
    r.samples = SampleCounts {
        taken: tl.elapsed_s.len() as u64,
        missed: 0,
    };
    r.notes = notes;
    let rules = Rules {
        warmup_s: warmup.map(|w| w.as_secs_f64()),
        limits,
        inconclusive,
        extra_checks: Vec::new(),
    };
    Ok(judge(r, &tl, rules, RunOutcome::Finished))
}

/// The verdict on stdout: the text summary (naming the run directory, if any) or the
/// report JSON, and nothing else, so `--format json` output can be piped.
fn print_summary(r: &Report, format: Format, run_dir: Option<&Path>) {
    match format {
        Format::Text => console::out(&report::text_summary_coloured(
            r,
            run_dir,
            console::colour(console::Stream::Stdout),
        )),
        Format::Json => console::out(&report::to_json(r)),
    }
}

/// `soak report RUN_DIR`: re-render the human formats from report.json and the timeline.
fn rerender(a: ReportArgs) -> Result<i32> {
    let r = report::load(&a.run_dir)?;
    let tl_path = a.run_dir.join("timeline.csv");
    let tl = if tl_path.exists() {
        Some(read_timeline(&tl_path, &r.settings.metric)?)
    } else {
        console::err_line(&format!(
            "soak: {} not found: charts are left out",
            tl_path.display()
        ));
        None
    };
    let input = report::Input {
        report: &r,
        timeline: tl.as_ref(),
    };
    report::write_human(&input, &a.run_dir)?;
    console::out_line(&format!(
        "soak: re-rendered report.md, report.html and junit.xml in {} ({})",
        a.run_dir.display(),
        r.verdict
    ));
    Ok(0)
}

/// Whether soak runs in GitHub Actions (annotations are written then).
pub(super) fn github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY` when it is set; a failure to write is
/// reported, never fatal (the verdict is already on stdout).
pub(super) fn append_step_summary(md: &str) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write;
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(md.as_bytes()));
        if let Err(e) = res {
            console::err_line(&format!(
                "soak: cannot append to GITHUB_STEP_SUMMARY {}: {e}",
                std::path::Path::new(&path).display()
            ));
        }
    }
}

/// CI-native outputs of a verdict: the step summary and an annotation. The annotation
/// goes to stderr (the runner reads workflow commands from both streams), so stdout
/// stays exactly the summary or the JSON report.
fn ci_outputs(r: &report::Report) {
    append_step_summary(&report::to_step_summary(r));
    if github_actions() {
        let kind = match r.verdict {
            _ if r.outcome_overrides_verdict() => "error",
            crate::analysis::Verdict::Fail => "error",
            crate::analysis::Verdict::Inconclusive => "warning",
            crate::analysis::Verdict::Pass => "notice",
        };
        console::err_line(&format!(
            "::{kind} title=soak {} {}::{}",
            r.outcome(),
            gh_property(&r.name),
            gh_message(&r.outcome_explanation())
        ));
    }
}
