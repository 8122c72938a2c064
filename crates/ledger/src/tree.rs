//! RFC 6962 Merkle tree over stored nodes.
//!
//! The store keeps the hash of every *perfect* subtree: node `(level, index)` is the
//! root over leaves `[index << level, (index + 1) << level)`. Those nodes never change
//! once written, a tree of size n has fewer than 2n of them, and the hash of any
//! RFC 6962 subtree `MTH(D[lo:hi])` that occurs in a proof is a fold of at most
//! `log2(n)` of them. So roots and proofs cost O(log n) reads for any size the log has
//! had, which is what lets old checkpoints stay provable. (This is the stored-hash
//! layout of Go's `sumdb/tlog` and of C2SP tlog-tiles, addressed by level and index.)

use crate::{EMPTY_ROOT, Error, Hash, NodeReadError, leaf_hash, node_hash};

/// Largest tree this crate will build; keeps every level below 63 and every
/// `index + 1` representable.
const MAX_TREE_SIZE: u64 = 1 << 62;

/// Address of a stored perfect-subtree hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves: 0 is a leaf hash.
    pub level: u8,
    /// Position among the nodes of that level, counted from the left.
    pub index: u64,
}

/// Read access to stored nodes. The store crate implements this over SQL; the
/// in-memory [`MemoryLog`] implements it for tests and benchmarks.
pub trait NodeReader {
    /// One stored node.
    fn node(&self, id: NodeId) -> Result<Hash, NodeReadError>;

    /// Several nodes at once, in the order asked. Stores should override this to fetch
    /// a proof's nodes in one round trip.
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeReadError> {
        ids.iter().map(|id| self.node(*id)).collect()
    }
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn node(&self, id: NodeId) -> Result<Hash, NodeReadError> {
        (**self).node(id)
    }
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeReadError> {
        (**self).nodes(ids)
    }
}

/// The largest power of two strictly below `width`; `width` must be at least 2.
fn split_point(width: u64) -> u64 {
    1u64 << (63 - (width - 1).leading_zeros())
}

/// The perfect subtrees, largest first, whose fold is `MTH(D[lo:hi])`. Valid for the
/// ranges RFC 6962 recursion produces, which are aligned so each piece is a stored node.
fn perfect_parts(lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    let width = hi - lo;
    let mut start = lo;
    for level in (0..64u8).rev() {
        let piece = 1u64 << level;
        if width & piece != 0 {
            out.push(NodeId {
                level,
                index: start >> level,
            });
            start += piece;
        }
    }
}

/// RFC 6962 joins a range's perfect parts right to left: `MTH = node(p1, node(p2, …))`.
fn fold_parts(parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// Hashes of the given ranges, read from `reader` in one batch.
fn range_hashes<R: NodeReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    let mut ids = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = ids.len();
        perfect_parts(lo, hi, &mut ids);
        counts.push(ids.len() - before);
    }
    let hashes = reader.nodes(&ids)?;
    if hashes.len() != ids.len() {
        return Err(NodeReadError::Storage(
            "node reader returned the wrong number of hashes".into(),
        )
        .into());
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = hashes.as_slice();
    for count in counts {
        let (parts, tail) = rest.split_at(count);
        out.push(fold_parts(parts));
        rest = tail;
    }
    Ok(out)
}

/// Ranges whose hashes form the audit path of leaf `index` in a tree of `size`,
/// leaf to root (RFC 6962 §2.1.1 `PATH`).
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, size);
    let mut out = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// Ranges of the consistency proof from `old` to `new`, `0 < old < new`
/// (RFC 6962 §2.1.2 `SUBPROOF`, unrolled).
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, new);
    let mut whole_old_tree = true;
    let mut out = Vec::new();
    loop {
        if old == hi {
            if !whole_old_tree {
                out.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if old - lo <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            whole_old_tree = false;
        }
    }
    out.reverse();
    out
}

/// The stored nodes that [`root`] and [`Frontier::load`] read for a tree of `size`.
/// With [`inclusion_proof_node_ids`] and [`consistency_proof_node_ids`] this lets an
/// async store fetch every node a query needs in one round trip and then answer it
/// from a [`NodeMap`].
pub fn root_node_ids(size: u64) -> Result<Vec<NodeId>, Error> {
    check_size(size)?;
    let mut ids = Vec::new();
    perfect_parts(0, size, &mut ids);
    Ok(ids)
}

/// The stored nodes that [`inclusion_proof`] reads.
pub fn inclusion_proof_node_ids(index: u64, size: u64) -> Result<Vec<NodeId>, Error> {
    check_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    Ok(ranges_node_ids(&inclusion_ranges(index, size)))
}

/// The stored nodes that [`consistency_proof`] reads.
pub fn consistency_proof_node_ids(old: u64, new: u64) -> Result<Vec<NodeId>, Error> {
    check_size(new)?;
    if old > new {
        return Err(Error::SizesOutOfOrder { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    Ok(ranges_node_ids(&consistency_ranges(old, new)))
}

fn ranges_node_ids(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for &(lo, hi) in ranges {
        perfect_parts(lo, hi, &mut ids);
    }
    ids
}

/// Nodes fetched ahead of time, answering as a [`NodeReader`].
#[derive(Clone, Debug, Default)]
pub struct NodeMap {
    nodes: std::collections::HashMap<NodeId, Hash>,
}

impl NodeMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, id: NodeId, hash: Hash) {
        self.nodes.insert(id, hash);
    }
}

impl FromIterator<(NodeId, Hash)> for NodeMap {
    fn from_iter<T: IntoIterator<Item = (NodeId, Hash)>>(iter: T) -> Self {
        Self {
            nodes: iter.into_iter().collect(),
        }
    }
}

impl NodeReader for NodeMap {
    fn node(&self, id: NodeId) -> Result<Hash, NodeReadError> {
        self.nodes.get(&id).copied().ok_or(NodeReadError::Missing {
            level: id.level,
            index: id.index,
        })
    }
}

fn check_size(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size });
    }
    Ok(())
}

/// Root hash of the tree of the first `size` leaves.
pub fn root<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, Error> {
    check_size(size)?;
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let hashes = range_hashes(&[(0, size)], reader)?;
    Ok(hashes.first().copied().unwrap_or(EMPTY_ROOT))
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    inclusion_ranges(index, size).len()
}

/// Number of hashes in the consistency proof from `old` to `new`.
pub fn consistency_proof_len(old: u64, new: u64) -> usize {
    if old == 0 || old >= new {
        return 0;
    }
    consistency_ranges(old, new).len()
}

/// Audit path for leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    range_hashes(&inclusion_ranges(index, size), reader)
}

/// Proof that the tree of size `old` is a prefix of the tree of size `new`. Empty when
/// `old` is 0 or equals `new`, as RFC 9162 §2.1.4 has it.
pub fn consistency_proof<R: NodeReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    check_size(new)?;
    if old > new {
        return Err(Error::SizesOutOfOrder { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    range_hashes(&consistency_ranges(old, new), reader)
}

/// Checks an inclusion proof by the algorithm of RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(Error::ProofMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(Error::ProofMismatch)
    }
}

/// Checks a consistency proof by the algorithm of RFC 9162 §2.1.4.2, extended with the
/// two trivial cases: from the empty tree, and between equal sizes (proof empty, roots
/// equal).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    if old_size > new_size {
        return Err(Error::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if old_size == 0 {
        return if *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(Error::ProofMismatch)
        };
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(Error::ProofMismatch)
        };
    }
    // Step 2: a power-of-two old tree is itself a node of the new tree, so its root
    // starts the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(Error::ProofMismatch);
    };
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(Error::ProofMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if f_r == *old_root && s_r == *new_root && s_n == 0 {
        Ok(())
    } else {
        Err(Error::ProofMismatch)
    }
}

/// The right edge of the tree: roots of the perfect subtrees that cover all leaves,
/// largest first (one per set bit of the size). It is all an appender needs to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    subtrees: Vec<Hash>,
}

/// What appending a batch produced: the nodes to store and the new tree head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Index of the first appended leaf.
    pub first_index: u64,
    /// Tree size after the batch.
    pub size: u64,
    /// Root after the batch.
    pub root: Hash,
    /// Every new stored node (leaf hashes included), in the order computed.
    pub nodes: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` from its stored nodes.
    pub fn load<R: NodeReader + ?Sized>(size: u64, reader: &R) -> Result<Self, Error> {
        check_size(size)?;
        let mut ids = Vec::new();
        perfect_parts(0, size, &mut ids);
        let subtrees = reader.nodes(&ids)?;
        if subtrees.len() != ids.len() {
            return Err(NodeReadError::Storage(
                "node reader returned the wrong number of hashes".into(),
            )
            .into());
        }
        Ok(Self { size, subtrees })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Current root hash.
    pub fn root(&self) -> Hash {
        fold_parts(&self.subtrees)
    }

    fn push(&mut self, leaf: Hash, mut stored: impl FnMut(NodeId, Hash)) {
        let index = self.size;
        stored(NodeId { level: 0, index }, leaf);
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the index completes a perfect subtree with its left
        // neighbour, which is the frontier's last entry.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.subtrees.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            stored(
                NodeId {
                    level,
                    index: index >> level,
                },
                hash,
            );
        }
        self.subtrees.push(hash);
        self.size += 1;
    }

    /// Appends one leaf hash without keeping the nodes (for recomputing roots).
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> Result<(), Error> {
        check_size(self.size + 1)?;
        self.push(leaf, |_, _| {});
        Ok(())
    }

    /// Appends leaf hashes; returns the nodes to persist and the new head. Amortised
    /// cost is about two node hashes per leaf.
    pub fn append(&mut self, leaves: &[Hash]) -> Result<AppendOutcome, Error> {
        let first_index = self.size;
        let added =
            u64::try_from(leaves.len()).map_err(|_| Error::TreeTooLarge { size: u64::MAX })?;
        check_size(first_index.saturating_add(added))?;
        let mut nodes = Vec::with_capacity(leaves.len() * 2 + 64);
        for leaf in leaves {
            self.push(*leaf, |id, hash| nodes.push((id, hash)));
        }
        Ok(AppendOutcome {
            first_index,
            size: self.size,
            root: self.root(),
            nodes,
        })
    }
}

/// Root of a list of leaf hashes, computed without storing nodes.
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf, |_, _| {});
    }
    frontier.root()
}

/// A complete log held in memory: every stored node plus the frontier. For tests,
/// benchmarks and the offline verifier; the server persists nodes in the store crate.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Appends one leaf's data and returns its index.
    pub fn append(&mut self, data: &[u8]) -> Result<u64, Error> {
        Ok(self.append_leaf_hashes(&[leaf_hash(data)])?.first_index)
    }

    /// Appends a batch of leaf hashes and stores the resulting nodes.
    pub fn append_leaf_hashes(&mut self, leaves: &[Hash]) -> Result<AppendOutcome, Error> {
        let outcome = self.frontier.append(leaves)?;
        for &(id, hash) in &outcome.nodes {
            let level = usize::from(id.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            if let Some(row) = self.levels.get_mut(level) {
                // Nodes of a level are produced strictly left to right.
                row.push(hash);
                debug_assert_eq!(row.len() as u64, id.index + 1);
            }
        }
        Ok(outcome)
    }
}

impl NodeReader for MemoryLog {
    fn node(&self, id: NodeId) -> Result<Hash, NodeReadError> {
        let missing = NodeReadError::Missing {
            level: id.level,
            index: id.index,
        };
        let index = usize::try_from(id.index).map_err(|_| NodeReadError::Missing {
            level: id.level,
            index: id.index,
        })?;
        self.levels
            .get(usize::from(id.level))
            .and_then(|row| row.get(index))
            .copied()
            .ok_or(missing)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    /// RFC 6962 `MTH` written straight from the definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn log_of(n: u64) -> (MemoryLog, Vec<Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut log = MemoryLog::new();
        log.append_leaf_hashes(&leaves).unwrap();
        (log, leaves)
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
    }

    #[test]
    fn roots_match_the_definition_for_every_prefix() {
        let (log, leaves) = log_of(70);
        for size in 0..=70u64 {
            let want = reference_root(&leaves[..size as usize]);
            assert_eq!(root(size, &log).unwrap(), want, "size {size}");
            assert_eq!(root_of_leaf_hashes(&leaves[..size as usize]), want);
        }
    }

    #[test]
    fn rfc_example_proof_shapes() {
        // The worked examples of RFC 6962 §2.1.3, tree of 7 leaves: leaves a..d, e, f,
        // d6; g=(0,2), h=(2,4), i=(4,6), j=(6,7), k=(0,4), l=(4,7).
        // Audit path of d3 is [c, g, l].
        assert_eq!(inclusion_ranges(3, 7), vec![(2, 3), (0, 2), (4, 7)]);
        // Consistency 3 -> 7 is [c, d, g, l]; 4 -> 7 is [l]; 6 -> 7 is [i, j, k].
        assert_eq!(
            consistency_ranges(3, 7),
            vec![(2, 3), (3, 4), (0, 2), (4, 7)]
        );
        assert_eq!(consistency_ranges(4, 7), vec![(4, 7)]);
        assert_eq!(consistency_ranges(6, 7), vec![(4, 6), (6, 7), (0, 4)]);
    }

    #[test]
    fn frontier_reloads_from_stored_nodes() {
        let (log, _) = log_of(45);
        for size in 0..=45 {
            let f = Frontier::load(size, &log).unwrap();
            assert_eq!(f.root(), root(size, &log).unwrap());
        }
        let mut f = Frontier::load(45, &log).unwrap();
        let mut whole = log.clone();
        let extra = leaf_hash(b"more");
        let outcome = f.append(&[extra]).unwrap();
        whole.append_leaf_hashes(&[extra]).unwrap();
        assert_eq!(outcome.root, whole.root());
        assert_eq!(outcome.first_index, 45);
        // Index 45 = 0b101101 has one trailing one: it completes only node (1, 22).
        assert_eq!(
            outcome.nodes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![
                NodeId {
                    level: 0,
                    index: 45
                },
                NodeId {
                    level: 1,
                    index: 22
                }
            ]
        );
    }

    #[test]
    fn missing_nodes_are_reported() {
        let (log, _) = log_of(4);
        assert!(matches!(
            inclusion_proof(2, 8, &log),
            Err(Error::NodeRead(NodeReadError::Missing { .. }))
        ));
        assert!(matches!(
            inclusion_proof(4, 4, &log),
            Err(Error::IndexOutOfRange { index: 4, size: 4 })
        ));
        assert!(matches!(
            consistency_proof(5, 4, &log),
            Err(Error::SizesOutOfOrder { .. })
        ));
    }

    #[test]
    fn every_proof_up_to_40_verifies_and_wrong_claims_fail() {
        let (log, leaves) = log_of(40);
        for size in 1..=40u64 {
            let r = root(size, &log).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(index, size, &log).unwrap();
                let leaf = leaves[index as usize];
                verify_inclusion(&leaf, index, size, &proof, &r).unwrap();
                if size > 1 {
                    let other = (index + 1) % size;
                    assert!(verify_inclusion(&leaf, other, size, &proof, &r).is_err());
                }
                let wrong_root = leaf_hash(b"not a root");
                assert!(verify_inclusion(&leaf, index, size, &proof, &wrong_root).is_err());
            }
            for old in 0..=size {
                let old_root = root(old, &log).unwrap();
                let proof = consistency_proof(old, size, &log).unwrap();
                verify_consistency(old, size, &old_root, &r, &proof).unwrap();
                if old > 0 && old < size {
                    assert!(verify_consistency(old, size, &r, &r, &proof).is_err());
                }
            }
        }
    }
}
