//! The sampling clock.

/// The sampling clock: a periodic `timerfd` on CLOCK_MONOTONIC driven by the runtime.
/// One wake-up per tick (tokio's timer wheel wakes twice for intervals over 64 ms), and
/// the kernel's expiration count tells exactly how many ticks were missed.
pub(super) struct Ticker {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl Ticker {
    pub(super) fn new(interval: std::time::Duration) -> std::io::Result<Ticker> {
        use std::os::fd::FromRawFd;
        // SAFETY: timerfd_create returns a new descriptor we own, or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh, valid descriptor owned by nobody else.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let ts = |d: std::time::Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts(interval),
            // The first tick fires at once: the run's first sample is at t = 0.
            it_value: ts(std::time::Duration::from_nanos(1)),
        };
        // SAFETY: spec is a valid itimerspec; the old value is not requested.
        if unsafe { libc::timerfd_settime(raw, 0, &spec, std::ptr::null_mut()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `owned` is a valid open timerfd, owned by the AsyncFd for its lifetime,
        // and OwnedFd::as_raw_fd always returns that same descriptor.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        }
        .map_err(|e| e.into_parts().1)?;
        Ok(Ticker { fd })
    }

    /// Waits for the next tick; returns how many periods expired since the last call.
    pub(super) async fn tick(&mut self) -> std::io::Result<u64> {
        use std::os::fd::AsRawFd;
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|fd| {
                let mut n: u64 = 0;
                // SAFETY: reads 8 bytes into a u64 we own.
                let r = unsafe {
                    libc::read(
                        fd.as_raw_fd(),
                        (&mut n as *mut u64).cast(),
                        std::mem::size_of::<u64>(),
                    )
                };
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n)
                }
            });
            match res {
                Ok(r) => {
                    // The expirations were all read: the next tick is a new edge. Clearing
                    // the readiness now saves the read that would only find EAGAIN at the
                    // next call (tokio keeps a readiness that arrived after this guard).
                    guard.clear_ready();
                    return r;
                }
                Err(_would_block) => continue,
            }
        }
    }
}
