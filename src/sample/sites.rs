//! STUB (replaced by the shim helper's reader at merge).
use std::path::Path;
pub const SITES_SUFFIX: &str = ".sites";
pub const SITES_ENV: &str = "SOAK_SITES_PERIOD";
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwinder {
    EhFrame,
    FramePointer,
    Unknown,
}
#[derive(Debug, Clone)]
pub struct SiteTable {
    pub pid: u32,
    pub period: u64,
    pub unwinder: Unwinder,
    pub samples: u64,
    pub dropped: u64,
    pub sites_full: bool,
    pub live_full: bool,
    pub created_ns: u64,
    pub sites: Vec<RawSite>,
}
#[derive(Debug, Clone)]
pub struct RawSite {
    pub index: u32,
    pub frames: Vec<u64>,
    pub live_bytes: i64,
    pub live_blocks: f64,
    pub allocs: u64,
    pub frees: u64,
}
pub fn parse_sites(_b: &[u8]) -> Option<SiteTable> {
    None
}
pub fn read_sites(_dir: &Path, _pid: u32) -> std::io::Result<Option<SiteTable>> {
    Ok(None)
}
