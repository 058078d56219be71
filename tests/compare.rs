//! `soak compare` and `soak ab` on real runs of the example workload: the text, JSON,
//! Markdown and HTML outputs, the warnings when a comparison may mislead, the A/B
//! orders, exit codes and stop signals, and compare.html drawn in headless Chromium.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// `soak ab` with `args` before `--` and the two commands, into `out`.
fn ab(out: &Path, args: &[&str], a: &[&str], b: &[&str]) -> Output {
    let w = workload();
    let mut cmd = Command::new(soak());
    cmd.arg("ab")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--")
        .arg(&w)
        .args(a)
        .arg(":::")
        .arg(&w)
        .args(b);
    cmd.output().unwrap()
}

/// When the run in `dir` started, by its report.
fn started(dir: &Path) -> chrono::DateTime<chrono::FixedOffset> {
    let r = report(dir);
    chrono::DateTime::parse_from_rfc3339(r["started_at"].as_str().unwrap()).unwrap()
}

/// When the run in `dir` ended, by its report.
fn ended(dir: &Path) -> chrono::DateTime<chrono::FixedOffset> {
    let r = report(dir);
    chrono::DateTime::parse_from_rfc3339(r["ended_at"].as_str().unwrap()).unwrap()
}

#[test]
fn ab_leaking_b_against_steady_a_fails_concurrently() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let mut args = AB.to_vec();
    args.extend(["--format", "json"]);
    let o = ab(&out, &args, &["steady", "20"], &["leak", "20"]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    let v = json(&o);
    assert_eq!(v["ab"]["order"], "concurrent");
    assert!(v["ab"]["meaning"]
        .as_str()
        .unwrap()
        .contains("at the same time"));
    assert_eq!(
        (
            v["baseline"]["name"].as_str(),
            v["candidate"]["name"].as_str()
        ),
        (Some("workload-a"), Some("workload-b"))
    );
    assert_eq!(figure(&v, "growth_rate")["outcome"], "FAIL");
    // Same settings by construction: the only warning is B's own FAIL.
    assert_eq!(codes(&v), ["failed"]);
    for side in ["a", "b"] {
        for f in ["report.json", "timeline.csv", "report.html"] {
            assert!(out.join(side).join(f).exists(), "{side}/{f}");
        }
    }
    for f in ["compare.json", "compare.md", "compare.html"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(written, v);
    // Both ran at once: each started before the other ended.
    let (a, b) = (out.join("a"), out.join("b"));
    assert!(started(&a) < ended(&b) && started(&b) < ended(&a));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("soak ab: A `") && err.contains("concurrent for 3s each"),
        "{err}"
    );
}

#[test]
fn ab_a_against_a_passes_one_after_the_other() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let mut args = AB.to_vec();
    args.extend(["--order", "alternate", "--name", "same"]);
    let o = ab(&out, &args, &["steady", "20"], &["steady", "20"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let t = stdout(&o);
    assert!(
        t.starts_with("soak ab: order sequential — A ran for 3s, then B for 3s"),
        "{t}"
    );
    assert!(
        t.contains(
            "soak compare: OK — no figure of `same-b` is more than 5% worse than baseline `same-a`"
        ),
        "{t}"
    );
    assert!(
        t.contains(&format!("  reports  {}", out.display())) && t.ends_with("  exit     0\n"),
        "{t}"
    );
    assert!(
        ended(&out.join("a")) <= started(&out.join("b")),
        "B started after A ended"
    );
}

#[test]
fn ab_runs_too_short_to_decide_warn_for_both_sides() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let o = ab(
        &out,
        &[&TOO_SHORT[..], &["--format", "json"]].concat(),
        &["steady", "20"],
        &["steady", "20"],
    );
    assert_eq!(
        code(&o),
        0,
        "both INCONCLUSIVE, neither worse: {}",
        show(&o)
    );
    assert_eq!(codes(&json(&o)), ["inconclusive", "inconclusive"]);
}

#[test]
fn ab_usage_errors_are_one_line_and_run_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let w = workload();
    let w = w.to_str().unwrap();
    for (args, want_code, needle) in [
        (
            vec!["--", w, "steady"],
            2,
            "needs ':::' between the two commands",
        ),
        (
            vec!["--", w, ":::", w, ":::", w],
            2,
            "':::' appears 2 times",
        ),
        (vec!["--", ":::", w], 2, "side A is empty"),
        (vec!["--", w, ":::"], 2, "side B is empty"),
        (vec![], 2, "needs two commands"),
        (vec!["--pid", "1", "--", w, ":::", w], 2, "drop --pid"),
        (
            vec!["--metrics-addr", "--", w, ":::", w],
            2,
            "drop --metrics-addr",
        ),
        (
            vec!["--warn", "10%", "--fail", "5%", "--", w, ":::", w],
            2,
            "--fail 5% is below --warn 10%",
        ),
        (
            vec!["--interval", "0", "--", w, ":::", w],
            2,
            "--interval 0",
        ),
        (vec!["--order", "random", "--", w, ":::", w], 2, "random"),
        (
            vec!["--", w, ":::", "./no-such-program"],
            4,
            "side B: cannot start ./no-such-program",
        ),
    ] {
        let mut a = vec!["ab", "--out", out.to_str().unwrap()];
        a.extend(args.iter().copied());
        let o = run(&a);
        assert_eq!(code(&o), want_code, "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(needle) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?}: nothing is left behind");
    }
}

#[test]
fn ab_a_side_whose_target_fails_is_exit_4_with_the_comparison() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let o = ab(&out, &AB, &["steady", "20"], &["crash", "1"]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(v["candidate"]["outcome"], "TARGET FAILED");
    assert!(codes(&v).contains(&"target_failed".to_string()), "{v}");
    assert!(stdout(&o).ends_with("  exit     4\n"));
}

#[test]
fn ab_stopped_by_sigterm_compares_what_both_sides_collected() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let marker = marker();
    let w = workload();
    let child = Command::new(soak())
        .args([
            "ab",
            "--duration",
            "60s",
            "--interval",
            "100ms",
            "--warmup",
            "500ms",
            "--grace",
            "2s",
            "--format",
            "json",
            "--out",
        ])
        .arg(&out)
        .arg("--")
        .arg(&w)
        .args(["steady", &marker, ":::"])
        .arg(&w)
        .args(["steady", &marker])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both sides sampling, then a SIGTERM to soak ab alone (as `kill PID` sends it).
    let t0 = Instant::now();
    while !(out.join("a/timeline.csv").exists() && out.join("b/timeline.csv").exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "sides never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopped = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(15),
        "stopped in {:?}",
        stopped.elapsed()
    );
    let v = json(&o);
    assert_eq!(codes(&v), ["interrupted", "interrupted"], "{}", show(&o));
    assert!(v["baseline"]["elapsed_s"].as_f64().unwrap() < 30.0);
    assert!(
        wait_gone(&marker, Duration::from_secs(10)),
        "workloads left running"
    );
    let r = report(&out.join("b"));
    assert!(
        r["end"]["detail"]
            .as_str()
            .unwrap()
            .contains("outside the target's tree"),
        "{r}"
    );
}

#[test]
fn a_b_rust_and_python_implementations() {
    // The README's example: the workload against its Python twin, at 30 MB.
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("ab");
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workload.py");
    let o = Command::new(soak())
        .args([
            "ab",
            "--duration",
            "4s",
            "--interval",
            "100ms",
            "--warmup",
            "1s",
        ])
        .args(["--max-growth-rate", "60MB/h", "--out"])
        .arg(&out)
        .arg("--")
        .arg(workload())
        .args(["steady", "30", ":::", "python3"])
        .arg(&py)
        .args(["steady", "30"])
        .output()
        .unwrap();
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("`python3-b` vs baseline `workload-a`"), "{md}");
    // The interpreter costs memory the Rust build does not: more than 20% on 30 MB.
    assert_eq!(code(&o), 1, "{}", show(&o));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(figure(&v, "peak")["outcome"], "FAIL", "{v}");
}
