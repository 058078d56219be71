//! The children scan: each member's `/proc/PID/task/TID/children` files, the main
//! thread's kept open, read into a reused scratch space.

use super::proc_list::DirLister;
use super::tree::ProcId;
use crate::sample::procfs::gone;
use std::io;

/// One member: its identity and the children files of its threads, kept open.
pub(super) struct Member {
    pub(super) id: ProcId,
    /// `(tid, task/TID/children)` kept open: the main thread's only (the other threads'
    /// files are opened per scan).
    pub(super) threads: Vec<(u32, std::fs::File)>,
    /// `/proc/PID/task`, opened when the member turns out to have more than one thread.
    pub(super) task_dir: Option<DirLister>,
}

impl Member {
    pub(super) fn new(id: ProcId) -> Member {
        Member {
            id,
            threads: Vec::new(),
            task_dir: None,
        }
    }
}

/// Scratch space of the children scan, kept between ticks so a scan allocates nothing.
#[derive(Default)]
pub(super) struct Scratch {
    /// One children file's text.
    pub(super) text: Vec<u8>,
    /// Pids found in it.
    pub(super) found: Vec<u32>,
    /// Tids of a multi-threaded member.
    pub(super) tids: Vec<u32>,
    /// The `getdents64` buffer.
    pub(super) dirents: Vec<u8>,
    /// Children files read since the scan began.
    pub(super) files: usize,
}

/// Reads `m`'s children files into `s.found`: only the main thread's when `threads` says
/// there is one thread, else every thread's (listing `task/`, opening the new threads'
/// files, dropping the ended ones').
pub(super) fn read_children(
    m: &mut Member,
    threads: Option<u64>,
    s: &mut Scratch,
) -> io::Result<()> {
    let pid = m.id.pid;
    s.found.clear();
    if threads == Some(1) {
        if m.threads.len() != 1 || m.threads[0].0 != pid {
            m.threads.retain(|(tid, _)| *tid == pid);
            if m.threads.is_empty() {
                m.threads.push((pid, open_children(pid, pid)?));
            }
        }
    } else {
        if m.task_dir.is_none() {
            m.task_dir = Some(DirLister::open(&format!("/proc/{pid}/task"))?);
        }
        if s.dirents.len() < 4096 {
            s.dirents.resize(4096, 0);
        }
        s.tids.clear();
        if let Some(d) = m.task_dir.as_mut() {
            d.list(&mut s.dirents, &mut s.tids)?;
        }
        if s.tids.is_empty() {
            // A task listing of a process that ended is empty.
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        // Only the main thread's file stays open. The other threads' files are opened,
        // read and closed at each scan: a member with thousands of threads (a thread
        // leak, which --max-thread-growth is there to catch) must not hold thousands of
        // soak's descriptors, and a thread id reused by a new thread gets its own file
        // (a kept-open file of an ended thread reads empty, not an error).
        m.threads.retain(|(tid, _)| *tid == pid);
        if m.threads.is_empty() && s.tids.contains(&pid) {
            m.threads.push((pid, open_children(pid, pid)?));
        }
        for &tid in s.tids.iter().filter(|t| **t != pid) {
            let f = match open_children(pid, tid) {
                Ok(f) => f,
                // A thread that ended since the listing.
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e),
            };
            s.files += 1;
            match crate::sample::procfs::pread_whole(&f, &mut s.text, 256) {
                Ok(n) => parse_pids(&s.text[..n], &mut s.found),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    for (tid, f) in &m.threads {
        s.files += 1;
        match crate::sample::procfs::pread_whole(f, &mut s.text, 256) {
            Ok(n) => parse_pids(&s.text[..n], &mut s.found),
            // A thread that ended: its children moved to another thread, read too.
            Err(e) if gone(&e) && *tid != pid => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn open_children(pid: u32, tid: u32) -> io::Result<std::fs::File> {
    std::fs::File::open(format!("/proc/{pid}/task/{tid}/children"))
}

/// Space-separated decimal pids ("12 345 ").
pub(super) fn parse_pids(b: &[u8], out: &mut Vec<u32>) {
    let mut v: u32 = 0;
    let mut digits = 0;
    for &c in b {
        if c.is_ascii_digit() && digits < 10 {
            v = v.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
            digits += 1;
        } else {
            if digits > 0 {
                out.push(v);
            }
            v = 0;
            digits = 0;
        }
    }
    if digits > 0 {
        out.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse_from_children_files() {
        let mut out = Vec::new();
        parse_pids(b"12 345 6789 ", &mut out);
        parse_pids(b"", &mut out);
        parse_pids(b"7", &mut out);
        assert_eq!(out, [12, 345, 6789, 7]);
    }
}
