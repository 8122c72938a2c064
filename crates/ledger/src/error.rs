//! The crate's error type. Verification of a whole log has its own richer error,
//! [`crate::VerifyError`], because it must name the offending leaf.

/// Why a stored tree node could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NodeReadError {
    /// The store has no node at this address (a bug or a damaged store).
    #[error("stored node at level {level}, index {index} is missing")]
    Missing { level: u8, index: u64 },
    /// The backing store failed; the store crate maps its own errors into this.
    #[error("node storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Everything that can go wrong in tree math, formats and signatures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NodeRead(#[from] NodeReadError),
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {old} is larger than tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("tree size {size} exceeds what the log supports")]
    TreeTooLarge { size: u64 },
    #[error("proof has {actual} hashes where {expected} are needed")]
    ProofLength { expected: usize, actual: usize },
    #[error("proof does not lead to the expected root")]
    ProofMismatch,
    #[error("malformed hash: {0}")]
    MalformedHash(&'static str),
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("key {name}+{key_id:08x} cannot make this kind of signature")]
    WrongKeyType { name: String, key_id: u32 },
    #[error("two different known keys share the name and id {name}+{key_id:08x}")]
    AmbiguousKey { name: String, key_id: u32 },
    #[error("signature by known key {name}+{key_id:08x} does not verify")]
    InvalidSignature { name: String, key_id: u32 },
    #[error("note has no valid signature from a known key")]
    NoKnownSignature,
    #[error("malformed release record: {0}")]
    MalformedRecord(String),
    #[error("release record is not in RFC 8785 canonical form")]
    NonCanonicalRecord,
    #[error("release record of {size} bytes exceeds the {limit}-byte leaf limit")]
    RecordTooLarge { size: usize, limit: usize },
    #[error("canonical JSON encoding failed: {0}")]
    Canonicalization(String),
}
