//! Real data: every object of the STIX 2.1 corpus files gets the same
//! valid/invalid verdict from tearline as from the OASIS stix2-validator
//! (default options, not strict), or the difference is explained by a rule
//! listed in docs/conformance-stix-validator.md ("Corpus differences").
//!
//! Runs scripts/peer/stix_validator_verdicts.py with $TEARLINE_PYTHON.
//! For iteration, TEARLINE_REF_VERDICTS=<file> reuses a saved output of it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stix::Severity;
use stix::validate::Validator;

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    }
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text
    } else {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// The objects of one corpus file, in the order the Python script sees them.
fn objects_of(path: &Path) -> Vec<Value> {
    let text = read_text(path);
    let name = path.to_string_lossy();
    if name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") {
        return text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
    }
    match serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}")) {
        Value::Array(items) => items,
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("bundle") => {
            match map.get("objects") {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            }
        }
        other => vec![other],
    }
}

fn reference_verdicts(corpora: &Path) -> String {
    if let Some(saved) = std::env::var_os("TEARLINE_REF_VERDICTS") {
        return std::fs::read_to_string(&saved).unwrap_or_else(|e| panic!("{saved:?}: {e}"));
    }
    let python =
        std::env::var("TEARLINE_PYTHON").expect("TEARLINE_PYTHON must name the venv python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/peer/stix_validator_verdicts.py"
    );
    let output = Command::new(&python)
        .arg(script)
        .arg(corpora)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("script output is UTF-8")
}

/// Rule ids the docs list as explaining corpus differences.
fn documented_rules() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/conformance-stix-validator.md"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = text
        .split("## Corpus differences")
        .nth(1)
        .unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect()
}

#[test]
#[ignore = "needs the peer Python tools; run by scripts/test"]
fn corpus_verdicts_match_stix2_validator() {
    let corpora = shared_dir().join("corpora");
    let reference: BTreeMap<(String, usize), bool> = reference_verdicts(&corpora)
        .lines()
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line}: {e}"));
            let file = v["file"].as_str().unwrap_or_default().to_owned();
            let index = v["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(usize::MAX);
            ((file, index), v["valid"] == Value::Bool(true))
        })
        .collect();
    assert!(
        reference.len() > 20_000,
        "only {} reference verdicts",
        reference.len()
    );

    let validator = Validator::default();
    let documented = documented_rules();
    let (mut agreed, mut compared) = (0usize, 0usize);
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for (file, _) in reference.keys() {
        files.insert(file);
    }
    for file in files {
        for (index, object) in objects_of(&corpora.join(file)).iter().enumerate() {
            let Some(&theirs) = reference.get(&(file.to_owned(), index)) else {
                continue;
            };
            compared += 1;
            let findings = validator.validate(object);
            let errors: BTreeSet<&str> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.rule)
                .collect();
            let ours = errors.is_empty();
            if ours == theirs {
                agreed += 1;
                continue;
            }
            let id = object["id"].as_str().unwrap_or("?");
            let reason = if ours {
                "reference-only".to_owned()
            } else {
                errors.iter().copied().collect::<Vec<_>>().join("+")
            };
            // We reject: the rule must be listed. We accept what the
            // reference rejects: the object itself must be listed, by id.
            let explained = errors.iter().any(|rule| documented.contains(*rule))
                || (ours && documented.contains(id));
            if !explained {
                unexplained.push(format!("{file}[{index}] {id}: {reason}"));
            }
            by_reason
                .entry(reason)
                .or_default()
                .push(format!("{file}[{index}] {id}"));
        }
    }
    if let Some(out) = std::env::var_os("CORPUS_DIFF_OUT") {
        let lines: Vec<String> = by_reason.values().flatten().cloned().collect();
        std::fs::write(&out, lines.join("\n")).unwrap_or_else(|e| panic!("{out:?}: {e}"));
    }
    let rate = agreed as f64 / compared.max(1) as f64;
    println!(
        "corpus: agreed {agreed} / {compared} objects ({:.2}%)",
        rate * 100.0
    );
    for (reason, objects) in &by_reason {
        println!(
            "  {reason}: {} objects, e.g. {}",
            objects.len(),
            objects
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    assert!(
        unexplained.is_empty(),
        "differences not explained in the docs: {unexplained:#?}"
    );
    assert!(
        rate >= 0.99,
        "corpus agreement {:.2}% is below 99%",
        rate * 100.0
    );
}
