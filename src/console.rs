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

/// One of soak's output streams, for [`colour`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The summary (or the JSON report).
    Stdout,
    /// Messages, status lines, the progress bar.
    Stderr,
}

/// Whether what soak writes to `stream` is coloured: never when `NO_COLOR` is set to
/// anything but the empty string (no-color.org); always when `CLICOLOR_FORCE` is set
/// and not `0`; never when `CLICOLOR=0` or `TERM=dumb`; otherwise only on a terminal,
/// so a pipe, a file or a CI log gets plain text.
pub fn colour(stream: Stream) -> bool {
    use std::io::IsTerminal;
    let tty = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    colour_with(|k| std::env::var_os(k), tty)
}

/// [`colour`] over any environment.
fn colour_with(env: impl Fn(&str) -> Option<std::ffi::OsString>, tty: bool) -> bool {
    let is = |k: &str, v: &str| env(k).is_some_and(|x| x == v);
    let non_empty = |k: &str| env(k).is_some_and(|x| !x.is_empty());
    if non_empty("NO_COLOR") {
        false
    } else if non_empty("CLICOLOR_FORCE") && !is("CLICOLOR_FORCE", "0") {
        true
    } else if is("CLICOLOR", "0") || is("TERM", "dumb") {
        false
    } else {
        tty
    }
}

/// A verdict or outcome word (`PASS`, `FAIL`, `INCONCLUSIVE`, `TARGET FAILED`, `MONITOR
/// ERROR`) in bold and its colour when `on` — green, red, yellow; red for a failed target
/// or monitor — else as it is.
pub fn paint(word: &str, on: bool) -> String {
    let code = match word {
        "PASS" => "1;32",
        "INCONCLUSIVE" => "1;33",
        "FAIL" | "TARGET FAILED" | "MONITOR ERROR" => "1;31",
        _ => return word.to_string(),
    };
    if on {
        format!("\x1b[{code}m{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

/// [`paint`], padded with spaces to `width` columns (the escape codes take none).
pub fn paint_padded(word: &str, width: usize, on: bool) -> String {
    let pad = width.saturating_sub(word.chars().count());
    format!("{}{}", paint(word, on), " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn with(vars: &[(&str, &str)], tty: bool) -> bool {
        colour_with(
            |k| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| OsString::from(v))
            },
            tty,
        )
    }

    #[test]
    fn colour_follows_the_terminal_and_the_conventions() {
        assert!(with(&[], true));
        assert!(!with(&[], false), "not a terminal");
        assert!(!with(&[("NO_COLOR", "1")], true));
        assert!(
            with(&[("NO_COLOR", "")], true),
            "an empty NO_COLOR is unset"
        );
        assert!(with(&[("CLICOLOR_FORCE", "1")], false));
        assert!(!with(&[("CLICOLOR_FORCE", "0")], false));
        assert!(
            !with(&[("NO_COLOR", "x"), ("CLICOLOR_FORCE", "1")], true),
            "NO_COLOR wins"
        );
        assert!(!with(&[("CLICOLOR", "0")], true));
        assert!(!with(&[("TERM", "dumb")], true));
    }

    #[test]
    fn paint_colours_verdicts_only_when_on() {
        assert_eq!(paint("PASS", true), "\x1b[1;32mPASS\x1b[0m");
        assert_eq!(paint("FAIL", false), "FAIL");
        assert_eq!(paint("INCONCLUSIVE", true), "\x1b[1;33mINCONCLUSIVE\x1b[0m");
        assert_eq!(paint("other", true), "other");
        assert_eq!(paint_padded("FAIL", 6, true), "\x1b[1;31mFAIL\x1b[0m  ");
    }
}
