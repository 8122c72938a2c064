//! The offline verifier a partner or auditor runs: do these records produce the signed
//! root (and extend the previous checkpoint)? If not, which leaf is the first bad one?
//!
//! The Merkle root proves *that* something differs. To say *where*, it uses the
//! record chain (`sequence`, `previous`): deletions, duplicates and reorders show up as
//! a wrong sequence number at the first displaced position; a truncated or extended
//! list shows up against the checkpoint size; an altered record breaks the link the
//! next record holds, and substituting the hash that link commits to reproduces the
//! signed root, which proves the one altered leaf.

use crate::tree::Frontier;
use crate::{
    Checkpoint, Error, GENESIS_PREVIOUS, Hash, PublicRecord, SignatureType, VerifiedSignature,
    VerifierKey, leaf_hash, open_note, verify_consistency,
};

/// A checkpoint whose log signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The log's signature first, then any verified cosignatures.
    pub signatures: Vec<VerifiedSignature>,
}

/// What is wrong with a named leaf.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeafProblem {
    #[error("is not a valid release record: {0}")]
    Malformed(String),
    #[error("carries sequence {found}: a record is missing, duplicated or out of order here")]
    SequenceMismatch { found: u64 },
    #[error("is missing: the checkpoint covers {size} leaves but the records end before this one")]
    Missing { size: u64 },
    #[error("is not covered by the checkpoint, which has only {size} leaves")]
    Unexpected { size: u64 },
    #[error(
        "was altered: with its original hash (held by the next record) the signed root matches"
    )]
    Altered,
    #[error("does not continue the hash chain of the records before it")]
    ChainBroken,
    #[error("is not the leaf the signed root covers (this leaf or an earlier one was altered)")]
    NotInSignedTree,
}

/// Why a log did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verifier key: {0}")]
    Key(#[source] Error),
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] Error),
    #[error("previous checkpoint: {0}")]
    PreviousCheckpoint(#[source] Error),
    #[error("previous checkpoint is for log {previous:?}, the new one for {current:?}")]
    OriginMismatch { previous: String, current: String },
    #[error("previous checkpoint has {previous} leaves, more than the new one's {current}")]
    PreviousLarger { previous: u64, current: u64 },
    #[error("the new checkpoint is not consistent with the previous one: {0}")]
    Inconsistent(#[source] Error),
    #[error("checkpoint of an empty log has a root other than the empty root")]
    BadEmptyRoot,
    #[error("leaf {index} {problem}")]
    BadLeaf { index: u64, problem: LeafProblem },
}

impl VerifyError {
    /// The first bad leaf, when the failure is about the records.
    pub fn first_bad_leaf(&self) -> Option<u64> {
        match self {
            VerifyError::BadLeaf { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// Verifies a signed checkpoint: the log key must have signed it; signatures by other
/// known keys (cosigners) are verified too and reported, unknown ones ignored.
pub fn verify_checkpoint(
    note: &str,
    log_key: &VerifierKey,
    cosigners: &[VerifierKey],
) -> Result<VerifiedCheckpoint, Error> {
    if log_key.signature_type() != SignatureType::Ed25519 {
        return Err(Error::WrongKeyType {
            name: log_key.name().to_owned(),
            key_id: log_key.key_id(),
        });
    }
    let mut known = Vec::with_capacity(cosigners.len() + 1);
    known.push(log_key.clone());
    known.extend_from_slice(cosigners);
    let opened = open_note(note, &known)?;
    let (mut by_log, others): (Vec<_>, Vec<_>) = opened
        .verified
        .into_iter()
        .partition(|s| s.name == log_key.name() && s.key_id == log_key.key_id());
    if by_log.is_empty() {
        return Err(Error::NoKnownSignature);
    }
    by_log.extend(others);
    Ok(VerifiedCheckpoint {
        checkpoint: Checkpoint::parse(&opened.text)?,
        signatures: by_log,
    })
}

/// Checks that `new_note` extends `old_note` with a consistency proof, for a partner
/// who keeps checkpoints but not records.
pub fn verify_checkpoint_consistency(
    old_note: &str,
    new_note: &str,
    proof: &[Hash],
    log_key: &VerifierKey,
) -> Result<VerifiedCheckpoint, VerifyError> {
    let old = verify_checkpoint(old_note, log_key, &[]).map_err(VerifyError::PreviousCheckpoint)?;
    let new = verify_checkpoint(new_note, log_key, &[]).map_err(VerifyError::Checkpoint)?;
    check_same_log(&old.checkpoint, &new.checkpoint)?;
    verify_consistency(
        old.checkpoint.size(),
        new.checkpoint.size(),
        old.checkpoint.root(),
        new.checkpoint.root(),
        proof,
    )
    .map_err(VerifyError::Inconsistent)?;
    Ok(new)
}

fn check_same_log(old: &Checkpoint, new: &Checkpoint) -> Result<(), VerifyError> {
    if old.origin() != new.origin() {
        return Err(VerifyError::OriginMismatch {
            previous: old.origin().to_owned(),
            current: new.origin().to_owned(),
        });
    }
    if old.size() > new.size() {
        return Err(VerifyError::PreviousLarger {
            previous: old.size(),
            current: new.size(),
        });
    }
    Ok(())
}

/// Verifies a partner log end to end.
///
/// `records` are the leaf bytes in log order, `checkpoint_note` the signed checkpoint,
/// `verifier_key` the log's key text (`name+keyid+base64`). With `previous`, an earlier
/// signed checkpoint of the same log, the records must also reproduce its root at its
/// size, which proves the new checkpoint extends it. On a record problem the error
/// names the first bad leaf ([`VerifyError::first_bad_leaf`]).
pub fn verify_log<R: AsRef<[u8]>>(
    records: &[R],
    checkpoint_note: &str,
    verifier_key: &str,
    previous: Option<&str>,
) -> Result<VerifiedCheckpoint, VerifyError> {
    let key = VerifierKey::parse(verifier_key).map_err(VerifyError::Key)?;
    let current = verify_checkpoint(checkpoint_note, &key, &[]).map_err(VerifyError::Checkpoint)?;
    let previous = previous
        .map(|note| verify_checkpoint(note, &key, &[]).map_err(VerifyError::PreviousCheckpoint))
        .transpose()?;
    if let Some(previous) = &previous {
        check_same_log(&previous.checkpoint, &current.checkpoint)?;
    }
    let size = current.checkpoint.size();

    // Structure first, in log order, so the first problem found is the first leaf.
    let mut parsed = Vec::with_capacity(records.len());
    let mut leaf_hashes = Vec::with_capacity(records.len());
    for (position, bytes) in records.iter().enumerate() {
        let index = position as u64;
        if index >= size {
            return Err(bad(index, LeafProblem::Unexpected { size }));
        }
        let record = PublicRecord::from_leaf_bytes(bytes.as_ref())
            .map_err(|e| bad(index, LeafProblem::Malformed(e.to_string())))?;
        if record.sequence != index {
            return Err(bad(
                index,
                LeafProblem::SequenceMismatch {
                    found: record.sequence,
                },
            ));
        }
        leaf_hashes.push(leaf_hash(bytes.as_ref()));
        parsed.push(record);
    }
    let count = records.len() as u64;
    if count < size {
        return Err(bad(count, LeafProblem::Missing { size }));
    }
    if size == 0 {
        return if *current.checkpoint.root() == crate::EMPTY_ROOT {
            Ok(current)
        } else {
            Err(VerifyError::BadEmptyRoot)
        };
    }
    let evidence = Evidence {
        records: &parsed,
        leaf_hashes: &leaf_hashes,
    };

    // Leaves below a previous checkpoint's size are authentic once they reproduce its root.
    let mut known_good = 0usize;
    if let Some(previous) = &previous {
        let old_size = previous.checkpoint.size() as usize;
        if old_size > 0 {
            let old_root = previous.checkpoint.root();
            if evidence.root(old_size, None) != *old_root {
                return Err(evidence.locate(old_size, old_root, 0));
            }
        } else if *previous.checkpoint.root() != crate::EMPTY_ROOT {
            return Err(VerifyError::BadEmptyRoot);
        }
        known_good = old_size;
    }
    let total = leaf_hashes.len();
    if evidence.root(total, None) != *current.checkpoint.root() {
        return Err(evidence.locate(total, current.checkpoint.root(), known_good));
    }
    // The records are what the log signed; a broken chain means the log wrote them wrong.
    if let Some(index) = (0..total).find(|&i| !evidence.link_holds(i)) {
        return Err(bad(index as u64, LeafProblem::ChainBroken));
    }
    Ok(current)
}

fn bad(index: u64, problem: LeafProblem) -> VerifyError {
    VerifyError::BadLeaf { index, problem }
}

struct Evidence<'a> {
    records: &'a [PublicRecord],
    leaf_hashes: &'a [Hash],
}

impl Evidence<'_> {
    /// Does record `index` name the hash of the record before it?
    fn link_holds(&self, index: usize) -> bool {
        let Some(record) = self.records.get(index) else {
            return true;
        };
        let expected = match index.checked_sub(1) {
            None => GENESIS_PREVIOUS,
            Some(before) => match self.leaf_hashes.get(before) {
                Some(hash) => *hash,
                None => return false,
            },
        };
        record.previous == expected
    }

    /// Root over the first `size` leaves, optionally with one leaf hash replaced.
    fn root(&self, size: usize, replace: Option<(usize, Hash)>) -> Hash {
        let mut frontier = Frontier::new();
        for (index, hash) in self.leaf_hashes.iter().take(size).enumerate() {
            let hash = match replace {
                Some((at, replacement)) if at == index => replacement,
                _ => *hash,
            };
            // Sizes here are bounded by the record count, far below the tree limit.
            let _ = frontier.push_leaf_hash(hash);
        }
        frontier.root()
    }

    /// Names the first bad leaf below `size`, given that the first `size` leaves do not
    /// produce `target` and that leaves below `known_good` are authentic.
    fn locate(&self, size: usize, target: &Hash, known_good: usize) -> VerifyError {
        let Some(broken) = (known_good..size).find(|&i| !self.link_holds(i)) else {
            // Every link holds, so the newest leaf vouches for all before it; as the
            // root still differs, that newest leaf is not the signed one.
            return bad(size.saturating_sub(1) as u64, LeafProblem::NotInSignedTree);
        };
        // Either the leaf before the broken link or the leaf holding it was altered.
        if let Some(before) = broken.checked_sub(1).filter(|b| *b >= known_good)
            && let Some(original) = self.records.get(broken).map(|r| r.previous)
            && self.root(size, Some((before, original))) == *target
        {
            return bad(before as u64, LeafProblem::Altered);
        }
        if let Some(original) = self.records.get(broken + 1).map(|r| r.previous)
            && self.root(size, Some((broken, original))) == *target
        {
            return bad(broken as u64, LeafProblem::Altered);
        }
        bad(broken as u64, LeafProblem::ChainBroken)
    }
}
