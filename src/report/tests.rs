//! Snapshot tests of every rendering over one fixed report (host facts and times fixed,
//! so nothing machine-specific reaches the snapshots).

use super::export::{html, junit, Exporter};
use super::*;
use crate::analysis::Verdict;
use crate::analysis::{evaluate, EvaluateOptions};
use crate::config::{InconclusivePolicy, Limits};
use crate::error::exit_code;
use crate::sample::Col;
use crate::timeline::Timeline;
use crate::units::Rate;

/// insta starts `cargo metadata` to find the workspace: a child of this process, which
/// the unit test that counts this process's tree must not see.
fn children_turn() -> std::sync::MutexGuard<'static, ()> {
    crate::workload::CHILDREN_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn fixture() -> Report {
    let t: Vec<f64> = (0..600).map(f64::from).collect();
    // 200 MB, leaking 120 MB/h, with a small deterministic wobble.
    let rss: Vec<f64> = t
        .iter()
        .map(|x| 200e6 + x * 120e6 / 3600.0 + ((x * 7.0) % 11.0 - 5.0) * 1e5)
        .collect();
    let fds: Vec<f64> = vec![12.0; 600];
    let cpu: Vec<f64> = t.iter().map(|x| x * 0.05).collect();
    let cols = vec![
        (Col::Rss.name().to_string(), rss),
        (Col::Fds.name().to_string(), fds),
        (Col::Cpu.name().to_string(), cpu),
    ];
    let limits = Limits {
        max_growth_rate: Some(Rate::per_hour(60e6)),
        max_total_growth: Some(50_000_000),
        max_cpu_percent: Some(80.0),
        ..Limits::default()
    };
    let eval = evaluate(
        &t,
        &cols,
        &EvaluateOptions {
            metric: Col::Rss.name().into(),
            warmup_s: Some(60.0),
            limits: limits.clone(),
        },
    );
    let mut r = Report::new(
        "my|server".into(),
        TargetInfo {
            kind: "process".into(),
            command: Some(vec!["./my-server".into(), "--port".into(), "8080".into()]),
            pid: Some(4242),
            timeline: None,
            container: None,
        },
        Settings {
            duration_s: Some(600.0),
            interval_s: Some(1.0),
            warmup_s: 0.0,
            metric: Col::Rss.name().into(),
            pss: false,
        },
        LimitsReport::new(&limits, InconclusivePolicy::Exit3),
    );
    r.host = HostInfo {
        os: Some("Linux (test)".into()),
        kernel: Some("6.0.0".into()),
        cpus: 2,
        total_memory_bytes: 24_000_000_000,
        hostname: Some("host".into()),
    };
    r.started_at = Some("2026-01-01T00:00:00.000Z".into());
    r.ended_at = Some("2026-01-01T00:10:00.000Z".into());
    r.elapsed_s = 599.0;
    r.samples = SampleCounts {
        taken: 600,
        missed: 2,
    };
    r.end = RunEnd {
        reason: "deadline".into(),
        signal: None,
        detail: None,
    };
    r.set_evaluation(eval);
    r.exit_code = verdict_exit_code(r.verdict, InconclusivePolicy::Exit3);
    r
}

#[test]
fn markdown_snapshot() {
    let _turn = children_turn();
    insta::assert_snapshot!(to_markdown(&fixture()));
}

#[test]
fn text_snapshot() {
    let _turn = children_turn();
    insta::assert_snapshot!(text::summary(
        &fixture(),
        Some(std::path::Path::new("reports/x"))
    ));
}

#[test]
fn json_snapshot() {
    let r = fixture();
    let mut v: serde_json::Value = serde_json::from_str(&to_json(&r)).unwrap();
    // The robust points are many numbers; their count is what the snapshot guards.
    for m in v["metrics"].as_array_mut().unwrap() {
        let n = m["points"].as_array().map(|p| p.len()).unwrap_or(0);
        m["points"] = serde_json::json!(format!("[{n} points]"));
    }
    let _turn = children_turn();
    insta::assert_json_snapshot!(v);
}

#[test]
fn junit_snapshot() {
    let r = fixture();
    let _turn = children_turn();
    insta::assert_snapshot!(junit::Junit.render(&Input {
        report: &r,
        timeline: None
    }));
}

#[test]
fn json_round_trips_through_load() {
    let r = fixture();
    let dir = tempfile::tempdir().unwrap();
    write_all(&r, None, dir.path()).unwrap();
    let back = load(dir.path()).unwrap();
    assert_eq!(
        to_markdown(&back),
        to_markdown(&r),
        "re-rendered from report.json"
    );
    assert!(load(&dir.path().join("report.md"))
        .unwrap_err()
        .to_string()
        .contains("not a soak report"));
}

#[test]
fn html_escapes_target_strings() {
    let mut r = fixture();
    r.name = "<script>alert(1)</script>".into();
    r.target.command = Some(vec![
        "./srv".into(),
        "--x=<img src=x onerror=alert(1)>".into(),
    ]);
    let t: Vec<f64> = (0..600).map(f64::from).collect();
    let tl = Timeline {
        elapsed_s: t.clone(),
        columns: vec![(
            Col::Rss.name().into(),
            t.iter().map(|x| 200e6 + x * 3e4).collect(),
        )],
        ..Timeline::default()
    };
    let html = html::Html.render(&Input {
        report: &r,
        timeline: Some(&tl),
    });
    assert!(!html.contains("<script>alert"), "name escaped");
    assert!(!html.contains("<img"), "command escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("id=\"main-chart\"") && html.contains("class=\"samples\""));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "no external resources"
    );
}

#[test]
fn fixture_is_a_fail_with_reasons() {
    let r = fixture();
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code, 1);
    assert!(
        r.explanation.contains("above the 60.0 MB/h limit"),
        "{}",
        r.explanation
    );
}

#[test]
fn container_runs_render_their_container_and_round_trip() {
    let mut r = fixture();
    r.target = TargetInfo {
        kind: "container".into(),
        pid: Some(4242),
        container: Some(ContainerInfo {
            id: "3f64fa446f30b03a24d27d2c3f0bbc1b395203b471ca171be321afd0fb9abe6c".into(),
            name: "my-service".into(),
            image: "my-service:1.2".into(),
            created_by_soak: true,
            memory_limit_bytes: Some(512_000_000),
            engine: "unix:///var/run/docker.sock".into(),
            source: "cgroup v2".into(),
            removed: true,
        }),
        ..TargetInfo::default()
    };
    let _turn = children_turn();
    insta::assert_snapshot!(text::summary(&r, None));
    let md = to_markdown(&r);
    assert!(md.contains(
        "container my-service (3f64fa446f30, image my-service:1.2, memory limit 512.0 MB, started and removed by soak)"
    ));
    let back: Report = serde_json::from_str(&to_json(&r)).unwrap();
    assert_eq!(back.target, r.target);
    // A process report's JSON has no container key at all (the schema only grows).
    assert!(!to_json(&fixture()).contains("\"container\""));
}

#[test]
fn a_failed_target_or_monitor_leads_every_headline_but_not_the_json_verdict() {
    // A child OOM kill fails the run (exit 4) whatever the memory says.
    let mut r = fixture();
    r.exit_code = exit_code::TARGET_FAILED;
    r.target_failed = true;
    r.child_oom = Some("the OOM killer killed 1 process(es) of the target's tree".into());
    let text = text::summary(&r, None);
    assert!(
        text.starts_with("soak: TARGET FAILED — the OOM killer killed 1 process(es)"),
        "{text}"
    );
    assert!(text.contains("(memory verdict so far: FAIL)"), "{text}");
    assert!(to_markdown(&r).starts_with("# soak: TARGET FAILED — "));
    let junit = junit::Junit.render(&Input {
        report: &r,
        timeline: None,
    });
    assert!(
        junit.contains("message=\"TARGET FAILED — the OOM killer"),
        "{junit}"
    );
    let html = html::Html.render(&Input {
        report: &r,
        timeline: None,
    });
    assert!(html.contains("<title>soak TARGET FAILED — "), "{html}");
    // soak itself failed (exit 5): the report written on the way out says so first.
    let mut r = fixture();
    r.exit_code = exit_code::MONITOR_ERROR;
    r.end = RunEnd {
        reason: "monitor_error".into(),
        signal: None,
        detail: Some("cannot write timeline: No space left on device".into()),
    };
    let md = to_markdown(&r);
    assert!(md.starts_with("# soak: MONITOR ERROR — "), "{md}");
    assert!(md.contains("No space left on device"), "{md}");
    let junit = junit::Junit.render(&Input {
        report: &r,
        timeline: None,
    });
    assert!(junit.contains("type=\"monitor_error\""), "{junit}");
    // report.json keeps the memory verdict and the exit code.
    let v: serde_json::Value = serde_json::from_str(&to_json(&r)).unwrap();
    assert_eq!(v["verdict"], "FAIL");
    assert_eq!(v["exit_code"], 5);
}

#[test]
fn step_summary_snapshot() {
    let _turn = children_turn();
    insta::assert_snapshot!(to_step_summary(&fixture()));
}

/// The step summary's first screen is the verdict: no table before the first folded
/// block, and every table renders (as GFM) inside its `<details>`.
#[test]
fn step_summary_folds_the_long_parts() {
    let md = to_step_summary(&fixture());
    let (first_screen, folded) = md.split_once("<details>").unwrap();
    assert!(first_screen.starts_with("# soak: FAIL"), "{md}");
    assert!(
        !first_screen.contains("| "),
        "no table first: {first_screen}"
    );
    assert!(
        first_screen.contains("Smallest growth this run would detect"),
        "{first_screen}"
    );
    assert!(folded.contains("<summary>Checks (1 FAIL, 2 PASS)</summary>"));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    let mut html = String::new();
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::all()),
    );
    // Checks, metrics: both tables are rendered as tables, not left as text.
    assert_eq!(html.matches("<table>").count(), 2, "{html}");
    for part in html.split("<details>").skip(1) {
        assert!(part.contains("</details>"), "{html}");
    }
    // report.md keeps its headings and no folding.
    let file = to_markdown(&fixture());
    assert!(!file.contains("<details>") && file.contains("\n## Checks\n"));
}

/// The fixture with a command's sampled allocation sites (`--sites on`).
fn fixture_with_sites() -> Report {
    let mut r = fixture();
    let site = |rate: f64, frames: &[&str]| crate::sample::dhat_sites::AllocationSite {
        bytes: 48_000_000,
        blocks: 11_719,
        frames: frames.iter().map(|f| f.to_string()).collect(),
        growth_bytes: Some(rate / 6.0),
        growth_rate_per_hour: Some(rate),
        growth_rate_low_per_hour: Some(rate * 0.8),
        growth_rate_high_per_hour: Some(rate * 1.2),
        sampled_blocks: Some(92),
    };
    r.allocation_sites = vec![
        site(
            110e6,
            &[
                "cache_put (src/cache.c:42)",
                "handle_request (src/server.c:310)",
                "main (src/server.c:12)",
            ],
        ),
        site(4e6, &["my-server+0x1f2e3"]),
    ];
    r.notes.push(crate::note::Note::SitesSampled {
        period_bytes: 524_288,
        processes: 1,
        samples: 1234,
        unwinder: "from .eh_frame (libgcc's unwinder)".into(),
    });
    r.notes.push(crate::note::Note::SitesUnsymbolized {
        modules: vec!["my-server".into()],
    });
    r
}

#[test]
fn sites_render_with_their_rates_in_every_format() {
    let r = fixture_with_sites();
    let _turn = children_turn();
    let md = to_markdown(&r);
    let section = &md[md.find("## Allocation sites").expect("sites section")..];
    let section = &section[..section
        .find("\n## ")
        .map(|i| i + 1)
        .unwrap_or(section.len())];
    insta::assert_snapshot!("sites_markdown", section);
    let text = text::summary(&r, None);
    assert!(
        text.contains("site     110 MB/h at cache_put (src/cache.c:42) (#1 of 2 in the reports)"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&to_json(&r)).unwrap();
    insta::assert_json_snapshot!("sites_json", v["allocation_sites"]);
    let page = html::Html.render(&Input {
        report: &r,
        timeline: None,
    });
    assert!(page.contains("Allocation sites that grew after warm-up"));
    assert!(page.contains("cache_put (src/cache.c:42)"));
    assert!(
        page.contains("110 MB/h [88.0, 132]"),
        "the rate and its interval"
    );
}
