//! The verdict's rules: every limit soak checks is one file in `rules/` implementing
//! [`Rule`], and one line in the `register!` list at the end of this file. `evaluate`
//! runs whatever is registered; it names no limit itself.
//!
//! A rule says what it judges ([`Scope`]), optionally a limit on its series' fit
//! ([`FitLimit`]: the growth-rate and total-growth calls are made inside `analyze_series`,
//! which holds the robust fit), and its check. Adding "max swap growth", say, is a file
//! `rules/swap_growth.rs` with `Scope::Column(Col::Swap.name())` and a `FitLimit::RatePerHour`,
//! plus the line `swap_growth::SwapGrowth,` below (and the limit's field in the config).

use super::{Check, SeriesAnalysis, SeriesOptions};
use crate::config::Limits;
use crate::sample::Col;

/// What a rule judges. It also fixes where the rule's check stands in
/// `Evaluation::checks`: the verdict metric's checks first, then each other column's in
/// the timeline's column order, then the run's; within one scope, in registration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The verdict metric's series (`--metric`).
    VerdictMetric,
    /// Another column's series, by name; never the verdict metric's own column.
    Column(&'a str),
    /// The run as a whole (CPU, figures across series).
    Run,
}

/// A limit a rule sets on its series' fit. `analyze_series` makes these checks itself
/// (the growth-rate call needs the robust fit, which the analysis does not keep, and an
/// undecided rate gets its "a longer run would decide" estimate there); the rule then
/// reads the check back from the analysis. One of each kind per scope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FitLimit {
    /// Growth per hour in the metric's unit: `SeriesAnalysis::rate_check`.
    RatePerHour(f64),
    /// Total growth after warm-up in the metric's unit: `SeriesAnalysis::total_check`.
    TotalGrowth(f64),
}

/// What a rule's check is made from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The series in the rule's scope; `None` for [`Scope::Run`].
    pub series: Option<&'a SeriesAnalysis>,
    /// Every analysed series, the verdict metric first.
    pub metrics: &'a [SeriesAnalysis],
    /// Average CPU over the run, % of one core, when a CPU column was read.
    pub cpu_average_percent: Option<f64>,
    /// The run's limits.
    pub limits: &'a Limits,
}

/// One limit of the verdict. Implementations are unit structs listed in [`RULES`].
pub trait Rule: Sync {
    /// What the rule judges.
    fn scope(&self) -> Scope<'static>;

    /// The limit the rule sets on its series' fit, if it judges the fit (see [`FitLimit`]).
    fn fit_limit(&self, _limits: &Limits) -> Option<FitLimit> {
        None
    }

    /// The rule's check; `None` when its limit was not given.
    fn check(&self, facts: &Facts<'_>) -> Option<Check>;
}

/// The registered rules whose scope is `scope`, in registration order.
fn in_scope<'a>(scope: Scope<'a>) -> impl Iterator<Item = &'static dyn Rule> + 'a {
    RULES.iter().copied().filter(move |r| r.scope() == scope)
}

/// How to analyse the series in `scope`: the warm-up, and the fit limits its rules set.
pub fn series_options(scope: Scope<'_>, limits: &Limits, warmup_s: Option<f64>) -> SeriesOptions {
    let mut o = SeriesOptions {
        warmup_s,
        ..SeriesOptions::default()
    };
    for limit in in_scope(scope).filter_map(|r| r.fit_limit(limits)) {
        match limit {
            FitLimit::RatePerHour(x) => o.max_rate_per_hour = Some(x),
            FitLimit::TotalGrowth(x) => o.max_total_growth = Some(x),
        }
    }
    o
}

/// Every registered rule's check over analysed series (`metrics[0]` is the verdict
/// metric, analysed with [`series_options`]), in the order [`Scope`] describes.
pub fn judge(
    metrics: &[SeriesAnalysis],
    cpu_average_percent: Option<f64>,
    limits: &Limits,
) -> Vec<Check> {
    let series = metrics.iter().enumerate().map(|(i, a)| {
        let scope = if i == 0 {
            Scope::VerdictMetric
        } else {
            Scope::Column(&a.metric)
        };
        (scope, Some(a))
    });
    let mut checks = Vec::new();
    for (scope, series) in series.chain([(Scope::Run, None)]) {
        let facts = Facts {
            series,
            metrics,
            cpu_average_percent,
            limits,
        };
        checks.extend(in_scope(scope).filter_map(|r| r.check(&facts)));
    }
    checks
}

/// A metric's name in an explanation: "RSS", "anonymous memory", "file descriptors".
fn label(metric: &str) -> String {
    let base = metric
        .strip_suffix("_bytes")
        .unwrap_or(metric)
        .replace('_', " ");
    match base.as_str() {
        "rss" | "pss" => base.to_uppercase(),
        "anon" => "anonymous memory".into(),
        _ if metric == Col::Fds.name() => "file descriptors".into(),
        _ => base,
    }
}

/// Declares each rule's module and lists the rule in [`RULES`], so a rule is one line.
macro_rules! register {
    ($($module:ident :: $rule:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every rule `evaluate` runs. Within a [`Scope`] the order is the order of the
        /// checks in the report (pinned by the snapshot tests).
        pub static RULES: &[&dyn Rule] = &[$(&$module::$rule),*];
    };
}

register! {
    growth_rate::GrowthRate,
    total_growth::TotalGrowth,
    peak::Peak,
    fd_growth::FdGrowth,
    thread_growth::ThreadGrowth,
    cpu::Cpu,
}

// Needs facts a timeline does not hold; the in-process soak calls it (see its file).
pub mod residual;

#[cfg(test)]
mod tests {
    use crate::analysis::{evaluate, EvaluateOptions};
    use crate::config::Limits;
    use crate::sample::Col;
    use crate::units::Rate;

    /// The order `Evaluation::checks` had before the rules were files: the verdict
    /// metric's rate, total and peak, then the other columns' in column order, then CPU.
    #[test]
    fn checks_come_in_scope_then_registration_order() {
        let t: Vec<f64> = (0..600).map(f64::from).collect();
        let limits = Limits {
            max_growth_rate: Some(Rate::per_hour(1e6)),
            max_total_growth: Some(1_000_000),
            max_peak: Some(100_000_000),
            max_cpu_percent: Some(50.0),
            max_fd_growth_per_hour: Some(10.0),
            max_thread_growth_per_hour: Some(10.0),
            ..Limits::default()
        };
        for columns in [
            [Col::Threads.name(), Col::Fds.name()],
            [Col::Fds.name(), Col::Threads.name()],
        ] {
            let mut cols = vec![
                (
                    Col::Cpu.name().to_string(),
                    t.iter().map(|x| x * 0.1).collect(),
                ),
                (Col::Rss.name().to_string(), vec![50e6; 600]),
            ];
            cols.extend(columns.map(|c| (c.to_string(), vec![9.0; 600])));
            let e = evaluate(
                &t,
                &cols,
                &EvaluateOptions {
                    metric: Col::Rss.name().into(),
                    warmup_s: Some(60.0),
                    limits: limits.clone(),
                },
            );
            let got: Vec<(&str, &str)> = e
                .checks
                .iter()
                .map(|c| (c.limit_name.as_str(), c.metric.as_str()))
                .collect();
            let want = [
                ("max_growth_rate", Col::Rss.name()),
                ("max_total_growth", Col::Rss.name()),
                ("max_peak", Col::Rss.name()),
                ("max_growth_rate", columns[0]),
                ("max_growth_rate", columns[1]),
                ("max_cpu", Col::Cpu.name()),
            ];
            assert_eq!(got, want);
        }
    }

    /// No limit given, no check: every rule stays silent.
    #[test]
    fn no_limits_no_checks() {
        let t: Vec<f64> = (0..100).map(f64::from).collect();
        let cols = vec![(Col::Rss.name().to_string(), vec![1e6; 100])];
        let e = evaluate(
            &t,
            &cols,
            &EvaluateOptions {
                metric: Col::Rss.name().into(),
                ..EvaluateOptions::default()
            },
        );
        assert!(e.checks.is_empty(), "{:?}", e.checks);
    }
}
