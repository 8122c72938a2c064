//! `tearline release request | approve | show | explain`. Exit codes: 0
//! done, 1 refused (nothing changed), 2 error.

use std::process::ExitCode;

use server::releases::{self, ReleaseError};

use crate::config::{self, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum ReleaseCommand {
    /// Ask for a release of objects (and what they reference) to a partner.
    /// Prints {"release","state","objects","reasons"}.
    Request(RequestArgs),
    /// Approve a pending release (a releasing officer other than the
    /// requester).
    Approve(ApproveArgs),
    /// Withdraw what a release sent: its objects get a new version with
    /// `revoked: true` in the partner's collection (a releasing officer).
    Recall(RecallArgs),
    /// List releases, newest first: {"releases": [...], "next"}.
    List(ListArgs),
    /// Print a release: state, objects, reasons, approvals.
    Show(ShowArgs),
    /// Print every decision of a release with the policy ids behind it.
    Explain(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The requesting account.
    #[arg(long = "as", value_name = "ACCOUNT")]
    pub account: String,
    /// The partner party.
    #[arg(long, value_name = "PARTY")]
    pub to: String,
    /// Object id to release; repeatable.
    #[arg(long = "object", value_name = "ID", required = true)]
    pub objects: Vec<String>,
    #[arg(long)]
    pub justification: String,
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long = "as", value_name = "ACCOUNT")]
    pub account: String,
    pub release: String,
}

#[derive(Debug, clap::Args)]
pub struct RecallArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long = "as", value_name = "ACCOUNT")]
    pub account: String,
    pub release: String,
    #[arg(long)]
    pub justification: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Only releases in this state: pending-approval, released or denied.
    #[arg(long)]
    pub state: Option<String>,
    /// Only releases to this partner.
    #[arg(long, value_name = "PARTY")]
    pub party: Option<String>,
    /// Most releases to print (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Continue a listing: the `next` value of the previous one.
    #[arg(long)]
    pub next: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub data: DataArgs,
    pub release: String,
}

fn finish(result: Result<serde_json::Value, ReleaseError>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(ReleaseError::Refused(message)) => {
            eprintln!("refused: {message}");
            Ok(ExitCode::from(1))
        }
        Err(err) => Err(err.into()),
    }
}

pub fn run(command: ReleaseCommand) -> anyhow::Result<ExitCode> {
    let data = match &command {
        ReleaseCommand::Request(args) => &args.data,
        ReleaseCommand::Approve(args) => &args.data,
        ReleaseCommand::Recall(args) => &args.data,
        ReleaseCommand::List(args) => &args.data,
        ReleaseCommand::Show(args) | ReleaseCommand::Explain(args) => &args.data,
    };
    let (_, data) = data.resolve()?;
    let result = config::block_on(async {
        let store = config::open_store(&data).await?;
        let now = config::now_micros();
        let result = match &command {
            ReleaseCommand::Request(args) => releases::request(
                &*store,
                &args.account,
                &args.to,
                &args.objects,
                &args.justification,
                now,
            )
            .await
            .and_then(|s| {
                serde_json::to_value(s).map_err(|e| ReleaseError::Invalid(e.to_string()))
            }),
            ReleaseCommand::Approve(args) => {
                releases::approve(&*store, &args.release, &args.account, now)
                    .await
                    .and_then(|s| {
                        serde_json::to_value(s).map_err(|e| ReleaseError::Invalid(e.to_string()))
                    })
            }
            ReleaseCommand::Recall(args) => releases::recall(
                &*store,
                &args.release,
                &args.account,
                &args.justification,
                now,
            )
            .await
            .and_then(|s| {
                serde_json::to_value(s).map_err(|e| ReleaseError::Invalid(e.to_string()))
            }),
            ReleaseCommand::List(args) => {
                releases::list(
                    &*store,
                    args.state.as_deref(),
                    args.party.as_deref(),
                    args.limit,
                    args.next.as_deref(),
                )
                .await
            }
            ReleaseCommand::Show(args) => releases::show(&*store, &args.release).await,
            ReleaseCommand::Explain(args) => releases::explain(&*store, &args.release).await,
        };
        store.close().await;
        anyhow::Ok(result)
    })??;
    finish(result)
}
