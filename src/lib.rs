//! soak: run a workload, sample its memory, and decide with evidence whether it keeps
//! growing after warm-up.
//!
//! The pipeline, one module per stage: [`target`] → [`sample`] → [`timeline`] →
//! [`analysis`] → [`report`]; [`monitor`] drives it and [`cli`]/[`config`] configure it.

pub mod analysis;
pub mod sample;
pub mod timeline;
pub mod units;
