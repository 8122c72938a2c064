//! The release workflow over a [`Store`]: request, approve, show, explain.
//!
//! This is the one write path to anything a partner can see. It gathers
//! facts from the store, lets [`release::pipeline::plan`] decide, and writes
//! the outcome with [`Store::commit_release`] (state, approval, derivation
//! map and objects in one transaction). Nothing reaches a partner's
//! outbound collection before the decision is final. The CLI, the HTTP API
//! and the demo all call these functions; time comes in as a value.

use std::collections::{BTreeMap, BTreeSet};

use release::pipeline::{self, Outcome, PlanInput, Source};
use release::policy::{Disposition, PartyFacts, Policy, PolicyError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stix::Limits;
use stix::validate::Validator;
use store::{
    Account, Approval, Derivation, DispositionKind, Micros, NewObject, ObjectQuery, Party,
    ReleaseCommit, ReleaseRecord, ReleaseState, Role, Store, StoreError,
};

use crate::ledger_ops::{self, LedgerError};
use crate::{ingest, timestamp};
use ledger::Outcome as LedgerOutcome;

/// Most objects one release may gather (requested plus referenced).
pub const MAX_RELEASE_OBJECTS: usize = 100_000;
/// Ids per lookup of what a partner already holds.
const PREVIOUS_PER_QUERY: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the release policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("{0} does not exist")]
    NotFound(String),
    /// The caller may not do this; nothing was changed.
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;

/// The current policy, installing the shipped default on first use.
pub async fn current_policy(store: &dyn Store, now: Micros) -> Result<Policy> {
    if let Some(current) = store.current_policy().await? {
        return Ok(Policy::load(&current.text)?);
    }
    let policy = Policy::default_policy()?;
    store
        .add_policy_version(policy.version(), policy.text(), now)
        .await?;
    Ok(policy)
}

/// Validates and installs a policy text; returns its version.
pub async fn load_policy(store: &dyn Store, text: &str, now: Micros) -> Result<String> {
    let policy = Policy::load(text)?;
    store
        .add_policy_version(policy.version(), policy.text(), now)
        .await?;
    Ok(policy.version().to_owned())
}

fn stix_now(now: Micros) -> String {
    // Millisecond precision: the usual STIX form, and what every STIX
    // tool round-trips without loss.
    let full = timestamp::format_taxii(now);
    match full.split_once('.') {
        Some((seconds, fraction)) => format!("{seconds}.{}Z", fraction.get(..3).unwrap_or("000")),
        None => full,
    }
}

async fn secret(store: &dyn Store) -> Result<String> {
    let fresh = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    Ok(store.release_setting("derivative-secret", &fresh).await?)
}

/// The partner-specific id of a changed object: UUIDv5 keyed by the data
/// directory's secret, so stable across versions and unlinkable by
/// recipients.
pub fn derivative_id(secret: &str, party: &str, source_id: &str) -> String {
    let object_type = source_id.split_once("--").map_or("x", |(t, _)| t);
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    let digest = hasher.finalize();
    let mut namespace = [0u8; 16];
    namespace.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    let uuid = uuid::Uuid::new_v5(
        &uuid::Uuid::from_bytes(namespace),
        format!("{party}\u{0}{source_id}").as_bytes(),
    );
    format!("{object_type}--{uuid}")
}

/// The identity derivatives are created by, made once per data directory.
pub async fn release_identity(store: &dyn Store, now: Micros) -> Result<Value> {
    let home = store.parties().await?.into_iter().find(|p| p.home);
    let name = home.as_ref().map_or("Release authority".to_owned(), |h| {
        format!("{} release authority", h.name)
    });
    let stamp = stix_now(now);
    let initial = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": format!("identity--{}", uuid::Uuid::new_v4()),
        "created": stamp,
        "modified": stamp,
        "name": name,
        "identity_class": "organization",
    });
    let text = store
        .release_setting("release-identity", &initial.to_string())
        .await?;
    serde_json::from_str(&text)
        .map_err(|err| ReleaseError::Store(StoreError::Corrupt(format!("release identity: {err}"))))
}

fn party_facts(party: &Party, now: Micros) -> PartyFacts {
    let today = stix_now(now).get(..10).unwrap_or("").to_owned();
    PartyFacts {
        name: party.name.clone(),
        country: party.country.clone(),
        groups: party.groups.iter().cloned().collect(),
        designations: party
            .designations
            .iter()
            .filter(|d| {
                d.since
                    .as_deref()
                    .is_none_or(|since| since <= today.as_str())
            })
            .map(|d| d.name.clone())
            .collect(),
    }
}

/// A digest of everything a plan depends on besides the objects: the
/// policy version, every marking disposition, and the partner's facts on
/// the day. Approval compares it with the request's.
fn rules_fingerprint(
    policy_version: &str,
    dispositions: &[store::MarkingDisposition],
    facts: &PartyFacts,
) -> String {
    let mut dispositions: Vec<Value> = dispositions
        .iter()
        .map(|d| {
            let mut to = d.release_to.clone();
            to.sort();
            json!([d.marking_id, d.kind.as_str(), to])
        })
        .collect();
    dispositions.sort_by_key(|value| value.to_string());
    let facts = json!({
        "name": facts.name,
        "country": facts.country,
        "groups": facts.groups,
        "designations": facts.designations,
    });
    let text = json!([policy_version, dispositions, facts]).to_string();
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// Every reference worth following to gather what a requested object
/// needs: not its creator (that is the home party) and not its markings
/// (they are carried separately).
fn followed_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if matches!(
                    key.as_str(),
                    "created_by_ref" | "object_marking_refs" | "granular_markings"
                ) {
                    continue;
                }
                if key.ends_with("_ref") {
                    if let Value::String(id) = item {
                        out.push(id.clone());
                    }
                } else if key.ends_with("_refs") {
                    if let Value::Array(items) = item {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                } else {
                    followed_refs(item, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| followed_refs(item, out)),
        _ => {}
    }
}

async fn gather(store: &dyn Store, requested: &[String]) -> Result<Vec<Source>> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut sources = Vec::new();
    // Breadth first, one store lookup per level of references rather than
    // one per object.
    let mut level: Vec<(String, bool)> = requested.iter().map(|id| (id.clone(), true)).collect();
    while !level.is_empty() {
        level.retain(|(id, _)| seen.insert(id.clone()));
        let ids: Vec<String> = level.iter().map(|(id, _)| id.clone()).collect();
        let mut found: BTreeMap<String, store::StoredObject> = store
            .internal_objects(&ids)
            .await?
            .into_iter()
            .map(|stored| (stored.object_id.clone(), stored))
            .collect();
        let mut next = Vec::new();
        for (id, asked) in level {
            let Some(stored) = found.remove(&id) else {
                if asked {
                    return Err(ReleaseError::NotFound(format!("object {id}")));
                }
                // A reference to something the home party does not hold:
                // the closure drops it.
                continue;
            };
            if sources.len() >= MAX_RELEASE_OBJECTS {
                return Err(ReleaseError::Invalid(format!(
                    "a release gathers at most {MAX_RELEASE_OBJECTS} objects"
                )));
            }
            let value: Value = serde_json::from_str(&stored.raw)
                .map_err(|err| ReleaseError::Store(StoreError::Corrupt(format!("{id}: {err}"))))?;
            let mut refs = Vec::new();
            followed_refs(&value, &mut refs);
            next.extend(
                refs.into_iter()
                    .filter(|target| !seen.contains(target))
                    .map(|target| (target, false)),
            );
            sources.push(Source {
                value,
                raw: stored.raw,
            });
        }
        level = next;
    }
    Ok(sources)
}

async fn account(store: &dyn Store, name: &str) -> Result<Account> {
    store
        .account_by_name(name)
        .await?
        .map(|(account, _)| account)
        .ok_or_else(|| ReleaseError::NotFound(format!("account {name}")))
}

/// A home-party account: no party, or the home party.
async fn is_home_account(store: &dyn Store, account: &Account) -> Result<bool> {
    if account.role == Role::Partner {
        return Ok(false);
    }
    match &account.party {
        None => Ok(true),
        Some(name) => Ok(store.party(name).await?.is_some_and(|p| p.home)),
    }
}

/// What `request` and `approve` print.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub release: String,
    pub state: ReleaseState,
    pub objects: Vec<Value>,
    pub reasons: Vec<Value>,
}

fn summary(record: &ReleaseRecord) -> Summary {
    let decisions = record.decisions.get("objects").and_then(Value::as_array);
    let mut objects = Vec::new();
    let mut reasons = Vec::new();
    for decision in decisions.into_iter().flatten() {
        let source = decision.get("source").cloned().unwrap_or(Value::Null);
        objects.push(json!({
            "source": source,
            "outcome": decision.get("outcome").cloned().unwrap_or(Value::Null),
            "sent_as": decision.get("sent_as").cloned().unwrap_or(Value::Null),
        }));
        if let Some(withheld) = decision.get("withheld") {
            reasons.push(json!({"object": source, "withheld": withheld}));
        }
        if let Some(removed) = decision.get("removed") {
            reasons.push(json!({"object": source, "removed": removed}));
        }
        let free = decision
            .get("without_approval")
            .and_then(|a| a.get("allowed"))
            .and_then(Value::as_bool);
        if free == Some(false) && decision.get("withheld").is_none() {
            reasons.push(json!({
                "object": source,
                "needs_approval": decision["without_approval"]["policies"].clone(),
            }));
        }
    }
    Summary {
        release: record.id.clone(),
        state: record.state,
        objects,
        reasons,
    }
}

/// Asks for a release of `object_ids` (and what they reference) to
/// `party_name`. Released at once when policy needs no second person.
pub async fn request(
    store: &dyn Store,
    requester: &str,
    party_name: &str,
    object_ids: &[String],
    justification: &str,
    now: Micros,
) -> Result<Summary> {
    let requester_account = account(store, requester).await?;
    if !matches!(
        requester_account.role,
        Role::Analyst | Role::ReleasingOfficer | Role::Admin
    ) || !is_home_account(store, &requester_account).await?
    {
        return Err(ReleaseError::Refused(format!(
            "account {requester} (role {}) may not request releases",
            requester_account.role
        )));
    }
    if justification.trim().is_empty() {
        return Err(ReleaseError::Invalid(
            "a justification is required".to_owned(),
        ));
    }
    if object_ids.is_empty() {
        return Err(ReleaseError::Invalid("no objects to release".to_owned()));
    }
    let party = store
        .party(party_name)
        .await?
        .filter(|p| !p.home)
        .ok_or_else(|| ReleaseError::NotFound(format!("partner {party_name}")))?;
    let outbound = party.outbound.clone().ok_or_else(|| {
        ReleaseError::Invalid(format!("partner {party_name} has no outbound collection"))
    })?;
    let policy = current_policy(store, now).await?;
    let sources = gather(store, object_ids).await?;

    let mut held_markings = BTreeMap::new();
    let mut marking_ids = BTreeSet::new();
    for source in &sources {
        marking_ids.extend(pipeline::marking_refs(&source.value));
    }
    for id in marking_ids {
        if let Some(stored) = store.internal_object(&id).await?
            && let Ok(value) = serde_json::from_str::<Value>(&stored.raw)
        {
            held_markings.insert(id, value);
        }
    }
    let stored_dispositions = store.marking_dispositions().await?;
    let rules = rules_fingerprint(
        policy.version(),
        &stored_dispositions,
        &party_facts(&party, now),
    );
    let dispositions: BTreeMap<String, Disposition> = stored_dispositions
        .into_iter()
        .map(|d| {
            let disposition = match d.kind {
                DispositionKind::Withhold => Disposition::Withhold,
                // A name may be a party or a group: the policy checks both.
                DispositionKind::ReleaseTo => Disposition::ReleaseTo {
                    parties: d.release_to.iter().cloned().collect(),
                    groups: d.release_to.iter().cloned().collect(),
                },
            };
            (d.marking_id, disposition)
        })
        .collect();
    let secret = secret(store).await?;
    let identity = release_identity(store, now).await?;
    let derive = |source_id: &str| derivative_id(&secret, &party.name, source_id);

    // What the partner already holds of each source, under its own id or
    // its derivative id: the newest version of each, a chunk of ids per
    // query rather than two queries per object.
    let candidates: Vec<String> = sources
        .iter()
        .filter_map(|source| source.value.get("id").and_then(Value::as_str))
        .flat_map(|id| [id.to_owned(), derive(id)])
        .collect();
    let mut previous = BTreeMap::new();
    for chunk in candidates.chunks(PREVIOUS_PER_QUERY) {
        let mut query = ObjectQuery::new(outbound.clone(), chunk.len());
        query.ids = chunk.to_vec();
        loop {
            let page = store.query_objects(&query).await?;
            for item in page.items {
                if let Ok(value) = serde_json::from_str::<Value>(&item.raw) {
                    previous.insert(item.object_id, value);
                }
            }
            match page.next {
                Some(next) if page.more => query.cursor = Some(next),
                _ => break,
            }
        }
    }
    let now_stamp = stix_now(now);
    let facts = party_facts(&party, now);
    let plan = pipeline::plan(&PlanInput {
        policy: &policy,
        party: &facts,
        sources: &sources,
        held_markings: &held_markings,
        dispositions: &dispositions,
        previous: &previous,
        release_identity: &identity,
        derivative_id: &derive,
        now: &now_stamp,
    })?;

    let validator = Validator::default();
    let limits = Limits::default();
    let mut outgoing: Vec<NewObject> = Vec::with_capacity(plan.objects.len());
    for object in &plan.objects {
        let prepared = ingest::prepare(&object.raw, &validator, &limits).map_err(|rejection| {
            ReleaseError::Invalid(format!(
                "{} would not be valid STIX: {}",
                object.id, rejection.message
            ))
        })?;
        outgoing.push(prepared);
    }
    let state = if plan.nothing_released {
        ReleaseState::Denied
    } else if plan.needs_approval {
        ReleaseState::PendingApproval
    } else {
        ReleaseState::Released
    };
    if state == ReleaseState::Denied {
        outgoing.clear();
    }
    let derivations: Vec<Derivation> = plan
        .decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Derivative)
        .filter_map(|d| {
            d.sent_as.as_ref().map(|sent| Derivation {
                source_id: d.source.clone(),
                derivative_id: sent.clone(),
            })
        })
        .collect();
    let decisions = json!({
        "policy_version": policy.version(),
        "rules": rules,
        "objects": plan.decisions,
        "markings": plan.markings,
        "needs_approval": plan.needs_approval,
        "derivations": derivations.iter().map(|d| json!({"source": d.source_id, "derivative": d.derivative_id})).collect::<Vec<_>>(),
    });
    let record = ReleaseRecord {
        id: uuid::Uuid::new_v4().to_string(),
        party: party.name.clone(),
        requester: requester.to_owned(),
        justification: justification.to_owned(),
        state,
        policy_version: policy.version().to_owned(),
        requested: object_ids.to_vec(),
        decisions,
        outgoing,
        created_at: now,
        decided_at: (state != ReleaseState::PendingApproval).then_some(now),
        approvals: Vec::new(),
    };
    let released = state == ReleaseState::Released;
    let ledger = match state {
        ReleaseState::Released => Some(ledger_ops::record_for(
            &record,
            LedgerOutcome::Released,
            now,
        )?),
        ReleaseState::Denied => Some(ledger_ops::record_for(
            &record,
            LedgerOutcome::Refused,
            now,
        )?),
        ReleaseState::PendingApproval => None,
    };
    store
        .commit_release(
            &ReleaseCommit {
                record: record.clone(),
                expected_state: None,
                approval: None,
                collection_id: released.then_some(outbound),
                derivations: if released { derivations } else { Vec::new() },
                ledger,
                only_newer: false,
            },
            now,
        )
        .await?;
    Ok(summary(&record))
}

/// Approves a pending release: only a releasing officer of the home party
/// who is not the requester. A refusal changes nothing.
pub async fn approve(
    store: &dyn Store,
    release_id: &str,
    approver: &str,
    now: Micros,
) -> Result<Summary> {
    let mut record = store
        .release(release_id)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("release {release_id}")))?;
    let approver_account = account(store, approver).await?;
    if approver_account.role != Role::ReleasingOfficer
        || !is_home_account(store, &approver_account).await?
    {
        return Err(ReleaseError::Refused(format!(
            "only a releasing officer of the home party may approve; {approver} is {}",
            approver_account.role
        )));
    }
    if approver == record.requester {
        return Err(ReleaseError::Refused(
            "the requester may not approve their own release (two-person rule)".to_owned(),
        ));
    }
    if record.state != ReleaseState::PendingApproval {
        return Err(ReleaseError::Refused(format!(
            "release {release_id} is {}, not pending approval",
            record.state
        )));
    }
    let party = store
        .party(&record.party)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("partner {}", record.party)))?;
    if party.outbound.is_none() {
        return Err(ReleaseError::Invalid(format!(
            "partner {} has no outbound collection",
            party.name
        )));
    }
    // The plan was made under the rules of the request. If the policy, a
    // marking's disposition or the partner's designations changed since,
    // the plan may release what the rules now withhold: ask again.
    let current = current_policy(store, now).await?;
    let rules = rules_fingerprint(
        current.version(),
        &store.marking_dispositions().await?,
        &party_facts(&party, now),
    );
    if record.decisions.get("rules").and_then(Value::as_str) != Some(rules.as_str()) {
        return Err(ReleaseError::Refused(format!(
            "the policy, a marking disposition or the partner's designations changed since \
             release {release_id} was requested; request it again"
        )));
    }
    let derivations: Vec<Derivation> = record
        .decisions
        .get("derivations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(Derivation {
                source_id: d.get("source")?.as_str()?.to_owned(),
                derivative_id: d.get("derivative")?.as_str()?.to_owned(),
            })
        })
        .collect();
    record.state = ReleaseState::Released;
    record.decided_at = Some(now);
    let approval = Approval {
        account: approver.to_owned(),
        approved_at: now,
    };
    record.approvals.push(approval.clone());
    let ledger = ledger_ops::record_for(&record, LedgerOutcome::Released, now)?;
    store
        .commit_release(
            &ReleaseCommit {
                record: record.clone(),
                expected_state: Some(ReleaseState::PendingApproval),
                approval: Some(approval),
                collection_id: party.outbound.clone(),
                derivations,
                ledger: Some(ledger),
                only_newer: false,
            },
            now,
        )
        .await?;
    Ok(summary(&record))
}

/// `release show`: the record without the internal decision detail.
pub async fn show(store: &dyn Store, release_id: &str) -> Result<Value> {
    let record = store
        .release(release_id)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("release {release_id}")))?;
    let summary = summary(&record);
    let ledger = store.ledger_leaf_of_release(&record.id).await?;
    Ok(json!({
        "recall_of": record.decisions.get("recall_of").cloned(),
        "ledger": ledger.map(|(party, index)| json!({"party": party, "index": index})),
        "release": record.id,
        "state": record.state,
        "party": record.party,
        "requester": record.requester,
        "justification": record.justification,
        "policy_version": record.policy_version,
        "requested": record.requested,
        "objects": summary.objects,
        "reasons": summary.reasons,
        "approvals": record.approvals.iter().map(|a| json!({
            "account": a.account,
            "approved_at": timestamp::format_taxii(a.approved_at),
        })).collect::<Vec<_>>(),
        "created": timestamp::format_taxii(record.created_at),
        "decided": record.decided_at.map(timestamp::format_taxii),
        "written": record.outgoing.iter().map(|o| json!({"id": o.object_id, "version": timestamp::display_version(&o.version)})).collect::<Vec<_>>(),
    }))
}

/// `release explain`: every decision with the policy ids behind it.
pub async fn explain(store: &dyn Store, release_id: &str) -> Result<Value> {
    let record = store
        .release(release_id)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("release {release_id}")))?;
    let mut decisions = record.decisions.clone();
    if let Value::Object(map) = &mut decisions {
        map.insert("release".to_owned(), Value::String(record.id.clone()));
        map.insert("state".to_owned(), json!(record.state));
        map.insert("party".to_owned(), Value::String(record.party.clone()));
    }
    Ok(decisions)
}

/// STIX timestamp one millisecond after `stamp` (a `modified` value), so a
/// new version always sorts after the one it replaces.
fn after(stamp: &str) -> Option<String> {
    let micros = timestamp::parse_taxii(stamp)?;
    Some(stix_now(micros + 1_000))
}

/// Withdraws what a release sent: every object of it that may carry
/// `revoked` (SDOs and SROs other than the shared release identity) gets a
/// new version with `revoked: true` in the partner's collection, so a
/// partner's TAXII client sees the withdrawal as an update. The recall is
/// itself a release (state `released`, kind recall) with its own ledger
/// record (outcome `recalled`). Only a releasing officer of the home party
/// may recall; no second person is needed to reduce what a partner holds.
pub async fn recall(
    store: &dyn Store,
    release_id: &str,
    officer: &str,
    justification: &str,
    now: Micros,
) -> Result<Summary> {
    let original = store
        .release(release_id)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("release {release_id}")))?;
    let officer_account = account(store, officer).await?;
    if officer_account.role != Role::ReleasingOfficer
        || !is_home_account(store, &officer_account).await?
    {
        return Err(ReleaseError::Refused(format!(
            "only a releasing officer of the home party may recall; {officer} is {}",
            officer_account.role
        )));
    }
    if justification.trim().is_empty() {
        return Err(ReleaseError::Invalid(
            "a justification is required".to_owned(),
        ));
    }
    if original.state != ReleaseState::Released {
        return Err(ReleaseError::Refused(format!(
            "release {release_id} is {}; only a released release can be recalled",
            original.state
        )));
    }
    if original.decisions.get("recall_of").is_some() {
        return Err(ReleaseError::Refused(format!(
            "release {release_id} is itself a recall"
        )));
    }
    let party = store
        .party(&original.party)
        .await?
        .ok_or_else(|| ReleaseError::NotFound(format!("partner {}", original.party)))?;
    let outbound = party.outbound.clone().ok_or_else(|| {
        ReleaseError::Invalid(format!("partner {} has no outbound collection", party.name))
    })?;
    let identity = release_identity(store, now).await?;
    let identity_id = identity.get("id").and_then(Value::as_str).unwrap_or("");
    let validator = Validator::default();
    let limits = Limits::default();
    let now_stamp = stix_now(now);
    let mut outgoing = Vec::new();
    let mut revoked_ids = Vec::new();
    let mut kept = Vec::new();
    for sent in &original.outgoing {
        let id = sent.object_id.as_str();
        // Marking definitions and SCOs have no `revoked`; the release
        // identity is shared by every release.
        let revocable = sent.object_type != "marking-definition"
            && id != identity_id
            && serde_json::from_str::<Value>(&sent.raw)
                .ok()
                .is_some_and(|v| v.get("created").is_some() && v.get("modified").is_some());
        if !revocable || revoked_ids.iter().any(|r| r == id) {
            kept.push(json!({"object": id, "why": "cannot be revoked (no versions in STIX)"}));
            continue;
        }
        let mut query = ObjectQuery::new(outbound.clone(), 1);
        query.ids = vec![id.to_owned()];
        let Some(latest) = store.query_objects(&query).await?.items.into_iter().last() else {
            kept.push(json!({"object": id, "why": "no longer in the partner's collection"}));
            continue;
        };
        let mut value: Value = serde_json::from_str(&latest.raw)
            .map_err(|err| ReleaseError::Store(StoreError::Corrupt(format!("{id}: {err}"))))?;
        if value.get("revoked") == Some(&Value::Bool(true)) {
            kept.push(json!({"object": id, "why": "already revoked"}));
            continue;
        }
        let modified = value
            .get("modified")
            .and_then(Value::as_str)
            .and_then(after)
            .filter(|next| next.as_str() > now_stamp.as_str())
            .unwrap_or_else(|| now_stamp.clone());
        if let Value::Object(map) = &mut value {
            map.insert("revoked".to_owned(), Value::Bool(true));
            map.insert("modified".to_owned(), Value::String(modified));
        }
        let prepared = ingest::prepare(&value.to_string(), &validator, &limits).map_err(|r| {
            ReleaseError::Invalid(format!(
                "the revoked {id} would not be valid: {}",
                r.message
            ))
        })?;
        revoked_ids.push(id.to_owned());
        outgoing.push(prepared);
    }
    if outgoing.is_empty() {
        return Err(ReleaseError::Refused(format!(
            "release {release_id} sent nothing that can still be revoked"
        )));
    }
    let policy = current_policy(store, now).await?;
    let decisions = json!({
        "policy_version": policy.version(),
        "recall_of": release_id,
        "objects": revoked_ids.iter().map(|id| json!({
            "source": id, "outcome": "revoked", "sent_as": id,
        })).collect::<Vec<_>>(),
        "not_revoked": kept,
        "needs_approval": false,
        "derivations": [],
    });
    let record = ReleaseRecord {
        id: uuid::Uuid::new_v4().to_string(),
        party: party.name.clone(),
        requester: officer.to_owned(),
        justification: justification.to_owned(),
        state: ReleaseState::Released,
        policy_version: policy.version().to_owned(),
        requested: revoked_ids,
        decisions,
        outgoing,
        created_at: now,
        decided_at: Some(now),
        approvals: Vec::new(),
    };
    let ledger = ledger_ops::record_for(&record, LedgerOutcome::Recalled, now)?;
    store
        .commit_release(
            &ReleaseCommit {
                record: record.clone(),
                expected_state: None,
                approval: None,
                collection_id: Some(outbound),
                derivations: Vec::new(),
                ledger: Some(ledger),
                only_newer: true,
            },
            now,
        )
        .await?;
    Ok(summary(&record))
}

/// Most releases one listing page holds.
pub const MAX_LIST_PAGE: usize = 1_000;

/// Releases, newest first, optionally only those in `state` and/or to
/// `party`: `{"releases": [...], "next"}`, where `next` (opaque) continues
/// the listing and is `null` on the last page.
pub async fn list(
    store: &dyn Store,
    state: Option<&str>,
    party: Option<&str>,
    limit: usize,
    next: Option<&str>,
) -> Result<Value> {
    let state = state
        .map(|text| {
            ReleaseState::parse(text).ok_or_else(|| {
                ReleaseError::Invalid(format!(
                    "state {text:?}: use pending-approval, released or denied"
                ))
            })
        })
        .transpose()?;
    let before = next
        .map(|cursor| {
            cursor
                .split_once('.')
                .and_then(|(time, id)| Some((time.parse::<Micros>().ok()?, id.to_owned())))
                .filter(|(_, id)| uuid::Uuid::try_parse(id).is_ok())
                .ok_or_else(|| ReleaseError::Invalid(format!("next {cursor:?} is not a cursor")))
        })
        .transpose()?;
    let limit = limit.clamp(1, MAX_LIST_PAGE);
    // One more than asked tells whether another page follows.
    let mut found = store
        .releases(&store::ReleaseListQuery {
            state,
            party: party.map(str::to_owned),
            before,
            limit: limit + 1,
        })
        .await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next = found
        .last()
        .filter(|_| more)
        .map(|last| format!("{}.{}", last.created_at, last.id));
    Ok(json!({
        "releases": found.iter().map(|r| json!({
            "release": r.id,
            "state": r.state,
            "party": r.party,
            "requester": r.requester,
            "created": timestamp::format_taxii(r.created_at),
            "decided": r.decided_at.map(timestamp::format_taxii),
        })).collect::<Vec<_>>(),
        "next": next,
    }))
}
