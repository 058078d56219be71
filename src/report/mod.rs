//! The report: its model (a versioned DESIGN.md contract) and one exporter per format
//! over it. Files are written atomically (temp file, then rename) so a crash never
//! leaves half a report.

mod export;
pub mod markup;
mod model;
mod rows;
mod text;

pub use export::{
    file_names, load, to_json, to_markdown, write_all, write_atomic, write_human, Input,
};
pub use model::*;
pub use rows::runtimes_line;
pub use text::summary as text_summary;

#[cfg(test)]
mod tests;
