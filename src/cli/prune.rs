//! `soak prune`: removes old run directories, and nothing else.
//!
//! A run directory is recognised by soak's own files: a `report.json` soak wrote (it has
//! `soak_version` and `schema_version`), or, for a run killed before its report, a
//! `timeline.csv` with soak's header. Only the directories directly under DIR are
//! considered, never through a symbolic link, and one is removed only when every entry
//! in it is a file soak writes there and no running soak holds its lock (see
//! [`crate::monitor::rundir::try_lock`]). Each file is removed by name, then the empty
//! directory: whatever appears meanwhile stays, and so does the directory.

use crate::console;
use crate::error::{Error, Result};
use crate::monitor::rundir::try_lock;
use crate::units::{parse_duration, Bytes};
use chrono::{DateTime, Utc};
use clap::Args;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `soak prune`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  soak prune --keep 10                      the newest 10 runs of each name stay
  soak prune --older-than 30d --dry-run     what a 30-day retention would remove
  soak prune /var/lib/soak/reports --keep 5 --older-than 30d")]
pub struct PruneArgs {
    /// The folder holding the run directories.
    #[arg(value_name = "DIR", default_value = "reports")]
    pub dir: PathBuf,
    /// Keep the newest N runs of each run name (report.json's `name`; soak@NAME's runs
    /// are named NAME).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Keep the runs that ended less than AGE ago, e.g. 30d, 12h. With --keep too, a run
    /// is removed only when both allow it.
    #[arg(long, value_parser = parse_duration, value_name = "AGE")]
    pub older_than: Option<Duration>,
    /// Print what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Files soak writes into a run directory besides the report files: the timeline, the
/// target's logs and their ring tails, its own probes and shims, an in-process run's
/// allocation sites.
const RUN_FILES: &[&str] = &[
    "timeline.csv",
    "target.stdout.log",
    "target.stderr.log",
    "target.stdout.log.tail",
    "target.stderr.log.tail",
    ".soak-write-test",
    ".soak-heap-shim.so",
    "dhat-heap.json",
];

/// Folders soak makes in a run directory when there is no /dev/shm (see
/// `sample::heap::shared_dir`); a killed soak can leave them.
const RUN_FOLDERS: &[&str] = &[".soak-heap", ".soak-runtime"];

/// The header every soak timeline starts with (the column contract).
const TIMELINE_HEADER: &str = "timestamp,elapsed_s,";

/// One run directory found under DIR.
#[derive(Debug, Clone)]
struct Run {
    path: PathBuf,
    name: String,
    ended: DateTime<Utc>,
}

/// `soak prune`: returns the exit code (0, or 5 when a removal failed).
pub fn prune(a: &PruneArgs) -> Result<i32> {
    if a.keep.is_none() && a.older_than.is_none() {
        return Err(Error::Usage(
            "prune needs --keep N (the newest N runs of each name stay), --older-than AGE \
             (runs younger than AGE stay), or both"
                .into(),
        ));
    }
    let meta = std::fs::metadata(&a.dir).map_err(|e| {
        Error::Usage(format!(
            "cannot read {}: {e} (name the folder of run directories, e.g. soak prune reports)",
            a.dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory (name the folder of run directories, e.g. soak prune reports)",
            a.dir.display()
        )));
    }
    let now = Utc::now();
    let (runs, others) = scan(&a.dir)?;
    let doomed = select(&runs, a.keep, a.older_than, now);
    let verb = if a.dry_run { "would remove" } else { "removed" };
    let (mut removed, mut freed, mut failed) = (0usize, 0u64, None);
    for run in &doomed {
        match remove_run(&run.path, a.dry_run) {
            Ok(Removal::Done(bytes)) => {
                removed += 1;
                freed += bytes;
                console::out_line(&format!(
                    "soak: {verb} {} ({}, ended {}, {} ago, {})",
                    run.path.display(),
                    run.name,
                    run.ended.format("%Y-%m-%d %H:%M UTC"),
                    age(now - run.ended),
                    Bytes(bytes as f64)
                ));
            }
            Ok(Removal::Kept(why)) => {
                console::err_line(&format!("soak: kept {}: {why}", run.path.display()));
            }
            Err(e) => {
                console::err_line(&format!("soak: {e}"));
                failed.get_or_insert(e);
            }
        }
    }
    console::out_line(&format!(
        "soak: prune {}: {verb} {removed} of {} runs ({}); {} other entries left alone",
        a.dir.display(),
        runs.len(),
        Bytes(freed as f64),
        others
    ));
    match failed {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The runs directly under `dir`, and how many other entries it has.
fn scan(dir: &Path) -> Result<(Vec<Run>, usize)> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
    let (mut runs, mut others) = (Vec::new(), 0);
    for e in entries {
        let e = e.map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
        match recognise(&e.path()) {
            Some(r) => runs.push(r),
            None => others += 1,
        }
    }
    Ok((runs, others))
}

/// The runs to remove: past the newest `keep` of their name (when given) and ended
/// before `now - older_than` (when given).
fn select(
    runs: &[Run],
    keep: Option<usize>,
    older_than: Option<Duration>,
    now: DateTime<Utc>,
) -> Vec<Run> {
    let mut by_name: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        by_name.entry(&r.name).or_default().push(r);
    }
    let cutoff = older_than.and_then(|d| chrono::Duration::from_std(d).ok().map(|d| now - d));
    let mut out = Vec::new();
    for group in by_name.values_mut() {
        // Newest first; the path breaks ties so the choice never depends on listing order.
        group.sort_by(|a, b| b.ended.cmp(&a.ended).then_with(|| b.path.cmp(&a.path)));
        for (i, r) in group.iter().enumerate() {
            let beyond_keep = keep.is_none_or(|n| i >= n);
            let old_enough = older_than.is_none() || cutoff.is_some_and(|c| r.ended < c);
            if beyond_keep && old_enough {
                out.push((*r).clone());
            }
        }
    }
    out.sort_by(|a, b| a.ended.cmp(&b.ended).then_with(|| a.path.cmp(&b.path)));
    out
}

/// A run directory at `path`, or `None` for anything else (a file, a symbolic link, a
/// folder soak did not write).
fn recognise(path: &Path) -> Option<Run> {
    if !std::fs::symlink_metadata(path).ok()?.is_dir() {
        return None;
    }
    let dir_name = path.file_name()?.to_string_lossy().into_owned();
    let report = path.join("report.json");
    if let Ok(m) = std::fs::symlink_metadata(&report) {
        // A report.json that is not soak's makes the folder someone else's.
        if !m.is_file() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).ok()?).ok()?;
        v.get("soak_version")?.as_str()?;
        v.get("schema_version")?.as_u64()?;
        let ended = v
            .get("ended_at")
            .and_then(|t| t.as_str())
            .and_then(parse_time)
            .or_else(|| timeline_end(&path.join("timeline.csv")))?;
        let name = v
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| run_name(&dir_name));
        return Some(Run {
            path: path.to_path_buf(),
            name,
            ended,
        });
    }
    let timeline = path.join("timeline.csv");
    if !std::fs::symlink_metadata(&timeline).ok()?.is_file() {
        return None;
    }
    let mut header = String::new();
    BufReader::new(File::open(&timeline).ok()?)
        .take(4096)
        .read_line(&mut header)
        .ok()?;
    if !header.starts_with(TIMELINE_HEADER) {
        return None;
    }
    Some(Run {
        path: path.to_path_buf(),
        name: run_name(&dir_name),
        ended: timeline_end(&timeline)?,
    })
}

/// When a run without a report ended: its timeline's last whole row, else the file's
/// last change (a header alone).
fn timeline_end(timeline: &Path) -> Option<DateTime<Utc>> {
    let mut f = File::open(timeline).ok()?;
    let len = f.metadata().ok()?.len();
    // The last rows are in the last few kB; a row is well under 1 kB.
    f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
        .ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    let tail = String::from_utf8_lossy(&tail);
    let last_row = tail
        .lines()
        .rev()
        .filter_map(|l| l.split(',').next())
        .find_map(parse_time);
    last_row.or_else(|| {
        let modified = std::fs::metadata(timeline).ok()?.modified().ok()?;
        Some(DateTime::<Utc>::from(modified))
    })
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The run name of a directory named `<name>-<UTC time>` (soak's default `--out`, and
/// an in-process run's with milliseconds); any other directory name is its own.
fn run_name(dir_name: &str) -> String {
    if let Some((name, stamp)) = dir_name.rsplit_once('-') {
        let is_stamp = ["%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S%.3fZ"]
            .iter()
            .any(|f| chrono::NaiveDateTime::parse_from_str(stamp, f).is_ok());
        if is_stamp && !name.is_empty() {
            return name.to_string();
        }
    }
    dir_name.to_string()
}

/// What became of a run chosen for removal.
#[derive(Debug, PartialEq)]
enum Removal {
    /// Removed (or, in a dry run, removable): the bytes of its files.
    Done(u64),
    /// Left alone, and why.
    Kept(String),
}

/// Removes a run directory if it is safe to: soak's files only, and no running soak
/// holds it.
fn remove_run(dir: &Path, dry_run: bool) -> Result<Removal> {
    let lock = match try_lock(dir) {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(Removal::Kept("a running soak is writing it".into())),
        Err(e) => {
            return Ok(Removal::Kept(format!(
                "cannot tell whether a soak is writing it (flock: {e})"
            )))
        }
    };
    let (files, folders, bytes) = match soak_entries(dir)? {
        Ok(found) => found,
        Err(why) => return Ok(Removal::Kept(why)),
    };
    if dry_run {
        return Ok(Removal::Done(bytes));
    }
    for f in &files {
        std::fs::remove_file(f).map_err(|e| Error::io("cannot remove", f.clone(), e))?;
    }
    for f in &folders {
        std::fs::remove_dir_all(f).map_err(|e| Error::io("cannot remove", f.clone(), e))?;
    }
    drop(lock);
    // remove_dir removes only an empty folder: a file that appeared meanwhile keeps it.
    std::fs::remove_dir(dir).map_err(|e| Error::io("cannot remove", dir.to_path_buf(), e))?;
    Ok(Removal::Done(bytes))
}

/// Files and folders found in a run directory, and the bytes of its files.
type Entries = (Vec<PathBuf>, Vec<PathBuf>, u64);

/// The entries of a run directory when each is one soak writes, else why not (naming
/// the first that is not).
fn soak_entries(dir: &Path) -> Result<std::result::Result<Entries, String>> {
    let report_files = crate::report::file_names();
    let temporaries: Vec<String> = report_files
        .iter()
        .map(|n| Path::new(n).with_extension("tmp").display().to_string())
        .collect();
    let is_file_name = |n: &str| {
        RUN_FILES.contains(&n) || report_files.contains(&n) || temporaries.iter().any(|t| t == n)
    };
    let (mut files, mut folders, mut bytes) = (Vec::new(), Vec::new(), 0u64);
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e
            .file_type()
            .map_err(|err| Error::io("cannot read", e.path(), err))?;
        if ft.is_file() && is_file_name(&name) {
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            files.push(e.path());
        } else if ft.is_dir() && RUN_FOLDERS.contains(&name.as_str()) {
            match counter_files(&e.path())? {
                Ok(b) => bytes += b,
                Err(why) => return Ok(Err(format!("{name} holds {why}"))),
            }
            folders.push(e.path());
        } else {
            let kind = if ft.is_symlink() {
                "a symbolic link"
            } else if ft.is_dir() {
                "a folder"
            } else {
                "a file"
            };
            return Ok(Err(format!(
                "it holds {name}, {kind} soak did not write (move it out, or remove the directory by hand)"
            )));
        }
    }
    Ok(Ok((files, folders, bytes)))
}

/// The bytes of a counters folder when it holds only what the heap shim and the node
/// preload write there (one file per process, named by its pid, and the shim's
/// `PID.sites`), else what else it holds: a user's file put there must not go with the
/// run.
fn counter_files(dir: &Path) -> Result<std::result::Result<u64, String>> {
    let mut bytes = 0;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io("cannot list", dir.to_path_buf(), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        let pid_named = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
            || crate::sample::sites::sites_pid(&name).is_some();
        if !(is_file && pid_named) {
            return Ok(Err(format!(
                "{name}, which soak did not write (move it out, or remove the directory by hand)"
            )));
        }
        bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
    }
    Ok(Ok(bytes))
}

/// An age in the largest unit that keeps it readable.
fn age(d: chrono::Duration) -> String {
    let h = d.num_hours();
    if h >= 48 {
        format!("{} days", d.num_days())
    } else if h >= 1 {
        format!("{h} h")
    } else {
        format!("{} min", d.num_minutes().max(0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(name: &str, path: &str, days_ago: i64, now: DateTime<Utc>) -> Run {
        Run {
            path: PathBuf::from(path),
            name: name.into(),
            ended: now - chrono::Duration::days(days_ago),
        }
    }

    fn chosen(
        runs: &[Run],
        keep: Option<usize>,
        days: Option<u64>,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        select(
            runs,
            keep,
            days.map(|d| Duration::from_secs(d * 86_400)),
            now,
        )
        .into_iter()
        .map(|r| r.path.display().to_string())
        .collect()
    }

    #[test]
    fn keep_counts_per_name_and_age_protects_too() {
        let now = Utc::now();
        let runs = vec![
            run("a", "a0", 0, now),
            run("a", "a1", 10, now),
            run("a", "a2", 40, now),
            run("a", "a3", 50, now),
            run("b", "b0", 45, now),
        ];
        assert_eq!(chosen(&runs, Some(2), None, now), ["a3", "a2"]);
        assert_eq!(chosen(&runs, None, Some(30), now), ["a3", "b0", "a2"]);
        // Both: past the newest 1 of its name AND older than 30 days.
        assert_eq!(chosen(&runs, Some(1), Some(30), now), ["a3", "a2"]);
        assert_eq!(chosen(&runs, Some(0), Some(45), now), ["a3"]);
        assert!(chosen(&runs, Some(5), None, now).is_empty());
    }

    #[test]
    fn run_names_drop_the_default_timestamp_only() {
        assert_eq!(run_name("my-server-20261128T020000Z"), "my-server");
        assert_eq!(run_name("t-20261128T020000.123Z"), "t");
        assert_eq!(run_name("my-server-nightly"), "my-server-nightly");
        assert_eq!(run_name("-20261128T020000Z"), "-20261128T020000Z");
    }

    #[test]
    fn ages_read_in_days_hours_or_minutes() {
        assert_eq!(age(chrono::Duration::days(31)), "31 days");
        assert_eq!(age(chrono::Duration::hours(30)), "30 h");
        assert_eq!(age(chrono::Duration::minutes(5)), "5 min");
    }

    #[test]
    fn every_report_format_counts_as_soak_s_own() {
        let d = tempfile::tempdir().unwrap();
        for n in crate::report::file_names()
            .into_iter()
            .chain(RUN_FILES.iter().copied())
        {
            std::fs::write(d.path().join(n), b"x").unwrap();
        }
        std::fs::write(d.path().join("report.tmp"), b"x").unwrap();
        std::fs::create_dir(d.path().join(".soak-heap")).unwrap();
        let (files, folders, _) = soak_entries(d.path()).unwrap().unwrap();
        assert_eq!(
            files.len(),
            crate::report::file_names().len() + RUN_FILES.len() + 1
        );
        assert_eq!(folders.len(), 1);
        std::fs::write(d.path().join("notes.txt"), b"mine").unwrap();
        let why = soak_entries(d.path()).unwrap().unwrap_err();
        assert!(
            why.contains("notes.txt, a file soak did not write"),
            "{why}"
        );
    }

    #[test]
    fn a_counters_folder_with_anything_but_pid_files_keeps_the_run() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("timeline.csv"), b"x").unwrap();
        let heap = d.path().join(".soak-heap");
        std::fs::create_dir(&heap).unwrap();
        std::fs::write(heap.join("4242"), [0u8; 64]).unwrap();
        std::fs::write(heap.join("4242.sites"), [0u8; 64]).unwrap();
        let (_, folders, bytes) = soak_entries(d.path()).unwrap().unwrap();
        assert_eq!((folders.len(), bytes), (1, 129));
        std::fs::write(heap.join("x.sites"), b"mine").unwrap();
        let why = soak_entries(d.path()).unwrap().unwrap_err();
        assert!(why.contains(".soak-heap holds x.sites"), "{why}");
        std::fs::remove_file(heap.join("x.sites")).unwrap();
        std::fs::write(heap.join("precious"), b"mine").unwrap();
        let why = soak_entries(d.path()).unwrap().unwrap_err();
        assert!(why.contains(".soak-heap holds precious"), "{why}");
    }
}
