//! `tearline import`: loads STIX content into a collection, validating every
//! object exactly as a TAXII POST does and storing them in transactions of
//! `--batch` objects (one transaction per batch, like one TAXII envelope).
//!
//! Inputs are streamed with `stix::reader` (bundles, arrays, single objects,
//! JSON lines; gzip recognised by content; `-` is stdin), so a file of any
//! size is never held whole. A reading thread frames objects while the
//! store writes the previous batch.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use server::ingest::{self, Rejection};
use stix::Limits;
use stix::reader::{self, RawObject, ReadError};
use stix::validate::Validator;
use store::{AddOutcome, NewObject, Store};
use tokio::sync::mpsc;

use crate::admin_cmds::DEFAULT_API_ROOT;
use crate::config::{self, DataArgs};

/// Rejections printed one by one; the rest are only counted by reason.
const SHOWN_REJECTIONS: usize = 20;
/// Batches the reading thread may run ahead of the store.
const READ_AHEAD: usize = 4;

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
    /// Objects per transaction (like one TAXII envelope).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// STIX files: bundles, arrays, single objects or JSON lines, plain or
    /// gzip; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Default)]
struct Summary {
    read: u64,
    stored: u64,
    duplicates: u64,
    invalid: u64,
    /// Invalid objects per reason (the validator's rule id or the kind of
    /// problem), so a large import ends with a readable tally.
    reasons: BTreeMap<String, u64>,
    unreadable_inputs: u64,
}

struct Importer<'a> {
    store: &'a dyn Store,
    collection_id: String,
    validator: Validator,
    limits: Limits,
    batch_size: usize,
    batch: Vec<NewObject>,
    summary: Summary,
    progress: indicatif::ProgressBar,
}

/// The short reason an object was refused, for the tally.
fn reason_key(message: &str) -> String {
    // Validator findings read "invalid STIX 2.1: [rule-id] path: message".
    if let Some(rule) = message
        .strip_prefix("invalid STIX 2.1: [")
        .and_then(|rest| rest.split_once(']'))
        .map(|(rule, _)| rule)
    {
        return rule.to_owned();
    }
    message
        .split([':', ';', '('])
        .next()
        .unwrap_or(message)
        .trim()
        .to_owned()
}

impl Importer<'_> {
    async fn object(&mut self, origin: &str, raw: RawObject) -> anyhow::Result<()> {
        self.summary.read += 1;
        let where_ = format!("{origin} object {} (line {})", raw.index, raw.line);
        let checked = match raw.text {
            Err(problem) => Err(Rejection {
                id: String::new(),
                version: String::new(),
                message: problem.to_string(),
            }),
            Ok(text) => ingest::check_json(&text, self.limits.max_json_depth)
                .map_err(|err| Rejection {
                    id: String::new(),
                    version: String::new(),
                    message: err.to_string(),
                })
                .and_then(|()| ingest::prepare(&text, &self.validator, &self.limits)),
        };
        match checked {
            Ok(object) => {
                self.batch.push(object);
                if self.batch.len() >= self.batch_size {
                    self.flush().await?;
                }
            }
            Err(rejection) => self.reject(&where_, &rejection),
        }
        Ok(())
    }

    fn reject(&mut self, where_: &str, rejection: &Rejection) {
        self.summary.invalid += 1;
        *self
            .summary
            .reasons
            .entry(reason_key(&rejection.message))
            .or_default() += 1;
        if self.summary.invalid <= SHOWN_REJECTIONS as u64 {
            let id = if rejection.id.is_empty() {
                "(no id)"
            } else {
                &rejection.id
            };
            self.progress
                .suspend(|| eprintln!("invalid: {where_} {id}: {}", rejection.message));
        }
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let outcomes = self
            .store
            .add_objects(&self.collection_id, &self.batch, config::now_micros())
            .await
            .context("storing a batch of objects")?;
        for outcome in outcomes {
            match outcome {
                AddOutcome::Stored { .. } => self.summary.stored += 1,
                AddOutcome::Duplicate => self.summary.duplicates += 1,
            }
        }
        self.batch.clear();
        self.progress.set_message(format!(
            "{} stored, {} duplicates, {} invalid",
            self.summary.stored, self.summary.duplicates, self.summary.invalid
        ));
        Ok(())
    }

    /// Imports one input. A stream error (truncated gzip, JSON syntax
    /// outside an object) ends that input; what was read before is kept.
    async fn input(&mut self, path: &Path) -> anyhow::Result<()> {
        let name = if path.as_os_str() == "-" {
            "stdin".to_owned()
        } else {
            path.display().to_string()
        };
        let source: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            if let Ok(metadata) = file.metadata() {
                self.progress.set_length(metadata.len());
            }
            Box::new(file)
        };
        self.progress.set_position(0);
        self.progress.set_prefix(name.clone());
        // The bar counts bytes as the file is read (compressed bytes for gzip).
        let source = self.progress.wrap_read(source);

        let (sender, mut receiver) = mpsc::channel::<Vec<RawObject>>(READ_AHEAD);
        let limits = self.limits.clone();
        let batch_size = self.batch_size;
        let reading = std::thread::spawn(move || {
            let mut pending = Vec::with_capacity(batch_size);
            let outcome = reader::read(source, &limits, |raw: RawObject| {
                pending.push(raw);
                if pending.len() >= batch_size {
                    let full = std::mem::replace(&mut pending, Vec::with_capacity(batch_size));
                    // A closed channel means the importer gave up (store error).
                    sender.blocking_send(full).map_err(|_| StoreGaveUp)?;
                }
                Ok(())
            });
            if !pending.is_empty() {
                let _ = sender.blocking_send(pending);
            }
            outcome
        });
        let mut store_error = None;
        while let Some(objects) = receiver.recv().await {
            for raw in objects {
                if let Err(err) = self.object(&name, raw).await {
                    store_error = Some(err);
                    break;
                }
            }
            if store_error.is_some() {
                break;
            }
        }
        drop(receiver);
        let read_outcome = reading
            .join()
            .map_err(|_| anyhow::anyhow!("the reading thread of {name} failed"))?;
        if let Some(err) = store_error {
            return Err(err);
        }
        match read_outcome {
            Ok(_) => Ok(()),
            Err(ReadError::Callback(StoreGaveUp)) => Ok(()),
            Err(err) => {
                self.summary.unreadable_inputs += 1;
                self.progress
                    .suspend(|| eprintln!("{name}: {err} (objects before this point were read)"));
                Ok(())
            }
        }
    }
}

/// The reading thread stops because the importer stopped listening.
#[derive(Debug)]
struct StoreGaveUp;

impl std::fmt::Display for StoreGaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the importer stopped")
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_, data) = args.data.resolve()?;
    let stdin_count = args.files.iter().filter(|f| f.as_os_str() == "-").count();
    if stdin_count > 1 {
        anyhow::bail!("`-` (standard input) can be given only once");
    }
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
        let batch_size = usize::try_from(args.batch).unwrap_or(1_000);
        let mut importer = Importer {
            store: &*store,
            collection_id: collection.id.clone(),
            validator: Validator::default(),
            limits: Limits::default(),
            batch_size,
            batch: Vec::with_capacity(batch_size),
            summary: Summary::default(),
            progress: progress_bar(),
        };
        let mut result = Ok(());
        for file in &args.files {
            result = importer.input(file).await;
            if result.is_ok() {
                // Each input's tail is committed before the next starts.
                result = importer.flush().await;
            }
            if result.is_err() {
                break;
            }
        }
        importer.progress.finish_and_clear();
        store.close().await;
        result?;
        let summary = &importer.summary;
        println!(
            "imported into {}: {} read, {} stored, {} duplicates, {} invalid",
            collection.id, summary.read, summary.stored, summary.duplicates, summary.invalid
        );
        if summary.invalid > SHOWN_REJECTIONS as u64 {
            eprintln!(
                "({} more invalid objects not shown one by one)",
                summary.invalid - SHOWN_REJECTIONS as u64
            );
        }
        for (reason, count) in &summary.reasons {
            println!("  invalid: {count} × {reason}");
        }
        anyhow::Ok(if summary.unreadable_inputs > 0 {
            ExitCode::from(2)
        } else if summary.invalid > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short() {
        assert_eq!(
            reason_key("invalid STIX 2.1: [sdo-required] /name: missing (and 2 more errors)"),
            "sdo-required"
        );
        assert_eq!(
            reason_key("the body repeats the key 'a' in one JSON object"),
            "the body repeats the key 'a' in one JSON object"
        );
        assert_eq!(
            reason_key("'2020' is not a valid timestamp"),
            "'2020' is not a valid timestamp"
        );
        assert_eq!(reason_key("not valid JSON: EOF"), "not valid JSON");
    }
}
