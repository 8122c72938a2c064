//! `tearline import`: loads STIX files into a collection, validating every
//! object exactly as a TAXII POST does, in transactions of 1,000 objects.
//!
//! Files: a bundle, a JSON array of objects, a single object, or JSON lines
//! (one object per line); `.gz` files are decompressed on the fly. JSON
//! lines are read one line at a time; other forms are read whole.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Deserialize;
use serde_json::value::RawValue;
use server::ingest::{self, Rejection};
use stix::Limits;
use stix::validate::Validator;
use store::{AddOutcome, NewObject, Store};

use crate::admin_cmds::DEFAULT_API_ROOT;
use crate::config::{self, DataArgs};

const BATCH: usize = 1_000;
/// Rejections printed in full; the rest are only counted.
const SHOWN_REJECTIONS: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Collection id (or alias) to import into.
    #[arg(long)]
    pub collection: String,
    /// API root of the collection.
    #[arg(long, default_value = DEFAULT_API_ROOT)]
    pub api_root: String,
    /// STIX files: bundles, arrays, single objects or JSON lines; .gz ok.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Default)]
struct Summary {
    read: u64,
    stored: u64,
    duplicates: u64,
    rejected: u64,
}

struct Importer<'a> {
    store: &'a dyn Store,
    collection_id: String,
    validator: Validator,
    limits: Limits,
    batch: Vec<NewObject>,
    summary: Summary,
    progress: indicatif::ProgressBar,
}

impl Importer<'_> {
    async fn object(&mut self, origin: &str, raw: &str) -> anyhow::Result<()> {
        self.summary.read += 1;
        self.progress.inc(1);
        let checked = ingest::check_json(raw, self.limits.max_json_depth)
            .map_err(|err| Rejection {
                id: String::new(),
                version: String::new(),
                message: err.to_string(),
            })
            .and_then(|()| ingest::prepare(raw, &self.validator, &self.limits));
        match checked {
            Ok(object) => {
                self.batch.push(object);
                if self.batch.len() >= BATCH {
                    self.flush().await?;
                }
            }
            Err(rejection) => {
                self.summary.rejected += 1;
                if self.summary.rejected <= SHOWN_REJECTIONS as u64 {
                    self.progress.suspend(|| {
                        eprintln!(
                            "rejected {origin} {}: {}",
                            if rejection.id.is_empty() {
                                "(no id)"
                            } else {
                                &rejection.id
                            },
                            rejection.message
                        );
                    });
                }
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let outcomes = self
            .store
            .add_objects(&self.collection_id, &self.batch, config::now_micros())
            .await?;
        for outcome in outcomes {
            match outcome {
                AddOutcome::Stored { .. } => self.summary.stored += 1,
                AddOutcome::Duplicate => self.summary.duplicates += 1,
            }
        }
        self.batch.clear();
        Ok(())
    }

    async fn file(&mut self, path: &Path) -> anyhow::Result<()> {
        let opened =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let name = path.to_string_lossy();
        let gzipped = name.ends_with(".gz");
        let reader: Box<dyn Read> = if gzipped {
            Box::new(flate2::read::MultiGzDecoder::new(opened))
        } else {
            Box::new(opened)
        };
        let plain_name = name.trim_end_matches(".gz");
        if plain_name.ends_with(".jsonl") || plain_name.ends_with(".ndjson") {
            let mut lines = BufReader::new(reader);
            let mut line = String::new();
            let mut number = 0u64;
            loop {
                line.clear();
                let read = lines
                    .read_line(&mut line)
                    .with_context(|| format!("reading {}", path.display()))?;
                if read == 0 {
                    break;
                }
                number += 1;
                let text = line.trim();
                if !text.is_empty() {
                    self.object(&format!("{}:{number}", path.display()), text)
                        .await?;
                }
            }
            return Ok(());
        }
        let mut text = String::new();
        BufReader::new(reader)
            .read_to_string(&mut text)
            .with_context(|| format!("reading {} (UTF-8 JSON expected)", path.display()))?;
        for (index, raw) in top_level_objects(&text)
            .with_context(|| format!("{} is not a STIX bundle, array or object", path.display()))?
            .into_iter()
            .enumerate()
        {
            self.object(&format!("{}[{index}]", path.display()), raw)
                .await?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Bundle<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
}

/// The objects of a bundle or array, or the document itself.
fn top_level_objects(text: &str) -> anyhow::Result<Vec<&str>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let list: Vec<&RawValue> = serde_json::from_str(text)?;
        return Ok(list.into_iter().map(RawValue::get).collect());
    }
    let bundle: Bundle<'_> = serde_json::from_str(text)?;
    match (bundle.kind.as_deref(), bundle.objects) {
        (Some("bundle"), Some(objects)) => Ok(objects.into_iter().map(RawValue::get).collect()),
        (Some("bundle"), None) => Ok(Vec::new()),
        _ => Ok(vec![text.trim()]),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_, data) = args.data.resolve()?;
    config::block_on(async move {
        let store = config::open_store(&data).await?;
        let collection = store
            .collection(&args.api_root, &args.collection)
            .await?
            .with_context(|| {
                format!(
                    "no collection '{}' under /{}/",
                    args.collection, args.api_root
                )
            })?;
        let progress = indicatif::ProgressBar::new_spinner();
        progress.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        progress.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} objects read ({per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let mut importer = Importer {
            store: &store,
            collection_id: collection.id.clone(),
            validator: Validator::default(),
            limits: Limits::default(),
            batch: Vec::with_capacity(BATCH),
            summary: Summary::default(),
            progress,
        };
        for file in &args.files {
            importer.progress.set_message(file.display().to_string());
            importer.file(file).await?;
        }
        importer.flush().await?;
        importer.progress.finish_and_clear();
        let summary = &importer.summary;
        println!(
            "imported into {}: {} read, {} stored, {} already present, {} rejected",
            collection.id, summary.read, summary.stored, summary.duplicates, summary.rejected
        );
        if summary.rejected > SHOWN_REJECTIONS as u64 {
            eprintln!(
                "({} more rejections not shown)",
                summary.rejected - SHOWN_REJECTIONS as u64
            );
        }
        store.close().await;
        anyhow::Ok(if summary.rejected == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_objects_in_each_form() {
        let bundle = r#"{"type":"bundle","id":"bundle--1","objects":[{"a":1}, {"b":2}]}"#;
        assert_eq!(
            top_level_objects(bundle).ok(),
            Some(vec![r#"{"a":1}"#, r#"{"b":2}"#])
        );
        assert_eq!(
            top_level_objects(r#"[{"a":1}]"#).ok(),
            Some(vec![r#"{"a":1}"#])
        );
        let single = r#"{"type":"note","id":"note--1"}"#;
        assert_eq!(top_level_objects(single).ok(), Some(vec![single]));
        assert!(top_level_objects("nonsense").is_err());
    }
}
