//! `tearline ledger …`: the release ledger from the command line. The
//! verifier (`ledger verify`) needs no data directory: a partner or an
//! auditor runs it on files it was given. Exit codes: 0 good, 1 the
//! records or checkpoint do not verify, 2 usage or I/O error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger::{SignatureType, SignerKey, VerifierKey};
use serde_json::Value;
use server::ledger_ops;

use crate::config::{self, DataArgs};

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Print the ledger's verifier key (`name+keyid+base64`), which checks
    /// every partner's checkpoints.
    Key(KeyArgs),
    /// Print the signed checkpoint of a partner's log (a C2SP signed note),
    /// with any cosignatures received for it.
    Checkpoint(PartyArgs),
    /// Print a partner's records in log order: one per line, each exactly
    /// the bytes that were hashed (or a JSON array with --format json).
    Records(RecordsArgs),
    /// Check records against a signed checkpoint, offline. Exit 0 when they
    /// produce its root (and it extends --previous), 1 naming the first bad
    /// leaf.
    Verify(VerifyArgs),
    /// Print an inclusion proof (JSON) for a leaf, or for the record that
    /// lists an object.
    Proof(ProofArgs),
    /// Print the internal record behind a leaf with its salt (for auditors).
    Internal(InternalArgs),
    /// Create a witness key for cosigning checkpoints (for partners and
    /// auditors); prints its verifier key.
    Keygen(KeygenArgs),
    /// Add your cosignature to a checkpoint you have verified; prints the
    /// cosigned checkpoint (post it to the server's cosignatures path).
    Cosign(CosignArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The signing key file, when not the data directory's `ledger.key`.
    #[arg(long, env = "TEARLINE_LEDGER_KEY", value_name = "FILE")]
    pub ledger_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PartyArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The partner whose log to show.
    #[arg(long, value_name = "NAME")]
    pub party: String,
    /// An earlier tree size (default: the current one).
    #[arg(long)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordsFormat {
    /// One record per line, exactly the hashed bytes.
    Lines,
    /// A JSON array of {"index","leaf_hash","record"}.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_name = "NAME")]
    pub party: String,
    #[arg(long, value_enum, default_value = "lines")]
    pub format: RecordsFormat,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log's verifier key: the key text, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    pub key: String,
    /// The signed checkpoint (file, or - for stdin).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The records, as `ledger records` prints them (lines or JSON).
    #[arg(long, value_name = "FILE")]
    pub records: PathBuf,
    /// A checkpoint kept from before: the new one must extend it.
    #[arg(long, value_name = "CHECKPOINT")]
    pub previous: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ProofArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_name = "NAME")]
    pub party: String,
    /// The leaf index.
    #[arg(long, conflicts_with_all = ["object", "object_sha256"])]
    pub index: Option<u64>,
    /// A STIX object file (as received): proves the record that lists it.
    #[arg(long, value_name = "FILE", conflicts_with = "object_sha256")]
    pub object: Option<PathBuf>,
    /// SHA-256 of an object's RFC 8785 form (lowercase hex).
    #[arg(long, value_name = "HEX")]
    pub object_sha256: Option<String>,
    /// Tree size to prove against (default: the current one).
    #[arg(long)]
    pub size: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct InternalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_name = "NAME")]
    pub party: String,
    #[arg(long)]
    pub index: u64,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Key name (no spaces or '+'), e.g. your domain.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Where to write the secret key (created with owner-only permissions).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CosignArgs {
    /// Your secret witness key file (from `ledger keygen`).
    #[arg(long, value_name = "FILE")]
    pub signer_key: PathBuf,
    /// The log's verifier key: the checkpoint must verify with it first.
    #[arg(long, value_name = "VKEY")]
    pub key: String,
    /// The checkpoint to cosign.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
}

fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_input(path)?).with_context(|| format!("{} is not UTF-8", path.display()))
}

/// A key given as text, or a file holding it.
fn key_text(given: &str) -> anyhow::Result<String> {
    let path = Path::new(given);
    if path.is_file() {
        return Ok(read_text(path)?.trim().to_owned());
    }
    Ok(given.trim().to_owned())
}

/// Records from `ledger records` output: lines of exact bytes, or the JSON
/// array form (whose records are put back in canonical form).
fn parse_records(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let entries: Vec<Value> =
            serde_json::from_slice(bytes).context("the records file is not a JSON array")?;
        return entries
            .iter()
            .map(|entry| {
                let record = entry
                    .get("record")
                    .context("a JSON record entry has no \"record\"")?;
                ledger::canonical_json(record).context("canonicalising a record")
            })
            .collect();
    }
    Ok(bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

pub fn run(command: LedgerCommand) -> anyhow::Result<ExitCode> {
    match command {
        LedgerCommand::Key(args) => {
            let (file, target) = args.data.resolve()?;
            let signer = config::load_ledger_signer(
                target.data.as_deref(),
                args.ledger_key.as_deref().or(file.ledger_key.as_deref()),
            )?;
            println!("{}", signer.verifier());
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Checkpoint(args) => {
            let (file, data) = args.key.data.resolve()?;
            let signer = config::load_ledger_signer(
                data.data.as_deref(),
                args.key
                    .ledger_key
                    .as_deref()
                    .or(file.ledger_key.as_deref()),
            )?;
            let note = config::block_on(async {
                let store = config::open_store(&data).await?;
                if let Err(err) = ledger_ops::bind_signer(&*store, &signer).await {
                    store.close().await;
                    return Err(err.into());
                }
                let note = ledger_ops::checkpoint(&*store, &signer, &args.party, args.size).await;
                store.close().await;
                anyhow::Ok(note?)
            })??;
            print!("{note}");
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Records(args) => records(args),
        LedgerCommand::Verify(args) => verify(args),
        LedgerCommand::Proof(args) => proof(args),
        LedgerCommand::Internal(args) => {
            let (_, data) = args.data.resolve()?;
            let value = config::block_on(async {
                let store = config::open_store(&data).await?;
                let value = ledger_ops::internal(&*store, &args.party, args.index).await;
                store.close().await;
                anyhow::Ok(value?)
            })??;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Keygen(args) => keygen(args),
        LedgerCommand::Cosign(args) => cosign(args),
    }
}

fn records(args: RecordsArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let (_, data) = args.data.resolve()?;
    let leaves = config::block_on(async {
        let store = config::open_store(&data).await?;
        let leaves = ledger_ops::all_leaves(&*store, &args.party).await;
        store.close().await;
        anyhow::Ok(leaves?)
    })??;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        RecordsFormat::Lines => {
            for leaf in &leaves {
                out.write_all(&leaf.bytes)?;
                out.write_all(b"\n")?;
            }
        }
        RecordsFormat::Json => {
            let array: Vec<Value> = leaves.iter().map(ledger_ops::leaf_json).collect();
            serde_json::to_writer_pretty(&mut out, &array)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = key_text(&args.key)?;
    let checkpoint = read_text(&args.checkpoint)?;
    let records = parse_records(&read_input(&args.records)?)?;
    let previous = args.previous.as_deref().map(read_text).transpose()?;
    if let Err(err) = VerifierKey::parse(&key) {
        anyhow::bail!("--key is not a verifier key (name+keyid+base64): {err}");
    }
    match ledger::verify_log(&records, &checkpoint, &key, previous.as_deref()) {
        Ok(verified) => {
            println!(
                "ok: {} records of {} produce the signed root{}",
                verified.checkpoint.size(),
                verified.checkpoint.origin(),
                if previous.is_some() {
                    " and extend the previous checkpoint"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            match err.first_bad_leaf() {
                Some(index) => eprintln!("bad leaf {index}: {err}"),
                None => eprintln!("does not verify: {err}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn proof(args: ProofArgs) -> anyhow::Result<ExitCode> {
    let (_, data) = args.data.resolve()?;
    let sha = match (&args.object, &args.object_sha256) {
        (Some(path), _) => {
            let value: Value = serde_json::from_slice(&read_input(path)?)
                .with_context(|| format!("{} is not a JSON object", path.display()))?;
            let canonical = stix::canonical::to_canonical_bytes(&value)
                .with_context(|| format!("canonicalising {}", path.display()))?;
            Some(ledger::object_sha256(&canonical).to_hex())
        }
        (None, Some(hex)) => Some(hex.clone()),
        (None, None) => None,
    };
    if sha.is_none() && args.index.is_none() {
        anyhow::bail!("give --index, --object FILE or --object-sha256 HEX");
    }
    let value = config::block_on(async {
        let store = config::open_store(&data).await?;
        let value = match (&sha, args.index) {
            (Some(sha), _) => {
                ledger_ops::inclusion_by_object(&*store, &args.party, sha, args.size).await
            }
            (None, Some(index)) => {
                ledger_ops::inclusion(&*store, &args.party, index, args.size).await
            }
            (None, None) => Err(ledger_ops::LedgerError::Invalid(
                "nothing to prove".to_owned(),
            )),
        };
        store.close().await;
        anyhow::Ok(value?)
    })??;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let key = SignerKey::generate(
        &args.name,
        SignatureType::CosignatureV1,
        &mut rand::rngs::OsRng,
    )
    .with_context(|| format!("--name {:?}: no spaces or '+'", args.name))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&args.out)
        .with_context(|| format!("creating {} (it must not exist yet)", args.out.display()))?;
    file.write_all(format!("{}\n", key.to_secret_text()).as_bytes())?;
    println!("{}", key.verifier());
    Ok(ExitCode::SUCCESS)
}

fn cosign(args: CosignArgs) -> anyhow::Result<ExitCode> {
    let secret = read_text(&args.signer_key)?;
    let witness = SignerKey::parse(secret.trim())
        .with_context(|| format!("{} is not a secret key", args.signer_key.display()))?;
    if witness.signature_type() != SignatureType::CosignatureV1 {
        anyhow::bail!("the witness key must be a cosignature key (make one with `ledger keygen`)");
    }
    let log_key = VerifierKey::parse(&key_text(&args.key)?).context("--key")?;
    let note = read_text(&args.checkpoint)?;
    let verified = match ledger::verify_checkpoint(&note, &log_key, &[]) {
        Ok(verified) => verified,
        Err(err) => {
            eprintln!("the checkpoint does not verify with the log key: {err}");
            return Ok(ExitCode::from(1));
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = verified.checkpoint.to_body();
    let line = witness.cosign(&body, now)?;
    let mut parsed = ledger::Note::parse(&note)?;
    parsed.add_signature(line)?;
    print!("{}", parsed.to_text()?);
    Ok(ExitCode::SUCCESS)
}
