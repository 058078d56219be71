//! `junit.xml` (quick-junit): one test case per limit checked, plus one for the target,
//! so CI systems show a soak beside the unit tests.

use super::{Exporter, Input};
use crate::analysis::Verdict;
use crate::config::InconclusivePolicy;
use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

pub(crate) struct Junit;

fn failure(kind: NonSuccessKind, ty: &str, message: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::non_success(kind);
    s.set_type(ty).set_message(message);
    s
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
        let elapsed = std::time::Duration::from_secs_f64(r.elapsed_s.max(0.0));
        for c in &r.checks {
            let status = match (c.verdict, policy) {
                (Verdict::Pass, _) | (Verdict::Inconclusive, InconclusivePolicy::Pass) => {
                    TestCaseStatus::success()
                }
                (Verdict::Fail, _) => failure(NonSuccessKind::Failure, "FAIL", &c.explanation),
                (Verdict::Inconclusive, InconclusivePolicy::Fail) => {
                    failure(NonSuccessKind::Failure, "INCONCLUSIVE", &c.explanation)
                }
                // Exit 3 is neither a pass nor a limit exceeded: an error in JUnit terms.
                (Verdict::Inconclusive, InconclusivePolicy::Exit3) => {
                    failure(NonSuccessKind::Error, "INCONCLUSIVE", &c.explanation)
                }
            };
            let mut case = TestCase::new(format!("{} {}", c.limit_name, c.metric), status);
            case.set_classname(format!("soak.{}", r.name))
                .set_time(elapsed);
            case.set_system_out(c.explanation.clone());
            suite.add_test_case(case);
        }
        // The failure leads with the run's outcome, as the other headlines do.
        let headline = format!("{} — {}", r.outcome(), r.outcome_explanation());
        let target_status = match (&r.target_exit, r.target_failed) {
            (_, true) if r.child_oom.is_some() => {
                failure(NonSuccessKind::Failure, "child_oom_killed", &headline)
            }
            (_, true) => failure(NonSuccessKind::Failure, "target_failed", &headline),
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new("target ran to the end", target_status);
        case.set_classname(format!("soak.{}", r.name))
            .set_time(elapsed);
        suite.add_test_case(case);
        if r.exit_code == crate::error::exit_code::MONITOR_ERROR {
            let mut case = TestCase::new(
                "soak monitored to the end",
                failure(NonSuccessKind::Error, "monitor_error", &headline),
            );
            case.set_classname(format!("soak.{}", r.name))
                .set_time(elapsed);
            suite.add_test_case(case);
        }
        let mut report = JReport::new("soak");
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->\n"))
    }
}
