//! The verdict engine: pure functions from a series of `(elapsed seconds, value)` to a
//! verdict with its evidence. Nothing here does I/O, so `soak analyze`, a live run and
//! the in-process API all decide the same way.
//!
//! The method (see DESIGN.md and the README's "What the verdict means"):
//! 1. drop the warm-up; 2. reduce samples to robust points ([`points`]);
//! 3. Theil–Sen slope with Sen's interval, widened for autocorrelation ([`trend`]);
//! 4. a three-way call against the limit, refined by a tail test on the last third and a
//!    warm-up-plus-line model ([`verdict`]); 5. total growth and peak;
//! 6. the smallest rate the run could have detected.
//!
//! Where things live: one series is judged in `series` (its tail test in `tail`), a whole
//! timeline in `evaluate`, observations across metrics in `notes`; each limit is a rule
//! in [`rules`].

mod evaluate;
#[cfg(test)]
mod fixtures;
mod models;
mod notes;
pub mod points;
pub mod rules;
mod series;
mod student_t;
mod tail;
pub mod trend;
pub mod verdict;

pub use crate::units::Unit;
pub use evaluate::{average_cpu_percent, evaluate, EvaluateOptions, Evaluation};
pub use notes::heap_vs_rss;
pub use series::{analyze_series, default_warmup_s, SeriesAnalysis, SeriesOptions};
pub use tail::{nullable_f64, TailFit, TailStep};
pub use verdict::{Check, Reason, Verdict};
