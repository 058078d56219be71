//! The `soak` binary: parse, run, print, exit with the documented code.

#![deny(clippy::print_stdout, clippy::print_stderr)]

use clap::Parser;
use soak::cli::Cli;
use soak::error::exit_code;
use std::process::ExitCode;

fn main() -> ExitCode {
    if soak::cli::run_as_guard() {
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line, without its usage block; a first line that ends
            // in ':' ("required arguments were not provided:") takes the list under it.
            let text = e.to_string();
            let mut lines = text.lines();
            let mut first = lines.next().unwrap_or("invalid arguments").to_string();
            if first.ends_with(':') {
                let items: Vec<&str> = lines
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                first = format!("{} {}", first, items.join(", "));
            }
            soak::console::err_line(&format!(
                "soak: {} (see soak --help)",
                first.trim_start_matches("error: ").trim()
            ));
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    let code = match soak::cli::execute(cli) {
        Ok(code) => code,
        Err(e) => {
            soak::console::err_line(&format!("soak: {e}"));
            e.exit_code()
        }
    };
    ExitCode::from(code as u8)
}
