//! The counting global allocator: live heap bytes and blocks of this process.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE_BLOCKS: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A global allocator that counts live heap bytes and blocks (relaxed atomics) and
/// forwards to the system allocator. Install it in a test binary with
/// `#[global_allocator] static A: soak::CountingAlloc = soak::CountingAlloc;`.
///
/// With the `dhat` cargo feature it forwards to `dhat::Alloc` instead, so that an
/// in-process soak can name the allocation sites that grew (dhat-rs records nothing
/// until a soak starts its profiler, but takes a lock per allocation meanwhile).
pub struct CountingAlloc;

#[cfg(not(feature = "dhat"))]
const INNER: std::alloc::System = std::alloc::System;
#[cfg(feature = "dhat")]
const INNER: dhat::Alloc = dhat::Alloc;

// SAFETY: every method forwards to System with the same arguments; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which System needs.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as u64, Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
            if !INSTALLED.load(Relaxed) {
                INSTALLED.store(true, Relaxed);
            }
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for alloc.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as u64, Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System through this allocator with this layout.
        unsafe { INNER.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as u64, Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds realloc's contract for System.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                LIVE_BYTES.fetch_add((new_size - layout.size()) as u64, Relaxed);
            } else {
                LIVE_BYTES.fetch_sub((layout.size() - new_size) as u64, Relaxed);
            }
        }
        p
    }
}

/// Live heap figures from [`CountingAlloc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapStats {
    /// Bytes allocated and not freed.
    pub bytes: u64,
    /// Blocks allocated and not freed.
    pub blocks: u64,
}

/// The heap now, or `None` when [`CountingAlloc`] is not the global allocator.
pub fn heap_stats() -> Option<HeapStats> {
    INSTALLED.load(Relaxed).then(|| HeapStats {
        bytes: LIVE_BYTES.load(Relaxed),
        blocks: LIVE_BLOCKS.load(Relaxed),
    })
}
