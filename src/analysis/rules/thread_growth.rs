//! `max_thread_growth_per_hour`: the growth rate of the `threads` column (threads), judged like the verdict
//! metric's (the same three-way call, under the `max_growth_rate` name with `threads` as the
//! metric), so a leak of threads fails a run whose memory is flat.

use crate::sample::Col;
use super::{FitLimit, Facts, Rule, Scope};
use crate::analysis::verdict::Check;
use crate::config::Limits;

/// The `threads` column's growth rate against `max_thread_growth_per_hour`.
pub struct ThreadGrowth;

impl Rule for ThreadGrowth {
    fn scope(&self) -> Scope<'static> {
        Scope::Column(Col::Threads.name())
    }

    fn fit_limit(&self, limits: &Limits) -> Option<FitLimit> {
        limits.max_thread_growth_per_hour.map(FitLimit::RatePerHour)
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        facts.series?.rate_check.clone()
    }
}
