//! The human reports: HTML drawn in a real browser (headless Chromium), `soak report`
//! re-rendering, CI step summary and annotations (`soak compare` is in tests/compare.rs).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(f: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(f)
}

fn leak_run(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    let w = workload();
    let o = run(&[
        "--duration",
        "6s",
        "--interval",
        "100ms",
        "--warmup",
        "1s",
        "--max-growth-rate",
        "60MB/h",
        "--max-total-growth",
        "100MB",
        "--name",
        "<b>leaky & \"quoted\"</b>",
        "--out",
        out.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "leak",
        "20",
    ]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    out
}

#[test]
fn html_report_is_drawn_in_a_real_browser() {
    let d = tempfile::tempdir().unwrap();
    let out = leak_run(d.path());
    let html = out.join("report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(!text.contains("<b>leaky"), "the run name is escaped");
    // Not blank, and the DOM after layout: the chart's samples have a size on screen.
    let dom = browser::drawn_page(&html, d.path());
    assert!(
        dom.contains("data-chart-drawn=\"yes\""),
        "chart not laid out: {}",
        &dom[..dom.len().min(400)]
    );
    assert!(dom.contains("id=\"main-chart\"") && dom.matches("<circle").count() >= 6);
    assert!(dom.contains("class=\"band\"") && dom.contains("class=\"limit\""));
}

#[test]
fn soak_report_re_renders_from_json_and_timeline() {
    let d = tempfile::tempdir().unwrap();
    let out = leak_run(d.path());
    let before = std::fs::read_to_string(out.join("report.md")).unwrap();
    for f in ["report.md", "report.html", "junit.xml"] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let o = run(&["report", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        before
    );
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("id=\"main-chart\""));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("max_growth_rate rss_bytes"),
        "{junit}"
    );
    let o = run(&["report", d.path().to_str().unwrap()]);
    assert_eq!(code(&o), 2, "no report.json: {}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read report"));
}

#[test]
fn github_step_summary_and_annotation() {
    let d = tempfile::tempdir().unwrap();
    let summary = d.path().join("summary.md");
    std::fs::write(&summary, "previous step\n").unwrap();
    let o = Command::new(soak())
        .args([
            "analyze",
            data("leak-2L-white.csv").to_str().unwrap(),
            "--max-growth-rate",
            "60MB/h",
            "--warmup",
            "60s",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", show(&o));
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(
        s.starts_with("previous step\n"),
        "appended, not overwritten"
    );
    assert!(
        s.contains("# soak: FAIL") && s.contains("| metric |"),
        "{s}"
    );
    // The verdict is the first screen; the tables are folded below it.
    let (first, _) = s.split_once("<details>").unwrap();
    assert!(
        first.contains("# soak: FAIL") && !first.contains("| metric |"),
        "{s}"
    );
    assert!(s.contains("<details><summary>Metrics"), "{s}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("::error title=soak FAIL")),
        "{stderr}"
    );
}

#[test]
fn github_annotation_leaves_json_stdout_pure() {
    let o = Command::new(soak())
        .args([
            "analyze",
            data("leak-2L-white.csv").to_str().unwrap(),
            "--max-growth-rate",
            "60MB/h",
            "--warmup",
            "60s",
            "--format",
            "json",
        ])
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", show(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", show(&o)));
    assert_eq!(r["verdict"], "FAIL");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("::error"),
        "{}",
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .any(|l| l.starts_with("::error title=soak FAIL")),
        "the annotation is still printed, on stderr: {}",
        show(&o)
    );
}

/// A target that dies mid-run is headlined by its failure everywhere a human or CI
/// looks first, while report.json keeps the memory verdict (a contract).
#[test]
fn a_target_that_dies_is_headlined_target_failed() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = Command::new(soak())
        .args(["--duration", "3s", "--interval", "100ms", "--out"])
        .arg(&out)
        .args(["--", "sh", "-c", "sleep 1.5; kill -SEGV $$"])
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("soak: TARGET FAILED — ") && first.contains("SIGSEGV"),
        "{}",
        show(&o)
    );
    assert!(first.contains("memory verdict so far"), "{first}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let md_first = md.lines().next().unwrap_or_default();
    assert!(md_first.starts_with("# soak: TARGET FAILED"), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<title>soak TARGET FAILED"), "{html}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("TARGET FAILED"), "{junit}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("::error title=soak TARGET FAILED")),
        "{stderr}"
    );
    assert!(!stderr.contains("::notice"), "{stderr}");
    let r = report(&out);
    assert_eq!(r["exit_code"], 4);
    assert!(
        matches!(
            r["verdict"].as_str(),
            Some("PASS" | "INCONCLUSIVE" | "FAIL")
        ),
        "report.json keeps the memory verdict: {r}"
    );
}

#[test]
fn status_lines_off_a_terminal_and_quiet() {
    let d = tempfile::tempdir().unwrap();
    let w = workload();
    let args = |out: &Path, extra: &[&str]| {
        let mut a = vec![
            "--duration".to_string(),
            "4s".into(),
            "--interval".into(),
            "100ms".into(),
            "--warmup".into(),
            "1s".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend([
            "--out".into(),
            out.display().to_string(),
            "--".into(),
            w.display().to_string(),
            "leak".into(),
            "10".into(),
        ]);
        a
    };
    let o = Command::new(soak())
        .args(args(&d.path().join("a"), &["--status-every", "1s"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let status: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" of 4s: ") && l.contains(" · rss "))
        .collect();
    assert!(status.len() >= 2, "status lines every second: {err}");
    assert!(
        status
            .iter()
            .any(|l| l.contains(": FAIL so far · ") && l.contains("rss_bytes ")),
        "{err}"
    );
    // Off a terminal, no colour.
    assert!(!err.contains('\x1b'), "{err}");
    let o = Command::new(soak())
        .args(args(
            &d.path().join("b"),
            &["--status-every", "1s", "--quiet"],
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains(" of 4s: "), "--quiet: {err}");
}
