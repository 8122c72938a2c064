//! Ledger throughput: batched record appends and proofs at one million leaves, in
//! memory. Goals from issue 6: at least 20,000 records/s appended, at most 1 ms per
//! inclusion proof. Run: `cargo bench -p ledger --bench ledger`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark code")]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    Frontier, GENESIS_PREVIOUS, Hash, MemoryLog, ObjectDigest, Outcome, PublicRecord,
    RECORD_VERSION, commit, consistency_proof, inclusion_proof, leaf_hash, object_sha256, root,
    verify_inclusion,
};

const MILLION: u64 = 1 << 20;
const BATCH: usize = 1000;

fn record(sequence: u64, previous: Hash) -> PublicRecord {
    PublicRecord {
        version: RECORD_VERSION,
        sequence,
        previous,
        release_id: format!("release--{sequence:012}"),
        time: "2026-07-22T10:00:00Z".into(),
        partner: "grid-de".into(),
        outcome: Outcome::Released,
        policy_version_hash: object_sha256(b"policy"),
        // A typical release: a few objects plus the carried marking definition.
        objects: (0..3)
            .map(|k| ObjectDigest {
                id: format!("indicator--00000000-0000-4000-8000-{sequence:08}{k:04}"),
                modified: "2026-07-01T00:00:00.000Z".into(),
                sha256: object_sha256(&sequence.to_be_bytes()),
            })
            .collect(),
        internal_commitment: commit(&[1; 32], b"{\"approver\":\"alice\"}"),
    }
}

fn million_leaf_log() -> MemoryLog {
    let mut log = MemoryLog::new();
    let leaves: Vec<Hash> = (0..MILLION).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    log.append_leaf_hashes(&leaves).unwrap();
    log
}

fn benches(c: &mut Criterion) {
    let log = million_leaf_log();
    let size = log.size();

    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Whole path per record: build, RFC 8785 encode, leaf hash, chain, tree nodes.
    group.bench_function("records_batch_1000_at_1M", |b| {
        b.iter_batched(
            || Frontier::load(size, &log).unwrap(),
            |mut frontier| {
                let mut previous = GENESIS_PREVIOUS;
                let mut leaves = Vec::with_capacity(BATCH);
                for i in 0..BATCH as u64 {
                    let bytes = record(size + i, previous).to_leaf_bytes().unwrap();
                    previous = leaf_hash(&bytes);
                    leaves.push(previous);
                }
                black_box(frontier.append(&leaves).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    // Tree work alone, for prepared leaf hashes.
    let prepared: Vec<Hash> = (0..BATCH as u64)
        .map(|i| leaf_hash(&i.to_le_bytes()))
        .collect();
    group.bench_function("leaf_hashes_batch_1000_at_1M", |b| {
        b.iter_batched(
            || Frontier::load(size, &log).unwrap(),
            |mut frontier| black_box(frontier.append(&prepared).unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("proof_at_1M");
    let tree_root = root(size, &log).unwrap();
    let mut index = 0u64;
    group.bench_function("inclusion_prove", |b| {
        b.iter(|| {
            index = (index + 7919 * 131) % size;
            black_box(inclusion_proof(index, size, &log).unwrap())
        })
    });
    group.bench_function("inclusion_prove_and_verify", |b| {
        b.iter(|| {
            index = (index + 7919 * 131) % size;
            let proof = inclusion_proof(index, size, &log).unwrap();
            let leaf = leaf_hash(&index.to_be_bytes());
            verify_inclusion(&leaf, index, size, &proof, &tree_root).unwrap();
        })
    });
    let mut old = 1u64;
    group.bench_function("consistency_prove", |b| {
        b.iter(|| {
            old = (old + 104_729) % size + 1;
            black_box(consistency_proof(old.min(size), size, &log).unwrap())
        })
    });
    group.finish();
}

criterion_group! {
    name = ledger_benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(ledger_benches);
