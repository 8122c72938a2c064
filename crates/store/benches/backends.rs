//! Ingest and paging on SQLite and on PostgreSQL in the same run, and one
//! PostgreSQL node against two (two pools on one database, as two tearline
//! nodes would have). A bench binary, not criterion: each figure is one
//! timed pass over thousands of objects, printed as a table.
//!
//! `cargo bench -p store --bench backends` (set `BENCH_OBJECTS` to change
//! the size; default 20000). PostgreSQL is a throwaway cluster from
//! `store::pg_cluster` on the same machine, with fsync on (SQLite runs with
//! `synchronous=FULL`), so both sync every commit; "two nodes" here
//! measures the database's concurrency, not extra hardware.

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::pg_cluster::TestCluster;
use store::postgres::{PgSettings, PgStore};
use store::sqlite::SqliteStore;
use store::testing::{self, T0};
use store::{NewObject, ObjectQuery, Store};

const ENVELOPE: usize = 100;
const PAGE: usize = 100;

fn objects(prefix: &str, count: usize) -> Vec<NewObject> {
    // About 700 bytes, the size of a small indicator.
    let padding = "x".repeat(560);
    (0..count)
        .map(|i| {
            let mut object = testing::object(
                &format!("indicator--{prefix}-{i:08}"),
                "indicator",
                "2.1",
                "2024-01-01T00:00:00.000Z",
            );
            object.raw = format!(
                r#"{{"type":"indicator","id":"{}","description":"{padding}"}}"#,
                object.object_id
            );
            object
        })
        .collect()
}

/// Writes `count` objects into `collection` in envelopes of [`ENVELOPE`],
/// split over `tasks_per_store` concurrent tasks on each store.
async fn ingest(
    stores: &[Arc<dyn Store>],
    collections: &[String],
    count: usize,
    tasks_per_store: usize,
) -> Duration {
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let all = objects(&prefix, count);
    let writers = stores.len() * tasks_per_store;
    let mut shares: Vec<Vec<Vec<NewObject>>> = vec![Vec::new(); writers];
    for (n, envelope) in all.chunks(ENVELOPE).enumerate() {
        if let Some(share) = shares.get_mut(n % writers) {
            share.push(envelope.to_vec());
        }
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, share) in shares.into_iter().enumerate() {
        let store = Arc::clone(&stores[n % stores.len()]);
        let collection = collections[n % collections.len()].clone();
        tasks.push(tokio::spawn(async move {
            for envelope in share {
                store
                    .add_objects(&collection, &envelope, T0)
                    .await
                    .unwrap_or_else(|err| panic!("add_objects: {err}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap_or_else(|err| panic!("{err}"));
    }
    started.elapsed()
}

/// Pages through the whole collection `readers` times at once (spread over
/// the stores); returns the elapsed time and the objects read in total.
async fn page_through(
    stores: &[Arc<dyn Store>],
    collection: &str,
    readers: usize,
) -> (Duration, usize) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..readers {
        let store = Arc::clone(&stores[n % stores.len()]);
        let query = ObjectQuery::new(collection, PAGE);
        tasks.push(tokio::spawn(async move {
            testing::page_through(store.as_ref(), query).await.len()
        }));
    }
    let mut read = 0;
    for task in tasks {
        read += task.await.unwrap_or_else(|err| panic!("{err}"));
    }
    (started.elapsed(), read)
}

fn row(name: &str, objects: usize, elapsed: Duration) {
    let per_second = objects as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<52} {objects:>8} objects {:>9.3} s {per_second:>10.0} objects/s",
        elapsed.as_secs_f64()
    );
}

async fn fresh(store: &dyn Store) -> String {
    testing::fresh_collection(store).await
}

async fn run(count: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let sqlite: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), true)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
    );
    let cluster = TestCluster::start_durable().unwrap_or_else(|err| panic!("{err}"));
    let url = cluster
        .create_database()
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let settings = PgSettings {
        max_connections: 8,
        ..PgSettings::default()
    };
    let pg_a: Arc<dyn Store> = Arc::new(
        PgStore::open(&url, &settings)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
    );
    let pg_b: Arc<dyn Store> = Arc::new(
        PgStore::open(&url, &settings)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
    );
    let one_pg = [Arc::clone(&pg_a)];
    let two_pg = [Arc::clone(&pg_a), Arc::clone(&pg_b)];
    let one_sqlite = [Arc::clone(&sqlite)];

    println!("ingest: {count} objects of ~700 bytes, envelopes of {ENVELOPE}");
    let sqlite_collection = fresh(sqlite.as_ref()).await;
    let elapsed = ingest(
        &one_sqlite,
        std::slice::from_ref(&sqlite_collection),
        count,
        1,
    )
    .await;
    row("sqlite, 1 writer", count, elapsed);
    let pg_collection = fresh(pg_a.as_ref()).await;
    let elapsed = ingest(&one_pg, std::slice::from_ref(&pg_collection), count, 1).await;
    row("postgres, 1 node, 1 writer", count, elapsed);

    let collection = fresh(sqlite.as_ref()).await;
    let elapsed = ingest(&one_sqlite, std::slice::from_ref(&collection), count, 4).await;
    row("sqlite, 4 writers, one collection", count, elapsed);
    let collection = fresh(pg_a.as_ref()).await;
    let elapsed = ingest(&one_pg, std::slice::from_ref(&collection), count, 4).await;
    row(
        "postgres, 1 node x 4 writers, one collection",
        count,
        elapsed,
    );
    let collection = fresh(pg_a.as_ref()).await;
    let elapsed = ingest(&two_pg, std::slice::from_ref(&collection), count, 2).await;
    row(
        "postgres, 2 nodes x 2 writers, one collection",
        count,
        elapsed,
    );
    let collections = [fresh(pg_a.as_ref()).await, fresh(pg_a.as_ref()).await];
    let elapsed = ingest(&two_pg, &collections, count, 2).await;
    row(
        "postgres, 2 nodes x 2 writers, two collections",
        count,
        elapsed,
    );

    println!("paging: whole collection of {count}, pages of {PAGE}, latest versions");
    let (elapsed, read) = page_through(&one_sqlite, &sqlite_collection, 1).await;
    row("sqlite, 1 reader", read, elapsed);
    let (elapsed, read) = page_through(&one_pg, &pg_collection, 1).await;
    row("postgres, 1 node, 1 reader", read, elapsed);
    let (elapsed, read) = page_through(&one_sqlite, &sqlite_collection, 4).await;
    row("sqlite, 4 readers", read, elapsed);
    let (elapsed, read) = page_through(&one_pg, &pg_collection, 4).await;
    row("postgres, 1 node x 4 readers", read, elapsed);
    let (elapsed, read) = page_through(&two_pg, &pg_collection, 4).await;
    row("postgres, 2 nodes x 2 readers", read, elapsed);
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let count = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
    runtime.block_on(run(count));
}
