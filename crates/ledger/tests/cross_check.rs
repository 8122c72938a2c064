//! Cross-checks against an independent implementation: Cloudflare's `tlog_tiles`
//! (a port of Go's `sumdb/tlog`), for roots, inclusion and consistency proofs and
//! checkpoint bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use ledger::{Checkpoint, Hash, MemoryLog, consistency_proof, inclusion_proof, leaf_hash, root};
use proptest::prelude::*;
use tlog_tiles::{HashReader, tlog};

/// The other implementation's stored-hash array, read by its own index scheme.
struct TheirStore(Vec<tlog::Hash>);

impl HashReader for TheirStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn both_logs(n: u64) -> (MemoryLog, TheirStore) {
    let mut ours = MemoryLog::new();
    let mut theirs = TheirStore(Vec::new());
    for i in 0..n {
        let data = format!("record {i}");
        ours.append(data.as_bytes()).unwrap();
        let new = tlog::stored_hashes(i, data.as_bytes(), &theirs).unwrap();
        theirs.0.extend(new);
    }
    (ours, theirs)
}

fn convert(hashes: &[tlog::Hash]) -> Vec<Hash> {
    hashes.iter().map(|h| Hash(h.0)).collect()
}

#[test]
fn leaf_hashes_agree() {
    for data in [&b""[..], b"a", b"hello world", &[0u8; 1000]] {
        assert_eq!(leaf_hash(data).0, tlog::record_hash(data).0);
    }
}

#[test]
fn every_root_and_proof_agrees_up_to_130_leaves() {
    let (ours, theirs) = both_logs(130);
    for size in 1..=130u64 {
        let our_root = root(size, &ours).unwrap();
        let their_root = tlog::tree_hash(size, &theirs).unwrap();
        assert_eq!(our_root.0, their_root.0, "root of {size}");
        for index in 0..size {
            let proof = inclusion_proof(index, size, &ours).unwrap();
            let their_proof = tlog::prove_record(size, index, &theirs).unwrap();
            assert_eq!(proof, convert(&their_proof), "inclusion {index} in {size}");
            // And their verifier accepts our proof.
            let ours_as_theirs: Vec<tlog::Hash> = proof.iter().map(|h| tlog::Hash(h.0)).collect();
            let leaf = tlog::Hash(leaf_hash(format!("record {index}").as_bytes()).0);
            tlog::check_record(&ours_as_theirs, size, their_root, index, leaf).unwrap();
        }
        for old in 1..size {
            let proof = consistency_proof(old, size, &ours).unwrap();
            let their_proof = tlog::prove_tree(size, old, &theirs).unwrap();
            assert_eq!(proof, convert(&their_proof), "consistency {old} -> {size}");
            let old_root = tlog::tree_hash(old, &theirs).unwrap();
            let ours_as_theirs: Vec<tlog::Hash> = proof.iter().map(|h| tlog::Hash(h.0)).collect();
            tlog::check_tree(&ours_as_theirs, size, their_root, old, old_root).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Larger, random sizes: proofs at random positions still agree byte for byte.
    #[test]
    fn random_large_sizes_agree(size in 131u64..3000, pick in any::<u64>(), pick_old in any::<u64>()) {
        let (ours, theirs) = both_logs(size);
        let index = pick % size;
        let old = 1 + pick_old % size;
        prop_assert_eq!(root(size, &ours).unwrap().0, tlog::tree_hash(size, &theirs).unwrap().0);
        prop_assert_eq!(
            inclusion_proof(index, size, &ours).unwrap(),
            convert(&tlog::prove_record(size, index, &theirs).unwrap())
        );
        prop_assert_eq!(
            consistency_proof(old, size, &ours).unwrap(),
            convert(&tlog::prove_tree(size, old, &theirs).unwrap())
        );
    }
}

#[test]
fn checkpoint_bodies_agree() {
    let (ours, _) = both_logs(80);
    let r = root(80, &ours).unwrap();
    let cp = Checkpoint::new("tearline.example/log0", 80, r).unwrap();
    let body = cp.to_body();
    let theirs = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).unwrap();
    assert_eq!(theirs.origin(), "tearline.example/log0");
    assert_eq!(theirs.size(), 80);
    assert_eq!(theirs.hash().0, r.0);
    assert_eq!(theirs.to_bytes(), body.as_bytes());

    let with_ext = cp
        .with_extensions(vec!["a b".into(), "c".into()])
        .unwrap()
        .to_body();
    let theirs = tlog_tiles::Checkpoint::from_bytes(with_ext.as_bytes()).unwrap();
    assert_eq!(theirs.extension(), "a b\nc\n");
    assert_eq!(
        Checkpoint::parse(std::str::from_utf8(&theirs.to_bytes()).unwrap())
            .unwrap()
            .to_body(),
        with_ext
    );

    // What they reject we reject too.
    for bad in [
        "o\n01\nAAAA\n",
        "o\n1\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ] {
        assert!(tlog_tiles::Checkpoint::from_bytes(bad.as_bytes()).is_err());
        assert!(Checkpoint::parse(bad).is_err());
    }
}

/// Signatures: a checkpoint we sign verifies with Cloudflare's `signed_note`
/// (a port of Go's `sumdb/note`), and a note it signs with our secret key text
/// verifies with ours; both agree on key ids and signature bytes.
#[test]
fn signed_checkpoints_verify_with_the_independent_signed_note_crate() {
    use signed_note::{Note as TheirNote, StandardSigner, StandardVerifier, VerifierList};

    let key = ledger::SignerKey::from_seed(
        "ledger.example.org/tl",
        ledger::SignatureType::Ed25519,
        [7; 32],
    )
    .unwrap();
    let (log, _) = both_logs(13);
    let body = Checkpoint::new("ledger.example.org/tl/city", 13, log.root())
        .unwrap()
        .to_body();
    let ours = ledger::sign_note(&body, &[&key]).unwrap();

    let verifier = StandardVerifier::new(&key.verifier().to_string()).unwrap();
    let known = VerifierList::new(vec![Box::new(verifier.clone())]);
    let parsed = TheirNote::from_bytes(ours.as_bytes()).unwrap();
    let (verified, unverified) = parsed.verify(&known).unwrap();
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(verified[0].id(), key.key_id());
    assert_eq!(parsed.text(), body.as_bytes());

    // A byte changed in the body: both reject.
    let forged = ours.replacen("\n13\n", "\n14\n", 1);
    assert!(
        TheirNote::from_bytes(forged.as_bytes())
            .unwrap()
            .verify(&known)
            .is_err()
    );
    assert!(ledger::verify_checkpoint(&forged, &key.verifier(), &[]).is_err());

    // Their signer, our verifier; Ed25519 is deterministic, so the notes are equal.
    let signer = StandardSigner::new(&key.to_secret_text()).unwrap();
    let mut theirs = TheirNote::new(body.as_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&signer]).unwrap();
    let theirs = String::from_utf8(theirs.to_bytes()).unwrap();
    assert_eq!(theirs, ours);
    let checked = ledger::verify_checkpoint(&theirs, &key.verifier(), &[]).unwrap();
    assert_eq!(checked.checkpoint.size(), 13);
    assert_eq!(*checked.checkpoint.root(), log.root());
}
