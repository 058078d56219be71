//! The run directory: created before the target starts (so a bad --out fails with
//! nothing started), removed again when the run fails before its first row.

use crate::error::{Error, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Takes an exclusive `flock` on the run directory itself, without waiting: `Ok(None)`
/// when another process holds it. A run holds it from creating its directory to its last
/// report file, so `soak prune` can tell a run being written from a finished or killed
/// one: the kernel drops the lock however soak ends, SIGKILL included, and no lock file
/// is left behind to go stale. The descriptor is close-on-exec, so the target and the
/// guard never inherit the lock.
pub(crate) fn try_lock(dir: &Path) -> std::io::Result<Option<File>> {
    let f = File::open(dir)?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(f));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(e)
    }
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::try_lock;

    #[test]
    fn a_held_run_directory_is_seen_in_use_until_released() {
        let d = tempfile::tempdir().unwrap();
        let held = try_lock(d.path()).unwrap();
        assert!(held.is_some(), "a free directory locks");
        // flock locks belong to the open file: a second open is another holder.
        assert!(try_lock(d.path()).unwrap().is_none(), "in use while held");
        drop(held);
        assert!(try_lock(d.path()).unwrap().is_some(), "free once released");
    }
}
