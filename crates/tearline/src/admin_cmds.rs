//! Administration: `init`, `collection create`, `account create`,
//! `token create`. They work while `tearline serve` runs on the same data
//! directory (SQLite WAL and a busy timeout).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use store::{ApiRoot, NewAccount, NewCollection, Role};

use crate::config::{self, DataArgs};

/// The API root `init` creates.
pub const DEFAULT_API_ROOT: &str = "api1";

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Title of the first API root.
    #[arg(long, default_value = "tearline")]
    pub title: String,
    /// Name of the release ledger's signing key: use a domain you control.
    /// Each partner's log is named `<NAME>/<party>` in its checkpoints.
    #[arg(long, value_name = "NAME", default_value = config::DEFAULT_LEDGER_NAME)]
    pub ledger_name: String,
    /// Where to create the ledger signing key (default: `ledger.key` in the
    /// data directory). Needed with --database and no --data.
    #[arg(long, env = "TEARLINE_LEDGER_KEY", value_name = "FILE")]
    pub ledger_key: Option<PathBuf>,
}

/// `tearline init`: creates the data directory (or prepares an empty
/// PostgreSQL database), the API root `/api1/` and the ledger signing key.
pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let (file, target) = args.data.resolve()?;
    // Checked before anything is written, so a bad name leaves no half-made directory.
    server::ledger_ops::LogSigner::generate(&args.ledger_name).with_context(|| {
        format!(
            "--ledger-name {:?}: use a name without spaces or '+', like example.org/ledger",
            args.ledger_name
        )
    })?;
    let key_path = match (
        args.ledger_key.clone().or(file.ledger_key.clone()),
        &target.data,
    ) {
        (Some(path), _) => path,
        (None, Some(data)) => data.join(config::LEDGER_KEY_FILE),
        (None, None) => anyhow::bail!(
            "with --database and no --data, pass --ledger-key FILE: where to create the ledger \
             signing key (every node needs it)"
        ),
    };
    if key_path.exists() {
        anyhow::bail!(
            "{} already exists; tearline will not replace a ledger key",
            key_path.display()
        );
    }
    let location = target.location()?;
    let described = target.describe();
    if let store::Location::Sqlite(database) = &location {
        if database.exists() {
            anyhow::bail!("{described} is already initialised");
        }
        if let Some(data) = &target.data {
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating the data directory {}", data.display()))?;
        }
    }
    // The key first: a store that exists is "initialised", so it must never
    // exist without its key. If the store cannot be made, the key goes.
    let verifier = config::create_ledger_key(&key_path, &args.ledger_name)?;
    let made = config::block_on(async {
        let store = store::open(&location, true, &target.postgres)
            .await
            .with_context(|| format!("creating the store at {described}"))?;
        let result = async {
            if !store.api_roots().await?.is_empty() {
                anyhow::bail!("{described} is already initialised");
            }
            store
                .create_api_root(
                    &ApiRoot {
                        name: DEFAULT_API_ROOT.to_owned(),
                        title: args.title.clone(),
                        description: None,
                    },
                    config::now_micros(),
                )
                .await?;
            anyhow::Ok(())
        }
        .await;
        store.close().await;
        result
    })
    .and_then(|made| made);
    if let Err(err) = made {
        let _ = std::fs::remove_file(&key_path);
        return Err(err);
    }
    println!(
        "initialised {described} (API root /{DEFAULT_API_ROOT}/)\nledger key: {} (keep it \
         secret; every node needs it)\nledger verifier key: {verifier}",
        key_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tearline migrate`: brings the database schema up to date (both
/// backends); safe to run again and while nodes run.
pub fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (_, target) = args.data.resolve()?;
    config::block_on(async {
        let store = config::migrate_store(&target).await?;
        store.close().await;
        anyhow::Ok(())
    })??;
    println!("{} is up to date", target.describe());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum CollectionCommand {
    /// Create a collection; prints its id as the last line of stdout.
    Create(CollectionCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct CollectionCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Unique alias that may stand in for the id in URLs.
    #[arg(long)]
    pub alias: Option<String>,
    /// API root to create it under.
    #[arg(long, default_value = DEFAULT_API_ROOT)]
    pub api_root: String,
}

pub fn collection(command: CollectionCommand) -> anyhow::Result<ExitCode> {
    let CollectionCommand::Create(args) = command;
    let (_, data) = args.data.resolve()?;
    let created = config::block_on(async {
        let store = config::open_store(&data).await?;
        let created = store
            .create_collection(
                &NewCollection {
                    api_root: args.api_root.clone(),
                    title: args.title.clone(),
                    description: args.description.clone(),
                    alias: args.alias.clone(),
                },
                config::now_micros(),
            )
            .await?;
        store.close().await;
        anyhow::Ok(created)
    })??;
    eprintln!(
        "created collection '{}' under /{}/",
        created.title, created.api_root
    );
    println!("{}", created.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Create an account with collection grants.
    Create(AccountCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct AccountCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Login name (HTTP Basic user).
    #[arg(long)]
    pub name: String,
    /// Read the password from standard input (one trailing newline is
    /// stripped). Without it the account can only use bearer tokens.
    #[arg(long)]
    pub password_stdin: bool,
    /// Collection ids this account may read (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub read: Vec<String>,
    /// Collection ids this account may write (comma separated); independent
    /// of --read.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub write: Vec<String>,
    /// analyst, releasing-officer, auditor, admin or partner.
    #[arg(long, default_value = "analyst", value_parser = parse_role)]
    pub role: Role,
    /// The party (organisation) the account belongs to.
    #[arg(long)]
    pub party: Option<String>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
        format!("unknown role '{text}'; one of {}", known.join(", "))
    })
}

/// Removes exactly one trailing newline (`\n` or `\r\n`).
pub fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

pub fn account(command: AccountCommand) -> anyhow::Result<ExitCode> {
    let AccountCommand::Create(args) = command;
    let (_, data) = args.data.resolve()?;
    let password_hash = if args.password_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("reading the password from stdin")?;
        let password = strip_one_newline(&input);
        if password.is_empty() {
            anyhow::bail!("the password on stdin is empty");
        }
        Some(server::auth::hash_password(password)?)
    } else {
        None
    };
    let clean = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .collect()
    };
    let mut new = NewAccount {
        name: args.name.clone(),
        password_hash,
        role: args.role,
        party: args.party.clone(),
        read: clean(&args.read),
        write: clean(&args.write),
    };
    if args.role == Role::Partner && args.party.is_none() {
        anyhow::bail!("a partner account needs --party NAME");
    }
    let created = config::block_on(async {
        let store = config::open_store(&data).await?;
        if args.role == Role::Partner
            && let Some(name) = &args.party
        {
            // A partner reads what was released to it and writes what it
            // sends us; it never writes its outbound collection.
            let party = store
                .party(name)
                .await?
                .filter(|p| !p.home)
                .with_context(|| format!("no partner party named {name}"))?;
            let (Some(outbound), Some(inbound)) = (party.outbound, party.inbound) else {
                anyhow::bail!("partner {name} has no collections");
            };
            new.write.retain(|id| *id != outbound);
            new.read.push(outbound);
            new.write.push(inbound);
        }
        let created = store.create_account(&new, config::now_micros()).await?;
        store.close().await;
        anyhow::Ok(created)
    })??;
    println!(
        "created account '{}' (role {}, read {}, write {})",
        created.name,
        created.role,
        new.read.len(),
        new.write.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for an account; prints it once on stdout.
    Create(TokenCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The account the token authenticates as.
    #[arg(long)]
    pub account: String,
    /// A note for operators (where the token is used).
    #[arg(long)]
    pub label: Option<String>,
}

pub fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create(args) = command;
    let (_, data) = args.data.resolve()?;
    let (token, digest) = server::auth::new_token();
    config::block_on(async {
        let store = config::open_store(&data).await?;
        store
            .add_token(
                &args.account,
                &digest,
                args.label.as_deref(),
                config::now_micros(),
            )
            .await?;
        store.close().await;
        anyhow::Ok(())
    })??;
    eprintln!(
        "token for '{}' (shown once; only its digest is stored):",
        args.account
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_newline() {
        assert_eq!(strip_one_newline("pw\n"), "pw");
        assert_eq!(strip_one_newline("pw\r\n"), "pw");
        assert_eq!(strip_one_newline("pw\n\n"), "pw\n");
        assert_eq!(strip_one_newline("pw"), "pw");
        assert_eq!(strip_one_newline(" pw "), " pw ");
    }
}
