//! `junit.xml` (quick-junit): one test case per limit checked, plus one for the target,
//! so CI systems show a soak beside the unit tests.
//!
//! Times add up: the run's time belongs to the test case "target ran to the end" (the
//! run is what took the time), and each limit's check gets 0 s — the checks are judged
//! from the timeline after the run, in milliseconds. The suite's time is the run's, so
//! a CI system summing test cases or reading the suite gets the same figure. The suite
//! carries the run's start as its `timestamp` and the host's name as `hostname`. A
//! failure's `message` is its one-line explanation; its body gives the figures behind
//! it: the measured rate and interval, the limit, the analysed span, the notes.

use super::{Exporter, Input};
use crate::analysis::{Check, Verdict};
use crate::config::InconclusivePolicy;
use crate::report::Report;
use crate::units::{fmt_rate, fmt_rate_interval, fmt_value, Secs};
use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write;
use std::time::Duration;

pub(crate) struct Junit;

fn failure(kind: NonSuccessKind, ty: &str, message: &str, body: String) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(kind);
    s.set_type(ty).set_message(message).set_description(body);
    s
}

/// A check's limit in its unit: `60.0 MB/h`, `100.0 MB`, `80%`, `5/h`.
fn limit_text(c: &Check, unit: crate::analysis::Unit) -> String {
    match c.limit_name.as_str() {
        "max_growth_rate" | "max_fd_growth" | "max_thread_growth" => fmt_rate(unit, c.limit),
        "max_cpu" => format!("{}% of one core", c.limit),
        _ => fmt_value(unit, c.limit),
    }
}

/// The body of a check's failure: what was measured, against which limit, over what.
fn check_body(r: &Report, c: &Check) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "{}", c.explanation);
    let reason = serde_json::to_value(c.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(b, "reason: {reason}");
    let a = r
        .metrics
        .iter()
        .map(|m| &m.analysis)
        .find(|a| a.metric == c.metric);
    let unit = a
        .map(|a| a.unit)
        .unwrap_or_else(|| crate::analysis::Unit::of_column(&c.metric));
    let _ = writeln!(b, "limit: {} {}", c.limit_name, limit_text(c, unit));
    if let Some(a) = a {
        if let (Some(s), Some(lo), Some(hi)) = (
            a.slope_per_hour,
            a.slope_low_per_hour,
            a.slope_high_per_hour,
        ) {
            let _ = writeln!(
                b,
                "measured: {} robust slope {} (90% interval), OLS {}",
                a.metric,
                fmt_rate_interval(a.unit, s, lo, hi),
                a.ols_slope_per_hour
                    .map(|o| fmt_rate(a.unit, o))
                    .unwrap_or_else(|| "–".into())
            );
        }
        if let Some(g) = a.total_growth {
            let _ = writeln!(b, "growth after warm-up: {}", fmt_value(a.unit, g));
        }
        let _ = writeln!(
            b,
            "analysed: {} after a {} warm-up, {} robust points from {} samples",
            Secs((a.span_s - a.warmup_s).max(0.0)),
            Secs(a.warmup_s),
            a.points.len(),
            a.samples_after_warmup
        );
        if let Some(d) = a.decide_after_s {
            let _ = writeln!(b, "a run of about {} would likely decide (estimate)", Secs(d));
        }
    }
    for n in &r.notes {
        let _ = writeln!(b, "note: {n}");
    }
    b
}

/// The run's start, for the suite's `timestamp`.
fn started(r: &Report) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(r.started_at.as_deref()?).ok()
}

impl Exporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, input: &Input) -> String {
        let r = input.report;
        let policy = match r.limits.inconclusive.as_str() {
            "pass" => InconclusivePolicy::Pass,
            "fail" => InconclusivePolicy::Fail,
            _ => InconclusivePolicy::Exit3,
        };
        let mut suite = TestSuite::new(format!("soak {}", r.name));
        let elapsed = Duration::from_secs_f64(r.elapsed_s.max(0.0));
        suite.set_time(elapsed);
        if let Some(t) = started(r) {
            suite.set_timestamp(t);
        }
        if let Some(h) = &r.host.hostname {
            suite.extra.insert("hostname".into(), h.as_str().into());
        }
        let case = |name: String, status: TestCaseStatus, time: Duration| {
            let mut case = TestCase::new(name, status);
            case.set_classname(format!("soak.{}", r.name)).set_time(time);
            case
        };
        for c in &r.checks {
            let fail = |kind, ty| failure(kind, ty, &c.explanation, check_body(r, c));
            let status = match (c.verdict, policy) {
                (Verdict::Pass, _) | (Verdict::Inconclusive, InconclusivePolicy::Pass) => {
                    TestCaseStatus::success()
                }
                (Verdict::Fail, _) => fail(NonSuccessKind::Failure, "FAIL"),
                (Verdict::Inconclusive, InconclusivePolicy::Fail) => {
                    fail(NonSuccessKind::Failure, "INCONCLUSIVE")
                }
                // Exit 3 is neither a pass nor a limit exceeded: an error in JUnit terms.
                (Verdict::Inconclusive, InconclusivePolicy::Exit3) => {
                    fail(NonSuccessKind::Error, "INCONCLUSIVE")
                }
            };
            let mut case = case(format!("{} {}", c.limit_name, c.metric), status, Duration::ZERO);
            case.set_system_out(c.explanation.clone());
            suite.add_test_case(case);
        }
        // The failure leads with the run's outcome, as the other headlines do.
        let headline = format!("{} — {}", r.outcome(), r.outcome_explanation());
        let run_body = || {
            let mut b = format!("{headline}\n");
            if let Some(d) = &r.end.detail {
                let _ = writeln!(b, "end: {} ({d})", r.end.reason);
            }
            if let Some(x) = &r.target_exit {
                let _ = writeln!(b, "target {} at {}", x.describe(), Secs(x.at_s));
            }
            for n in &r.notes {
                let _ = writeln!(b, "note: {n}");
            }
            b
        };
        let target_status = match (&r.target_exit, r.target_failed) {
            (_, true) if r.child_oom.is_some() => failure(
                NonSuccessKind::Failure,
                "child_oom_killed",
                &headline,
                run_body(),
            ),
            (_, true) => failure(
                NonSuccessKind::Failure,
                "target_failed",
                &headline,
                run_body(),
            ),
            _ => TestCaseStatus::success(),
        };
        suite.add_test_case(case("target ran to the end".into(), target_status, elapsed));
        if r.exit_code == crate::error::exit_code::MONITOR_ERROR {
            suite.add_test_case(case(
                "soak monitored to the end".into(),
                failure(
                    NonSuccessKind::Error,
                    "monitor_error",
                    &headline,
                    run_body(),
                ),
                Duration::ZERO,
            ));
        }
        let mut report = JReport::new("soak");
        report.set_time(elapsed);
        if let Some(t) = started(r) {
            report.set_timestamp(t);
        }
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->\n"))
    }
}
