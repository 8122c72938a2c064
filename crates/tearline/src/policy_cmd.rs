//! `tearline policy check | load | show`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use release::policy::Policy;
use serde_json::json;

use crate::config::{self, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate a Cedar policy file against tearline's schema.
    Check { file: PathBuf },
    /// Validate a policy file and make it the current policy version.
    Load {
        #[command(flatten)]
        data: DataArgs,
        file: PathBuf,
    },
    /// Print the current policy version and text.
    Show {
        #[command(flatten)]
        data: DataArgs,
    },
}

fn read(file: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => {
            let text = read(&file)?;
            match Policy::load(&text) {
                Ok(policy) => {
                    println!("{}", json!({"valid": true, "version": policy.version()}));
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{}: {err}", file.display());
                    println!("{}", json!({"valid": false, "error": err.to_string()}));
                    Ok(ExitCode::from(1))
                }
            }
        }
        PolicyCommand::Load { data, file } => {
            let (_, data) = data.resolve()?;
            let text = read(&file)?;
            let version = config::block_on(async {
                let store = config::open_store(&data).await?;
                let version =
                    server::releases::load_policy(&*store, &text, config::now_micros()).await;
                store.close().await;
                anyhow::Ok(version)
            })??;
            match version {
                Ok(version) => {
                    println!("{}", json!({"loaded": true, "version": version}));
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{}: {err}", file.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        PolicyCommand::Show { data } => {
            let (_, data) = data.resolve()?;
            let policy = config::block_on(async {
                let store = config::open_store(&data).await?;
                let policy =
                    server::releases::current_policy(&*store, config::now_micros()).await?;
                let current = store.current_policy().await?;
                store.close().await;
                anyhow::Ok((policy.version().to_owned(), current))
            })??;
            let (version, current) = policy;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "version": version,
                    "loaded": current.as_ref().map(|c| server::timestamp::format_taxii(c.created_at)),
                    "text": current.map(|c| c.text),
                }))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
