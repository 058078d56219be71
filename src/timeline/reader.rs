//! Reading a timeline back (`soak analyze`, `soak report`, the judge): streamed, torn
//! last rows tolerated, every problem named by line and column.

use crate::note::Note;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// A problem reading a timeline, naming where it is.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read timeline {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file has no header.
    #[error("timeline {path} is empty: expected a header row with elapsed_s and a metric column")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A needed column is missing.
    #[error("timeline {path} has no '{column}' column (columns: {found}); pick one with --metric")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        column: String,
        /// What the header had.
        found: String,
    },
    /// A value is not a number.
    #[error("timeline {path} line {line}, column '{column}': '{value}' is not a number")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
    },
    /// Time goes backwards.
    #[error("timeline {path} line {line}: elapsed_s {value} is earlier than the row before ({prev}); sort the file by elapsed_s")]
    Unsorted {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// This row's time.
        value: f64,
        /// The previous row's time.
        prev: f64,
    },
    /// A memory value that cannot be one (negative, or beyond any address space).
    #[error("timeline {path} line {line}, column '{column}': {value} is not a memory size ({why}); fix or remove the row")]
    BadMemory {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: String,
        /// The text found.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two rows closer in time than the timeline's resolution (1 µs), which would make
    /// any rate between them meaningless (or infinite).
    #[error("timeline {path} line {line}: elapsed_s {value} is less than 1 µs after the row before ({prev}); elapsed_s must be seconds (soak writes them with µs resolution)")]
    TimeStep {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// This row's time, as written.
        value: String,
        /// The previous row's time.
        prev: String,
    },
    /// Two columns share a name: which one is meant cannot be known.
    #[error("timeline {path}: column '{column}' appears twice (columns {first} and {second}); rename or remove one")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The name.
        column: String,
        /// 1-based position of the first.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },
    /// The metric asked for is a time column, not a level.
    #[error("timeline {path}: --metric {column}: {why}; pick a memory column such as rss_bytes")]
    NotALevel {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Why it cannot be judged.
        why: &'static str,
    },
    /// A row has the wrong number of fields (not the last one).
    #[error("timeline {path} line {line}: {found} fields where the header has {expected}")]
    Ragged {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Fields found.
        found: usize,
        /// Fields expected.
        expected: usize,
    },
}

/// A timeline read back: times and every numeric column (NaN where a cell is empty).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// `elapsed_s` of each row.
    pub elapsed_s: Vec<f64>,
    /// Numeric columns other than `elapsed_s`, by name, in file order.
    pub columns: Vec<(String, Vec<f64>)>,
    /// First and last `timestamp` cells, when the file has that column.
    pub first_timestamp: Option<String>,
    /// Last `timestamp` cell.
    pub last_timestamp: Option<String>,
    /// Things the reader tolerated and the user should know (a torn last row, …).
    pub notes: Vec<crate::note::Note>,
}

impl Timeline {
    /// The values of one column.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads a timeline file; `required` names the metric column that must be numeric.
/// The file is streamed: memory holds the parsed columns, never the text.
pub fn read_timeline(path: &Path, required: &str) -> Result<Timeline, ReadError> {
    use std::io::{Seek, SeekFrom};
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    // A file that does not end in a newline had its last row cut mid-write.
    let len = file.metadata().map_err(io_err)?.len();
    let torn = if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1)).map_err(io_err)?;
        file.read_exact(&mut last).map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        last[0] != b'\n'
    } else {
        false
    };
    read_rows(
        io::BufReader::with_capacity(1 << 16, file),
        path,
        required,
        torn,
    )
}

/// Reads a timeline from any reader (`path` only names it in errors).
pub fn read_from(reader: impl Read, path: &Path, required: &str) -> Result<Timeline, ReadError> {
    let mut bytes = Vec::new();
    let mut reader = reader;
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let torn = !bytes.is_empty() && !bytes.ends_with(b"\n");
    read_rows(bytes.as_slice(), path, required, torn)
}

fn read_rows(
    reader: impl Read,
    path: &Path,
    required: &str,
    torn: bool,
) -> Result<Timeline, ReadError> {
    let p = || path.to_path_buf();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let headers = match rdr.byte_headers() {
        Ok(h) if !(h.is_empty() || h.len() == 1 && h[0].is_empty()) => h.clone(),
        _ => return Err(ReadError::Empty { path: p() }),
    };
    let names: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let found = names.join(",");
    for (j, n) in names.iter().enumerate() {
        if let Some(i) = names[..j].iter().position(|m| m == n) {
            return Err(ReadError::DuplicateColumn {
                path: p(),
                column: n.clone(),
                first: i + 1,
                second: j + 1,
            });
        }
    }
    let find = |c: &str| names.iter().position(|n| n == c);
    let t_idx = find("elapsed_s").ok_or_else(|| ReadError::MissingColumn {
        path: p(),
        column: "elapsed_s".into(),
        found: found.clone(),
    })?;
    let m_idx = find(required).ok_or_else(|| ReadError::MissingColumn {
        path: p(),
        column: required.into(),
        found: found.clone(),
    })?;
    let ts_idx = find("timestamp");
    if m_idx == t_idx || Some(m_idx) == ts_idx {
        return Err(ReadError::NotALevel {
            path: p(),
            column: required.into(),
            why: if m_idx == t_idx {
                "elapsed_s is the time axis"
            } else {
                "timestamp holds the wall-clock times (text)"
            },
        });
    }
    let mut tl = Timeline::default();
    // Candidate numeric columns; a non-required one that turns out not to be numeric (or
    // to hold an impossible memory size) is dropped with a note rather than failing the
    // whole read.
    let mut cols: Vec<Col> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != t_idx && Some(*i) != ts_idx)
        .map(|(i, n)| Col {
            idx: i,
            bytes: is_bytes_column(n),
            name: n.clone(),
            values: Vec::new(),
            dropped: None,
        })
        .collect();
    let mut skipped = Skipped::default();
    let shape = Shape {
        t_idx,
        m_idx,
        ts_idx,
        width: names.len(),
        path,
        required,
    };
    let mut rec = csv::ByteRecord::new();
    // Rows are applied one behind, so the last one can be judged for tearing; two
    // records are swapped rather than a row cloned.
    let mut held = csv::ByteRecord::new();
    let mut pending: Option<u64> = None;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map(|pos| pos.line()).unwrap_or(0);
                std::mem::swap(&mut rec, &mut held);
                if let Some(l) = pending.replace(line) {
                    push_row(&mut tl, &mut cols, &mut skipped, &rec, l, &shape)?;
                }
            }
            Err(e) => {
                let line = e.position().map(|pos| pos.line()).unwrap_or(0);
                return Err(ReadError::BadValue {
                    path: p(),
                    line,
                    column: "(row)".into(),
                    value: e.to_string(),
                });
            }
        }
    }
    if let Some(line) = pending {
        let r = &held;
        let parses = |i: usize| {
            r.get(i)
                .and_then(|f| std::str::from_utf8(f).ok())
                .and_then(|f| parse_number(f.trim()).ok())
                .is_some()
        };
        let whole = r.len() == names.len() && parses(t_idx) && parses(m_idx);
        if torn && !whole {
            tl.notes.push(Note::TornLastRow { line });
        } else {
            push_row(&mut tl, &mut cols, &mut skipped, r, line, &shape)?;
        }
    }
    for c in cols {
        match c.dropped {
            None => tl.columns.push((c.name, c.values)),
            Some(why) => tl.notes.push(Note::ColumnDropped {
                column: c.name,
                why,
            }),
        }
    }
    if let Some(n) = skipped.note(required) {
        tl.notes.push(n);
    }
    let dups = tl.elapsed_s.windows(2).filter(|w| w[0] == w[1]).count();
    if dups > 0 {
        tl.notes.push(Note::RepeatedTimes { rows: dups });
    }
    Ok(tl)
}

/// Parses a cell: most of a timeline is plain integers (bytes, counts), which a digit
/// loop reads several times faster than the general float parser.
fn parse_number(s: &str) -> Result<f64, std::num::ParseFloatError> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        let mut v: u64 = 0;
        for &c in b {
            v = v * 10 + (c - b'0') as u64;
        }
        return Ok(v as f64);
    }
    s.parse::<f64>()
}

/// Where the columns are, for reading rows.
struct Shape<'a> {
    t_idx: usize,
    m_idx: usize,
    ts_idx: Option<usize>,
    width: usize,
    path: &'a Path,
    required: &'a str,
}

/// A numeric column being read.
struct Col {
    idx: usize,
    name: String,
    /// Whether it holds memory (a `*_bytes` column): never negative.
    bytes: bool,
    values: Vec<f64>,
    /// Why it was given up, when it was.
    dropped: Option<String>,
}

/// Whether a column holds bytes of memory.
fn is_bytes_column(name: &str) -> bool {
    name.ends_with("_bytes")
}

/// The largest memory size a timeline may hold: 2^64 bytes.
const MAX_BYTES: f64 = 18_446_744_073_709_551_616.0;

/// Rows of the metric column without a usable value, by cause.
#[derive(Default)]
struct Skipped {
    blank: u64,
    nan: u64,
    infinite: u64,
}

impl Skipped {
    /// "12 rows have no usable rss_bytes value and were left out: 10 blank, 2 NaN".
    fn note(&self, metric: &str) -> Option<Note> {
        let total = self.blank + self.nan + self.infinite;
        if total == 0 {
            return None;
        }
        let parts: Vec<String> = [
            (self.blank, "blank"),
            (self.nan, "NaN"),
            (self.infinite, "infinite"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
        Some(Note::RowsWithoutValue {
            metric: metric.to_string(),
            total,
            parts: parts.join(", "),
        })
    }
}

fn push_row(
    tl: &mut Timeline,
    cols: &mut [Col],
    skipped: &mut Skipped,
    r: &csv::ByteRecord,
    line: u64,
    shape: &Shape,
) -> Result<(), ReadError> {
    let Shape {
        t_idx,
        m_idx,
        ts_idx,
        width,
        path,
        required,
    } = *shape;
    if r.len() == 1 && r.get(0).is_some_and(|f| f.is_empty()) {
        return Ok(()); // blank line
    }
    if r.len() != width {
        return Err(ReadError::Ragged {
            path: path.to_path_buf(),
            line,
            found: r.len(),
            expected: width,
        });
    }
    let cell = |i: usize| {
        std::str::from_utf8(r.get(i).unwrap_or(b""))
            .unwrap_or("")
            .trim()
    };
    let bad = |column: &str, value: &str| ReadError::BadValue {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        value: value.to_string(),
    };
    let tv = cell(t_idx);
    let t: f64 = tv
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| bad("elapsed_s", tv))?;
    if let Some(&prev) = tl.elapsed_s.last() {
        if t < prev {
            return Err(ReadError::Unsorted {
                path: path.to_path_buf(),
                line,
                value: t,
                prev,
            });
        }
        if t > prev && t - prev < 1e-6 {
            return Err(ReadError::TimeStep {
                path: path.to_path_buf(),
                line,
                value: tv.to_string(),
                prev: format!("{prev:e}"),
            });
        }
    }
    for c in cols.iter_mut() {
        if c.dropped.is_some() {
            continue;
        }
        let metric = c.idx == m_idx;
        let v = cell(c.idx);
        let x = if v.is_empty() {
            skipped.blank += u64::from(metric);
            f64::NAN
        } else {
            match parse_number(v) {
                Ok(x) => x,
                Err(_) if metric => return Err(bad(required, v)),
                Err(_) => {
                    c.dropped = Some("is not numeric".into());
                    continue;
                }
            }
        };
        if metric {
            skipped.nan += u64::from(x.is_nan() && !v.is_empty());
            skipped.infinite += u64::from(x.is_infinite());
        }
        if c.bytes && x.is_finite() && !(0.0..MAX_BYTES).contains(&x) {
            let why = if x < 0.0 {
                "negative"
            } else {
                "2^64 bytes or more"
            };
            if metric {
                return Err(ReadError::BadMemory {
                    path: path.to_path_buf(),
                    line,
                    column: c.name.clone(),
                    value: v.to_string(),
                    why,
                });
            }
            c.dropped = Some(format!(
                "holds a value that is not a memory size ({v} at line {line}: {why})"
            ));
            continue;
        }
        c.values.push(x);
    }
    tl.elapsed_s.push(t);
    if let Some(i) = ts_idx {
        let ts = cell(i).to_string();
        if tl.first_timestamp.is_none() {
            tl.first_timestamp = Some(ts.clone());
        }
        tl.last_timestamp = Some(ts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Col;
    use proptest::prelude::*;

    fn read(s: &str) -> Result<Timeline, ReadError> {
        read_from(s.as_bytes(), Path::new("t.csv"), Col::Rss.name())
    }

    #[test]
    fn reads_corpus_shape() {
        let t = read("elapsed_s,rss_bytes\n0,100\n1,200\n").unwrap();
        assert_eq!(t.elapsed_s, vec![0.0, 1.0]);
        assert_eq!(t.column(Col::Rss.name()).unwrap(), &[100.0, 200.0]);
        assert!(t.notes.is_empty());
    }

    #[test]
    fn torn_last_row_is_dropped_and_noted() {
        let t = read("elapsed_s,rss_bytes,fds\n0,100,3\n1,200,3\n2,30").unwrap();
        assert_eq!(t.elapsed_s.len(), 2);
        assert!(t.notes[0].contains("cut off"), "{:?}", t.notes);
        let t = read("elapsed_s,rss_bytes\n0,100\n1,2").unwrap();
        // A torn row that still parses is kept: it may be a shortened number, but it is
        // as long as a full row and the reader cannot tell.
        assert_eq!(t.elapsed_s.len(), 2);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = read("elapsed_s,rss_bytes\n0,100\n1,abc\n2,300\n").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("line 3") && m.contains(Col::Rss.name()) && m.contains("abc"),
            "{m}"
        );
        let e = read("elapsed_s,rss_bytes\n5,100\n1,100\n").unwrap_err();
        assert!(e.to_string().contains("sort"), "{e}");
        let e = read("").unwrap_err();
        assert!(matches!(e, ReadError::Empty { .. }));
        let e = read("elapsed_s,heap\n0,1\n").unwrap_err();
        assert!(e.to_string().contains("--metric"), "{e}");
    }

    proptest! {
        #[test]
        fn reader_never_panics(s in "[0-9a-z,.\\n-]{0,200}") {
            let _ = read(&format!("elapsed_s,rss_bytes\n{s}"));
            let _ = read(&s);
        }
    }
}
