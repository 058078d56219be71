//! `soak completions` and `soak man`: the bash script loads and completes in a real bash,
//! the pages render with groff (and man) without warnings.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

const SUBCOMMANDS: [&str; 6] = [
    "analyze",
    "report",
    "compare",
    "prune",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(code(&o), 0, "{}", show(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn tool(name: &str, package: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    !skip_unless(
        found,
        test,
        &format!("{name} (Debian package {package}; .ci/run installs it)"),
    )
}

#[test]
fn bash_completion_loads_and_completes_subcommands_and_options() {
    if !tool("bash", "bash", "bash_completion_loads") {
        return;
    }
    // The script is sourced as a bash user's completion file would be, then its
    // function is asked to complete what a user typed.
    let script = format!(
        r#"source <("{soak}" completions bash) || exit 9
complete -p soak || exit 8
COMP_WORDS=(soak pr); COMP_CWORD=1; COMP_LINE="soak pr"; COMP_POINT=7
_soak soak pr soak; echo "subs: ${{COMPREPLY[*]}}"
COMP_WORDS=(soak prune --ke); COMP_CWORD=2; COMP_LINE="soak prune --ke"; COMP_POINT=15
_soak soak --ke prune; echo "opts: ${{COMPREPLY[*]}}""#,
        soak = soak().display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", show(&o));
    assert!(out.contains("-F _soak soak"), "{out}");
    assert!(out.contains("subs: prune"), "{out}");
    assert!(out.contains("opts: --keep"), "{out}");
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let s = stdout_of(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(s.contains(sub), "{shell} script lacks {sub}");
        }
        assert!(s.contains("--max-growth-rate") || s.contains("max-growth-rate"));
        assert!(!s.contains("guard"), "the internal guard stays hidden");
    }
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef soak"));
    assert!(stdout_of(&["completions", "fish"]).contains("complete -c soak"));
}

/// groff's rendering of a page (through preconv, as man does) and its warnings (-ww: all
/// of them), less the line-filling ones lintian ignores too: a long token such as a
/// PromQL example cannot be broken, which is typesetting, not an error of the page.
fn groff(page: &str) -> (String, String) {
    let mut child = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let warnings = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.contains("cannot adjust line") && !l.contains("cannot break line"))
        .collect::<Vec<_>>()
        .join("\n");
    (String::from_utf8_lossy(&o.stdout).into_owned(), warnings)
}

#[test]
fn man_pages_render_without_warnings() {
    if !tool("groff", "groff-base", "man_pages_render") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let listed = stdout_of(&["man", "--dir", d.path().to_str().unwrap()]);
    let mut files: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(listed.lines().count(), files.len(), "{listed}");
    assert!(files.contains(&"soak.1".to_string()), "{files:?}");
    for sub in SUBCOMMANDS {
        assert!(files.contains(&format!("soak-{sub}.1")), "{files:?}");
    }
    for f in &files {
        let page = std::fs::read_to_string(d.path().join(f)).unwrap();
        let (text, warnings) = groff(&page);
        assert!(warnings.trim().is_empty(), "{f}: {warnings}");
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{f}: {text}"
        );
    }
    // soak(1) on stdout is the same page, and names what the package installs.
    let soak1 = stdout_of(&["man"]);
    assert_eq!(
        soak1,
        std::fs::read_to_string(d.path().join("soak.1")).unwrap()
    );
    let (text, _) = groff(&soak1);
    for want in [
        "--max-growth-rate",
        "FILES",
        "/etc/soak/NAME.toml",
        "soak-prune(1)",
    ] {
        assert!(text.contains(want), "soak(1) lacks {want}");
    }
    let (prune, _) = groff(&stdout_of(&["man", "prune"]));
    assert!(
        prune.contains("--older-than") && prune.contains("soak(1)"),
        "{prune}"
    );
}

#[test]
fn man_reads_the_page_like_an_installed_one() {
    if !tool("man", "man-db", "man_reads_the_page") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let page = d.path().join("soak.1");
    std::fs::write(&page, stdout_of(&["man"])).unwrap();
    let o = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("MANPAGER", "cat")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", show(&o));
    assert!(text.contains("soak - Run or attach"), "{text}");
}

#[test]
fn an_unknown_page_or_shell_is_a_usage_error() {
    for args in [&["man", "nosuch"][..], &["completions", "tcsh"][..]] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let err = String::from_utf8_lossy(&run(&["man", "nosuch"]).stderr).into_owned();
    assert!(
        err.contains("soak-prune"),
        "names the pages there are: {err}"
    );
}
