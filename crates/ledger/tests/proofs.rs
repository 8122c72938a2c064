//! Property tests: proofs round-trip for random sizes; any change to a proof fails.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use ledger::{
    Frontier, Hash, MemoryLog, consistency_proof, consistency_proof_len, inclusion_proof,
    inclusion_proof_len, leaf_hash, root, root_of_leaf_hashes, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;

fn log_of(n: u64) -> (MemoryLog, Vec<Hash>) {
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut log = MemoryLog::new();
    // Uneven batches exercise the appender across batch boundaries.
    let mut rest = leaves.as_slice();
    let mut batch = 1;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(batch.min(rest.len()));
        log.append_leaf_hashes(now).unwrap();
        rest = later;
        batch = batch * 3 % 17 + 1;
    }
    (log, leaves)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn inclusion_round_trips_and_tampering_fails(
        size in 1u64..2048,
        pick in any::<u64>(),
        flip_at in any::<usize>(),
        flip_bit in 0u8..8,
    ) {
        let (log, leaves) = log_of(size);
        let index = pick % size;
        let r = root(size, &log).unwrap();
        let proof = inclusion_proof(index, size, &log).unwrap();
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, size));
        prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &proof, &r).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let byte = flip_at % (bad.len() * 32);
            bad[byte / 32].0[byte % 32] ^= 1 << flip_bit;
            prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &bad, &r).is_err());
            let mut short = proof.clone();
            short.pop();
            prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &short, &r).is_err());
        }
        let mut long = proof.clone();
        long.push(r);
        prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &long, &r).is_err());
        let mut wrong_leaf = leaves[index as usize];
        wrong_leaf.0[0] ^= 1;
        prop_assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &r).is_err());
        // (A proof may also fit a neighbouring size with the same root value; the size
        // is bound by the signed checkpoint, not by the proof, so that is not tested.)
    }

    #[test]
    fn consistency_round_trips_and_tampering_fails(
        new in 1u64..2048,
        pick in any::<u64>(),
        flip_at in any::<usize>(),
        flip_bit in 0u8..8,
    ) {
        let (log, _) = log_of(new);
        let old = pick % (new + 1);
        let old_root = root(old, &log).unwrap();
        let new_root = root(new, &log).unwrap();
        let proof = consistency_proof(old, new, &log).unwrap();
        prop_assert_eq!(proof.len(), consistency_proof_len(old, new));
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let byte = flip_at % (bad.len() * 32);
            bad[byte / 32].0[byte % 32] ^= 1 << flip_bit;
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
        }
        let mut bad_old = old_root;
        bad_old.0[31] ^= 1;
        prop_assert!(verify_consistency(old, new, &bad_old, &new_root, &proof).is_err());
        // Every tree extends the empty tree, so only a non-empty old tree binds the new root.
        if old > 0 {
            let mut bad_new = new_root;
            bad_new.0[0] ^= 0x80;
            prop_assert!(verify_consistency(old, new, &old_root, &bad_new, &proof).is_err());
        }
        if old > 0 && old < new {
            prop_assert!(verify_consistency(old - 1, new, &old_root, &new_root, &proof).is_err());
        }
    }

    /// Appending in batches through a reloaded frontier gives the same nodes and root
    /// as one long append.
    #[test]
    fn frontier_resumes_from_storage(first in 0u64..500, second in 0u64..500) {
        let (whole, leaves) = log_of(first + second);
        let (prefix, _) = log_of(first);
        let mut frontier = Frontier::load(first, &prefix).unwrap();
        let outcome = frontier.append(&leaves[first as usize..]).unwrap();
        prop_assert_eq!(outcome.root, whole.root());
        prop_assert_eq!(outcome.root, root_of_leaf_hashes(&leaves));
        for (id, hash) in outcome.nodes {
            prop_assert_eq!(ledger::NodeReader::node(&whole, id).unwrap(), hash);
        }
    }
}

#[test]
fn proofs_for_old_sizes_come_from_the_current_store() {
    let (log, leaves) = log_of(1000);
    let old_root = root(300, &log).unwrap();
    let proof = inclusion_proof(123, 300, &log).unwrap();
    verify_inclusion(&leaves[123], 123, 300, &proof, &old_root).unwrap();
    assert!(proof.len() <= 9, "O(log n): {} hashes", proof.len());
}

/// An async store fetches exactly the announced node ids, then answers from a map:
/// the answers must equal those computed straight from the full log.
fn prefetched(log: &MemoryLog, ids: &[ledger::NodeId]) -> ledger::NodeMap {
    use ledger::NodeReader;
    let hashes = log.nodes(ids).unwrap();
    ids.iter().copied().zip(hashes).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn announced_node_ids_are_enough(size in 1u64..1500, a in any::<u64>(), b in any::<u64>()) {
        let (log, _) = log_of(size);
        let index = a % size;
        let old = b % (size + 1);

        let ids = ledger::root_node_ids(size).unwrap();
        prop_assert_eq!(root(size, &prefetched(&log, &ids)).unwrap(), root(size, &log).unwrap());
        let frontier = Frontier::load(size, &prefetched(&log, &ids)).unwrap();
        prop_assert_eq!(frontier.root(), log.root());

        let ids = ledger::inclusion_proof_node_ids(index, size).unwrap();
        prop_assert_eq!(
            inclusion_proof(index, size, &prefetched(&log, &ids)).unwrap(),
            inclusion_proof(index, size, &log).unwrap()
        );

        let ids = ledger::consistency_proof_node_ids(old, size).unwrap();
        prop_assert_eq!(
            consistency_proof(old, size, &prefetched(&log, &ids)).unwrap(),
            consistency_proof(old, size, &log).unwrap()
        );
    }
}

#[test]
fn missing_prefetched_node_is_an_error_not_a_wrong_answer() {
    let (log, _) = log_of(10);
    let mut ids = ledger::inclusion_proof_node_ids(3, 10).unwrap();
    ids.pop();
    assert!(inclusion_proof(3, 10, &prefetched(&log, &ids)).is_err());
}
