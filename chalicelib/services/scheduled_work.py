"""Scheduled work of continuous verification (the full verifier has its own module):

* ``CheckpointSigner`` (``sign_checkpoints``, every 5 minutes): every chain with new entries gets
  a signed checkpoint, and pending archive entries older than the segment window are written.
  It never signs over a head that disagrees with what the stream verifier saw, nor over entries
  that do not verify (the checkpoint service refuses, ``SigningRefused``: listed as refused).
* ``ExpirySweeper`` (``sweep_expired_events``, local mode only): deletes expired event-journal
  items once they are archived, leaving a sweep ticket first so that the events stream handler
  recognises the deletion as an expiry (decision 0006).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib.domain.checkpoint import SigningRefused
from chalicelib.domain.records import RecordError, chain_key, utc_timestamp
from chalicelib.observability import logger
from chalicelib.services.events import EVENTS_CHAIN
from chalicelib.services.stream_verifier import sweep_ticket_pk, sweep_ticket_sk
from chalicelib.services.tamper_alarms import TamperAlarm


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SigningRun:
    signed: list[tuple[str, str, int]] = field(default_factory=list)  # (tenant, chain, size)
    flushed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    cosigned: list[tuple[str, str, int]] = field(default_factory=list)  # (tenant, chain, size) the witness signed
    reported: list[tuple[str, str, int]] = field(default_factory=list)  # (tenant, chain, closure seq) mailed
    max_archive_lag: float = 0.0


class CheckpointSigner:
    def __init__(
        self,
        *,
        directory,
        checkpoints,
        events_checkpoints,
        journal_store,
        events_store,
        ops,
        archiver,
        alarms,
        on_lag: Callable[[float], None] | None = None,
        witness=None,
        reports=None,
    ) -> None:
        """``witness``: a ``WitnessSubmitter`` (decision 0024): each chain's newest checkpoint is
        submitted for co-signing once, after it is signed. ``reports``: a ``ClosureReporter``:
        the Z report of each day closure the new checkpoint covers is mailed."""
        self._witness = witness
        self._reports = reports
        self._directory = directory
        self._checkpoints = checkpoints
        self._events_checkpoints = events_checkpoints
        self._journal = journal_store
        self._events = events_store
        self._ops = ops
        self._archiver = archiver
        self._alarms = alarms
        self._on_lag = on_lag or (lambda seconds: None)

    def run(self, *, tenants=None) -> SigningRun:
        run = SigningRun()
        wanted = set(tenants) if tenants is not None else None
        for tenant_id, chain in self._directory.all_chains():
            if wanted is not None and tenant_id not in wanted:
                continue
            try:
                self._one(tenant_id, chain, run)
            except Exception as exc:
                logger.exception("checkpoint signing failed for a chain", extra={"tenant_id": tenant_id,
                                                                                 "chain": chain})
                run.errors.append((tenant_id, chain, str(exc)))
        self._on_lag(run.max_archive_lag)
        return run

    def _one(self, tenant_id: str, chain: str, run: SigningRun) -> None:
        key = chain_key(tenant_id, chain)
        events = chain == EVENTS_CHAIN
        service = self._events_checkpoints if events else self._checkpoints
        store = self._events if events else self._journal
        state = self._ops.chain_state(key)
        try:
            head = store.head(key)
        except RecordError as exc:
            run.refused.append((tenant_id, chain, f"the head entry is not a sealed record: {exc.detail}"))
            return
        if head is None:
            return
        if state.exists and state.seq == head.seq and state.hash != head.hash:
            reason = (f"seq {head.seq}: the table's head hash {head.hash} differs from {state.hash}, the hash the "
                      "stream verifier saw inserted; refusing to sign over it")
            run.refused.append((tenant_id, chain, reason))
            self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, head.seq, "head_mismatch", reason,
                                                 "sign_checkpoints", evidence=head.hash))
            return
        latest = service.latest(tenant_id, chain)
        if latest is None or latest.checkpoint.size < head.seq:
            try:
                signed = service.checkpoint(tenant_id, chain)
            except SigningRefused as exc:  # the chain does not verify: alarmed by the service, nothing signed
                run.refused.append((tenant_id, chain, exc.detail))
                signed = None
            if signed is not None:
                run.signed.append((tenant_id, chain, signed.size))
        if self._witness is not None:
            self._cosign(tenant_id, chain, store, run)
        if self._reports is not None and not events:
            try:
                run.reported.extend((tenant_id, chain, seq) for seq in self._reports.report(tenant_id, chain))
            except Exception:  # a mail problem never stops signing; the cursor retries next run
                logger.exception("Z report not sent", extra={"tenant_id": tenant_id, "chain": chain})
        if self._archiver.due(state):
            self._archiver.flush(key, force=True)
            run.flushed.append(key)
            state = self._ops.chain_state(key)
        run.max_archive_lag = max(run.max_archive_lag, self._archiver.lag_seconds(state))


    def _cosign(self, tenant_id: str, chain: str, store, run: SigningRun) -> None:
        from chalicelib.domain.witness import WitnessRefused

        if self._witness.has_cosigned_newest(tenant_id, chain):
            return
        try:
            cosigned = self._witness.submit(tenant_id, chain, store)
        except WitnessRefused as exc:  # alarmed by the witness (or the submitter)
            run.refused.append((tenant_id, chain, f"witness: {exc.detail}"))
            return
        if cosigned is not None:
            run.cosigned.append((tenant_id, chain, cosigned.size))


@dataclass
class SweepRun:
    deleted: list[tuple[str, int]] = field(default_factory=list)
    waiting: list[tuple[str, int]] = field(default_factory=list)  # expired but not archived yet


class ExpirySweeper:
    """Local mode's stand-in for DynamoDB TTL on the events table."""

    def __init__(self, *, expired_items, ops, archiver, enabled: bool, clock: Callable[[], datetime] = _utcnow,
                 ticket_days: int = 7) -> None:
        self._items = expired_items
        self._ops = ops
        self._archiver = archiver
        self._enabled = enabled
        self._clock = clock
        self._ticket_days = ticket_days

    def run(self) -> SweepRun:
        result = SweepRun()
        if not self._enabled:
            logger.info("TTL sweeper skipped: DynamoDB expires items itself outside local mode")
            return result
        now = self._clock()
        flushed: set[str] = set()
        for pk, seq, ttl in self._items.expired(int(now.timestamp())):
            state = self._ops.chain_state(pk)
            if seq > state.archived_through and pk not in flushed:
                self._archiver.flush(pk, force=True)
                flushed.add(pk)
                state = self._ops.chain_state(pk)
            if seq > state.archived_through:
                result.waiting.append((pk, seq))
                continue
            self._ops.put_once(sweep_ticket_pk(pk), sweep_ticket_sk(seq), {"ttl": ttl, "swept_at": utc_timestamp(now)},
                               expires_at=int((now + timedelta(days=self._ticket_days)).timestamp()))
            if self._items.delete(pk, seq, ttl):
                result.deleted.append((pk, seq))
        if result.deleted or result.waiting:
            logger.info("TTL sweep", extra={"deleted": len(result.deleted), "waiting": len(result.waiting)})
        return result
