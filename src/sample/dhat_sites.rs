//! Allocation sites of heap growth, from a dhat-rs profile (DHAT's JSON format): the
//! in-process soak starts dhat's profiler when warm-up ends and stops it when the run
//! ends, so each program point's "bytes at end" (`eb`) is what was allocated there after
//! warm-up and is still live — the sites whose live bytes grew.

use serde::{Deserialize, Serialize};

/// One allocation site: the in-process soak's (dhat-rs, exact) or a command's (the heap
/// shim's Poisson sampling, estimated; those carry the growth fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationSite {
    /// dhat: bytes allocated here after warm-up and still live at the end. Shim: the
    /// estimated live bytes at the end of the run.
    pub bytes: u64,
    /// Blocks, as `bytes` (estimated for the shim's sites).
    pub blocks: u64,
    /// The backtrace, innermost first, trimmed to the user's frames.
    pub frames: Vec<String>,
    /// Shim sites: the estimated live bytes' growth between the end of warm-up and the
    /// end of the run (end level minus start level, as for the timeline's metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_bytes: Option<f64>,
    /// Shim sites: the Theil–Sen growth rate of the site's live bytes after warm-up,
    /// bytes per hour, from the same engine as the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_rate_per_hour: Option<f64>,
    /// Its 90% interval's lower end, bytes per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_rate_low_per_hour: Option<f64>,
    /// Its 90% interval's upper end, bytes per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_rate_high_per_hour: Option<f64>,
    /// Shim sites: the sampled blocks still live at the end, which the estimates rest on
    /// (the interval is widened by their Poisson error, about 1/√n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_blocks: Option<u64>,
}

#[derive(Deserialize)]
struct DhatFile {
    pps: Vec<Pp>,
    ftbl: Vec<String>,
}

#[derive(Deserialize)]
struct Pp {
    #[serde(default)]
    eb: u64,
    #[serde(default)]
    ebk: u64,
    fs: Vec<usize>,
}

/// Frames of the allocator, the runtime and soak itself: not the user's. The Rust
/// runtime and start-up rules are the native sites' (`sites::trim`); the rest is what
/// an in-process soak adds around the user's code (dhat, soak, the test harness).
fn is_plumbing(symbol: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "[root]",
        "dhat::",
        "soak::",
        "test::",
        "backtrace::",
        "<soak::",
        "<F as ",
        "clone",
    ];
    PREFIXES.iter().any(|p| symbol.starts_with(p))
        || crate::sites::trim::is_rust_runtime(symbol)
        || crate::sites::trim::is_startup(symbol)
        || symbol.starts_with("__libc")
        || symbol.starts_with("_start")
        || symbol.starts_with("start_thread")
        || symbol == "main"
}

/// "0x55d0c1a2b3c4: crate::f (src/lib.rs:10:5)" → "crate::f (src/lib.rs:10:5)".
fn symbol(frame: &str) -> &str {
    match frame.split_once(": ") {
        Some((addr, rest)) if addr.starts_with("0x") => rest,
        _ => frame,
    }
}

/// The `top` sites with the most live bytes at the end, with frames trimmed to the
/// user's (at most `max_frames` of them). A site with no user frame keeps its innermost
/// frame, so it is never shown empty.
pub fn top_sites(
    dhat_json: &str,
    top: usize,
    max_frames: usize,
) -> Result<Vec<AllocationSite>, serde_json::Error> {
    let f: DhatFile = serde_json::from_str(dhat_json)?;
    let mut sites: Vec<AllocationSite> = f
        .pps
        .iter()
        .filter(|p| p.eb > 0)
        .map(|p| {
            let all: Vec<&str> =
                p.fs.iter()
                    .filter_map(|i| f.ftbl.get(*i))
                    .map(|s| symbol(s))
                    .collect();
            let mut frames: Vec<String> = all
                .iter()
                .filter(|s| !is_plumbing(s))
                .take(max_frames)
                .map(|s| s.to_string())
                .collect();
            if frames.is_empty() {
                frames.extend(all.first().map(|s| s.to_string()));
            }
            AllocationSite {
                bytes: p.eb,
                blocks: p.ebk,
                frames,
                growth_bytes: None,
                growth_rate_per_hour: None,
                growth_rate_low_per_hour: None,
                growth_rate_high_per_hour: None,
                sampled_blocks: None,
            }
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frames.cmp(&b.frames)));
    sites.truncate(top);
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_live_sites_first_with_user_frames_only() {
        let json = r#"{"dhatFileVersion":2,"mode":"rust-heap","pps":[
            {"tb":100,"tbk":1,"eb":0,"ebk":0,"fs":[1,2]},
            {"tb":900,"tbk":9,"eb":800,"ebk":8,"fs":[3,8,4,5,6]},
            {"tb":50,"tbk":1,"eb":50,"ebk":1,"fs":[3,7]}
        ],"ftbl":["[root]","0x1: alloc::raw_vec::finish_grow (raw_vec.rs:1:1)","0x2: my::freed (src/a.rs:2:2)",
            "0x3: <alloc::alloc::Global as core::alloc::Allocator>::allocate (alloc.rs:1:1)",
            "0x4: my::leaky (src/b.rs:10:5)","0x5: soak::in_process::InProcess::run (x.rs:1:1)",
            "0x6: my::test_main (src/b.rs:20:1)","0x7: std::rt::lang_start (rt.rs:1:1)","0x8: <u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem (v.rs:1:1)"]}"#;
        let s = top_sites(json, 10, 8).unwrap();
        assert_eq!(s.len(), 2, "freed sites are not growth");
        assert_eq!(s[0].bytes, 800);
        assert_eq!(
            s[0].frames,
            vec!["my::leaky (src/b.rs:10:5)", "my::test_main (src/b.rs:20:1)"]
        );
        // Only plumbing: the innermost frame stays.
        assert_eq!(s[1].frames.len(), 1);
        assert_eq!(top_sites(json, 1, 8).unwrap().len(), 1);
        assert!(top_sites("{", 10, 8).is_err());
    }
}
