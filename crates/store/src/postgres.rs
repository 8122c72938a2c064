//! The shared backend: one PostgreSQL database behind any number of
//! stateless tearline nodes, accessed through a sqlx connection pool.
//!
//! Nothing here is process-local; every invariant that SQLite gets from its
//! single writer is enforced by PostgreSQL itself:
//!
//! - `date_added` is unique and strictly increasing per collection across
//!   nodes: every write to a collection first advances
//!   `collections.next_date_added` with an `UPDATE` in its transaction, and
//!   the row lock it takes serialises writers until commit, so later commits
//!   always get later values (see [`insert_versions`]).
//! - Each envelope (and each release commit) is one transaction; with
//!   PostgreSQL's default `synchronous_commit = on` it is durable when the
//!   commit returns.
//! - Keyset cursors ([`crate::Cursor`]) need nothing but `date_added`, so a
//!   cursor from one node works on every other.
//! - Conditional updates (`commit_release` with an expected state) rely on
//!   READ COMMITTED re-checking the `WHERE` clause after waiting for a
//!   concurrent writer's row lock: exactly one of two racing approvals wins.
//!
//! Every connection gets a `statement_timeout` (and an idle-in-transaction
//! timeout) when it is opened, and waiting for a connection is bounded by
//! the acquire timeout, so an unreachable database is an error within
//! seconds, never a hang. The pool checks a connection before handing it
//! out and opens new ones as needed, so it recovers by itself when the
//! database comes back.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, QueryBuilder, Row};

use crate::release::{
    Derivation, MarkingDisposition, NewParty, Party, PolicyVersion, ReleaseCommit, ReleaseRecord,
};
use crate::{
    Account, AddOutcome, ApiRoot, Collection, Cursor, DeleteRequest, Grant, Micros, NewAccount,
    NewCollection, NewObject, ObjectQuery, Page, Result, Role, StatusBuilder, StatusDetail,
    StatusRecord, Store, StoreError, StoredObject, VersionFilter,
};

/// Most values in all of one query's lists together (the same bound as on
/// SQLite, so both backends accept the same requests).
pub const MAX_QUERY_VALUES: usize = crate::sqlite::MAX_QUERY_VALUES;

/// Rows per multi-row insert: keeps each statement's parameters well inside
/// the protocol's message size while saving a round trip per object.
const INSERT_CHUNK: usize = 500;

/// Fewest versions one step of a page query examines (see
/// `PgStore::query_chunk`). Each step examines half as many again as the
/// page needs, so a page whose filters skip a few versions still takes one
/// statement.
const MIN_SCAN_CHUNK: usize = 64;

/// What one step of a page query saw.
struct ChunkScan {
    /// Versions examined (fewer than asked: the end of the collection).
    scanned: usize,
    /// date_added of the last version examined.
    scanned_to: Option<Micros>,
    matched: Vec<StoredObject>,
}

/// Pool and timeout settings. The defaults suit one node of a small
/// deployment; `max_connections` times the number of nodes must stay below
/// the server's `max_connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// Most connections this node keeps open.
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long a call waits for a connection (including connecting)
    /// before it fails with [`StoreError::Database`].
    pub acquire_timeout: Duration,
    /// Server-side bound on each statement, waits for row locks included.
    pub statement_timeout: Duration,
    /// Server-side bound on a transaction that sits idle (a stalled node
    /// must not keep a collection's write lock).
    pub idle_in_transaction_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this.
    pub idle_timeout: Option<Duration>,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            idle_in_transaction_timeout: Duration::from_secs(60),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    keys: crate::collection_keys::CollectionKeys,
}

impl PgStore {
    /// Connects and applies pending migrations: what `init` and `serve` do.
    pub async fn open(url: &str, settings: &PgSettings) -> Result<Self> {
        let store = Self::connect(url, settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema. Fails with
    /// [`StoreError::Database`] within `acquire_timeout` when the database
    /// cannot be reached.
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            // sqlx's message names the part that is wrong, never the password.
            .map_err(|err| StoreError::InvalidArgument(format!("database URL: {err}")))?
            .application_name("tearline");
        let statement_ms = settings.statement_timeout.as_millis().to_string();
        let idle_ms = settings.idle_in_transaction_timeout.as_millis().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            // A connection that died with the server is noticed here, not
            // by the caller's query.
            .test_before_acquire(true)
            .after_connect(move |conn, _meta| {
                let statement_ms = statement_ms.clone();
                let idle_ms = idle_ms.clone();
                Box::pin(async move {
                    sqlx::query(
                        "SELECT set_config('statement_timeout', $1, false), \
                         set_config('idle_in_transaction_session_timeout', $2, false)",
                    )
                    .bind(statement_ms)
                    .bind(idle_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Ok(PgStore {
            pool,
            keys: Default::default(),
        })
    }

    /// Brings the schema up to date. Safe to run from several nodes at
    /// once: sqlx holds a PostgreSQL advisory lock while it migrates.
    pub async fn migrate(&self) -> Result<()> {
        // A connection of its own without the statement timeout (an index
        // build on a large table may take longer), closed afterwards so the
        // setting never reaches the pool.
        let mut conn = self.pool.acquire().await.map_err(db_error)?.detach();
        sqlx::query("SELECT set_config('statement_timeout', '0', false)")
            .execute(&mut conn)
            .await
            .map_err(db_error)?;
        let migrated = sqlx::migrate!("./migrations/postgres")
            .run(&mut conn)
            .await
            .map_err(|err| StoreError::Migration(err.to_string()));
        // Closing only fails if the connection is already gone.
        let _ = conn.close().await;
        migrated
    }

    /// Fails with [`StoreError::Migration`] unless every migration this
    /// build knows has been applied (and none it does not know): a shared
    /// database is upgraded by `tearline migrate`, never as a side effect of
    /// another command or of a node starting under older ones.
    pub async fn check_schema(&self) -> Result<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                StoreError::Migration(
                    "the database has no tearline schema; run `tearline init --database URL`"
                        .to_owned(),
                )
            }
            _ => db_error(err),
        })?;
        let known: Vec<i64> = sqlx::migrate!("./migrations/postgres")
            .iter()
            .map(|migration| migration.version)
            .collect();
        if applied == known {
            return Ok(());
        }
        if applied.len() < known.len() && known.starts_with(&applied) {
            return Err(StoreError::Migration(format!(
                "the database schema is at migration {} of {}; run `tearline migrate --database URL`",
                applied.len(),
                known.len()
            )));
        }
        Err(StoreError::Migration(
            "the database schema is newer than this tearline; upgrade tearline".to_owned(),
        ))
    }

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Examines the next `chunk` versions after `after` in date_added
    /// order (the cheap column filters applied) and returns those of them,
    /// at most `wanted`, that pass the version filters, in one statement.
    ///
    /// Why chunks: given the whole query at once, PostgreSQL's planner
    /// guesses the correlated version filters to be very selective, reads
    /// every version after the cursor and sorts them, so each page would
    /// cost as much as the rest of the collection. A bounded, ordered index
    /// scan keeps a page's cost proportional to the page, as on SQLite.
    /// Successive chunks may see different snapshots; that never skips or
    /// repeats a version, since later commits only add later dates.
    async fn query_chunk(
        &self,
        key: i64,
        query: &ObjectQuery,
        after: Micros,
        chunk: usize,
        wanted: usize,
    ) -> Result<ChunkScan> {
        let raw_column = if query.with_raw { "o.raw" } else { "''" };
        let mut builder = QueryBuilder::<Postgres>::new(format!(
            "WITH candidates AS MATERIALIZED (SELECT o.collection, o.object_id, o.object_type, \
             o.spec_version, o.version, o.date_added, o.latest, {raw_column} AS raw \
             FROM objects o WHERE o.collection = "
        ));
        builder.push_bind(key);
        builder.push(" AND o.date_added > ");
        builder.push_bind(after);
        push_any(&mut builder, "o.object_id", &query.ids);
        push_any(&mut builder, "o.object_type", &query.types);
        builder.push(" ORDER BY o.date_added LIMIT ");
        builder.push_bind(i64::try_from(chunk).unwrap_or(i64::MAX));
        builder.push(
            "), scanned AS (SELECT count(*) AS scanned, max(date_added) AS scanned_to \
             FROM candidates) \
             SELECT s.scanned, s.scanned_to, m.object_id, m.object_type, m.spec_version, \
             m.version, m.date_added, m.raw FROM scanned s LEFT JOIN LATERAL (\
             SELECT o.object_id, o.object_type, o.spec_version, o.version, o.date_added, o.raw \
             FROM candidates o WHERE TRUE",
        );
        push_version_conditions(&mut builder, &query.versions, &query.spec_versions);
        builder.push(" ORDER BY o.date_added LIMIT ");
        builder.push_bind(i64::try_from(wanted).unwrap_or(i64::MAX));
        builder.push(") m ON TRUE ORDER BY m.date_added");
        let rows = builder
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut scan = ChunkScan {
            scanned: 0,
            scanned_to: None,
            matched: Vec::with_capacity(rows.len()),
        };
        for row in &rows {
            let scanned: i64 = row.try_get("scanned").map_err(db_error)?;
            scan.scanned = usize::try_from(scanned).unwrap_or(0);
            scan.scanned_to = row.try_get("scanned_to").map_err(db_error)?;
            // No match in the chunk: one row of counts, the rest NULL.
            let object_id: Option<String> = row.try_get("object_id").map_err(db_error)?;
            if object_id.is_some() {
                scan.matched.push(stored_object_from_row(row)?);
            }
        }
        Ok(scan)
    }

    async fn collection_key(&self, collection_id: &str) -> Result<i64> {
        if let Some(key) = self.keys.get(collection_id) {
            return Ok(key);
        }
        let key = sqlx::query_scalar::<_, i64>("SELECT seq FROM collections WHERE id = $1")
            .bind(collection_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("collection {collection_id}"),
            })?;
        self.keys.remember(collection_id, key);
        Ok(key)
    }
}

/// `url` with any password replaced by `***`, for logs and messages.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

pub(crate) fn db_error(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        return StoreError::AlreadyExists {
            what: "a record with the same key".to_owned(),
        };
    }
    StoreError::Database(err.to_string())
}

/// `db_error`, naming what already exists.
pub(crate) fn exists_as(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match db_error(err) {
        StoreError::AlreadyExists { .. } => StoreError::AlreadyExists { what: what() },
        other => other,
    }
}

fn non_negative(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

fn as_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidArgument("count too large".to_owned()))
}

fn collection_from_row(row: &PgRow) -> Result<Collection> {
    Ok(Collection {
        id: row.try_get("id").map_err(db_error)?,
        api_root: row.try_get("api_root").map_err(db_error)?,
        title: row.try_get("title").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        alias: row.try_get("alias").map_err(db_error)?,
    })
}

fn api_root_from_row(row: &PgRow) -> Result<ApiRoot> {
    Ok(ApiRoot {
        name: row.try_get("name").map_err(db_error)?,
        title: row.try_get("title").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
    })
}

fn account_from_row(row: &PgRow) -> Result<Account> {
    let role: String = row.try_get("role").map_err(db_error)?;
    Ok(Account {
        id: row.try_get("id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        party: row.try_get("party").map_err(db_error)?,
    })
}

pub(crate) fn stored_object_from_row(row: &PgRow) -> Result<StoredObject> {
    Ok(StoredObject {
        object_id: row.try_get("object_id").map_err(db_error)?,
        object_type: row.try_get("object_type").map_err(db_error)?,
        spec_version: row.try_get("spec_version").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        date_added: row.try_get("date_added").map_err(db_error)?,
        raw: row.try_get("raw").map_err(db_error)?,
    })
}

/// Appends ` AND column = ANY($n)` for a non-empty list.
fn push_any(builder: &mut QueryBuilder<Postgres>, column: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    builder.push(format_args!(" AND {column} = ANY("));
    builder.push_bind(values.to_vec());
    builder.push(")");
}

/// The spec-version condition on a row aliased `alias` that belongs to the
/// same object as row `o`, for the first/last subqueries.
fn push_sibling_spec_condition(
    builder: &mut QueryBuilder<Postgres>,
    alias: &str,
    spec_versions: &[String],
) {
    if spec_versions.is_empty() {
        builder.push(format_args!(" AND {alias}.spec_version = o.spec_version"));
    } else {
        push_any(builder, &format!("{alias}.spec_version"), spec_versions);
    }
}

/// Appends the spec-version and version conditions on row `o`.
fn push_version_conditions(
    builder: &mut QueryBuilder<Postgres>,
    versions: &VersionFilter,
    spec_versions: &[String],
) {
    if spec_versions.is_empty() && versions.is_last() {
        // TAXII's default on both counts: the row marked latest.
        builder.push(" AND o.latest");
        return;
    }
    if spec_versions.is_empty() {
        // TAXII default: only the newest spec version each object has.
        builder.push(
            " AND NOT EXISTS (SELECT 1 FROM objects s WHERE s.collection = o.collection \
             AND s.object_id = o.object_id AND s.spec_version > o.spec_version)",
        );
    } else {
        push_any(builder, "o.spec_version", spec_versions);
    }
    let VersionFilter::Select { first, last, exact } = versions else {
        return;
    };
    builder.push(" AND (FALSE");
    for (wanted, aggregate) in [(*first, "MIN"), (*last, "MAX")] {
        if wanted {
            builder.push(format_args!(
                " OR o.version = (SELECT {aggregate}(v.version) FROM objects v \
                 WHERE v.collection = o.collection AND v.object_id = o.object_id"
            ));
            push_sibling_spec_condition(builder, "v", spec_versions);
            builder.push(")");
        }
    }
    if !exact.is_empty() {
        builder.push(" OR o.version = ANY(");
        builder.push_bind(exact.clone());
        builder.push(")");
    }
    builder.push(")");
}

fn check_value_count(lists: &[&[String]]) -> Result<()> {
    let total: usize = lists.iter().map(|list| list.len()).sum();
    if total > MAX_QUERY_VALUES {
        return Err(StoreError::InvalidArgument(format!(
            "{total} filter values; at most {MAX_QUERY_VALUES}"
        )));
    }
    Ok(())
}

/// The one insert path for object versions (TAXII adds and releases): each
/// version gets a fresh `date_added` no smaller than `now`, strictly
/// increasing within the collection. With `same_content`, a version already
/// stored with different text is an error instead of a duplicate. Must run
/// inside the caller's transaction: the collection row stays locked until
/// it commits.
pub(crate) async fn insert_versions(
    conn: &mut PgConnection,
    collection_id: &str,
    objects: &[NewObject],
    now: Micros,
    same_content: bool,
) -> Result<Vec<AddOutcome>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let count = i64::try_from(objects.len())
        .map_err(|_| StoreError::InvalidArgument("too many objects".to_owned()))?;
    // Reserve `count` consecutive values, max(now, last + 1) onwards. The
    // UPDATE's row lock makes every other writer to this collection, on
    // any node, wait for our commit and then see the advanced value.
    let reserved = sqlx::query(
        "UPDATE collections SET next_date_added = GREATEST(next_date_added, $1) + $2 \
         WHERE id = $3 RETURNING seq, next_date_added - $2 AS first",
    )
    .bind(now)
    .bind(count)
    .bind(collection_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .ok_or_else(|| StoreError::NotFound {
        what: format!("collection {collection_id}"),
    })?;
    let key: i64 = reserved.try_get("seq").map_err(db_error)?;
    let first: i64 = reserved.try_get("first").map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(objects.len());
    let mut next_date_added = first;
    for chunk in objects.chunks(INSERT_CHUNK) {
        let dates: Vec<i64> = (next_date_added..).take(chunk.len()).collect();
        next_date_added = next_date_added.saturating_add(dates.len() as i64);
        let column = |pick: fn(&NewObject) -> &String| -> Vec<String> {
            chunk.iter().map(|object| pick(object).clone()).collect()
        };
        // Versions that were already stored (or repeat earlier in the same
        // envelope) are skipped; RETURNING tells which rows went in, by
        // their (unique) date_added.
        let stored: HashSet<i64> = sqlx::query_scalar(
            "INSERT INTO objects \
             (collection, object_id, object_type, spec_version, version, date_added, raw) \
             SELECT $1, t.object_id, t.object_type, t.spec_version, t.version, t.date_added, t.raw \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::text[]) \
             AS t(object_id, object_type, spec_version, version, date_added, raw) \
             ON CONFLICT (collection, object_id, version) DO NOTHING RETURNING date_added",
        )
        .bind(key)
        .bind(column(|o| &o.object_id))
        .bind(column(|o| &o.object_type))
        .bind(column(|o| &o.spec_version))
        .bind(column(|o| &o.version))
        .bind(&dates)
        .bind(column(|o| &o.raw))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .collect();
        let mut duplicates = Vec::new();
        for (date_added, object) in dates.iter().zip(chunk) {
            if stored.contains(date_added) {
                outcomes.push(AddOutcome::Stored {
                    date_added: *date_added,
                });
            } else {
                outcomes.push(AddOutcome::Duplicate);
                duplicates.push(object);
            }
        }
        if same_content && !duplicates.is_empty() {
            check_same_content(&mut *conn, key, &duplicates).await?;
        }
    }
    let mut stored_ids: Vec<String> = objects
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| matches!(outcome, AddOutcome::Stored { .. }))
        .map(|(object, _)| object.object_id.clone())
        .collect();
    stored_ids.sort_unstable();
    stored_ids.dedup();
    if !stored_ids.is_empty() {
        // Rows are stored marked latest; clear the mark on every version
        // that now has a greater sibling, new rows and old ones alike.
        sqlx::query(
            "UPDATE objects o SET latest = FALSE \
             WHERE o.latest AND o.collection = $1 AND o.object_id = ANY($2) AND EXISTS \
             (SELECT 1 FROM objects s WHERE s.collection = o.collection \
             AND s.object_id = o.object_id \
             AND (s.spec_version, s.version) > (o.spec_version, o.version))",
        )
        .bind(key)
        .bind(&stored_ids)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(outcomes)
}

/// Fails with a conflict when any of `duplicates` is stored with other text.
async fn check_same_content(
    conn: &mut PgConnection,
    key: i64,
    duplicates: &[&NewObject],
) -> Result<()> {
    let ids: Vec<String> = duplicates.iter().map(|o| o.object_id.clone()).collect();
    let versions: Vec<String> = duplicates.iter().map(|o| o.version.clone()).collect();
    let rows = sqlx::query(
        "SELECT o.object_id, o.version, o.raw FROM objects o \
         JOIN UNNEST($2::text[], $3::text[]) AS d(object_id, version) \
         ON o.object_id = d.object_id AND o.version = d.version WHERE o.collection = $1",
    )
    .bind(key)
    .bind(ids)
    .bind(versions)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let mut stored = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("object_id").map_err(db_error)?;
        let version: String = row.try_get("version").map_err(db_error)?;
        let raw: String = row.try_get("raw").map_err(db_error)?;
        stored.insert((id, version), raw);
    }
    for object in duplicates {
        let key = (object.object_id.clone(), object.version.clone());
        if stored.get(&key) != Some(&object.raw) {
            return Err(StoreError::Conflict(format!(
                "{} version {} is already stored with other content",
                object.object_id, object.version
            )));
        }
    }
    Ok(())
}

/// Writes (or replaces) a status resource.
async fn write_status(conn: &mut PgConnection, status: &StatusRecord) -> Result<()> {
    let details = serde_json::json!({
        "successes": status.successes,
        "failures": status.failures,
        "pendings": status.pendings,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO statuses (id, api_root, collection_id, account_id, request_timestamp, \
         total_count, success_count, failure_count, pending_count, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET total_count = excluded.total_count, \
         success_count = excluded.success_count, failure_count = excluded.failure_count, \
         pending_count = excluded.pending_count, details = excluded.details",
    )
    .bind(&status.id)
    .bind(&status.api_root)
    .bind(&status.collection_id)
    .bind(status.account_id)
    .bind(status.request_timestamp)
    .bind(as_i64(status.total_count)?)
    .bind(as_i64(status.success_count)?)
    .bind(as_i64(status.failure_count)?)
    .bind(as_i64(status.pending_count)?)
    .bind(details)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn create_api_root(&self, root: &ApiRoot, now: Micros) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_roots (name, title, description, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&root.name)
        .bind(&root.title)
        .bind(&root.description)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(exists_as(|| format!("API root {}", root.name)))?;
        Ok(())
    }

    async fn api_roots(&self) -> Result<Vec<ApiRoot>> {
        let rows =
            sqlx::query("SELECT name, title, description FROM api_roots ORDER BY created_at, seq")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        rows.iter().map(api_root_from_row).collect()
    }

    async fn api_root(&self, name: &str) -> Result<Option<ApiRoot>> {
        let row = sqlx::query("SELECT name, title, description FROM api_roots WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(api_root_from_row).transpose()
    }

    async fn create_collection(&self, new: &NewCollection, now: Micros) -> Result<Collection> {
        if self.api_root(&new.api_root).await?.is_none() {
            return Err(StoreError::NotFound {
                what: format!("API root {}", new.api_root),
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO collections (id, api_root, title, description, alias, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&new.api_root)
        .bind(&new.title)
        .bind(&new.description)
        .bind(&new.alias)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(exists_as(|| "a collection with this alias".to_owned()))?;
        Ok(Collection {
            id,
            api_root: new.api_root.clone(),
            title: new.title.clone(),
            description: new.description.clone(),
            alias: new.alias.clone(),
        })
    }

    async fn collections(&self, api_root: &str) -> Result<Vec<Collection>> {
        let rows = sqlx::query(
            "SELECT id, api_root, title, description, alias FROM collections \
             WHERE api_root = $1 ORDER BY seq",
        )
        .bind(api_root)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(collection_from_row).collect()
    }

    async fn collection(&self, api_root: &str, id_or_alias: &str) -> Result<Option<Collection>> {
        let row = sqlx::query(
            "SELECT id, api_root, title, description, alias FROM collections \
             WHERE api_root = $1 AND (id = $2 OR alias = $2) ORDER BY (id = $2) DESC LIMIT 1",
        )
        .bind(api_root)
        .bind(id_or_alias)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(collection_from_row).transpose()
    }

    async fn create_account(&self, new: &NewAccount, now: Micros) -> Result<Account> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, password_hash, role, party, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(&new.party)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(exists_as(|| format!("account {}", new.name)))?;
        let mut collections: Vec<&String> = new.read.iter().chain(new.write.iter()).collect();
        collections.sort();
        collections.dedup();
        for collection_id in collections {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM collections WHERE id = $1")
                    .bind(collection_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if exists.is_none() {
                return Err(StoreError::NotFound {
                    what: format!("collection {collection_id}"),
                });
            }
            sqlx::query(
                "INSERT INTO grants (account_id, collection_id, can_read, can_write) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(collection_id)
            .bind(new.read.contains(collection_id))
            .bind(new.write.contains(collection_id))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(Account {
            id,
            name: new.name.clone(),
            role: new.role,
            party: new.party.clone(),
        })
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<(Account, Option<String>)>> {
        let row = sqlx::query(
            "SELECT id, name, role, party, password_hash FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let hash: Option<String> = row.try_get("password_hash").map_err(db_error)?;
        Ok(Some((account_from_row(&row)?, hash)))
    }

    async fn account_by_token(&self, token_hash: &str) -> Result<Option<Account>> {
        let row = sqlx::query(
            "SELECT a.id, a.name, a.role, a.party FROM tokens t \
             JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn add_token(
        &self,
        account_name: &str,
        token_hash: &str,
        label: Option<&str>,
        now: Micros,
    ) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO tokens (token_hash, account_id, label, created_at) \
             SELECT $1, id, $2, $3 FROM accounts WHERE name = $4",
        )
        .bind(token_hash)
        .bind(label)
        .bind(now)
        .bind(account_name)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("account {account_name}"),
            });
        }
        Ok(())
    }

    async fn grant(&self, account_id: i64, collection_id: &str) -> Result<Grant> {
        let row = sqlx::query(
            "SELECT can_read, can_write FROM grants WHERE account_id = $1 AND collection_id = $2",
        )
        .bind(account_id)
        .bind(collection_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(Grant::default());
        };
        Ok(Grant {
            can_read: row.try_get("can_read").map_err(db_error)?,
            can_write: row.try_get("can_write").map_err(db_error)?,
        })
    }

    async fn add_objects(
        &self,
        collection_id: &str,
        objects: &[NewObject],
        now: Micros,
    ) -> Result<Vec<AddOutcome>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let outcomes = insert_versions(&mut tx, collection_id, objects, now, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(outcomes)
    }

    async fn add_objects_with_status(
        &self,
        collection_id: &str,
        objects: &[NewObject],
        now: Micros,
        status: &StatusBuilder<'_>,
    ) -> Result<(Vec<AddOutcome>, StatusRecord)> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let outcomes = insert_versions(&mut tx, collection_id, objects, now, false).await?;
        let record = status(&outcomes);
        write_status(&mut tx, &record).await?;
        tx.commit().await.map_err(db_error)?;
        Ok((outcomes, record))
    }

    async fn query_objects(&self, query: &ObjectQuery) -> Result<Page> {
        let exact: &[String] = match &query.versions {
            VersionFilter::All => &[],
            VersionFilter::Select { exact, .. } => exact,
        };
        check_value_count(&[&query.ids, &query.types, &query.spec_versions, exact])?;
        let limit = query.limit.max(1);
        let key = self.collection_key(&query.collection_id).await?;
        let after = query
            .added_after
            .into_iter()
            .chain(query.cursor.map(|cursor| cursor.after))
            .max()
            .unwrap_or(-1);
        // One extra row tells whether more follow.
        let wanted = limit.saturating_add(1);
        let mut items = Vec::with_capacity(wanted.min(1024));
        let mut after = after;
        // Scan in bounded chunks of date_added order; see `query_chunk`.
        let chunk = wanted.saturating_add(wanted / 2).max(MIN_SCAN_CHUNK);
        loop {
            let scan = self
                .query_chunk(key, query, after, chunk, wanted - items.len())
                .await?;
            items.extend(scan.matched);
            match scan.scanned_to {
                Some(last) if scan.scanned == chunk && items.len() < wanted => after = last,
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|last| Cursor::new(last.date_added))
        } else {
            None
        };
        Ok(Page { items, more, next })
    }

    async fn object_exists(&self, collection_id: &str, object_id: &str) -> Result<bool> {
        let key = self.collection_key(collection_id).await?;
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM objects WHERE collection = $1 AND object_id = $2 LIMIT 1",
        )
        .bind(key)
        .bind(object_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(found.is_some())
    }

    async fn delete_object(&self, request: &DeleteRequest) -> Result<u64> {
        let exact: &[String] = match &request.versions {
            VersionFilter::All => &[],
            VersionFilter::Select { exact, .. } => exact,
        };
        check_value_count(&[&request.spec_versions, exact])?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The collection's write lock (the row every insert updates): the
        // first/last conditions refer to sibling rows, which must not change
        // between the select and the delete.
        let key: i64 = sqlx::query_scalar("SELECT seq FROM collections WHERE id = $1 FOR UPDATE")
            .bind(&request.collection_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("collection {}", request.collection_id),
            })?;
        let mut builder =
            QueryBuilder::<Postgres>::new("SELECT o.row_id FROM objects o WHERE o.collection = ");
        builder.push_bind(key);
        builder.push(" AND o.object_id = ");
        builder.push_bind(request.object_id.clone());
        push_version_conditions(&mut builder, &request.versions, &request.spec_versions);
        let rows: Vec<i64> = builder
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let deleted = sqlx::query("DELETE FROM objects WHERE row_id = ANY($1)")
            .bind(&rows)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // The greatest remaining version (if any) becomes the latest.
        sqlx::query(
            "UPDATE objects o SET latest = TRUE \
             WHERE NOT o.latest AND o.collection = $1 AND o.object_id = $2 AND NOT EXISTS \
             (SELECT 1 FROM objects s WHERE s.collection = o.collection \
             AND s.object_id = o.object_id \
             AND (s.spec_version, s.version) > (o.spec_version, o.version))",
        )
        .bind(key)
        .bind(&request.object_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(deleted.rows_affected())
    }

    async fn put_status(&self, status: &StatusRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        write_status(&mut conn, status).await
    }

    async fn status(&self, api_root: &str, id: &str) -> Result<Option<StatusRecord>> {
        let row = sqlx::query(
            "SELECT id, api_root, collection_id, account_id, request_timestamp, total_count, \
             success_count, failure_count, pending_count, details FROM statuses \
             WHERE api_root = $1 AND id = $2",
        )
        .bind(api_root)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        struct Details {
            successes: Vec<StatusDetail>,
            failures: Vec<StatusDetail>,
            pendings: Vec<StatusDetail>,
        }
        let details: String = row.try_get("details").map_err(db_error)?;
        let details: Details = serde_json::from_str(&details)
            .map_err(|err| StoreError::Corrupt(format!("status details: {err}")))?;
        Ok(Some(StatusRecord {
            id: row.try_get("id").map_err(db_error)?,
            api_root: row.try_get("api_root").map_err(db_error)?,
            collection_id: row.try_get("collection_id").map_err(db_error)?,
            account_id: row.try_get("account_id").map_err(db_error)?,
            request_timestamp: row.try_get("request_timestamp").map_err(db_error)?,
            total_count: non_negative(row.try_get("total_count").map_err(db_error)?, "count")?,
            success_count: non_negative(row.try_get("success_count").map_err(db_error)?, "count")?,
            failure_count: non_negative(row.try_get("failure_count").map_err(db_error)?, "count")?,
            pending_count: non_negative(row.try_get("pending_count").map_err(db_error)?, "count")?,
            successes: details.successes,
            failures: details.failures,
            pendings: details.pendings,
        }))
    }

    async fn create_party(&self, new: &NewParty, now: Micros) -> Result<Party> {
        crate::postgres_release::create_party(&self.pool, new, now).await
    }

    async fn party(&self, name: &str) -> Result<Option<Party>> {
        crate::postgres_release::party(&self.pool, name).await
    }

    async fn parties(&self) -> Result<Vec<Party>> {
        crate::postgres_release::parties(&self.pool).await
    }

    async fn set_marking_disposition(
        &self,
        disposition: &MarkingDisposition,
        now: Micros,
    ) -> Result<()> {
        crate::postgres_release::set_marking_disposition(&self.pool, disposition, now).await
    }

    async fn marking_dispositions(&self) -> Result<Vec<MarkingDisposition>> {
        crate::postgres_release::marking_dispositions(&self.pool).await
    }

    async fn add_policy_version(&self, version: &str, text: &str, now: Micros) -> Result<()> {
        crate::postgres_release::add_policy_version(&self.pool, version, text, now).await
    }

    async fn current_policy(&self) -> Result<Option<PolicyVersion>> {
        crate::postgres_release::current_policy(&self.pool).await
    }

    async fn release_setting(&self, key: &str, initial: &str) -> Result<String> {
        crate::postgres_release::release_setting(&self.pool, key, initial).await
    }

    async fn internal_object(&self, object_id: &str) -> Result<Option<StoredObject>> {
        crate::postgres_release::internal_object(&self.pool, object_id).await
    }

    async fn internal_objects(&self, object_ids: &[String]) -> Result<Vec<StoredObject>> {
        crate::postgres_release::internal_objects(&self.pool, object_ids).await
    }

    async fn commit_release(&self, commit: &ReleaseCommit, now: Micros) -> Result<Vec<AddOutcome>> {
        crate::postgres_release::commit_release(&self.pool, commit, now).await
    }

    async fn release(&self, id: &str) -> Result<Option<ReleaseRecord>> {
        crate::postgres_release::release(&self.pool, id).await
    }

    async fn derivations(&self, party: &str) -> Result<Vec<Derivation>> {
        crate::postgres_release::derivations(&self.pool, party).await
    }

    async fn close(&self) {
        PgStore::close(self).await;
    }

    async fn releases(
        &self,
        query: &crate::ReleaseListQuery,
    ) -> Result<Vec<crate::ReleaseListing>> {
        crate::postgres_release::releases(&self.pool, query).await
    }

    async fn ledger_size(&self, party: &str) -> Result<u64> {
        crate::postgres_ledger::size(&self.pool, party).await
    }

    async fn ledger_nodes(&self, party: &str, ids: &[ledger::NodeId]) -> Result<Vec<ledger::Hash>> {
        crate::postgres_ledger::nodes(&self.pool, party, ids).await
    }

    async fn ledger_leaves(
        &self,
        party: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<crate::LedgerLeaf>> {
        crate::postgres_ledger::leaves(&self.pool, party, start, limit).await
    }

    async fn ledger_leaves_with_object(
        &self,
        party: &str,
        sha256: &ledger::Hash,
    ) -> Result<Vec<u64>> {
        crate::postgres_ledger::leaves_with_object(&self.pool, party, sha256).await
    }

    async fn ledger_leaf_of_release(&self, release_id: &str) -> Result<Option<(String, u64)>> {
        crate::postgres_ledger::leaf_of_release(&self.pool, release_id).await
    }

    async fn ledger_internal(
        &self,
        party: &str,
        index: u64,
    ) -> Result<Option<crate::LedgerInternal>> {
        crate::postgres_ledger::internal(&self.pool, party, index).await
    }

    async fn add_cosignature(&self, cosignature: &crate::Cosignature) -> Result<()> {
        crate::postgres_ledger::add_cosignature(&self.pool, cosignature).await
    }

    async fn cosignatures(&self, party: &str, size: u64) -> Result<Vec<crate::Cosignature>> {
        crate::postgres_ledger::cosignatures(&self.pool, party, size).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://u:secret@db:5432/t",
                "postgres://u:***@db:5432/t",
            ),
            (
                "postgres://u:p@ss@db/t?sslmode=require",
                "postgres://u:***@db/t?sslmode=require",
            ),
            ("postgres://u@db/t", "postgres://u@db/t"),
            (
                "postgresql:///t?host=/run/pg",
                "postgresql:///t?host=/run/pg",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }

    #[test]
    fn locations_pick_the_backend() {
        assert!(matches!(
            crate::Location::parse("postgresql://h/db"),
            crate::Location::Postgres(_)
        ));
        assert!(matches!(
            crate::Location::parse("./data/tearline.db"),
            crate::Location::Sqlite(_)
        ));
        assert_eq!(
            crate::Location::parse("postgres://u:pw@h/db").to_string(),
            "postgres://u:***@h/db"
        );
    }
}
