"""ChainStore on DynamoDB with the plain boto3 client (decision 0001 says why not pynamodb).

Every write is conditional on ``attribute_not_exists(pk)`` for its (pk = chain key, sk = seq):
the first writer of a seq wins, a second one gets ``SequenceConflict`` and nothing is written.
A batch is one ``TransactWriteItems`` (up to 100 puts), all or nothing. ``commit`` adds claims
(items of the ops table) to the same transaction (decision 0012), and every condition asks for
the stored item back (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) so that the writer can
tell its own earlier attempt from someone else's write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.claims import Claim, CommitRejected
from chalicelib.domain.errors import SequenceConflict, Unavailable, ValidationFailed
from chalicelib.domain.records import SealedRecord
from chalicelib.domain.time_search import items_in_time_range, items_in_time_range_newest_first
from chalicelib.ports.journal_items import decode_item, from_item, to_item

__all__ = ["decode_item", "from_item", "to_item"]  # their home is chalicelib.ports.journal_items

MAX_BATCH = 100
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()




def _plain_values(item: dict[str, Any]) -> dict[str, Any]:
    """A claim item as plain values: DynamoDB numbers come back as ``Decimal``; claims hold integers."""
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in plain.items()}


def claim_item(claim: Claim) -> dict[str, Any]:
    item = {"pk": claim.pk, "sk": claim.sk, **claim.values}
    return {k: _serializer.serialize(v) for k, v in item.items()}


def _claim_condition(claim: Claim) -> dict[str, Any]:
    if claim.expect_seq is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "seq = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(claim.expect_seq)}}}


class DynamoDBChainStore:
    def __init__(self, client, table_name: str, claims_table: str | None = None) -> None:
        self._client = client
        self._table = table_name
        self._claims_table = claims_table

    def head(self, chain_key: str) -> SealedRecord | None:
        resp = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": chain_key}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = resp.get("Items", [])
        return SealedRecord.from_item(from_item(items[0])) if items else None

    def get(self, chain_key: str, seq: int) -> SealedRecord | None:
        resp = self._call(
            "get_item",
            TableName=self._table,
            Key={"pk": {"S": chain_key}, "sk": {"N": str(seq)}},
            ConsistentRead=True,
        )
        return SealedRecord.from_item(from_item(resp["Item"])) if "Item" in resp else None

    def append(self, record: SealedRecord, *, ttl: int | None = None) -> None:
        self.commit([record], ttl=ttl)

    def append_batch(self, records: Sequence[SealedRecord], *, ttl: int | None = None) -> None:
        self.commit(records, ttl=ttl)

    def commit(self, records: Sequence[SealedRecord], claims: Sequence[Claim] = (), *,
               ttl: int | None = None) -> None:
        if not 1 <= len(records) <= MAX_BATCH:
            raise ValidationFailed(f"a batch holds 1 to {MAX_BATCH} records, not {len(records)}", field="entries")
        if len(records) + len(claims) > MAX_TRANSACTION_ITEMS:
            raise ValidationFailed(f"one commit holds at most {MAX_TRANSACTION_ITEMS} items (records and claims), "
                                   f"not {len(records) + len(claims)}", field="entries")
        if claims and self._claims_table is None:
            raise TypeError("this chain store was built without a claims table")
        if len(records) == 1 and not claims:
            return self._put_one(records[0], ttl)
        items = [{"Put": {"TableName": self._table, "Item": to_item(r, ttl),
                          "ConditionExpression": "attribute_not_exists(pk)",
                          "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}} for r in records]
        items += [{"Put": {"TableName": self._claims_table, "Item": claim_item(c), **_claim_condition(c),
                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}} for c in claims]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            reasons = exc.response.get("CancellationReasons") or []
            failed = [i for i, r in enumerate(reasons) if (r or {}).get("Code") == "ConditionalCheckFailed"]
            if code == "TransactionCanceledException" and failed:
                taken_records, taken_claims = {}, {}
                for i in failed:
                    old = reasons[i].get("Item")
                    if i < len(records):
                        taken_records[records[i].seq] = decode_item(old) if old else {}
                    else:
                        taken_claims[i - len(records)] = _plain_values(old) if old else None
                raise CommitRejected(f"{records[0].chain_key}: the commit at seq {records[0].seq} was refused",
                                     records=taken_records, claims=taken_claims) from exc
            if code in ("TransactionCanceledException", "TransactionConflictException"):
                raise SequenceConflict(f"{records[0].chain_key}: concurrent transaction") from exc
            raise Unavailable(f"journal write failed: {code}") from exc
        return None

    def _put_one(self, record: SealedRecord, ttl: int | None) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(record, ttl),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise CommitRejected(f"{record.chain_key} seq {record.seq} is taken",
                                     records={record.seq: decode_item(old) if old else {}}) from exc
            raise Unavailable(f"journal write failed: {exc.response['Error']['Code']}") from exc

    def claim(self, pk: str, sk: str) -> dict[str, Any] | None:
        if self._claims_table is None:
            raise TypeError("this chain store was built without a claims table")
        resp = self._call("get_item", TableName=self._claims_table,
                          Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        item = resp.get("Item")
        return _plain_values(item) if item else None

    def add_claim(self, claim: Claim) -> dict[str, Any] | None:
        if self._claims_table is None:
            raise TypeError("this chain store was built without a claims table")
        try:
            self._client.put_item(TableName=self._claims_table, Item=claim_item(claim),
                                  ConditionExpression="attribute_not_exists(pk)",
                                  ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                return _plain_values(old) if old else self.claim(claim.pk, claim.sk) or {}
            raise Unavailable(f"claim write failed: {exc.response['Error']['Code']}") from exc
        return None

    def raw_items(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[dict]:
        return self._items(chain_key, first_seq, last_seq)

    def _items(self, chain_key: str, first_seq: int, last_seq: int | None, page_size: int | None = None,
               *, descending: bool = False) -> Iterator[dict]:
        condition = "pk = :pk AND sk BETWEEN :a AND :b"
        values = {
            ":pk": {"S": chain_key},
            ":a": {"N": str(first_seq)},
            ":b": {"N": str(last_seq if last_seq is not None else 2**63 - 1)},
        }
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if descending:  # from last_seq down
            kwargs["ScanIndexForward"] = False
        if page_size is not None:  # a reader that stops early need not read 1 MB pages
            kwargs["Limit"] = page_size
        while True:
            resp = self._call("query", **kwargs)
            for item in resp.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def scan(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None, *,
             page_size: int | None = None) -> Iterator[SealedRecord]:
        for item in self._items(chain_key, first_seq, last_seq, page_size):
            yield SealedRecord.from_item(item)

    def by_time(self, chain_key, start, end, *, limit, after_seq=None, descending=False):
        """By seq, with no time index (decision 0027): a few one-item reads find the range's first
        entry (its last, newest first), then one consistent Query reads the range."""
        if descending:
            items = items_in_time_range_newest_first(
                lambda: self._first_at_or_after(chain_key, None), start, end, limit=limit, before_seq=after_seq,
                first_at_or_after=lambda seq: self._first_at_or_after(chain_key, seq),
                items_down_from=lambda seq: self._items(chain_key, 1, seq, page_size=limit, descending=True),
            )
            return [SealedRecord.from_item(item) for item in items]
        items = items_in_time_range(
            lambda: self._first_at_or_after(chain_key, None), start, end, limit=limit, after_seq=after_seq,
            first_at_or_after=lambda seq: self._first_at_or_after(chain_key, seq),
            items_from=lambda seq: self._items(chain_key, seq, None, page_size=limit),
        )
        return [SealedRecord.from_item(item) for item in items]

    def _first_at_or_after(self, chain_key: str, seq: int | None) -> tuple[int, str] | None:
        """(seq, recorded_at) of the first entry at or after ``seq``; of the head when ``seq`` is None."""
        if seq is None:
            where, values, forward = "pk = :pk", {":pk": {"S": chain_key}}, False
        else:
            where, values, forward = "pk = :pk AND sk >= :s", {":pk": {"S": chain_key}, ":s": {"N": str(seq)}}, True
        resp = self._call("query", TableName=self._table, KeyConditionExpression=where,
                          ExpressionAttributeValues=values, ScanIndexForward=forward,
                          ProjectionExpression="sk, recorded_at", Limit=1, ConsistentRead=True)
        items = resp.get("Items", [])
        return (int(items[0]["sk"]["N"]), items[0]["recorded_at"]["S"]) if items else None

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            raise Unavailable(f"journal {operation} failed: {exc.response['Error']['Code']}") from exc
