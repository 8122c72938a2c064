//! PostgreSQL implementation of the release-ledger part of [`crate::Store`].
//! Appends run inside the release transaction and first lock the partner's
//! log head row, so appends to one log take turns across nodes: each reads
//! the size and frontier nodes the previous append committed.

use std::collections::HashMap;

use ledger::{Hash, NodeId};
use sqlx::{PgConnection, PgPool, Row};

use crate::ledger_rows::{
    AppendPlan, Cosignature, LedgerAppend, LedgerInternal, LedgerLeaf, append_node_ids,
    hash_from_bytes, plan_append,
};
use crate::postgres::db_error;
use crate::{Micros, Result, StoreError};

fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::InvalidArgument(format!("{value} is too large")))
}

fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative ledger index {value}")))
}

async fn size_on(conn: &mut PgConnection, party: &str) -> Result<u64> {
    let size: Option<i64> = sqlx::query_scalar("SELECT size FROM ledger_logs WHERE party = $1")
        .bind(party)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    size.map_or(Ok(0), to_u64)
}

async fn nodes_on(conn: &mut PgConnection, party: &str, ids: &[NodeId]) -> Result<Vec<Hash>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<i32> = ids.iter().map(|id| i32::from(id.level)).collect();
    let indexes: Vec<i64> = ids
        .iter()
        .map(|id| to_i64(id.index))
        .collect::<Result<_>>()?;
    let rows = sqlx::query(
        "SELECT n.level, n.idx, n.hash FROM ledger_nodes n \
         JOIN UNNEST($2::int4[], $3::int8[]) AS w(level, idx) \
         ON n.level = w.level AND n.idx = w.idx WHERE n.party = $1",
    )
    .bind(party)
    .bind(&levels)
    .bind(&indexes)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let level: i32 = row.try_get("level").map_err(db_error)?;
        let index: i64 = row.try_get("idx").map_err(db_error)?;
        let hash: Vec<u8> = row.try_get("hash").map_err(db_error)?;
        found.insert((level, index), hash_from_bytes(&hash)?);
    }
    levels
        .iter()
        .zip(&indexes)
        .zip(ids)
        .map(|((level, index), id)| {
            found.get(&(*level, *index)).copied().ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "ledger of {party}: node at level {}, index {} is missing",
                    id.level, id.index
                ))
            })
        })
        .collect()
}

/// Appends `append` to its partner's log on `conn`, which must be inside
/// the release transaction. Returns the new leaf's index.
pub(crate) async fn append_in_tx(
    conn: &mut PgConnection,
    append: &LedgerAppend,
    now: Micros,
) -> Result<u64> {
    let party = append.party.as_str();
    // Make sure the head row exists (waiting for a concurrent first append
    // to commit or roll back), then lock it until our commit.
    sqlx::query("INSERT INTO ledger_logs (party, size) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(party)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    let size: i64 = sqlx::query_scalar("SELECT size FROM ledger_logs WHERE party = $1 FOR UPDATE")
        .bind(party)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    let size = to_u64(size)?;
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
    let index_value = to_i64(index)?;
    sqlx::query(
        "INSERT INTO ledger_leaves (party, idx, release_id, record, leaf_hash, internal, salt, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(party)
    .bind(index_value)
    .bind(&append.record.release_id)
    .bind(bytes)
    .bind(leaf_hash.0.as_slice())
    .bind(append.internal.as_slice())
    .bind(append.salt.as_slice())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    if !nodes.is_empty() {
        let levels: Vec<i32> = nodes.iter().map(|(id, _)| i32::from(id.level)).collect();
        let indexes: Vec<i64> = nodes
            .iter()
            .map(|(id, _)| to_i64(id.index))
            .collect::<Result<_>>()?;
        let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, hash)| hash.0.to_vec()).collect();
        sqlx::query(
            "INSERT INTO ledger_nodes (party, level, idx, hash) \
             SELECT $1, n.level, n.idx, n.hash \
             FROM UNNEST($2::int4[], $3::int8[], $4::bytea[]) AS n(level, idx, hash)",
        )
        .bind(party)
        .bind(&levels)
        .bind(&indexes)
        .bind(&hashes)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    if !object_hashes.is_empty() {
        let hashes: Vec<Vec<u8>> = object_hashes.iter().map(|hash| hash.0.to_vec()).collect();
        sqlx::query(
            "INSERT INTO ledger_objects (party, sha256, idx) \
             SELECT $1, o.sha256, $3 FROM UNNEST($2::bytea[]) AS o(sha256) \
             ON CONFLICT DO NOTHING",
        )
        .bind(party)
        .bind(&hashes)
        .bind(index_value)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    sqlx::query("UPDATE ledger_logs SET size = $2 WHERE party = $1")
        .bind(party)
        .bind(to_i64(new_size)?)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(index)
}

pub(crate) async fn size(pool: &PgPool, party: &str) -> Result<u64> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    size_on(&mut conn, party).await
}

pub(crate) async fn nodes(pool: &PgPool, party: &str, ids: &[NodeId]) -> Result<Vec<Hash>> {
    // One statement, so every node comes from the same snapshot.
    let mut conn = pool.acquire().await.map_err(db_error)?;
    nodes_on(&mut conn, party, ids).await
}

pub(crate) async fn leaves(
    pool: &PgPool,
    party: &str,
    start: u64,
    limit: usize,
) -> Result<Vec<LedgerLeaf>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT idx, release_id, record, leaf_hash FROM ledger_leaves \
         WHERE party = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
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
    pool: &PgPool,
    party: &str,
    sha256: &Hash,
) -> Result<Vec<u64>> {
    let indexes: Vec<i64> = sqlx::query_scalar(
        "SELECT idx FROM ledger_objects WHERE party = $1 AND sha256 = $2 ORDER BY idx",
    )
    .bind(party)
    .bind(sha256.0.as_slice())
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    indexes.into_iter().map(to_u64).collect()
}

pub(crate) async fn leaf_of_release(
    pool: &PgPool,
    release_id: &str,
) -> Result<Option<(String, u64)>> {
    let row = sqlx::query("SELECT party, idx FROM ledger_leaves WHERE release_id = $1")
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
    pool: &PgPool,
    party: &str,
    index: u64,
) -> Result<Option<LedgerInternal>> {
    let row = sqlx::query(
        "SELECT release_id, internal, salt FROM ledger_leaves WHERE party = $1 AND idx = $2",
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

pub(crate) async fn add_cosignature(pool: &PgPool, cosignature: &Cosignature) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_cosignatures (party, size, account, key, line, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (party, size, account) DO UPDATE SET \
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
    pool: &PgPool,
    party: &str,
    size: u64,
) -> Result<Vec<Cosignature>> {
    let rows = sqlx::query(
        "SELECT account, key, line, received_at FROM ledger_cosignatures \
         WHERE party = $1 AND size = $2 ORDER BY received_at, account",
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
