//! redis-server (Debian's, on jemalloc) started under soak, for the tests that soak a real
//! third-party server: tests/real_programs.rs and tests/sites.rs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `redis-cli -p PORT ARGS…`'s standard output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let o = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli (apt-get install redis-tools)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Starts `soak OPTS -q --out OUT -- redis-server` on `port` (loopback, no persistence,
/// `extra` server arguments after those) in `dir`, and waits until redis answers.
pub fn soak_redis(dir: &Path, out: &Path, opts: &[&str], port: u16, extra: &[&str]) -> Child {
    let port_s = port.to_string();
    let soak = Command::new(super::soak())
        .args(opts)
        .args(["-q", "--out", out.to_str().expect("utf8"), "--"])
        .args(["redis-server", "--port", &port_s, "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start soak");
    let t0 = Instant::now();
    while redis_cli(port, &["ping"]).trim() != "PONG" {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "redis did not start under soak (apt-get install redis-server)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    soak
}
