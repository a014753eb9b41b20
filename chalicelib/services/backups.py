"""On-demand backups and restores of the DynamoDB tables (point-in-time recovery is switched on by
the provisioning for every table that needs it).

``restore`` never touches the live table: it restores into a new table, which the restore drill
verifies and then deletes. Sources:

* ``pitr``   — point-in-time recovery: the latest restorable time, or ``at`` on AWS. moto accepts
  a restore time but ignores it (it copies the current items), so in local mode a past ``at`` is
  refused rather than silently answered with the present;
* ``backup`` — an on-demand backup (the given ARN or the table's latest): a true snapshot, in
  moto too;
* the archive is the third source, rebuilt by ``RestoreDrill`` itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.domain.errors import ValidationFailed


@dataclass(frozen=True)
class Restored:
    table: str
    source: str  # "pitr" | "backup" | "archive"
    restored_from: str  # backup ARN, or the restore time ("latest" for the latest restorable time)


class BackupService:
    def __init__(self, dynamodb, table_name, *, local_mode: bool, poll_seconds: float = 0.5,
                 timeout_seconds: float = 1800) -> None:
        self._ddb = dynamodb
        self._table_name = table_name  # logical -> physical name
        self._local = local_mode
        self._poll = poll_seconds
        self._timeout = timeout_seconds

    def create(self, logical: str, *, label: str = "on-demand") -> str:
        """Start an on-demand backup of a table; returns its ARN."""
        name = self._table_name(logical)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        resp = self._ddb.create_backup(TableName=name, BackupName=f"{name}-{label}-{stamp}"[:255])
        return resp["BackupDetails"]["BackupArn"]

    def list(self, logical: str) -> list[dict]:
        found, kwargs = [], {"TableName": self._table_name(logical)}
        while True:
            resp = self._ddb.list_backups(**kwargs)
            found.extend(resp.get("BackupSummaries", []))
            if not resp.get("LastEvaluatedBackupArn"):
                break
            kwargs["ExclusiveStartBackupArn"] = resp["LastEvaluatedBackupArn"]
        return sorted(found, key=lambda b: b["BackupCreationDateTime"])

    def latest(self, logical: str) -> str | None:
        available = [b for b in self.list(logical) if b.get("BackupStatus") == "AVAILABLE"]
        return available[-1]["BackupArn"] if available else None

    def restore(self, logical: str, target: str, *, source: str = "pitr", at: datetime | None = None,
                backup_arn: str | None = None) -> Restored:
        if source == "pitr":
            kwargs = {"SourceTableName": self._table_name(logical), "TargetTableName": target}
            if at is None:
                kwargs["UseLatestRestorableTime"] = True
            elif self._local:
                raise ValidationFailed(
                    "the embedded emulator accepts a point-in-time restore but ignores its time (it copies the "
                    "current items); restore from an on-demand backup (--source backup) or the archive instead",
                    field="at",
                )
            else:
                kwargs["RestoreDateTime"] = at
            self._ddb.restore_table_to_point_in_time(**kwargs)
            restored_from = "latest restorable time" if at is None else at.isoformat()
        elif source == "backup":
            arn = backup_arn or self.latest(logical)
            if arn is None:
                raise ValidationFailed(f"the {logical} table has no on-demand backup; create one with "
                                       "`scelle backup` first", field="backup_arn")
            self._ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)
            restored_from = arn
        else:
            raise ValidationFailed(f"unknown restore source {source!r}", field="source")
        self.wait_active(target)
        return Restored(target, source, restored_from)

    def wait_active(self, table: str) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            status = self._ddb.describe_table(TableName=table)["Table"]["TableStatus"]
            if status == "ACTIVE":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {table} is still {status}")
            time.sleep(self._poll)

    def delete(self, table: str) -> None:
        self._ddb.delete_table(TableName=table)
