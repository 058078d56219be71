//! The [`Source`] trait: one way of reading a whole target's figures at a tick.

use super::Sample;
use std::collections::BTreeMap;

/// A sampling source: the process tree through procfs, a container's cgroup, the
/// container engine's stats API, or this process's own counters.
pub trait Source {
    /// Reads the target now; `Ok(None)` when the target is gone.
    fn read(&mut self) -> std::io::Result<Option<Sample>>;

    /// Where each column this source fills comes from, for the report (column name →
    /// description).
    fn sources(&self) -> BTreeMap<String, String>;
}
