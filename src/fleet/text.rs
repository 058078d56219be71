//! The fleet verdict on a terminal: one line of counts, the table worst first, and the
//! exit code's meaning.

use super::model::FleetReport;
use super::rows::{counts_line, series_table};
use crate::report::markup::{plain, Markup};

/// The terminal summary.
pub fn summary(r: &FleetReport) -> String {
    let mut s = format!(
        "soak: {} from {} ({} … {}, step {}s)\n{}\n",
        plain(&r.query),
        plain(&r.prometheus),
        r.start,
        r.end,
        r.step_s,
        counts_line(r)
    );
    for w in &r.warnings {
        s.push_str(&format!("Prometheus warning: {}\n", plain(w)));
    }
    s.push_str(&series_table(r, None).render(Markup::Plain));
    s
}
