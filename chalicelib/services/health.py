"""Readiness: every table answers. Used by ``GET /health`` and the local stack's start-up wait."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    checks: dict[str, str]


class HealthService:
    def __init__(self, dynamodb_client, table_names: list[str]) -> None:
        self._dynamodb = dynamodb_client
        self._tables = table_names

    def check(self) -> HealthReport:
        checks: dict[str, str] = {}
        for name in self._tables:
            try:
                status = self._dynamodb.describe_table(TableName=name)["Table"]["TableStatus"]
                checks[name] = "ok" if status == "ACTIVE" else status.lower()
            except Exception as exc:  # any failure means "not reachable", which is the answer
                checks[name] = f"unreachable: {type(exc).__name__}"
        return HealthReport(ok=all(v == "ok" for v in checks.values()), checks=checks)
