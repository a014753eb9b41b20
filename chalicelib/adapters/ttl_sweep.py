"""Expired items of a TTL table, for the local sweeper only (moto never expires items).

``delete`` is conditional on the ``ttl`` value it read, so an item whose ttl was changed in the
meantime is left alone (and that change is itself a MODIFY the stream verifier reports).
"""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import ClientError


class DynamoDBExpiredItems:
    def __init__(self, client, table_name: str, ttl_attribute: str = "ttl") -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_attribute

    def expired(self, now_epoch: int) -> Iterator[tuple[str, int, int]]:
        """(pk, seq, ttl) of every item whose ttl is in the past."""
        kwargs = {
            "TableName": self._table,
            "FilterExpression": "#ttl < :now",
            "ProjectionExpression": "pk, sk, #ttl",
            "ExpressionAttributeNames": {"#ttl": self._ttl},
            "ExpressionAttributeValues": {":now": {"N": str(now_epoch)}},
        }
        for page in self._client.get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items", []):
                yield item["pk"]["S"], int(item["sk"]["N"]), int(item[self._ttl]["N"])

    def delete(self, pk: str, seq: int, ttl: int) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": pk}, "sk": {"N": str(seq)}},
                ConditionExpression="#ttl = :ttl",
                ExpressionAttributeNames={"#ttl": self._ttl},
                ExpressionAttributeValues={":ttl": {"N": str(ttl)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
