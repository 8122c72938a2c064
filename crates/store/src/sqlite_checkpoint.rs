//! WAL checkpoints off the write path.
//!
//! By default SQLite checkpoints inside whichever commit pushes the WAL past
//! 1,000 pages: that commit then also copies the WAL into the database file
//! and syncs it, and an envelope that happens to be that commit takes
//! several times as long as the others. Here a background task checkpoints
//! a few times a second on its own connection (PASSIVE: it never blocks or
//! waits for readers and writers), so commits only append to the WAL, and
//! pages that several commits rewrote reach the database file once.
//! SQLite's own automatic checkpoint stays on at a much larger size, as the
//! safety net should this task fall behind.
//!
//! Under a steady stream of commits a passive checkpoint is never complete
//! when the next writer starts (that writer has already added frames), so
//! the WAL file would never start over and would only grow. Once it holds
//! more than [`RESTART_FRAMES`], the task asks for a RESTART checkpoint,
//! which waits for the current writer, holds the next one back for the
//! short time it takes to copy the few frames the passive ones left, and
//! so lets the following commit write from the start of the WAL again.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are
//! synced, checkpointed or not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often the task looks for new WAL frames.
const INTERVAL: Duration = Duration::from_millis(200);

/// SQLite's own automatic checkpoint, in pages (64 MiB at 4 KiB pages).
pub(crate) const FALLBACK_PAGES: u32 = 16_384;

/// WAL length (frames) past which the WAL is made to start over.
const RESTART_FRAMES: i64 = 4_096;

/// The WAL file is cut back to this size when it starts over.
pub(crate) const WAL_SIZE_LIMIT: u64 = 32 << 20;

/// The running task; it stops when told to or when this is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub(crate) fn start(options: SqliteConnectOptions) -> Self {
        let stop = Arc::new(Notify::new());
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let Ok(mut conn) = options.connect().await else {
                return;
            };
            let mut ticks = tokio::time::interval(INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.notified() => break,
                    _ = ticks.tick() => {}
                }
                // (busy, frames in the WAL, frames checkpointed)
                let passive =
                    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&mut conn)
                        .await;
                let restart = match passive {
                    Ok((_, frames, _)) => frames > RESTART_FRAMES,
                    Err(_) => break,
                };
                if restart
                    && sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&mut conn)
                        .await
                        .is_err()
                {
                    break;
                }
            }
            let _ = conn.close().await;
        });
        Checkpointer {
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Stops the task and waits until its connection is closed.
    pub(crate) async fn stop(&self) {
        self.stop.notify_one();
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}
