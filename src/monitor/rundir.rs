//! The run directory: created before the target starts (so a bad --out fails with
//! nothing started), removed again when the run fails before its first row.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Removes the run directory and the (empty) parents soak created for it.
pub(super) fn remove_created(dir: &Path, created: &[PathBuf]) {
    if created.first().is_some_and(|c| c == dir) {
        let _ = std::fs::remove_dir_all(dir);
    }
    for d in created.iter().skip(1) {
        // remove_dir only removes an empty folder: another run's files keep it.
        let _ = std::fs::remove_dir(d);
    }
}

/// Creates the run directory; returns the folders it created, deepest first (the run
/// directory itself first, when it did not exist).
pub(super) fn create_run_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let created: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(dir).map_err(|e| {
        remove_created(dir, &created);
        Error::io("cannot create run directory", dir, e)
    })?;
    if dir.join("timeline.csv").exists() {
        return Err(Error::Usage(format!(
            "{} already holds a run (timeline.csv); choose another --out",
            dir.display()
        )));
    }
    // Probe writability now, with a clear message, rather than after the target started.
    let probe = dir.join(".soak-write-test");
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            let _ = std::fs::remove_file(&probe);
            remove_created(dir, &created);
            Error::io("cannot write to run directory", dir, e)
        })?;
    Ok(created)
}
