"""Tiles of the chains' Merkle trees (tiles table), DynamoDB and in-memory (decision 0026).

One item per tile: ``pk`` the chain key, ``sk`` the ``TileId`` packed in a number (level, index,
width), ``hashes`` the tile's 32-byte hashes concatenated (8 KiB for a full tile). Items are
written conditionally and never changed: a partial tile is keyed by its width too, so a wider
one is a new item. A conditional put refused because the same item exists is a retry; refused
with other bytes, it is reported to the caller, never overwritten.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from botocore.exceptions import ClientError

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.tiles import TileId

BATCH_GET_MAX = 100  # DynamoDB's limit of keys per BatchGetItem
_UNPROCESSED_RETRIES = 5


class InMemoryTileStore:
    """The in-memory twin; counts its reads (``reads``: calls, ``items_read``: tiles asked for)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()
        self.reads = 0
        self.items_read = 0
        self.writes = 0

    def get_many(self, chain_key: str, ids: Iterable[TileId]) -> dict[TileId, bytes]:
        ids = list(dict.fromkeys(ids))
        self.reads += -(-len(ids) // BATCH_GET_MAX)
        self.items_read += len(ids)
        return {tid: self._items[(chain_key, tid.sk)] for tid in ids if (chain_key, tid.sk) in self._items}

    def put_many(self, chain_key: str, tiles: Mapping[TileId, bytes]) -> list[TileId]:
        differing = []
        with self._lock:
            for tid, data in tiles.items():
                existing = self._items.get((chain_key, tid.sk))
                if existing is None:
                    self._items[(chain_key, tid.sk)] = bytes(data)
                    self.writes += 1
                elif existing != bytes(data):
                    differing.append(tid)
        return differing

    def tamper(self, chain_key: str, tid: TileId, data: bytes) -> None:
        """Tests: change a stored tile behind the store's back."""
        self._items[(chain_key, tid.sk)] = data


class DynamoDBTileStore:
    def __init__(self, client, table: str, *, sleep=time.sleep) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep

    def get_many(self, chain_key: str, ids: Iterable[TileId]) -> dict[TileId, bytes]:
        ids = list(dict.fromkeys(ids))
        found: dict[TileId, bytes] = {}
        by_sk = {tid.sk: tid for tid in ids}
        for start in range(0, len(ids), BATCH_GET_MAX):
            keys = [{"pk": {"S": chain_key}, "sk": {"N": str(tid.sk)}} for tid in ids[start:start + BATCH_GET_MAX]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(_UNPROCESSED_RETRIES + 1):
                try:
                    resp = self._client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise Unavailable(f"tiles table batch_get_item: {exc.response['Error']['Code']}") from exc
                for item in resp.get("Responses", {}).get(self._table, []):
                    tid = by_sk.get(int(item["sk"]["N"]))
                    value = item.get("hashes", {}).get("B")
                    if tid is not None and isinstance(value, bytes | bytearray):
                        found[tid] = bytes(value)
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == _UNPROCESSED_RETRIES:
                    raise Unavailable("tiles table batch_get_item: keys left unprocessed after retries")
                self._sleep(0.05 * 2 ** attempt)
        return found

    def put_many(self, chain_key: str, tiles: Mapping[TileId, bytes]) -> list[TileId]:
        refused = []
        for tid, data in tiles.items():
            item = {"pk": {"S": chain_key}, "sk": {"N": str(tid.sk)}, "hashes": {"B": bytes(data)}}
            try:
                self._client.put_item(TableName=self._table, Item=item,
                                      ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise Unavailable(f"tiles table put_item: {exc.response['Error']['Code']}") from exc
                refused.append(tid)
        if not refused:
            return []
        stored = self.get_many(chain_key, refused)  # a retry, or a tile that differs?
        return [tid for tid in refused if stored.get(tid) != bytes(tiles[tid])]
