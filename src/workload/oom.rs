//! Evidence that the OOM killer ended a process: the kernel log (`/dev/kmsg`) and the
//! memory cgroup's `oom_kill` counter. Without evidence, a SIGKILL is reported as
//! "possibly OOM", never as certain.

use std::io::Read;

/// The `oom_kill` count of the memory cgroup soak runs in, where readable.
pub fn cgroup_oom_kills() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let layout = crate::sample::cgroup::locate(std::path::Path::new("/sys/fs/cgroup"), &own)?;
    parse_oom_kill(&std::fs::read_to_string(layout.oom_file()).ok()?)
}

/// Parses the `oom_kill N` line of memory.events / memory.oom_control.
pub fn parse_oom_kill(text: &str) -> Option<u64> {
    crate::sample::cgroup::kv(text, "oom_kill")
}

/// Whether the kernel log says the OOM killer killed `pid`.
pub fn kernel_log_names(pid: u32) -> Option<String> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open("/dev/kmsg")
        .ok()?;
    let mut buf = vec![0u8; 8192];
    let mut found = None;
    // /dev/kmsg returns one record per read and EAGAIN at the end.
    for _ in 0..100_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                if let Some(msg) = kmsg_oom_line(&rec, pid) {
                    found = Some(msg);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    found
}

/// Microseconds of CLOCK_MONOTONIC, the clock of the kernel log's timestamps.
pub fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Where a run's OOM evidence starts: the monotonic time (the kernel log's clock) and
/// the machine's OOM-kill count then.
#[derive(Debug, Clone, Copy)]
pub struct OomMark {
    /// Microseconds of CLOCK_MONOTONIC (see [`monotonic_us`]).
    pub since_us: u64,
    /// `oom_kill` of `/proc/vmstat` (Linux ≥ 4.13).
    global_kills: Option<u64>,
}

impl OomMark {
    /// Now.
    pub fn now() -> OomMark {
        OomMark {
            since_us: monotonic_us(),
            global_kills: global_oom_kills(),
        }
    }

    /// Whether the OOM killer may have killed anything since the mark: the kernel log,
    /// read whole (tens of thousands of records on a machine up for long), is scanned
    /// only then. It was most of the CPU a short run spends outside its ticks.
    pub fn any_kill_since(&self) -> bool {
        match (self.global_kills, global_oom_kills()) {
            (Some(a), Some(b)) => b != a,
            _ => true,
        }
    }
}

/// The machine's OOM kills since boot (`oom_kill` in `/proc/vmstat`).
pub fn global_oom_kills() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/vmstat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// Every OOM kill the kernel log still holds: (pid, timestamp in µs since boot, message).
pub fn kernel_log_oom_kills() -> Vec<(u32, u64, String)> {
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open("/dev/kmsg")
    else {
        return Vec::new();
    };
    let mut buf = vec![0u8; 8192];
    let mut found = Vec::new();
    for _ in 0..100_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                if let Some(k) = kmsg_oom_kill(&rec) {
                    found.push(k);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    found
}

/// The pid, timestamp (µs) and message of one kmsg record reporting an OOM kill.
pub fn kmsg_oom_kill(record: &str) -> Option<(u32, u64, String)> {
    let (head, msg) = record.split_once(';').unwrap_or(("", record));
    let ts = head
        .split(',')
        .nth(2)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let msg = msg.lines().next().unwrap_or("");
    if !(msg.contains("out of memory") || msg.contains("Out of memory")) {
        return None;
    }
    let rest = msg.split_once("Killed process ")?.1;
    let pid = rest.split(' ').next()?.parse().ok()?;
    Some((pid, ts, msg.trim().to_string()))
}

/// Evidence that the OOM killer killed a process of the tree other than `root`:
/// kernel-log lines since `mark` naming one of `members`
/// (every pid seen in the tree), else a rise of soak's cgroup `oom_kill` count beyond
/// the root's own kill. `None`: no evidence.
pub fn members_killed(
    mark: OomMark,
    root: u32,
    members: &std::collections::BTreeSet<u32>,
    oom_kills_before: Option<u64>,
    root_oom_killed: bool,
) -> Option<String> {
    let log = if mark.any_kill_since() {
        kernel_log_oom_kills()
    } else {
        Vec::new()
    };
    let named: Vec<String> = log
        .into_iter()
        .filter(|(p, ts, _)| *p != root && members.contains(p) && *ts >= mark.since_us)
        .map(|(_, _, m)| format!("\"{m}\""))
        .collect();
    if !named.is_empty() {
        return Some(format!(
            "the OOM killer killed {} process(es) of the target's tree: kernel log says {}",
            named.len(),
            named.join(", ")
        ));
    }
    let (a, b) = (oom_kills_before?, cgroup_oom_kills()?);
    let others = b
        .saturating_sub(a)
        .saturating_sub(u64::from(root_oom_killed));
    (others > 0).then(|| {
        format!(
            "the memory cgroup soak and the target run in counted {others} OOM kill(s) during the run besides the main process (oom_kill {a} → {b}): a process of the target's tree, most likely, was killed"
        )
    })
}

/// Whether one kmsg record reports an OOM kill of `pid`.
pub fn kmsg_oom_line(record: &str, pid: u32) -> Option<String> {
    let msg = record.split_once(';').map(|(_, m)| m).unwrap_or(record);
    let msg = msg.lines().next().unwrap_or("");
    let needle = format!("Killed process {pid} ");
    (msg.contains(&needle) && (msg.contains("out of memory") || msg.contains("Out of memory")))
        .then(|| msg.trim().to_string())
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// The OOM note for a process killed by `signal`, given the cgroup count before the run.
pub fn explain(pid: u32, signal: Option<i32>, oom_kills_before: Option<u64>) -> Option<String> {
    if signal != Some(libc::SIGKILL) {
        return None;
    }
    if let Some(line) = kernel_log_names(pid) {
        return Some(format!("OOM-killed: kernel log says \"{line}\""));
    }
    if let (Some(a), Some(b)) = (oom_kills_before, cgroup_oom_kills()) {
        if b > a {
            return Some(format!(
                "OOM-killed: the memory cgroup's oom_kill count rose from {a} to {b}"
            ));
        }
    }
    Some("killed by SIGKILL, possibly OOM (no kernel-log or cgroup evidence readable)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_evidence() {
        assert_eq!(
            parse_oom_kill("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n"),
            Some(2)
        );
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"),
            Some(7)
        );
        let rec = "3,1234,5678,-;Out of memory: Killed process 4242 (leaky) total-vm:1000kB, anon-rss:900kB\n";
        assert!(kmsg_oom_line(rec, 4242).is_some());
        assert!(kmsg_oom_line(rec, 424).is_none());
        let rec = "3,1,2,-;Memory cgroup out of memory: Killed process 77 (x) total-vm:1kB\n";
        assert!(kmsg_oom_line(rec, 77).is_some());
        assert_eq!(kmsg_oom_kill(rec).map(|k| k.0), Some(77));
        assert_eq!(kmsg_oom_kill("6,1,2,-;Killed process 5 by hand\n"), None);
    }

    #[test]
    fn sigkill_without_evidence_is_possible_oom() {
        let e = explain(u32::MAX - 1, Some(libc::SIGKILL), None).unwrap();
        assert!(e.contains("SIGKILL") || e.contains("OOM"), "{e}");
        assert!(explain(1, Some(libc::SIGSEGV), None).is_none());
    }
}
