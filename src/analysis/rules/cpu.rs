//! `max_cpu`: the run's average CPU, in % of one core, against the limit.

use crate::sample::Col;
use super::{Facts, Rule, Scope};
use crate::analysis::verdict::{Check, Reason, Verdict};

/// The run's average CPU against `max_cpu`.
pub struct Cpu;

impl Rule for Cpu {
    fn scope(&self) -> Scope<'static> {
        Scope::Run
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        let limit = facts.limits.max_cpu_percent?;
        Some(cpu_check(facts.cpu_average_percent, limit))
    }
}

/// Average CPU (percent of one core) over the run against a limit.
pub fn cpu_check(average_percent: Option<f64>, limit_percent: f64) -> Check {
    let (verdict, reason, explanation) = match average_percent {
        None => (
            Verdict::Inconclusive,
            Reason::NoData,
            "CPU time could not be measured (fewer than two samples) → INCONCLUSIVE".to_string(),
        ),
        Some(c) if c > limit_percent => (
            Verdict::Fail,
            Reason::CpuExceeded,
            format!("average CPU {c:.1}% of one core, above the {limit_percent:.0}% limit → FAIL"),
        ),
        Some(c) => (
            Verdict::Pass,
            Reason::CpuWithin,
            format!("average CPU {c:.1}% of one core, within the {limit_percent:.0}% limit → PASS"),
        ),
    };
    Check {
        limit_name: "max_cpu".into(),
        metric: Col::Cpu.name().into(),
        limit: limit_percent,
        measured: average_percent,
        verdict,
        reason,
        explanation,
    }
}
