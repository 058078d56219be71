//! The one column table: every figure soak samples, with its unit, whether it is a level
//! (judged for growth) and which runs write it. The [`Sample`] struct, the timeline's
//! header and rows, `--metric` validation, the live `/metrics` gauges and the reports'
//! units are all generated from or read through this table.
//!
//! Adding a metric is one row in the `columns!` list below (its field, type and properties) plus
//! the code in a source that fills the field; nothing else names the column.

use crate::analysis::Unit;
use std::fmt::Write as _;

/// Which runs write a column to their timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Every timeline (the DESIGN.md contract's columns).
    Contract,
    /// Process runs (a command or `--pid`): the language runtimes' own heaps.
    Process,
    /// Container runs: the cgroup's own totals.
    Container,
}

/// Whether a column is a level whose growth is judged, or a running total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A level (memory, threads, descriptors): fitted for growth.
    Level,
    /// A cumulative counter (CPU seconds): never fitted as a level.
    Counter,
}

/// One column of the table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its identity.
    pub id: Col,
    /// The CSV header name (also `--metric`'s name, with or without `_bytes`).
    pub name: &'static str,
    /// What its values are in.
    pub unit: Unit,
    /// Level or counter.
    pub kind: Kind,
    /// Which timelines carry it.
    pub group: Group,
    /// Its value in a sample, `None` when unknown (an empty cell).
    pub value: fn(&Sample) -> Option<f64>,
    /// Appends its cell (no separator) to a row.
    write: fn(&Sample, &mut String),
}

impl Column {
    /// Appends this column's cell for `s` to `row`.
    pub fn write_cell(&self, s: &Sample, row: &mut String) {
        (self.write)(s, row)
    }
}

/// How a field's type sums over processes, reads as a number and prints as a cell.
trait Cell: Copy {
    fn sum(self, other: Self) -> Self;
    fn number(self) -> Option<f64>;
    fn cell(self, out: &mut String);
}

impl Cell for u64 {
    fn sum(self, o: u64) -> u64 {
        self + o
    }
    fn number(self) -> Option<f64> {
        Some(self as f64)
    }
    fn cell(self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{self}");
    }
}

/// Unknown for one process stays unknown only while no process knows it: a heap counted
/// in some processes of a tree is the sum over those.
impl Cell for Option<u64> {
    fn sum(self, o: Option<u64>) -> Option<u64> {
        match (self, o) {
            (Some(x), Some(y)) => Some(x + y),
            (x, None) => x,
            (None, y) => y,
        }
    }
    fn number(self) -> Option<f64> {
        self.map(|v| v as f64)
    }
    fn cell(self, out: &mut String) {
        if let Some(v) = self {
            let _ = write!(out, "{v}");
        }
    }
}

/// CPU seconds: two decimals are the clock-tick resolution.
impl Cell for f64 {
    fn sum(self, o: f64) -> f64 {
        self + o
    }
    fn number(self) -> Option<f64> {
        Some(self)
    }
    fn cell(self, out: &mut String) {
        let _ = write!(out, "{self:.2}");
    }
}

/// Generates [`Sample`], [`Col`] and [`COLUMNS`] from one list, in timeline order.
macro_rules! columns {
    ($( $(#[doc = $doc:literal])* $id:ident $field:ident : $ty:ty, $unit:ident, $kind:ident, $group:ident; )*) => {
        /// One tick's measurements of a whole target (all its processes summed): one
        /// field per column of [`COLUMNS`].
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        pub struct Sample {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl Sample {
            /// Adds another process's figures into this one.
            pub fn add(&mut self, o: &Sample) {
                $( self.$field = Cell::sum(self.$field, o.$field); )*
            }
        }

        /// A column's identity, for code that needs one column by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Col {
            $( $(#[doc = $doc])* $id, )*
        }

        /// Every column, in timeline order.
        pub const COLUMNS: &[Column] = &[
            $( Column {
                id: Col::$id,
                name: stringify!($field),
                unit: Unit::$unit,
                kind: Kind::$kind,
                group: Group::$group,
                value: |s| Cell::number(s.$field),
                write: |s, out| Cell::cell(s.$field, out),
            }, )*
        ];
    };
}

columns! {
    /// Resident set size, bytes (VmRSS).
    Rss rss_bytes: u64, Bytes, Level, Contract;
    /// Resident anonymous memory, bytes (RssAnon).
    Anon anon_bytes: u64, Bytes, Level, Contract;
    /// Resident file-backed memory, bytes (RssFile).
    File file_bytes: u64, Bytes, Level, Contract;
    /// Resident shared memory, bytes (RssShmem).
    Shmem shmem_bytes: u64, Bytes, Level, Contract;
    /// Swapped-out memory, bytes (VmSwap).
    Swap swap_bytes: u64, Bytes, Level, Contract;
    /// Live heap bytes, when a heap source knows them.
    Heap heap_bytes: Option<u64>, Bytes, Level, Contract;
    /// Proportional set size, bytes, when `--pss` asked for it.
    Pss pss_bytes: Option<u64>, Bytes, Level, Contract;
    /// Threads over all processes.
    Threads threads: u64, Count, Level, Contract;
    /// Open file descriptors over all processes.
    Fds fds: u64, Count, Level, Contract;
    /// Cumulative user+system CPU seconds (including reaped children).
    Cpu cpu_s: f64, Seconds, Counter, Contract;
    /// Processes measured.
    Processes processes: u64, Count, Level, Contract;
    /// The runtimes' own used heap (JVM perf data, Node's preload), summed over the
    /// processes that publish one; `None` when no runtime was seen.
    RuntimeHeap runtime_heap_bytes: Option<u64>, Bytes, Level, Process;
    /// The runtimes' used heap after their last full (JVM) or major (V8) collection,
    /// summed over the processes that had one.
    RuntimeHeapAfterGc runtime_heap_after_gc_bytes: Option<u64>, Bytes, Level, Process;
    /// Virtual memory size, bytes (VmSize): address space that grows with leaked
    /// mappings and thread stacks even where RSS does not.
    Vms vms_bytes: u64, Bytes, Level, Process;
    /// A container's charged memory: what its memory limit is enforced on.
    Usage usage_bytes: u64, Bytes, Level, Container;
    /// A container's usage minus inactive file cache (the kubelet's working set).
    WorkingSet working_set_bytes: u64, Bytes, Level, Container;
    /// OOM kills inside a container's cgroup so far.
    OomKills oom_kills: u64, Count, Level, Container;
}

impl Col {
    /// This column's row in [`COLUMNS`].
    pub fn column(self) -> &'static Column {
        // COLUMNS is generated in the order of Col's variants.
        &COLUMNS[self as usize]
    }

    /// The CSV header name.
    pub fn name(self) -> &'static str {
        self.column().name
    }

    /// Whether this is a language runtime's own heap (read from a JVM's perf data or
    /// node's preload, not from procfs).
    pub fn is_runtime_heap(self) -> bool {
        matches!(self, Col::RuntimeHeap | Col::RuntimeHeapAfterGc)
    }

    /// The column named `name` (its CSV header), if soak writes one.
    pub fn named(name: &str) -> Option<Col> {
        COLUMNS.iter().find(|c| c.name == name).map(|c| c.id)
    }
}

/// The columns of a run that writes `groups` (besides the contract's), in order.
pub fn of_groups(extra: Option<Group>) -> impl Iterator<Item = &'static Column> {
    COLUMNS
        .iter()
        .filter(move |c| c.group == Group::Contract || Some(c.group) == extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_the_table() {
        for (i, c) in COLUMNS.iter().enumerate() {
            assert_eq!(c.id as usize, i);
            assert_eq!(Col::named(c.name), Some(c.id));
        }
    }

    #[test]
    fn cells_print_integers_empty_unknowns_and_centiseconds() {
        let s = Sample {
            rss_bytes: 5,
            heap_bytes: None,
            pss_bytes: Some(7),
            cpu_s: 1.234,
            ..Sample::default()
        };
        let cell = |c: Col| {
            let mut out = String::new();
            c.column().write_cell(&s, &mut out);
            out
        };
        assert_eq!(cell(Col::Rss), "5");
        assert_eq!(cell(Col::Heap), "");
        assert_eq!(cell(Col::Pss), "7");
        assert_eq!(cell(Col::Cpu), "1.23");
        assert_eq!((Col::Heap.column().value)(&s), None);
    }

    #[test]
    fn sums_keep_a_heap_known_in_one_process() {
        let mut a = Sample {
            rss_bytes: 1,
            heap_bytes: None,
            ..Sample::default()
        };
        a.add(&Sample {
            rss_bytes: 2,
            heap_bytes: Some(3),
            ..Sample::default()
        });
        assert_eq!((a.rss_bytes, a.heap_bytes), (3, Some(3)));
    }
}
