//! `tearline party create` and `tearline marking set`.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use store::{Designation, DispositionKind, MarkingDisposition, NewParty};

use crate::admin_cmds::DEFAULT_API_ROOT;
use crate::config::{self, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum PartyCommand {
    /// Create a party; a partner gets an outbound and an inbound collection.
    /// Prints {"party","outbound","inbound"}.
    Create(PartyCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct PartyCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long)]
    pub name: String,
    /// A designation in force, `NAME` or `NAME@YYYY-MM-DD` (since when);
    /// repeatable.
    #[arg(long = "designation", value_name = "D")]
    pub designations: Vec<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long, value_name = "CC", default_value = "")]
    pub country: String,
    /// A group the party belongs to; repeatable.
    #[arg(long = "group", value_name = "G")]
    pub groups: Vec<String>,
    /// This is the home party (no collections; names the release identity).
    #[arg(long)]
    pub home: bool,
    #[arg(long, default_value = DEFAULT_API_ROOT)]
    pub api_root: String,
}

/// `NAME` or `NAME@YYYY-MM-DD`.
pub fn parse_designation(text: &str) -> anyhow::Result<Designation> {
    let (name, since) = match text.rsplit_once('@') {
        Some((name, since)) => (name, Some(since)),
        None => (text, None),
    };
    anyhow::ensure!(!name.trim().is_empty(), "a designation needs a name");
    if let Some(since) = since {
        let digits = since.bytes().filter(u8::is_ascii_digit).count();
        anyhow::ensure!(
            since.len() == 10 && digits == 8 && since.as_bytes().get(4) == Some(&b'-'),
            "designation date '{since}' must be YYYY-MM-DD"
        );
    }
    Ok(Designation {
        name: name.trim().to_owned(),
        since: since.map(str::to_owned),
    })
}

pub fn party(command: PartyCommand) -> anyhow::Result<ExitCode> {
    let PartyCommand::Create(args) = command;
    let (_, data) = args.data.resolve()?;
    if !args.home {
        server::ledger_ops::check_partner_name(&args.name)?;
    }
    let designations = args
        .designations
        .iter()
        .map(|d| parse_designation(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let country = args.country.trim().to_ascii_uppercase();
    anyhow::ensure!(
        country.is_empty()
            || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())),
        "--country must be a two-letter ISO 3166-1 code"
    );
    let new = NewParty {
        name: args.name.clone(),
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country,
        groups: args.groups.clone(),
        designations,
        home: args.home,
        api_root: args.api_root.clone(),
    };
    let party = config::block_on(async {
        let store = config::open_store(&data).await?;
        let party = store
            .create_party(&new, config::now_micros())
            .await
            .with_context(|| format!("creating party {}", new.name))?;
        store.close().await;
        anyhow::Ok(party)
    })??;
    println!(
        "{}",
        json!({"party": party.name, "outbound": party.outbound, "inbound": party.inbound})
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum MarkingCommand {
    /// Say what may happen to content under a marking-definition.
    Set(MarkingSetArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("disposition").required(true).args(["withhold", "release_to"])))]
pub struct MarkingSetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The marking-definition id.
    pub marking_id: String,
    /// Content under this marking never leaves.
    #[arg(long)]
    pub withhold: bool,
    /// Content under this marking may go to these parties or groups only.
    #[arg(long, value_delimiter = ',', value_name = "P,...")]
    pub release_to: Vec<String>,
}

pub fn marking(command: MarkingCommand) -> anyhow::Result<ExitCode> {
    let MarkingCommand::Set(args) = command;
    let (_, data) = args.data.resolve()?;
    anyhow::ensure!(
        args.marking_id.starts_with("marking-definition--"),
        "'{}' is not a marking-definition id",
        args.marking_id
    );
    let release_to: Vec<String> = args
        .release_to
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let disposition = if args.withhold {
        MarkingDisposition {
            marking_id: args.marking_id.clone(),
            kind: DispositionKind::Withhold,
            release_to: Vec::new(),
        }
    } else {
        anyhow::ensure!(
            !release_to.is_empty(),
            "--release-to needs at least one party or group"
        );
        MarkingDisposition {
            marking_id: args.marking_id.clone(),
            kind: DispositionKind::ReleaseTo,
            release_to,
        }
    };
    config::block_on(async {
        let store = config::open_store(&data).await?;
        store
            .set_marking_disposition(&disposition, config::now_micros())
            .await?;
        store.close().await;
        anyhow::Ok(())
    })??;
    println!(
        "{}",
        json!({"marking": disposition.marking_id, "disposition": disposition.kind.as_str(), "release_to": disposition.release_to})
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designations_parse() {
        let d = parse_designation("state-list@2024-03-01").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.since.as_deref(), Some("2024-03-01"));
        assert_eq!(d.name, "state-list");
        assert!(parse_designation("x@2024").is_err());
        assert_eq!(
            parse_designation("un-sanctions").map(|d| d.since).ok(),
            Some(None)
        );
    }
}
