//! The offline verifier against tampered record lists: it must fail and name the
//! first bad leaf.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use ledger::{
    Checkpoint, GENESIS_PREVIOUS, LeafProblem, MemoryLog, ObjectDigest, Outcome, PublicRecord,
    RECORD_VERSION, SignatureType, SignerKey, VerifyError, commit, consistency_proof, leaf_hash,
    object_sha256, sign_note, verify_checkpoint_consistency, verify_log,
};

const ORIGIN: &str = "tearline.example/p/grid-de";

struct Fixture {
    signer: SignerKey,
    records: Vec<Vec<u8>>,
    log: MemoryLog,
}

impl Fixture {
    fn new(count: u64) -> Self {
        let signer = SignerKey::from_seed(ORIGIN, SignatureType::Ed25519, [9; 32]).unwrap();
        let mut fixture = Fixture {
            signer,
            records: Vec::new(),
            log: MemoryLog::new(),
        };
        fixture.extend(count);
        fixture
    }

    fn extend(&mut self, count: u64) {
        for _ in 0..count {
            let sequence = self.records.len() as u64;
            let previous = self
                .records
                .last()
                .map_or(GENESIS_PREVIOUS, |r| leaf_hash(r));
            let record = PublicRecord {
                version: RECORD_VERSION,
                sequence,
                previous,
                release_id: format!("release--{sequence:04}"),
                time: format!("2026-07-22T10:{:02}:00Z", sequence % 60),
                partner: "grid-de".into(),
                outcome: if sequence % 5 == 4 {
                    Outcome::Refused
                } else {
                    Outcome::Released
                },
                policy_version_hash: object_sha256(b"policy v1"),
                objects: (0..sequence % 3)
                    .map(|k| ObjectDigest {
                        id: format!("indicator--00000000-0000-4000-8000-{sequence:08}{k:04}"),
                        modified: "2026-07-01T00:00:00.000Z".into(),
                        sha256: object_sha256(format!("{sequence}/{k}").as_bytes()),
                    })
                    .collect(),
                internal_commitment: commit(&[sequence as u8; 32], b"{\"approver\":\"alice\"}"),
            };
            let bytes = record.to_leaf_bytes().unwrap();
            self.log.append(&bytes).unwrap();
            self.records.push(bytes);
        }
    }

    fn checkpoint(&self) -> String {
        let cp = Checkpoint::new(ORIGIN, self.log.size(), self.log.root()).unwrap();
        sign_note(&cp.to_body(), &[&self.signer]).unwrap()
    }

    fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    fn verify(&self, records: &[Vec<u8>]) -> Result<ledger::VerifiedCheckpoint, VerifyError> {
        verify_log(records, &self.checkpoint(), &self.vkey(), None)
    }
}

fn bad_leaf(result: Result<ledger::VerifiedCheckpoint, VerifyError>) -> (u64, LeafProblem) {
    match result {
        Err(VerifyError::BadLeaf { index, problem }) => (index, problem),
        other => panic!("expected a bad leaf, got {other:?}"),
    }
}

/// Replaces the first occurrence of `from` in record `index` (same length edit).
fn edit(records: &mut [Vec<u8>], index: usize, from: &str, to: &str) {
    let text = String::from_utf8(records[index].clone()).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    records[index] = text.replacen(from, to, 1).into_bytes();
}

#[test]
fn honest_log_verifies() {
    let f = Fixture::new(25);
    let verified = f.verify(&f.records).unwrap();
    assert_eq!(verified.checkpoint.size(), 25);
    assert_eq!(verified.checkpoint.origin(), ORIGIN);
    // The empty log verifies too.
    let empty = Fixture::new(0);
    empty.verify(&[]).unwrap();
}

#[test]
fn changed_byte_in_a_field_names_that_leaf() {
    let f = Fixture::new(25);
    for index in [0usize, 1, 7, 12, 23, 24] {
        let mut records = f.records.clone();
        edit(&mut records, index, "release--", "releasE--");
        assert_eq!(bad_leaf(f.verify(&records)).0, index as u64, "leaf {index}");
        let (named, problem) = bad_leaf(f.verify(&records));
        assert_eq!(named, index as u64);
        if index < 24 {
            assert_eq!(problem, LeafProblem::Altered);
        } else {
            assert_eq!(problem, LeafProblem::NotInSignedTree);
        }
    }
}

#[test]
fn changed_byte_in_the_chain_field_names_that_leaf() {
    let f = Fixture::new(10);
    for index in [0usize, 4, 8] {
        let mut records = f.records.clone();
        let record = PublicRecord::from_leaf_bytes(&records[index]).unwrap();
        let hex = record.previous.to_hex();
        let flipped = format!(
            "{}{}",
            if hex.starts_with('0') { '1' } else { '0' },
            &hex[1..]
        );
        edit(&mut records, index, &hex, &flipped);
        assert_eq!(
            bad_leaf(f.verify(&records)),
            (index as u64, LeafProblem::Altered),
            "leaf {index}"
        );
    }
}

#[test]
fn every_single_byte_change_is_caught_and_named() {
    let f = Fixture::new(6);
    for index in 0..6usize {
        for position in 0..f.records[index].len() {
            let mut records = f.records.clone();
            records[index][position] ^= 0x01;
            let result = f.verify(&records);
            let (named, _) = bad_leaf(result);
            assert_eq!(named, index as u64, "byte {position} of leaf {index}");
        }
    }
}

#[test]
fn non_canonical_or_garbage_record_is_named() {
    let f = Fixture::new(5);
    let mut records = f.records.clone();
    records[2].insert(0, b' ');
    assert!(matches!(
        bad_leaf(f.verify(&records)),
        (2, LeafProblem::Malformed(_))
    ));
    let mut records = f.records.clone();
    records[3] = b"not json".to_vec();
    assert!(matches!(
        bad_leaf(f.verify(&records)),
        (3, LeafProblem::Malformed(_))
    ));
}

#[test]
fn deleted_record_is_named() {
    let f = Fixture::new(12);
    for index in [0usize, 5, 11] {
        let mut records = f.records.clone();
        records.remove(index);
        let (named, problem) = bad_leaf(f.verify(&records));
        assert_eq!(named, index as u64);
        if index < 11 {
            assert_eq!(
                problem,
                LeafProblem::SequenceMismatch {
                    found: index as u64 + 1
                }
            );
        } else {
            assert_eq!(problem, LeafProblem::Missing { size: 12 });
        }
    }
}

#[test]
fn reordered_records_name_the_first_swapped_position() {
    let f = Fixture::new(12);
    let mut records = f.records.clone();
    records.swap(3, 8);
    assert_eq!(
        bad_leaf(f.verify(&records)),
        (3, LeafProblem::SequenceMismatch { found: 8 })
    );
    let mut records = f.records.clone();
    records.swap(10, 11);
    assert_eq!(bad_leaf(f.verify(&records)).0, 10);
}

#[test]
fn truncated_or_extended_lists_are_named() {
    let f = Fixture::new(12);
    assert_eq!(
        bad_leaf(f.verify(&f.records[..9])),
        (9, LeafProblem::Missing { size: 12 })
    );
    assert_eq!(
        bad_leaf(f.verify(&[])),
        (0, LeafProblem::Missing { size: 12 })
    );
    let mut more = f.records.clone();
    more.push(f.records[0].clone());
    assert_eq!(
        bad_leaf(f.verify(&more)),
        (12, LeafProblem::Unexpected { size: 12 })
    );
    let mut dup = f.records.clone();
    dup.insert(4, f.records[4].clone());
    dup.pop();
    assert_eq!(
        bad_leaf(f.verify(&dup)),
        (5, LeafProblem::SequenceMismatch { found: 4 })
    );
}

#[test]
fn consistently_rewritten_tail_is_still_caught() {
    // An attacker who rebuilds records 7.. with a valid chain still cannot match the
    // signed root; the verifier names the newest leaf, which is provably not the signed one.
    let f = Fixture::new(10);
    let forged = Fixture::new(7);
    let mut records = forged.records.clone();
    for sequence in 7..10u64 {
        let previous = leaf_hash(records.last().unwrap());
        let mut record = PublicRecord::from_leaf_bytes(&f.records[sequence as usize]).unwrap();
        record.previous = previous;
        record.outcome = Outcome::Refused;
        records.push(record.to_leaf_bytes().unwrap());
    }
    let (named, _) = bad_leaf(f.verify(&records));
    assert!(named >= 7, "named {named}");
}

#[test]
fn previous_checkpoint_must_be_extended() {
    let mut f = Fixture::new(8);
    let old = f.checkpoint();
    let old_records = f.records.clone();
    f.extend(9);
    // Honest growth verifies against the old checkpoint.
    verify_log(&f.records, &f.checkpoint(), &f.vkey(), Some(&old)).unwrap();
    // A consistency proof alone proves it too.
    let proof = consistency_proof(8, 17, &f.log).unwrap();
    verify_checkpoint_consistency(&old, &f.checkpoint(), &proof, &f.signer.verifier()).unwrap();
    let mut bad_proof = proof.clone();
    bad_proof[0].0[0] ^= 1;
    assert!(
        verify_checkpoint_consistency(&old, &f.checkpoint(), &bad_proof, &f.signer.verifier())
            .is_err()
    );

    // A fork: a log that rewrote leaf 3 and re-signed is consistent with itself, but
    // not with the checkpoint the partner kept.
    let mut forked = Fixture::new(0);
    for (i, bytes) in f.records.iter().enumerate() {
        let mut record = PublicRecord::from_leaf_bytes(bytes).unwrap();
        record.previous = forked
            .records
            .last()
            .map_or(GENESIS_PREVIOUS, |r| leaf_hash(r));
        if i == 3 {
            record.outcome = Outcome::Refused;
            record.objects.clear();
        }
        let bytes = record.to_leaf_bytes().unwrap();
        forked.log.append(&bytes).unwrap();
        forked.records.push(bytes);
    }
    verify_log(&forked.records, &forked.checkpoint(), &forked.vkey(), None).unwrap();
    // With only the forked records, every link holds, so the verifier can say no more
    // than "the newest leaf under the old checkpoint, or one before it, was altered".
    let err = verify_log(
        &forked.records,
        &forked.checkpoint(),
        &forked.vkey(),
        Some(&old),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::BadLeaf {
                index: 7,
                problem: LeafProblem::NotInSignedTree
            }
        ),
        "{err}"
    );
    // With the partner's own records of that time, the rewritten leaf is pinpointed.
    let mut mixed = old_records.clone();
    mixed.extend_from_slice(&f.records[8..]);
    mixed[3] = forked.records[3].clone();
    let err = verify_log(&mixed, &f.checkpoint(), &f.vkey(), Some(&old)).unwrap_err();
    assert_eq!(err.first_bad_leaf(), Some(3), "{err}");

    // A "previous" checkpoint larger than the new one is refused.
    assert!(matches!(
        verify_log(&old_records, &old, &f.vkey(), Some(&f.checkpoint())),
        Err(VerifyError::PreviousLarger {
            previous: 17,
            current: 8
        })
    ));
}

#[test]
fn bad_signatures_and_keys_are_not_leaf_errors() {
    let f = Fixture::new(3);
    let other = SignerKey::from_seed(ORIGIN, SignatureType::Ed25519, [10; 32]).unwrap();
    let err = verify_log(
        &f.records,
        &f.checkpoint(),
        &other.verifier().to_string(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::Checkpoint(_)), "{err}");
    assert_eq!(err.first_bad_leaf(), None);
    assert!(matches!(
        verify_log(&f.records, &f.checkpoint(), "not a key", None),
        Err(VerifyError::Key(_))
    ));
    let tampered = f.checkpoint().replacen("\n3\n", "\n4\n", 1);
    assert!(matches!(
        verify_log(&f.records, &tampered, &f.vkey(), None),
        Err(VerifyError::Checkpoint(_))
    ));
}

#[test]
fn error_messages_name_the_leaf() {
    let f = Fixture::new(4);
    let mut records = f.records.clone();
    records.swap(1, 2);
    let message = f.verify(&records).unwrap_err().to_string();
    assert!(message.starts_with("leaf 1 "), "{message}");
}

#[test]
fn a_received_object_becomes_a_proof_against_the_signed_checkpoint() {
    let f = Fixture::new(20);
    let checkpoint = ledger::verify_checkpoint(&f.checkpoint(), &f.signer.verifier(), &[])
        .unwrap()
        .checkpoint;
    // The partner holds record 13 (found by the object's hash) and asks for its proof.
    let wanted = PublicRecord::from_leaf_bytes(&f.records[13])
        .unwrap()
        .objects[0]
        .sha256;
    let index = f
        .records
        .iter()
        .position(|r| {
            PublicRecord::from_leaf_bytes(r)
                .unwrap()
                .objects
                .iter()
                .any(|o| o.sha256 == wanted)
        })
        .unwrap() as u64;
    assert_eq!(index, 13);
    let proof = ledger::inclusion_proof(index, checkpoint.size(), &f.log).unwrap();
    ledger::verify_inclusion(
        &leaf_hash(&f.records[13]),
        index,
        checkpoint.size(),
        &proof,
        checkpoint.root(),
    )
    .unwrap();
    assert!(
        ledger::verify_inclusion(
            &leaf_hash(&f.records[12]),
            index,
            checkpoint.size(),
            &proof,
            checkpoint.root()
        )
        .is_err()
    );
}
