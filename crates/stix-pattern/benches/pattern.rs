//! Throughput of validation (corpus indicator patterns) and matching
//! (conformance matcher cases), on the inputs the Python reference tools are
//! timed on by `scripts/bench-pattern`. Prints one JSON line of timings.
//!
//! Run: `cargo bench -p stix-pattern --bench pattern`

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stix_pattern::matcher::{MatchOptions, Matcher};
use stix_pattern::{PatternLimits, StixVersion, parse, validate};

fn shared_dir() -> PathBuf {
    std::env::var_os("TEARLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn jsonl(path: PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn version(v: Option<&str>) -> StixVersion {
    v.and_then(|s| s.parse().ok()).unwrap_or(StixVersion::V21)
}

/// Seconds per pass over the inputs: passes repeat until `min` has elapsed.
fn time_passes(min: Duration, mut pass: impl FnMut()) -> (f64, u32) {
    pass(); // warm-up
    let start = Instant::now();
    let mut passes = 0;
    while passes == 0 || start.elapsed() < min {
        pass();
        passes += 1;
    }
    (start.elapsed().as_secs_f64() / f64::from(passes), passes)
}

fn main() {
    let shared = shared_dir();
    let limits = PatternLimits::default();

    let patterns: Vec<(String, StixVersion)> =
        jsonl(shared.join("corpora/derived/indicator-patterns.jsonl"))
            .iter()
            .map(|v| {
                let ver = version(v["pattern_version"].as_str().or(v["spec_version"].as_str()));
                (v["pattern"].as_str().unwrap_or_default().to_string(), ver)
            })
            .collect();
    let (validate_secs, validate_passes) = time_passes(Duration::from_secs(2), || {
        for (p, v) in &patterns {
            black_box(validate(black_box(p), *v, &limits));
        }
    });

    let dir = shared.join("conformance/pattern-matcher");
    let observations: HashMap<String, Vec<Value>> = jsonl(dir.join("observations.jsonl"))
        .into_iter()
        .map(|o| {
            (
                o["ref"].as_str().unwrap_or_default().to_string(),
                o["observed_data"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect();
    let cases: Vec<(String, StixVersion, &Vec<Value>)> = jsonl(dir.join("cases.jsonl"))
        .iter()
        .filter_map(|c| {
            let objects = observations.get(c["observations_ref"].as_str()?)?;
            Some((
                c["pattern"].as_str()?.to_string(),
                version(c["stix_version"].as_str()),
                objects,
            ))
        })
        .collect();
    let options = MatchOptions::default();
    let mut matched = 0;
    let (match_secs, match_passes) = time_passes(Duration::from_secs(2), || {
        matched = 0;
        for (p, v, objects) in &cases {
            let outcome = parse(p, *v, &limits)
                .ok()
                .and_then(|pattern| Matcher::new(&pattern).ok())
                .and_then(|m| m.run(objects, &options).ok());
            if outcome.is_some_and(|o| o.matched()) {
                matched += 1;
            }
        }
    });

    println!(
        "{}",
        json!({
            "validate": {"inputs": patterns.len(), "seconds_per_pass": validate_secs, "passes": validate_passes},
            "match": {"inputs": cases.len(), "matched": matched, "seconds_per_pass": match_secs, "passes": match_passes},
        })
    );
}
