//! The release ledger over a [`Store`]: building each decision's record
//! (appended by the store inside the release transaction), signed
//! checkpoints, proofs and cosignatures. The CLI, the HTTP API and the demo
//! call these; the math and formats are the `ledger` crate's.

use std::sync::Arc;

use ledger::{
    Checkpoint, Hash, NodeId, NodeMap, Note, NoteSignature, ObjectDigest, Outcome, PublicRecord,
    SignatureType, SignerKey, VerifierKey,
};
use rand::RngCore;
use serde_json::{Value, json};
use store::{
    Cosignature, LedgerAppend, LedgerLeaf, Micros, NewObject, ReleaseRecord, Store, StoreError,
};

use crate::timestamp;

/// Most leaves one `records` call returns.
pub const MAX_LEAVES_PER_PAGE: usize = 1_000;
/// Most record bytes one `records` page holds (a page always holds at least
/// one record), so a partner cannot make a node buffer 1,000 large records.
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Most cosignatures served with one checkpoint (the signed-note limit is
/// 100 signatures, the log's own included).
pub const MAX_COSIGNATURES: usize = 50;
/// Where the store remembers which key signs its logs.
const VERIFIER_SETTING: &str = "ledger-verifier-key";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("release ledger: {0}")]
    Ledger(#[from] ledger::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// The log operator's identity: one Ed25519 key signs every partner's log.
/// Its key name prefixes each log's origin (`<key name>/<party>`), so one
/// verifier key checks every checkpoint and no two logs share an origin.
#[derive(Debug, Clone)]
pub struct LogSigner {
    key: Arc<SignerKey>,
}

impl LogSigner {
    pub fn new(key: SignerKey) -> Self {
        LogSigner { key: Arc::new(key) }
    }

    /// Parses the secret key text stored in the data directory.
    pub fn from_secret_text(text: &str) -> Result<Self> {
        Ok(Self::new(SignerKey::parse(
            text.trim_end_matches(['\n', '\r']),
        )?))
    }

    /// A fresh key named `name` (no spaces, no `+`).
    pub fn generate(name: &str) -> Result<(Self, String)> {
        let key = SignerKey::generate(name, SignatureType::Ed25519, &mut rand::rngs::OsRng)?;
        let secret = key.to_secret_text();
        Ok((Self::new(key), secret))
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    pub fn origin(&self, party: &str) -> String {
        format!("{}/{party}", self.key.name())
    }
}

/// Ties the signing key to the store: the first key used is recorded, and
/// any other key (a wrong file on one node, a restore with the wrong key) is
/// refused, so no partner log is ever signed by two keys.
pub async fn bind_signer(store: &dyn Store, signer: &LogSigner) -> Result<()> {
    let ours = signer.verifier().to_string();
    let recorded = store.release_setting(VERIFIER_SETTING, &ours).await?;
    if recorded == ours {
        Ok(())
    } else {
        Err(LedgerError::Invalid(format!(
            "this database's ledger is signed by {recorded}, but the ledger key file holds \
             {ours}; give every node the same key file (--ledger-key)"
        )))
    }
}

/// Partner names become part of their log's origin line, so they are
/// limited to what a signed-note key name may hold and more: ASCII letters,
/// digits, `.`, `_` and `-`, at most 100 characters.
pub fn check_partner_name(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(LedgerError::Invalid(format!(
            "partner name {name:?}: use 1 to 100 ASCII letters, digits, '.', '_' or '-' \
             (it names the partner's ledger)"
        )))
    }
}

/// `sha256:<hex>` (the policy version form) as a hash.
fn policy_hash(version: &str) -> Result<Hash> {
    let hex = version.strip_prefix("sha256:").unwrap_or(version);
    Hash::from_hex(hex).map_err(|_| LedgerError::Invalid(format!("policy version {version:?}")))
}

/// The id, `modified` and canonical SHA-256 of one object written to a
/// partner's collection.
pub fn object_digest(object: &NewObject) -> Result<ObjectDigest> {
    let value: Value = serde_json::from_str(&object.raw)
        .map_err(|e| LedgerError::Invalid(format!("{}: {e}", object.object_id)))?;
    let canonical = stix::canonical::to_canonical_bytes(&value)
        .map_err(|e| LedgerError::Invalid(format!("{}: {e}", object.object_id)))?;
    let stated = value
        .get("modified")
        .or_else(|| value.get("created"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(ObjectDigest {
        id: object.object_id.clone(),
        modified: stated.unwrap_or_else(|| timestamp::display_version(&object.version)),
        sha256: ledger::object_sha256(&canonical),
    })
}

/// The record of a final decision about `release` (state `Released` or
/// `Denied`), with its internal counterpart and a fresh salt.
pub fn record_for(release: &ReleaseRecord, outcome: Outcome, now: Micros) -> Result<LedgerAppend> {
    let objects = match outcome {
        Outcome::Released | Outcome::Recalled => release
            .outgoing
            .iter()
            .map(object_digest)
            .collect::<Result<Vec<_>>>()?,
        Outcome::Refused => Vec::new(),
    };
    let internal = json!({
        "release_id": release.id,
        "partner": release.party,
        "requester": release.requester,
        "justification": release.justification,
        "requested": release.requested,
        "approvals": release.approvals.iter().map(|a| json!({
            "account": a.account,
            "approved_at": timestamp::format_taxii(a.approved_at),
        })).collect::<Vec<_>>(),
        "decisions": release.decisions,
    });
    let internal = ledger::canonical_json(&internal)?;
    let mut salt = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    Ok(LedgerAppend {
        party: release.party.clone(),
        record: PublicRecord {
            version: ledger::RECORD_VERSION,
            sequence: 0,
            previous: ledger::GENESIS_PREVIOUS,
            release_id: release.id.clone(),
            time: timestamp::format_taxii(now),
            partner: release.party.clone(),
            outcome,
            policy_version_hash: policy_hash(&release.policy_version)?,
            objects,
            internal_commitment: ledger::commit(&salt, &internal),
        },
        internal,
        salt,
    })
}

async fn node_map(store: &dyn Store, party: &str, ids: Vec<NodeId>) -> Result<NodeMap> {
    let hashes = store.ledger_nodes(party, &ids).await?;
    Ok(ids.into_iter().zip(hashes).collect())
}

async fn root(store: &dyn Store, party: &str, size: u64) -> Result<Hash> {
    let map = node_map(store, party, ledger::root_node_ids(size)?).await?;
    Ok(ledger::root(size, &map)?)
}

async fn known_party(store: &dyn Store, party: &str) -> Result<()> {
    match store.party(party).await? {
        Some(found) if !found.home => Ok(()),
        _ => Err(LedgerError::NotFound(format!("partner {party}"))),
    }
}

/// The signed checkpoint of a partner's log at its current size (or at an
/// earlier `size`, which stays provable), with the cosignatures received
/// for that size: the C2SP signed note, byte for byte.
pub async fn checkpoint(
    store: &dyn Store,
    signer: &LogSigner,
    party: &str,
    size: Option<u64>,
) -> Result<String> {
    known_party(store, party).await?;
    let size = resolve_size(size, store.ledger_size(party).await?)?;
    let body =
        Checkpoint::new(&signer.origin(party), size, root(store, party, size).await?)?.to_body();
    let mut note = Note::new(&body)?;
    note.add_signature(signer.key.sign(&body)?)?;
    let mut added = 0;
    for cosignature in store.cosignatures(party, size).await? {
        if added == MAX_COSIGNATURES {
            break;
        }
        // A stored line that no longer parses is skipped, not served broken.
        if let Ok(line) = NoteSignature::parse_line(&cosignature.line)
            && note.add_signature(line).is_ok()
        {
            added += 1;
        }
    }
    Ok(note.to_text()?)
}

/// Leaves from `start`, at most `limit` (capped at [`MAX_LEAVES_PER_PAGE`]).
pub async fn leaves(
    store: &dyn Store,
    party: &str,
    start: u64,
    limit: usize,
) -> Result<Vec<LedgerLeaf>> {
    known_party(store, party).await?;
    let mut page = store
        .ledger_leaves(party, start, limit.clamp(1, MAX_LEAVES_PER_PAGE))
        .await?;
    let mut bytes = 0usize;
    let keep = page
        .iter()
        .take_while(|leaf| {
            bytes = bytes.saturating_add(leaf.bytes.len());
            bytes <= MAX_PAGE_BYTES
        })
        .count()
        .max(1);
    page.truncate(keep);
    Ok(page)
}

/// Every leaf of a partner's log, in order.
pub async fn all_leaves(store: &dyn Store, party: &str) -> Result<Vec<LedgerLeaf>> {
    known_party(store, party).await?;
    let size = store.ledger_size(party).await?;
    let mut out = Vec::new();
    while (out.len() as u64) < size {
        let page = store
            .ledger_leaves(party, out.len() as u64, MAX_LEAVES_PER_PAGE)
            .await?;
        if page.is_empty() {
            return Err(LedgerError::Store(StoreError::Corrupt(format!(
                "the ledger of {party} has {size} leaves but leaf {} is missing",
                out.len()
            ))));
        }
        out.extend(page);
    }
    Ok(out)
}

/// JSON form of a leaf: `{"index", "leaf_hash", "record"}`.
pub fn leaf_json(leaf: &LedgerLeaf) -> Value {
    let record = serde_json::from_slice::<Value>(&leaf.bytes).unwrap_or(Value::Null);
    json!({
        "index": leaf.index,
        "leaf_hash": leaf.leaf_hash.to_hex(),
        "record": record,
    })
}

fn resolve_size(requested: Option<u64>, current: u64) -> Result<u64> {
    match requested {
        None => Ok(current),
        Some(size) if size <= current => Ok(size),
        Some(size) => Err(LedgerError::Invalid(format!(
            "the log has {current} leaves; no checkpoint of size {size} exists"
        ))),
    }
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves (default:
/// the current size).
pub async fn inclusion(
    store: &dyn Store,
    party: &str,
    index: u64,
    size: Option<u64>,
) -> Result<Value> {
    known_party(store, party).await?;
    let size = resolve_size(size, store.ledger_size(party).await?)?;
    if index >= size {
        return Err(LedgerError::Invalid(format!(
            "leaf {index} is outside a tree of {size} leaves"
        )));
    }
    let map = node_map(store, party, ledger::inclusion_proof_node_ids(index, size)?).await?;
    let proof = ledger::inclusion_proof(index, size, &map)?;
    let leaf = store
        .ledger_leaves(party, index, 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| LedgerError::NotFound(format!("leaf {index}")))?;
    Ok(json!({
        "index": index,
        "size": size,
        "leaf_hash": leaf.leaf_hash.to_hex(),
        "record": serde_json::from_slice::<Value>(&leaf.bytes).unwrap_or(Value::Null),
        "proof": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
    }))
}

/// Inclusion proof of the first leaf that lists an object with this
/// SHA-256 (of the object's RFC 8785 form, lowercase hex).
pub async fn inclusion_by_object(
    store: &dyn Store,
    party: &str,
    sha256_hex: &str,
    size: Option<u64>,
) -> Result<Value> {
    known_party(store, party).await?;
    let sha = Hash::from_hex(sha256_hex)
        .map_err(|_| LedgerError::Invalid("object hash must be 64 lowercase hex digits".into()))?;
    let current = store.ledger_size(party).await?;
    let size = resolve_size(size, current)?;
    let index = store
        .ledger_leaves_with_object(party, &sha)
        .await?
        .into_iter()
        .find(|index| *index < size)
        .ok_or_else(|| LedgerError::NotFound(format!("no record lists object {sha256_hex}")))?;
    inclusion(store, party, index, Some(size)).await
}

/// Consistency proof from the tree of `old` leaves to that of `new`
/// (default: the current size).
pub async fn consistency(
    store: &dyn Store,
    party: &str,
    old: u64,
    new: Option<u64>,
) -> Result<Value> {
    known_party(store, party).await?;
    let new = resolve_size(new, store.ledger_size(party).await?)?;
    if old > new {
        return Err(LedgerError::Invalid(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    let map = node_map(store, party, ledger::consistency_proof_node_ids(old, new)?).await?;
    let proof = ledger::consistency_proof(old, new, &map)?;
    Ok(json!({
        "old": old,
        "new": new,
        "proof": proof.iter().map(Hash::to_hex).collect::<Vec<_>>(),
    }))
}

/// Accepts a witness's cosignature: `note` must be one of this log's
/// checkpoints (signed by us, for a size the log has had, with that size's
/// root) carrying a valid cosignature by `witness_key`. Returns the
/// cosigned size.
pub async fn add_cosignature(
    store: &dyn Store,
    signer: &LogSigner,
    party: &str,
    account: &str,
    witness_key: &str,
    note: &str,
    now: Micros,
) -> Result<u64> {
    known_party(store, party).await?;
    let witness = VerifierKey::parse(witness_key.trim())
        .map_err(|e| LedgerError::Invalid(format!("witness key: {e}")))?;
    if witness.signature_type() != SignatureType::CosignatureV1 {
        return Err(LedgerError::Invalid(
            "the witness key must be a cosignature (type 0x04) Ed25519 key".to_owned(),
        ));
    }
    let log_key = signer.verifier();
    if witness.name() == log_key.name() && witness.key_id() == log_key.key_id() {
        return Err(LedgerError::Invalid(
            "the log cannot witness itself".to_owned(),
        ));
    }
    let verified = ledger::verify_checkpoint(note, &log_key, std::slice::from_ref(&witness))
        .map_err(|e| LedgerError::Invalid(format!("checkpoint: {e}")))?;
    let checkpoint = verified.checkpoint;
    if checkpoint.origin() != signer.origin(party) {
        return Err(LedgerError::Invalid(format!(
            "the checkpoint is for log {:?}, not {:?}",
            checkpoint.origin(),
            signer.origin(party)
        )));
    }
    let size = checkpoint.size();
    let current = store.ledger_size(party).await?;
    if size > current || root(store, party, size).await? != *checkpoint.root() {
        return Err(LedgerError::Invalid(
            "the checkpoint does not match this log".to_owned(),
        ));
    }
    if !verified
        .signatures
        .iter()
        .any(|s| s.name == witness.name() && s.key_id == witness.key_id())
    {
        return Err(LedgerError::Invalid(
            "the note carries no signature by the witness key".to_owned(),
        ));
    }
    let parsed = Note::parse(note).map_err(|e| LedgerError::Invalid(e.to_string()))?;
    let line = parsed
        .signatures()
        .iter()
        .find(|s| s.name == witness.name() && s.key_id == witness.key_id())
        .map(NoteSignature::to_line)
        .ok_or_else(|| LedgerError::Invalid("no witness signature line".to_owned()))?;
    store
        .add_cosignature(&Cosignature {
            party: party.to_owned(),
            size,
            account: account.to_owned(),
            key: witness.to_string(),
            line: line.trim_end_matches('\n').to_owned(),
            received_at: now,
        })
        .await?;
    Ok(size)
}

/// The internal record behind leaf `index` with its salt (for auditors),
/// and whether it matches the leaf's commitment.
pub async fn internal(store: &dyn Store, party: &str, index: u64) -> Result<Value> {
    known_party(store, party).await?;
    let found = store
        .ledger_internal(party, index)
        .await?
        .ok_or_else(|| LedgerError::NotFound(format!("leaf {index}")))?;
    let leaf = store
        .ledger_leaves(party, index, 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| LedgerError::NotFound(format!("leaf {index}")))?;
    let record = PublicRecord::from_leaf_bytes(&leaf.bytes)?;
    Ok(json!({
        "index": index,
        "release_id": found.release_id,
        "internal": serde_json::from_slice::<Value>(&found.internal).unwrap_or(Value::Null),
        "internal_bytes": String::from_utf8_lossy(&found.internal),
        "salt": hex::encode(found.salt),
        "commitment": record.internal_commitment.to_hex(),
        "matches": ledger::verify_commitment(&found.salt, &found.internal, &record.internal_commitment),
    }))
}
