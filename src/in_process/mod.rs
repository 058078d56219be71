//! In-process soaks for Rust tests: run a closure over and over on the test thread
//! while a background thread samples `/proc/self` (and the heap, when the counting
//! allocator is installed), then judge it with the same engine and report model as the
//! CLI. Modelled on dhat-rs: a builder, `#[non_exhaustive]` results, and an assertion
//! that writes the report files *before* it panics.
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: soak::CountingAlloc = soak::CountingAlloc;
//!
//! #[test]
//! fn cache_does_not_leak() {
//!     soak::InProcess::new("cache")
//!         .iterations(200_000)
//!         .max_growth_rate_per_hour(1e6)
//!         .max_residual(10_000_000)
//!         .run_with_state(Vec::<u64>::new, |v| { v.push(1); v.clear(); })
//!         .assert_pass();
//! }
//! ```

mod alloc;
mod sites;
mod soak;

pub use alloc::{heap_stats, CountingAlloc, HeapStats};
pub use soak::{InProcess, InProcessResult};
