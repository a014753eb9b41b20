"""Signed checkpoints (checkpoints table) and published keys (ops table), DynamoDB and in-memory.

A checkpoint item keeps, besides its signed text, the compact Merkle range at its size (and the
hash of its last entry with the hashes that tie it to that range), so the next checkpoint extends
it from the entries written since instead of re-reading the chain. None of that is signed: the
signer checks it against the signed root before using it (services/checkpoints.py).
Checkpoints are written conditionally and never changed; a key's ``not_after`` is set once,
when it is rotated out.
"""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import Conflict
from chalicelib.ports.checkpoints import StoredCheckpoint

__all__ = ["StoredCheckpoint"]  # its home is chalicelib.ports.checkpoints


def _strings(attribute) -> list[str] | None:
    """A DynamoDB list of strings as a list, None when absent or of another shape."""
    values = attribute.get("L") if isinstance(attribute, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, dict) and isinstance(v.get("S"), str) for v in values):
        return None
    return [v["S"] for v in values]


class InMemoryCheckpointStore:
    def __init__(self) -> None:
        self._items: dict[str, dict[int, StoredCheckpoint]] = {}
        self._keys: dict[str, PublicKeyInfo] = {}
        self._lock = threading.Lock()

    def put(self, stored: StoredCheckpoint) -> None:
        cp = stored.checkpoint
        with self._lock:
            chain = self._items.setdefault(cp.chain_key, {})
            if cp.size in chain:
                raise Conflict(f"a checkpoint at size {cp.size} exists for {cp.chain_key}")
            chain[cp.size] = stored

    # Reads take the lock too: signers and exports call these from several threads at once.
    def latest(self, chain_key: str) -> StoredCheckpoint | None:
        with self._lock:
            chain = self._items.get(chain_key) or {}
            return chain[max(chain)] if chain else None

    def list(self, chain_key: str, min_size: int = 0) -> list[StoredCheckpoint]:
        with self._lock:
            chain = self._items.get(chain_key) or {}
            return [chain[size] for size in sorted(chain) if size >= min_size]

    def latest_at_or_below(self, chain_key: str, size: int) -> StoredCheckpoint | None:
        with self._lock:
            chain = self._items.get(chain_key) or {}
            below = [s for s in chain if s <= size]
            return chain[max(below)] if below else None

    def put_key(self, key: PublicKeyInfo, *, if_absent: bool = False) -> None:
        with self._lock:
            if if_absent and key.key_id in self._keys:
                raise Conflict(f"key {key.key_id} is already published")
            self._keys[key.key_id] = key

    def keys(self) -> list[PublicKeyInfo]:
        return sorted(self._keys.values(), key=lambda k: k.not_before)

    def legacy_keys(self) -> list[PublicKeyInfo]:
        return []  # never published anywhere else


class DynamoDBCheckpointStore:
    def __init__(self, client, checkpoints_table: str, keys_table: str, keys_partition: str = "KEYS", *,
                 legacy_keys_table: str | None = None) -> None:
        """``keys_table``: where published keys live (the ``keys`` table, which only the signing
        functions may write). ``legacy_keys_table``: the ops table, where keys were published
        before; read only by ``legacy_keys`` to move them over once."""
        self._client = client
        self._table = checkpoints_table
        self._keys_table = keys_table
        self._keys_pk = keys_partition
        self._legacy = legacy_keys_table

    def put(self, stored: StoredCheckpoint) -> None:
        cp = stored.checkpoint
        item = {
            "pk": {"S": cp.chain_key},
            "sk": {"N": str(cp.size)},
            "text": {"S": cp.to_text()},
            "frontier": {"L": [{"S": h} for h in stored.frontier]},
        }
        if stored.last_hash is not None:
            item["last_hash"] = {"S": stored.last_hash}
            item["last_path"] = {"L": [{"S": h} for h in stored.last_path or []]}
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"a checkpoint at size {cp.size} exists for {cp.chain_key}") from exc
            raise

    @staticmethod
    def _stored(item) -> StoredCheckpoint:
        # The unsigned attributes are read as they are; one of the wrong shape reads as a value that
        # cannot rebuild the signed root, which the signer reports (a frontier) or does without.
        last_hash = item.get("last_hash", {}).get("S")
        return StoredCheckpoint(Checkpoint.from_text(item["text"]["S"]), _strings(item.get("frontier")) or [],
                                last_hash, _strings(item.get("last_path")))

    def latest(self, chain_key: str) -> StoredCheckpoint | None:
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": chain_key}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        ).get("Items", [])
        return self._stored(items[0]) if items else None

    def latest_at_or_below(self, chain_key: str, size: int) -> StoredCheckpoint | None:
        """The newest checkpoint of size <= ``size``: one item read, however many the chain has."""
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk <= :size",
            ExpressionAttributeValues={":pk": {"S": chain_key}, ":size": {"N": str(size)}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        ).get("Items", [])
        return self._stored(items[0]) if items else None

    def list(self, chain_key: str, min_size: int = 0) -> list[StoredCheckpoint]:
        """The chain's checkpoints of size >= ``min_size``, ascending (a ranged verification reads
        only those after its anchor)."""
        found, kwargs = [], {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk >= :min",
            "ExpressionAttributeValues": {":pk": {"S": chain_key}, ":min": {"N": str(min_size)}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._client.query(**kwargs)
            found.extend(self._stored(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def put_key(self, key: PublicKeyInfo, *, if_absent: bool = False) -> None:
        """Publish (or close) a key. ``if_absent``: only if no key with this id exists, so two
        processes publishing the same new key cannot give it two different ``not_before``."""
        item = {
            "pk": {"S": self._keys_pk},
            "sk": {"S": key.key_id},
            "not_before": {"S": key.not_before},
            "public_key_pem": {"S": key.public_key_pem},
        }
        if key.not_after:
            item["not_after"] = {"S": key.not_after}
        kwargs = {"ConditionExpression": "attribute_not_exists(pk)"} if if_absent else {}
        try:
            self._client.put_item(TableName=self._keys_table, Item=item, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"key {key.key_id} is already published") from exc
            raise

    def legacy_keys(self) -> list[PublicKeyInfo]:
        """Keys still published where the API could write (before the keys table existed)."""
        return self._keys_in(self._legacy) if self._legacy else []

    def keys(self) -> list[PublicKeyInfo]:
        return self._keys_in(self._keys_table)

    def _keys_in(self, table: str) -> list[PublicKeyInfo]:
        items = self._client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": self._keys_pk}},
            ConsistentRead=True,
        ).get("Items", [])
        keys = [
            PublicKeyInfo(
                key_id=i["sk"]["S"],
                not_before=i["not_before"]["S"],
                not_after=i.get("not_after", {}).get("S"),
                public_key_pem=i["public_key_pem"]["S"],
            )
            for i in items
        ]
        return sorted(keys, key=lambda k: k.not_before)
