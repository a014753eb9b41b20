"""Small indexes over the ledger in the ``ops`` table: which entries are reversed, and where each
closure sits in its chain. Their items are the claims sealed with the reversal or the closure in
one transaction (decision 0012), so they can never disagree with the chain; the chain stays the
source of truth all the same (the verifier never reads them)."""

from __future__ import annotations


class DynamoDBLedgerIndex:
    def __init__(self, client, ops_table: str) -> None:
        self._client = client
        self._table = ops_table

    def is_reversed(self, tenant_id: str, chain: str, seq: int) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"REVERSED#{tenant_id}#{chain}"}, "sk": {"S": f"{seq:020d}"}},
            ConsistentRead=True,
        )
        return "Item" in item

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
    """The same reads over the claims of an in-memory chain store (the claims are the index)."""

    def __init__(self, store) -> None:
        self._claims = store.claims

    def is_reversed(self, tenant_id, chain, seq):
        return (f"REVERSED#{tenant_id}#{chain}", f"{seq:020d}") in self._claims

    def closures(self, tenant_id, chain, kind=None):
        pk = f"CLOSURES#{tenant_id}#{chain}"
        found = []
        for (item_pk, sk), values in sorted(self._claims.items()):
            k, period = sk.split("#", 1) if "#" in sk else (sk, "")
            if item_pk == pk and kind in (None, k):
                found.append((k, period, int(values["seq"])))
        return found
