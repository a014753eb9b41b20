"""What the checkpoint service, the receipt check and the tile stores agree on (decision 0026).

Tiles (``chalicelib.domain.tiles``) are an unsigned index of a chain's Merkle tree: the signer
stores them when it signs, readers build inclusion proofs from them and check every proof
against the signed root. The stores are append-only: a tile is stored under its chain key and
``TileId`` (level, index, width) once and never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from chalicelib.domain.tiles import TileId


class TileStore(Protocol):
    def get_many(self, chain_key: str, ids: Iterable[TileId]) -> dict[TileId, bytes]:
        """The stored tiles among ``ids`` (one BatchGetItem for up to 100), absent ones left out."""
        ...

    def put_many(self, chain_key: str, tiles: Mapping[TileId, bytes]) -> list[TileId]:
        """Store each tile once. A tile already stored with the same bytes is a no-op (signing is
        retried); one stored with other bytes is left as it is and its id returned: the caller
        reports it (nothing a signer computes from verified entries can differ)."""
        ...
