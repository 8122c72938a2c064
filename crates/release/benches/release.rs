//! Policy decisions per object (Cedar entities built per object) and the
//! whole pipeline over a 10,000-object release, in process.
//!
//!     cargo bench -p release --bench release
//!
//! A bench binary: prints the median of five runs.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

use release::pipeline::{PlanInput, Source, plan};
use release::policy::{
    Disposition, MarkingFacts, MarkingKind, ObjectFacts, PartyFacts, Policy, TlpLevel,
};
use serde_json::json;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let Ok(policy) = Policy::default_policy() else {
        eprintln!("the default policy does not load");
        return;
    };
    let party = PartyFacts {
        name: "city".to_owned(),
        country: "RV".to_owned(),
        groups: BTreeSet::from(["cities".to_owned()]),
        designations: BTreeSet::from(["list".to_owned()]),
    };
    let markings = vec![MarkingFacts {
        id: stix::markings::TLP2_GREEN.id.to_owned(),
        kind: MarkingKind::Tlp(TlpLevel::Green),
        disposition: Disposition::None,
    }];
    let Ok(session) = policy.session(&party, &markings) else {
        eprintln!("no session");
        return;
    };
    let decisions = 10_000;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for n in 0..decisions {
            let facts = ObjectFacts {
                id: format!("indicator--{n}"),
                stix_type: "indicator".to_owned(),
                tlp: Some(TlpLevel::Green),
                unmarked: false,
            };
            black_box(session.object(&facts));
        }
        runs.push(start.elapsed());
    }
    let per = median(runs) / decisions;
    println!(
        "policy: {per:?} per object (releaseObject + releaseWithoutApproval, entities built per object)"
    );

    let objects = 10_000;
    let sources: Vec<Source> = (0..objects)
        .map(|n| {
            let value = json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "name": format!("indicator {n}"), "description": format!("secret {n}"),
                "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
                "valid_from": "2026-01-01T00:00:00Z",
                "object_marking_refs": [stix::markings::TLP2_GREEN.id],
                "granular_markings": [{"marking_ref": stix::markings::TLP2_RED.id, "selectors": ["description"]}],
            });
            Source { raw: value.to_string(), value }
        })
        .collect();
    let identity = json!({"type": "identity", "spec_version": "2.1",
        "id": "identity--f45b9904-31f7-45f6-a9d7-765afe634c11", "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z", "name": "release authority", "identity_class": "organization"});
    let derive = |id: &str| {
        format!(
            "indicator--{}",
            &id.get(id.len().saturating_sub(36)..).unwrap_or("")
        )
    };
    let mut runs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let result = plan(&PlanInput {
            policy: &policy,
            party: &party,
            sources: &sources,
            held_markings: &BTreeMap::new(),
            dispositions: &BTreeMap::new(),
            previous: &BTreeMap::new(),
            release_identity: &identity,
            derivative_id: &derive,
            now: "2026-11-27T00:00:00.000Z",
        });
        black_box(&result);
        runs.push(start.elapsed());
    }
    let total = median(runs);
    println!(
        "pipeline: {objects} objects in {total:?} = {:.0} objects/s (redact, close, version, validate)",
        f64::from(objects) / total.as_secs_f64()
    );
}
