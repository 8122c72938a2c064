//! Connections for the store's hot reads, kept outside sqlx's pool.
//!
//! Every statement on an sqlx SQLite connection is a round trip to that
//! connection's own thread. sqlx's pool adds another on each release: it
//! pings the connection before taking it back (a guard against
//! connections left mid-command by a cancelled future, which matters for
//! network databases). For a small read such as a GET by id that is three
//! extra thread hops on top of three statements, and each hop is a chance
//! to wait for the scheduler on a busy machine.
//!
//! These connections are lent without that ping. A future cancelled while
//! its statement runs leaves nothing behind: the connection's thread
//! finishes the statement, its rows go nowhere, and the next command
//! queues behind it. Reads here never open a transaction, so each
//! statement sees the latest committed state (WAL snapshot per statement),
//! and `query_only` makes SQLite refuse any write sent here by mistake.
//! Writes and everything transactional stay on the pool.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, Semaphore, SemaphorePermit};

use crate::sqlite::db_error;
use crate::{Result, StoreError};

/// At most this many reads run at once; more wait for a connection. Two
/// per core would be plenty here: reads are short, and SQLite reads of one
/// database do not scale much past the cores.
const READERS: usize = 4;

#[derive(Debug)]
pub(crate) struct Readers {
    options: SqliteConnectOptions,
    /// Opened on first use, so that short-lived CLI stores open none.
    slots: Vec<Mutex<Option<SqliteConnection>>>,
    /// One permit per slot: holding one guarantees a free slot.
    free: Semaphore,
    next: AtomicUsize,
}

/// A lent connection, usable as an executor (`&mut *reader`).
pub(crate) struct Reader<'a> {
    // Field order: the slot is unlocked before its permit is returned, so
    // a waiter woken by the permit always finds that slot free.
    connection: MappedMutexGuard<'a, SqliteConnection>,
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl Readers {
    pub(crate) fn new(options: &SqliteConnectOptions) -> Self {
        Readers {
            options: options.clone().pragma("query_only", "ON"),
            slots: (0..READERS).map(|_| Mutex::new(None)).collect(),
            free: Semaphore::new(READERS),
            next: AtomicUsize::new(0),
        }
    }

    /// Lends a connection, opening it if this slot has none yet.
    pub(crate) async fn get(&self) -> Result<Reader<'_>> {
        let permit = self
            .free
            .acquire()
            .await
            .map_err(|_| StoreError::Database("the store is closed".into()))?;
        // Start the search at a rotating slot so that the connections (and
        // their page caches) share the work.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut slot = None;
        for offset in 0..self.slots.len() {
            if let Ok(guard) = self.slots[(start + offset) % self.slots.len()].try_lock() {
                slot = Some(guard);
                break;
            }
        }
        // The permit guarantees a free slot; should a guard still be on its
        // way to being dropped, wait for the starting one.
        let mut slot = match slot {
            Some(slot) => slot,
            None => self.slots[start % self.slots.len()].lock().await,
        };
        if slot.is_none() {
            *slot = Some(self.options.connect().await.map_err(db_error)?);
        }
        let connection = MutexGuard::try_map(slot, Option::as_mut)
            .map_err(|_| StoreError::Database("a reader connection did not open".into()))?;
        Ok(Reader {
            connection,
            _permit: permit,
        })
    }

    /// Closes every opened connection; later reads fail.
    pub(crate) async fn close(&self) {
        self.free.close();
        for slot in &self.slots {
            if let Some(connection) = slot.lock().await.take() {
                let _ = connection.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::sqlite::SqliteStore;
    use crate::testing::{T0, fresh_collection, object};
    use crate::{ObjectQuery, Store};

    async fn store(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("t.db"), true)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
    }

    fn query(collection: &str) -> ObjectQuery {
        ObjectQuery::new(collection, 100)
    }

    /// Many more reads at once than there are connections: each waits its
    /// turn, and every one sees the stored objects.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_reads_than_connections_all_finish() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let store = std::sync::Arc::new(store(&dir).await);
        let collection = fresh_collection(store.as_ref()).await;
        let objects: Vec<_> = (0..20)
            .map(|i| object(&format!("r--{i:02}"), "r", "2.1", "v"))
            .collect();
        store
            .add_objects(&collection, &objects, T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let reads: Vec<_> = (0..super::READERS * 8)
            .map(|_| {
                let store = std::sync::Arc::clone(&store);
                let query = query(&collection);
                tokio::spawn(async move { store.query_objects_joined(&query).await })
            })
            .collect();
        for read in reads {
            let page = tokio::time::timeout(Duration::from_secs(30), read)
                .await
                .unwrap_or_else(|_| panic!("a read waited for a connection forever"))
                .unwrap_or_else(|err| panic!("{err}"))
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(page.count, 20);
        }
        store.close().await;
    }

    /// A read abandoned while its statement runs (a client that hung up)
    /// leaves its connection usable for the next one.
    #[tokio::test]
    async fn an_abandoned_read_leaves_its_connection_usable() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let store = store(&dir).await;
        let collection = fresh_collection(&store).await;
        store
            .add_objects(&collection, &[object("a--1", "a", "2.1", "v")], T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        for _ in 0..super::READERS * 2 {
            let query = query(&collection);
            // Polled once, then dropped mid-flight.
            let _ = tokio::time::timeout(Duration::ZERO, store.query_objects_joined(&query)).await;
        }
        for _ in 0..super::READERS * 2 {
            let page = store
                .query_objects_joined(&query(&collection))
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(page.count, 1);
        }
        store.close().await;
    }

    /// The reader connections refuse writes: a write sent to one by
    /// mistake fails instead of committing outside the write path.
    #[tokio::test]
    async fn reader_connections_refuse_writes() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let store = store(&dir).await;
        fresh_collection(&store).await;
        let mut reader = store
            .readers
            .get()
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let written = sqlx::query("UPDATE api_roots SET title = 'changed'")
            .execute(&mut *reader)
            .await;
        assert!(written.is_err(), "a reader connection accepted a write");
        drop(reader);
        let roots = store.api_roots().await.unwrap_or_default();
        assert!(!roots.is_empty());
        assert!(roots.iter().all(|root| root.title != "changed"));
        store.close().await;
    }

    /// After close, reads fail at once instead of waiting or reopening.
    #[tokio::test]
    async fn reads_after_close_fail() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let store = store(&dir).await;
        assert!(store.api_roots().await.is_ok());
        store.close().await;
        let read = tokio::time::timeout(Duration::from_secs(10), store.api_roots()).await;
        assert!(matches!(read, Ok(Err(_))), "{read:?}");
    }
}
