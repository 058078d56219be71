//! The report's allocation sites of a command: each site's sampled live bytes are a
//! series, judged after the run's warm-up by the verdict's own engine; the sites that
//! grew fastest are symbolized, trimmed to the program's frames and reported, with notes
//! on what the sampling could and could not see.

use super::maps::Location;
use super::record::SiteEvidence;
use super::symbolize::{Frame, Symbolizer};
use super::trim::program_frames;
use crate::analysis::{analyze_series, trend, SeriesOptions};
use crate::note::Note;
use crate::sample::dhat_sites::AllocationSite;
use crate::sample::sites::Unwinder;
use std::collections::{BTreeSet, HashMap};

/// Sites in the report.
pub const TOP_SITES: usize = 10;
/// Frames kept per site.
pub const MAX_FRAMES: usize = 8;
/// Sites listed when none grew significantly.
pub const NOT_SIGNIFICANT_SHOWN: usize = 3;

/// The sites and the notes about them.
#[derive(Debug, Default)]
pub struct SitesOutcome {
    /// The sites whose live bytes grew after warm-up, fastest first.
    pub sites: Vec<AllocationSite>,
    /// What the reader should know about them.
    pub notes: Vec<Note>,
}

/// One site's figures after warm-up.
struct Judged {
    bytes: Vec<f64>,
    blocks: f64,
    sampled: f64,
    rate: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    growth: Option<f64>,
    last: f64,
}

/// Below this many sampled blocks, the top site's rate is called rough in a note.
const FEW_SAMPLES: f64 = 10.0;

/// Judges one site's series. The fit's interval sees only the series' wobble; the
/// sampling itself adds a Poisson error of about 1/√n of the level for the n sampled
/// blocks it rests on, which is added in quadrature (a site of 3 samples is a staircase
/// whose fitted interval is far too narrow).
fn judge_one(times: &[f64], bytes: Vec<f64>, blocks: f64, sampled: f64, warmup_s: f64) -> Judged {
    let a = analyze_series(
        "heap_bytes",
        times,
        &bytes,
        &SeriesOptions {
            warmup_s: Some(warmup_s),
            ..SeriesOptions::default()
        },
    );
    let rate = a.slope_per_hour;
    let spread = rate.map(|r| trend::Z_ONE_SIDED_5 * r.abs() / sampled.max(1.0).sqrt());
    let widen = |end: Option<f64>, sign: f64| match (rate, end, spread) {
        (Some(r), Some(e), Some(s)) => Some(r + sign * ((e - r).powi(2) + s * s).sqrt()),
        _ => end,
    };
    Judged {
        last: bytes.last().copied().unwrap_or(0.0),
        bytes,
        blocks,
        sampled,
        rate,
        low: widen(a.slope_low_per_hour, -1.0),
        high: widen(a.slope_high_per_hour, 1.0),
        growth: a.total_growth,
    }
}

impl Judged {
    /// Grew after warm-up: a higher level at the end than at the start, and no falling
    /// trend. A site sampled a few times only is a staircase whose median slope can be
    /// 0: it still counts by its growth, ranked after the sites with a rate.
    fn grew(&self) -> bool {
        self.growth.is_some_and(|g| g > 0.0) && self.rate.is_none_or(|r| r >= 0.0)
    }

    /// Grew beyond the fit's and the sampling's error: the interval is above zero.
    fn significant(&self) -> bool {
        self.low.is_some_and(|l| l > 0.0)
    }

    fn order(&self) -> (f64, f64) {
        (self.rate.unwrap_or(0.0), self.growth.unwrap_or(0.0))
    }
}

/// Fastest growth first, then the most growth.
fn fastest_first(a: &Judged, b: &Judged) -> std::cmp::Ordering {
    b.order()
        .partial_cmp(&a.order())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Judges the recorded sites. `warmup_end_s` is when the run's warm-up ended, in the
/// same seconds-since-start as the snapshots.
pub fn judge_sites(e: SiteEvidence, warmup_end_s: f64) -> SitesOutcome {
    let mut out = SitesOutcome::default();
    out.notes.extend(coverage_notes(&e));
    let Some(&t0) = e.times.first() else {
        out.notes.push(Note::NoAllocationSites {
            why: "allocation sites: no process of the tree published a sampled-sites table (the shim did not load, or the run ended before its first snapshot)".into(),
        });
        return out;
    };
    let warmup_s = (warmup_end_s - t0).max(0.0);
    let mut candidates: Vec<(Vec<Location>, Judged)> = e
        .sites
        .into_iter()
        .map(|s| {
            let j = judge_one(&e.times, s.bytes, s.blocks_last, s.sampled_last, warmup_s);
            (s.locations, j)
        })
        .filter(|(_, j)| j.grew())
        .collect();
    if candidates.is_empty() {
        out.notes.push(Note::NoAllocationSites {
            why: "allocation sites: no sampled site's live bytes grew after warm-up".into(),
        });
        return out;
    }
    candidates.sort_by(|a, b| fastest_first(&a.1, &b.1));
    // Symbolize more than are shown: two raw stacks may trim to the same frames (one
    // function reached through two return addresses), and merge.
    candidates.truncate(3 * TOP_SITES);
    let mut symbolizer = Symbolizer::new();
    let mut merged: Vec<(Vec<Frame>, Vec<f64>, f64, f64)> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut unsymbolized: BTreeSet<String> = BTreeSet::new();
    let mut in_jit = 0usize;
    for (locations, j) in candidates {
        let frames = symbolizer.symbolize(&locations);
        let kept = program_frames(&frames, MAX_FRAMES);
        // Frames in anonymous executable memory are JIT-compiled code (a JVM's, V8's).
        if kept
            .iter()
            .any(|f| f.function.is_none() && f.module.starts_with('['))
        {
            in_jit += 1;
        }
        for f in &kept {
            if f.function.is_none() && !f.module.starts_with('[') {
                unsymbolized.insert(f.module.clone());
            }
        }
        let key: Vec<String> = kept.iter().map(Frame::display).collect();
        match index.get(&key) {
            Some(&i) => {
                let m = &mut merged[i];
                for (a, b) in m.1.iter_mut().zip(&j.bytes) {
                    *a += b;
                }
                m.2 += j.blocks;
                m.3 += j.sampled;
            }
            None => {
                index.insert(key, merged.len());
                merged.push((kept, j.bytes, j.blocks, j.sampled));
            }
        }
    }
    let mut judged: Vec<(Vec<Frame>, Judged)> = merged
        .into_iter()
        .map(|(frames, bytes, blocks, sampled)| {
            (
                frames,
                judge_one(&e.times, bytes, blocks, sampled, warmup_s),
            )
        })
        .collect();
    judged.sort_by(|a, b| fastest_first(&a.1, &b.1));
    // A site whose interval reaches below zero may be noise (a cache's sampled blocks
    // coming and going): when any site grew significantly, only those are listed; when
    // none did, the few that grew most are, and a note says none is significant.
    if judged.iter().any(|(_, j)| j.significant()) {
        judged.retain(|(_, j)| j.significant());
        judged.truncate(TOP_SITES);
    } else {
        judged.truncate(NOT_SIGNIFICANT_SHOWN);
        out.notes.push(Note::SitesNotSignificant);
    }
    if let Some((_, top)) = judged.first() {
        if top.sampled < FEW_SAMPLES {
            out.notes.push(Note::SitesFewSamples {
                sampled: top.sampled.max(0.0).round() as u64,
            });
        }
    }
    out.sites = judged
        .into_iter()
        .map(|(frames, j)| AllocationSite {
            bytes: j.last.max(0.0).round() as u64,
            blocks: j.blocks.max(0.0).round() as u64,
            frames: frames.iter().map(Frame::display).collect(),
            growth_bytes: j.growth,
            growth_rate_per_hour: j.rate,
            growth_rate_low_per_hour: j.low,
            growth_rate_high_per_hour: j.high,
            sampled_blocks: Some(j.sampled.max(0.0).round() as u64),
        })
        .collect();
    if !unsymbolized.is_empty() {
        out.notes.push(Note::SitesUnsymbolized {
            modules: unsymbolized.into_iter().collect(),
        });
    }
    if in_jit > 0 {
        out.notes.push(Note::SitesInJitCode { sites: in_jit });
    }
    out
}

/// How the sites were sampled, and what was lost.
fn coverage_notes(e: &SiteEvidence) -> Vec<Note> {
    let mut notes = Vec::new();
    if e.tables.is_empty() {
        return notes;
    }
    let periods: BTreeSet<u64> = e.tables.values().map(|t| t.period).collect();
    let unwinders: BTreeSet<&'static str> = e
        .tables
        .values()
        .map(|t| match t.unwinder {
            Unwinder::EhFrame => "from .eh_frame (libgcc's unwinder)",
            Unwinder::FramePointer => {
                "by frame pointers (libgcc's unwinder was not found: code built without frame pointers loses frames)"
            }
            Unwinder::Unknown => "by an unknown unwinder",
        })
        .collect();
    notes.push(Note::SitesSampled {
        period_bytes: periods.iter().next().copied().unwrap_or(0),
        processes: e.tables.len(),
        samples: e.tables.values().map(|t| t.samples).sum(),
        unwinder: unwinders.into_iter().collect::<Vec<_>>().join(", "),
    });
    if e.tables.values().any(|t| t.throttled) {
        notes.push(Note::SitesThrottled);
    }
    let dropped: u64 = e.tables.values().map(|t| t.dropped).sum();
    if dropped > 0 {
        notes.push(Note::SitesDropped { samples: dropped });
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sites::record::{SiteSeries, TableFacts};
    use std::path::PathBuf;

    fn site(offset: u64, bytes: Vec<f64>) -> SiteSeries {
        SiteSeries {
            locations: vec![Location::File {
                path: PathBuf::from("/nonexistent/prog"),
                file_offset: offset,
            }],
            bytes,
            blocks_last: 1.0,
            sampled_last: 100.0,
        }
    }

    fn evidence() -> SiteEvidence {
        let times: Vec<f64> = (0..120).map(|i| i as f64).collect();
        let leak: Vec<f64> = times.iter().map(|t| 1000.0 * t).collect();
        let flat: Vec<f64> = times.iter().map(|_| 50_000.0).collect();
        let cache: Vec<f64> = times.iter().map(|t| (2000.0 * t).min(40_000.0)).collect();
        let slow: Vec<f64> = times.iter().map(|t| 10.0 * t).collect();
        let mut tables = std::collections::BTreeMap::new();
        tables.insert(
            7,
            TableFacts {
                period: 524_288,
                unwinder: Unwinder::EhFrame,
                samples: 99,
                dropped: 0,
                throttled: false,
            },
        );
        SiteEvidence {
            times,
            sites: vec![site(1, flat), site(2, slow), site(3, leak), site(4, cache)],
            tables,
        }
    }

    #[test]
    fn the_fastest_growing_site_comes_first_and_flat_ones_are_left_out() {
        let out = judge_sites(evidence(), 30.0);
        assert_eq!(out.sites.len(), 2, "{:?}", out.sites);
        let first = &out.sites[0];
        let rate = first.growth_rate_per_hour.unwrap();
        assert!((rate - 3.6e6).abs() < 1e3, "{rate}");
        assert!(first.growth_rate_low_per_hour.unwrap() <= rate);
        assert_eq!(first.bytes, 119_000);
        assert!(out.sites[1].growth_rate_per_hour.unwrap() < rate);
        assert!(matches!(
            out.notes[0],
            Note::SitesSampled { samples: 99, .. }
        ));
    }

    #[test]
    fn a_staircase_of_a_few_samples_counts_by_its_growth() {
        let mut e = evidence();
        // One sampled block of 512 KiB, late in the run: most pairs of points lie on
        // one side of the step, so the median slope is 0.
        let stairs: Vec<f64> = e
            .times
            .iter()
            .map(|&t| if t > 110.0 { 524_288.0 } else { 0.0 })
            .collect();
        e.sites = vec![site(9, stairs)];
        let out = judge_sites(e, 30.0);
        assert_eq!(out.sites.len(), 1, "{:?}", out.notes);
        assert_eq!(out.sites[0].growth_rate_per_hour, Some(0.0));
        assert_eq!(out.sites[0].growth_bytes, Some(524_288.0));
    }

    #[test]
    fn few_samples_widen_the_interval_and_say_so() {
        let mut e = evidence();
        let many = judge_sites(e.clone(), 30.0).sites[0].clone();
        for s in &mut e.sites {
            s.sampled_last = 2.0;
        }
        let out = judge_sites(e, 30.0);
        let few = &out.sites[0];
        assert_eq!(few.growth_rate_per_hour, many.growth_rate_per_hour);
        let r = few.growth_rate_per_hour.unwrap();
        let (lo, hi) = (
            few.growth_rate_low_per_hour.unwrap(),
            few.growth_rate_high_per_hour.unwrap(),
        );
        // 1.645 / √2 ≈ 1.16 of the rate on each side, on top of the fit's own interval.
        assert!(lo < 0.0 && hi > 2.1 * r, "[{lo}, {hi}] around {r}");
        assert!(many.growth_rate_low_per_hour.unwrap() > 0.5 * r);
        assert_eq!(few.sampled_blocks, Some(2));
        assert!(out
            .notes
            .iter()
            .any(|n| matches!(n, Note::SitesFewSamples { sampled: 2 })));
        // Every interval now reaches below zero: none is significant, and it says so.
        assert!(out
            .notes
            .iter()
            .any(|n| matches!(n, Note::SitesNotSignificant)));
        assert!(out.sites.len() <= NOT_SIGNIFICANT_SHOWN);
    }

    #[test]
    fn noise_beside_a_significant_site_is_left_out() {
        let mut e = evidence();
        // A cache's sampled blocks coming and going: up and down by a block or two.
        let wobble: Vec<f64> = e
            .times
            .iter()
            .map(|&t| 65_536.0 * (((t as u64 * 7919) % 13) as f64 / 6.0).floor() + t * 5.0)
            .collect();
        e.sites.push(SiteSeries {
            sampled_last: 2.0,
            ..site(5, wobble)
        });
        let out = judge_sites(e, 30.0);
        assert_eq!(out.sites.len(), 2, "{:#?}", out.sites);
        assert!(out
            .sites
            .iter()
            .all(|s| s.growth_rate_low_per_hour.unwrap() > 0.0));
        assert!(!out
            .notes
            .iter()
            .any(|n| matches!(n, Note::SitesNotSignificant)));
    }

    #[test]
    fn no_growth_says_so() {
        let mut e = evidence();
        e.sites.retain(|s| s.bytes[119] == 50_000.0);
        let out = judge_sites(e, 30.0);
        assert!(out.sites.is_empty());
        assert!(out
            .notes
            .iter()
            .any(|n| matches!(n, Note::NoAllocationSites { .. })));
    }

    #[test]
    fn no_tables_says_so() {
        let out = judge_sites(SiteEvidence::default(), 30.0);
        assert!(out.sites.is_empty());
        assert_eq!(out.notes.len(), 1);
    }
}
