"""Tampering behind the application's back: raw boto3 calls on the journal table, as someone
with database access would do. Used by the tamper-matrix tests only."""

from __future__ import annotations

import copy
import json
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.domain.canonical import canonical_bytes
from chalicelib.domain.records import SealedRecord

_ser, _de = TypeSerializer(), TypeDeserializer()


class Tamperer:
    def __init__(self, client, table: str, chain_key: str) -> None:
        self.client, self.table, self.pk = client, table, chain_key

    def read(self, seq: int) -> dict[str, Any]:
        """The stored item with ``data`` parsed from its stored JSON text, ready to edit."""
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": self.pk}, "sk": {"N": str(seq)}})["Item"]
        plain = {k: _de.deserialize(v) for k, v in item.items()}
        plain["data"] = json.loads(plain["data"])
        return plain

    def write(self, item: dict[str, Any]) -> None:
        stored = {**item, "data": canonical_bytes(item["data"]).decode()}
        self.client.put_item(TableName=self.table, Item={k: _ser.serialize(v) for k, v in stored.items()})

    def delete(self, seq: int) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": self.pk}, "sk": {"N": str(seq)}})

    def head_seq(self) -> int:
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": self.pk}},
            ScanIndexForward=False,
            Limit=1,
        )["Items"]
        return int(items[0]["sk"]["N"])

    def modify(self, seq: int, change) -> None:
        item = self.read(seq)
        change(item)
        self.write(item)

    def rehash_from(self, seq: int) -> None:
        """Recompute hash and links of every record from ``seq`` to the head (a careful forger)."""
        prev = self.read(seq - 1)["hash"] if seq > 1 else "0" * 64
        for s in range(seq, self.head_seq() + 1):
            item = self.read(s)
            item["prev_hash"] = prev
            plain = {k: v for k, v in item.items() if k not in ("pk", "sk", "ttl")}
            record = SealedRecord.from_item({**plain, "hash": "0" * 64})
            item["hash"] = record.compute_hash()
            self.write(item)
            prev = item["hash"]

    def swap(self, a: int, b: int) -> None:
        item_a, item_b = self.read(a), self.read(b)
        moved_a, moved_b = copy.deepcopy(item_b), copy.deepcopy(item_a)
        moved_a["sk"], moved_b["sk"] = a, b
        self.write(moved_a)
        self.write(moved_b)

    def append_forged(self, change, *, proof_from: int | None = None) -> int:
        """Append a new entry after the head, correctly hashed and linked (anyone can compute
        SHA-256): a copy of the head with ``change`` applied to it. It carries no write proof,
        or the one of entry ``proof_from`` copied onto it. Returns its seq."""
        head = self.read(self.head_seq())
        item = {k: v for k, v in head.items() if k not in ("proof_key", "proof_mac")}
        item["seq"] = item["sk"] = head["seq"] + 1
        item["prev_hash"] = head["hash"]
        change(item)
        plain = {k: v for k, v in item.items() if k not in ("pk", "sk", "ttl")}
        item["hash"] = SealedRecord.from_item({**plain, "hash": "0" * 64}).compute_hash()
        if proof_from is not None:
            donor = self.read(proof_from)
            item["proof_key"], item["proof_mac"] = donor["proof_key"], donor["proof_mac"]
        self.write(item)
        return item["seq"]
