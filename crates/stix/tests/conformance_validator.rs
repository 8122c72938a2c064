//! Conformance with the OASIS reference validator (stix2-validator 3.3):
//! every STIX 2.1 case of shared/conformance/stix-validator/cases.jsonl
//! whose options tearline can express, our valid/invalid verdict against the
//! recorded one. Where the reference contradicts the specification, the
//! case is listed with its section in docs/conformance-stix-validator.md
//! and counted as agreed-by-spec; nothing else is excused.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use stix::Severity;
use stix::validate::{Options, Validator};

fn shared_dir() -> PathBuf {
    match std::env::var_os("TEARLINE_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    }
}

fn docs_exceptions() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/conformance-stix-validator.md"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Exception lines look like: "| `stix-validator-21-0123` | §x.y | why |".
    text.lines()
        .filter(|line| line.starts_with("| `stix-validator-21-"))
        .filter_map(|line| line.split('`').nth(1).map(str::to_owned))
        .collect()
}

fn names(value: Option<&Value>) -> BTreeSet<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|s| s.trim().to_owned()).collect()
        }
        _ => BTreeSet::new(),
    }
}

/// Reference check names we know; a case enabling anything else is n.a.
const KNOWN_CHECKS: &[&str] = &[
    "all",
    "format-checks",
    "custom-prefix",
    "custom-prefix-lax",
    "uuid-check",
    "open-vocab-format",
    "kill-chain-names",
    "observable-object-keys",
    "observable-dictionary-keys",
    "malware-analysis-product",
    "windows-process-priority-format",
    "hash-length",
    "approved-values",
    "marking-definition-type",
    "relationship-types",
    "duplicate-ids",
    "all-vocabs",
    "attack-motivation",
    "attack-resource-level",
    "identity-class",
    "indicator-types",
    "industry-sector",
    "malware-types",
    "report-types",
    "threat-actor-types",
    "threat-actor-role",
    "threat-actor-sophistication",
    "tool-types",
    "region",
    "grouping-context",
    "implementation-languages",
    "infrastructure-types",
    "malware-capabilities",
    "processor-architecture",
    "malware-result",
    "hash-algo",
    "windows-pebinary-type",
    "account-type",
    "indicator-pattern-types",
    "all-external-sources",
    "mime-type",
    "protocols",
    "ipfix",
    "http-request-headers",
    "socket-options",
    "pdf-doc-info",
    "countries",
    "network-traffic-ports",
    "extref-hashes",
    "indicator-properties",
    "deprecated-properties",
    "extension-description",
    "extension-properties",
    "extensions-use",
];

/// Why a case cannot be expressed, or None.
fn not_applicable(case: &Value) -> Option<&'static str> {
    let options = &case["options"];
    if case["needs_custom_schemas"] == Value::Bool(true) || !options["schema_dir"].is_null() {
        return Some("custom schemas");
    }
    if options["interop"] == Value::Bool(true) {
        return Some("interop profile");
    }
    if options["enforce_refs"] == Value::Bool(true) {
        return Some("enforce_refs");
    }
    let all: BTreeSet<String> = names(options.get("disabled"))
        .union(&names(options.get("enabled")))
        .cloned()
        .collect();
    if all.iter().any(|n| !KNOWN_CHECKS.contains(&n.as_str())) {
        return Some("unknown check name");
    }
    None
}

fn verdict(validator: &Validator, case: &Value) -> &'static str {
    let parsed: Value = match case["input_kind"].as_str() {
        Some("json") => case["input"].clone(),
        _ => match case["input"].as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(value)) => value,
            _ => return "invalid",
        },
    };
    let objects: Vec<&Value> = match &parsed {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut valid = true;
    for object in objects {
        let findings = validator.validate(object);
        if findings.iter().any(|f| f.severity == Severity::Error) {
            valid = false;
        }
    }
    if valid { "valid" } else { "invalid" }
}

#[test]
fn agreement_with_reference_validator_on_stix21_cases() {
    let path = shared_dir().join("conformance/stix-validator/cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let exceptions = docs_exceptions();
    let (mut agreed, mut by_spec, mut applicable, mut not_applicable_count) = (0, 0, 0, 0);
    let mut differing = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad case line: {e}"));
        if case["stix_version"] != "2.1" {
            continue;
        }
        if not_applicable(&case).is_some() {
            not_applicable_count += 1;
            continue;
        }
        applicable += 1;
        let options = &case["options"];
        let validator = Validator::new(Options {
            strict: options["strict"] == Value::Bool(true),
            strict_types: options["strict_types"] == Value::Bool(true),
            strict_properties: options["strict_properties"] == Value::Bool(true),
            disabled: names(options.get("disabled")),
            enabled: names(options.get("enabled")),
        });
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        let ours = verdict(&validator, &case);
        if ours == case["expected"] {
            agreed += 1;
        } else if exceptions.contains(&id) {
            by_spec += 1;
            used_exceptions.insert(id);
        } else {
            let mut detail = String::new();
            if std::env::var_os("CONFORMANCE_DEBUG").is_some() {
                if let Some(object) = case["input"].as_object() {
                    for f in validator.validate(&Value::Object(object.clone())) {
                        detail.push_str(&format!("\n      {f}"));
                    }
                }
                detail.push_str(&format!("\n      ref: {}", case["ref_messages"]));
            }
            differing.push(format!(
                "{id}: reference {} tearline {ours}{detail}",
                case["expected"]
            ));
        }
    }
    let rate = (agreed + by_spec) as f64 / applicable.max(1) as f64;
    println!(
        "stix-validator 2.1: agreed {agreed} + agreed-by-spec {by_spec} / applicable {applicable} ({:.1}%), not applicable {not_applicable_count}",
        rate * 100.0
    );
    for line in &differing {
        println!("  differs: {line}");
    }
    let stale: Vec<_> = exceptions.difference(&used_exceptions).collect();
    assert!(
        stale.is_empty(),
        "documented exceptions that no longer differ: {stale:?}"
    );
    assert!(
        applicable > 300,
        "only {applicable} applicable cases: is the shared folder there?"
    );
    assert!(rate >= 0.99, "agreement {:.1}% is below 99%", rate * 100.0);
}
