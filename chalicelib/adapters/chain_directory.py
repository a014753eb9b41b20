"""Which chains exist, per tenant: scheduled jobs (checkpoints, closures, full verification) and
the API enumerate chains from here. A chain is registered before its genesis record is written,
so no chain can exist unlisted (an entry without records is harmless: it verifies as empty)."""

from __future__ import annotations

import threading
from collections.abc import Iterator


class DynamoDBChainDirectory:
    PK = "CHAINS"

    def __init__(self, client, ops_table: str) -> None:
        self._client = client
        self._table = ops_table
        self._known: set[tuple[str, str]] = set()

    def register(self, tenant_id: str, chain: str) -> None:
        if (tenant_id, chain) in self._known:
            return
        self._client.put_item(
            TableName=self._table,
            Item={"pk": {"S": self.PK}, "sk": {"S": f"{tenant_id}#{chain}"},
                  "tenant_id": {"S": tenant_id}, "chain": {"S": chain}},
        )
        self._known.add((tenant_id, chain))

    def _query(self, prefix: str) -> Iterator[tuple[str, str]]:
        kwargs = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":pk": {"S": self.PK}, ":p": {"S": prefix}},
        }
        if not prefix:  # DynamoDB refuses begins_with on an empty string
            kwargs["KeyConditionExpression"] = "pk = :pk"
            kwargs["ExpressionAttributeValues"] = {":pk": {"S": self.PK}}
        while True:
            resp = self._client.query(**kwargs)
            for item in resp.get("Items", []):
                yield item["tenant_id"]["S"], item["chain"]["S"]
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def chains(self, tenant_id: str) -> list[str]:
        return sorted(chain for _, chain in self._query(f"{tenant_id}#"))

    def all_chains(self) -> Iterator[tuple[str, str]]:
        return self._query("")


class InMemoryChainDirectory:
    def __init__(self) -> None:
        self._chains: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def register(self, tenant_id: str, chain: str) -> None:
        with self._lock:
            self._chains.add((tenant_id, chain))

    def chains(self, tenant_id: str) -> list[str]:
        return sorted(c for t, c in self._chains if t == tenant_id)

    def all_chains(self) -> Iterator[tuple[str, str]]:
        return iter(sorted(self._chains))
