//! Need-to-know release end to end through the router: the two-person rule,
//! nothing visible before approval, every released object valid, and a
//! leak scan of every TAXII response the partner account can reach.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use server::releases::{self, ReleaseError};
use server::{AppState, Settings, auth};
use stix::markings::{TLP1_GREEN, TLP2_AMBER};
use store::sqlite::SqliteStore;
use store::{
    ApiRoot, Designation, DispositionKind, MarkingDisposition, NewAccount, NewCollection, NewParty,
    ReleaseState, Role, Store,
};
use tower::ServiceExt;

const ROOT: &str = "api1";
const NOW: i64 = 1_795_000_000_000_000;
const SOURCES: &str = "marking-definition--7d1c6a3e-5b0f-4c39-9a51-2f4e8b6c0d11";
const HOME_ID: &str = "identity--0b5e2d8c-1f7a-4e3b-8c6d-9a2f4b1e7c30";
const INFORMANT: &str = "identity--c3a9e1f2-6d4b-4a8e-b7c5-1e0f9d2a3b64";
const CELL: &str = "threat-actor--5f8e2a1c-9b3d-4c7e-a6f0-2d1b8e4c9a75";
const MARKET: &str = "location--a2c4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e86";
const TARGETS: &str = "relationship--e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c97";
const USES: &str = "relationship--11d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c98";
const REPORT: &str = "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8";
const C: &str = "2026-11-20T08:00:00.000Z";
/// Every withheld property and object carries one of these.
const CANARIES: [&str; 5] = [
    "CANARY-INFORMANT",
    "CANARY-LABEL",
    "CANARY-EXTREF",
    "CANARY-DESCRIPTION",
    "CANARY-RELATIONSHIP",
];

fn objects() -> Vec<Value> {
    vec![
        json!({"type": "identity", "spec_version": "2.1", "id": HOME_ID, "created": C, "modified": C,
               "name": "Home service", "identity_class": "organization"}),
        json!({"type": "marking-definition", "spec_version": "2.1", "id": SOURCES, "created": C,
               "name": "SOURCES AND METHODS", "definition_type": "statement",
               "definition": {"statement": "never releasable"}}),
        json!({"type": "identity", "spec_version": "2.1", "id": INFORMANT, "created": C, "modified": C,
               "created_by_ref": HOME_ID, "name": "CANARY-INFORMANT", "identity_class": "individual",
               "object_marking_refs": [SOURCES]}),
        json!({"type": "threat-actor", "spec_version": "2.1", "id": CELL, "created": C, "modified": C,
               "created_by_ref": HOME_ID, "name": "Black Kite", "threat_actor_types": ["terrorist"],
               "description": "CANARY-DESCRIPTION garage in the east quarter",
               "object_marking_refs": [TLP2_AMBER.id],
               "granular_markings": [{"marking_ref": SOURCES, "selectors": ["description"]}]}),
        // TLP 1.0 on input: released as TLP 2.0.
        json!({"type": "location", "spec_version": "2.1", "id": MARKET, "created": C, "modified": C,
               "name": "Central market", "latitude": 41.7, "longitude": 44.8,
               "object_marking_refs": [TLP1_GREEN.id]}),
        json!({"type": "relationship", "spec_version": "2.1", "id": TARGETS, "created": C, "modified": C,
               "created_by_ref": HOME_ID, "relationship_type": "targets",
               "source_ref": CELL, "target_ref": MARKET, "object_marking_refs": [TLP2_AMBER.id]}),
        // Points at the withheld informant: must be withheld as a whole.
        json!({"type": "relationship", "spec_version": "2.1", "id": USES, "created": C, "modified": C,
               "relationship_type": "related-to", "description": "CANARY-RELATIONSHIP",
               "source_ref": CELL, "target_ref": INFORMANT, "object_marking_refs": [TLP2_AMBER.id]}),
        json!({"type": "report", "spec_version": "2.1", "id": REPORT, "created": C, "modified": C,
               "created_by_ref": HOME_ID, "name": "Planned bombing", "published": C,
               "description": "A device at the central market on 5 December.",
               "report_types": ["threat-report"],
               "labels": ["terrorism", "CANARY-LABEL"],
               "external_references": [{"source_name": "debrief", "description": "CANARY-EXTREF"}],
               "object_refs": [CELL, MARKET, TARGETS, USES, INFORMANT],
               "object_marking_refs": [TLP2_AMBER.id],
               "granular_markings": [{"marking_ref": SOURCES,
                                      "selectors": ["labels.[1]", "external_references"]}]}),
    ]
}

struct World {
    store: Arc<SqliteStore>,
    app: Router,
    partner_auth: String,
    outbound: String,
    inbound: String,
    other_outbound: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("t.db"), true)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let s: &dyn Store = store.as_ref();
    let root = ApiRoot {
        name: ROOT.to_owned(),
        title: "t".to_owned(),
        description: None,
    };
    s.create_api_root(&root, NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let internal = s
        .create_collection(
            &NewCollection {
                api_root: ROOT.to_owned(),
                title: "internal".to_owned(),
                description: None,
                alias: None,
            },
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let party = |name: &str, designated: bool| NewParty {
        name: name.to_owned(),
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country: "RV".to_owned(),
        groups: vec!["cities".to_owned()],
        designations: if designated {
            vec![Designation {
                name: "terrorist-list".to_owned(),
                since: Some("2019-01-01".to_owned()),
            }]
        } else {
            Vec::new()
        },
        home: false,
        api_root: ROOT.to_owned(),
    };
    let partner = s
        .create_party(&party("city", true), NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = s
        .create_party(&party("other", false), NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let outbound = partner.outbound.clone().unwrap_or_default();
    let inbound = partner.inbound.clone().unwrap_or_default();
    let other_outbound = other.outbound.clone().unwrap_or_default();
    for (name, role, party, read, write) in [
        (
            "anna",
            Role::Analyst,
            None,
            vec![internal.clone()],
            vec![internal.clone()],
        ),
        ("olaf", Role::ReleasingOfficer, None, vec![], vec![]),
        ("rita", Role::ReleasingOfficer, None, vec![], vec![]),
        (
            "city-bot",
            Role::Partner,
            Some("city".to_owned()),
            vec![outbound.clone()],
            vec![inbound.clone()],
        ),
    ] {
        s.create_account(
            &NewAccount {
                name: name.to_owned(),
                password_hash: None,
                role,
                party,
                read,
                write,
            },
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let (token, digest) = auth::new_token();
    s.add_token("city-bot", &digest, None, NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let prepared: Vec<_> = objects()
        .iter()
        .map(|o| {
            server::ingest::prepare(
                &o.to_string(),
                &stix::validate::Validator::default(),
                &stix::Limits::default(),
            )
            .unwrap_or_else(|r| panic!("{}: {}", r.id, r.message))
        })
        .collect();
    s.add_objects(&internal, &prepared, NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.set_marking_disposition(
        &MarkingDisposition {
            marking_id: SOURCES.to_owned(),
            kind: DispositionKind::Withhold,
            release_to: Vec::new(),
        },
        NOW,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (signer, _) = server::ledger_ops::LogSigner::generate("ledger.test.example/tl")
        .unwrap_or_else(|e| panic!("{e}"));
    let app = server::router(
        AppState::new(store.clone(), Settings::default()).with_ledger_signer(signer),
    );
    World {
        store,
        app,
        partner_auth: format!("Bearer {token}"),
        outbound,
        inbound,
        other_outbound,
        _dir: dir,
    }
}

async fn get(app: &Router, path: &str, auth: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("accept", "application/taxii+json;version=2.1")
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn outbound_ids(store: &dyn Store, collection: &str) -> usize {
    store
        .query_objects(&store::ObjectQuery::new(collection.to_owned(), 1000))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .items
        .len()
}

#[tokio::test]
async fn two_person_rule_and_nothing_before_approval() {
    let w = world().await;
    let s: &dyn Store = w.store.as_ref();
    let ids = [REPORT.to_owned()];
    // A partner account cannot even ask.
    let asked = releases::request(s, "city-bot", "city", &ids, "x", NOW).await;
    assert!(matches!(asked, Err(ReleaseError::Refused(_))));
    let summary = releases::request(s, "olaf", "city", &ids, "duty to warn", NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        summary.state,
        ReleaseState::PendingApproval,
        "designated partner"
    );
    assert_eq!(
        outbound_ids(s, &w.outbound).await,
        0,
        "nothing before the decision"
    );

    for refused in ["olaf", "city-bot", "anna"] {
        let answer = releases::approve(s, &summary.release, refused, NOW + 1).await;
        assert!(
            matches!(answer, Err(ReleaseError::Refused(_))),
            "{refused} must not approve"
        );
        let record = s
            .release(&summary.release)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.map(|r| r.state), Some(ReleaseState::PendingApproval));
        assert_eq!(outbound_ids(s, &w.outbound).await, 0);
    }
    let approved = releases::approve(s, &summary.release, "rita", NOW + 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(approved.state, ReleaseState::Released);
    assert!(outbound_ids(s, &w.outbound).await > 0);
    assert!(matches!(
        releases::approve(s, &summary.release, "rita", NOW + 3).await,
        Err(ReleaseError::Refused(_))
    ));
    let shown = releases::show(s, &summary.release)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shown["approvals"][0]["account"], "rita");
    assert_eq!(
        outbound_ids(s, &w.other_outbound).await,
        0,
        "other partners get nothing"
    );

    // The same request again writes nothing new: identical content is not
    // re-versioned, so one (id, modified) stays one content.
    let before = outbound_ids(s, &w.outbound).await;
    let again = releases::request(s, "olaf", "city", &ids, "again", NOW + 10).await;
    let again = again.unwrap_or_else(|e| panic!("{e}"));
    releases::approve(s, &again.release, "rita", NOW + 11)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outbound_ids(s, &w.outbound).await, before);
}

#[tokio::test]
async fn partner_responses_hold_no_canary_and_no_original_id() {
    let w = world().await;
    let s: &dyn Store = w.store.as_ref();
    let summary = releases::request(s, "anna", "city", &[REPORT.to_owned()], "warn", NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    releases::approve(s, &summary.release, "olaf", NOW + 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let objects_path = format!("/{ROOT}/collections/{}/objects/", w.outbound);
    let (status, body) = get(&w.app, &objects_path, &w.partner_auth).await;
    assert_eq!(status, StatusCode::OK);
    let envelope: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let received: Vec<Value> = envelope["objects"].as_array().cloned().unwrap_or_default();
    let received_ids: BTreeSet<String> = received
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect();
    let types: BTreeSet<&str> = received.iter().filter_map(|o| o["type"].as_str()).collect();
    assert!(
        types.contains("report") && types.contains("threat-actor") && types.contains("location")
    );
    assert!(
        !received_ids.contains(TLP1_GREEN.id),
        "TLP 1.0 goes out as TLP 2.0"
    );
    assert!(received_ids.contains(stix::markings::TLP2_GREEN.id));

    // Every released object is valid STIX and its references are closed.
    let validator = stix::validate::Validator::default();
    for object in &received {
        let findings = validator.validate(object);
        assert!(
            stix::validate::Validator::is_valid(&findings),
            "{object}: {findings:?}"
        );
        let mut refs = Vec::new();
        collect_refs(object, &mut refs);
        for target in refs {
            assert!(
                received_ids.contains(&target),
                "{target} dangles in {object}"
            );
        }
    }

    // Scan everything reachable.
    let mut paths = vec![
        "/taxii2/".to_owned(),
        format!("/{ROOT}/"),
        format!("/{ROOT}/collections/"),
        format!("/{ROOT}/collections/{}/", w.outbound),
        format!("/{ROOT}/collections/{}/", w.inbound),
        format!("/{ROOT}/collections/{}/", w.other_outbound),
        format!("/{ROOT}/collections/{}/objects/", w.other_outbound),
        format!("/{ROOT}/collections/{}/manifest/", w.outbound),
        format!(
            "/{ROOT}/collections/{}/objects/?match[version]=all",
            w.outbound
        ),
        format!("/{ROOT}/collections/{}/objects/?limit=1", w.outbound),
        format!("/{ROOT}/collections/{}/objects/", w.inbound),
        format!("/{ROOT}/status/{}/", uuid::Uuid::new_v4()),
        objects_path.clone(),
    ];
    for id in received_ids.iter().cloned().chain(
        [
            REPORT, CELL, MARKET, TARGETS, USES, INFORMANT, HOME_ID, SOURCES,
        ]
        .map(str::to_owned),
    ) {
        paths.push(format!("{objects_path}{id}/"));
        paths.push(format!("{objects_path}{id}/versions/"));
        paths.push(format!("{objects_path}?match[id]={id}"));
    }
    // The release API and the ledger, as far as a partner can reach them.
    let ledger = "/api/v1/ledger";
    for log in ["city", "other", "home", "nobody"] {
        for tail in [
            "checkpoint",
            "records",
            "records/0",
            "records?start=0&limit=10",
            "proof/inclusion?index=0",
            "proof/consistency?old=0",
            "internal/0",
        ] {
            paths.push(format!("{ledger}/logs/{log}/{tail}"));
        }
    }
    paths.push(format!("{ledger}/key"));
    paths.push(format!("{ledger}/logs"));
    for api in [
        "me",
        "parties",
        "markings",
        "policy",
        "parties/city",
        "parties/other",
    ] {
        paths.push(format!("/api/v1/{api}"));
    }
    paths.push(format!("/api/v1/releases/{}", summary.release));
    paths.push(format!("/api/v1/releases/{}/explanation", summary.release));
    let originals = [REPORT, CELL, TARGETS, USES, INFORMANT, HOME_ID, SOURCES];
    for path in &paths {
        let (_, body) = get(&w.app, path, &w.partner_auth).await;
        for canary in CANARIES {
            assert!(!body.contains(canary), "{canary} leaked at {path}: {body}");
        }
        for original in originals {
            assert!(
                !body.contains(original),
                "{original} leaked at {path}: {body}"
            );
        }
        assert!(
            !body.contains(&w.other_outbound),
            "another partner's collection at {path}"
        );
        for internal in ["warn", "anna", "olaf", "\"other\"", "justification"] {
            assert!(
                !body.contains(internal),
                "{internal} leaked at {path}: {body}"
            );
        }
    }
    // The partner's own log is readable and records this release.
    let (status, body) = get(
        &w.app,
        &format!("{ledger}/logs/city/records"),
        &w.partner_auth,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&summary.release));
    // A guessed original id answers exactly like a missing one.
    let (guessed, _) = get(&w.app, &format!("{objects_path}{REPORT}/"), &w.partner_auth).await;
    let (missing, _) = get(
        &w.app,
        &format!("{objects_path}report--00000000-0000-4000-8000-000000000000/"),
        &w.partner_auth,
    )
    .await;
    assert_eq!(guessed, missing);
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, item) in map {
            if key.ends_with("_ref") {
                out.extend(item.as_str().map(str::to_owned));
            } else if key.ends_with("_refs") {
                out.extend(
                    item.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned)),
                );
            } else {
                collect_refs(item, out);
            }
        }
    } else if let Value::Array(items) = value {
        items.iter().for_each(|i| collect_refs(i, out));
    }
}
