//! The backend-agnostic suite on a real PostgreSQL that the tests start
//! themselves, plus what only several nodes can break: two pools (two
//! "nodes") writing one collection, racing approvals, concurrent
//! migrations, and a database restart under load.
//!
//! Needs `initdb` and `pg_ctl` (see `store::pg_cluster`); fails when they
//! are missing unless `TEARLINE_SKIP_POSTGRES=1`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use store::pg_cluster::TestCluster;
use store::postgres::{PgSettings, PgStore};
use store::sqlite::SqliteStore;
use store::testing::{self, T0};
use store::{AddOutcome, Micros, ObjectQuery, Store, StoreError, VersionFilter};

fn shared_cluster() -> Option<Arc<TestCluster>> {
    TestCluster::shared().unwrap_or_else(|err| panic!("test cluster: {err}"))
}

fn own_cluster() -> Option<TestCluster> {
    TestCluster::start_or_skip().unwrap_or_else(|err| panic!("test cluster: {err}"))
}

async fn fresh_database(cluster: &TestCluster) -> String {
    cluster
        .create_database()
        .await
        .unwrap_or_else(|err| panic!("create database: {err}"))
}

async fn open(url: &str, settings: &PgSettings) -> PgStore {
    PgStore::open(url, settings)
        .await
        .unwrap_or_else(|err| panic!("open: {err}"))
}

/// Small pools with short waits, as two nodes sharing a test server.
fn node_settings() -> PgSettings {
    PgSettings {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(3),
        ..PgSettings::default()
    }
}

fn all_versions(collection: &str, limit: usize) -> ObjectQuery {
    let mut query = ObjectQuery::new(collection, limit);
    query.versions = VersionFilter::All;
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let store = open(&fresh_database(&cluster).await, &PgSettings::default()).await;
    testing::conformance(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_migrate_at_once_and_reopening_keeps_data() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    // Two nodes starting together both run the migrations; sqlx's advisory
    // lock makes one wait for the other.
    let settings = node_settings();
    let (a, b) = tokio::join!(
        PgStore::open(&url, &settings),
        PgStore::open(&url, &settings)
    );
    let (a, b) = (
        a.unwrap_or_else(|err| panic!("node a: {err}")),
        b.unwrap_or_else(|err| panic!("node b: {err}")),
    );
    let collection = testing::fresh_collection(&a).await;
    a.add_objects(&collection, &[testing::object("k--1", "k", "2.1", "v")], T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        b.object_exists(&collection, "k--1")
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        "written through one node, read through the other"
    );
    a.close().await;
    b.close().await;
    let again = open(&url, &node_settings()).await;
    again
        .migrate()
        .await
        .unwrap_or_else(|err| panic!("migrating an up-to-date database: {err}"));
    assert!(
        again
            .object_exists(&collection, "k--1")
            .await
            .unwrap_or(false)
    );
    again.close().await;
}

/// Both backends: a new version repeated inside one envelope is stored once,
/// the first time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_repeated_in_one_envelope_is_stored_once_on_both_backends() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let sqlite = SqliteStore::open(&dir.path().join("t.db"), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let postgres = open(&fresh_database(&cluster).await, &node_settings()).await;
    let mut results = Vec::new();
    for store in [&sqlite as &dyn Store, &postgres] {
        let collection = testing::fresh_collection(store).await;
        let object = testing::object("r--1", "r", "2.1", "v");
        let mut other = testing::object("r--2", "r", "2.1", "v");
        other.raw.push(' ');
        let outcomes = store
            .add_objects(&collection, &[object.clone(), other, object], T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let shape: Vec<bool> = outcomes
            .iter()
            .map(|o| matches!(o, AddOutcome::Stored { .. }))
            .collect();
        assert_eq!(shape, vec![true, true, false]);
        let page = store
            .query_objects(&all_versions(&collection, 10))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        results.push(
            page.items
                .into_iter()
                .map(|i| (i.object_id, i.raw))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        results.first(),
        results.get(1),
        "same rows on both backends"
    );
    postgres.close().await;
    sqlite.close().await;
}

/// Pages whose filters skip most versions (many old versions of one
/// object, then a few others) come out the same on both backends, for
/// every page size and filter: the PostgreSQL query examines versions in
/// bounded chunks and must not lose its place between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_pages_match_sqlite() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let sqlite = SqliteStore::open(&dir.path().join("t.db"), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let postgres = open(&fresh_database(&cluster).await, &node_settings()).await;
    let mut objects = Vec::new();
    for i in 0..300 {
        objects.push(testing::object(
            "busy--1",
            "busy",
            "2.1",
            &format!("v{i:04}"),
        ));
        if i % 97 == 0 {
            objects.push(testing::object(&format!("calm--{i}"), "calm", "2.0", "v"));
            objects.push(testing::object(&format!("calm--{i}"), "calm", "2.1", "v"));
        }
    }
    let mut results: Vec<Vec<(String, String, String)>> = Vec::new();
    for store in [&sqlite as &dyn Store, &postgres] {
        let collection = testing::fresh_collection(store).await;
        for envelope in objects.chunks(70) {
            store
                .add_objects(&collection, envelope, T0)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
        }
        let mut seen = Vec::new();
        for limit in [1, 2, 3, 50, 1000] {
            for (versions, types) in [
                (VersionFilter::last(), Vec::new()),
                (
                    VersionFilter::Select {
                        first: true,
                        last: false,
                        exact: vec!["v0150".to_owned()],
                    },
                    Vec::new(),
                ),
                (VersionFilter::All, vec!["calm".to_owned()]),
            ] {
                let mut query = ObjectQuery::new(&collection, limit);
                query.versions = versions;
                query.types = types;
                seen.extend(
                    testing::page_through(store, query)
                        .await
                        .into_iter()
                        .map(|i| (i.object_id, i.spec_version, i.version)),
                );
                seen.push(("end".to_owned(), String::new(), limit.to_string()));
            }
        }
        results.push(seen);
    }
    let (from_sqlite, from_postgres) = (&results[0], &results[1]);
    assert!(
        from_sqlite.len() > 15 * 3,
        "the filters select something: {from_sqlite:?}"
    );
    assert_eq!(from_postgres, from_sqlite);
    postgres.close().await;
    sqlite.close().await;
}

/// Stored date_added values, in the order the call returned them.
fn stored_dates(outcomes: &[AddOutcome]) -> Vec<Micros> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            AddOutcome::Stored { date_added } => Some(*date_added),
            AddOutcome::Duplicate => None,
        })
        .collect()
}

/// Two nodes (two pools) write one collection from several tasks each, one
/// of them with a clock far behind, while a reader pages through a third
/// pool: date_added is unique and strictly increasing in commit order, and
/// paging never skips or repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_date_added_order() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let node_a = Arc::new(open(&url, &node_settings()).await);
    let node_b = Arc::new(open(&url, &node_settings()).await);
    let reader = open(&url, &node_settings()).await;
    let collection = testing::fresh_collection(node_a.as_ref()).await;
    let initial: Vec<_> = (0..40)
        .map(|i| testing::object(&format!("i--{i}"), "i", "2.1", "v"))
        .collect();
    node_a
        .add_objects(&collection, &initial, T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    const TASKS_PER_NODE: usize = 3;
    const BATCHES: usize = 15;
    let mut writers = Vec::new();
    for (node_index, node) in [&node_a, &node_b].into_iter().enumerate() {
        for task in 0..TASKS_PER_NODE {
            let node = Arc::clone(node);
            let collection = collection.clone();
            writers.push(tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for batch in 0..BATCHES {
                    let objects: Vec<_> = (0..(1 + batch % 4))
                        .map(|i| {
                            testing::object(
                                &format!("w--{node_index}-{task}-{batch}-{i}"),
                                "w",
                                "2.1",
                                "v",
                            )
                        })
                        .collect();
                    // Node b's clock is an hour behind: its writes must
                    // still sort after everything committed before them.
                    let now = if node_index == 0 {
                        T0 + i64::try_from(batch).unwrap_or(0)
                    } else {
                        T0 - 3_600_000_000
                    };
                    let outcomes = node
                        .add_objects(&collection, &objects, now)
                        .await
                        .unwrap_or_else(|err| panic!("{err}"));
                    let dates = stored_dates(&outcomes);
                    assert_eq!(dates.len(), objects.len(), "fresh objects are stored");
                    assert!(
                        dates.windows(2).all(|w| matches!(w, [a, b] if a < b)),
                        "increasing inside one envelope"
                    );
                    // One task's commits are ordered, so their dates are too.
                    if let (Some(last), Some(first)) = (acknowledged.last(), dates.first()) {
                        assert!(first > last, "later commit, later date_added");
                    }
                    acknowledged.extend(dates);
                    tokio::task::yield_now().await;
                }
                acknowledged
            }));
        }
    }

    let mut query = all_versions(&collection, 7);
    let mut seen = Vec::new();
    loop {
        let page = reader
            .query_objects(&query)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        seen.extend(
            page.items
                .iter()
                .map(|i| (i.object_id.clone(), i.date_added)),
        );
        tokio::task::yield_now().await;
        match page.next {
            Some(next) if page.more => query.cursor = Some(next),
            _ => break,
        }
    }

    let mut every_date = Vec::new();
    for writer in writers {
        every_date.extend(writer.await.unwrap_or_else(|err| panic!("writer: {err}")));
    }
    let unique: HashSet<Micros> = every_date.iter().copied().collect();
    assert_eq!(
        unique.len(),
        every_date.len(),
        "date_added unique across nodes"
    );
    let everything: Vec<(String, Micros)> = reader
        .query_objects(&all_versions(&collection, 10_000))
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .items
        .into_iter()
        .map(|i| (i.object_id, i.date_added))
        .collect();
    assert_eq!(everything.len(), initial.len() + every_date.len());
    let seen_ids: HashSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(seen_ids.len(), seen.len(), "a version was returned twice");
    for object in &initial {
        assert!(
            seen_ids.contains(&object.object_id),
            "skipped {}",
            object.object_id
        );
    }
    // What the reader saw is a prefix of the final order: nothing committed
    // later ever sorted before something it had already passed.
    assert_eq!(everything.get(..seen.len()), Some(&seen[..]));
    node_a.close().await;
    node_b.close().await;
    reader.close().await;
}

/// Two nodes approve the same pending release at once: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_approvals_on_two_nodes_have_one_winner() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let node_a = open(&url, &node_settings()).await;
    let node_b = open(&url, &node_settings()).await;
    let root = testing::fresh_api_root(&node_a).await;
    let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
    let party = node_a
        .create_party(&new_partner(&name, &root), T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let outbound = party.outbound.unwrap_or_default();
    for round in 0..5 {
        let released = testing::object(
            &format!("indicator--{}", uuid::Uuid::new_v4()),
            "indicator",
            "2.1",
            "d1",
        );
        let mut record = store::ReleaseRecord {
            id: format!("release--{}", uuid::Uuid::new_v4()),
            party: name.clone(),
            requester: "alice".to_owned(),
            justification: format!("round {round}"),
            state: store::ReleaseState::PendingApproval,
            policy_version: "sha256:00".to_owned(),
            requested: Vec::new(),
            decisions: serde_json::json!({}),
            outgoing: vec![released.clone()],
            created_at: T0,
            decided_at: None,
            approvals: Vec::new(),
        };
        node_a
            .commit_release(
                &store::ReleaseCommit {
                    record: record.clone(),
                    expected_state: None,
                    approval: None,
                    collection_id: None,
                    derivations: Vec::new(),
                    ledger: None,
                    only_newer: false,
                },
                T0,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        record.state = store::ReleaseState::Released;
        record.decided_at = Some(T0 + 1);
        let approve = |account: &str| store::ReleaseCommit {
            record: record.clone(),
            expected_state: Some(store::ReleaseState::PendingApproval),
            approval: Some(store::Approval {
                account: account.to_owned(),
                approved_at: T0 + 1,
            }),
            collection_id: Some(outbound.clone()),
            derivations: Vec::new(),
            ledger: Some(testing::ledger_append(
                &name,
                &record.id,
                &[&released.object_id],
            )),
            only_newer: false,
        };
        let (by_bob, by_carol) = (approve("bob"), approve("carol"));
        let (a, b) = tokio::join!(
            node_a.commit_release(&by_bob, T0 + 1),
            node_b.commit_release(&by_carol, T0 + 1)
        );
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {a:?} / {b:?}");
        assert!(
            [&a, &b]
                .iter()
                .any(|r| matches!(r, Err(StoreError::Conflict(_)))),
            "the loser is told it lost"
        );
        let read = node_b
            .release(&record.id)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .unwrap_or_else(|| panic!("release stored"));
        assert_eq!(read.approvals.len(), 1, "only the winner's approval");
        let mut query = ObjectQuery::new(&outbound, 10);
        query.ids = vec![released.object_id.clone()];
        let copies = node_b
            .query_objects(&query)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .items
            .len();
        assert_eq!(copies, 1, "released once");
    }
    assert_eq!(
        node_b
            .ledger_size(&name)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        5,
        "one ledger record per decided release"
    );
    node_a.close().await;
    node_b.close().await;
}

fn new_partner(name: &str, api_root: &str) -> store::NewParty {
    store::NewParty {
        name: name.to_owned(),
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country: "XX".to_owned(),
        groups: Vec::new(),
        designations: Vec::new(),
        home: false,
        api_root: api_root.to_owned(),
    }
}

/// Requests and approves one release through `node`, with its ledger record.
async fn release_through(node: &PgStore, party: &str, outbound: &str, label: &str) -> String {
    let object = testing::object(
        &format!("indicator--{}", uuid::Uuid::new_v4()),
        "indicator",
        "2.1",
        "d1",
    );
    let mut record = store::ReleaseRecord {
        id: format!("release--{}", uuid::Uuid::new_v4()),
        party: party.to_owned(),
        requester: "alice".to_owned(),
        justification: label.to_owned(),
        state: store::ReleaseState::PendingApproval,
        policy_version: "sha256:00".to_owned(),
        requested: Vec::new(),
        decisions: serde_json::json!({}),
        outgoing: vec![object.clone()],
        created_at: T0,
        decided_at: None,
        approvals: Vec::new(),
    };
    let pending = store::ReleaseCommit {
        record: record.clone(),
        expected_state: None,
        approval: None,
        collection_id: None,
        derivations: Vec::new(),
        ledger: None,
        only_newer: false,
    };
    node.commit_release(&pending, T0)
        .await
        .unwrap_or_else(|err| panic!("{label}: {err}"));
    record.state = store::ReleaseState::Released;
    record.decided_at = Some(T0 + 1);
    let approve = store::ReleaseCommit {
        ledger: Some(testing::ledger_append(
            party,
            &record.id,
            &[&object.object_id],
        )),
        record,
        expected_state: Some(store::ReleaseState::PendingApproval),
        approval: Some(store::Approval {
            account: "bob".to_owned(),
            approved_at: T0 + 1,
        }),
        only_newer: false,
        collection_id: Some(outbound.to_owned()),
        derivations: Vec::new(),
    };
    node.commit_release(&approve, T0 + 1)
        .await
        .unwrap_or_else(|err| panic!("{label}: {err}"));
    approve.record.id
}

/// 20 releases through each of two nodes at the same time: one log per
/// partner that holds all 40 records, chained in order, whose stored tree
/// nodes give the root of its leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_through_two_nodes_give_one_consistent_ledger() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let node_a = Arc::new(open(&url, &node_settings()).await);
    let node_b = Arc::new(open(&url, &node_settings()).await);
    let root = testing::fresh_api_root(node_a.as_ref()).await;
    let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
    let party = node_a
        .create_party(&new_partner(&name, &root), T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let outbound = party.outbound.unwrap_or_default();
    const PER_NODE: usize = 20;
    let mut tasks = Vec::new();
    for (node_name, node) in [("a", &node_a), ("b", &node_b)] {
        // Two tasks per node, so each node also races with itself.
        for half in 0..2 {
            let (node, name, outbound) = (Arc::clone(node), name.clone(), outbound.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..PER_NODE / 2 {
                    let label = format!("{node_name}-{half}-{i}");
                    ids.push(release_through(&node, &name, &outbound, &label).await);
                }
                ids
            }));
        }
    }
    let mut released = HashSet::new();
    for task in tasks {
        released.extend(task.await.unwrap_or_else(|err| panic!("{err}")));
    }
    assert_eq!(released.len(), 2 * PER_NODE);

    let size = node_b
        .ledger_size(&name)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(size, 40);
    let leaves = node_b
        .ledger_leaves(&name, 0, 100)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(leaves.len(), 40);
    let mut previous = ledger::GENESIS_PREVIOUS;
    let mut recorded = HashSet::new();
    for (position, leaf) in leaves.iter().enumerate() {
        let record = ledger::PublicRecord::from_leaf_bytes(&leaf.bytes)
            .unwrap_or_else(|err| panic!("leaf {position}: {err}"));
        assert_eq!(leaf.index, position as u64);
        assert_eq!(record.sequence, leaf.index, "sequence is the leaf index");
        assert_eq!(
            record.previous, previous,
            "leaf {position} chains to the one before"
        );
        assert_eq!(leaf.leaf_hash, ledger::leaf_hash(&leaf.bytes));
        previous = leaf.leaf_hash;
        recorded.insert(record.release_id);
    }
    assert_eq!(recorded, released, "every release recorded exactly once");
    let ids = ledger::root_node_ids(size).unwrap_or_else(|err| panic!("{err}"));
    let hashes = node_a
        .ledger_nodes(&name, &ids)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut map = ledger::NodeMap::new();
    for (id, hash) in ids.into_iter().zip(hashes) {
        map.insert(id, hash);
    }
    let stored_root = ledger::root(size, &map).unwrap_or_else(|err| panic!("{err}"));
    let leaf_hashes: Vec<ledger::Hash> = leaves.iter().map(|leaf| leaf.leaf_hash).collect();
    assert_eq!(stored_root, ledger::root_of_leaf_hashes(&leaf_hashes));
    node_a.close().await;
    node_b.close().await;
}

/// A stalled writer elsewhere (another node holding a collection's write
/// lock) makes a write fail after `statement_timeout`, not wait forever;
/// once the lock is gone, writes go through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_ends_in_a_statement_timeout() {
    use sqlx::Connection;

    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let settings = PgSettings {
        statement_timeout: Duration::from_millis(300),
        ..node_settings()
    };
    let store = open(&url, &settings).await;
    let collection = testing::fresh_collection(&store).await;
    let mut stalled = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query("BEGIN")
        .execute(&mut stalled)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query("SELECT seq FROM collections WHERE id = $1 FOR UPDATE")
        .bind(&collection)
        .execute(&mut stalled)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let blocked = store
        .add_objects(&collection, &[testing::object("t--1", "t", "2.1", "v")], T0)
        .await;
    match &blocked {
        Err(StoreError::Database(message)) => {
            assert!(message.contains("statement timeout"), "{message}");
        }
        other => panic!("expected a statement timeout, got {other:?}"),
    }
    sqlx::query("ROLLBACK")
        .execute(&mut stalled)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let outcomes = store
        .add_objects(&collection, &[testing::object("t--1", "t", "2.1", "v")], T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(matches!(outcomes.as_slice(), [AddOutcome::Stored { .. }]));
    let _ = stalled.close().await;
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_database_is_an_error_not_a_hang() {
    // A socket directory that does not exist: nothing can answer.
    let url = format!(
        "postgres://postgres@localhost:5432/none?host={}",
        std::env::temp_dir()
            .join(format!("tearline-absent-{}", uuid::Uuid::new_v4().simple()))
            .display()
    );
    let settings = PgSettings {
        acquire_timeout: Duration::from_secs(2),
        ..PgSettings::default()
    };
    let opened = PgStore::open(&url, &settings).await;
    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
    // TCP with nothing listening: sqlx retries refused connections, but only
    // until the acquire timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|err| panic!("{err}"));
    let refused = PgStore::open(&format!("postgres://u@127.0.0.1:{port}/none"), &settings).await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    let bad_url = PgStore::connect("postgres://u@h:notaport/db", &settings).await;
    assert!(
        matches!(bad_url, Err(StoreError::InvalidArgument(_))),
        "{bad_url:?}"
    );
}

/// The database restarts (a crash: `-m immediate`) under load: calls fail
/// with a database error while it is down, the pool recovers by itself, and
/// no acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_loses_no_acknowledged_write() {
    // Its own cluster: stopping the shared one would break other tests.
    let Some(cluster) = own_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let settings = PgSettings {
        acquire_timeout: Duration::from_secs(2),
        ..node_settings()
    };
    let store = Arc::new(open(&url, &settings).await);
    let collection = testing::fresh_collection(store.as_ref()).await;

    let acknowledged_count = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let finish = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, collection) = (Arc::clone(&store), collection.clone());
        let (count, failures, finish) = (
            Arc::clone(&acknowledged_count),
            Arc::clone(&failures),
            Arc::clone(&finish),
        );
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut last_date = 0;
            // Bounded: the test ends even if `finish` is never set.
            for attempt in 0..20_000 {
                if finish.load(Ordering::SeqCst) {
                    break;
                }
                let object = testing::object(&format!("x--{attempt}"), "x", "2.1", "v");
                match store
                    .add_objects(&collection, std::slice::from_ref(&object), T0)
                    .await
                {
                    Ok(outcomes) => {
                        let dates = stored_dates(&outcomes);
                        assert_eq!(dates.len(), 1);
                        let date = dates.first().copied().unwrap_or_default();
                        assert!(date > last_date, "date_added keeps increasing");
                        last_date = date;
                        acknowledged.push(object.object_id);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(StoreError::Database(_)) => {
                        failures.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(other) => panic!("unexpected error while the database is down: {other}"),
                }
            }
            acknowledged
        })
    };
    wait_until("writes before the stop", || {
        acknowledged_count.load(Ordering::SeqCst) >= 25
    })
    .await;
    // Blocks this worker for the moment pg_ctl takes; the writer runs on.
    cluster.stop().unwrap_or_else(|err| panic!("stop: {err}"));
    let down = store.api_roots().await;
    assert!(matches!(down, Err(StoreError::Database(_))), "{down:?}");
    wait_until("a failed write", || failures.load(Ordering::SeqCst) >= 1).await;

    cluster
        .start_again()
        .unwrap_or_else(|err| panic!("restart: {err}"));
    let up = store.api_roots().await;
    assert!(up.is_ok(), "the pool recovers: {up:?}");
    let at_restart = acknowledged_count.load(Ordering::SeqCst);
    wait_until("writes after the restart", || {
        acknowledged_count.load(Ordering::SeqCst) >= at_restart + 25
    })
    .await;
    finish.store(true, Ordering::SeqCst);
    let acknowledged = writer.await.unwrap_or_else(|err| panic!("writer: {err}"));

    let stored: HashSet<String> = store
        .query_objects(&all_versions(&collection, 100_000))
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .items
        .into_iter()
        .map(|i| i.object_id)
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged write {id} lost");
    }
    assert!(acknowledged.len() >= 50);
    store.close().await;
}

/// Polls `done` until it holds; panics after a generous bound so a broken
/// backend fails the test instead of hanging it (not a timing assertion).
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..6_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Only `init` and `migrate` change a shared schema; everything else
/// refuses a database whose schema is missing, behind or ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_commands_check_the_schema_instead_of_migrating() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let settings = node_settings();
    let location = store::Location::parse(&url);
    let empty = store::open_existing(&location, &settings).await;
    assert!(
        matches!(&empty, Err(StoreError::Migration(why)) if why.contains("tearline init")),
        "{empty:?}"
    );
    let store = open(&url, &settings).await;
    store
        .check_schema()
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(store::open_existing(&location, &settings).await.is_ok());
    let raw = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let newest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&raw)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query("UPDATE _sqlx_migrations SET success = false WHERE version = $1")
        .bind(newest)
        .execute(&raw)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let behind = store::open_existing(&location, &settings).await;
    assert!(
        matches!(&behind, Err(StoreError::Migration(why)) if why.contains("tearline migrate")),
        "{behind:?}"
    );
    sqlx::query("UPDATE _sqlx_migrations SET success = true WHERE version = $1")
        .bind(newest)
        .execute(&raw)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999999999999, 'from the future', true, '\\x00', 0)",
    )
    .execute(&raw)
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    let ahead = store::open_existing(&location, &settings).await;
    assert!(
        matches!(&ahead, Err(StoreError::Migration(why)) if why.contains("upgrade tearline")),
        "{ahead:?}"
    );
}

/// A database written before the `latest` mark existed gets it on exactly
/// the versions TAXII serves by default when migrated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_marks_the_latest_versions_of_stored_objects() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = fresh_database(&cluster).await;
    let pool = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let before =
        store::testing::migrations_before_latest_mark(sqlx::migrate!("./migrations/postgres"));
    before
        .run(&pool)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query("INSERT INTO api_roots (name, title, created_at) VALUES ('r', 'r', 0)")
        .execute(&pool)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO collections (id, api_root, title, created_at) \
         VALUES ('c', 'r', 'c', 0) RETURNING seq",
    )
    .fetch_one(&pool)
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    for (date_added, (id, spec, version)) in testing::ROWS_BEFORE_LATEST_MARK.iter().enumerate() {
        sqlx::query(
            "INSERT INTO objects \
             (collection, object_id, object_type, spec_version, version, date_added, raw) \
             VALUES ($1, $2, 'x', $3, $4, $5, '{}')",
        )
        .bind(seq)
        .bind(id)
        .bind(spec)
        .bind(version)
        .bind(date_added as i64)
        .execute(&pool)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    }
    pool.close().await;

    let store = open(&url, &PgSettings::default()).await;
    testing::check_view_after_latest_mark_upgrade(&store, "c").await;
    store.close().await;
}
