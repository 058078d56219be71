//! `max_fd_growth_per_hour`: the growth rate of the `fds` column (open file descriptors), judged like the verdict
//! metric's (the same three-way call, under the `max_growth_rate` name with `fds` as the
//! metric), so a leak of open file descriptors fails a run whose memory is flat.

use crate::sample::Col;
use super::{FitLimit, Facts, Rule, Scope};
use crate::analysis::verdict::Check;
use crate::config::Limits;

/// The `fds` column's growth rate against `max_fd_growth_per_hour`.
pub struct FdGrowth;

impl Rule for FdGrowth {
    fn scope(&self) -> Scope<'static> {
        Scope::Column(Col::Fds.name())
    }

    fn fit_limit(&self, limits: &Limits) -> Option<FitLimit> {
        limits.max_fd_growth_per_hour.map(FitLimit::RatePerHour)
    }

    fn check(&self, facts: &Facts<'_>) -> Option<Check> {
        facts.series?.rate_check.clone()
    }
}
