//! SQLite implementation of the release-ledger part of [`crate::Store`].
//! Appends run inside the release transaction (`BEGIN IMMEDIATE` already
//! holds the database's write lock, so the log head cannot move under us).

use ledger::{Hash, NodeId};
use std::collections::HashMap;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use crate::ledger_rows::{
    AppendPlan, Cosignature, LedgerAppend, LedgerInternal, LedgerLeaf, append_node_ids,
    hash_from_bytes, plan_append,
};
use crate::sqlite::db_error;
use crate::{Micros, Result, StoreError};

/// Node addresses per SELECT: two bound values each, far below SQLite's
/// limit of 32,766 bound variables.
const NODES_PER_STATEMENT: usize = 500;

fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidArgument(format!("{value} is too large")))
}

fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative ledger index {value}")))
}

async fn size_on(conn: &mut SqliteConnection, party: &str) -> Result<u64> {
    let size: Option<i64> = sqlx::query_scalar("SELECT size FROM ledger_logs WHERE party = ?")
        .bind(party)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    size.map_or(Ok(0), to_u64)
}

async fn nodes_on(conn: &mut SqliteConnection, party: &str, ids: &[NodeId]) -> Result<Vec<Hash>> {
    let mut found: HashMap<(i64, i64), Vec<u8>> = HashMap::with_capacity(ids.len());
    // One statement per chunk (a proof needs about 2·log2(n) nodes, one
    // chunk): each statement is a round trip to sqlx's database thread.
    for chunk in ids.chunks(NODES_PER_STATEMENT) {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT level, idx, hash FROM ledger_nodes WHERE party = ");
        query.push_bind(party);
        query.push(" AND (level, idx) IN (VALUES ");
        let mut separated = query.separated(", ");
        for id in chunk {
            separated.push("(");
            separated.push_bind_unseparated(i64::from(id.level));
            separated.push_unseparated(", ");
            separated.push_bind_unseparated(to_i64(id.index)?);
            separated.push_unseparated(")");
        }
        query.push(")");
        for row in query
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
        {
            found.insert(
                (
                    row.try_get("level").map_err(db_error)?,
                    row.try_get("idx").map_err(db_error)?,
                ),
                row.try_get("hash").map_err(db_error)?,
            );
        }
    }
    ids.iter()
        .map(|id| {
            let hash = found
                .get(&(i64::from(id.level), to_i64(id.index)?))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "ledger of {party}: node at level {}, index {} is missing",
                        id.level, id.index
                    ))
                })?;
            hash_from_bytes(hash)
        })
        .collect()
}

/// Appends `append` to its partner's log on `conn`, which must be inside a
/// write transaction. Returns the new leaf's index.
pub(crate) async fn append_in_tx(
    conn: &mut SqliteConnection,
    append: &LedgerAppend,
    now: Micros,
) -> Result<u64> {
    let party = append.party.as_str();
    let size = size_on(conn, party).await?;
    let ids = append_node_ids(size)?;
    let hashes = nodes_on(conn, party, &ids).await?;
    let nodes: Vec<(NodeId, Hash)> = ids.into_iter().zip(hashes).collect();
    let AppendPlan {
        index,
        bytes,
        leaf_hash,
        new_size,
        nodes,
        object_hashes,
    } = plan_append(append, size, &nodes)?;
    sqlx::query(
        "INSERT INTO ledger_leaves (party, idx, release_id, record, leaf_hash, internal, salt, \
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(party)
    .bind(to_i64(index)?)
    .bind(&append.record.release_id)
    .bind(bytes)
    .bind(leaf_hash.0.as_slice())
    .bind(append.internal.as_slice())
    .bind(append.salt.as_slice())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    for (id, hash) in &nodes {
        sqlx::query("INSERT INTO ledger_nodes (party, level, idx, hash) VALUES (?, ?, ?, ?)")
            .bind(party)
            .bind(i64::from(id.level))
            .bind(to_i64(id.index)?)
            .bind(hash.0.as_slice())
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    for sha in &object_hashes {
        sqlx::query(
            "INSERT INTO ledger_objects (party, sha256, idx) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(party)
        .bind(sha.0.as_slice())
        .bind(to_i64(index)?)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    sqlx::query(
        "INSERT INTO ledger_logs (party, size) VALUES (?, ?) \
         ON CONFLICT (party) DO UPDATE SET size = excluded.size",
    )
    .bind(party)
    .bind(to_i64(new_size)?)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(index)
}

pub(crate) async fn size(pool: &SqlitePool, party: &str) -> Result<u64> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    size_on(&mut conn, party).await
}

pub(crate) async fn nodes(pool: &SqlitePool, party: &str, ids: &[NodeId]) -> Result<Vec<Hash>> {
    // One read transaction, so every node comes from the same snapshot.
    let mut tx = pool.begin().await.map_err(db_error)?;
    let out = nodes_on(&mut tx, party, ids).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(out)
}

pub(crate) async fn leaves(
    pool: &SqlitePool,
    party: &str,
    start: u64,
    limit: usize,
) -> Result<Vec<LedgerLeaf>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT idx, release_id, record, leaf_hash FROM ledger_leaves \
         WHERE party = ? AND idx >= ? ORDER BY idx LIMIT ?",
    )
    .bind(party)
    .bind(to_i64(start)?)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let leaf_hash: Vec<u8> = row.try_get("leaf_hash").map_err(db_error)?;
            Ok(LedgerLeaf {
                index: to_u64(row.try_get("idx").map_err(db_error)?)?,
                release_id: row.try_get("release_id").map_err(db_error)?,
                bytes: row.try_get("record").map_err(db_error)?,
                leaf_hash: hash_from_bytes(&leaf_hash)?,
            })
        })
        .collect()
}

pub(crate) async fn leaves_with_object(
    pool: &SqlitePool,
    party: &str,
    sha256: &Hash,
) -> Result<Vec<u64>> {
    let indexes: Vec<i64> = sqlx::query_scalar(
        "SELECT idx FROM ledger_objects WHERE party = ? AND sha256 = ? ORDER BY idx",
    )
    .bind(party)
    .bind(sha256.0.as_slice())
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    indexes.into_iter().map(to_u64).collect()
}

pub(crate) async fn leaf_of_release(
    pool: &SqlitePool,
    release_id: &str,
) -> Result<Option<(String, u64)>> {
    let row = sqlx::query("SELECT party, idx FROM ledger_leaves WHERE release_id = ?")
        .bind(release_id)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    row.map(|row| {
        Ok((
            row.try_get("party").map_err(db_error)?,
            to_u64(row.try_get("idx").map_err(db_error)?)?,
        ))
    })
    .transpose()
}

pub(crate) async fn internal(
    pool: &SqlitePool,
    party: &str,
    index: u64,
) -> Result<Option<LedgerInternal>> {
    let row = sqlx::query(
        "SELECT release_id, internal, salt FROM ledger_leaves WHERE party = ? AND idx = ?",
    )
    .bind(party)
    .bind(to_i64(index)?)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.map(|row| {
        let salt: Vec<u8> = row.try_get("salt").map_err(db_error)?;
        Ok(LedgerInternal {
            index,
            release_id: row.try_get("release_id").map_err(db_error)?,
            internal: row.try_get("internal").map_err(db_error)?,
            salt: salt
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("a stored salt is not 32 bytes".to_owned()))?,
        })
    })
    .transpose()
}

pub(crate) async fn add_cosignature(pool: &SqlitePool, cosignature: &Cosignature) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_cosignatures (party, size, account, key, line, received_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (party, size, account) DO UPDATE SET \
         key = excluded.key, line = excluded.line, received_at = excluded.received_at",
    )
    .bind(&cosignature.party)
    .bind(to_i64(cosignature.size)?)
    .bind(&cosignature.account)
    .bind(&cosignature.key)
    .bind(&cosignature.line)
    .bind(cosignature.received_at)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn cosignatures(
    pool: &SqlitePool,
    party: &str,
    size: u64,
) -> Result<Vec<Cosignature>> {
    let rows = sqlx::query(
        "SELECT account, key, line, received_at FROM ledger_cosignatures \
         WHERE party = ? AND size = ? ORDER BY received_at, account",
    )
    .bind(party)
    .bind(to_i64(size)?)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            Ok(Cosignature {
                party: party.to_owned(),
                size,
                account: row.try_get("account").map_err(db_error)?,
                key: row.try_get("key").map_err(db_error)?,
                line: row.try_get("line").map_err(db_error)?,
                received_at: row.try_get("received_at").map_err(db_error)?,
            })
        })
        .collect()
}
