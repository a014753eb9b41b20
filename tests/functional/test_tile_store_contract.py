"""One contract for the tile stores (DynamoDB on the embedded stack, and in memory): tiles are
stored once under (chain, level, index, width), read back in one batch, a retried put is a
no-op and a put of other bytes under a stored key is reported, never applied (decision 0026)."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.tile_store import InMemoryTileStore
from chalicelib.domain.tiles import TileId

pytestmark = pytest.mark.functional


@pytest.fixture(params=["dynamodb", "memory"])
def store(request, container):
    return container.tile_store if request.param == "dynamodb" else InMemoryTileStore()


def _key() -> str:
    return f"TENANT#t-{uuid.uuid4().hex[:8]}#CHAIN#prod.sales.R1"


def _tile(tid: TileId, fill: int) -> bytes:
    return bytes([fill]) * (32 * tid.width)


def test_tiles_are_read_back_in_one_batch_and_absent_ones_left_out(store):
    key = _key()
    full, partial, wider = TileId(0, 0, 256), TileId(0, 1, 3), TileId(0, 1, 4)
    assert store.get_many(key, [full, partial]) == {}
    assert store.put_many(key, {full: _tile(full, 1), partial: _tile(partial, 2)}) == []
    assert store.get_many(key, [full, partial, wider]) == {full: _tile(full, 1), partial: _tile(partial, 2)}
    assert store.put_many(key, {wider: _tile(wider, 2)}) == []  # a wider partial tile is a new item
    assert store.get_many(key, [partial, wider]) == {partial: _tile(partial, 2), wider: _tile(wider, 2)}
    assert store.get_many(_key(), [full]) == {}  # per chain


def test_a_retried_put_is_a_no_op_and_other_bytes_are_reported_not_written(store):
    key = _key()
    tid = TileId(1, 7, 12)
    assert store.put_many(key, {tid: _tile(tid, 5)}) == []
    assert store.put_many(key, {tid: _tile(tid, 5)}) == []
    assert store.put_many(key, {tid: _tile(tid, 6), TileId(1, 7, 13): _tile(TileId(1, 7, 13), 6)}) == [tid]
    assert store.get_many(key, [tid]) == {tid: _tile(tid, 5)}


def test_more_tiles_than_one_batch_holds_are_all_read(store):
    key = _key()
    tiles = {TileId(0, i, 256 if i < 149 else 9): _tile(TileId(0, i, 256), i % 251)[:32 * (256 if i < 149 else 9)]
             for i in range(150)}
    assert store.put_many(key, tiles) == []
    assert store.get_many(key, list(tiles)) == tiles
