//! The report: its model (a versioned DESIGN.md contract) and one exporter per format
//! over it. Files are written atomically (temp file, then rename) so a crash never
//! leaves half a report.

mod export;
pub mod markup;
mod model;
mod rows;
mod text;

pub(crate) use export::html::{chart_css, overlay_chart, Overlay, CSS as HTML_CSS};
pub use export::{
    file_names, load, to_json, to_markdown, to_step_summary, write_all, write_atomic, write_human,
    Input,
};
pub use model::*;
pub use rows::runtimes_line;
pub use text::summary as text_summary;
pub use text::summary_coloured as text_summary_coloured;

#[cfg(test)]
mod tests;
