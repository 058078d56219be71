//! Listing `/proc` and `/proc/PID/task` through kept-open descriptors (`getdents64` into
//! a reused buffer), and `/proc/loadavg`'s last pid: what tree discovery falls back to.

use std::io;

/// The `getdents64` buffer of a `/proc` listing.
pub(super) const DIRENTS_BUF: usize = 32 * 1024;

/// Lists the numeric entries of a directory (`/proc`, `/proc/PID/task`) through one
/// kept-open descriptor and a caller's reused buffer (`getdents64`), so a tick allocates
/// nothing to find new processes or threads.
pub(super) struct DirLister {
    pub(super) dir: std::fs::File,
}

impl DirLister {
    pub(super) fn open(path: &str) -> io::Result<DirLister> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path)?;
        Ok(DirLister { dir })
    }

    pub(super) fn list(&mut self, buf: &mut [u8], out: &mut Vec<u32>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.dir.as_raw_fd();
        // SAFETY: lseek on a descriptor we own; rewinding restarts the listing.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            // SAFETY: the kernel writes at most buf.len() bytes into our buffer.
            let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(());
            }
            parse_dirents(&buf[..n as usize], out);
        }
    }
}

/// Parses `linux_dirent64` records (ino u64, off i64, reclen u16, type u8, name, NUL),
/// keeping names that are pids.
pub(super) fn parse_dirents(mut b: &[u8], out: &mut Vec<u32>) {
    while b.len() >= 19 {
        let reclen = u16::from_ne_bytes([b[16], b[17]]) as usize;
        if reclen < 19 || reclen > b.len() {
            return;
        }
        let name = &b[19..reclen];
        let mut pid: u32 = 0;
        let mut digits = 0;
        for &c in name.iter().take_while(|c| **c != 0) {
            if c.is_ascii_digit() && digits < 10 {
                pid = pid.wrapping_mul(10).wrapping_add((c - b'0') as u32);
                digits += 1;
            } else {
                digits = 0;
                break;
            }
        }
        if digits > 0 {
            out.push(pid);
        }
        b = &b[reclen..];
    }
}

/// The last field of `/proc/loadavg`.
pub(super) fn parse_last_pid(b: &[u8]) -> Option<u32> {
    std::str::from_utf8(b)
        .ok()?
        .split_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lister_matches_read_dir() {
        let mut l = DirLister::open("/proc").unwrap();
        let mut buf = vec![0u8; DIRENTS_BUF];
        let mut fast = Vec::new();
        l.list(&mut buf, &mut fast).unwrap();
        let mut slow: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        fast.sort_unstable();
        slow.sort_unstable();
        let me = std::process::id();
        assert!(fast.binary_search(&me).is_ok() && slow.binary_search(&me).is_ok());
        // Processes may come and go between the two listings.
        let common = fast
            .iter()
            .filter(|p| slow.binary_search(p).is_ok())
            .count();
        assert!(common + 5 >= slow.len(), "{} vs {}", fast.len(), slow.len());
        // Rewinding the open directory lists again.
        let mut again = Vec::new();
        l.list(&mut buf, &mut again).unwrap();
        assert!(again.contains(&me));
    }

    #[test]
    fn dirent_parser_is_defensive() {
        let mut out = Vec::new();
        parse_dirents(&[0u8; 10], &mut out);
        parse_dirents(&[0xffu8; 64], &mut out);
        assert!(out.is_empty());
    }
}
