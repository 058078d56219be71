//! Writing the timeline: one row per tick, each in a single `write` as soon as it is
//! formatted, so killing soak loses at most the row being written.

use crate::sample::columns::{self, Column, Group};
use crate::sample::Sample;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Which columns follow the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Extra {
    /// None (an in-process soak).
    #[default]
    None,
    /// The process-run columns (the runtime heaps): a command or `--pid`.
    Process,
    /// The cgroup totals: a container run.
    Container,
}

impl Extra {
    /// The group of columns this adds, if any.
    pub fn group(self) -> Option<Group> {
        match self {
            Extra::None => None,
            Extra::Process => Some(Group::Process),
            Extra::Container => Some(Group::Container),
        }
    }
}

/// Streams rows to `timeline.csv`.
pub struct TimelineWriter {
    file: File,
    columns: Vec<&'static Column>,
    path: PathBuf,
    line: String,
    rows: u64,
}

impl TimelineWriter {
    /// Creates the file (failing if it exists) and writes the header.
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::create_with(path, Extra::None)
    }

    /// As [`create`](Self::create), with `extra` columns after the contract's.
    pub fn create_with(path: &Path, extra: Extra) -> io::Result<Self> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let mut w = TimelineWriter {
            file,
            columns: columns::of_groups(extra.group()).collect(),
            path: path.to_path_buf(),
            line: String::with_capacity(256),
            rows: 0,
        };
        w.line.push_str("timestamp,elapsed_s");
        for c in &w.columns {
            w.line.push(',');
            w.line.push_str(c.name);
        }
        w.line.push('\n');
        w.file.write_all(w.line.as_bytes())?;
        Ok(w)
    }

    /// Where the timeline is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Formats and writes one row in a single `write` call.
    pub fn write(&mut self, timestamp: &str, elapsed_s: f64, s: &Sample) -> io::Result<()> {
        self.line.clear();
        self.line.push_str(timestamp);
        self.finish_row(elapsed_s, s)
    }

    /// As [`write`](Self::write), stamped with the wall-clock time now, formatted
    /// straight into the row (RFC 3339, UTC, milliseconds): a row allocates nothing.
    pub fn write_now(&mut self, elapsed_s: f64, s: &Sample) -> io::Result<()> {
        self.line.clear();
        write_rfc3339_millis(std::time::SystemTime::now(), &mut self.line);
        self.finish_row(elapsed_s, s)
    }

    fn finish_row(&mut self, elapsed_s: f64, s: &Sample) -> io::Result<()> {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(self.line, ",{elapsed_s:.6}");
        for c in &self.columns {
            self.line.push(',');
            c.write_cell(s, &mut self.line);
        }
        self.line.push('\n');
        self.file.write_all(self.line.as_bytes())?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes to stable storage (at the end of a run and now and then, not per row:
    /// a process kill does not lose page-cache data, only a power cut would).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// `2026-11-28T19:29:05.584Z` (what chrono's `to_rfc3339_opts(Millis, true)` gives),
/// without allocating. Times before 1970 print as 1970.
pub fn write_rfc3339_millis(t: std::time::SystemTime, out: &mut String) {
    use std::fmt::Write as _;
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Col;
    use crate::timeline::read_timeline;

    /// The DESIGN.md contract's header, spelled out: the column table must produce it.
    const CONTRACT: &str = "timestamp,elapsed_s,rss_bytes,anon_bytes,file_bytes,shmem_bytes,swap_bytes,heap_bytes,pss_bytes,threads,fds,cpu_s,processes";

    #[test]
    fn timestamps_match_chrono() {
        use std::time::{Duration, UNIX_EPOCH};
        for secs in [
            0u64,
            951_782_400,   // 2000-02-29
            1_709_164_800, // 2024-02-29
            1_795_882_923,
            4_102_444_799, // 2099-12-31T23:59:59
        ] {
            for ms in [0u64, 1, 999] {
                let t = UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms);
                let mut ours = String::new();
                write_rfc3339_millis(t, &mut ours);
                let theirs = chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                assert_eq!(ours, theirs);
            }
        }
    }

    #[test]
    fn writer_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        let mut w = TimelineWriter::create(&path).unwrap();
        let s = Sample {
            rss_bytes: 1000,
            threads: 2,
            processes: 1,
            ..Sample::default()
        };
        w.write("2026-01-01T00:00:00Z", 0.5, &s).unwrap();
        w.write("2026-01-01T00:00:01Z", 1.5, &s).unwrap();
        let t = read_timeline(&path, Col::Rss.name()).unwrap();
        assert_eq!(t.elapsed_s, vec![0.5, 1.5]);
        assert!(t.column(Col::Heap.name()).unwrap()[0].is_nan());
        assert_eq!(t.column(Col::Threads.name()).unwrap(), &[2.0, 2.0]);
        assert_eq!(t.first_timestamp.as_deref(), Some("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn container_rows_carry_the_cgroup_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        let mut w = TimelineWriter::create_with(&path, Extra::Container).unwrap();
        let s = Sample {
            rss_bytes: 10,
            usage_bytes: 30,
            working_set_bytes: 20,
            oom_kills: 1,
            ..Sample::default()
        };
        w.write("2026-01-01T00:00:00Z", 0.0, &s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!(
            "{CONTRACT},usage_bytes,working_set_bytes,oom_kills\n"
        )));
        assert!(text.ends_with(",30,20,1\n"), "{text}");
        let t = read_timeline(&path, Col::WorkingSet.name()).unwrap();
        assert_eq!(t.column(Col::Usage.name()).unwrap(), &[30.0]);
    }

    #[test]
    fn process_rows_carry_the_runtime_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        let mut w = TimelineWriter::create_with(&path, Extra::Process).unwrap();
        let s = Sample {
            rss_bytes: 10,
            ..Sample::default()
        };
        w.write("2026-01-01T00:00:00Z", 0.0, &s).unwrap();
        let s = Sample {
            runtime_heap_bytes: Some(300),
            runtime_heap_after_gc_bytes: Some(200),
            ..s
        };
        w.write("2026-01-01T00:00:01Z", 1.0, &s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Process runs may carry more columns after these two.
        assert!(text.starts_with(&format!(
            "{CONTRACT},runtime_heap_bytes,runtime_heap_after_gc_bytes"
        )));
        let rows: Vec<&str> = text.lines().skip(1).collect();
        let cells = |row: &str| -> Vec<String> {
            row.split(',').skip(13).take(2).map(String::from).collect()
        };
        assert_eq!(cells(rows[0]), ["", ""], "{text}");
        assert_eq!(cells(rows[1]), ["300", "200"], "{text}");
        let t = read_timeline(&path, Col::RuntimeHeapAfterGc.name()).unwrap();
        let after = t.column(Col::RuntimeHeapAfterGc.name()).unwrap();
        assert!(after[0].is_nan() && after[1] == 200.0);
    }
}
