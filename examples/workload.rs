//! A small workload for soak's tests and README: steady, leaking at a known rate, a
//! process tree, a daemon, or a process that exits or crashes.
//!
//! ```text
//! workload steady [MB]               hold MB (default 20) and idle
//! workload leak RATE_MB_PER_MIN      start at 10 MB, grow at RATE (touched pages)
//! workload tree CHILDREN MB          spawn CHILDREN copies of `steady MB`, hold MB itself
//! workload daemon MB                 double-fork: the started process exits at once,
//!                                    a detached grandchild holds MB
//! workload exit SECONDS CODE         hold 10 MB, exit with CODE after SECONDS
//! workload crash SECONDS             abort (SIGABRT) after SECONDS
//! workload fds PER_SECOND            open /dev/null PER_SECOND times a second, never close
//! workload churn                     every 200 ms start a child that holds 5 MB for 300 ms
//! ```

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

fn hold(mb: f64) -> Vec<u8> {
    // Filled, so the pages are resident, not just reserved; black_box keeps the
    // optimiser from removing a buffer nobody reads.
    std::hint::black_box(vec![0x5a; (mb * 1e6) as usize])
}

fn idle_forever(_keep: Vec<u8>) -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn arg(args: &[String], i: usize, default: f64) -> f64 {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("steady");
    match mode {
        "steady" => idle_forever(hold(arg(&args, 2, 20.0))),
        "leak" => {
            let rate_per_s = arg(&args, 2, 60.0) * 1e6 / 60.0;
            let _base = hold(10.0);
            let mut leaked: Vec<Vec<u8>> = Vec::new();
            let start = Instant::now();
            let mut total = 0.0f64;
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let due = start.elapsed().as_secs_f64() * rate_per_s;
                let chunk = (due - total).max(0.0) as usize;
                if chunk > 0 {
                    leaked.push(std::hint::black_box(vec![0xa5; chunk]));
                    total += chunk as f64;
                }
            }
        }
        "tree" => {
            let n = arg(&args, 2, 2.0) as usize;
            let mb = arg(&args, 3, 20.0);
            let exe = std::env::current_exe().expect("current exe");
            let mut kids = Vec::new();
            for _ in 0..n {
                kids.push(
                    std::process::Command::new(&exe)
                        .args(["steady", &mb.to_string()])
                        .spawn()
                        .expect("spawn child"),
                );
            }
            idle_forever(hold(mb))
        }
        "daemon" => {
            let mb = arg(&args, 2, 20.0);
            // SAFETY: single-threaded here; fork/setsid/_exit are the classic daemon dance.
            unsafe {
                match libc::fork() {
                    -1 => std::process::exit(70),
                    0 => {
                        libc::setsid();
                        match libc::fork() {
                            -1 => libc::_exit(70),
                            0 => {}
                            _ => libc::_exit(0),
                        }
                    }
                    _ => {
                        // The starter waits a moment so the daemon is running, then exits.
                        std::thread::sleep(Duration::from_millis(100));
                        std::process::exit(0);
                    }
                }
            }
            idle_forever(hold(mb))
        }
        "exit" => {
            let _m = hold(10.0);
            std::thread::sleep(Duration::from_secs_f64(arg(&args, 2, 1.0)));
            std::process::exit(arg(&args, 3, 0.0) as i32)
        }
        "crash" => {
            let _m = hold(10.0);
            std::thread::sleep(Duration::from_secs_f64(arg(&args, 2, 1.0)));
            std::process::abort()
        }
        "churn" => {
            let exe = std::env::current_exe().expect("current exe");
            let _m = hold(5.0);
            let mut kids: Vec<std::process::Child> = Vec::new();
            loop {
                kids.push(
                    std::process::Command::new(&exe)
                        .args(["exit", "0.3", "0"])
                        .spawn()
                        .expect("spawn child"),
                );
                std::thread::sleep(Duration::from_millis(200));
                // Reap the ones that finished, as a real server reaps its workers.
                kids.retain_mut(|k| !matches!(k.try_wait(), Ok(Some(_))));
            }
        }
        "fds" => {
            let per_s = arg(&args, 2, 10.0);
            let mut files = Vec::new();
            let start = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(100));
                while (files.len() as f64) < start.elapsed().as_secs_f64() * per_s {
                    files.push(std::fs::File::open("/dev/null").expect("open /dev/null"));
                }
            }
        }
        other => {
            eprintln!("workload: unknown mode '{other}'");
            std::process::exit(2)
        }
    }
}
