"""Tiles: the Merkle tree's nodes stored in blocks, so that an inclusion proof reads O(log n) items.

A chain's RFC 6962 tree (docs/hash-format.md section 3) is cut into tiles of height 8, as in
transparency-dev's tlog tiles (C2SP tlog-tiles): tile ``(level, index)`` holds the hashes of the
tree's nodes at height ``8 * level`` with node indexes ``[256 * index, 256 * index + 256)``
(level 0: the leaf hashes). A tile is *full* when all 256 exist, and is then the same for every
later tree size; the right edge of a tree of size ``n`` is, at each level, the *partial* tile of
width ``(n >> 8 * level) % 256`` (when not 0). Tiles are stored append-only under
``(level, index, width)``, width 256 for a full tile, so nothing is ever rewritten.

Every perfect subtree the RFC 6962 audit path of leaf ``m`` in a tree of size ``n`` uses is either
a sibling of one of ``m``'s ancestors or a subtree of the right edge: at each level it is read from
the tile holding ``m``'s ancestor or from the right-edge partial tile, so a proof needs at most
two tiles per level (``proof_tiles``), ``2 * ceil(log256 n)`` items in all.

Tiles are an unsigned index: nothing here is trusted. A proof assembled from tiles is checked
against the signed root by its caller (``merkle.verify_inclusion``), and the signer accepts the
right-edge tiles it extends only when they fold to the compact range it has verified
(``edge_roots``). Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.merkle import HASH_SIZE, ProofError, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, 8 KiB when full

# The sort key of a stored tile packs (level, index, width) into one integer: width in the low 9
# bits (1..256), index in the next 51 bits, level above (docs/decisions/0026).
_WIDTH_BITS = 9
_INDEX_BITS = 51
MAX_LEVEL = 7  # 8 levels of height 8 cover 2^64 leaves


class TileError(ProofError):
    """A tile a proof needs is missing or malformed: the caller answers without tiles."""


@dataclass(frozen=True, order=True)
class TileId:
    level: int
    index: int
    width: int  # 1..256; 256 = full

    def __post_init__(self) -> None:
        if not (0 <= self.level <= MAX_LEVEL and 0 <= self.index < 1 << _INDEX_BITS
                and 1 <= self.width <= TILE_WIDTH):
            raise ValueError(f"no such tile: level {self.level}, index {self.index}, width {self.width}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def sk(self) -> int:
        """The numeric sort key the tile is stored under."""
        return (self.level << (_INDEX_BITS + _WIDTH_BITS)) | (self.index << _WIDTH_BITS) | self.width

    @classmethod
    def from_sk(cls, sk: int) -> TileId:
        return cls(sk >> (_INDEX_BITS + _WIDTH_BITS), (sk >> _WIDTH_BITS) & ((1 << _INDEX_BITS) - 1),
                   sk & ((1 << _WIDTH_BITS) - 1))

    def hashes(self, data: bytes) -> list[bytes]:
        """The hashes of a stored tile's bytes; ``TileError`` if their length is not ``width * 32``."""
        if not isinstance(data, bytes | bytearray) or len(data) != self.width * HASH_SIZE:
            size = len(data) if isinstance(data, bytes | bytearray) else type(data).__name__
            raise TileError(f"tile {self} holds {size} bytes, want {self.width * HASH_SIZE}")
        return [bytes(data[i:i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


def tile_at(level: int, index: int, size: int) -> TileId:
    """The tile ``(level, index)`` as it stands in a tree of ``size`` leaves (full or partial)."""
    count = size >> (TILE_HEIGHT * level)  # nodes at height 8 * level
    width = min(TILE_WIDTH, count - index * TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"tile ({level}, {index}) is empty in a tree of {size} leaves")
    return TileId(level, index, width)


def edge_tiles(size: int) -> list[TileId]:
    """The right-edge partial tiles of a tree of ``size`` leaves, lowest level first."""
    found, level = [], 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            found.append(TileId(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return found


def _perfect_nodes(begin: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(height, index)`` whose right fold is MTH(D[begin:end]), largest
    first, for a range whose ``begin`` is a multiple of a power of two >= ``end - begin`` (every
    range of RFC 6962's PATH is)."""
    nodes = []
    for height in range((end - begin).bit_length() - 1, -1, -1):
        if (end - begin) >> height & 1:
            nodes.append((height, begin >> height))
            begin += 1 << height
    return nodes


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make RFC 6962 PATH(index, D[0:size]), from the leaf up."""
    if not 0 <= index < size:
        raise ProofError(f"index is beyond size: {index} >= {size}" if index >= 0 else f"index {index} < 0")
    ranges = []
    begin, end = 0, size
    while end - begin > 1:
        k = 1 << ((end - begin - 1).bit_length() - 1)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def _node_slot(height: int, node: int) -> tuple[int, int, int, int]:
    """Where the perfect node ``(height, node)`` is computed from: ``(level, tile index, first
    slot, count)``: the root of ``count`` consecutive hashes of tile ``(level, tile index)``."""
    level, rest = divmod(height, TILE_HEIGHT)
    first = node << rest
    return level, first // TILE_WIDTH, first % TILE_WIDTH, 1 << rest


def proof_tiles(index: int, size: int) -> list[TileId]:
    """The tiles the inclusion proof of leaf ``index`` in a tree of ``size`` leaves reads: at each
    level, at most the tile holding the leaf's ancestor and the right-edge partial tile."""
    needed = set()
    for begin, end in _path_ranges(index, size):
        for height, node in _perfect_nodes(begin, end):
            needed.add(_node_slot(height, node)[:2])
    return sorted(tile_at(level, tile, size) for level, tile in needed)


def inclusion_tiles(index: int, size: int) -> list[TileId]:
    """``proof_tiles`` and the level-0 tile holding the leaf itself (the leaf hash the proof is
    checked with): still at most two tiles per level, read together in one request."""
    return sorted({*proof_tiles(index, size), tile_at(0, index // TILE_WIDTH, size)})


def leaf_from_tiles(index: int, size: int, tiles: Mapping[TileId, bytes]) -> bytes:
    """The leaf hash at ``index`` as the level-0 tile holding it says (unverified)."""
    tid = tile_at(0, index // TILE_WIDTH, size)
    if tid not in tiles or tiles[tid] is None:
        raise TileError(f"tile {tid} is not stored")
    return tid.hashes(tiles[tid])[index % TILE_WIDTH]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree given its 2^k bottom hashes."""
    layer = list(hashes)
    while len(layer) > 1:
        layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def inclusion_proof_from_tiles(index: int, size: int, tiles: Mapping[TileId, bytes], *,
                               cache: dict | None = None) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size]) computed from stored tiles (``TileId`` -> their bytes), the
    same bytes as ``merkle.inclusion_proof`` over the leaves when the tiles are right. Raises
    ``TileError`` when a tile it needs is missing or malformed. Nothing is verified here: check
    the proof against the signed root. ``cache``: a dict kept across calls over the same tiles
    (many proofs of one tree), so that each subtree root is computed once."""
    memo: dict = {} if cache is None else cache

    def node(height: int, number: int) -> bytes:
        slot = (size, *_node_slot(height, number))
        if slot not in memo:
            _, level, tile, first, count = slot
            tid = tile_at(level, tile, size)
            if tid not in memo:
                if tid not in tiles or tiles[tid] is None:
                    raise TileError(f"tile {tid} is not stored")
                memo[tid] = tid.hashes(tiles[tid])
            memo[slot] = perfect_root(memo[tid][first:first + count])
        return memo[slot]

    proof = []
    for begin, end in _path_ranges(index, size):
        nodes = [node(h, n) for h, n in _perfect_nodes(begin, end)]
        value = nodes[-1]
        for left in reversed(nodes[:-1]):
            value = node_hash(left, value)
        proof.append(value)
    return proof


def edge_roots(size: int, edges: Mapping[TileId, bytes]) -> list[bytes]:
    """What the right-edge tiles of a tree of ``size`` leaves fold to: the roots of its perfect
    subtrees, largest first — the compact range's hashes (docs/hash-format.md section 3), against
    which they are checked. Raises ``TileError`` when one is missing or malformed."""
    roots: list[bytes] = []
    for tid in reversed(edge_tiles(size)):  # highest level first
        if tid not in edges or edges[tid] is None:
            raise TileError(f"tile {tid} is not stored")
        hashes = tid.hashes(edges[tid])
        start = 0
        for bit in range(TILE_HEIGHT - 1, -1, -1):
            if tid.width >> bit & 1:
                roots.append(perfect_root(hashes[start:start + (1 << bit)]))
                start += 1 << bit
    return roots


def extend_tiles(old_size: int, edges: Mapping[TileId, bytes], leaves: Iterable[bytes]) -> dict[TileId, bytes]:
    """The tiles to store when a tree of ``old_size`` leaves grows by ``leaves`` (leaf hashes):
    every tile that became full, and the new right-edge partial tile of each level that changed.
    ``edges``: the right-edge tiles at ``old_size`` (``edge_tiles(old_size)``), which must already
    have been checked (``edge_roots``)."""
    buffers: dict[int, list[bytes]] = {}
    for tid in edge_tiles(old_size):
        if tid not in edges or edges[tid] is None:
            raise TileError(f"tile {tid} is not stored")
        buffers[tid.level] = tid.hashes(edges[tid])
    out: dict[TileId, bytes] = {}
    touched: set[int] = set()
    size = old_size
    for leaf in leaves:
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"leaf hash has {len(leaf)} bytes, want {HASH_SIZE}")
        size += 1
        value, level = leaf, 0
        while True:
            buffer = buffers.setdefault(level, [])
            buffer.append(value)
            touched.add(level)
            if len(buffer) < TILE_WIDTH:
                break
            out[TileId(level, (size >> (TILE_HEIGHT * level)) // TILE_WIDTH - 1, TILE_WIDTH)] = b"".join(buffer)
            value = perfect_root(buffer)
            buffers[level] = []
            level += 1
    for tid in edge_tiles(size):
        if tid.level in touched:
            out[tid] = b"".join(buffers[tid.level])
    return out


def tiles_of(leaves: Sequence[bytes]) -> dict[TileId, bytes]:
    """Every full tile and the right-edge tiles of the tree of ``leaves`` (tests, backfill)."""
    return extend_tiles(0, {}, leaves)
