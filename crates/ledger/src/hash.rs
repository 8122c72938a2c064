//! RFC 6962 §2.1 hashing: SHA-256 with distinct leaf and node prefixes, so a leaf can
//! never be passed off as an interior node (second-preimage defence).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::Error;

/// Length in bytes of every hash in the log.
pub const HASH_LEN: usize = 32;

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 value: a leaf hash, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

/// Root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

impl Hash {
    /// Lowercase hex, as used in release records and the JSON API.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        if text.len() != 2 * HASH_LEN || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Error::MalformedHash("expected 64 lowercase hex digits"));
        }
        let mut out = [0u8; HASH_LEN];
        hex::decode_to_slice(text, &mut out)
            .map_err(|_| Error::MalformedHash("expected 64 lowercase hex digits"))?;
        Ok(Hash(out))
    }

    /// Standard padded base64, as in checkpoint root lines.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses canonical standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| Error::MalformedHash("invalid base64"))?;
        let array: [u8; HASH_LEN] = bytes
            .try_into()
            .map_err(|_| Error::MalformedHash("base64 does not hold 32 bytes"))?;
        Ok(Hash(array))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// In JSON (release records, API bodies) a hash is a lowercase hex string.
impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let a = leaf_hash(b"a");
        let mut joined = Vec::new();
        joined.extend_from_slice(&a.0);
        joined.extend_from_slice(&a.0);
        assert_ne!(leaf_hash(&joined), node_hash(&a, &a));
    }

    #[test]
    fn text_forms_round_trip_and_reject_variants() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).ok(), Some(h));
        assert_eq!(Hash::from_base64(&h.to_base64()).ok(), Some(h));
        assert!(Hash::from_hex(&h.to_hex().to_uppercase()).is_err());
        assert!(Hash::from_hex(&h.to_hex()[1..]).is_err());
        assert!(Hash::from_base64(&h.to_base64().replace('=', "")).is_err());
        assert!(Hash::from_base64("AAAA").is_err());
    }
}
