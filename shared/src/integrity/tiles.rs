//! How an account's tree is stored: hashes grouped in tiles, as in C2SP tlog-tiles.
//!
//! A tile of level `t` holds up to `2^h` consecutive hashes of tree level `t * h` (level 0: leaf
//! hashes; level 1: roots of complete 2^h-leaf subtrees; ...). A complete tile never changes, so
//! it is written once. The incomplete tile of every level (the log's right edge, a few KiB) is
//! the [`Edge`], which the sequencer reads, extends and commits as one item with a conditional
//! write. The edge alone gives the root; any subtree hash a proof needs comes from at most one
//! tile ([`TileSource`]), so a proof reads the edge and O(log n) tiles.

use std::collections::HashMap;
use std::ops::Range;

use thiserror::Error;

use super::merkle::{Hash, HashSource, empty_root, node_hash, root};

/// Tiles of the stored log hold 2^8 = 256 hashes (8 KiB), as tlog-tiles does.
pub const TILE_HEIGHT: u32 = 8;

/// One tile: level `level`, the `index`-th group of 2^height hashes of that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub level: u32,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TileError {
    #[error("the log edge is inconsistent with its size {0}")]
    Edge(u64),
    #[error("tile {level}/{index} is missing or short")]
    Missing { level: u32, index: u64 },
}

/// The right edge of a log: its size and, per tile level, the hashes of its incomplete tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    height: u32,
    size: u64,
    /// `partial[t]`: the `(size >> (t * height)) % 2^height` hashes of level `t`'s incomplete tile.
    partial: Vec<Vec<Hash>>,
}

impl Edge {
    /// The empty log.
    pub fn empty(height: u32) -> Self {
        Self {
            height,
            size: 0,
            partial: Vec::new(),
        }
    }

    /// An edge as stored; refused unless every level holds exactly what `size` implies.
    pub fn from_parts(height: u32, size: u64, partial: Vec<Vec<Hash>>) -> Result<Self, TileError> {
        let edge = Self {
            height,
            size,
            partial,
        };
        let levels = edge.levels();
        let consistent = edge.partial.len() as u32 <= levels
            && (0..levels).all(|t| {
                edge.partial.get(t as usize).map_or(0, Vec::len) as u64 == edge.edge_count(t)
            });
        consistent.then_some(edge).ok_or(TileError::Edge(size))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn partial(&self) -> &[Vec<Hash>] {
        &self.partial
    }

    fn width(&self) -> u64 {
        1 << self.height
    }

    /// How many tree levels of tiles hold a hash at this size.
    fn levels(&self) -> u32 {
        let mut levels = 0;
        while self.size >> (levels * self.height) > 0 {
            levels += 1;
        }
        levels
    }

    /// Complete nodes of tile level `t` (each covering 2^(t*height) leaves).
    fn nodes(&self, t: u32) -> u64 {
        self.size.checked_shr(t * self.height).unwrap_or(0)
    }

    /// How many hashes level `t`'s incomplete tile holds.
    fn edge_count(&self, t: u32) -> u64 {
        self.nodes(t) % self.width()
    }

    /// Appends leaf hashes; returns the tiles this completed (to be written once, as they are).
    pub fn append(&mut self, leaves: &[Hash]) -> Vec<(TileId, Vec<Hash>)> {
        let mut completed = Vec::new();
        for leaf in leaves {
            self.size += 1;
            self.push(0, *leaf, &mut completed);
        }
        completed
    }

    fn push(&mut self, level: u32, hash: Hash, completed: &mut Vec<(TileId, Vec<Hash>)>) {
        let t = level as usize;
        if self.partial.len() <= t {
            self.partial.resize_with(t + 1, Vec::new);
        }
        self.partial[t].push(hash);
        if self.partial[t].len() as u64 == self.width() {
            let tile = std::mem::take(&mut self.partial[t]);
            let parent = root(&tile);
            let index = self.nodes(level) / self.width() - 1;
            completed.push((TileId { level, index }, tile));
            self.push(level + 1, parent, completed);
        }
    }

    /// The root hash of the log at its size.
    pub fn root(&self) -> Hash {
        // The edge's hashes, top level first, split into perfect subtrees by the binary
        // decomposition of each tile's count, are the tree's right-edge subtrees left to right.
        let mut pieces = Vec::new();
        for hashes in self.partial.iter().rev() {
            let mut rest = hashes.as_slice();
            while !rest.is_empty() {
                let take = 1 << (usize::BITS - 1 - rest.len().leading_zeros());
                pieces.push(root(&rest[..take]));
                rest = &rest[take..];
            }
        }
        let Some(mut acc) = pieces.pop() else {
            return empty_root();
        };
        while let Some(left) = pieces.pop() {
            acc = node_hash(&left, &acc);
        }
        acc
    }

    /// Whether tile `id` is complete at this size (stored as its own item) rather than the edge.
    fn is_complete(&self, id: TileId) -> bool {
        id.index < self.nodes(id.level) / self.width()
    }
}

/// Where the hash of the perfect subtree covering leaves `range` lives: tile level, tile, and
/// the slice of that tile whose root it is.
fn locate(height: u32, range: &Range<u64>) -> (TileId, Range<usize>) {
    let len = range.end - range.start;
    let leaf_level = len.trailing_zeros();
    let (t, r) = (leaf_level / height, leaf_level % height);
    let first = range.start >> (t * height);
    let width = 1u64 << height;
    let offset = (first % width) as usize;
    (
        TileId {
            level: t,
            index: first / width,
        },
        offset..offset + (1usize << r),
    )
}

/// Splits `range` (a subtree of an RFC 9162 tree) into its perfect subtrees, left to right.
fn perfect_pieces(range: &Range<u64>) -> Vec<Range<u64>> {
    let mut pieces = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let left = range.end - start;
        let mut len = 1u64 << (63 - left.leading_zeros());
        // Aligned: the subtrees of a tree start at multiples of their size.
        while !start.is_multiple_of(len) {
            len >>= 1;
        }
        pieces.push(start..start + len);
        start += len;
    }
    pieces
}

/// The complete tiles that the subtrees `ranges` read, beyond the edge.
pub fn tiles_for(edge: &Edge, ranges: &[Range<u64>]) -> Vec<TileId> {
    let mut ids: Vec<TileId> = ranges
        .iter()
        .flat_map(perfect_pieces)
        .map(|piece| locate(edge.height, &piece).0)
        .filter(|&id| edge.is_complete(id))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Subtree hashes from the edge and the complete tiles a proof needs (see [`tiles_for`]).
pub struct TileSource<'a> {
    edge: &'a Edge,
    tiles: HashMap<TileId, Vec<Hash>>,
}

impl<'a> TileSource<'a> {
    /// Refused unless every tile the `ranges` read is there and full, so that
    /// [`HashSource::subtree_hash`] cannot come up short.
    pub fn new(
        edge: &'a Edge,
        tiles: HashMap<TileId, Vec<Hash>>,
        ranges: &[Range<u64>],
    ) -> Result<Self, TileError> {
        for id in tiles_for(edge, ranges) {
            if tiles.get(&id).map(Vec::len) != Some(1 << edge.height) {
                return Err(TileError::Missing {
                    level: id.level,
                    index: id.index,
                });
            }
        }
        Ok(Self { edge, tiles })
    }

    fn hashes(&self, id: TileId) -> &[Hash] {
        if self.edge.is_complete(id) {
            self.tiles.get(&id).map(Vec::as_slice).unwrap_or_default()
        } else {
            self.edge
                .partial
                .get(id.level as usize)
                .map(Vec::as_slice)
                .unwrap_or_default()
        }
    }
}

impl HashSource for TileSource<'_> {
    fn size(&self) -> u64 {
        self.edge.size
    }

    fn subtree_hash(&self, range: Range<u64>) -> Hash {
        let mut pieces: Vec<Hash> = perfect_pieces(&range)
            .iter()
            .map(|piece| {
                let (id, slice) = locate(self.edge.height, piece);
                root(self.hashes(id).get(slice).unwrap_or_default())
            })
            .collect();
        let mut acc = pieces.pop().unwrap_or_else(empty_root);
        while let Some(left) = pieces.pop() {
            acc = node_hash(&left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod tests;
