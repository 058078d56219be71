//! This process as a source, for in-process soaks: `/proc/self` through the procfs
//! reader, and the heap from `soak::CountingAlloc` when it is the global allocator.

use super::procfs::ProcReader;
use super::{Col, Sample};
use std::collections::BTreeMap;

/// This process, read at each tick.
pub struct ThisProcess {
    reader: ProcReader,
    heap: fn() -> Option<u64>,
}

impl ThisProcess {
    /// `heap` reads the counting allocator's live bytes (`None` when not installed).
    pub fn new(heap: fn() -> Option<u64>) -> ThisProcess {
        ThisProcess {
            reader: ProcReader::new(false),
            heap,
        }
    }
}

impl super::Source for ThisProcess {
    fn read(&mut self) -> std::io::Result<Option<Sample>> {
        let me = std::process::id();
        let st = self.reader.stat_tracked(me)?;
        Ok(self.reader.sample(me, &st)?.map(|s| Sample {
            heap_bytes: (self.heap)(),
            ..s
        }))
    }

    fn sources(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(
            Col::Heap.name().into(),
            if (self.heap)().is_some() {
                "soak::CountingAlloc live bytes (every allocation of this process)".into()
            } else {
                "not counted (install soak::CountingAlloc)".into()
            },
        );
        m.insert(Col::Rss.name().into(), "/proc/self/status VmRSS".into());
        m
    }
}
