//! The backend-agnostic suite, run against the SQLite backend, plus the
//! pagination property: with writes going on, paging never skips or repeats.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use store::sqlite::SqliteStore;
use store::testing::{self, T0};
use store::{AddOutcome, ObjectQuery, Store, VersionFilter};

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("tearline.db"), true)
        .await
        .unwrap_or_else(|err| panic!("open: {err}"))
}

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let store = open(&dir).await;
    testing::conformance(&store).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let collection = {
        let store = open(&dir).await;
        let collection = testing::fresh_collection(&store).await;
        store
            .add_objects(&collection, &[testing::object("k--1", "k", "2.1", "v")], T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        store.close().await;
        collection
    };
    let store = SqliteStore::open(&dir.path().join("tearline.db"), false)
        .await
        .unwrap_or_else(|err| panic!("reopen: {err}"));
    assert!(
        store
            .object_exists(&collection, "k--1")
            .await
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn opening_a_missing_database_without_create_fails() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let opened = SqliteStore::open(&dir.path().join("absent.db"), false).await;
    assert!(opened.is_err());
}

/// Pages through a collection (limit `limit`, all versions) while a writer
/// adds `batches` batches; returns what the reader saw, in order.
async fn page_during_writes(
    store: Arc<SqliteStore>,
    collection: String,
    initial: usize,
    batches: Vec<usize>,
    limit: usize,
) -> (Vec<(String, String)>, HashSet<(String, String)>) {
    let initial_objects: Vec<_> = (0..initial)
        .map(|i| testing::object(&format!("i--{i}"), "i", "2.1", "v"))
        .collect();
    store
        .add_objects(&collection, &initial_objects, T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let writer = {
        let store = Arc::clone(&store);
        let collection = collection.clone();
        tokio::spawn(async move {
            for (batch, size) in batches.into_iter().enumerate() {
                // New versions of existing objects as well as new objects.
                let objects: Vec<_> = (0..size)
                    .map(|i| {
                        if i % 2 == 0 {
                            testing::object(&format!("i--{i}"), "i", "2.1", &format!("w{batch}"))
                        } else {
                            testing::object(&format!("w--{batch}-{i}"), "w", "2.1", "v")
                        }
                    })
                    .collect();
                let outcomes = store
                    .add_objects(&collection, &objects, T0)
                    .await
                    .unwrap_or_else(|err| panic!("{err}"));
                assert!(
                    outcomes
                        .iter()
                        .all(|o| matches!(o, AddOutcome::Stored { .. })
                            || matches!(o, AddOutcome::Duplicate))
                );
                tokio::task::yield_now().await;
            }
        })
    };
    let mut query = ObjectQuery::new(collection.clone(), limit);
    query.versions = VersionFilter::All;
    let mut seen = Vec::new();
    loop {
        let page = store
            .query_objects(&query)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        seen.extend(page.items.into_iter().map(|i| (i.object_id, i.version)));
        tokio::task::yield_now().await;
        match page.next {
            Some(next) if page.more => query.cursor = Some(next),
            _ => break,
        }
    }
    writer.await.unwrap_or_else(|err| panic!("writer: {err}"));
    let initial: HashSet<_> = initial_objects
        .into_iter()
        .map(|o| (o.object_id, o.version))
        .collect();
    (seen, initial)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn paging_never_skips_or_repeats(
        initial in 0usize..60,
        batches in proptest::collection::vec(1usize..20, 0..6),
        limit in 1usize..15,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|err| panic!("{err}"));
        let (seen, initial, everything) = runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
            let store = Arc::new(open(&dir).await);
            let collection = testing::fresh_collection(store.as_ref()).await;
            let (seen, initial) =
                page_during_writes(Arc::clone(&store), collection.clone(), initial, batches, limit).await;
            let mut all = ObjectQuery::new(collection, 10_000);
            all.versions = VersionFilter::All;
            let everything: Vec<(String, String)> = store
                .query_objects(&all)
                .await
                .unwrap_or_else(|err| panic!("{err}"))
                .items
                .into_iter()
                .map(|i| (i.object_id, i.version))
                .collect();
            store.close().await;
            (seen, initial, everything)
        });
        let unique: HashSet<_> = seen.iter().cloned().collect();
        prop_assert_eq!(unique.len(), seen.len(), "a version was returned twice");
        for version in &initial {
            prop_assert!(unique.contains(version), "skipped {:?}", version);
        }
        // What the reader saw is a prefix of the final order: nothing was
        // skipped even among concurrent writes.
        prop_assert_eq!(&everything[..seen.len()], &seen[..]);
    }
}

/// A database written before the `latest` flag existed is upgraded with the
/// flag set on exactly the versions TAXII serves by default.
#[tokio::test]
async fn upgrading_marks_the_latest_versions_of_stored_objects() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let file = dir.path().join("tearline.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let before =
        store::testing::migrations_before_latest_mark(sqlx::migrate!("./migrations/sqlite"));
    before
        .run(&pool)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    sqlx::query(
        "INSERT INTO api_roots (name, title, created_at) VALUES ('r', 'r', 0); \
         INSERT INTO collections (seq, id, api_root, title, created_at) \
         VALUES (1, 'c', 'r', 'c', 0)",
    )
    .execute(&pool)
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    for (date_added, (id, spec, version)) in testing::ROWS_BEFORE_LATEST_MARK.iter().enumerate() {
        sqlx::query(
            "INSERT INTO objects \
             (collection, object_id, object_type, spec_version, version, date_added, raw) \
             VALUES (1, ?, 'x', ?, ?, ?, '{}')",
        )
        .bind(id)
        .bind(spec)
        .bind(version)
        .bind(date_added as i64)
        .execute(&pool)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    }
    pool.close().await;

    let store = SqliteStore::open(&file, false)
        .await
        .unwrap_or_else(|err| panic!("upgrade: {err}"));
    testing::check_view_after_latest_mark_upgrade(&store, "c").await;
}
