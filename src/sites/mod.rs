//! Allocation sites of a command's heap growth (issue #18): the heap shim samples
//! allocations' call stacks as raw return addresses in the target (`sample::sites` reads
//! its tables); here soak records each site's sampled live bytes as a series
//! ([`record`]), places addresses in files while the target lives ([`maps`]), names
//! them (blazesym, with the `cli` feature: [`symbolize`]), keeps the program's frames
//! ([`trim`]) and judges which sites grew ([`judge`]).

pub mod judge;
pub mod maps;
pub mod record;
pub mod symbolize;
pub mod trim;

pub use maps::{Location, Mapping, Maps};
pub use symbolize::{Frame, Symbolizer};
pub use trim::program_frames;

#[cfg(test)]
mod native_tests;
