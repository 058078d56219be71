use super::*;
use crate::analysis::{evaluate, EvaluateOptions};
use crate::config::Limits;
use crate::report::markup::Markup;
use crate::report::{LimitsReport, Settings, TargetInfo};
use crate::sample::Col;

/// A PASS report of a 10-minute run at 100 MB growing `mb_per_hour`, evaluated for real
/// (the verdict and exit code set as the judge would for a clean run).
fn report(name: &str, mb_per_hour: f64) -> Report {
    let t: Vec<f64> = (0..600).map(f64::from).collect();
    let rss: Vec<f64> = t
        .iter()
        .map(|x| 100e6 + x * mb_per_hour * 1e6 / 3600.0 + ((x * 7.0) % 11.0 - 5.0) * 1e4)
        .collect();
    let limits = Limits::default();
    let eval = evaluate(
        &t,
        &[(Col::Rss.name().to_string(), rss)],
        &EvaluateOptions {
            metric: Col::Rss.name().into(),
            warmup_s: Some(60.0),
            limits: limits.clone(),
        },
    );
    let mut r = Report::new(
        name.into(),
        TargetInfo {
            kind: "process".into(),
            ..TargetInfo::default()
        },
        Settings {
            duration_s: Some(600.0),
            interval_s: Some(1.0),
            warmup_s: 0.0,
            metric: Col::Rss.name().into(),
            pss: false,
        },
        LimitsReport::new(&limits, crate::config::InconclusivePolicy::Exit3),
    );
    r.set_evaluation(eval);
    r.elapsed_s = 599.0;
    r.verdict = Verdict::Pass;
    r.exit_code = 0;
    r.explanation = "RSS grows within the limit → PASS".into();
    r
}

fn fig<'a>(c: &'a Comparison, key: &str) -> &'a Figure {
    c.figure(key)
        .unwrap_or_else(|| panic!("no figure {key}: {c:?}"))
}

fn main(r: &mut Report) -> &mut SeriesAnalysis {
    &mut r.metrics[0].analysis
}

fn codes(c: &Comparison) -> Vec<&'static str> {
    c.warnings.iter().map(Warning::code).collect()
}

#[test]
fn a_report_compared_with_itself_is_ok_everywhere() {
    let b = report("base", 0.0);
    let c = compare(&b, &b, 5.0, 20.0).unwrap();
    assert_eq!(c.outcome, Status::Ok);
    assert_eq!((c.exit_code, c.schema_version), (0, SCHEMA_VERSION));
    assert_eq!(c.metric, Col::Rss.name());
    assert_eq!(c.figures.len(), 4);
    assert_eq!(fig(&c, "peak").worse_percent, Some(0.0));
    assert_eq!(fig(&c, "peak").delta, Some(0.0));
    assert!(fig(&c, "growth_rate").note.contains("overlap"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn growth_rates_with_intervals_apart_are_graded() {
    let b = report("base", 0.0);
    // A 60 MB/h leak against none: intervals apart, far worse than 1 MB/h.
    let c = compare(&b, &report("leaky", 60.0), 5.0, 20.0).unwrap();
    let r = fig(&c, "growth_rate");
    assert!(r.note.contains("intervals apart"), "{r:?}");
    let pct = r.worse_percent.unwrap();
    assert!(pct > 1000.0, "{pct}");
    assert!(r.per_hour && r.baseline_interval.is_some() && r.candidate_interval.is_some());
    assert_eq!(r.outcome, Status::Fail);
    assert_eq!((c.outcome, c.exit_code), (Status::Fail, 1));
    // The other way round the candidate is better: negative, OK.
    let c = compare(&report("leaky", 60.0), &b, 5.0, 20.0).unwrap();
    let r = fig(&c, "growth_rate");
    assert!(
        r.worse_percent.unwrap() < 0.0 && r.outcome == Status::Ok,
        "{r:?}"
    );
}

#[test]
fn growth_rate_percent_is_of_the_baseline_rate_above_the_floor() {
    let mut b = report("base", 0.0);
    let mut c = b.clone();
    let set = |r: &mut Report, s: f64, lo: f64, hi: f64| {
        let a = main(r);
        a.slope_per_hour = Some(s);
        a.slope_low_per_hour = Some(lo);
        a.slope_high_per_hour = Some(hi);
    };
    // 10 MB/h [9, 11] → 11 MB/h [10.6, 11.4] overlap: noise.
    set(&mut b, 10e6, 9e6, 11e6);
    set(&mut c, 11e6, 10.6e6, 11.4e6);
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    assert_eq!(fig(&r, "growth_rate").worse_percent, None);
    assert_eq!(fig(&r, "growth_rate").delta, Some(1e6));
    // 10 MB/h [9.5, 10.5] → 11.2 MB/h [10.8, 11.6]: apart, 12% worse → WARN.
    set(&mut b, 10e6, 9.5e6, 10.5e6);
    set(&mut c, 11.2e6, 10.8e6, 11.6e6);
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    let g = fig(&r, "growth_rate");
    assert!((g.worse_percent.unwrap() - 12.0).abs() < 1e-9, "{g:?}");
    assert_eq!(g.outcome, Status::Warn);
    // A baseline near 0 is measured against the 1 MB/h floor, not against ~0.
    set(&mut b, 0.01e6, 0.0, 0.02e6);
    set(&mut c, 0.5e6, 0.4e6, 0.6e6);
    let g = compare(&b, &c, 5.0, 20.0).unwrap();
    let g = fig(&g, "growth_rate");
    assert!((g.worse_percent.unwrap() - 49.0).abs() < 1e-9, "{g:?}");
    // No trend in one of them: not compared (and not counted as OK).
    main(&mut c).slope_per_hour = None;
    let g = compare(&b, &c, 5.0, 20.0).unwrap();
    assert!(fig(&g, "growth_rate").note.contains("no trend"));
    assert_eq!(fig(&g, "growth_rate").outcome, Status::NotCompared);
}

#[test]
fn growth_after_warm_up_is_in_percent_of_the_baseline_level() {
    let mut b = report("base", 0.0);
    let mut c = b.clone();
    main(&mut b).end_level = Some(100e6);
    main(&mut b).total_growth = Some(10e6);
    for (growth, pct, status) in [
        (12e6, 2.0, Status::Ok),
        (16e6, 6.0, Status::Warn),
        (40e6, 30.0, Status::Fail),
        (0.0, -10.0, Status::Ok),
    ] {
        main(&mut c).total_growth = Some(growth);
        let r = compare(&b, &c, 5.0, 20.0).unwrap();
        let g = fig(&r, "growth_after_warmup");
        assert!((g.worse_percent.unwrap() - pct).abs() < 1e-9, "{g:?}");
        assert_eq!(g.outcome, status, "{g:?}");
        assert_eq!(g.delta, Some(growth - 10e6));
    }
    main(&mut c).total_growth = None;
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    assert!(fig(&r, "growth_after_warmup").note.contains("not measured"));
}

#[test]
fn levels_are_in_percent_of_the_baseline() {
    let b = report("base", 0.0);
    let mut c = b.clone();
    let peak = main(&mut c).peak.unwrap();
    main(&mut c).peak = Some(peak * 1.25);
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    let p = fig(&r, "peak");
    assert!((p.worse_percent.unwrap() - 25.0).abs() < 1e-9);
    assert_eq!((p.outcome, r.outcome), (Status::Fail, Status::Fail));
    // A zero baseline level cannot give a percentage: said, not graded.
    let mut z = b.clone();
    main(&mut z).peak = Some(0.0);
    let r = compare(&z, &c, 5.0, 20.0).unwrap();
    let p = fig(&r, "peak");
    assert_eq!((p.worse_percent, p.outcome), (None, Status::NotCompared));
    assert!(p.note.contains("0"), "{p:?}");
}

#[test]
fn nothing_compared_is_ok_with_a_warning_not_a_silent_pass() {
    let mut b = report("base", 0.0);
    let a = main(&mut b);
    a.peak = None;
    a.end_level = None;
    a.last = None;
    a.total_growth = None;
    a.slope_per_hour = None;
    let c = compare(&b, &b, 5.0, 20.0).unwrap();
    assert_eq!(c.outcome, Status::Ok);
    assert_eq!(codes(&c), ["nothing_compared"]);
    assert!(headline(&c, Markup::Plain).starts_with("nothing of"));
}

#[test]
fn different_metrics_compare_the_shared_one_or_are_an_error() {
    let b = report("base", 0.0);
    let mut c = b.clone();
    // The candidate judged anon but analysed rss too: rss is compared, with a warning.
    let mut anon = c.metrics[0].clone();
    anon.analysis.metric = Col::Anon.name().into();
    c.metrics.insert(0, anon);
    c.settings.metric = Col::Anon.name().into();
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    assert_eq!(r.metric, Col::Rss.name());
    assert_eq!(codes(&r), ["different_metric"]);
    assert!(r.warnings[0].message().contains("compared rss_bytes"));
    // Neither analysed the other's verdict metric: an error naming the fix.
    c.metrics.truncate(1);
    assert_eq!(
        compare(&b, &c, 5.0, 20.0).unwrap_err().to_string(),
        "the reports judge different metrics (rss_bytes vs anon_bytes) and neither analysed the other's; re-analyse one with --metric"
    );
    c.metrics.clear();
    assert_eq!(
        compare(&b, &c, 5.0, 20.0).unwrap_err(),
        CompareError::NoMetric
    );
}

#[test]
fn different_settings_warn_each_with_what_it_distorts() {
    let mut b = report("base", 0.0);
    let mut c = b.clone();
    c.settings.duration_s = Some(60.0);
    c.settings.interval_s = Some(0.1);
    c.settings.warmup_s = 30.0;
    c.limits.max_growth_rate_bytes_per_hour = Some(60e6);
    c.limits.max_peak_bytes = Some(2_000_000_000);
    c.target.kind = "container".into();
    b.host.hostname = Some("box-a".into());
    c.host.hostname = Some("box-b".into());
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    assert_eq!(
        codes(&r),
        [
            "different_target_kind",
            "different_duration",
            "different_interval",
            "different_warmup",
            "different_limits",
            "different_host"
        ]
    );
    let msg: Vec<String> = r.warnings.iter().map(Warning::message).collect();
    assert!(msg[1].contains("baseline 10m, candidate 60s") && msg[1].contains("shorter run"));
    assert!(
        msg[2].contains("every 1s") && msg[2].contains("every 100ms") && msg[2].contains("peaks")
    );
    assert!(
        msg[4].contains("growth rate: none vs 60.0 MB/h")
            && msg[4].contains("peak: none vs 2.00 GB"),
        "{}",
        msg[4]
    );
    // Re-analysed timelines have no plan: their spans are compared, with slack.
    let (mut x, mut y) = (b.clone(), b.clone());
    x.settings.duration_s = None;
    y.settings.duration_s = None;
    y.elapsed_s = x.elapsed_s * 0.95;
    assert!(compare(&x, &y, 5.0, 20.0).unwrap().warnings.is_empty());
    y.elapsed_s = x.elapsed_s / 2.0;
    let w = compare(&x, &y, 5.0, 20.0).unwrap();
    assert_eq!(codes(&w), ["different_duration"]);
    assert!(w.warnings[0].message().contains("span different times"));
}

#[test]
fn a_side_without_a_clean_pass_warns_about_itself() {
    let b = report("base", 0.0);
    let mut c = b.clone();
    c.verdict = Verdict::Inconclusive;
    c.exit_code = 3;
    main(&mut c).decide_after_s = Some(1800.0);
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    assert_eq!(codes(&r), ["inconclusive"]);
    assert_eq!(r.warnings[0].side(), Some(Role::Candidate));
    assert!(
        r.warnings[0].message().contains("may be noise")
            && r.warnings[0].message().contains("about 30m"),
        "{}",
        r.warnings[0].message()
    );
    let mut f = b.clone();
    f.verdict = Verdict::Fail;
    f.exit_code = 1;
    assert_eq!(codes(&compare(&f, &b, 5.0, 20.0).unwrap()), ["failed"]);
    // A failed target leads, even with an INCONCLUSIVE memory verdict so far.
    c.exit_code = 4;
    c.target_failed = true;
    let r = compare(&f, &c, 5.0, 20.0).unwrap();
    assert_eq!(codes(&r), ["failed", "target_failed"]);
    assert!(r.warnings[1].message().contains("only the time it ran"));
    let mut i = b.clone();
    i.interrupted = true;
    i.elapsed_s = 42.0;
    let r = compare(&b, &i, 5.0, 20.0).unwrap();
    assert_eq!(codes(&r), ["interrupted"]);
    assert!(r.warnings[0]
        .message()
        .contains("after 42s of its planned 10m"));
    let mut m = b.clone();
    m.exit_code = 5;
    assert_eq!(
        codes(&compare(&m, &b, 5.0, 20.0).unwrap()),
        ["monitor_error"]
    );
}

#[test]
fn json_has_both_sides_figures_deltas_outcomes_and_warnings() {
    let b = report("base", 0.0);
    let mut c = report("cand", 60.0);
    c.settings.interval_s = Some(2.0);
    let v: serde_json::Value =
        serde_json::from_str(&compare(&b, &c, 5.0, 20.0).unwrap().to_json()).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["baseline"]["name"], "base");
    assert_eq!(v["candidate"]["verdict"], "PASS");
    assert_eq!(v["outcome"], "FAIL");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["unit"], "bytes");
    let rate = &v["figures"][3];
    assert_eq!(rate["key"], "growth_rate");
    assert_eq!(rate["outcome"], "FAIL");
    let d = rate["candidate"].as_f64().unwrap() - rate["baseline"].as_f64().unwrap();
    assert!((rate["delta"].as_f64().unwrap() - d).abs() < 1e-6);
    assert_eq!(rate["candidate_interval"].as_array().unwrap().len(), 2);
    assert_eq!(v["warnings"][0]["code"], "different_interval");
    assert_eq!(v["warnings"][0]["side"], serde_json::Value::Null);
    assert!(v["ab"].is_null());
}

#[test]
fn text_is_a_terminal_table_with_honest_words() {
    let b = report("base", 0.0);
    let mut c = report("x\u{1b}[31m", 60.0);
    c.verdict = Verdict::Fail;
    c.exit_code = 1;
    let t = text(&compare(&b, &c, 5.0, 20.0).unwrap());
    assert!(t.starts_with("soak compare: FAIL — `x\\u{1b}[31m` is more than 20% worse than baseline `base` on growth rate (rss_bytes)\n"), "{t}");
    assert!(
        !t.contains("| peak") && !t.contains("Fail") && !t.contains('\u{1b}'),
        "{t}"
    );
    assert!(t.contains("  figure  ") && t.contains("worse by"), "{t}");
    assert!(
        t.contains("  warning  the candidate FAILs its own limits"),
        "{t}"
    );
    assert!(t.contains("  candidate  FAIL "), "{t}");
}

#[test]
fn markdown_snapshot() {
    let b = report("base", 0.0);
    let mut c = report("cand", 60.0);
    c.settings.duration_s = Some(300.0);
    let mut r = compare(&b, &c, 5.0, 20.0).unwrap();
    r.ab = Some(AbRun {
        order: "concurrent".into(),
        meaning: "both at once".into(),
    });
    insta::assert_snapshot!(markdown(&r));
}

#[test]
fn markdown_escapes_names_and_renders_no_html() {
    let b = report("base`<img src=x onerror=alert(1)>`", 0.0);
    let mut k = b.clone();
    k.name = "x<script>alert(2)</script>".into();
    let c = compare(&b, &k, 5.0, 20.0).unwrap();
    let md = markdown(&c);
    let mut html = String::new();
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::all()),
    );
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "{html}"
    );
    assert!(
        html.contains("<code>x&lt;script&gt;alert(2)&lt;/script&gt;</code>"),
        "{html}"
    );
    assert!(html.contains("<h2>soak compare: OK"), "{html}");
}

#[test]
fn html_escapes_every_label_and_overlays_both_timelines() {
    use crate::timeline::Timeline;
    let mut b = report("<b>base</b>", 0.0);
    let mut c = report("cand\"'&", 60.0);
    b.host.hostname = Some("<i>h1</i>".into());
    c.host.hostname = Some("h2".into());
    let r = compare(&b, &c, 5.0, 20.0).unwrap();
    let tl = |slope: f64| Timeline {
        elapsed_s: (0..50).map(f64::from).collect(),
        columns: vec![(
            Col::Rss.name().into(),
            (0..50).map(|i| 1e6 + slope * f64::from(i)).collect(),
        )],
        ..Timeline::default()
    };
    let (x, y) = (tl(0.0), tl(1e4));
    let h = html(&r, [Some(&x), Some(&y)]);
    for raw in ["<b>base", "cand\"'&", "<i>h1"] {
        assert!(!h.contains(raw), "unescaped {raw}");
    }
    assert!(h.contains("&lt;b&gt;base&lt;/b&gt;") && h.contains("cand&quot;&#39;&amp;"));
    assert!(h.contains("id=\"compare-chart\""));
    assert_eq!(h.matches("<polyline class=\"base\"").count(), 1);
    assert_eq!(h.matches("<polyline class=\"cand\"").count(), 1);
    assert!(h.contains("class=\"num worse\"") && h.contains("different hosts"));
    let none = html(&r, [Some(&x), None]);
    assert!(!none.contains("<polyline") && none.contains("needs both runs"));
}

#[test]
fn default_warm_ups_that_differ_by_timing_jitter_do_not_warn() {
    // Two runs' default warm-ups are shares of their own spans: 4.0000195 s vs 3.999984 s
    // at a 250 ms interval (seen from `soak ab`) judged the same samples.
    let mut b = report("base", 0.0);
    b.settings.interval_s = Some(0.25);
    b.settings.warmup_s = 4.000_019_5;
    let mut c = b.clone();
    c.settings.warmup_s = 3.999_984;
    assert!(codes(&compare(&b, &c, 5.0, 20.0).unwrap()).is_empty());
    // More than one sample apart is a different warm-up.
    c.settings.warmup_s = 4.5;
    assert_eq!(
        codes(&compare(&b, &c, 5.0, 20.0).unwrap()),
        ["different_warmup"]
    );
}
