"""Tiles of the Merkle tree (decision 0026): proofs built from at most two tiles per level are
byte-identical to RFC 6962's PATH over all the leaves (``merkle.inclusion_proof``), whatever the
sizes the tiles were stored at; the right-edge tiles fold to the compact range."""

from __future__ import annotations

import functools
import hashlib
import random

import pytest

from chalicelib.domain import merkle
from chalicelib.domain.merkle import CompactRange, inclusion_proof, leaf_hash, verify_inclusion
from chalicelib.domain.tiles import (
    TILE_WIDTH,
    TileError,
    TileId,
    edge_roots,
    edge_tiles,
    extend_tiles,
    inclusion_proof_from_tiles,
    inclusion_tiles,
    leaf_from_tiles,
    proof_tiles,
    tiles_of,
)

LEAVES = [leaf_hash(hashlib.sha256(b"leaf %d" % i).digest()) for i in range(70_000)]


def _levels(size: int) -> int:
    """ceil(log256 size), at least 1: the tile levels a tree of ``size`` leaves has."""
    levels = 1
    while TILE_WIDTH ** levels < size:
        levels += 1
    return levels


@pytest.fixture
def reference(monkeypatch):
    """``merkle.inclusion_proof`` itself, with its subtree-root helper and its check of the leaves
    memoised per leaf list (the same hashes and checks, each done once: all proofs of 600 trees in
    seconds rather than minutes)."""
    mth, check = merkle._mth, merkle._check_hashes
    memo: dict = {}

    def memo_mth(leaves, begin, end):
        key = (id(leaves), begin, end)
        if key not in memo:
            memo[key] = mth(leaves, begin, end)
        return memo[key]

    def memo_check(values, what):
        if (id(values), what) not in memo:
            check(values, what)
            memo[(id(values), what)] = True

    monkeypatch.setattr(merkle, "_mth", memo_mth)
    monkeypatch.setattr(merkle, "_check_hashes", memo_check)
    return memo


def _compact(size: int) -> CompactRange:
    compact = CompactRange()
    for leaf in LEAVES[:size]:
        compact.append(leaf)
    return compact


def test_every_proof_of_every_tree_up_to_600_leaves_is_rfc_6962s(reference):
    for size in range(1, 601):
        leaves = LEAVES[:size]
        tiles = tiles_of(leaves)
        assert edge_roots(size, tiles) == list(_compact(size).hashes), size
        cache: dict = {}
        for index in range(size):
            needed = proof_tiles(index, size)
            assert len(needed) <= 2 * _levels(size), (size, index, needed)
            proof = inclusion_proof_from_tiles(index, size, {t: tiles[t] for t in needed}, cache=cache)
            assert proof == inclusion_proof(leaves, index), (size, index)
            assert leaf_from_tiles(index, size, tiles) == leaves[index]
        reference.clear()


@pytest.mark.parametrize("size", [65_536, 65_537, 70_000])
def test_large_trees_sampled(size):
    leaves = LEAVES[:size]
    tiles = tiles_of(leaves)
    root = _compact(size).root()
    rng = random.Random(size)
    indexes = {0, 1, 255, 256, 65_535, size - 2, size - 1, *rng.sample(range(size), 25)}
    for index in sorted(i for i in indexes if 0 <= i < size):
        needed = inclusion_tiles(index, size)
        per_level: dict[int, int] = {}
        for tid in needed:
            per_level[tid.level] = per_level.get(tid.level, 0) + 1
        assert max(per_level.values()) <= 2 and len(needed) <= 2 * _levels(size), (index, needed)
        proof = inclusion_proof_from_tiles(index, size, {t: tiles[t] for t in needed})
        verify_inclusion(leaves[index], index, size, proof, root)
        if index in (0, 256, size - 1) or index % 7 == 0:
            assert proof == inclusion_proof(leaves, index), index


SIZES = [1, 2, 3, 255, 256, 257, 300, 511, 512, 513, 1000, 4095, 65_535, 65_536, 65_537, 66_000, 70_000]


def test_tiles_stored_checkpoint_after_checkpoint_give_the_same_proofs():
    store: dict[TileId, bytes] = {}
    old = 0
    for size in SIZES:
        edges = {t: store[t] for t in edge_tiles(old)}
        if old:
            assert edge_roots(old, edges) == list(_compact(old).hashes)
        new = extend_tiles(old, edges, LEAVES[old:size])
        assert not set(new) & set(store) or all(store[t] == new[t] for t in set(new) & set(store))
        store.update(new)
        assert set(edge_tiles(size)) <= set(store), size
        old = size
    # every tile ever stored is a tile of the final tree or a partial tile of an earlier size
    final = tiles_of(LEAVES[:70_000])
    for tid, data in final.items():
        assert store[tid] == data, tid
    widths = {(t.level, t.index, t.width) for t in store}
    assert (0, 0, 1) in widths and (0, 0, 255) in widths and (0, 0, 256) in widths  # nothing overwritten
    rng = random.Random(5)
    for size in SIZES:
        for index in {0, size - 1, rng.randrange(size)}:
            proof = inclusion_proof_from_tiles(index, size, store)
            assert proof == inclusion_proof_from_tiles(index, size, tiles_of(LEAVES[:size])), (size, index)
            verify_inclusion(LEAVES[index], index, size, proof, _compact(size).root())


def test_a_missing_or_malformed_tile_is_a_tile_error_and_a_changed_hash_fails_the_root():
    size = 1000
    tiles = tiles_of(LEAVES[:size])
    needed = proof_tiles(700, size)
    with pytest.raises(TileError):
        inclusion_proof_from_tiles(700, size, {t: tiles[t] for t in needed[1:]})
    with pytest.raises(TileError):
        inclusion_proof_from_tiles(700, size, {**tiles, needed[0]: tiles[needed[0]][:-1]})
    changed = dict(tiles)
    tid = TileId(0, 2, 256)  # leaf 700's own tile: its neighbour, leaf 701 (slot 189), changed
    changed[tid] = changed[tid][:189 * 32] + bytes(32) + changed[tid][190 * 32:]
    proof = inclusion_proof_from_tiles(700, size, changed)
    with pytest.raises(merkle.ProofError):
        verify_inclusion(LEAVES[700], 700, size, proof, _compact(size).root())


def test_the_sort_key_packs_level_index_and_width():
    for tid in (TileId(0, 0, 1), TileId(0, 0, 256), TileId(1, 3, 17), TileId(7, (1 << 51) - 1, 256)):
        assert TileId.from_sk(tid.sk) == tid and tid.sk < 1 << 63
    assert TileId(0, 0, 256).sk != TileId(0, 0, 255).sk
    assert TileId(0, 5, 256).full and not TileId(0, 5, 12).full
    with pytest.raises(ValueError):
        TileId(0, 0, 0)
    assert edge_tiles(70_000) == [TileId(0, 273, 112), TileId(1, 1, 17), TileId(2, 0, 1)]
    assert edge_tiles(65_536) == [TileId(2, 0, 1)] and edge_tiles(0) == []


def test_leaves_of_the_wrong_length_and_missing_edges_are_refused():
    with pytest.raises(merkle.ProofError):
        extend_tiles(0, {}, [b"short"])
    with pytest.raises(TileError):
        extend_tiles(300, {}, LEAVES[300:301])
    assert functools.reduce(lambda a, b: a + len(b), tiles_of(LEAVES[:256]).values(), 0) == 257 * 32
