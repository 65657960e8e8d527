use std::collections::HashMap;

use super::*;
use crate::integrity::merkle::{
    consistency_path, consistency_proof, inclusion_path, inclusion_proof, leaf_hash,
};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// Appends `all` in uneven chunks, keeping the completed tiles as storage would.
fn grow(height: u32, all: &[Hash]) -> (Edge, HashMap<TileId, Vec<Hash>>) {
    let mut edge = Edge::empty(height);
    let mut stored = HashMap::new();
    let mut rest = all;
    let mut chunk = 1;
    while !rest.is_empty() {
        let take = chunk.min(rest.len());
        for (id, tile) in edge.append(&rest[..take]) {
            assert!(
                stored.insert(id, tile).is_none(),
                "tile {id:?} written twice"
            );
        }
        rest = &rest[take..];
        chunk = chunk % 7 + 2;
    }
    (edge, stored)
}

#[test]
fn the_edge_root_is_the_tree_root_at_every_size() {
    let all = leaves(300);
    for height in [1, 2, 3] {
        for n in 0..=all.len() {
            let (edge, _) = grow(height, &all[..n]);
            assert_eq!(edge.size(), n as u64);
            assert_eq!(edge.root(), root(&all[..n]), "height {height}, size {n}");
        }
    }
}

#[test]
fn proofs_from_tiles_equal_proofs_from_all_leaves() {
    let all = leaves(70);
    for height in [1, 2, 3] {
        for current in [1u64, 2, 5, 16, 17, 63, 64, 70] {
            let (edge, stored) = grow(height, &all[..current as usize]);
            for size in 1..=current {
                for index in 0..size {
                    let path = inclusion_path(index, size).unwrap();
                    let source = TileSource::new(&edge, stored.clone(), &path).unwrap();
                    assert_eq!(
                        inclusion_proof(&source, index, size).unwrap(),
                        inclusion_proof(&all[..current as usize], index, size).unwrap(),
                        "height {height}, log {current}, index {index} in {size}"
                    );
                }
                for from in 1..=size {
                    let path = consistency_path(from, size).unwrap();
                    let source = TileSource::new(&edge, stored.clone(), &path).unwrap();
                    assert_eq!(
                        consistency_proof(&source, from, size).unwrap(),
                        consistency_proof(&all[..current as usize], from, size).unwrap(),
                        "height {height}, log {current}, {from} -> {size}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_stored_height_works_past_two_tile_levels() {
    // 256 * 256 + 300 leaves: level 2 holds a hash, levels 0 and 1 are partial.
    let all = leaves(65_836);
    let (edge, stored) = grow(TILE_HEIGHT, &all);
    assert_eq!(edge.root(), root(&all));
    assert_eq!(edge.partial().len(), 3);
    let path = inclusion_path(1_000, 65_836).unwrap();
    let needed = tiles_for(&edge, &path);
    assert!(needed.len() <= 3, "{needed:?}");
    let only_needed = needed.iter().map(|id| (*id, stored[id].clone())).collect();
    let source = TileSource::new(&edge, only_needed, &path).unwrap();
    assert_eq!(
        inclusion_proof(&source, 1_000, 65_836).unwrap(),
        inclusion_proof(all.as_slice(), 1_000, 65_836).unwrap()
    );
}

#[test]
fn a_missing_tile_is_an_error_not_a_wrong_proof() {
    let all = leaves(40);
    let (edge, mut stored) = grow(2, &all);
    let path = inclusion_path(0, 40).unwrap();
    let first = tiles_for(&edge, &path)[0];
    stored.remove(&first);
    assert_eq!(
        TileSource::new(&edge, stored, &path).err(),
        Some(TileError::Missing {
            level: first.level,
            index: first.index
        })
    );
}

#[test]
fn a_stored_edge_must_match_its_size() {
    let (edge, _) = grow(2, &leaves(23));
    let parts = edge.partial().to_vec();
    assert_eq!(Edge::from_parts(2, 23, parts.clone()), Ok(edge));
    assert!(Edge::from_parts(2, 22, parts.clone()).is_err());
    assert!(Edge::from_parts(2, 24, parts).is_err());
    assert!(Edge::from_parts(2, 0, vec![vec![]]).is_err());
    assert_eq!(Edge::from_parts(2, 0, vec![]), Ok(Edge::empty(2)));
}
