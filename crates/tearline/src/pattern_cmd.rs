//! `tearline pattern`: check STIX patterns and match them against observed data.
//!
//! Exit codes: 0 valid / matched, 1 invalid / no match, 2 usage or other error.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use stix_pattern::matcher::{MatchOptions, Matcher};
use stix_pattern::{PatternLimits, Severity, StixVersion, is_valid, parse, validate};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check a pattern: exit 0 if valid, 1 if not (with the position).
    /// With `-` as PATTERN, read one pattern per line from stdin and write
    /// one JSON line `{"valid": bool, "error": string|null}` for each.
    Check {
        #[arg(long, default_value = "2.1", value_parser = parse_version)]
        stix_version: StixVersion,
        /// The pattern, or `-` to read patterns from stdin.
        pattern: String,
    },
    /// Match a pattern against observed data: exit 0 and print
    /// `{"matched": [[ids...], ...]}` on a match, 1 on no match.
    Match {
        #[arg(long, default_value = "2.1", value_parser = parse_version)]
        stix_version: StixVersion,
        pattern: String,
        /// Observed data with the observables it references: a bundle, a
        /// JSON array, or JSON lines (`-` for stdin).
        #[arg(long)]
        observed: PathBuf,
        /// Most bindings to report.
        #[arg(long, default_value_t = 10)]
        max_bindings: usize,
    },
}

fn parse_version(s: &str) -> Result<StixVersion, String> {
    s.parse()
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check {
            stix_version,
            pattern,
        } if pattern == "-" => check_lines(stix_version),
        Command::Check {
            stix_version,
            pattern,
        } => check_one(&pattern, stix_version),
        Command::Match {
            stix_version,
            pattern,
            observed,
            max_bindings,
        } => match_file(&pattern, stix_version, &observed, max_bindings),
    }
}

fn check_one(pattern: &str, version: StixVersion) -> anyhow::Result<ExitCode> {
    let findings = validate(pattern, version, &PatternLimits::default());
    let mut out = std::io::stdout().lock();
    for f in &findings {
        let word = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(out, "{word}[{}]: {}", f.rule, f.message)?;
        if let Some(offset) = f.offset {
            // Point at the offending character under the pattern.
            let column = pattern.get(..offset).map_or(0, |p| p.chars().count());
            writeln!(out, "  {pattern}\n  {}^", " ".repeat(column))?;
        }
    }
    if is_valid(&findings) {
        writeln!(out, "valid")?;
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn first_error(findings: &[stix_pattern::Finding]) -> Option<String> {
    findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .map(|f| f.message.clone())
}

fn check_lines(version: StixVersion) -> anyhow::Result<ExitCode> {
    let limits = PatternLimits::default();
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut all_valid = true;
    for line in stdin.lines() {
        let line = line.context("reading patterns from stdin")?;
        let pattern = line.strip_suffix('\r').unwrap_or(&line);
        let error = first_error(&validate(pattern, version, &limits));
        all_valid &= error.is_none();
        writeln!(out, "{}", json!({"valid": error.is_none(), "error": error}))?;
    }
    out.flush()?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a bundle, an array of objects, one object, or JSON lines.
fn read_objects(path: &Path) -> anyhow::Result<Vec<Value>> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(one) => Ok(vec![one]),
        Err(whole) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| {
                    format!(
                        "{}: not JSON ({whole}) nor JSON lines (line {})",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect(),
    }
}

fn match_file(
    pattern: &str,
    version: StixVersion,
    observed: &Path,
    max_bindings: usize,
) -> anyhow::Result<ExitCode> {
    let parsed = match parse(pattern, version, &PatternLimits::default()) {
        Ok(p) => p,
        Err(e) => bail!("invalid pattern: {e}"),
    };
    let objects = read_objects(observed)?;
    let matcher = Matcher::new(&parsed)?;
    let options = MatchOptions {
        max_bindings: max_bindings.max(1),
        ..MatchOptions::default()
    };
    let outcome = matcher.run(&objects, &options)?;
    if outcome.matched() {
        println!("{}", json!({"matched": outcome.binding_ids()}));
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}
