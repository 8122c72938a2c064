//! What the store keeps for the release ledger: one Merkle log per partner
//! (leaves, stored tree nodes, a head row), the internal records with their
//! salts, an index from released object hashes to leaves, and cosignatures.
//! The tree math and record format belong to the `ledger` crate; the only
//! logic here is [`plan_append`], shared by every backend so that they all
//! chain and hash records the same way.

use ledger::{Frontier, GENESIS_PREVIOUS, Hash, NodeId, NodeMap, PublicRecord};

use crate::{Micros, Result, StoreError};

/// A record to append to a partner's log inside the release transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerAppend {
    /// The partner whose log this is.
    pub party: String,
    /// The record; the store fills in `sequence` and `previous` from the log
    /// head it holds locked, so concurrent releases cannot fork the chain.
    pub record: PublicRecord,
    /// RFC 8785 bytes of the internal record that `record.internal_commitment`
    /// commits to.
    pub internal: Vec<u8>,
    pub salt: [u8; 32],
}

/// One leaf of a partner's log: exactly the bytes that were hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLeaf {
    pub index: u64,
    pub release_id: String,
    pub bytes: Vec<u8>,
    pub leaf_hash: Hash,
}

/// The internal part of a record, for auditors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerInternal {
    pub index: u64,
    pub release_id: String,
    pub internal: Vec<u8>,
    pub salt: [u8; 32],
}

/// A witness's cosignature of one checkpoint of a partner's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub party: String,
    /// Tree size of the cosigned checkpoint.
    pub size: u64,
    /// The account that posted it (one cosignature per account and size).
    pub account: String,
    /// The witness's verifier key text (`name+id+base64`).
    pub key: String,
    /// The signed-note signature line (without its trailing newline).
    pub line: String,
    pub received_at: Micros,
}

/// What a backend writes for one append.
#[derive(Debug, Clone)]
pub struct AppendPlan {
    pub index: u64,
    pub bytes: Vec<u8>,
    pub leaf_hash: Hash,
    pub new_size: u64,
    pub nodes: Vec<(NodeId, Hash)>,
    /// Hashes of the released objects, for lookup by object.
    pub object_hashes: Vec<Hash>,
}

/// The node ids a backend must read (under its lock on the log head) before
/// [`plan_append`] on a log of `size` leaves.
pub fn append_node_ids(size: u64) -> Result<Vec<NodeId>> {
    let mut ids = ledger::root_node_ids(size).map_err(ledger_error)?;
    if size > 0 {
        ids.push(NodeId {
            level: 0,
            index: size - 1,
        });
    }
    Ok(ids)
}

/// Chains `append.record` after the head of a log of `size` leaves whose
/// nodes `append_node_ids(size)` are `nodes`, and computes what to store.
pub fn plan_append(
    append: &LedgerAppend,
    size: u64,
    nodes: &[(NodeId, Hash)],
) -> Result<AppendPlan> {
    let map: NodeMap = nodes.iter().copied().collect();
    let mut frontier = Frontier::load(size, &map).map_err(ledger_error)?;
    let previous = match size.checked_sub(1) {
        None => GENESIS_PREVIOUS,
        Some(last) => {
            use ledger::NodeReader;
            map.node(NodeId {
                level: 0,
                index: last,
            })
            .map_err(|e| StoreError::Corrupt(format!("ledger of {}: {e}", append.party)))?
        }
    };
    let mut record = append.record.clone();
    record.sequence = size;
    record.previous = previous;
    let bytes = record.to_leaf_bytes().map_err(ledger_error)?;
    let leaf_hash = ledger::leaf_hash(&bytes);
    let outcome = frontier.append(&[leaf_hash]).map_err(ledger_error)?;
    Ok(AppendPlan {
        index: size,
        bytes,
        leaf_hash,
        new_size: outcome.size,
        nodes: outcome.nodes,
        object_hashes: record.objects.iter().map(|o| o.sha256).collect(),
    })
}

pub(crate) fn ledger_error(err: ledger::Error) -> StoreError {
    match err {
        // The caller's record, not the stored data, is at fault.
        ledger::Error::RecordTooLarge { .. } | ledger::Error::TreeTooLarge { .. } => {
            StoreError::InvalidArgument(format!("release ledger: {err}"))
        }
        other => StoreError::Corrupt(format!("release ledger: {other}")),
    }
}

pub(crate) fn hash_from_bytes(bytes: &[u8]) -> Result<Hash> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("a stored hash has {} bytes", bytes.len())))?;
    Ok(Hash(array))
}
