//! soak's own terminal output: the summary on stdout, messages on stderr.
//!
//! A reader that went away (`soak ... | head -1`, a closed CI log pipe) must never
//! cost the report or change the exit code: every write here ignores its error
//! (`EPIPE` included; Rust ignores SIGPIPE, so a closed pipe is an error, not a
//! signal). `print!`/`eprintln!` would panic instead (exit 101).

use std::io::Write;

/// Writes `text` to stdout as is; a failed write is ignored.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Writes `line` and a newline to stdout; a failed write is ignored.
pub fn out_line(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(line.as_bytes());
    let _ = o.write_all(b"\n");
    let _ = o.flush();
}

/// Writes `line` and a newline to stderr; a failed write is ignored.
pub fn err_line(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(line.as_bytes());
    let _ = e.write_all(b"\n");
    let _ = e.flush();
}
