//! The partner-visible release record that becomes a log leaf, and the salted
//! commitment to the internal record that stays with tearline and the auditor.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Hash, leaf_hash};

/// Version written in every record; bump on any change to the field set.
pub const RECORD_VERSION: u32 = 1;
/// Leaf size limit. A record lists every object of its release (about 150 bytes
/// each), so one of the largest releases (100,000 objects) must fit. RFC 6962 sets
/// no limit; tlog-tiles entry bundles would (16-bit lengths), but tearline serves
/// leaves through its own API, not as tiles.
pub const MAX_RECORD_BYTES: usize = 32 * 1024 * 1024;
/// `previous` of the first record in a log.
pub const GENESIS_PREVIOUS: Hash = Hash([0; 32]);

/// Domain separation for internal-record commitments, so a commitment can never be
/// confused with a leaf, node or object hash.
const COMMITMENT_DOMAIN: &[u8] = b"tearline/ledger/internal-commitment/v1\n";

/// What a release decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Objects were written to the partner's outbound collection.
    Released,
    /// The request was refused; `objects` is empty.
    Refused,
    /// Earlier released objects were withdrawn: `objects` are the new versions
    /// (with `revoked: true`) written to the partner's collection.
    Recalled,
}

/// One object written to the partner's collection by a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDigest {
    /// STIX id.
    pub id: String,
    /// STIX `modified` (or `created` for objects without it), as in the object.
    pub modified: String,
    /// SHA-256 of the object's RFC 8785 form, see [`object_sha256`].
    pub sha256: Hash,
}

/// A leaf of a partner's log: everything in it may be shown to that partner. The
/// leaf bytes are this struct's RFC 8785 canonical JSON.
///
/// `sequence` and `previous` chain the records of one partner log: record `i` has
/// `sequence == i` and `previous == leaf_hash(record i-1)`. The Merkle root already
/// detects any change; the chain lets the verifier say *which* leaf is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRecord {
    pub version: u32,
    /// Position of this record in its partner's log, from 0.
    pub sequence: u64,
    /// Leaf hash of the record before, or [`GENESIS_PREVIOUS`] for the first.
    pub previous: Hash,
    pub release_id: String,
    /// RFC 3339 UTC time of the release decision, as given by the caller's clock.
    pub time: String,
    /// Party id of the partner whose log this is.
    pub partner: String,
    pub outcome: Outcome,
    /// Hash identifying the policy version that decided.
    pub policy_version_hash: Hash,
    pub objects: Vec<ObjectDigest>,
    /// [`commit`] of the internal record.
    pub internal_commitment: Hash,
}

impl PublicRecord {
    /// The exact bytes that are hashed into the log.
    pub fn to_leaf_bytes(&self) -> Result<Vec<u8>, Error> {
        let bytes = canonical_json(self)?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(Error::RecordTooLarge {
                size: bytes.len(),
                limit: MAX_RECORD_BYTES,
            });
        }
        Ok(bytes)
    }

    /// Parses leaf bytes, insisting they are exactly the canonical form of a record of
    /// a known version (so the same record always has the same leaf hash).
    pub fn from_leaf_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(Error::RecordTooLarge {
                size: bytes.len(),
                limit: MAX_RECORD_BYTES,
            });
        }
        let record: PublicRecord =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedRecord(e.to_string()))?;
        if record.version != RECORD_VERSION {
            return Err(Error::MalformedRecord(format!(
                "unsupported record version {}",
                record.version
            )));
        }
        if canonical_json(&record)? != bytes {
            return Err(Error::NonCanonicalRecord);
        }
        Ok(record)
    }

    /// Leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> Result<Hash, Error> {
        Ok(leaf_hash(&self.to_leaf_bytes()?))
    }
}

/// RFC 8785 (JCS) canonical JSON of any serialisable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Canonicalization(e.to_string()))
}

/// SHA-256 of an object's canonical bytes, as listed in [`ObjectDigest::sha256`].
pub fn object_sha256(canonical_bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(canonical_bytes).into())
}

/// Salted commitment to the internal record:
/// `SHA-256("tearline/ledger/internal-commitment/v1\n" || salt || internal bytes)`.
/// The salt is fixed-length, so the concatenation is unambiguous; being secret and
/// random, it keeps the partner from confirming guesses about the internal record.
pub fn commit(salt: &[u8; 32], internal_canonical_bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(COMMITMENT_DOMAIN);
    hasher.update(salt);
    hasher.update(internal_canonical_bytes);
    Hash(hasher.finalize().into())
}

/// What an auditor runs with the internal record and salt tearline handed over.
pub fn verify_commitment(
    salt: &[u8; 32],
    internal_canonical_bytes: &[u8],
    commitment: &Hash,
) -> bool {
    commit(salt, internal_canonical_bytes) == *commitment
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn sample() -> PublicRecord {
        PublicRecord {
            version: RECORD_VERSION,
            sequence: 0,
            previous: GENESIS_PREVIOUS,
            release_id: "release--0001".into(),
            time: "2026-07-22T10:00:00Z".into(),
            partner: "grid-de".into(),
            outcome: Outcome::Released,
            policy_version_hash: object_sha256(b"policy"),
            objects: vec![ObjectDigest {
                id: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into(),
                modified: "2026-07-01T00:00:00.000Z".into(),
                sha256: object_sha256(b"{}"),
            }],
            internal_commitment: commit(&[7; 32], b"{\"justification\":\"x\"}"),
        }
    }

    #[test]
    fn leaf_bytes_are_canonical_and_round_trip() {
        let record = sample();
        let bytes = record.to_leaf_bytes().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        // JCS sorts keys and drops whitespace.
        assert!(text.starts_with("{\"internal_commitment\":\""), "{text}");
        assert!(!text.contains(' '));
        assert_eq!(PublicRecord::from_leaf_bytes(&bytes).unwrap(), record);
    }

    #[test]
    fn non_canonical_or_foreign_bytes_are_rejected() {
        let bytes = sample().to_leaf_bytes().unwrap();
        let mut spaced = b" ".to_vec();
        spaced.extend_from_slice(&bytes);
        assert!(matches!(
            PublicRecord::from_leaf_bytes(&spaced),
            Err(Error::NonCanonicalRecord)
        ));
        let extra = String::from_utf8(bytes.clone())
            .unwrap()
            .replacen('{', "{\"a\":1,", 1);
        assert!(matches!(
            PublicRecord::from_leaf_bytes(extra.as_bytes()),
            Err(Error::MalformedRecord(_))
        ));
        let mut v2 = sample();
        v2.version = 2;
        let v2_bytes = canonical_json(&v2).unwrap();
        assert!(PublicRecord::from_leaf_bytes(&v2_bytes).is_err());
        let upper = String::from_utf8(bytes).unwrap().to_uppercase();
        assert!(PublicRecord::from_leaf_bytes(upper.as_bytes()).is_err());
    }

    #[test]
    fn oversized_records_are_refused() {
        let mut record = sample();
        record.release_id = "x".repeat(MAX_RECORD_BYTES);
        assert!(matches!(
            record.to_leaf_bytes(),
            Err(Error::RecordTooLarge { .. })
        ));
    }

    #[test]
    fn commitments_bind_salt_and_content() {
        let salt = [1u8; 32];
        let c = commit(&salt, b"internal");
        assert!(verify_commitment(&salt, b"internal", &c));
        assert!(!verify_commitment(&[2u8; 32], b"internal", &c));
        assert!(!verify_commitment(&salt, b"internal.", &c));
        // Domain separation: not the plain hash of salt || content.
        let mut plain = salt.to_vec();
        plain.extend_from_slice(b"internal");
        assert_ne!(object_sha256(&plain), c);
    }
}
