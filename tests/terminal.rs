//! soak on a real terminal: a pseudo-terminal 80 columns wide (python3's `pty`), as a
//! user at a shell sees it — the progress bar fits and keeps its bar, says "warming up"
//! during the warm-up, and the verdict is coloured unless NO_COLOR says otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::Command;

/// Runs argv in a pseudo-terminal of `cols` columns (stdout and stderr both on it) and
/// copies everything the terminal received to stdout, then the exit code on stderr.
const PTY: &str = r#"
import fcntl, os, pty, struct, sys, termios
cols = int(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.execvp(argv[0], argv)
out = bytearray()
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out))
sys.stderr.write(str(os.waitstatus_to_exitcode(status)))
"#;

/// What the terminal showed and soak's exit code; `None` when python3 is missing (and
/// the test may be skipped).
fn on_terminal(cols: u16, env: &[(&str, &str)], args: &[&str]) -> Option<(String, i32)> {
    let have = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if skip_unless(
        have,
        "terminal",
        "python3 (for a pseudo-terminal) is missing",
    ) {
        return None;
    }
    let mut c = Command::new("python3");
    c.args(["-c", PTY, &cols.to_string()])
        .arg(soak())
        .args(args)
        .env("COLUMNS", cols.to_string())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env("TERM", "xterm-256color");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let code: i32 = String::from_utf8_lossy(&o.stderr)
        .trim()
        .parse()
        .unwrap_or(-1);
    Some((String::from_utf8_lossy(&o.stdout).into_owned(), code))
}

/// `s` without its escape sequences (colours, cursor moves, line clears).
fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, up to the final byte (@ to ~).
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The progress bar's frames as the terminal got them (each redraw starts a line).
fn bar_frames(screen: &str) -> Vec<String> {
    strip_escapes(screen)
        .split(['\r', '\n'])
        .map(|l| l.trim_end().to_string())
        .filter(|l| l.starts_with("00:00:0") && l.contains(" ["))
        .collect()
}

/// A steady workload's run: 2 s of warm-up, then 4 s judged (the live trend is
/// recomputed every 2 s, so a verdict so far shows from 4 s on).
fn steady_run(dir: &std::path::Path) -> Vec<String> {
    let w = workload();
    [
        "--duration",
        "6s",
        "--interval",
        "100ms",
        "--warmup",
        "2s",
        "--out",
        dir.to_str().unwrap(),
        "--",
        w.to_str().unwrap(),
        "steady",
        "20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn the_progress_bar_fits_80_columns_and_says_warming_up() {
    let d = tempfile::tempdir().unwrap();
    let args = steady_run(&d.path().join("run"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some((screen, code)) = on_terminal(80, &[], &args) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    let frames = bar_frames(&screen);
    assert!(frames.len() >= 3, "bar frames: {frames:?}\n{screen:?}");
    for f in &frames {
        assert!(f.chars().count() < 80, "wider than the terminal: {f:?}");
        let inner = f
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map(|(bar, _)| bar.chars().count())
            .unwrap_or(0);
        assert_eq!(inner, 20, "a quarter of 80 columns: {f:?}");
    }
    // The warm-up (2 s of 6) is said as such, never as a verdict so far.
    let warm: Vec<&String> = frames.iter().filter(|f| f.contains("warming up")).collect();
    assert!(!warm.is_empty(), "{frames:?}");
    assert!(warm.iter().all(|f| !f.contains("so far")), "{warm:?}");
    assert!(
        frames.iter().any(|f| f.contains("PASS so far")),
        "a verdict so far once warmed up: {frames:?}"
    );
}

#[test]
fn the_verdict_is_coloured_on_a_terminal_unless_no_color() {
    let d = tempfile::tempdir().unwrap();
    let quiet = |name: &str| {
        let mut a = steady_run(&d.path().join(name));
        a.insert(0, "--quiet".into());
        a
    };
    let args = quiet("a");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some((screen, exit)) = on_terminal(80, &[], &args) else {
        return;
    };
    assert_eq!(exit, 0, "{screen}");
    assert!(
        screen.contains("soak: \x1b[1;32mPASS\x1b[0m — "),
        "PASS in green on a terminal: {screen:?}"
    );
    let args = quiet("b");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (screen, exit) = on_terminal(80, &[("NO_COLOR", "1")], &args).unwrap();
    assert_eq!(exit, 0, "{screen}");
    assert!(screen.contains("soak: PASS — "), "{screen:?}");
    assert!(!screen.contains("\x1b[1;3"), "NO_COLOR: {screen:?}");
    // Off a terminal (a pipe): plain, unless CLICOLOR_FORCE asks for colour.
    for (force, coloured) in [(false, false), (true, true)] {
        let mut c = Command::new(soak());
        c.args(quiet(&format!("pipe-{force}")))
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        if force {
            c.env("CLICOLOR_FORCE", "1");
        }
        let o = c.output().unwrap();
        assert_eq!(code(&o), 0, "{}", show(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).contains("\x1b[1;32mPASS"),
            coloured,
            "CLICOLOR_FORCE={force}: {}",
            show(&o)
        );
    }
}
