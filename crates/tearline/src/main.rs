//! The `tearline` binary: command-line parsing, configuration and wiring.
//! Business logic lives in the library crates; each subcommand here only
//! reads arguments, calls them, and turns results into output and exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin_cmds;
mod config;
mod demo;
mod import_cmd;
mod ledger_cmd;
mod party_cmd;
mod pattern_cmd;
mod policy_cmd;
mod release_cmd;
mod serve_cmd;
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
    /// Create a data directory (or prepare an empty PostgreSQL database):
    /// the schema, the API root /api1/ and the ledger signing key.
    Init(admin_cmds::InitArgs),
    /// Bring a database's schema up to date (SQLite or PostgreSQL).
    Migrate(admin_cmds::MigrateArgs),
    /// Manage TAXII collections.
    #[command(subcommand)]
    Collection(admin_cmds::CollectionCommand),
    /// Manage accounts and their collection grants.
    #[command(subcommand)]
    Account(admin_cmds::AccountCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(admin_cmds::TokenCommand),
    /// Run the TAXII 2.1 server.
    Serve(serve_cmd::Args),
    /// Load STIX files into a collection (validated like a TAXII POST).
    Import(import_cmd::Args),
    /// Manage parties (the home party and partners).
    #[command(subcommand)]
    Party(party_cmd::PartyCommand),
    /// Say what may happen to content under a marking.
    #[command(subcommand)]
    Marking(party_cmd::MarkingCommand),
    /// Check, load and show the release policy (Cedar).
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Request, approve, show and explain releases to partners.
    #[command(subcommand)]
    Release(release_cmd::ReleaseCommand),
    /// The release ledger: keys, signed checkpoints, records, proofs, and
    /// the offline verifier.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
    /// Show a whole need-to-know exchange on this machine in under a minute.
    Demo(demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate_cmd::run(args),
        Command::Pattern(cmd) => pattern_cmd::run(cmd),
        Command::Init(args) => admin_cmds::init(args),
        Command::Migrate(args) => admin_cmds::migrate(args),
        Command::Collection(cmd) => admin_cmds::collection(cmd),
        Command::Account(cmd) => admin_cmds::account(cmd),
        Command::Token(cmd) => admin_cmds::token(cmd),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Import(args) => import_cmd::run(args),
        Command::Party(cmd) => party_cmd::party(cmd),
        Command::Marking(cmd) => party_cmd::marking(cmd),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Release(cmd) => release_cmd::run(cmd),
        Command::Ledger(cmd) => ledger_cmd::run(cmd),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
