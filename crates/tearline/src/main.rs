//! The `tearline` binary: command-line parsing, configuration and wiring.
//! Business logic lives in the library crates; each subcommand here only
//! reads arguments, calls them, and turns results into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod pattern_cmd;
mod validate_cmd;

/// tearline: a need-to-know threat-intelligence exchange (TAXII 2.1 server
/// for STIX 2.1 with per-recipient release under policy and a verifiable
/// release ledger).
#[derive(Debug, Parser)]
#[command(name = "tearline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate STIX 2.1 content (bundles, objects, arrays, JSON lines; .gz; stdin).
    Validate(validate_cmd::Args),
    /// Check STIX patterns and match them against observed data.
    #[command(subcommand)]
    Pattern(pattern_cmd::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd::run(args),
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
