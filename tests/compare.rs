//! `soak compare` and `soak ab` on real runs of the example workload: the text, JSON,
//! Markdown and HTML outputs, the warnings when a comparison may mislead, the A/B
//! orders, exit codes and stop signals, and compare.html drawn in headless Chromium.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(o)))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn codes(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect()
}

fn figure<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no figure {key}: {v}"))
}

/// `soak compare BASELINE CANDIDATE EXTRA…`.
fn compare(base: &Path, cand: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compare", base.to_str().unwrap(), cand.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// The settings of the A/B runs and of the steady baseline.
const AB: [&str; 8] = [
    "--duration",
    "3s",
    "--interval",
    "100ms",
    "--warmup",
    "1s",
    "--max-growth-rate",
    "60MB/h",
];

/// Three samples after warm-up: too few robust points to decide, INCONCLUSIVE for real.
const TOO_SHORT: [&str; 6] = [
    "--duration",
    "1s",
    "--interval",
    "100ms",
    "--warmup",
    "700ms",
];

/// A soak of the example workload (`mode`, `arg`) into `out`.
fn soak_run(out: &Path, settings: &[&str], mode: &str, arg: &str) -> Output {
    let mut args: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    args.extend(["--out".into(), out.display().to_string(), "--".into()]);
    args.push(workload().display().to_string());
    args.extend([mode.to_string(), arg.to_string()]);
    Command::new(soak()).args(&args).output().unwrap()
}

/// Two real runs, made once for the tests that read them: a steady baseline ([`AB`]: 3 s
/// every 100 ms, 60 MB/h) and a leaking candidate run with other settings (4 s every 50 ms,
/// 30 MB/h), so the comparison fails and warns.
fn runs() -> &'static (PathBuf, PathBuf) {
    static RUNS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("compare-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (a, b) = (root.join("steady"), root.join("leaky"));
        let o = soak_run(
            &a,
            &[&AB[..], &["--name", "steady"]].concat(),
            "steady",
            "20",
        );
        assert_eq!(code(&o), 0, "{}", show(&o));
        let o = soak_run(
            &b,
            &[
                "--duration",
                "4s",
                "--interval",
                "50ms",
                "--warmup",
                "1s",
                "--max-growth-rate",
                "30MB/h",
                "--name",
                "leaky",
            ],
            "leak",
            "20",
        );
        assert_eq!(code(&o), 1, "{}", show(&o));
        (a, b)
    })
}

#[test]
fn compare_json_of_real_runs_has_both_sides_deltas_and_the_warnings() {
    let (a, b) = runs();
    let o = compare(a, b, &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let v = json(&o);
    assert_eq!(
        (v["outcome"].as_str(), v["exit_code"].as_i64()),
        (Some("FAIL"), Some(1))
    );
    assert_eq!(v["baseline"]["name"], "steady");
    assert_eq!(v["baseline"]["verdict"], "PASS");
    assert_eq!(v["candidate"]["verdict"], "FAIL");
    assert_eq!(v["candidate"]["interval_s"], 0.05);
    assert_eq!(v["baseline"]["path"], a.to_str().unwrap());
    let keys: Vec<&str> = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["peak", "final_level", "growth_after_warmup", "growth_rate"]
    );
    for f in v["figures"].as_array().unwrap() {
        let (x, y) = (
            f["baseline"].as_f64().unwrap(),
            f["candidate"].as_f64().unwrap(),
        );
        assert!((f["delta"].as_f64().unwrap() - (y - x)).abs() < 1e-6, "{f}");
    }
    // 20 MB/min against a steady run: intervals apart, far worse.
    let rate = figure(&v, "growth_rate");
    assert_eq!(rate["outcome"], "FAIL");
    assert!(rate["candidate"].as_f64().unwrap() > 600e6, "{rate}");
    assert!(rate["worse_percent"].as_f64().unwrap() > 20.0);
    assert_eq!(
        codes(&v),
        [
            "different_duration",
            "different_interval",
            "different_limits",
            "failed"
        ]
    );
    assert_eq!(v["warnings"][3]["side"], "candidate");
    let limits = v["warnings"][2]["message"].as_str().unwrap();
    assert!(
        limits.contains("growth rate: 60.0 MB/h vs 30.0 MB/h"),
        "{limits}"
    );
    // The same in text: a terminal table (no Markdown, no Debug words) and the warnings.
    let o = compare(a, b, &[]);
    let t = stdout(&o);
    assert!(t.starts_with("soak compare: FAIL — `leaky` is more than 20% worse than baseline `steady` on growth rate"), "{t}");
    assert!(
        !t.contains("| peak") && !t.contains(": Fail") && !t.contains("Status"),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("  growth rate ") && l.trim_end().ends_with("FAIL")),
        "{t}"
    );
    for w in [
        "planned for different durations (baseline 3s, candidate 4s)",
        "every 100ms, candidate every 50ms",
        "different limits",
        "the candidate FAILs its own limits",
    ] {
        assert!(
            t.lines()
                .any(|l| l.starts_with("  warning  ") && l.contains(w)),
            "{w}: {t}"
        );
    }
    assert!(t.ends_with("  exit     1\n"), "{t}");
}

#[test]
fn compare_json_shape_snapshot() {
    let (a, b) = runs();
    let o = compare(a, b, &["--format", "json"]);
    let v = json(&o);
    insta::assert_json_snapshot!(v, {
        ".baseline.path" => "[path]",
        ".candidate.path" => "[path]",
        ".*.command" => "[command]",
        ".*.explanation" => "[explanation]",
        ".*.elapsed_s" => "[seconds]",
        ".*.samples.taken" => "[count]",
        ".*.samples.missed" => "[count]",
        ".figures[].baseline" => "[figure]",
        ".figures[].candidate" => "[figure]",
        ".figures[].delta" => "[figure]",
        ".figures[3].baseline_interval" => "[interval]",
        ".figures[3].candidate_interval" => "[interval]",
        ".figures[].worse_percent" => "[percent]",
        // Levels of a steady and a young leaking run: which is worse is not the point.
        ".figures[0].outcome" => "[outcome]",
        ".figures[1].outcome" => "[outcome]",
        ".figures[2].outcome" => "[outcome]",
        ".warnings[].message" => "[message]",
    });
}

#[test]
fn compare_out_writes_json_md_and_html_drawn_with_both_timelines() {
    let (a, b) = runs();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("cmp");
    let args = |extra: &[&str]| compare(a, b, extra);
    let o = args(&["--out", out.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(stdout(&o).contains(&format!("  reports  {}", out.display())));
    // The files hold what --format json and --format markdown print.
    let j = args(&["--format", "json"]);
    let m = args(&["--format", "markdown"]);
    assert_eq!(std::fs::read(out.join("compare.json")).unwrap(), j.stdout);
    assert_eq!(std::fs::read(out.join("compare.md")).unwrap(), m.stdout);
    let md = stdout(&m);
    assert!(
        md.starts_with("## soak compare: FAIL — `leaky` vs baseline `steady`"),
        "{md}"
    );
    assert!(
        md.contains("| growth rate |") && md.contains("**Warnings**"),
        "{md}"
    );
    let dom = browser::drawn_page(&out.join("compare.html"), d.path());
    assert!(
        dom.contains("data-series-drawn=\"2\""),
        "both series on screen: {}",
        &dom[..dom.len().min(600)]
    );
    assert!(dom.contains("class=\"num worse\"") && dom.contains("class=\"warnings\""));
}

#[test]
fn compare_escapes_names_in_every_format() {
    let d = tempfile::tempdir().unwrap();
    let base = reports(d.path());
    let evil = worse(&base, 1.0, "x<script>alert(1)</script>|`");
    let out = d.path().join("out");
    let o = compare(&base, &evil, &["--out", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(!html.contains("<script>alert"), "escaped in HTML");
    assert!(html.contains("x&lt;script&gt;alert(1)&lt;/script&gt;|`"));
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("`` x<script>alert(1)</script>|` ``"), "{md}");
}

/// A baseline report from the corpus, and candidates made worse by a factor.
fn reports(dir: &Path) -> PathBuf {
    let o = run(&[
        "analyze",
        test_data("single-step.csv").to_str().unwrap(),
        "--max-growth-rate",
        "60MB/h",
        "--warmup",
        "60s",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let base = dir.join("base.json");
    std::fs::write(&base, &o.stdout).unwrap();
    base
}

fn worse(base: &Path, factor: f64, name: &str) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let m = &mut v["metrics"][0];
    for k in ["peak", "end_level", "last"] {
        let x = m[k].as_f64().unwrap();
        m[k] = serde_json::json!(x * factor);
    }
    v["name"] = serde_json::json!(name);
    let p = base.with_file_name(format!("cand{}.json", (factor * 100.0) as u32));
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    p
}

#[test]
fn compare_warns_and_fails_at_the_thresholds() {
    let d = tempfile::tempdir().unwrap();
    let base = reports(d.path());
    for (factor, want_code, want_status) in [(1.04, 0, "OK"), (1.06, 0, "WARN"), (1.25, 1, "FAIL")]
    {
        let cand = worse(&base, factor, &format!("cand{factor}"));
        let o = compare(&base, &cand, &[]);
        assert_eq!(code(&o), want_code, "{factor}: {}", show(&o));
        let out = stdout(&o);
        assert!(
            out.starts_with(&format!("soak compare: {want_status} — ")),
            "{factor}: {out}"
        );
        assert!(out.lines().any(|l| l.starts_with("  peak ")), "{out}");
    }
    // Same report: noise-free, nothing worse, no warning.
    let o = compare(&base, &base, &["--format", "json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert!(figure(&v, "growth_rate")["note"]
        .as_str()
        .unwrap()
        .contains("intervals overlap"));
    assert_eq!(codes(&v), Vec::<String>::new());
    // Thresholds can be set.
    let cand = worse(&base, 1.06, "c2");
    let o = compare(&base, &cand, &["--warn", "1%", "--fail", "5%"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let o = compare(&base, &cand, &["--fail", "1%"]);
    assert_eq!(code(&o), 2, "--fail below --warn: {}", show(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim().lines().count(), 1);
    let o = compare(&base, &cand, &["--format", "yaml"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
}

#[test]
fn compare_grades_growth_rates_apart_and_growth_after_warm_up() {
    let d = tempfile::tempdir().unwrap();
    let base = reports(d.path());
    let edit = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
        f(&mut v["metrics"][0]);
        let p = d.path().join(format!("{name}.json"));
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        p
    };
    // The candidate's rate interval lies wholly above the baseline's.
    let faster = edit("faster", &|m| {
        let hi = m["slope_high_per_hour"].as_f64().unwrap();
        m["slope_per_hour"] = serde_json::json!(hi + 50e6);
        m["slope_low_per_hour"] = serde_json::json!(hi + 40e6);
        m["slope_high_per_hour"] = serde_json::json!(hi + 60e6);
    });
    let o = compare(&base, &faster, &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let rate = figure(&json(&o), "growth_rate").clone();
    assert!(
        rate["note"].as_str().unwrap().contains("intervals apart") && rate["outcome"] == "FAIL",
        "{rate}"
    );
    // Growth after warm-up: 10% of the final level more.
    let grew = edit("grew", &|m| {
        let level = m["end_level"].as_f64().unwrap();
        let g = m["total_growth"].as_f64().unwrap();
        m["total_growth"] = serde_json::json!(g + level * 0.10);
    });
    let o = compare(&base, &grew, &["--format", "json"]);
    assert_eq!(code(&o), 0, "a warning is exit 0: {}", show(&o));
    let g = figure(&json(&o), "growth_after_warmup").clone();
    assert!(
        (g["worse_percent"].as_f64().unwrap() - 10.0).abs() < 1e-6 && g["outcome"] == "WARN",
        "{g}"
    );
}

#[test]
fn compare_rejects_an_unknown_schema_version() {
    let d = tempfile::tempdir().unwrap();
    let base = reports(d.path());
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    v["schema_version"] = serde_json::json!(2);
    let future = d.path().join("future.json");
    std::fs::write(&future, serde_json::to_string(&v).unwrap()).unwrap();
    let o = compare(&base, &future, &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("schema_version 2") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn compare_warns_when_a_side_is_inconclusive() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let o = soak_run(&a, &TOO_SHORT, "steady", "20");
    assert_eq!(code(&o), 3, "{}", show(&o));
    let o = soak_run(&b, &TOO_SHORT, "steady", "20");
    assert_eq!(code(&o), 3, "{}", show(&o));
    let o = compare(&a, &b, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let v = json(&o);
    assert_eq!(codes(&v), ["inconclusive", "inconclusive"]);
    assert_eq!(
        (
            v["warnings"][0]["side"].as_str(),
            v["warnings"][1]["side"].as_str()
        ),
        (Some("baseline"), Some("candidate"))
    );
    let m = v["warnings"][1]["message"].as_str().unwrap();
    assert!(
        m.contains("INCONCLUSIVE (run too short") && m.contains("may be noise"),
        "{m}"
    );
}
