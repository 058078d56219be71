//! Without the `cli` feature there is no `/metrics` endpoint (and no prometheus-client):
//! [`LiveMetrics`] has no values, so a run's `Option<Arc<LiveMetrics>>` is always `None`
//! and the recorder's calls below are never made.

use crate::analysis::SeriesAnalysis;
use crate::sample::{Column, Sample};

/// The live figures of a run: none in a build without the `cli` feature.
pub enum LiveMetrics {}

impl LiveMetrics {
    pub(super) fn record_missed(&self, _n: u64) {
        match *self {}
    }

    pub(super) fn record_sample(&self, _elapsed: f64, _s: &Sample, _columns: &[&'static Column]) {
        match *self {}
    }

    pub(super) fn record_trend(&self, _a: &SeriesAnalysis) {
        match *self {}
    }
}
