"""``scelle restore-drill``: prove that the journal can be restored and that the restored copy is
the ledger. Restores the journal into a new table (point-in-time, an on-demand backup, or the
archive), verifies every chain in it against the signed checkpoints, compares each chain's head
with the archive's, prints a report and deletes the drill table (unless ``--keep``).

A chain is ``ok`` when it verifies and agrees with the archive and its latest checkpoint;
``behind`` when it verifies but the archive or a signed checkpoint holds later entries (normal
for an older backup: those entries are recovered from the archive); ``failed`` otherwise.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from chalicelib.domain.records import parse_chain_key


@dataclass(frozen=True)
class DrillChain:
    tenant_id: str
    chain: str
    status: str  # ok | behind | failed
    size: int
    proven_size: int
    reason: str
    first_bad_seq: int | None
    archived_through: int
    checkpoint_size: int
    detail: str


@dataclass
class DrillReport:
    source: str
    restored_from: str
    table: str
    started_at: str
    seconds: float = 0.0
    items: int = 0
    chains: list[DrillChain] = field(default_factory=list)
    kept: bool = False

    @property
    def ok(self) -> bool:
        return all(c.status != "failed" for c in self.chains)

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def to_text(self) -> str:
        counts = {s: sum(1 for c in self.chains if c.status == s) for s in ("ok", "behind", "failed")}
        lines = [
            "Scellé restore drill",
            f"  source         {self.source} ({self.restored_from})",
            f"  drill table    {self.table}{' (kept)' if self.kept else ' (deleted)'}",
            f"  started        {self.started_at}, {self.seconds:.1f} s",
            f"  items          {self.items}",
            f"  chains         {len(self.chains)}: {counts['ok']} ok, {counts['behind']} behind, "
            f"{counts['failed']} failed",
            "",
        ]
        for c in self.chains:
            lines.append(
                f"  [{c.status:6}] {c.tenant_id}/{c.chain}: {c.size} entries, {c.proven_size} under signed "
                f"checkpoints; archive {c.archived_through}, latest checkpoint {c.checkpoint_size}"
            )
            if c.status != "ok":
                where = f" at seq {c.first_bad_seq}" if c.first_bad_seq else ""
                lines.append(f"           {c.reason}{where}: {c.detail}")
        lines += ["", "RESULT: " + ("PASSED" if self.ok else "FAILED")]
        return "\n".join(lines)


class RestoreDrill:
    def __init__(
        self,
        *,
        dynamodb,
        backups,
        archive,
        checkpoint_store,
        key_registry,
        journal_table: str,
        make_store: Callable[[str], object],
        make_verification: Callable[[object], object],
        create_journal_table: Callable[[str], None],
    ) -> None:
        self._ddb = dynamodb
        self._backups = backups
        self._archive = archive
        self._checkpoints = checkpoint_store
        self._keys = key_registry
        self._journal_table = journal_table
        self._make_store = make_store
        self._make_verification = make_verification
        self._create_table = create_journal_table

    def run(self, *, source: str = "pitr", at: datetime | None = None, backup_arn: str | None = None,
            tenants: Iterable[str] | None = None, keep: bool = False,
            on_chain: Callable[[int, int, str], None] | None = None) -> DrillReport:
        """``on_chain(done, total, "tenant/chain")`` after each chain is checked (a progress bar)."""
        started = time.monotonic()
        now = datetime.now(UTC)
        target = f"{self._journal_table}-drill-{now:%Y%m%d%H%M%S}{secrets.token_hex(2)}"
        wanted = set(tenants) if tenants else None
        if source == "archive":
            restored_from = self._restore_from_archive(target, wanted)
        else:
            restored_from = self._backups.restore("journal", target, source=source, at=at,
                                                  backup_arn=backup_arn).restored_from
        report = DrillReport(source, restored_from, target, now.isoformat(timespec="seconds"), kept=keep)
        try:
            chains, report.items = self._chains(target, wanted)
            store = self._make_store(target)
            verification = self._make_verification(store)
            for done, (tenant_id, chain) in enumerate(sorted(chains), start=1):
                report.chains.append(self._check(store, verification, tenant_id, chain))
                if on_chain is not None:
                    on_chain(done, len(chains), f"{tenant_id}/{chain}")
        finally:
            if not keep:
                self._backups.delete(target)
            report.seconds = time.monotonic() - started
        return report

    def _chains(self, table: str, wanted: set[str] | None) -> tuple[set[tuple[str, str]], int]:
        found: set[tuple[str, str]] = set()
        items = 0
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=table, ProjectionExpression="pk"):
            for item in page.get("Items", []):
                items += 1
                tenant_id, chain = parse_chain_key(item["pk"]["S"])
                if wanted is None or tenant_id in wanted:
                    found.add((tenant_id, chain))
        return found, items

    def _check(self, store, verification, tenant_id: str, chain: str) -> DrillChain:
        from chalicelib.domain.records import chain_key

        key = chain_key(tenant_id, chain)
        report = verification.verify(tenant_id, chain)
        archived_through, archived_hash = self._archive.head(key)
        latest = self._checkpoints.latest(key)
        checkpoint_size = latest.checkpoint.size if latest else 0
        status, reason, seq, detail = "ok", "ok", None, report.detail
        if not report.ok and report.reason != "truncated":
            status, reason, seq, detail = "failed", report.reason, report.first_bad_seq, report.detail
        else:
            behind = []
            if not report.ok:  # a signed checkpoint beyond the restored end: an older copy
                behind.append(report.detail)
            if archived_through > report.size:
                behind.append(f"the archive holds entries {report.size + 1} to {archived_through}: recover them "
                              "from the archive")
            if archived_through and archived_through <= report.size:
                entry = store.get(key, archived_through)
                if entry is None or entry.hash != archived_hash:
                    status, reason, seq = "failed", "archive_mismatch", archived_through
                    detail = (f"seq {archived_through}: the restored entry's hash differs from the archive's "
                              f"{archived_hash}")
            if status == "ok" and behind:
                status, reason, seq, detail = "behind", "behind", report.size + 1, "; ".join(behind)
        return DrillChain(tenant_id, chain, status, report.size, report.proven_size, reason, seq, archived_through,
                          checkpoint_size, detail)

    def _restore_from_archive(self, target: str, wanted: set[str] | None) -> str:
        from chalicelib.domain.records import SealedRecord, chain_key
        from chalicelib.ports.journal_items import to_item
        from chalicelib.services.events import EVENTS_CHAIN

        self._create_table(target)
        self._backups.wait_active(target)
        batch: list[dict] = []
        chains = 0
        for tenant_id, chain in self._archive.chains():
            if chain == EVENTS_CHAIN or (wanted is not None and tenant_id not in wanted):
                continue
            chains += 1
            key = chain_key(tenant_id, chain)
            for record in self._archive.records(key):
                batch.append({"PutRequest": {"Item": to_item(SealedRecord.from_item(record))}})
                if len(batch) == 25:
                    self._write(target, batch)
                    batch = []
        if batch:
            self._write(target, batch)
        return f"archive bucket, {chains} chain(s)"

    def _write(self, table: str, batch: list[dict]) -> None:
        pending = {table: batch}
        while pending:
            pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
