//! End-to-end release throughput: one release of a report that references
//! 10,000 indicators, from request to a committed outbound collection and
//! ledger record (gather from the store, Cedar decisions, redaction and
//! closure, validation of every derivative, one durable transaction).
//! Each sample releases to a fresh partner. Run:
//! `cargo bench -p server --bench release_e2e`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark code")]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use server::releases;
use stix::markings::TLP2_GREEN;
use store::sqlite::SqliteStore;
use store::{ApiRoot, NewAccount, NewCollection, NewParty, ReleaseState, Role, Store};

const OBJECTS: usize = 10_000;
const T0: i64 = 1_795_000_000_000_000;
const REPORT: &str = "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba8";
const CREATED: &str = "2026-11-20T08:00:00.000Z";

fn indicator_id(i: usize) -> String {
    format!("indicator--6a8b4f4e-7a1e-4b0b-9d49-{i:012x}")
}

fn party(name: &str, home: bool) -> NewParty {
    NewParty {
        name: name.into(),
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country: String::new(),
        groups: Vec::new(),
        designations: Vec::new(),
        home,
        api_root: "api1".into(),
    }
}

async fn world(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("bench.db"), true)
        .await
        .unwrap();
    store
        .create_api_root(
            &ApiRoot {
                name: "api1".into(),
                title: "bench".into(),
                description: None,
            },
            T0,
        )
        .await
        .unwrap();
    let internal = store
        .create_collection(
            &NewCollection {
                api_root: "api1".into(),
                title: "internal".into(),
                description: None,
                alias: None,
            },
            T0,
        )
        .await
        .unwrap()
        .id;
    store.create_party(&party("home", true), T0).await.unwrap();
    store
        .create_account(
            &NewAccount {
                name: "anna".into(),
                password_hash: None,
                role: Role::Analyst,
                party: None,
                read: vec![internal.clone()],
                write: vec![internal.clone()],
            },
            T0,
        )
        .await
        .unwrap();
    let validator = stix::validate::Validator::default();
    let limits = stix::Limits::default();
    let mut objects: Vec<_> = (0..OBJECTS)
        .map(|i| {
            let value = json!({
                "type": "indicator", "spec_version": "2.1", "id": indicator_id(i),
                "created": CREATED, "modified": CREATED,
                "name": format!("bench indicator {i}"),
                "pattern": format!("[ipv4-addr:value = '10.0.{}.{}']", i / 250, i % 250),
                "pattern_type": "stix", "valid_from": CREATED,
                "object_marking_refs": [TLP2_GREEN.id],
            });
            server::ingest::prepare(&value.to_string(), &validator, &limits).unwrap()
        })
        .collect();
    let report = json!({
        "type": "report", "spec_version": "2.1", "id": REPORT,
        "created": CREATED, "modified": CREATED, "name": "bench report",
        "published": CREATED,
        "object_refs": (0..OBJECTS).map(indicator_id).collect::<Vec<_>>(),
        "object_marking_refs": [TLP2_GREEN.id],
    });
    objects.push(server::ingest::prepare(&report.to_string(), &validator, &limits).unwrap());
    for chunk in objects.chunks(1_000) {
        store.add_objects(&internal, chunk, T0).await.unwrap();
    }
    store
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(world(dir.path()));
    let store: &dyn Store = &store;
    let mut group = c.benchmark_group("release");
    group.throughput(Throughput::Elements(OBJECTS as u64 + 1));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    let mut partners = 0u64;
    group.bench_function("report_with_10000_indicators_end_to_end", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                partners += 1;
                let name = format!("partner-{partners}");
                runtime
                    .block_on(store.create_party(&party(&name, false), T0))
                    .unwrap();
                let started = Instant::now();
                let summary = runtime
                    .block_on(releases::request(
                        store,
                        "anna",
                        &name,
                        &[REPORT.to_owned()],
                        "bench",
                        T0 + 1,
                    ))
                    .unwrap();
                spent += started.elapsed();
                assert_eq!(summary.state, ReleaseState::Released);
            }
            spent
        });
    });
    group.finish();
}

criterion_group!(release_e2e, benches);
criterion_main!(release_e2e);
