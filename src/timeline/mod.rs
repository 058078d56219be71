//! The timeline CSV (a DESIGN.md contract): streamed row by row during a run
//! (`writer.rs`), read back by the judge, `soak analyze` and `soak report` (`reader.rs`).
//! Its columns are the column table's ([`crate::sample::columns`]).

mod reader;
mod writer;

pub use reader::{read_from, read_timeline, ReadError, Timeline};
pub use writer::{Extra, TimelineWriter};
