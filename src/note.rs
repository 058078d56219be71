//! What a report can say besides its verdict: every kind of note is one variant, worded
//! once here, so what soak tells its users is listed in one place and each producer
//! passes facts, not prose. In report.json a note is its text (the schema is unchanged);
//! a report read back keeps the text as [`Note::Text`].

use crate::units::{Bytes, Secs};
use std::fmt;

/// One note of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    // ---- limits and the run's end ----
    /// No limit was given: the default growth-rate limit (MB/h) applies.
    DefaultRateLimit { mb_per_hour: f64 },
    /// The target signalled soak to stop; `detail` names the sender.
    StoppedByTarget { detail: String },
    /// The OOM killer killed a process of the tree besides the main one.
    ChildOomKilled { evidence: String, fails: bool },
    /// `--allow-exit` was given but the target exited with another code than 0.
    AllowExitNotZero,
    /// A second stop signal cut the grace period short.
    GraceCutShort { grace_s: f64 },
    /// The timeline could not be synced to disk at the end.
    TimelineNotSynced { error: String },
    /// The report files could not be written (in-process soaks).
    ReportsNotWritten { error: String },
    // ---- the target's logs ----
    /// A target log reached `--log-cap`.
    LogCapped {
        name: String,
        cap: u64,
        total: u64,
        cut: u64,
    },
    /// A target log could not be completed.
    LogIncomplete { name: String, error: String },
    // ---- sources ----
    /// Some processes' smaps_rollup could not be read for `--pss`.
    PssUnreadable { processes: usize, first: String },
    /// A container's samples came from the engine's stats API.
    StatsApiFallback { why: String },
    /// How many readings the engine's stats stream sent.
    StatsApiReadings { readings: u64, samples: u64 },
    /// The kernel OOM-killed processes inside a container.
    ContainerOomKills { count: u64 },
    /// Stopping a container failed; it was removed by force.
    ContainerRemovedByForce { error: String },
    // ---- the heap shim ----
    /// `--no-heap`.
    HeapOff,
    /// The program is statically linked: the shim cannot load.
    HeapStaticProgram { program: String },
    /// The target died of a signal with the shim loaded.
    ShimMayBeToBlame { signal: String },
    /// The allocators the shim counted through.
    HeapCountedThrough { allocators: Vec<String> },
    /// Allocators the shim could only forward to.
    HeapNotCountedFor { allocators: Vec<String> },
    /// No process of the tree loaded the shim.
    HeapNoShimLoaded,
    /// No process had an allocator the shim can count.
    HeapNoCountableAllocator,
    /// The shim loaded, but no sample saw a counting process.
    HeapNoCountingSample,
    /// heap_bytes is malloc's heap only; a runtime's objects live elsewhere.
    HeapIsMallocOnly,
    /// The program's memory mostly bypasses malloc.
    HeapBypassed { heap: f64, anon: f64 },
    /// Some processes had no heap counters.
    HeapPartial { max_missing: u64 },
    // ---- runtime heaps ----
    /// An attached node process cannot get soak's preload.
    NodeNotPreloaded { pid: u32, exe: String },
    /// `--metric` names a runtime heap, but none was seen.
    RuntimeHeapUnseen { metric: String },
    /// The full collections `--full-gc-every` requested.
    FullGcRequested { every_s: f64, requested: u64 },
    /// Requests to a JVM that failed.
    FullGcFailed { failed: u64, last: String },
    /// Requests made with jcmd after the attach protocol failed.
    FullGcViaJcmd { count: u64 },
    /// Periods skipped while a request still ran.
    FullGcSkipped { count: u64 },
    /// `--full-gc-every` found no runtime to ask.
    FullGcNoRuntime,
    /// A JVM's after-GC heap stays empty until a full collection.
    JvmAfterGcEmpty,
    // ---- in-process soaks ----
    /// The sampler stopped before the end.
    SamplerStopped { error: String },
    /// The sampler thread panicked.
    SamplerPanicked,
    /// Ticks the sampler missed.
    TicksMissed { count: u64 },
    /// `soak::CountingAlloc` is not the global allocator.
    CountingAllocMissing,
    /// Why there are no allocation sites.
    NoAllocationSites { why: String },
    /// How a command's allocation sites were sampled (`--sites on`).
    SitesSampled {
        period_bytes: u64,
        processes: usize,
        samples: u64,
        unwinder: String,
    },
    /// Sampled allocations the shim could not keep: its tables were full.
    SitesDropped { samples: u64 },
    /// Modules whose frames have no function names (stripped, no symbols).
    SitesUnsymbolized { modules: Vec<String> },
    /// Sites whose program frames all lie in anonymous memory (JIT-compiled code).
    SitesInJitCode { sites: usize },
    /// The shim coarsened a fast-allocating thread's sampling period for a while.
    SitesThrottled,
    /// No site grew beyond its error: the few that grew most are listed.
    SitesNotSignificant,
    /// The fastest-growing site rests on few sampled blocks.
    SitesFewSamples { sampled: u64 },
    /// A JVM or node ran: native stacks end where its JIT-compiled code begins.
    SitesEndAtJit { runtimes: Vec<String> },
    // ---- timelines ----
    /// The torn last row was ignored.
    TornLastRow { line: u64 },
    /// A column that could not be analysed.
    ColumnDropped { column: String, why: String },
    /// Rows without a usable value of the verdict metric.
    RowsWithoutValue {
        metric: String,
        total: u64,
        parts: String,
    },
    /// Rows that repeat the previous row's time.
    RepeatedTimes { rows: usize },
    /// A timeline with a header and no rows.
    TimelineEmpty,
    /// Too few values to fit.
    TooFewValues { count: usize, metric: String },
    /// `soak analyze`: host facts are the analysing machine's.
    HostFactsOfAnalysis,
    // ---- series read from Prometheus ----
    /// The series' level fell back to near its start (restarts): the longest stretch
    /// between them was judged.
    SeriesRestarted {
        restarts: usize,
        at: Vec<String>,
        kept_s: f64,
        span_s: f64,
    },
    /// A series that only rises and fell to near zero a few times, like a counter reset.
    CounterLikeResets { resets: usize },
    /// Steps with no sample inside the series (staleness: the target was not scraped).
    StalenessGaps {
        missing: usize,
        steps: usize,
        longest_s: f64,
    },
    /// Values that were not finite numbers (NaN, ±Inf) were left out.
    NonFiniteValues { count: usize },
    // ---- across metrics ----
    /// RSS grows while the heap is flat: retention or fragmentation.
    RetentionNotLeak {
        rss_per_hour: f64,
        heap: &'static str,
        heap_per_hour: f64,
        heap_low: f64,
        heap_high: f64,
    },
    /// The heap and RSS both grow: live objects accumulate.
    LiveObjectsGrow {
        heap: &'static str,
        heap_per_hour: f64,
        rss_per_hour: f64,
    },
    /// A note read back from a report.json.
    Text(String),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Note::*;
        let mb_h = |v: f64| format!("{:.2} MB/h", v / 1e6);
        match self {
            DefaultRateLimit { mb_per_hour } => write!(
                f,
                "no growth limit given (--max-growth-rate, --max-total-growth, --max-peak): the default --max-growth-rate {mb_per_hour} MB/h applies"
            ),
            StoppedByTarget { detail } => write!(
                f,
                "soak was stopped by its own target: {detail}; a target that signals soak fails the run (exit 4)"
            ),
            ChildOomKilled { evidence, fails } => write!(
                f,
                "{evidence}; {}",
                if *fails {
                    "the run fails (exit 4): --allow-child-oom accepts OOM kills of child processes while the main process lives"
                } else {
                    "accepted (--allow-child-oom)"
                }
            ),
            AllowExitNotZero => {
                f.write_str("--allow-exit accepts a target that exits with code 0; this one did not")
            }
            GraceCutShort { grace_s } => write!(
                f,
                "a second stop signal during the {} grace period cut it short: the target's tree was killed with SIGKILL",
                Secs(*grace_s)
            ),
            TimelineNotSynced { error } => {
                write!(f, "timeline could not be synced to disk: {error}")
            }
            ReportsNotWritten { error } => write!(f, "reports not written: {error}"),
            LogCapped {
                name,
                cap,
                total,
                cut,
            } => write!(
                f,
                "{name} was capped at {} (--log-cap): the target wrote {}, {} from the middle were cut (the log keeps the head and the tail)",
                Bytes(*cap as f64),
                Bytes(*total as f64),
                Bytes(*cut as f64)
            ),
            LogIncomplete { name, error } => write!(f, "{name} is incomplete: {error}"),
            PssUnreadable { processes, first } => write!(
                f,
                "pss_bytes leaves out {processes} process(es) of the tree whose smaps_rollup could not be read (first: {first}); run soak as root or as the target's user for their PSS"
            ),
            StatsApiFallback { why } => write!(
                f,
                "samples came from the engine's stats API, not the cgroup ({why}); swap, fds and OOM-kill counts are not available there and are written as 0"
            ),
            StatsApiReadings { readings, samples } => write!(
                f,
                "the engine sent {readings} stats readings for {samples} samples: it publishes about once a second, and a faster tick repeats its latest reading"
            ),
            ContainerOomKills { count } => write!(
                f,
                "the kernel OOM-killed {count} process(es) inside the container during the run (cgroup oom_kill count)"
            ),
            ContainerRemovedByForce { error } => write!(f, "{error}; it was removed by force"),
            HeapOff => f.write_str("heap not counted (--no-heap)"),
            HeapStaticProgram { program } => write!(
                f,
                "heap_bytes is empty: {program} is statically linked, so the LD_PRELOAD heap shim cannot load"
            ),
            ShimMayBeToBlame { signal } => write!(
                f,
                "the target died of {signal} while soak's heap shim was loaded in it: if it does not die without the shim, rerun with --no-heap (and report it to soak)"
            ),
            HeapCountedThrough { allocators } => write!(
                f,
                "heap_bytes counted through the program's own allocator ({}), each block sized by its usable-size function",
                allocators.join(", ")
            ),
            HeapNotCountedFor { allocators } => write!(
                f,
                "heap not counted where malloc is served by {}: its usable-size function is missing or belongs to another object, so the shim only forwarded calls",
                allocators.join(", ")
            ),
            HeapNoShimLoaded => f.write_str(
                "heap_bytes is empty: no process of the tree loaded the heap shim (a static or setuid program, or LD_PRELOAD cleared)",
            ),
            HeapNoCountableAllocator => f.write_str(
                "heap_bytes is empty: no process of the tree had an allocator the shim can count",
            ),
            HeapNoCountingSample => f.write_str(
                "heap_bytes is empty: the shim loaded, but no sample saw a counting process (it ended before the first tick)",
            ),
            HeapIsMallocOnly => f.write_str(
                "heap_bytes is malloc's heap only: a JVM's or V8's objects live in heaps the runtime maps itself, read into runtime_heap_bytes and runtime_heap_after_gc_bytes (judge them with --metric runtime_heap_after_gc and --full-gc-every)",
            ),
            HeapBypassed { heap, anon } => write!(
                f,
                "heap_bytes counts {} of {} anonymous memory at the end: this program's memory mostly bypasses malloc (Go, a statically linked jemalloc or mimalloc, raw mmap), so heap_bytes is not its heap — judge rss or anon",
                Bytes(*heap),
                Bytes(*anon)
            ),
            HeapPartial { max_missing } => write!(
                f,
                "heap_bytes covers only the processes that loaded the heap shim: up to {max_missing} process(es) at once had none (static, setuid, LD_PRELOAD cleared, or an allocator it cannot count)"
            ),
            NodeNotPreloaded { pid, exe } => write!(
                f,
                "pid {pid} runs {exe}: node's heap is read through a preload soak injects with NODE_OPTIONS, which only reaches commands soak starts (soak -- node …), so runtime_heap_bytes is empty here"
            ),
            RuntimeHeapUnseen { metric } => write!(
                f,
                "--metric {}: no runtime heap was seen (no JVM perf data in the tree, no node process loading soak's preload)",
                metric.trim_end_matches("_bytes")
            ),
            FullGcRequested { every_s, requested } => write!(
                f,
                "a full collection was requested every {} ({requested} times)",
                Secs(*every_s)
            ),
            FullGcFailed { failed, last } => write!(
                f,
                "{failed} full-collection request(s) to a JVM failed (last: {last})"
            ),
            FullGcViaJcmd { count } => write!(
                f,
                "{count} full collection(s) were requested with jcmd after the attach protocol failed"
            ),
            FullGcSkipped { count } => write!(
                f,
                "{count} full-collection period(s) were skipped: the previous request was still running"
            ),
            FullGcNoRuntime => f.write_str(
                "--full-gc-every: no JVM or node process was seen, so no collection was requested",
            ),
            JvmAfterGcEmpty => f.write_str(
                "runtime_heap_after_gc_bytes stays empty for a JVM until its first full collection: --full-gc-every requests them",
            ),
            SamplerStopped { error } => write!(f, "the sampler stopped early: {error}"),
            SamplerPanicked => f.write_str("the sampler thread panicked"),
            TicksMissed { count } => write!(f, "{count} ticks missed"),
            CountingAllocMissing => f.write_str(
                "soak::CountingAlloc is not the global allocator: heap not counted, the verdict is on RSS",
            ),
            NoAllocationSites { why } => f.write_str(why),
            SitesSampled {
                period_bytes,
                processes,
                samples,
                unwinder,
            } => write!(
                f,
                "allocation sites are estimates: the heap shim sampled one allocation per {} allocated on average (Poisson, by bytes), {samples} samples in {processes} process{}, stacks unwound {unwinder}; each site's live bytes are the sampled blocks weighted by their chance of being sampled, so its rate carries the sampling's own error (about 1/√n for n sampled blocks) beyond its interval",
                Bytes(*period_bytes as f64),
                if *processes == 1 { "" } else { "es" }
            ),
            SitesDropped { samples } => write!(
                f,
                "allocation sites: {samples} sampled allocations were not kept (the shim's site or live-block table was full): growth after the table filled is not seen, and some sites are undercounted"
            ),
            SitesUnsymbolized { modules } => write!(
                f,
                "allocation sites: frames in {} have no symbols (stripped, no debug info): shown as module+offset; install the debug symbols to see names",
                modules.join(", ")
            ),
            SitesThrottled => f.write_str(
                "allocation sites: a thread allocated so fast that sampling at this period would have taken more than 1% of its time, so the shim coarsened its period while it did; the estimates are weighted for it, with fewer samples behind them",
            ),
            SitesNotSignificant => f.write_str(
                "allocation sites: no site grew beyond its error (no interval lies above zero), so the sites listed may be noise; a longer run or a smaller --sites-period samples more",
            ),
            SitesFewSamples { sampled } => write!(
                f,
                "allocation sites: site #1 rests on {sampled} sampled block{} only, so its rate is rough (its interval includes the sampling's error); a longer run or a smaller --sites-period samples more",
                if *sampled == 1 { "" } else { "s" }
            ),
            SitesEndAtJit { runtimes } => write!(
                f,
                "allocation sites: {} ran; its Java/JavaScript frames are JIT-compiled code without unwind tables, so a site's stack ends at the runtime's native frames (which say where native memory was allocated, not by which script); the runtime's own heap columns and tools say more",
                runtimes.join(" and ")
            ),
            SitesInJitCode { sites } => write!(
                f,
                "allocation sites: {sites} site{} pass through anonymous memory (JIT-compiled code of a JVM or node), shown as [anon] frames: native stacks say little there; the runtime's own heap columns and tools say more",
                if *sites == 1 { "" } else { "s" }
            ),
            TornLastRow { line } => write!(
                f,
                "the last row (line {line}) was cut off mid-write and was ignored"
            ),
            ColumnDropped { column, why } => {
                write!(f, "column '{column}' {why} and was not analysed")
            }
            RowsWithoutValue {
                metric,
                total,
                parts,
            } => write!(
                f,
                "{total} row(s) have no usable {metric} value and were left out of the analysis: {parts}"
            ),
            RepeatedTimes { rows } => write!(f, "{rows} rows repeat the previous row's elapsed_s"),
            TimelineEmpty => f.write_str("the timeline has a header but no rows"),
            TooFewValues { count, metric } => {
                write!(f, "only {count} value(s) of {metric}: nothing to fit")
            }
            HostFactsOfAnalysis => {
                f.write_str("host facts are those of the machine that ran the analysis")
            }
            CounterLikeResets { resets } => write!(
                f,
                "the series only rises and fell to near zero {resets} time(s), like a counter reset: if it is a counter, judge its rate(...) instead"
            ),
            SeriesRestarted {
                restarts,
                at,
                kept_s,
                span_s,
            } => write!(
                f,
                "the level fell back to near its start {restarts} time(s) (a restart, at {}): the longest stretch between restarts, {} of {}, was judged",
                at.join(", "),
                Secs(*kept_s),
                Secs(*span_s)
            ),
            StalenessGaps {
                missing,
                steps,
                longest_s,
            } => write!(
                f,
                "{missing} of {steps} steps have no sample (staleness gaps, the longest {}): judged on the samples there are",
                Secs(*longest_s)
            ),
            NonFiniteValues { count } => {
                write!(f, "{count} value(s) were NaN or infinite and were left out")
            }
            RetentionNotLeak {
                rss_per_hour,
                heap,
                heap_per_hour,
                heap_low,
                heap_high,
            } => write!(
                f,
                "RSS grows {} while {heap} is flat ({}, 90% interval {} to {}): memory the allocator keeps (retention or fragmentation), not a leak of live objects",
                mb_h(*rss_per_hour),
                mb_h(*heap_per_hour),
                mb_h(*heap_low),
                mb_h(*heap_high)
            ),
            LiveObjectsGrow {
                heap,
                heap_per_hour,
                rss_per_hour,
            } => write!(
                f,
                "{heap} grows {} and RSS {}: live objects accumulate",
                mb_h(*heap_per_hour),
                mb_h(*rss_per_hour)
            ),
            Text(t) => f.write_str(t),
        }
    }
}

impl Note {
    /// Whether the note's text contains `s` (for tests and filters).
    pub fn contains(&self, s: &str) -> bool {
        self.to_string().contains(s)
    }
}

impl serde::Serialize for Note {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Note {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Note::Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_its_text_in_json_and_reads_back_as_text() {
        let n = Note::TicksMissed { count: 3 };
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"3 ticks missed\"");
        let back: Note = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Note::Text("3 ticks missed".into()));
        assert_eq!(back.to_string(), n.to_string());
    }

    #[test]
    fn the_default_limit_names_its_rate() {
        let n = Note::DefaultRateLimit { mb_per_hour: 10.0 };
        assert!(
            n.contains("the default --max-growth-rate 10 MB/h applies"),
            "{n}"
        );
    }
}
