//! The embedded backend: one SQLite database file, accessed through sqlx.
//!
//! Durability: WAL journal with `synchronous=FULL`, so every commit syncs
//! the WAL before it returns. `NORMAL` would survive a process crash but can
//! lose the last commits on power loss or an OS crash, and TAXII clients are
//! told "stored" (202 with a success) the moment the commit returns; one
//! fsync per envelope is cheap next to that promise.
//!
//! Concurrency: WAL lets readers run beside the single writer, and a busy
//! timeout makes admin commands in another process wait for the server's
//! write transactions instead of failing. Write transactions start with
//! `BEGIN IMMEDIATE` so they never need to upgrade a read lock (which SQLite
//! would answer with an immediate SQLITE_BUSY).
//!
//! Checkpoints run in the background, not inside commits: see
//! [`crate::sqlite_checkpoint`].

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::release::{
    Derivation, MarkingDisposition, NewParty, Party, PolicyVersion, ReleaseCommit, ReleaseRecord,
};
use crate::{
    Account, AddOutcome, ApiRoot, Collection, Cursor, DeleteRequest, Grant, JoinedPage, Micros,
    NewAccount, NewCollection, NewObject, ObjectQuery, Page, Result, Role, StatusBuilder,
    StatusDetail, StatusRecord, Store, StoreError, StoredObject, VersionFilter,
};

/// Most values in all of one query's lists together; far below SQLite's
/// bound-variable limit.
pub const MAX_QUERY_VALUES: usize = 10_000;

/// Rows per INSERT statement: 7 values each, far below SQLite's limit of
/// 32,766 bound variables.
const INSERT_ROWS_PER_STATEMENT: usize = 200;

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    keys: crate::collection_keys::CollectionKeys,
    checkpointer: std::sync::Arc<crate::sqlite_checkpoint::Checkpointer>,
    pub(crate) readers: std::sync::Arc<crate::sqlite_readers::Readers>,
}

impl SqliteStore {
    /// Opens the database at `file`, creating it when `create` is set, and
    /// applies pending migrations.
    pub async fn open(file: &Path, create: bool) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma(
                "wal_autocheckpoint",
                crate::sqlite_checkpoint::FALLBACK_PAGES.to_string(),
            )
            .pragma(
                "journal_size_limit",
                crate::sqlite_checkpoint::WAL_SIZE_LIMIT.to_string(),
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // sqlx would ping an idle connection before lending it out: a
            // round trip to the connection's thread that only a network
            // database needs (no peer can have dropped an embedded one).
            // Hot reads do not use this pool at all; see sqlite_readers.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|err| StoreError::Migration(err.to_string()))?;
        let readers = crate::sqlite_readers::Readers::new(&options);
        let checkpointer = crate::sqlite_checkpoint::Checkpointer::start(options);
        Ok(SqliteStore {
            pool,
            keys: Default::default(),
            checkpointer: std::sync::Arc::new(checkpointer),
            readers: std::sync::Arc::new(readers),
        })
    }

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.checkpointer.stop().await;
        self.readers.close().await;
        self.pool.close().await;
    }

    async fn collection_key(&self, collection_id: &str) -> Result<i64> {
        if let Some(key) = self.keys.get(collection_id) {
            return Ok(key);
        }
        let key = sqlx::query_scalar::<_, i64>("SELECT seq FROM collections WHERE id = ?")
            .bind(collection_id)
            .fetch_optional(&mut *self.readers.get().await?)
            .await
            .map_err(db_error)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("collection {collection_id}"),
            })?;
        self.keys.remember(collection_id, key);
        Ok(key)
    }
}

impl SqliteStore {
    /// Appends the rest of a page query to `SELECT ... FROM objects o`: the
    /// query's conditions, the order, and `limit` rows.
    async fn push_page_query(
        &self,
        builder: &mut QueryBuilder<Sqlite>,
        query: &ObjectQuery,
        limit: usize,
    ) -> Result<()> {
        self.page_conditions(query).await?.push_page(builder, limit);
        Ok(())
    }

    /// The page joined by SQLite, or `None` if SQLite did not join the rows
    /// in `date_added` order.
    async fn joined_in_database(&self, query: &ObjectQuery) -> Result<Option<JoinedPage>> {
        let limit = query.limit.max(1);
        let conditions = self.page_conditions(query).await?;
        // The page is joined inside SQLite and crosses from sqlx's database
        // thread as one row: handing over a row per object cost more than
        // reading it. Whether more follow is asked in the same statement,
        // after the page's last row.
        //
        // `group_concat(.. ORDER BY ..)` would sort the page's text again
        // (most of the statement's time), so the rows are joined in the
        // order the page yields them, and the `date_added` of each, joined
        // by the same aggregate step, proves that order below.
        let mut builder =
            QueryBuilder::<Sqlite>::new("WITH page AS (SELECT o.date_added, o.raw FROM objects o");
        conditions.push_page(&mut builder, limit);
        builder.push(
            "), summary AS (SELECT max(date_added) AS last, \
             group_concat(date_added, ',') AS dates, group_concat(raw, ',') AS objects \
             FROM page) \
             SELECT dates, objects, EXISTS (SELECT 1 FROM objects o",
        );
        conditions.push(&mut builder);
        builder.push(" AND o.date_added > summary.last) AS more FROM summary");
        let row = builder
            .build()
            .fetch_one(&mut *self.readers.get().await?)
            .await
            .map_err(db_error)?;
        let dates: Option<String> = row.try_get("dates").map_err(db_error)?;
        let Some(dates) = ascending_dates(dates.as_deref().unwrap_or_default()) else {
            return Ok(None);
        };
        let more: bool = row.try_get("more").map_err(db_error)?;
        let last_added = dates.last().copied();
        Ok(Some(JoinedPage {
            count: dates.len(),
            first_added: dates.first().copied(),
            last_added,
            more,
            next: last_added.filter(|_| more).map(Cursor::new),
            objects: row
                .try_get::<Option<String>, _>("objects")
                .map_err(db_error)?
                .unwrap_or_default(),
        }))
    }

    async fn page_conditions<'q>(&self, query: &'q ObjectQuery) -> Result<PageConditions<'q>> {
        let exact: &[String] = match &query.versions {
            VersionFilter::All => &[],
            VersionFilter::Select { exact, .. } => exact,
        };
        check_value_count(&[&query.ids, &query.types, &query.spec_versions, exact])?;
        Ok(PageConditions {
            key: self.collection_key(&query.collection_id).await?,
            after: query
                .added_after
                .into_iter()
                .chain(query.cursor.map(|cursor| cursor.after))
                .max()
                .unwrap_or(-1),
            query,
        })
    }
}

/// What a page query selects, apart from its start and length.
struct PageConditions<'q> {
    key: i64,
    after: Micros,
    query: &'q ObjectQuery,
}

impl PageConditions<'_> {
    /// Appends the conditions, then the page: `limit` rows from the start
    /// in `date_added` order.
    fn push_page(&self, builder: &mut QueryBuilder<Sqlite>, limit: usize) {
        self.push(builder);
        builder.push(" AND o.date_added > ");
        builder.push_bind(self.after);
        // The limit is written into the SQL, not bound: SQLite plans with a
        // bound LIMIT's value, so it marks such a statement for re-preparing
        // whenever that parameter is bound again, which is every execution.
        // The number comes from the server's clamped page size, and the
        // statement cache keeps one statement per limit in use.
        builder.push(" ORDER BY o.date_added LIMIT ");
        builder.push(limit);
    }

    /// Appends ` [INDEXED BY ..] WHERE ...` to `... FROM objects o`.
    fn push(&self, builder: &mut QueryBuilder<Sqlite>) {
        // Without statistics SQLite prefers walking (collection, date_added)
        // in ORDER BY order and testing every row's id: a scan of the whole
        // collection for one GET by id. With ids given, seeking each id and
        // sorting the few rows found is always the cheaper plan.
        if !self.query.ids.is_empty() {
            builder.push(" INDEXED BY objects_by_id_version");
        }
        builder.push(" WHERE o.collection = ");
        builder.push_bind(self.key);
        push_in_list(builder, "o.object_id", &self.query.ids);
        push_in_list(builder, "o.object_type", &self.query.types);
        push_version_conditions(builder, &self.query.versions, &self.query.spec_versions);
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

fn non_negative(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

fn as_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidArgument("count too large".to_owned()))
}

pub(crate) fn collection_from_row(row: &SqliteRow) -> Result<Collection> {
    Ok(Collection {
        id: row.try_get("id").map_err(db_error)?,
        api_root: row.try_get("api_root").map_err(db_error)?,
        title: row.try_get("title").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        alias: row.try_get("alias").map_err(db_error)?,
    })
}

fn grant_from_row(row: &SqliteRow) -> Result<Grant> {
    Ok(Grant {
        can_read: row.try_get("can_read").map_err(db_error)?,
        can_write: row.try_get("can_write").map_err(db_error)?,
    })
}

fn account_from_row(row: &SqliteRow) -> Result<Account> {
    let role: String = row.try_get("role").map_err(db_error)?;
    Ok(Account {
        id: row.try_get("id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        party: row.try_get("party").map_err(db_error)?,
    })
}

/// Appends ` AND column IN (?, ?, ...)` for a non-empty list.
fn push_in_list(builder: &mut QueryBuilder<Sqlite>, column: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    builder.push(format_args!(" AND {column} IN ("));
    let mut list = builder.separated(", ");
    for value in values {
        list.push_bind(value.clone());
    }
    list.push_unseparated(")");
}

/// The spec-version condition on a row aliased `alias` that belongs to the
/// same object as row `o`, for the first/last subqueries.
fn push_sibling_spec_condition(
    builder: &mut QueryBuilder<Sqlite>,
    alias: &str,
    spec_versions: &[String],
) {
    if spec_versions.is_empty() {
        builder.push(format_args!(" AND {alias}.spec_version = o.spec_version"));
    } else {
        push_in_list(builder, &format!("{alias}.spec_version"), spec_versions);
    }
}

/// Appends the spec-version and version conditions on row `o`.
fn push_version_conditions(
    builder: &mut QueryBuilder<Sqlite>,
    versions: &VersionFilter,
    spec_versions: &[String],
) {
    if spec_versions.is_empty() && versions.is_last() {
        // TAXII's default on both counts: the row marked latest.
        builder.push(" AND o.latest = 1");
        return;
    }
    if spec_versions.is_empty() {
        // TAXII default: only the newest spec version each object has.
        builder.push(
            " AND NOT EXISTS (SELECT 1 FROM objects s WHERE s.collection = o.collection \
             AND s.object_id = o.object_id AND s.spec_version > o.spec_version)",
        );
    } else {
        push_in_list(builder, "o.spec_version", spec_versions);
    }
    let VersionFilter::Select { first, last, exact } = versions else {
        return;
    };
    builder.push(" AND (0");
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
        builder.push(" OR o.version IN (");
        let mut list = builder.separated(", ");
        for value in exact {
            list.push_bind(value.clone());
        }
        list.push_unseparated(")");
    }
    builder.push(")");
}

/// `"1,2,3"` as numbers, if strictly ascending.
fn ascending_dates(joined: &str) -> Option<Vec<Micros>> {
    if joined.is_empty() {
        return Some(Vec::new());
    }
    let mut dates = Vec::new();
    for part in joined.split(',') {
        let date: Micros = part.parse().ok()?;
        if dates.last().is_some_and(|&previous| previous >= date) {
            return None;
        }
        dates.push(date);
    }
    Some(dates)
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
/// stored with different text is an error instead of a duplicate.
pub(crate) async fn insert_versions(
    conn: &mut sqlx::SqliteConnection,
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
    // Reserve `count` consecutive date_added values; writers are
    // serialised, so later commits always get later values.
    let reserved = sqlx::query(
        "UPDATE collections SET next_date_added = MAX(next_date_added, ?) + ? \
             WHERE id = ? RETURNING seq, next_date_added - ? AS first",
    )
    .bind(now)
    .bind(count)
    .bind(collection_id)
    .bind(count)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .ok_or_else(|| StoreError::NotFound {
        what: format!("collection {collection_id}"),
    })?;
    let key: i64 = reserved.try_get("seq").map_err(db_error)?;
    let first: i64 = reserved.try_get("first").map_err(db_error)?;
    let mut outcomes = Vec::with_capacity(objects.len());
    let mut chunk_first = first;
    for chunk in objects.chunks(INSERT_ROWS_PER_STATEMENT) {
        // One statement per chunk, not per row: each statement is a round
        // trip to sqlx's database thread, which cost more than the insert.
        let mut builder = QueryBuilder::<Sqlite>::new(
            "INSERT INTO objects \
             (collection, object_id, object_type, spec_version, version, date_added, raw) ",
        );
        builder.push_values(
            (chunk_first..).zip(chunk),
            |mut row, (date_added, object)| {
                row.push_bind(key)
                    .push_bind(&object.object_id)
                    .push_bind(&object.object_type)
                    .push_bind(&object.spec_version)
                    .push_bind(&object.version)
                    .push_bind(date_added)
                    .push_bind(&object.raw);
            },
        );
        // A row that conflicts (already stored, or repeated earlier in the
        // same batch) is skipped. Usually none is: then the count says all
        // went in and no row needs to come back from SQLite's thread.
        builder.push(" ON CONFLICT (collection, object_id, version) DO NOTHING");
        let inserted = builder
            .build()
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected();
        let chunk_last = chunk_first.saturating_add(chunk.len() as i64 - 1);
        let stored: std::collections::HashSet<i64> = if inserted == chunk.len() as u64 {
            (chunk_first..=chunk_last).collect()
        } else {
            // The rows of this chunk that went in carry its date_added values.
            sqlx::query_scalar(
                "SELECT date_added FROM objects WHERE collection = ? \
                 AND date_added BETWEEN ? AND ?",
            )
            .bind(key)
            .bind(chunk_first)
            .bind(chunk_last)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .collect()
        };
        for (date_added, object) in (chunk_first..).zip(chunk) {
            if stored.contains(&date_added) {
                outcomes.push(AddOutcome::Stored { date_added });
                continue;
            }
            if same_content {
                let stored: String = sqlx::query_scalar(
                    "SELECT raw FROM objects WHERE collection = ? AND object_id = ? AND version = ?",
                )
                .bind(key)
                .bind(&object.object_id)
                .bind(&object.version)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_error)?;
                if stored != object.raw {
                    return Err(StoreError::Conflict(format!(
                        "{} version {} is already stored with other content",
                        object.object_id, object.version
                    )));
                }
            }
            outcomes.push(AddOutcome::Duplicate);
        }
        chunk_first = chunk_first.saturating_add(chunk.len() as i64);
    }
    Ok(outcomes)
}

/// Writes (or replaces) a status resource.
async fn write_status(conn: &mut sqlx::SqliteConnection, status: &StatusRecord) -> Result<()> {
    let details = serde_json::json!({
        "successes": status.successes,
        "failures": status.failures,
        "pendings": status.pendings,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO statuses (id, api_root, collection_id, account_id, request_timestamp, \
         total_count, success_count, failure_count, pending_count, details) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
impl Store for SqliteStore {
    async fn create_api_root(&self, root: &ApiRoot, now: Micros) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_roots (name, title, description, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&root.name)
        .bind(&root.title)
        .bind(&root.description)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::AlreadyExists { .. } => StoreError::AlreadyExists {
                what: format!("API root {}", root.name),
            },
            other => other,
        })?;
        Ok(())
    }

    async fn api_roots(&self) -> Result<Vec<ApiRoot>> {
        let rows = sqlx::query(
            "SELECT name, title, description FROM api_roots ORDER BY created_at, rowid",
        )
        .fetch_all(&mut *self.readers.get().await?)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(ApiRoot {
                    name: row.try_get("name").map_err(db_error)?,
                    title: row.try_get("title").map_err(db_error)?,
                    description: row.try_get("description").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn api_root(&self, name: &str) -> Result<Option<ApiRoot>> {
        let row = sqlx::query("SELECT name, title, description FROM api_roots WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *self.readers.get().await?)
            .await
            .map_err(db_error)?;
        row.map(|row| {
            Ok(ApiRoot {
                name: row.try_get("name").map_err(db_error)?,
                title: row.try_get("title").map_err(db_error)?,
                description: row.try_get("description").map_err(db_error)?,
            })
        })
        .transpose()
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
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&new.api_root)
        .bind(&new.title)
        .bind(&new.description)
        .bind(&new.alias)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::AlreadyExists { .. } => StoreError::AlreadyExists {
                what: "a collection with this alias".to_owned(),
            },
            other => other,
        })?;
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
             WHERE api_root = ? ORDER BY seq",
        )
        .bind(api_root)
        .fetch_all(&mut *self.readers.get().await?)
        .await
        .map_err(db_error)?;
        rows.iter().map(collection_from_row).collect()
    }

    async fn collection(&self, api_root: &str, id_or_alias: &str) -> Result<Option<Collection>> {
        let row = sqlx::query(
            "SELECT id, api_root, title, description, alias FROM collections \
             WHERE api_root = ? AND (id = ? OR alias = ?) ORDER BY id = ? DESC LIMIT 1",
        )
        .bind(api_root)
        .bind(id_or_alias)
        .bind(id_or_alias)
        .bind(id_or_alias)
        .fetch_optional(&mut *self.readers.get().await?)
        .await
        .map_err(db_error)?;
        row.as_ref().map(collection_from_row).transpose()
    }

    async fn collection_with_grant(
        &self,
        api_root: &str,
        id_or_alias: &str,
        account_id: i64,
    ) -> Result<Option<(Collection, Grant)>> {
        let row = sqlx::query(
            "SELECT c.id, c.api_root, c.title, c.description, c.alias, \
             coalesce(g.can_read, 0) AS can_read, coalesce(g.can_write, 0) AS can_write \
             FROM collections c LEFT JOIN grants g \
             ON g.collection_id = c.id AND g.account_id = ? \
             WHERE c.api_root = ? AND (c.id = ? OR c.alias = ?) ORDER BY c.id = ? DESC LIMIT 1",
        )
        .bind(account_id)
        .bind(api_root)
        .bind(id_or_alias)
        .bind(id_or_alias)
        .bind(id_or_alias)
        .fetch_optional(&mut *self.readers.get().await?)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some((collection_from_row(&row)?, grant_from_row(&row)?)))
    }

    async fn create_account(&self, new: &NewAccount, now: Micros) -> Result<Account> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (name, password_hash, role, party, created_at) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(&new.party)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::AlreadyExists { .. } => StoreError::AlreadyExists {
                what: format!("account {}", new.name),
            },
            other => other,
        })?;
        let mut collections: Vec<&String> = new.read.iter().chain(new.write.iter()).collect();
        collections.sort();
        collections.dedup();
        for collection_id in collections {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM collections WHERE id = ?")
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
                 VALUES (?, ?, ?, ?)",
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
        let row =
            sqlx::query("SELECT id, name, role, party, password_hash FROM accounts WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *self.readers.get().await?)
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
             JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.readers.get().await?)
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
             SELECT ?, id, ?, ? FROM accounts WHERE name = ?",
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
            "SELECT can_read, can_write FROM grants WHERE account_id = ? AND collection_id = ?",
        )
        .bind(account_id)
        .bind(collection_id)
        .fetch_optional(&mut *self.readers.get().await?)
        .await
        .map_err(db_error)?;
        row.as_ref().map_or(Ok(Grant::default()), grant_from_row)
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let outcomes = insert_versions(&mut tx, collection_id, objects, now, false).await?;
        let record = status(&outcomes);
        write_status(&mut tx, &record).await?;
        tx.commit().await.map_err(db_error)?;
        Ok((outcomes, record))
    }

    async fn query_objects(&self, query: &ObjectQuery) -> Result<Page> {
        let limit = query.limit.max(1);
        let raw_column = if query.with_raw { "o.raw" } else { "''" };
        let mut builder = QueryBuilder::<Sqlite>::new(format!(
            "SELECT o.object_id, o.object_type, o.spec_version, o.version, o.date_added, \
             {raw_column} AS raw FROM objects o"
        ));
        // One extra row tells whether more follow.
        self.push_page_query(&mut builder, query, limit.saturating_add(1))
            .await?;
        let rows = builder
            .build()
            .fetch_all(&mut *self.readers.get().await?)
            .await
            .map_err(db_error)?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(rows.len().min(limit));
        for row in rows.iter().take(limit) {
            items.push(StoredObject {
                object_id: row.try_get("object_id").map_err(db_error)?,
                object_type: row.try_get("object_type").map_err(db_error)?,
                spec_version: row.try_get("spec_version").map_err(db_error)?,
                version: row.try_get("version").map_err(db_error)?,
                date_added: row.try_get("date_added").map_err(db_error)?,
                raw: row.try_get("raw").map_err(db_error)?,
            });
        }
        let next = if more {
            items.last().map(|last| Cursor::new(last.date_added))
        } else {
            None
        };
        Ok(Page { items, more, next })
    }

    async fn query_objects_joined(&self, query: &ObjectQuery) -> Result<JoinedPage> {
        if let Some(page) = self.joined_in_database(query).await? {
            return Ok(page);
        }
        let mut query = query.clone();
        query.with_raw = true;
        Ok(JoinedPage::from_page(self.query_objects(&query).await?))
    }

    async fn object_exists(&self, collection_id: &str, object_id: &str) -> Result<bool> {
        let key = self.collection_key(collection_id).await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM objects WHERE collection = ? AND object_id = ? LIMIT 1",
        )
        .bind(key)
        .bind(object_id)
        .fetch_optional(&mut *self.readers.get().await?)
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
        let key = self.collection_key(&request.collection_id).await?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        // Select first, then delete by row: the first/last conditions refer
        // to sibling rows, which must not change while the delete runs.
        let mut builder =
            QueryBuilder::<Sqlite>::new("SELECT o.row_id FROM objects o WHERE o.collection = ");
        builder.push_bind(key);
        builder.push(" AND o.object_id = ");
        builder.push_bind(request.object_id.clone());
        push_version_conditions(&mut builder, &request.versions, &request.spec_versions);
        let rows: Vec<i64> = builder
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        for row_id in &rows {
            sqlx::query("DELETE FROM objects WHERE row_id = ?")
                .bind(row_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(rows.len() as u64)
    }

    async fn put_status(&self, status: &StatusRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        write_status(&mut conn, status).await
    }

    async fn status(&self, api_root: &str, id: &str) -> Result<Option<StatusRecord>> {
        let row = sqlx::query(
            "SELECT id, api_root, collection_id, account_id, request_timestamp, total_count, \
             success_count, failure_count, pending_count, details FROM statuses \
             WHERE api_root = ? AND id = ?",
        )
        .bind(api_root)
        .bind(id)
        .fetch_optional(&mut *self.readers.get().await?)
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
        crate::sqlite_release::create_party(&self.pool, new, now).await
    }

    async fn party(&self, name: &str) -> Result<Option<Party>> {
        crate::sqlite_release::party(&self.pool, name).await
    }

    async fn parties(&self) -> Result<Vec<Party>> {
        crate::sqlite_release::parties(&self.pool).await
    }

    async fn set_marking_disposition(
        &self,
        disposition: &MarkingDisposition,
        now: Micros,
    ) -> Result<()> {
        crate::sqlite_release::set_marking_disposition(&self.pool, disposition, now).await
    }

    async fn marking_dispositions(&self) -> Result<Vec<MarkingDisposition>> {
        crate::sqlite_release::marking_dispositions(&self.pool).await
    }

    async fn add_policy_version(&self, version: &str, text: &str, now: Micros) -> Result<()> {
        crate::sqlite_release::add_policy_version(&self.pool, version, text, now).await
    }

    async fn current_policy(&self) -> Result<Option<PolicyVersion>> {
        crate::sqlite_release::current_policy(&self.pool).await
    }

    async fn release_setting(&self, key: &str, initial: &str) -> Result<String> {
        crate::sqlite_release::release_setting(&self.pool, key, initial).await
    }

    async fn internal_object(&self, object_id: &str) -> Result<Option<StoredObject>> {
        crate::sqlite_release::internal_object(&self.pool, object_id).await
    }

    async fn internal_objects(&self, object_ids: &[String]) -> Result<Vec<StoredObject>> {
        crate::sqlite_release::internal_objects(&self.pool, object_ids).await
    }

    async fn commit_release(&self, commit: &ReleaseCommit, now: Micros) -> Result<Vec<AddOutcome>> {
        crate::sqlite_release::commit_release(&self.pool, commit, now).await
    }

    async fn release(&self, id: &str) -> Result<Option<ReleaseRecord>> {
        crate::sqlite_release::release(&self.pool, id).await
    }

    async fn derivations(&self, party: &str) -> Result<Vec<Derivation>> {
        crate::sqlite_release::derivations(&self.pool, party).await
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    async fn releases(
        &self,
        query: &crate::ReleaseListQuery,
    ) -> Result<Vec<crate::ReleaseListing>> {
        crate::sqlite_release::releases(&self.pool, query).await
    }

    async fn ledger_size(&self, party: &str) -> Result<u64> {
        crate::sqlite_ledger::size(&self.pool, party).await
    }

    async fn ledger_nodes(&self, party: &str, ids: &[ledger::NodeId]) -> Result<Vec<ledger::Hash>> {
        crate::sqlite_ledger::nodes(&self.pool, party, ids).await
    }

    async fn ledger_leaves(
        &self,
        party: &str,
        start: u64,
        limit: usize,
    ) -> Result<Vec<crate::LedgerLeaf>> {
        crate::sqlite_ledger::leaves(&self.pool, party, start, limit).await
    }

    async fn ledger_leaves_with_object(
        &self,
        party: &str,
        sha256: &ledger::Hash,
    ) -> Result<Vec<u64>> {
        crate::sqlite_ledger::leaves_with_object(&self.pool, party, sha256).await
    }

    async fn ledger_leaf_of_release(&self, release_id: &str) -> Result<Option<(String, u64)>> {
        crate::sqlite_ledger::leaf_of_release(&self.pool, release_id).await
    }

    async fn ledger_internal(
        &self,
        party: &str,
        index: u64,
    ) -> Result<Option<crate::LedgerInternal>> {
        crate::sqlite_ledger::internal(&self.pool, party, index).await
    }

    async fn add_cosignature(&self, cosignature: &crate::Cosignature) -> Result<()> {
        crate::sqlite_ledger::add_cosignature(&self.pool, cosignature).await
    }

    async fn cosignatures(&self, party: &str, size: u64) -> Result<Vec<crate::Cosignature>> {
        crate::sqlite_ledger::cosignatures(&self.pool, party, size).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_dates_must_ascend() {
        assert_eq!(ascending_dates(""), Some(Vec::new()));
        assert_eq!(ascending_dates("5"), Some(vec![5]));
        assert_eq!(ascending_dates("1,2,30"), Some(vec![1, 2, 30]));
        assert_eq!(ascending_dates("1,3,2"), None);
        assert_eq!(ascending_dates("1,1"), None);
        assert_eq!(ascending_dates("1,x"), None);
    }

    /// Commits leave the WAL to the background task, which copies it into
    /// the database file well before SQLite's own (much later) checkpoint.
    #[tokio::test]
    async fn the_wal_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let file = dir.path().join("t.db");
        let store = SqliteStore::open(&file, true)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let collection = crate::testing::fresh_collection(&store).await;
        let padding = "p".repeat(2_000);
        let objects: Vec<NewObject> = (0..1_000)
            .map(|i| {
                let mut object = crate::testing::object(&format!("w--{i}"), "w", "2.1", "v");
                object.raw = format!(r#"{{"id": "w--{i}", "padding": "{padding}"}}"#);
                object
            })
            .collect();
        store
            .add_objects(&collection, &objects, crate::testing::T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let size = || std::fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < 2_000_000 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(size() >= 2_000_000, "database file {} bytes", size());
        store.close().await;
    }

    #[tokio::test]
    async fn pages_are_joined_in_the_database() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let store = SqliteStore::open(&dir.path().join("t.db"), true)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let collection = crate::testing::fresh_collection(&store).await;
        let objects: Vec<NewObject> = (0..50)
            .map(|i| crate::testing::object(&format!("j--{i:02}"), "j", "2.1", "v"))
            .collect();
        store
            .add_objects(&collection, &objects, crate::testing::T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        for limit in [1, 20, 50, 100] {
            let query = ObjectQuery::new(&collection, limit);
            let joined = store
                .joined_in_database(&query)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            let Some(joined) = joined else {
                panic!("limit {limit}: SQLite joined the page out of order")
            };
            assert_eq!(joined.count, limit.min(50));
            assert_eq!(joined.more, limit < 50);
        }
    }
}
