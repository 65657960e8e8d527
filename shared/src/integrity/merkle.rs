//! RFC 9162 (section 2.1) Merkle tree hashing, inclusion and consistency proofs.
//!
//! Proof generation is split in two so storage can serve it: [`inclusion_path`] and
//! [`consistency_path`] name the subtrees (leaf ranges) whose hashes make up a proof, and
//! [`inclusion_proof`] / [`consistency_proof`] read them from a [`HashSource`]. A storage-backed
//! source can fetch exactly those O(log n) ranges; a slice of leaf hashes is the in-memory one.
//! Verification needs nothing but the proof, so an auditor runs it offline.

use std::ops::Range;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// MTH of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// `SHA-256(0x00 || data)`: the 0x00 prefix keeps a leaf from ever equalling a node.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash of a list of leaf hashes (MTH over the leaves they hash).
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes.len() {
        0 => empty_root(),
        1 => leaf_hashes[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaf_hashes[..k]), &root(&leaf_hashes[k..]))
        }
    }
}

/// Where proof hashes come from: the hash of any subtree of the first [`HashSource::size`]
/// leaves.
pub trait HashSource {
    /// How many leaves the source holds.
    fn size(&self) -> u64;
    /// MTH(D[start:end]), asked only for `start < end <= size()`.
    fn subtree_hash(&self, range: Range<u64>) -> Hash;
}

/// Leaf hashes in log order.
impl HashSource for [Hash] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn subtree_hash(&self, range: Range<u64>) -> Hash {
        root(&self[range.start as usize..range.end as usize])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("tree size {size} is beyond the {available} leaves available")]
    SizeBeyondSource { size: u64, available: u64 },
    #[error("a consistency proof needs 0 < from <= to (from {from}, to {to})")]
    InvalidSizes { from: u64, to: u64 },
    #[error("the proof has more hashes than the tree sizes allow")]
    TooLong,
    #[error("the proof has fewer hashes than the tree sizes need")]
    TooShort,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// The largest power of two below `n` (n >= 2): where RFC 9162 splits a tree of n leaves.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The subtrees whose hashes form the inclusion proof of leaf `index` in a tree of `size`
/// leaves (RFC 9162 2.1.3.1, PATH), in proof order (nearest the leaf first).
pub fn inclusion_path(index: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    fn path(m: u64, start: u64, end: u64, out: &mut Vec<Range<u64>>) {
        let n = end - start;
        if n == 1 {
            return;
        }
        let k = split(n);
        if m < k {
            path(m, start, start + k, out);
            out.push(start + k..end);
        } else {
            path(m - k, start + k, end, out);
            out.push(start..start + k);
        }
    }
    let mut out = Vec::new();
    path(index, 0, size, &mut out);
    Ok(out)
}

/// The subtrees whose hashes form the consistency proof from size `from` to size `to`
/// (RFC 9162 2.1.4.1, SUBPROOF), in proof order. Empty when `from == to`.
pub fn consistency_path(from: u64, to: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::InvalidSizes { from, to });
    }
    fn subproof(m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Range<u64>>) {
        let n = end - start;
        if m == n {
            // The old tree's root is itself a node of the new tree: the verifier knows it
            // already unless it is only part of a larger old root.
            if !whole {
                out.push(start..end);
            }
            return;
        }
        let k = split(n);
        if m <= k {
            subproof(m, start, start + k, whole, out);
            out.push(start + k..end);
        } else {
            subproof(m - k, start + k, end, false, out);
            out.push(start..start + k);
        }
    }
    let mut out = Vec::new();
    subproof(from, 0, to, true, &mut out);
    Ok(out)
}

fn hashes<S: HashSource + ?Sized>(
    source: &S,
    size: u64,
    ranges: Vec<Range<u64>>,
) -> Result<Vec<Hash>, ProofError> {
    if size > source.size() {
        return Err(ProofError::SizeBeyondSource {
            size,
            available: source.size(),
        });
    }
    Ok(ranges.into_iter().map(|r| source.subtree_hash(r)).collect())
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves of `source`.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    hashes(source, size, inclusion_path(index, size)?)
}

/// The consistency proof between the trees of the first `from` and first `to` leaves.
pub fn consistency_proof<S: HashSource + ?Sized>(
    source: &S,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, ProofError> {
    hashes(source, to, consistency_path(from, to)?)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::TooLong);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `to` leaves with root `to_root` extends the tree of `from` leaves
/// with root `from_root` (RFC 9162 2.1.4.2). Equal sizes take an empty proof and equal roots.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::InvalidSizes { from, to });
    }
    if from == to {
        if !proof.is_empty() {
            return Err(ProofError::TooLong);
        }
        return if from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // A power-of-two old tree is a node of the new one: its root starts the path.
    let (seed, rest) = if from.is_power_of_two() {
        (from_root, proof)
    } else {
        proof.split_first().ok_or(ProofError::TooShort)?
    };
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if s == 0 {
            return Err(ProofError::TooLong);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort);
    }
    if fr != *from_root || sr != *to_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
