//! Conformance against cases recorded from the OASIS reference tools'
//! test suites (`shared/conformance/pattern-validator`, `pattern-matcher`).
//!
//! Validation must agree on every case; matching on at least 98%, and each
//! case where it does not must be listed, with its reason, in
//! `docs/conformance-patterns.md`. A listed case that agrees again fails the
//! test too, so the list stays true.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;
use stix_pattern::matcher::{MatchOptions, Matcher};
use stix_pattern::{PatternLimits, StixVersion, is_valid, parse, validate};

fn shared_dir() -> PathBuf {
    std::env::var_os("TEARLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn read_jsonl(path: PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn version(case: &Value) -> StixVersion {
    case["stix_version"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("case without stix_version: {case}"))
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("case without {key}: {case}"))
}

/// Case ids listed as known differences in docs/conformance-patterns.md.
fn documented_differences() -> BTreeSet<String> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/conformance-patterns.md"
    ));
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    doc.lines()
        .filter(|l| l.starts_with('|'))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| {
                    w.starts_with("pattern-")
                        && w.rsplit('-')
                            .next()
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

struct Tally {
    name: &'static str,
    per_version: HashMap<StixVersion, (usize, usize)>,
    differing: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Tally {
            name,
            per_version: HashMap::new(),
            differing: Vec::new(),
        }
    }

    fn record(&mut self, id: &str, v: StixVersion, agrees: bool, detail: impl FnOnce() -> String) {
        let entry = self.per_version.entry(v).or_default();
        entry.1 += 1;
        if agrees {
            entry.0 += 1;
        } else {
            self.differing.push(id.to_string());
            println!("  differs {id}: {}", detail());
        }
    }

    fn total(&self) -> (usize, usize) {
        self.per_version
            .values()
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    }

    fn report(&self) {
        for v in [StixVersion::V20, StixVersion::V21] {
            if let Some((agree, all)) = self.per_version.get(&v) {
                println!("{} {v}: {agree}/{all} agree", self.name);
            }
        }
        let (agree, all) = self.total();
        println!(
            "{}: {agree}/{all} agree ({:.1}%)",
            self.name,
            100.0 * agree as f64 / all.max(1) as f64
        );
    }

    /// Every difference documented, and every documented one still a difference.
    fn assert_documented(&self, prefix: &str) {
        let documented: BTreeSet<String> = documented_differences()
            .into_iter()
            .filter(|id| id.starts_with(prefix))
            .collect();
        let differing: BTreeSet<String> = self.differing.iter().cloned().collect();
        let undocumented: Vec<_> = differing.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&differing).collect();
        assert!(
            undocumented.is_empty(),
            "{}: undocumented differences {undocumented:?}",
            self.name
        );
        assert!(
            stale.is_empty(),
            "{}: documented differences that now agree {stale:?}",
            self.name
        );
    }
}

#[test]
fn pattern_validator_cases() {
    let cases = read_jsonl(shared_dir().join("conformance/pattern-validator/cases.jsonl"));
    assert!(
        cases.len() > 100,
        "expected the recorded cases, found {}",
        cases.len()
    );
    let mut tally = Tally::new("pattern-validator");
    for case in &cases {
        let findings = validate(
            text(case, "pattern"),
            version(case),
            &PatternLimits::default(),
        );
        let verdict = if is_valid(&findings) {
            "valid"
        } else {
            "invalid"
        };
        tally.record(
            text(case, "id"),
            version(case),
            verdict == text(case, "expected"),
            || format!("{} -> {verdict} {findings:?}", text(case, "pattern")),
        );
    }
    tally.report();
    assert!(
        tally.differing.is_empty(),
        "validation must agree on every case"
    );
}

#[test]
fn pattern_inspect_cases() {
    let cases = read_jsonl(shared_dir().join("conformance/pattern-validator/inspect-cases.jsonl"));
    assert!(cases.len() > 20);
    let mut tally = Tally::new("pattern-inspect");
    for case in &cases {
        let pattern = parse(
            text(case, "pattern"),
            version(case),
            &PatternLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", text(case, "id")));
        let ours = serde_json::to_value(pattern.inspect()).unwrap_or_default();
        let expected = &case["expected"];
        let as_set = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .map(|a| a.iter().map(Value::to_string).collect())
                .unwrap_or_default()
        };
        let same_comparisons = {
            let sorted = |v: &Value| -> BTreeSet<(String, String)> {
                v.as_object()
                    .map(|m| {
                        m.iter()
                            .flat_map(|(k, list)| {
                                list.as_array()
                                    .into_iter()
                                    .flatten()
                                    .map(move |c| (k.clone(), c.to_string()))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            sorted(&ours["comparisons"]) == sorted(&expected["comparisons"])
        };
        let agrees = as_set(&ours["qualifiers"]) == as_set(&expected["qualifiers"])
            && as_set(&ours["observation_ops"]) == as_set(&expected["observation_ops"])
            && same_comparisons;
        tally.record(text(case, "id"), version(case), agrees, || {
            format!("ours {ours} expected {expected}")
        });
    }
    tally.report();
    assert!(tally.differing.is_empty());
}

#[test]
fn pattern_matcher_cases() {
    let dir = shared_dir().join("conformance/pattern-matcher");
    let observations: HashMap<String, Vec<Value>> = read_jsonl(dir.join("observations.jsonl"))
        .into_iter()
        .map(|o| {
            let objects = o["observed_data"].as_array().cloned().unwrap_or_default();
            (text(&o, "ref").to_string(), objects)
        })
        .collect();
    let cases = read_jsonl(dir.join("cases.jsonl"));
    assert!(cases.len() > 500);
    let mut tally = Tally::new("pattern-matcher");
    for case in &cases {
        let objects = observations
            .get(text(case, "observations_ref"))
            .unwrap_or_else(|| panic!("missing observations for {case}"));
        let outcome = parse(
            text(case, "pattern"),
            version(case),
            &PatternLimits::default(),
        )
        .map_err(|e| e.to_string())
        .and_then(|p| Matcher::new(&p).map_err(|e| e.to_string()))
        .and_then(|m| {
            m.run(objects, &MatchOptions::default())
                .map_err(|e| e.to_string())
        });
        let (verdict, observations_bound) = match &outcome {
            Err(_) => ("error", 0),
            Ok(o) if o.matched() => ("match", o.bindings.first().map_or(0, Vec::len)),
            Ok(_) => ("no-match", 0),
        };
        let expected = text(case, "expected");
        let expected_bound = case["expected_matched_ids"].as_array().map_or(0, Vec::len);
        let agrees =
            verdict == expected && (verdict != "match" || observations_bound == expected_bound);
        tally.record(text(case, "id"), version(case), agrees, || {
            format!(
                "{} -> {verdict} ({observations_bound} bound) {:?}; expected {expected} ({expected_bound} bound)",
                text(case, "pattern"),
                outcome.as_ref().err()
            )
        });
    }
    tally.report();
    let (agree, all) = tally.total();
    assert!(
        agree * 100 >= all * 98,
        "matching agreement below 98%: {agree}/{all}"
    );
    tally.assert_documented("pattern-matcher");
}
