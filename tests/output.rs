//! soak's own output channels: a closed stdout or stderr, machine-readable stdout under
//! GitHub Actions, and hostile strings through every exporter.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::process::{Command, Stdio};

/// A pipe whose read end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fresh descriptors, each owned once below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fds[0] and fds[1] are valid and owned by nobody else.
    let (reader, writer) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    Stdio::from(writer)
}

/// Runs soak for 1 s on `sleep 30` with stdout and stderr as given; returns the exit
/// code and the run directory's tempdir.
fn run_with(stdout: Stdio, stderr: Stdio, format: &str) -> (i32, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let status = Command::new(soak())
        .args([
            "--duration",
            "1s",
            "--interval",
            "100ms",
            "--format",
            format,
        ])
        .arg("--out")
        .arg(&out)
        .args(["--", "sleep", "30"])
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .unwrap();
    (status.code().unwrap_or(-1), d)
}

fn assert_reported(d: &tempfile::TempDir) {
    let out = d.path().join("run");
    for f in ["report.json", "report.md", "report.html", "junit.xml"] {
        assert!(out.join(f).exists(), "{f} written");
    }
}

#[test]
fn closed_stdout_keeps_the_report_and_the_exit_code() {
    for format in ["text", "json"] {
        let (code, d) = run_with(closed_pipe(), Stdio::null(), format);
        // `sleep` neither grows nor ends: PASS or INCONCLUSIVE, never a panic (101).
        assert!(matches!(code, 0 | 3), "{format}: exit {code}");
        assert_reported(&d);
    }
}

#[test]
fn closed_stderr_keeps_the_report_and_the_exit_code() {
    let (code, d) = run_with(Stdio::null(), closed_pipe(), "text");
    assert!(matches!(code, 0 | 3), "exit {code}");
    assert_reported(&d);
}

#[test]
fn closed_stdout_and_stderr_keep_the_report_and_the_exit_code() {
    let (code, d) = run_with(closed_pipe(), closed_pipe(), "text");
    assert!(matches!(code, 0 | 3), "exit {code}");
    assert_reported(&d);
}

#[test]
fn closed_output_of_a_usage_error_keeps_exit_2() {
    let status = Command::new(soak())
        .args(["--duration", "nonsense", "--", "true"])
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

const HOSTILE_NAME: &str = "x<script>alert(1)</script> `y` | *z* 100%, a:b\nc";
const HOSTILE_ARG: &str = "a`<img src=x onerror=alert(4)>`b";
/// A table pipe in an argument: outside a table cell it must show as it is.
const PIPE_ARG: &str = "x | y";

/// Raw HTML elements a Markdown renderer must never produce from the target's strings.
fn assert_no_live_html(rendered: &str, what: &str) {
    for tag in ["<img", "<script", "<svg", "<iframe"] {
        assert!(
            !rendered.to_ascii_lowercase().contains(tag),
            "{what} renders a live {tag}:\n{rendered}"
        );
    }
}

fn render_markdown(md: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::all());
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

#[test]
fn hostile_name_and_arguments_are_escaped_in_every_export() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let summary = d.path().join("summary.md");
    let o = Command::new(soak())
        .args(["--duration", "1s", "--interval", "100ms"])
        .args(["--name", HOSTILE_NAME])
        .arg("--out")
        .arg(&out)
        .args(["--", "sh", "-c", "sleep 30", HOSTILE_ARG, PIPE_ARG])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));

    // report.md and the step summary, through a CommonMark (GFM) renderer.
    for f in [out.join("report.md"), summary] {
        let md = std::fs::read_to_string(&f).unwrap();
        let html = render_markdown(&md);
        assert_no_live_html(&html, &f.display().to_string());
        // The strings are shown, not dropped: as text, escaped once by the renderer.
        assert!(
            html.contains("x&lt;script&gt;alert(1)&lt;/script&gt; `y` | *z* 100%, a:b c"),
            "the name shows verbatim in {}:\n{html}",
            f.display()
        );
        assert!(
            html.contains(
                "<code>sh -c sleep 30 a`&lt;img src=x onerror=alert(4)&gt;`b x | y</code>"
            ),
            "the command is one code span in {}:\n{html}",
            f.display()
        );
    }

    // report.html: the name and the argument are text, never elements.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("a`&lt;img src=x onerror=alert(4)&gt;`b"));

    // junit.xml: well-formed XML whose attributes read back as the name.
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testsuite" =>
            {
                for a in e.attributes() {
                    let a = a.unwrap();
                    if a.key.as_ref() == b"name" {
                        names.push(a.unescape_value().unwrap().into_owned());
                    }
                }
            }
            Ok(_) => {}
            Err(e) => panic!("junit.xml is not well-formed: {e}\n{xml}"),
        }
    }
    assert_eq!(names.len(), 1, "{xml}");
    assert!(names[0].contains("x<script>alert(1)</script>"), "{names:?}");

    // The annotation: one workflow command on one line, the title's `:` and `,` escaped.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let commands: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "{stderr}");
    let (props, _message) = commands[0][2..].split_once("::").unwrap();
    let title = props.split_once(" title=").unwrap().1;
    assert!(!title.contains(',') && !title.contains(':'), "{title}");
    assert!(title.contains("100%25%2C a%3Ab%0Ac"), "{title}");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("::"),
        "{}",
        show(&o)
    );
}

#[test]
fn target_logs_are_capped_keeping_head_and_tail() {
    let d = tempfile::tempdir().unwrap();
    for (cap, args) in [
        (16 * 1024 * 1024u64, vec![]),
        (1024 * 1024, vec!["--log-cap", "1MiB"]),
    ] {
        let out = d.path().join(format!("run-{cap}"));
        let o = Command::new(soak())
            .args(["--duration", "3s", "--interval", "200ms"])
            .args(&args)
            .arg("--out")
            .arg(&out)
            // `yes` writes as fast as the pipe takes: gigabytes in a few seconds.
            .args(["--", "sh", "-c", "echo first-line; yes soak-log-line"])
            .output()
            .unwrap();
        assert!(matches!(code(&o), 0 | 1 | 3), "{}", show(&o));
        let log = out.join("target.stdout.log");
        let len = std::fs::metadata(&log).unwrap().len();
        assert!(
            len <= cap + 300 && len > cap / 2,
            "log of {len} bytes for a cap of {cap}"
        );
        let text = std::fs::read(&log).unwrap();
        assert!(
            text.starts_with(b"first-line\nsoak-log-line\n"),
            "the head is kept"
        );
        let text = String::from_utf8_lossy(&text);
        let tail = &text[text.len() - 1000..];
        assert!(
            tail.contains("soak-log-line\nsoak-log-line\n") && !tail.contains("cut here"),
            "the tail is kept"
        );
        assert!(
            text.contains("bytes of output cut here"),
            "the cut is marked"
        );
        assert!(
            !out.join("target.stdout.log.tail").exists(),
            "the ring is removed"
        );
        let r = report(&out);
        let notes = r["notes"].to_string();
        assert!(
            notes.contains("target.stdout.log was capped"),
            "the report says so: {notes}"
        );
    }
}

#[test]
fn log_cap_zero_is_unlimited_and_small_logs_are_whole() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = Command::new(soak())
        .args(["--duration", "1s", "--interval", "100ms", "--log-cap", "0"])
        .arg("--out")
        .arg(&out)
        .args(["--", "sh", "-c", "echo to-out; echo to-err >&2; sleep 30"])
        .output()
        .unwrap();
    assert!(matches!(code(&o), 0 | 3), "{}", show(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("target.stdout.log")).unwrap(),
        "to-out\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("target.stderr.log")).unwrap(),
        "to-err\n"
    );
    assert!(!report(&out)["notes"].to_string().contains("capped"));
}

/// A newline in the target's argv must not start a line of soak's stderr of its own:
/// under GitHub Actions such a line (`::error …::`) is a workflow command.
#[test]
fn an_argv_with_a_newline_cannot_inject_a_workflow_command() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = Command::new(soak())
        .args(["--duration", "1s", "--interval", "100ms", "--out"])
        .arg(&out)
        .args([
            "--",
            "sh",
            "-c",
            "sleep 5",
            "x\n::error title=pwn::from-argv",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.lines().any(|l| l.starts_with("::error title=pwn")),
        "an injected workflow command: {err}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        !stdout.lines().any(|l| l.starts_with("::error title=pwn")),
        "{stdout}"
    );
}

#[test]
fn a_usage_error_is_one_line_that_names_what_is_missing() {
    let o = run(&["analyze", "--prometheus", "http://127.0.0.1:9"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--query"), "{err}");
    let o = run(&["--no-such-flag"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}
