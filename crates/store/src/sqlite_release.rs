//! SQLite implementation of the release part of [`crate::Store`].

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::release::{
    Approval, Derivation, Designation, DispositionKind, MarkingDisposition, NewParty, Party,
    PolicyVersion, ReleaseCommit, ReleaseListQuery, ReleaseListing, ReleaseRecord, ReleaseState,
    StoredOutgoing,
};
use crate::sqlite::{db_error, insert_versions};
use crate::{AddOutcome, Micros, Result, StoreError, StoredObject};

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| StoreError::InvalidArgument(err.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| StoreError::Corrupt(format!("{what}: {err}")))
}

fn party_from_row(row: &SqliteRow) -> Result<Party> {
    let groups: String = row.try_get("groups").map_err(db_error)?;
    let designations: String = row.try_get("designations").map_err(db_error)?;
    Ok(Party {
        name: row.try_get("name").map_err(db_error)?,
        identity_id: row.try_get("identity_id").map_err(db_error)?,
        country: row.try_get("country").map_err(db_error)?,
        groups: from_json(&groups, "party groups")?,
        designations: from_json::<Vec<Designation>>(&designations, "party designations")?,
        home: row.try_get("is_home").map_err(db_error)?,
        outbound: row.try_get("outbound").map_err(db_error)?,
        inbound: row.try_get("inbound").map_err(db_error)?,
    })
}

pub(crate) async fn create_party(pool: &SqlitePool, new: &NewParty, now: Micros) -> Result<Party> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    let (outbound, inbound) = if new.home {
        (None, None)
    } else {
        let root: Option<String> = sqlx::query_scalar("SELECT name FROM api_roots WHERE name = ?")
            .bind(&new.api_root)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if root.is_none() {
            return Err(StoreError::NotFound {
                what: format!("API root {}", new.api_root),
            });
        }
        let mut ids = Vec::with_capacity(2);
        for (title, description) in [
            (
                format!("Released to {}", new.name),
                "What the home party released to this partner (read-only for it)",
            ),
            (
                format!("From {}", new.name),
                "What this partner sends to the home party",
            ),
        ] {
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO collections (id, api_root, title, description, alias, created_at) \
                 VALUES (?, ?, ?, ?, NULL, ?)",
            )
            .bind(&id)
            .bind(&new.api_root)
            .bind(title)
            .bind(description)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            ids.push(id);
        }
        let mut ids = ids.into_iter();
        (ids.next(), ids.next())
    };
    sqlx::query(
        "INSERT INTO parties (name, identity_id, country, groups, designations, is_home, \
         outbound, inbound, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.name)
    .bind(&new.identity_id)
    .bind(&new.country)
    .bind(to_json(&new.groups)?)
    .bind(to_json(&new.designations)?)
    .bind(new.home)
    .bind(&outbound)
    .bind(&inbound)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|err| match db_error(err) {
        StoreError::AlreadyExists { .. } => StoreError::AlreadyExists {
            what: if new.home {
                format!("party {} (or a home party)", new.name)
            } else {
                format!("party {}", new.name)
            },
        },
        other => other,
    })?;
    tx.commit().await.map_err(db_error)?;
    Ok(Party {
        name: new.name.clone(),
        identity_id: new.identity_id.clone(),
        country: new.country.clone(),
        groups: new.groups.clone(),
        designations: new.designations.clone(),
        home: new.home,
        outbound,
        inbound,
    })
}

pub(crate) async fn party(pool: &SqlitePool, name: &str) -> Result<Option<Party>> {
    let row = sqlx::query(
        "SELECT name, identity_id, country, groups, designations, is_home, outbound, inbound \
         FROM parties WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.as_ref().map(party_from_row).transpose()
}

pub(crate) async fn parties(pool: &SqlitePool) -> Result<Vec<Party>> {
    let rows = sqlx::query(
        "SELECT name, identity_id, country, groups, designations, is_home, outbound, inbound \
         FROM parties ORDER BY created_at, rowid",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(party_from_row).collect()
}

pub(crate) async fn set_marking_disposition(
    pool: &SqlitePool,
    disposition: &MarkingDisposition,
    now: Micros,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO marking_dispositions (marking_id, disposition, release_to, updated_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT (marking_id) DO UPDATE SET \
         disposition = excluded.disposition, release_to = excluded.release_to, \
         updated_at = excluded.updated_at",
    )
    .bind(&disposition.marking_id)
    .bind(disposition.kind.as_str())
    .bind(to_json(&disposition.release_to)?)
    .bind(now)
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn marking_dispositions(pool: &SqlitePool) -> Result<Vec<MarkingDisposition>> {
    let rows = sqlx::query(
        "SELECT marking_id, disposition, release_to FROM marking_dispositions \
         ORDER BY marking_id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("disposition").map_err(db_error)?;
            let release_to: String = row.try_get("release_to").map_err(db_error)?;
            Ok(MarkingDisposition {
                marking_id: row.try_get("marking_id").map_err(db_error)?,
                kind: DispositionKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("disposition {kind}")))?,
                release_to: from_json(&release_to, "release_to")?,
            })
        })
        .collect()
}

pub(crate) async fn add_policy_version(
    pool: &SqlitePool,
    version: &str,
    text: &str,
    now: Micros,
) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    // Re-loading an older text makes it the newest row again.
    sqlx::query("DELETE FROM policy_versions WHERE version = ?")
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query("INSERT INTO policy_versions (version, text, created_at) VALUES (?, ?, ?)")
        .bind(version)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(())
}

pub(crate) async fn current_policy(pool: &SqlitePool) -> Result<Option<PolicyVersion>> {
    let row = sqlx::query(
        "SELECT version, text, created_at FROM policy_versions ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.map(|row| {
        Ok(PolicyVersion {
            version: row.try_get("version").map_err(db_error)?,
            text: row.try_get("text").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
        })
    })
    .transpose()
}

pub(crate) async fn release_setting(pool: &SqlitePool, key: &str, initial: &str) -> Result<String> {
    sqlx::query("INSERT INTO release_settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(key)
        .bind(initial)
        .execute(pool)
        .await
        .map_err(db_error)?;
    sqlx::query_scalar("SELECT value FROM release_settings WHERE key = ?")
        .bind(key)
        .fetch_one(pool)
        .await
        .map_err(db_error)
}

pub(crate) async fn internal_object(
    pool: &SqlitePool,
    object_id: &str,
) -> Result<Option<StoredObject>> {
    let row = sqlx::query(
        "SELECT o.object_id, o.object_type, o.spec_version, o.version, o.date_added, o.raw \
         FROM objects o JOIN collections c ON c.seq = o.collection \
         WHERE o.object_id = ? AND NOT EXISTS (SELECT 1 FROM parties p \
         WHERE p.outbound = c.id OR p.inbound = c.id) \
         ORDER BY o.version DESC, o.date_added DESC LIMIT 1",
    )
    .bind(object_id)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.map(|row| {
        Ok(StoredObject {
            object_id: row.try_get("object_id").map_err(db_error)?,
            object_type: row.try_get("object_type").map_err(db_error)?,
            spec_version: row.try_get("spec_version").map_err(db_error)?,
            version: row.try_get("version").map_err(db_error)?,
            date_added: row.try_get("date_added").map_err(db_error)?,
            raw: row.try_get("raw").map_err(db_error)?,
        })
    })
    .transpose()
}

/// Ids per statement of [`internal_objects`]: far below SQLite's limit of
/// 32,766 bound variables.
const IDS_PER_STATEMENT: usize = 500;

pub(crate) async fn internal_objects(
    pool: &SqlitePool,
    object_ids: &[String],
) -> Result<Vec<StoredObject>> {
    let mut out = Vec::with_capacity(object_ids.len());
    for chunk in object_ids.chunks(IDS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT o.object_id, o.object_type, o.spec_version, o.version, o.date_added, o.raw \
             FROM objects o JOIN collections c ON c.seq = o.collection \
             WHERE NOT EXISTS (SELECT 1 FROM parties p WHERE p.outbound = c.id OR p.inbound = c.id) \
             AND o.object_id IN (",
        );
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id);
        }
        list.push_unseparated(")");
        // Newest first per object, so the first row of each id is the one.
        query.push(" ORDER BY o.object_id, o.version DESC, o.date_added DESC");
        let rows = query.build().fetch_all(pool).await.map_err(db_error)?;
        let mut last: Option<String> = None;
        for row in rows {
            let object_id: String = row.try_get("object_id").map_err(db_error)?;
            if last.as_deref() == Some(object_id.as_str()) {
                continue;
            }
            last = Some(object_id.clone());
            out.push(StoredObject {
                object_id,
                object_type: row.try_get("object_type").map_err(db_error)?,
                spec_version: row.try_get("spec_version").map_err(db_error)?,
                version: row.try_get("version").map_err(db_error)?,
                date_added: row.try_get("date_added").map_err(db_error)?,
                raw: row.try_get("raw").map_err(db_error)?,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn commit_release(
    pool: &SqlitePool,
    commit: &ReleaseCommit,
    now: Micros,
) -> Result<Vec<AddOutcome>> {
    let record = &commit.record;
    commit.check()?;
    let outgoing: Vec<StoredOutgoing> = record.outgoing.iter().map(StoredOutgoing::from).collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    match commit.expected_state {
        None => {
            sqlx::query(
                "INSERT INTO releases (id, party, requester, justification, state, \
                 policy_version, requested, decisions, outgoing, created_at, decided_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&record.id)
            .bind(&record.party)
            .bind(&record.requester)
            .bind(&record.justification)
            .bind(record.state.as_str())
            .bind(&record.policy_version)
            .bind(to_json(&record.requested)?)
            .bind(to_json(&record.decisions)?)
            .bind(to_json(&outgoing)?)
            .bind(record.created_at)
            .bind(record.decided_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        Some(expected) => {
            let updated = sqlx::query(
                "UPDATE releases SET state = ?, decided_at = ?, decisions = ? \
                 WHERE id = ? AND state = ?",
            )
            .bind(record.state.as_str())
            .bind(record.decided_at)
            .bind(to_json(&record.decisions)?)
            .bind(&record.id)
            .bind(expected.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "release {} is no longer {expected}",
                    record.id
                )));
            }
        }
    }
    if let Some(approval) = &commit.approval {
        sqlx::query("INSERT INTO approvals (release_id, account, approved_at) VALUES (?, ?, ?)")
            .bind(&record.id)
            .bind(&approval.account)
            .bind(approval.approved_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    if let (true, Some(collection_id)) = (commit.only_newer, &commit.collection_id) {
        for object in &record.outgoing {
            let newest: Option<String> = sqlx::query_scalar(
                "SELECT MAX(o.version) FROM objects o JOIN collections c ON c.seq = o.collection \
                 WHERE c.id = ? AND o.object_id = ?",
            )
            .bind(collection_id)
            .bind(&object.object_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            if newest.is_some_and(|newest| newest >= object.version) {
                return Err(StoreError::Conflict(format!(
                    "{} has a version as new as the one to write; nothing was written",
                    object.object_id
                )));
            }
        }
    }
    let outcomes = match (&commit.collection_id, record.state) {
        (Some(collection_id), ReleaseState::Released) => {
            let objects: Vec<crate::NewObject> = record.outgoing.clone();
            insert_versions(&mut tx, collection_id, &objects, now, true).await?
        }
        (Some(_), _) => {
            return Err(StoreError::InvalidArgument(
                "objects are only written for a released release".to_owned(),
            ));
        }
        (None, _) => Vec::new(),
    };
    for derivation in &commit.derivations {
        sqlx::query(
            "INSERT INTO derivations (source_id, party, derivative_id, release_id) \
             VALUES (?, ?, ?, ?) ON CONFLICT (source_id, party) DO UPDATE SET \
             derivative_id = excluded.derivative_id, release_id = excluded.release_id",
        )
        .bind(&derivation.source_id)
        .bind(&record.party)
        .bind(&derivation.derivative_id)
        .bind(&record.id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    if let Some(append) = &commit.ledger {
        crate::sqlite_ledger::append_in_tx(&mut tx, append, now).await?;
    }
    tx.commit().await.map_err(db_error)?;
    Ok(outcomes)
}

pub(crate) async fn release(pool: &SqlitePool, id: &str) -> Result<Option<ReleaseRecord>> {
    let row = sqlx::query(
        "SELECT id, party, requester, justification, state, policy_version, requested, \
         decisions, outgoing, created_at, decided_at FROM releases WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let approvals = sqlx::query(
        "SELECT account, approved_at FROM approvals WHERE release_id = ? ORDER BY approved_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| {
        Ok(Approval {
            account: row.try_get("account").map_err(db_error)?,
            approved_at: row.try_get("approved_at").map_err(db_error)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let state: String = row.try_get("state").map_err(db_error)?;
    let requested: String = row.try_get("requested").map_err(db_error)?;
    let decisions: String = row.try_get("decisions").map_err(db_error)?;
    let outgoing: String = row.try_get("outgoing").map_err(db_error)?;
    let outgoing: Vec<StoredOutgoing> = from_json(&outgoing, "release outgoing")?;
    Ok(Some(ReleaseRecord {
        id: row.try_get("id").map_err(db_error)?,
        party: row.try_get("party").map_err(db_error)?,
        requester: row.try_get("requester").map_err(db_error)?,
        justification: row.try_get("justification").map_err(db_error)?,
        state: ReleaseState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("release state {state}")))?,
        policy_version: row.try_get("policy_version").map_err(db_error)?,
        requested: from_json(&requested, "release requested")?,
        decisions: from_json(&decisions, "release decisions")?,
        outgoing: outgoing.into_iter().map(Into::into).collect(),
        created_at: row.try_get("created_at").map_err(db_error)?,
        decided_at: row.try_get("decided_at").map_err(db_error)?,
        approvals,
    }))
}

pub(crate) async fn derivations(pool: &SqlitePool, party: &str) -> Result<Vec<Derivation>> {
    let rows = sqlx::query(
        "SELECT source_id, derivative_id FROM derivations WHERE party = ? ORDER BY source_id",
    )
    .bind(party)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            Ok(Derivation {
                source_id: row.try_get("source_id").map_err(db_error)?,
                derivative_id: row.try_get("derivative_id").map_err(db_error)?,
            })
        })
        .collect()
}

pub(crate) async fn releases(
    pool: &SqlitePool,
    query: &ReleaseListQuery,
) -> Result<Vec<ReleaseListing>> {
    let limit = i64::try_from(query.limit.max(1)).unwrap_or(i64::MAX);
    let (before_time, before_id) = match &query.before {
        Some((time, id)) => (Some(*time), Some(id.as_str())),
        None => (None, None),
    };
    let rows = sqlx::query(
        "SELECT id, party, requester, state, created_at, decided_at FROM releases \
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR party = ?2) \
         AND (?3 IS NULL OR created_at < ?3 OR (created_at = ?3 AND id < ?4)) \
         ORDER BY created_at DESC, id DESC LIMIT ?5",
    )
    .bind(query.state.map(ReleaseState::as_str))
    .bind(query.party.as_deref())
    .bind(before_time)
    .bind(before_id)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state").map_err(db_error)?;
            Ok(ReleaseListing {
                id: row.try_get("id").map_err(db_error)?,
                party: row.try_get("party").map_err(db_error)?,
                requester: row.try_get("requester").map_err(db_error)?,
                state: ReleaseState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("release state {state}")))?,
                created_at: row.try_get("created_at").map_err(db_error)?,
                decided_at: row.try_get("decided_at").map_err(db_error)?,
            })
        })
        .collect()
}
