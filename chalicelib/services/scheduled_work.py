"""Scheduled work of continuous verification (the full verifier has its own module):

* ``CheckpointSigner`` (``sign_chain``, one unit per chain every 5 minutes): every chain with new entries gets
  a signed checkpoint, and pending archive entries older than the segment window are written.
  It never signs over a head that disagrees with what the stream verifier saw, nor over entries
  that do not verify (the checkpoint service refuses, ``SigningRefused``: listed as refused).
* ``ExpirySweeper`` (``sweep_expired_events``, local mode only): deletes expired event-journal
  items once they are archived, leaving a sweep ticket first so that the events stream handler
  recognises the deletion as an expiry (decision 0006).
"""

from __future__ import annotations

import hashlib
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
    # A backfill reads the chain once from seq 1: beyond this, more than a signing unit's 120 s.
    BACKFILL_MAX_ENTRIES = 200_000
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
        """Every chain in one pass: commands and tests. The schedule fans out one unit per chain
        instead (``WorkDispatcher``, ``run_chain``)."""
        run = SigningRun()
        wanted = set(tenants) if tenants is not None else None
        for tenant_id, chain in self._directory.all_chains():
            if wanted is not None and tenant_id not in wanted:
                continue
            self._guarded(tenant_id, chain, run)
        self._on_lag(run.max_archive_lag)
        return run

    def run_chain(self, tenant_id: str, chain: str) -> SigningRun:
        """One unit of ``sign-work``: this chain only."""
        run = SigningRun()
        self._guarded(tenant_id, chain, run)
        self._on_lag(run.max_archive_lag)
        return run

    def _guarded(self, tenant_id: str, chain: str, run: SigningRun) -> None:
        try:
            self._one(tenant_id, chain, run)
        except Exception as exc:
            logger.exception("checkpoint signing failed for a chain", extra={"tenant_id": tenant_id, "chain": chain})
            run.errors.append((tenant_id, chain, str(exc)))

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
                                                 "sign_chain", evidence=head.hash))
            return
        latest = service.latest(tenant_id, chain)
        if not events and latest is not None and latest.checkpoint.size <= self.BACKFILL_MAX_ENTRIES:
            # A chain signed before tiles (decision 0026) gets them once, so that its proofs stop
            # reading the chain; a tiled chain costs one read of its edge tiles here.
            backfill = getattr(service, "backfill_tiles", None)
            try:
                if backfill is not None and backfill(tenant_id, chain, latest=latest):
                    logger.info("tiles stored for a chain signed before them", extra={"tenant_id": tenant_id,
                                                                                     "chain": chain})
            except SigningRefused as exc:  # the chain does not verify: alarmed by the service
                run.refused.append((tenant_id, chain, exc.detail))
                return
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


# ---- fan-out: one unit per chain (decision 0028) ----------------------------------------------
def job_applies(job: str, chain: str) -> bool:
    """Which chains a job's schedule sends units for: every chain is signed; production ledger
    chains are closed; production chains and the event journal are re-verified."""
    if job == "sign":
        return True
    if job == "close":
        return chain.startswith("prod.")
    return chain.startswith("prod.") or chain == EVENTS_CHAIN


def schedule_window(event: dict | None, now: datetime) -> str:
    """The schedule's own time (EventBridge's ``time``: the same in a duplicate delivery), else now
    to the minute. It names the units of one run for SQS's deduplication."""
    time = (event or {}).get("time")
    return time if isinstance(time, str) and time else now.strftime("%Y-%m-%dT%H:%MZ")


FULL_PASS_EVERY_HOURS = 168  # each chain is re-verified from seq 1 once a week, at its own hour


def _hour_of_week(window: str) -> int | None:
    try:
        when = datetime.fromisoformat(window.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.weekday() * 24 + when.hour


def full_pass_due(tenant_id: str, chain: str, hour_of_week: int | None) -> bool:
    """Whether this hour's verification of the chain reads it from seq 1: once a week, at an hour
    drawn from the chain's key, so that the full passes of all chains spread evenly over the week.
    Without a readable window, always (the safe side)."""
    if hour_of_week is None:
        return True
    slot = int(hashlib.sha256(chain_key(tenant_id, chain).encode()).hexdigest(), 16) % FULL_PASS_EVERY_HOURS
    return slot == hour_of_week % FULL_PASS_EVERY_HOURS


@dataclass
class DispatchRun:
    job: str
    chains: int
    sent: int


class WorkDispatcher:
    """What a schedule does now: list the chains and queue one unit per chain, starting at a
    different chain each window, so that a dispatcher cut short never leaves the same chains behind."""

    def __init__(self, *, directory, queues) -> None:
        self._directory = directory
        self._queues = queues

    def dispatch(self, job: str, window: str) -> DispatchRun:
        from chalicelib.ports.work import JOBS, ChainUnit

        if job not in JOBS:
            raise ValueError(f"unknown job {job!r}")
        chains = [(t, c) for t, c in self._directory.all_chains() if job_applies(job, c)]
        if not chains:
            return DispatchRun(job, 0, 0)
        start = int(hashlib.sha256(window.encode()).hexdigest(), 16) % len(chains)
        hour = _hour_of_week(window)
        units = [ChainUnit(job, t, c, full=job == "verify" and full_pass_due(t, c, hour))
                 for t, c in chains[start:] + chains[:start]]
        sent = self._queues.send(units, window=window)
        logger.info("scheduled work queued", extra={"job": job, "chains": len(chains), "sent": sent, "window": window})
        return DispatchRun(job, len(chains), sent)


@dataclass
class VerifyRun:
    finding: object | None  # full_verifier.ChainFinding, None when the unit was refused
    derived: int
    continued_from: int | None  # the first seq of the next slice's unit, when one was sent


def verified_pass_pk(tenant_id: str, chain: str) -> str:
    return f"VERIFIED#{chain_key(tenant_id, chain)}"


class ChainVerificationWork:
    """One unit of ``verify-work``: events the stream left behind are derived, then the chain is
    verified and its head compared with its witnesses (archive, checkpoints, stream state).

    **Incremental**: an hourly unit verifies from the newest signed checkpoint the previous pass
    verified (its signature and Merkle frontier authenticate the state it resumes from), so an
    hour costs the entries of that hour; a unit marked ``full`` (once a week per chain, see
    ``full_pass_due``), or one without a previous pass, reads the chain from seq 1. Rewrites of
    older entries are also seen at once by the stream verifier (a MODIFY is an alarm).

    **Resumable**: a chain more than ``slice_entries`` past the unit's start is verified up to a
    signed checkpoint within the slice and the unit queues its continuation from there; each unit
    fits in its function's time."""

    SLICE_ENTRIES = 200_000  # at ~10k entries/s read and verified, well inside 900 s

    def __init__(self, *, deriver, full_verifier, journal_store, events_store, checkpoint_store, queues, ops=None,
                 slice_entries: int = SLICE_ENTRIES, clock: Callable[[], datetime] = _utcnow) -> None:
        self._deriver = deriver
        self._full = full_verifier
        self._journal = journal_store
        self._events = events_store
        self._checkpoints = checkpoint_store
        self._queues = queues
        self._ops = ops
        self._slice = slice_entries
        self._clock = clock

    def run(self, unit) -> VerifyRun:
        from chalicelib.ports.work import ChainUnit

        derived = 0
        if unit.from_seq == 1:
            try:
                derived = self._deriver.catch_up(unit.tenant_id, [unit.chain])
            except Exception:  # verification goes on; the next hour derives them
                logger.exception("events not derived yet; the next run retries",
                                 extra={"tenant_id": unit.tenant_id, "chain": unit.chain})
            if not unit.full:
                unit = ChainUnit(unit.job, unit.tenant_id, unit.chain, self._resume_from(unit), unit.full)
        last = self._slice_end(unit)
        if last is None:
            finding = self._full.verify(unit.tenant_id, unit.chain, first_seq=unit.from_seq)
            if finding.ok:
                self._record_pass(unit, finding)
            return VerifyRun(finding, derived, None)
        finding = self._full.verify(unit.tenant_id, unit.chain, first_seq=unit.from_seq, last_seq=last)
        if not finding.ok:  # alarmed; the next hour's pass starts again from its last good checkpoint
            return VerifyRun(finding, derived, None)
        self._queues.send([ChainUnit("verify", unit.tenant_id, unit.chain, last + 1, unit.full)],
                          window="continuation")
        return VerifyRun(finding, derived, last + 1)

    def _resume_from(self, unit) -> int:
        """After the newest checkpoint the last pass verified, if it is still stored; else 1."""
        if self._ops is None:
            return 1
        mark = self._ops.get(verified_pass_pk(unit.tenant_id, unit.chain), "pass") or {}
        size = int(mark.get("size") or 0)
        if size <= 0:
            return 1
        anchor = self._checkpoints.latest_at_or_below(chain_key(unit.tenant_id, unit.chain), size)
        return size + 1 if anchor is not None and anchor.checkpoint.size == size else 1

    def _record_pass(self, unit, finding) -> None:
        proven = getattr(finding, "proven_size", 0)
        if self._ops is None or not proven:
            return
        pk, values = verified_pass_pk(unit.tenant_id, unit.chain), {
            "size": proven, "at": utc_timestamp(self._clock()), "full": unit.full}
        if not self._ops.put_once(pk, "pass", values):
            self._ops.set_values(pk, "pass", values)

    def _slice_end(self, unit) -> int | None:
        """The size of the last signed checkpoint within the slice; None: verify to the head."""
        key = chain_key(unit.tenant_id, unit.chain)
        store = self._events if unit.chain == EVENTS_CHAIN else self._journal
        try:
            head = store.head(key)
        except RecordError:
            return None
        if head is None or head.seq - unit.from_seq < self._slice:
            return None
        limit = unit.from_seq + self._slice - 1
        sizes = [s.checkpoint.size for s in self._checkpoints.list(key, unit.from_seq)
                 if s.checkpoint.size <= limit]
        return max(sizes) if sizes else None


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
