//! `soak completions SHELL` and `soak man`: generated from the clap definitions, so they
//! can never disagree with `soak --help`.

use super::Cli;
use crate::console;
use crate::error::{Error, Result};
use clap::{Args, CommandFactory};
use std::path::PathBuf;

/// Arguments of `soak completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  soak completions bash > ~/.local/share/bash-completion/completions/soak
  soak completions zsh > ~/.zfunc/_soak      (with fpath+=~/.zfunc before compinit)
  soak completions fish > ~/.config/fish/completions/soak.fish")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Arguments of `soak man`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  soak man | man -l -               read soak(1) without installing it
  soak man prune | man -l -         read soak-prune(1)
  soak man --dir target/man         write soak.1 and soak-SUBCOMMAND.1 for packaging")]
pub struct ManArgs {
    /// A subcommand's page (soak-SUBCOMMAND(1)) instead of soak(1).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Option<String>,
    /// Write every page (soak.1, soak-analyze.1, ...) into DIR instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `soak completions SHELL`: the completion script on stdout.
pub fn completions(a: &CompletionsArgs) -> Result<i32> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "soak", &mut buf);
    console::out(&String::from_utf8_lossy(&buf));
    Ok(0)
}

/// `soak man [SUBCOMMAND] [--dir DIR]`.
pub fn man(a: &ManArgs) -> Result<i32> {
    let pages = pages()?;
    if let Some(dir) = &a.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create man page directory", dir.clone(), e))?;
        for (file, text) in &pages {
            let path = dir.join(file);
            std::fs::write(&path, text).map_err(|e| Error::io("cannot write", path.clone(), e))?;
            console::out_line(&path.display().to_string());
        }
        return Ok(0);
    }
    let file = match &a.subcommand {
        None => "soak.1".to_string(),
        Some(s) => format!("soak-{s}.1"),
    };
    match pages.iter().find(|(f, _)| *f == file) {
        Some((_, text)) => {
            console::out(text);
            Ok(0)
        }
        None => Err(Error::Usage(format!(
            "no manual page for {:?}; pages: {}",
            a.subcommand.as_deref().unwrap_or_default(),
            pages
                .iter()
                .map(|(f, _)| f.trim_end_matches(".1"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Every page: soak(1), then one per visible subcommand, as (file name, roff).
fn pages() -> Result<Vec<(String, String)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let names: Vec<String> = subs
        .iter()
        .map(|s| format!("soak-{}", s.get_name()))
        .collect();
    let mut see_also: Vec<String> = names.iter().map(|n| format!("{n}(1)")).collect();
    see_also.extend(["systemctl(1)", "systemd.exec(5)"].map(String::from));
    let mut out = vec![(
        "soak.1".to_string(),
        page(
            cmd,
            &[files_section(), section("SEE ALSO", &see_also.join(", "))],
        )?,
    )];
    for (sub, name) in subs.into_iter().zip(names) {
        out.push((
            format!("{name}.1"),
            page(sub, &[section("SEE ALSO", "soak(1)")])?,
        ));
    }
    Ok(out)
}

/// One page: clap_mangen's sections with its "EXTRA" (the help's epilogue: exit codes,
/// sources, examples) under the conventional NOTES, then `extra` sections.
fn page(cmd: clap::Command, extra: &[String]) -> Result<String> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .manual("soak manual")
        .source(format!("soak {}", env!("CARGO_PKG_VERSION")))
        .render(&mut buf)
        .map_err(|e| Error::Monitor(format!("cannot render the manual page: {e}")))?;
    let mut text = String::from_utf8_lossy(&buf).replace("\n.SH EXTRA\n", "\n.SH NOTES\n");
    for s in extra {
        text.push_str(s);
    }
    Ok(text)
}

/// A roff section of plain text (escaped: a line may not start with a control character).
fn section(title: &str, body: &str) -> String {
    format!(".SH \"{title}\"\n{}\n", roff_text(body))
}

/// Text as roff prints it literally: backslashes and hyphens escaped (a bare `-` may be
/// typeset as a hyphen, which a copied path or option would not survive).
fn roff_text(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// Where the Debian package and the units put things (README "Soak on a dedicated box").
fn files_section() -> String {
    let items = [
        (
            "/etc/soak/NAME.toml",
            "the profile soak@NAME.service runs: a copy of /etc/soak/nightly.toml with command = [...] added",
        ),
        (
            "/var/lib/soak/reports/",
            "the units' run directories, one per run: NAME-UTC time",
        ),
        (
            "/etc/soak/notify",
            "an optional executable that soak-notify@.service runs when a soak@ unit fails",
        ),
        (
            "/usr/lib/systemd/system/soak@.service",
            "one run per profile; soak-nightly@.timer starts it nightly, soak-prune.timer removes old runs",
        ),
    ];
    let mut s = String::from(".SH FILES\n");
    for (path, what) in items {
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_text(path),
            roff_text(what)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_page_for_soak_and_each_visible_subcommand() {
        let p = pages().unwrap();
        let files: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(files[0], "soak.1");
        let cmd = Cli::command();
        let visible: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .collect();
        assert!(visible.contains(&"prune"), "{visible:?}");
        for sub in visible {
            let page = format!("soak-{sub}.1");
            assert!(files.contains(&page.as_str()), "{files:?}");
        }
        assert!(!files.contains(&"soak-help.1"), "no page for clap's help");
        let soak = &p[0].1;
        assert!(soak.contains(".TH soak 1 "), "{soak}");
        assert!(soak.contains(".SH NOTES") && !soak.contains(".SH EXTRA"));
        assert!(soak.contains(".SH FILES") && soak.contains("soak\\-prune(1)"));
    }
}
