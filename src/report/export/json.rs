//! `report.json`: the model as is.

use super::{Exporter, Input};

pub(crate) struct Json;

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "report.json"
    }
    fn render(&self, input: &Input) -> String {
        let r = input.report;
        // Serialising plain data with string keys cannot fail.
        let mut s =
            serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        s.push('\n');
        s
    }
}
