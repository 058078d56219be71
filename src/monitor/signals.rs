//! Stop signals (Ctrl-C, SIGTERM): installed before the target starts so none is
//! missed, counted by soak's own action so a blocked loop still sees them, and traced
//! to the process that sent them.

use crate::error::{Error, Result};
use crate::sample::procfs::ProcReader;
use crate::workload::tree::ProcessTree;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Ctrl-C and SIGTERM, installed before the target starts so that none is missed.
pub(super) struct StopSignals {
    int: Signal,
    term: Signal,
}

pub(super) fn install(k: SignalKind) -> Result<Signal> {
    signal(k).map_err(|e| Error::Monitor(format!("cannot install signal handler: {e}")))
}

/// Stop signals counted by soak's own `SA_SIGINFO` action (registered beside tokio's):
/// a loop that blocks the runtime (the stop's grace period) can still see a new one.
static STOPS_SEEN: AtomicU64 = AtomicU64::new(0);
/// The last stop signal and who sent it: `signal << 32 | pid`, pid 0 when no process
/// sent it (a terminal's Ctrl-C, the kernel).
static LAST_STOP: AtomicU64 = AtomicU64::new(0);
static RECORD_ORIGINS: std::sync::Once = std::sync::Once::new();

/// Registers the action that counts stop signals and keeps their sender (siginfo's
/// `si_pid`), once per process.
fn record_origins() -> Result<()> {
    let mut failed = None;
    RECORD_ORIGINS.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let action = move |info: &libc::siginfo_t| {
                // si_pid is meaningful for signals a process sent (kill, sigqueue,
                // tgkill: si_code <= 0), not for a terminal's or the kernel's.
                // SAFETY: reading the union field the kernel filled for these codes.
                let pid = if info.si_code <= 0 {
                    unsafe { info.si_pid() }.max(0) as u64
                } else {
                    0
                };
                LAST_STOP.store(((sig as u64) << 32) | pid, Ordering::SeqCst);
                STOPS_SEEN.fetch_add(1, Ordering::SeqCst);
            };
            // SAFETY: the action only stores to atomics, which is async-signal-safe,
            // and the registry chains it with tokio's own action for the signal.
            if let Err(e) = unsafe { signal_hook_registry::register_sigaction(sig, action) } {
                failed = Some(e);
            }
        }
    });
    match failed {
        Some(e) => Err(Error::Monitor(format!(
            "cannot install signal handler: {e}"
        ))),
        None => Ok(()),
    }
}

impl StopSignals {
    pub(super) fn install() -> Result<StopSignals> {
        let s = StopSignals {
            int: install(SignalKind::interrupt())?,
            term: install(SignalKind::terminate())?,
        };
        record_origins()?;
        Ok(s)
    }

    /// How many stop signals soak has received so far.
    pub(super) fn seen() -> u64 {
        STOPS_SEEN.load(Ordering::SeqCst)
    }

    /// The process that sent the last stop signal, when it was `sig` and a process sent it.
    pub(super) fn sender_of(sig: i32) -> Option<u32> {
        let v = LAST_STOP.load(Ordering::SeqCst);
        let pid = (v & 0xffff_ffff) as u32;
        ((v >> 32) as i32 == sig && pid > 0).then_some(pid)
    }

    /// The next stop signal's number (SIGINT first when both are pending).
    pub(super) async fn recv(&mut self) -> i32 {
        std::future::poll_fn(|cx| {
            if self.int.poll_recv(cx).is_ready() {
                std::task::Poll::Ready(libc::SIGINT)
            } else if self.term.poll_recv(cx).is_ready() {
                std::task::Poll::Ready(libc::SIGTERM)
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// Who sent stop signal `sig` to soak, in words, and whether it came from inside the
/// target's tree: the tree's members now or at any tick, the root, any descendant of the
/// root, or a process in the target's process group.
pub(super) fn signal_sender(
    sig: i32,
    tree: &ProcessTree,
    reader: &mut ProcReader,
    seen: &std::collections::BTreeSet<u32>,
    root: u32,
    pgid: Option<i32>,
) -> (String, bool) {
    let name = crate::workload::signal_name(sig);
    let Some(pid) = StopSignals::sender_of(sig) else {
        return (
            format!("{name} came from no process (a terminal's Ctrl-C or the kernel)"),
            false,
        );
    };
    let comm = i32::try_from(pid)
        .ok()
        .and_then(|p| procfs::process::Process::new(p).ok()?.stat().ok())
        .map(|st| format!(" ({})", st.comm.trim()))
        .unwrap_or_default();
    let stat = reader.stat(pid).ok();
    let mut inside = pid == root
        || tree.contains(pid)
        || seen.contains(&pid)
        || pgid.is_some_and(|g| stat.as_ref().is_some_and(|s| s.pgrp == g));
    // A descendant the ticks never saw (it lived less than an interval).
    let mut p = stat.map(|s| s.ppid);
    for _ in 0..64 {
        match p {
            Some(q) if q == root => inside = true,
            Some(q) if q > 1 && !inside => {
                p = reader.stat(q).ok().map(|s| s.ppid);
                continue;
            }
            _ => {}
        }
        break;
    }
    if inside {
        (
            format!("{name} from pid {pid}{comm}, a process of the target's tree: the target ended the run"),
            true,
        )
    } else {
        (
            format!("{name} from pid {pid}{comm}, outside the target's tree"),
            false,
        )
    }
}
