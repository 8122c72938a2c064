//! Real patterns: every indicator pattern found in the shared corpora.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use stix_pattern::{PatternLimits, StixVersion, is_valid, validate};

fn shared_dir() -> PathBuf {
    std::env::var_os("TEARLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

/// (pattern, version) of every corpus indicator.
fn corpus() -> Vec<(String, StixVersion)> {
    let path = shared_dir().join("corpora/derived/indicator-patterns.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let version = v["pattern_version"]
                .as_str()
                .or(v["spec_version"].as_str())
                .and_then(|s| s.parse().ok())
                .unwrap_or(StixVersion::V21);
            let pattern = v["pattern"]
                .as_str()
                .unwrap_or_else(|| panic!("no pattern: {l}"));
            (pattern.to_string(), version)
        })
        .collect()
}

#[test]
fn the_longest_corpus_pattern_is_accepted_and_round_trips() {
    let patterns = corpus();
    assert!(patterns.len() >= 700);
    let (longest, version) = patterns
        .iter()
        .max_by_key(|(p, _)| p.chars().count())
        .cloned()
        .unwrap_or_default();
    assert_eq!(longest.chars().count(), 57_118);
    let limits = PatternLimits::default();
    assert!(is_valid(&validate(&longest, version, &limits)));
    let parsed = stix_pattern::parse(&longest, version, &limits).map_err(|e| e.to_string());
    let reparsed = parsed.as_ref().map_err(Clone::clone).and_then(|p| {
        stix_pattern::parse(&p.to_string(), version, &limits).map_err(|e| e.to_string())
    });
    assert_eq!(parsed, reparsed);
}

#[test]
fn every_corpus_pattern_prints_back_to_an_equal_tree() {
    let limits = PatternLimits::default();
    for (pattern, version) in corpus() {
        if let Ok(parsed) = stix_pattern::parse(&pattern, version, &limits) {
            let printed = parsed.to_string();
            let again = stix_pattern::parse(&printed, version, &limits);
            assert_eq!(again.as_ref(), Ok(&parsed), "{pattern}\n{printed}");
        }
    }
}

/// Runs the OASIS validator on all corpus patterns in one process and
/// compares verdicts; patterns on which the validator itself fails are
/// counted apart, not compared.
#[test]
#[ignore = "needs the peer Python tools; run by scripts/test"]
fn corpus_verdicts_match_stix2_patterns() {
    let python =
        std::env::var("TEARLINE_PYTHON").expect("TEARLINE_PYTHON must name the venv's python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/peer/pattern_verdicts.py"
    );
    let patterns = corpus();
    let mut input = String::new();
    for (p, v) in &patterns {
        input.push_str(&json!({"pattern": p, "stix_version": v.as_str()}).to_string());
        input.push('\n');
    }
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {python}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .expect("writing patterns to the validator");
    }
    let output = child.wait_with_output().expect("running the validator");
    assert!(
        output.status.success(),
        "the Python validator failed: {}",
        output.status
    );
    let verdicts: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("validator output line"))
        .collect();
    assert_eq!(verdicts.len(), patterns.len(), "one verdict per pattern");

    let limits = PatternLimits::default();
    let (mut same, mut crashed, mut differ) = (0, 0, Vec::new());
    for ((pattern, version), theirs) in patterns.iter().zip(&verdicts) {
        let ours = is_valid(&validate(pattern, *version, &limits));
        match theirs["valid"].as_bool() {
            None => crashed += 1,
            Some(v) if v == ours => same += 1,
            Some(v) => differ.push(format!("ours {ours}, theirs {v}: {pattern:.200}")),
        }
    }
    println!(
        "corpus: {same} same verdict, {} different, {crashed} where stix2-patterns fails",
        differ.len()
    );
    assert!(same > 600, "too few patterns compared: {same}");
    assert!(differ.is_empty(), "{differ:#?}");
}
