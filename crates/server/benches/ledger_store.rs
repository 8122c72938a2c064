//! The release ledger through its storage: proofs and checkpoints answered
//! from SQLite for a partner log of one million leaves, and records appended
//! one release transaction at a time (each durable: `synchronous=FULL`).
//! The in-memory math has its own bench (`cargo bench -p ledger`). Goal
//! from issue 6: at most 1 ms per inclusion proof at 1M leaves.
//! Run: `cargo bench -p server --bench ledger_store`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark code")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{Hash, MemoryLog, leaf_hash};
use server::ledger_ops::{self, LogSigner};
use sqlx::{ConnectOptions, Connection};
use store::sqlite::SqliteStore;
use store::{ApiRoot, NewParty, ReleaseCommit, ReleaseRecord, ReleaseState, Store};

const MILLION: u64 = 1 << 20;
const T0: i64 = 1_795_000_000_000_000;

/// A store whose partner `p` has a log of `MILLION` leaves, loaded with
/// plain SQL (appending them one transaction at a time would take hours
/// with durable commits). Only the last few leaves have records.
async fn million_leaf_store(dir: &std::path::Path) -> SqliteStore {
    let file = dir.join("bench.db");
    let store = SqliteStore::open(&file, true).await.unwrap();
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
    store
        .create_party(
            &NewParty {
                name: "p".into(),
                identity_id: "identity--6b2a1c4e-3f5d-4e7a-9b8c-0d1e2f3a4b5c".into(),
                country: String::new(),
                groups: Vec::new(),
                designations: Vec::new(),
                home: false,
                api_root: "api1".into(),
            },
            T0,
        )
        .await
        .unwrap();
    let leaves: Vec<Hash> = (0..MILLION).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut log = MemoryLog::new();
    log.append_leaf_hashes(&leaves).unwrap();
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    let mut level_width = MILLION;
    let mut level = 0u8;
    while level_width > 0 {
        for index in 0..level_width {
            let id = ledger::NodeId { level, index };
            let hash = ledger::NodeReader::node(&log, id).unwrap();
            sqlx::query("INSERT INTO ledger_nodes (party, level, idx, hash) VALUES ('p', ?, ?, ?)")
                .bind(i64::from(level))
                .bind(index as i64)
                .bind(hash.0.as_slice())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        level_width /= 2;
        level += 1;
    }
    for index in MILLION - 16..MILLION {
        sqlx::query(
            "INSERT INTO ledger_leaves (party, idx, release_id, record, leaf_hash, internal, \
             salt, created_at) VALUES ('p', ?, ?, ?, ?, x'', zeroblob(32), 0)",
        )
        .bind(index as i64)
        .bind(format!("bulk-{index}"))
        .bind(index.to_be_bytes().to_vec())
        .bind(leaves[index as usize].0.as_slice())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO ledger_logs (party, size) VALUES ('p', ?)")
        .bind(MILLION as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store
}

fn refusal(n: u64) -> ReleaseCommit {
    let record = ReleaseRecord {
        id: format!("00000000-0000-4000-8000-{n:012}"),
        party: "p".into(),
        requester: "anna".into(),
        justification: "bench".into(),
        state: ReleaseState::Denied,
        policy_version: format!("sha256:{}", "ab".repeat(32)),
        requested: vec!["indicator--6b2a1c4e-3f5d-4e7a-9b8c-0d1e2f3a4b5c".into()],
        decisions: serde_json::json!({"objects": []}),
        outgoing: Vec::new(),
        created_at: T0,
        decided_at: Some(T0),
        approvals: Vec::new(),
    };
    let ledger = ledger_ops::record_for(&record, ledger::Outcome::Refused, T0).unwrap();
    ReleaseCommit {
        record,
        expected_state: None,
        approval: None,
        collection_id: None,
        derivations: Vec::new(),
        ledger: Some(ledger),
        only_newer: false,
    }
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(million_leaf_store(dir.path()));
    let store: &dyn Store = &store;
    let (signer, _) = LogSigner::generate("bench.example/ledger").unwrap();

    let mut group = c.benchmark_group("ledger_from_sqlite_at_1M");
    let mut index = 0u64;
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            // Spread over the log so the page cache is not always hot for one path.
            index = (index + 7_919) % 16 + (MILLION - 16);
            black_box(
                runtime
                    .block_on(ledger_ops::inclusion(store, "p", index, None))
                    .unwrap(),
            )
        });
    });
    group.bench_function("consistency_proof", |b| {
        let mut old = 1u64;
        b.iter(|| {
            old = (old * 7_919) % (MILLION - 1) + 1;
            black_box(
                runtime
                    .block_on(ledger_ops::consistency(store, "p", old, None))
                    .unwrap(),
            )
        });
    });
    group.bench_function("signed_checkpoint", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(ledger_ops::checkpoint(store, &signer, "p", None))
                    .unwrap(),
            )
        });
    });
    group.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    // One refusal per durable transaction: release row + record + nodes + head.
    group.bench_function("append_one_record_per_release_transaction", |b| {
        b.iter(|| {
            n += 1;
            runtime
                .block_on(store.commit_release(&refusal(n), T0))
                .unwrap();
        });
    });
    group.finish();
}

criterion_group! {
    name = ledger_store;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(ledger_store);
