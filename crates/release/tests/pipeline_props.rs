//! Property: for random objects with random object and granular markings,
//! the plan holds no content under a withheld marking, every object it
//! writes is valid STIX, and the same input always gives the same output.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use release::pipeline::{Plan, PlanInput, Source, plan};
use release::policy::{Disposition, PartyFacts, Policy};
use serde_json::{Value, json};
use stix::markings::{TLP2_AMBER, TLP2_GREEN, TLP2_RED};

const SOURCES: &str = "marking-definition--7d1c6a3e-5b0f-4c39-9a51-2f4e8b6c0d11";
const ID: &str = "threat-actor--5f8e2a1c-9b3d-4c7e-a6f0-2d1b8e4c9a75";
const C: &str = "2026-11-20T08:00:00.000Z";

/// Markings a granular entry may use, and whether the partner may get
/// content under each.
const GRANULAR: [(&str, bool); 4] = [
    (TLP2_GREEN.id, true),
    (TLP2_AMBER.id, true),
    (TLP2_RED.id, false),
    (SOURCES, false),
];

fn token(n: usize) -> String {
    format!("tok-{n:03}-x")
}

#[derive(Debug, Clone)]
struct Case {
    labels: usize,
    aliases: usize,
    description: bool,
    object_marking: Option<usize>,
    /// (marking index, selector index into the selectable paths)
    granular: Vec<(usize, usize)>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        0usize..4,
        0usize..4,
        any::<bool>(),
        proptest::option::of(0usize..3),
        proptest::collection::vec((0usize..4, 0usize..16), 0..6),
    )
        .prop_map(
            |(labels, aliases, description, object_marking, granular)| Case {
                labels,
                aliases,
                description,
                object_marking,
                granular,
            },
        )
}

/// The object, and the tokens that must never leave.
fn build(case: &Case) -> (Value, BTreeSet<String>) {
    let mut n = 0;
    let mut next = || {
        n += 1;
        token(n)
    };
    let mut object = json!({
        "type": "threat-actor", "spec_version": "2.1", "id": ID,
        "created": C, "modified": C, "name": next(),
    });
    // (selector, tokens under it)
    let mut paths: Vec<(String, Vec<String>)> = Vec::new();
    paths.push((
        "name".to_owned(),
        vec![object["name"].as_str().unwrap_or("").to_owned()],
    ));
    for (key, count) in [("labels", case.labels), ("aliases", case.aliases)] {
        if count == 0 {
            continue;
        }
        let values: Vec<String> = (0..count).map(|_| next()).collect();
        for (i, v) in values.iter().enumerate() {
            paths.push((format!("{key}.[{i}]"), vec![v.clone()]));
        }
        paths.push((key.to_owned(), values.clone()));
        object[key] = json!(values);
    }
    if case.description {
        let d = next();
        paths.push(("description".to_owned(), vec![d.clone()]));
        object["description"] = json!(d);
    }
    let all: Vec<String> = paths.iter().flat_map(|(_, t)| t.clone()).collect();
    let mut secret = BTreeSet::new();
    let object_markings = [TLP2_GREEN.id, TLP2_AMBER.id, TLP2_RED.id];
    if let Some(i) = case.object_marking {
        let marking = object_markings[i];
        object["object_marking_refs"] = json!([marking]);
        if marking == TLP2_RED.id {
            secret.extend(all.iter().cloned());
        }
    }
    let mut granular: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (m, p) in &case.granular {
        let (marking, released) = GRANULAR[*m];
        let (selector, tokens) = &paths[p % paths.len()];
        let entry = granular.entry(marking).or_default();
        if !entry.contains(selector) {
            entry.push(selector.clone());
        }
        if !released {
            secret.extend(tokens.iter().cloned());
        }
    }
    if !granular.is_empty() {
        object["granular_markings"] = json!(
            granular
                .iter()
                .map(|(m, s)| json!({"marking_ref": m, "selectors": s}))
                .collect::<Vec<_>>()
        );
    }
    (object, secret)
}

fn run(object: &Value, policy: &Policy) -> Plan {
    let held = BTreeMap::from([(
        SOURCES.to_owned(),
        json!({"type": "marking-definition", "spec_version": "2.1", "id": SOURCES, "created": C,
               "definition_type": "statement", "definition": {"statement": "no"}}),
    )]);
    let dispositions = BTreeMap::from([(SOURCES.to_owned(), Disposition::Withhold)]);
    let identity = json!({"type": "identity", "spec_version": "2.1",
        "id": "identity--f45b9904-31f7-45f6-a9d7-765afe634c11", "created": C, "modified": C,
        "name": "release authority", "identity_class": "organization"});
    let party = PartyFacts {
        name: "city".to_owned(),
        country: "RV".to_owned(),
        groups: BTreeSet::new(),
        designations: BTreeSet::new(),
    };
    let sources = [Source {
        value: object.clone(),
        raw: object.to_string(),
    }];
    let derive = |id: &str| {
        let t = id.split_once("--").map_or("x", |(t, _)| t);
        format!("{t}--0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5")
    };
    plan(&PlanInput {
        policy,
        party: &party,
        sources: &sources,
        held_markings: &held,
        dispositions: &dispositions,
        previous: &BTreeMap::new(),
        release_identity: &identity,
        derivative_id: &derive,
        now: "2026-11-27T00:00:00.000Z",
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_withheld_content_valid_and_stable(case in cases()) {
        let policy = Policy::default_policy().unwrap_or_else(|e| panic!("{e}"));
        let (object, secret) = build(&case);
        let first = run(&object, &policy);
        let validator = stix::validate::Validator::default();
        for out in &first.objects {
            for token in &secret {
                prop_assert!(!out.raw.contains(token.as_str()), "{token} leaked: {}", out.raw);
            }
            let value: Value = serde_json::from_str(&out.raw).unwrap_or(Value::Null);
            let findings = validator.validate(&value);
            prop_assert!(stix::validate::Validator::is_valid(&findings), "{}: {findings:?}", out.raw);
        }
        prop_assert!(!first.objects.iter().any(|o| o.raw.contains(SOURCES)));
        let second = run(&object, &policy);
        prop_assert_eq!(first.objects, second.objects);
    }
}
