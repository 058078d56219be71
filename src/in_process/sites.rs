//! Allocation sites of growth in an in-process soak (the `dhat` feature).

#[cfg(feature = "dhat")]
use super::heap_stats;
use super::InProcess;
#[cfg(feature = "dhat")]
use std::path::PathBuf;
use std::time::Duration;

/// Why a run has no allocation sites (the report's note says it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(super) struct SitesMissing(pub String);

/// Allocation sites of growth (the `dhat` feature): dhat's profiler runs from the end
/// of warm-up to the end of the run.
pub(super) struct Sites {
    /// Warm-up end, as a time or an iteration count.
    from: (Option<Duration>, Option<u64>),
    #[cfg(feature = "dhat")]
    profiler: Option<dhat::Profiler>,
    #[cfg(feature = "dhat")]
    started_at: Option<Duration>,
    #[cfg(feature = "dhat")]
    file: PathBuf,
}

impl Sites {
    pub(super) fn new(cfg: &InProcess, dir: &std::path::Path) -> Sites {
        // The same warm-up the verdict uses when the run's length is known; for a run
        // of N iterations, the first tenth.
        let from = match (cfg.warmup, cfg.duration, cfg.iterations) {
            (Some(w), _, _) => (Some(w), None),
            (None, Some(d), _) => (
                Some(Duration::from_secs_f64(crate::analysis::default_warmup_s(
                    d.as_secs_f64(),
                ))),
                None,
            ),
            (None, None, Some(n)) => (None, Some(n / 10)),
            (None, None, None) => (
                Some(Duration::from_secs_f64(crate::analysis::default_warmup_s(
                    10.0,
                ))),
                None,
            ),
        };
        #[cfg(not(feature = "dhat"))]
        let _ = dir;
        Sites {
            from,
            #[cfg(feature = "dhat")]
            profiler: None,
            #[cfg(feature = "dhat")]
            started_at: None,
            #[cfg(feature = "dhat")]
            file: dir.join("dhat-heap.json"),
        }
    }

    /// Called before each iteration: starts the profiler when warm-up ends.
    #[inline]
    pub(super) fn at(&mut self, elapsed: Duration, iteration: u64) {
        #[cfg(feature = "dhat")]
        if self.started_at.is_none()
            && (self.from.0.is_some_and(|w| elapsed >= w)
                || self.from.1.is_some_and(|n| iteration >= n))
        {
            self.started_at = Some(elapsed);
            self.profiler = Some(
                dhat::Profiler::builder()
                    .file_name(&self.file)
                    .trim_backtraces(Some(16))
                    .build(),
            );
        }
        #[cfg(not(feature = "dhat"))]
        let _ = (elapsed, iteration, self.from);
    }

    /// Stops the profiler (dhat writes its file) and reads the top sites; `Err` is a
    /// note for the report.
    #[cfg(feature = "dhat")]
    pub(super) fn finish(
        self,
    ) -> Result<Vec<crate::sample::dhat_sites::AllocationSite>, SitesMissing> {
        let Some(p) = self.profiler else {
            return Err(SitesMissing(
                "allocation sites: the run ended before warm-up did, so dhat never started".into(),
            ));
        };
        drop(p);
        let text = std::fs::read_to_string(&self.file).map_err(|e| {
            SitesMissing(format!(
                "allocation sites: cannot read {}: {e}",
                self.file.display()
            ))
        })?;
        let sites = crate::sample::dhat_sites::top_sites(&text, 10, 8).map_err(|e| {
            SitesMissing(format!(
                "allocation sites: {} is not a dhat profile: {e}",
                self.file.display()
            ))
        })?;
        if sites.is_empty() && heap_stats().is_none() {
            return Err(SitesMissing("allocation sites: nothing recorded — install soak::CountingAlloc as the global allocator".into()));
        }
        Ok(sites)
    }

    /// Without the `dhat` feature there are no sites.
    #[cfg(not(feature = "dhat"))]
    pub(super) fn finish(
        self,
    ) -> Result<Vec<crate::sample::dhat_sites::AllocationSite>, SitesMissing> {
        Ok(Vec::new())
    }
}
