//! Allocation sites of a subprocess (issue #18): the heap shim samples allocation stacks
//! as raw return addresses in the target; here soak turns them into the program's frames.
//! [`maps`] places an address in a file (maps read while the target lives), [`symbolize`]
//! names it (blazesym, with the `cli` feature), [`trim`] keeps the program's frames.

pub mod maps;
pub mod symbolize;
pub mod trim;

pub use maps::{Location, Mapping, Maps};
pub use symbolize::{Frame, Symbolizer};
pub use trim::program_frames;

#[cfg(test)]
mod native_tests;
