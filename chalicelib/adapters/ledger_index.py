"""Small indexes over the ledger in the ``ops`` table: which entries are reversed, and where each
closure sits in its chain. They speed up lookups; the chain stays the source of truth (the
verifier never reads them)."""

from __future__ import annotations

import threading

from botocore.exceptions import ClientError

from chalicelib.domain.errors import Conflict


class DynamoDBLedgerIndex:
    def __init__(self, client, ops_table: str) -> None:
        self._client = client
        self._table = ops_table

    # A reversal marker is claimed *before* the reversal is sealed, so two concurrent reversals
    # of one entry cannot both succeed; it is released if sealing fails.
    def claim_reversal(self, tenant_id: str, chain: str, seq: int) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": f"REVERSED#{tenant_id}#{chain}"}, "sk": {"S": f"{seq:020d}"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"entry {seq} of {chain} is already reversed", field="seq") from exc
            raise

    def release_reversal(self, tenant_id: str, chain: str, seq: int) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"pk": {"S": f"REVERSED#{tenant_id}#{chain}"}, "sk": {"S": f"{seq:020d}"}}
        )

    def is_reversed(self, tenant_id: str, chain: str, seq: int) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"REVERSED#{tenant_id}#{chain}"}, "sk": {"S": f"{seq:020d}"}},
            ConsistentRead=True,
        )
        return "Item" in item

    def add_closure(self, tenant_id: str, chain: str, kind: str, period: str, seq: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={"pk": {"S": f"CLOSURES#{tenant_id}#{chain}"}, "sk": {"S": f"{kind}#{period}"},
                  "seq": {"N": str(seq)}},
        )

    def closures(self, tenant_id: str, chain: str, kind: str | None = None) -> list[tuple[str, str, int]]:
        """(kind, period, seq) in period order."""
        values = {":pk": {"S": f"CLOSURES#{tenant_id}#{chain}"}}
        condition = "pk = :pk"
        if kind:
            condition += " AND begins_with(sk, :k)"
            values[":k"] = {"S": f"{kind}#"}
        kwargs = {"TableName": self._table, "KeyConditionExpression": condition,
                  "ExpressionAttributeValues": values, "ConsistentRead": True}
        found = []
        while True:
            resp = self._client.query(**kwargs)
            for item in resp.get("Items", []):
                k, period = item["sk"]["S"].split("#", 1)
                found.append((k, period, int(item["seq"]["N"])))
            if "LastEvaluatedKey" not in resp:
                return found
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class InMemoryLedgerIndex:
    def __init__(self) -> None:
        self._reversed: set[tuple[str, str, int]] = set()
        self._closures: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        self._lock = threading.Lock()

    def claim_reversal(self, tenant_id, chain, seq):
        with self._lock:
            if (tenant_id, chain, seq) in self._reversed:
                raise Conflict(f"entry {seq} of {chain} is already reversed", field="seq")
            self._reversed.add((tenant_id, chain, seq))

    def release_reversal(self, tenant_id, chain, seq):
        self._reversed.discard((tenant_id, chain, seq))

    def is_reversed(self, tenant_id, chain, seq):
        return (tenant_id, chain, seq) in self._reversed

    def add_closure(self, tenant_id, chain, kind, period, seq):
        self._closures.setdefault((tenant_id, chain), {})[(kind, period)] = seq

    def closures(self, tenant_id, chain, kind=None):
        items = self._closures.get((tenant_id, chain), {})
        return [(k, p, s) for (k, p), s in sorted(items.items()) if kind in (None, k)]
