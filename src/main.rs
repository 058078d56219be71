//! The `soak` binary: parse, run, print, exit with the documented code.

#![deny(clippy::print_stdout, clippy::print_stderr)]

use clap::Parser;
use soak::cli::Cli;
use soak::error::exit_code;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line, without its usage block.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
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
