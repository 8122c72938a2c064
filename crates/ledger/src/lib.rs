//! The release ledger's pure core: RFC 6962 / RFC 9162 Merkle log math, C2SP
//! tlog-checkpoint bodies, C2SP signed notes with Ed25519 keys, C2SP tlog-cosignature
//! cosignatures, the partner-visible release record, and an offline verifier.
//!
//! Invariant: this crate does no I/O and reads no clock. Stored tree nodes come in
//! through [`NodeReader`], times come in as values, randomness as an RNG argument.
//!
//! See `docs/ledger-format.md` for the byte formats.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod checkpoint;
mod error;
mod hash;
mod note;
mod record;
mod tree;
mod verify;

pub use checkpoint::Checkpoint;
pub use error::{Error, NodeReadError};
pub use hash::{EMPTY_ROOT, HASH_LEN, Hash, leaf_hash, node_hash};
pub use note::{
    COSIGNATURE_HEADER, MAX_NOTE_BYTES, MAX_SIGNATURES, Note, NoteSignature, OpenedNote,
    SignatureType, SignerKey, VerifiedSignature, VerifierKey, cosignature_message, key_id,
    open_note, sign_note,
};
pub use record::{
    GENESIS_PREVIOUS, MAX_RECORD_BYTES, ObjectDigest, Outcome, PublicRecord, RECORD_VERSION,
    canonical_json, commit, object_sha256, verify_commitment,
};
pub use tree::{
    AppendOutcome, Frontier, MemoryLog, NodeId, NodeMap, NodeReader, consistency_proof,
    consistency_proof_len, consistency_proof_node_ids, inclusion_proof, inclusion_proof_len,
    inclusion_proof_node_ids, root, root_node_ids, root_of_leaf_hashes, verify_consistency,
    verify_inclusion,
};
pub use verify::{
    LeafProblem, VerifiedCheckpoint, VerifyError, verify_checkpoint, verify_checkpoint_consistency,
    verify_log,
};
