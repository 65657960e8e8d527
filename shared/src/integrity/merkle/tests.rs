use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde::Deserialize;

use super::*;

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The RFC 6962 reference leaves, as in github.com/transparency-dev/merkle
/// `testonly/constants.go` (`LeafInputs`), itself from the Certificate Transparency C++ tests.
fn reference_leaves() -> Vec<Vec<u8>> {
    [
        &[][..],
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ]
    .iter()
    .map(|l| l.to_vec())
    .collect()
}

fn reference_leaf_hashes() -> Vec<Hash> {
    reference_leaves().iter().map(|l| leaf_hash(l)).collect()
}

#[test]
fn roots_of_the_reference_tree_match_the_published_ones() {
    // transparency-dev/merkle testonly/constants.go, `RootHashes`: sizes 0 to 8.
    let expected = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let leaves = reference_leaf_hashes();
    for (size, want) in expected.iter().enumerate() {
        assert_eq!(hex(&root(&leaves[..size])), *want, "size {size}");
    }
    assert_eq!(hex(&empty_root()), expected[0]);
    // `NodeHashes`, level 0: the leaf hashes themselves.
    assert_eq!(
        hex(&leaves[7]),
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"
    );
}

/// The probes of transparency-dev/merkle `testdata/inclusion` and `testdata/consistency`
/// (happy paths over the reference tree, plus mangled sizes, indices, proofs and roots that
/// must fail), combined into one file per kind by `testdata/` (see its `source`).
#[derive(Deserialize)]
struct Probes<T> {
    probes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProbe {
    file: String,
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Vec<String>,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyProbe {
    file: String,
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Vec<String>,
    want_err: bool,
}

/// A probe value as our typed API takes it; `None` when it is not 32 bytes (such a value is
/// refused where proofs are parsed, before verification).
fn hash(b64: &str) -> Option<Hash> {
    STANDARD.decode(b64).ok()?.try_into().ok()
}

fn hashes(b64: &[String]) -> Option<Vec<Hash>> {
    b64.iter().map(|h| hash(h)).collect()
}

#[test]
fn published_inclusion_probes_verify_or_fail_as_published() {
    let probes: Probes<InclusionProbe> =
        serde_json::from_str(include_str!("../testdata/transparency-dev-inclusion.json")).unwrap();
    assert_eq!(probes.probes.len(), 98);
    let leaves = reference_leaf_hashes();
    let mut generated = 0;
    for p in &probes.probes {
        let result = match (hash(&p.leaf_hash), hash(&p.root), hashes(&p.proof)) {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(&leaf, p.leaf_idx, p.tree_size, &proof, &root)
            }
            _ => Err(ProofError::RootMismatch),
        };
        assert_eq!(result.is_err(), p.want_err, "{}: {result:?}", p.file);
        if !p.want_err
            && p.tree_size <= 8
            && hash(&p.root) == Some(root(&leaves[..p.tree_size as usize]))
        {
            let ours = inclusion_proof(&leaves[..], p.leaf_idx, p.tree_size).unwrap();
            assert_eq!(Some(ours), hashes(&p.proof), "{}", p.file);
            generated += 1;
        }
    }
    assert_eq!(generated, 5, "every happy path over the reference tree");
}

#[test]
fn published_consistency_probes_verify_or_fail_as_published() {
    let probes: Probes<ConsistencyProbe> = serde_json::from_str(include_str!(
        "../testdata/transparency-dev-consistency.json"
    ))
    .unwrap();
    assert_eq!(probes.probes.len(), 98);
    // Its roots are 12-byte placeholders, which Go compares as bytes: not a SHA-256 root, so
    // our parser refuses it before verification.
    let unrepresentable =
        "testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json";
    let leaves = reference_leaf_hashes();
    let mut generated = 0;
    for p in probes.probes.iter().filter(|p| p.file != unrepresentable) {
        let result = match (hash(&p.root1), hash(&p.root2), hashes(&p.proof)) {
            (Some(r1), Some(r2), Some(proof)) => {
                verify_consistency(p.size1, p.size2, &proof, &r1, &r2)
            }
            _ => Err(ProofError::RootMismatch),
        };
        assert_eq!(result.is_err(), p.want_err, "{}: {result:?}", p.file);
        if !p.want_err && p.size2 <= 8 && hash(&p.root2) == Some(root(&leaves[..p.size2 as usize]))
        {
            let ours = consistency_proof(&leaves[..], p.size1, p.size2).unwrap();
            assert_eq!(Some(ours), hashes(&p.proof), "{}", p.file);
            generated += 1;
        }
    }
    assert_eq!(generated, 5, "every happy path over the reference tree");
}

#[test]
fn generation_refuses_sizes_the_source_or_the_tree_lacks() {
    let leaves = reference_leaf_hashes();
    assert_eq!(
        inclusion_proof(&leaves[..], 8, 8),
        Err(ProofError::IndexBeyondSize { index: 8, size: 8 })
    );
    assert_eq!(
        inclusion_proof(&leaves[..], 0, 9),
        Err(ProofError::SizeBeyondSource {
            size: 9,
            available: 8
        })
    );
    assert_eq!(
        consistency_proof(&leaves[..], 0, 3),
        Err(ProofError::InvalidSizes { from: 0, to: 3 })
    );
    assert_eq!(
        consistency_proof(&leaves[..], 4, 3),
        Err(ProofError::InvalidSizes { from: 4, to: 3 })
    );
    assert_eq!(consistency_proof(&leaves[..], 5, 5), Ok(vec![]));
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

proptest! {
    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails(
        size in 1u64..300, index_seed: u64, flip: (usize, u8)
    ) {
        let tree = leaves(size);
        let index = index_seed % size;
        let r = root(&tree);
        let proof = inclusion_proof(&tree[..], index, size).unwrap();
        prop_assert_eq!(proof.len(), inclusion_path(index, size).unwrap().len());
        prop_assert_eq!(verify_inclusion(&tree[index as usize], index, size, &proof, &r), Ok(()));

        let other = leaf_hash(b"not in the tree");
        prop_assert!(verify_inclusion(&other, index, size, &proof, &r).is_err());
        if size > 1 {
            let wrong = (index + 1) % size;
            prop_assert!(verify_inclusion(&tree[index as usize], wrong, size, &proof, &r).is_err());
            prop_assert!(verify_inclusion(&tree[wrong as usize], index, size, &proof, &r).is_err());
        }
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = flip.0 % bad.len();
            bad[at][usize::from(flip.1) % 32] ^= 1;
            prop_assert!(verify_inclusion(&tree[index as usize], index, size, &bad, &r).is_err());
            prop_assert_eq!(
                verify_inclusion(&tree[index as usize], index, size, &proof[1..], &r),
                Err(ProofError::TooShort)
            );
        }
        let mut long = proof.clone();
        long.push(other);
        prop_assert!(verify_inclusion(&tree[index as usize], index, size, &long, &r).is_err());
    }

    #[test]
    fn every_consistency_proof_verifies_and_tampering_fails(
        to in 1u64..300, from_seed: u64, flip: (usize, u8)
    ) {
        let tree = leaves(to);
        let from = from_seed % to + 1;
        let (r1, r2) = (root(&tree[..from as usize]), root(&tree));
        let proof = consistency_proof(&tree[..], from, to).unwrap();
        prop_assert_eq!(verify_consistency(from, to, &proof, &r1, &r2), Ok(()));

        let other = leaf_hash(b"not in the tree");
        prop_assert!(verify_consistency(from, to, &proof, &other, &r2).is_err());
        prop_assert!(verify_consistency(from, to, &proof, &r1, &other).is_err());
        if from < to {
            let at = flip.0 % proof.len();
            let mut bad = proof.clone();
            bad[at][usize::from(flip.1) % 32] ^= 1;
            prop_assert!(verify_consistency(from, to, &bad, &r1, &r2).is_err());
            prop_assert!(verify_consistency(from, to, &proof[1..], &r1, &r2).is_err());
        }
        let mut long = proof.clone();
        long.push(other);
        prop_assert!(verify_consistency(from, to, &long, &r1, &r2).is_err());
    }
}
