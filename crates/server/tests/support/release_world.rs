//! A small need-to-know world for the release API tests: a home service
//! with a report whose source details sit under a withheld "sources and
//! methods" marking, a designated partner and another partner, and one
//! account per role, each with a bearer token. Included by `#[path]` from
//! the test files that need it.

#![allow(dead_code)] // Each including test uses a different part.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use server::{AppState, Settings, auth};
use stix::markings::{TLP1_GREEN, TLP2_AMBER};
use store::sqlite::SqliteStore;
use store::{
    ApiRoot, Designation, DispositionKind, MarkingDisposition, NewAccount, NewCollection, NewParty,
    Role, Store,
};
use tower::ServiceExt;

pub const ROOT: &str = "api1";
pub const LEDGER_NAME: &str = "ledger.test.example/tl";
pub const NOW: i64 = 1_795_000_000_000_000;
pub const SOURCES: &str = "marking-definition--7d1c6a3e-5b0f-4c39-9a51-2f4e8b6c0d11";
pub const HOME_ID: &str = "identity--0b5e2d8c-1f7a-4e3b-8c6d-9a2f4b1e7c30";
pub const INFORMANT: &str = "identity--c3a9e1f2-6d4b-4a8e-b7c5-1e0f9d2a3b64";
pub const CELL: &str = "threat-actor--5f8e2a1c-9b3d-4c7e-a6f0-2d1b8e4c9a75";
pub const MARKET: &str = "location--a2c4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e86";
pub const TARGETS: &str = "relationship--e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c97";
pub const USES: &str = "relationship--11d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c98";
pub const INDICATOR: &str = "indicator--4b6d8f0a-2c4e-4a6b-8d0f-1a3c5e7b9d10";
pub const REPORT: &str = "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8";
const C: &str = "2026-11-20T08:00:00.000Z";
/// Every withheld property and object carries one of these.
pub const CANARIES: [&str; 5] = [
    "CANARY-INFORMANT",
    "CANARY-LABEL",
    "CANARY-EXTREF",
    "CANARY-DESCRIPTION",
    "CANARY-RELATIONSHIP",
];
/// Source ids a partner must never see (everything the report touches
/// that is redacted or withheld).
pub const ORIGINALS: [&str; 7] = [REPORT, CELL, TARGETS, USES, INFORMANT, HOME_ID, SOURCES];

pub fn objects() -> Vec<Value> {
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
        json!({"type": "indicator", "spec_version": "2.1", "id": INDICATOR, "created": C, "modified": C,
               "name": "Cell phone",
               "indicator_types": ["attribution"], "pattern_type": "stix",
               "pattern": "[ipv4-addr:value = '198.51.100.7']", "valid_from": C,
               "object_marking_refs": [TLP1_GREEN.id]}),
        json!({"type": "report", "spec_version": "2.1", "id": REPORT, "created": C, "modified": C,
               "created_by_ref": HOME_ID, "name": "Planned bombing", "published": C,
               "description": "A device at the central market on 5 December.",
               "report_types": ["threat-report"],
               "labels": ["terrorism", "CANARY-LABEL"],
               "external_references": [{"source_name": "debrief", "description": "CANARY-EXTREF"}],
               "object_refs": [CELL, MARKET, TARGETS, USES, INFORMANT, INDICATOR],
               "object_marking_refs": [TLP2_AMBER.id],
               "granular_markings": [{"marking_ref": SOURCES,
                                      "selectors": ["labels.[1]", "external_references"]}]}),
    ]
}

pub struct World {
    pub store: Arc<SqliteStore>,
    pub app: Router,
    /// `Bearer …` per account name.
    pub auth: BTreeMap<&'static str, String>,
    pub internal: String,
    pub outbound: String,
    pub inbound: String,
    pub other_outbound: String,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn bearer(&self, account: &str) -> &str {
        self.auth
            .get(account)
            .map_or_else(|| panic!("no account {account}"), String::as_str)
    }
}

/// Account name, role, party.
pub const ACCOUNTS: [(&str, Role, Option<&str>); 8] = [
    ("anna", Role::Analyst, None),
    ("olaf", Role::ReleasingOfficer, None),
    ("rita", Role::ReleasingOfficer, Some("home")),
    ("aude", Role::Auditor, None),
    ("adam", Role::Admin, None),
    ("city-bot", Role::Partner, Some("city")),
    ("other-bot", Role::Partner, Some("other")),
    // Not a partner role, but tied to a partner party: sees nothing.
    ("mole", Role::Analyst, Some("city")),
];

pub async fn world() -> World {
    world_with(Settings::default()).await
}

pub async fn world_with(settings: Settings) -> World {
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
    let party = |name: &str, designated: bool, home: bool| NewParty {
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
        home,
        api_root: ROOT.to_owned(),
    };
    s.create_party(&party("home", false, true), NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let partner = s
        .create_party(&party("city", true, false), NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = s
        .create_party(&party("other", false, false), NOW)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let outbound = partner.outbound.clone().unwrap_or_default();
    let inbound = partner.inbound.clone().unwrap_or_default();
    let other_outbound = other.outbound.clone().unwrap_or_default();
    let other_inbound = other.inbound.clone().unwrap_or_default();
    let mut auth = BTreeMap::new();
    for (name, role, party) in ACCOUNTS {
        let (read, write) = match (role, party) {
            (Role::Partner, Some("city")) => (vec![outbound.clone()], vec![inbound.clone()]),
            (Role::Partner, _) => (vec![other_outbound.clone()], vec![other_inbound.clone()]),
            _ => (vec![internal.clone()], vec![internal.clone()]),
        };
        s.create_account(
            &NewAccount {
                name: name.to_owned(),
                password_hash: None,
                role,
                party: party.map(str::to_owned),
                read,
                write,
            },
            NOW,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let (token, digest) = auth::new_token();
        s.add_token(name, &digest, None, NOW)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        auth.insert(name, format!("Bearer {token}"));
    }
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
    let (signer, _) =
        server::ledger_ops::LogSigner::generate(LEDGER_NAME).unwrap_or_else(|e| panic!("{e}"));
    let app = server::router(AppState::new(store.clone(), settings).with_ledger_signer(signer));
    World {
        store,
        app,
        auth,
        internal,
        outbound,
        inbound,
        other_outbound,
        _dir: dir,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request through the router. `body` is sent as `application/json`.
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let body = match body {
        Some(value) => {
            request = request.header("content-type", "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    send(app, request.body(body).unwrap_or_else(|e| panic!("{e}"))).await
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Every object the partner can read from its outbound collection over
/// TAXII (all versions), with its own credentials.
pub async fn partner_objects(world: &World, account: &str) -> Vec<Value> {
    let collection = if account == "city-bot" {
        &world.outbound
    } else {
        &world.other_outbound
    };
    let path = format!("/{ROOT}/collections/{collection}/objects/?match[version]=all");
    let request = Request::get(path)
        .header("accept", "application/taxii+json;version=2.1")
        .header("authorization", world.bearer(account))
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = send(&world.app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
