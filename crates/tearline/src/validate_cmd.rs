//! `tearline validate`: checks STIX 2.1 content and reports findings per
//! object.
//!
//! Two threads per input: one reads and parses (`stix::reader`), the other
//! validates and prints, joined by a small bounded channel so memory stays
//! bounded and output keeps input order.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;
use stix::reader::{self, JsonProblem, RawObject, ReadError, ReadSummary};
use stix::validate::{Options, Validator};
use stix::{Finding, Limits, Severity};

/// Objects per message between the threads, and bytes of object text.
const BATCH_OBJECTS: usize = 256;
const BATCH_BYTES: usize = 1024 * 1024;
/// Batches in flight: with the batch size, bounds the memory between threads.
const CHANNEL_BATCHES: usize = 4;
/// Inputs smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 4 * 1024 * 1024;

const DETAILS: &str = "\
Each input may be a STIX bundle, a single object, a JSON array of objects, or
JSON lines (one object per line); gzip-compressed input is recognised by its
content. `-` reads standard input. Large bundles are read object by object.

Every object gets its findings: errors (a MUST of STIX 2.1 broken) and
warnings (a SHOULD not followed), each with a stable rule id and the JSON path
of the property concerned. Problems of one object's JSON (a repeated key, an
element that is not an object, nesting or sizes over the limits) are findings
of that object; the rest of the input is still checked.

Exit status:
  0  every object is valid (warnings allowed unless --strict)
  1  at least one object is invalid
  2  an input could not be read (missing file, not JSON, truncated, ...)

Examples:
  tearline validate enterprise-attack.json
  tearline validate --strict --format json feed.jsonl.gz > findings.jsonl
  curl -s https://example.org/bundle.json | tearline validate -";

#[derive(Debug, clap::Args)]
#[command(after_long_help = DETAILS)]
pub struct Args {
    /// Files to check; `-` for standard input.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,

    /// Count warnings as errors: an object with any finding is invalid.
    #[arg(long)]
    strict: bool,

    /// Output: `human` (findings grouped per object, a summary on stderr)
    /// or `json` (one JSON object per input object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Human,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let limits = Limits::default();
    let validator = Validator::new(Options::default());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut totals = Totals::default();
    for path in &args.files {
        let name = path.display().to_string();
        let outcome = check_input(
            path,
            &name,
            &args,
            &limits,
            &validator,
            &mut out,
            &mut totals,
        );
        let outcome = match outcome {
            Ok(outcome) => outcome,
            // The reader of our output left (`| head`): stop quietly, as
            // Unix tools do.
            Err(err) if is_broken_pipe(&err) => return Ok(totals.exit_code()),
            Err(err) => return Err(err),
        };
        match outcome {
            Ok(summary) => {
                totals.files += 1;
                if let Some(version) = summary.bundle.and_then(|b| b.spec_version) {
                    eprintln!(
                        "note: {name}: the bundle has \"spec_version\": {version:?}; STIX 2.1 \
                         bundles have no such property (STIX 2.0 bundles do)"
                    );
                }
            }
            Err(message) => {
                totals.unreadable += 1;
                if let Err(err) = out.flush() {
                    if err.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(totals.exit_code());
                    }
                    return Err(err).context("cannot write the report");
                }
                eprintln!("error: {name}: {message}");
            }
        }
    }
    match out.flush() {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(totals.exit_code()),
        flushed => flushed.context("cannot write the report")?,
    }
    if args.format == OutputFormat::Human {
        eprintln!("{}", totals.summary_line(args.strict));
    }
    Ok(totals.exit_code())
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
        || err
            .chain()
            .filter_map(|cause| cause.downcast_ref::<serde_json::Error>())
            .any(|json| json.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
}

#[derive(Debug, Default)]
struct Totals {
    files: usize,
    unreadable: usize,
    objects: usize,
    valid: usize,
    invalid: usize,
    warnings: usize,
}

impl Totals {
    fn exit_code(&self) -> ExitCode {
        ExitCode::from(if self.unreadable > 0 {
            2
        } else if self.invalid > 0 {
            1
        } else {
            0
        })
    }

    fn summary_line(&self, strict: bool) -> String {
        let files = self.files + self.unreadable;
        let mut line = format!(
            "checked {} object{} in {} file{}: {} valid, {} invalid, {} warning{}",
            self.objects,
            plural(self.objects),
            files,
            plural(files),
            self.valid,
            self.invalid,
            self.warnings,
            plural(self.warnings),
        );
        if strict && self.warnings > 0 {
            line.push_str(" (counted as errors: --strict)");
        }
        if self.unreadable > 0 {
            line.push_str(&format!(
                "; {} file{} could not be read",
                self.unreadable,
                plural(self.unreadable)
            ));
        }
        line
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One object as the reading thread hands it over.
struct Parsed {
    index: usize,
    line: u64,
    id: Option<String>,
    value: Result<Value, JsonProblem>,
}

/// The reading thread was told to stop (the printing side went away).
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output closed")
    }
}

/// Checks one input. The outer error is a failure to write the report; the
/// inner one says why the input could not be read to its end.
fn check_input(
    path: &std::path::Path,
    name: &str,
    args: &Args,
    limits: &Limits,
    validator: &Validator,
    out: &mut impl Write,
    totals: &mut Totals,
) -> anyhow::Result<Result<ReadSummary, String>> {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin()), None)
    } else {
        match File::open(path) {
            Ok(file) => {
                let size = file.metadata().ok().map(|m| m.len());
                (Box::new(file), size)
            }
            Err(err) => return Ok(Err(format!("cannot open: {err}"))),
        }
    };
    let progress = progress_bar(size, name);
    let input: Box<dyn Read + Send> = match &progress {
        Some(bar) => Box::new(bar.wrap_read(input)),
        None => input,
    };
    let (sender, receiver) = mpsc::sync_channel::<Vec<Parsed>>(CHANNEL_BATCHES);
    let result = thread::scope(|scope| {
        let reading = scope.spawn(move || read_and_parse(input, limits, &sender));
        let printed = print_findings(&receiver, name, args, validator, out, totals);
        // Unblock the reader if printing failed, then collect its result.
        drop(receiver);
        let read = reading.join();
        (printed, read)
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let (printed, read) = result;
    printed?;
    match read {
        Ok(Ok(summary)) => Ok(Ok(summary)),
        Ok(Err(err)) => Ok(Err(err.to_string())),
        Err(_) => anyhow::bail!("the reading thread of {name} failed"),
    }
}

fn progress_bar(size: Option<u64>, name: &str) -> Option<indicatif::ProgressBar> {
    let size = size?;
    if size < PROGRESS_MIN_BYTES || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(name.to_owned());
    Some(bar)
}

/// The reading thread: frames objects, parses them, sends them in batches.
fn read_and_parse(
    input: impl Read,
    limits: &Limits,
    sender: &mpsc::SyncSender<Vec<Parsed>>,
) -> Result<ReadSummary, ReadError<Stopped>> {
    let mut batch = Vec::with_capacity(BATCH_OBJECTS);
    let mut batch_bytes = 0;
    let summary = reader::read(input, limits, |raw: RawObject| {
        batch_bytes += raw.text.as_ref().map_or(0, String::len);
        batch.push(parse(raw, limits));
        if batch.len() >= BATCH_OBJECTS || batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_OBJECTS));
            sender.send(full).map_err(|_| Stopped)?;
        }
        Ok(())
    });
    // Objects read before an error are still reported.
    if !batch.is_empty() {
        let _ = sender.send(batch);
    }
    summary
}

fn parse(raw: RawObject, limits: &Limits) -> Parsed {
    let value = raw.parse(limits);
    let id = match &value {
        Ok(value) => value.get("id").and_then(Value::as_str).map(str::to_owned),
        Err(_) => raw.text.as_deref().ok().and_then(lenient_id),
    };
    Parsed {
        index: raw.index,
        line: raw.line,
        id,
        value,
    }
}

/// The `id` of an object that failed strict parsing (a repeated key, say),
/// when a lenient reading still finds one: it helps to find the object.
fn lenient_id(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(text).ok().and_then(|o| o.id)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    id: Option<&'a str>,
    valid: bool,
    findings: &'a [Finding],
    file: &'a str,
    index: usize,
    line: u64,
}

/// The printing side: validates each object and writes its report.
fn print_findings(
    receiver: &mpsc::Receiver<Vec<Parsed>>,
    name: &str,
    args: &Args,
    validator: &Validator,
    out: &mut impl Write,
    totals: &mut Totals,
) -> anyhow::Result<()> {
    for batch in receiver {
        for parsed in batch {
            let mut findings = match &parsed.value {
                Ok(value) => validator.validate(value),
                Err(problem) => vec![problem.to_finding()],
            };
            let warnings = findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count();
            if args.strict {
                for finding in &mut findings {
                    finding.severity = Severity::Error;
                }
            }
            let valid = findings.iter().all(|f| f.severity != Severity::Error);
            totals.objects += 1;
            totals.warnings += warnings;
            if valid {
                totals.valid += 1;
            } else {
                totals.invalid += 1;
            }
            match args.format {
                OutputFormat::Json => {
                    let report = JsonReport {
                        id: parsed.id.as_deref(),
                        valid,
                        findings: &findings,
                        file: name,
                        index: parsed.index,
                        line: parsed.line,
                    };
                    serde_json::to_writer(&mut *out, &report).context("cannot write the report")?;
                    writeln!(out).context("cannot write the report")?;
                }
                OutputFormat::Human if findings.is_empty() => {}
                OutputFormat::Human => {
                    writeln!(
                        out,
                        "{name}: object {} (line {}) {}",
                        parsed.index,
                        parsed.line,
                        parsed.id.as_deref().unwrap_or("(no id)")
                    )
                    .context("cannot write the report")?;
                    for finding in &findings {
                        writeln!(
                            out,
                            "  {:<7} [{}] {}: {}",
                            finding.severity.to_string(),
                            finding.rule,
                            finding.path,
                            finding.message
                        )
                        .context("cannot write the report")?;
                    }
                }
            }
        }
    }
    Ok(())
}
