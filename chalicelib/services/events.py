"""The event journal (JET): critical actions, sealed in each tenant's ``events`` chain.

Same sealing mechanism as the ledger, in its own table whose items expire from the hot table
after 30 days (TTL) once archived; the chain's head lives in a pointer that never expires, so
the chain never restarts (invariant I4).

Two ways in (decision 0012):

* actions that are not ledger entries (sign-up, role change, export, go-live...) are recorded by
  the action itself: if the event cannot be recorded, the action fails rather than happen
  unrecorded;
* each sealed ledger entry (sale, journal entry, reversal, closure) gets its event from the
  journal stream: ``EventDeriver`` seals it exactly once, keyed by the source chain and seq, with
  a per-chain cursor moved in the same transaction as the events (invariant I5). A sale thus
  never waits on, or contends for, the tenant's one events chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.claims import Claim, ClaimTaken
from chalicelib.domain.event_kinds import KINDS
from chalicelib.domain.records import SealedRecord, chain_key, parse_chain_key
from chalicelib.observability import logger
from chalicelib.services.sealing import ChainWriter

EVENTS_CHAIN = "events"
PLATFORM_TENANT = "_platform"
HOT_DAYS = 30



def event_writer(store, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC), **kw: Any) -> ChainWriter:
    """The writer of event chains: items expire after ``HOT_DAYS``, the head is kept in a pointer."""
    return ChainWriter(store, clock=clock, ttl_seconds=HOT_DAYS * 86400, head_pointer=True, **kw)


# ---- events derived from sealed ledger entries -------------------------------------------------

DERIVED_KINDS = {"sale": "sale_recorded", "journal": "journal_recorded", "reversal": "entry_reversed",
                 "closure": "period_closed"}
# One transaction holds at most 100 items: the events, the source chain's cursor, the head pointer.
DERIVE_CHUNK = 98


def _actor_of(data: dict[str, Any]) -> tuple[str | None, str | None]:
    for name in ("seller", "recorded_by", "closed_by"):
        who = data.get(name)
        if isinstance(who, dict):
            return who.get("user_id"), who.get("name")
    return None, None


def derived_event(record: SealedRecord) -> dict[str, Any]:
    """The event (``kind``, ``actor``, ``details``) that records ``record``: every sealed entry
    has exactly one, so the event journal can be checked against the chains."""
    kind = DERIVED_KINDS.get(record.type, "entry_recorded")
    data = record.data
    actor, actor_name = _actor_of(data)
    details: dict[str, Any] = {"chain": record.chain, "seq": record.seq, "hash": record.hash,
                                "recorded_at": record.recorded_at}
    if actor_name is not None:
        details["actor_name"] = actor_name
    if record.type == "sale":
        total = (data.get("totals") or {}).get("incl")
        if isinstance(total, int):
            details["total_cents"] = total
    elif record.type == "reversal":
        original = data.get("original") or {}
        details["original_seq"] = original.get("seq")
        details["reason"] = str(data.get("reason", ""))[:500]
    elif record.type == "closure":
        for name in ("kind", "period", "period_grand_total", "perpetual_grand_total"):
            details[name] = data.get(name)
    return {"kind": kind, "actor": actor, "details": details}


def cursor_key(source_chain_key: str) -> tuple[str, str]:
    return f"DERIVED#{source_chain_key}", "cursor"


class EventDeriver:
    """Seals the event of every ledger entry, exactly once, in source order per chain.

    ``derive(records)`` takes the entries the journal stream delivered (in any order, with
    duplicates) and brings each source chain's cursor up to the highest seq seen, reading any
    entry the stream skipped from the journal itself. The events of a chunk and the cursor's
    move are one conditional write: a redelivered record, a re-run after a crash, or a rival
    deriver finds the cursor already past it and seals nothing twice.
    """

    def __init__(self, journal_store, event_store, writer: ChainWriter, *, max_rounds: int = 20) -> None:
        self._journal = journal_store
        self._claims = event_store
        self._writer = writer
        self._max_rounds = max_rounds

    def derive(self, records: Iterable[SealedRecord]) -> set[str]:
        """Derive up to the highest seq of each source chain; returns the chain keys that failed."""
        highest: dict[str, SealedRecord] = {}
        seen: dict[str, dict[int, SealedRecord]] = defaultdict(dict)
        for record in records:
            key = record.chain_key
            seen[key][record.seq] = record
            if key not in highest or record.seq > highest[key].seq:
                highest[key] = record
        failed = set()
        for key, last in highest.items():
            try:
                self.derive_chain(key, last.seq, seen[key])
            except Exception:
                logger.exception("events not derived yet; the records will be retried", extra={"chain": key})
                failed.add(key)
        return failed

    def catch_up(self, tenant_id: str, chains: Iterable[str]) -> int:
        """Derive every event still missing for these chains (the schedule's safety net, and the
        in-process path where no stream runs); returns how many were sealed."""
        sealed = 0
        for chain in chains:
            if chain == EVENTS_CHAIN:
                continue
            key = chain_key(tenant_id, chain)
            head = self._journal.head(key)
            if head is not None:
                sealed += self.derive_chain(key, head.seq)
        return sealed

    def cursor(self, source_chain_key: str) -> int:
        stored = self._claims.claim(*cursor_key(source_chain_key))
        return int(stored["seq"]) if stored else 0

    def derive_chain(self, source_chain_key: str, through: int, known: dict[int, SealedRecord] | None = None) -> int:
        """Bring the cursor of one source chain to ``through``; returns how many events were sealed."""
        tenant_id, _ = parse_chain_key(source_chain_key)
        known = known or {}
        sealed = 0
        for _ in range(self._max_rounds):
            stored = self._claims.claim(*cursor_key(source_chain_key))
            done = int(stored["seq"]) if stored else 0
            if done >= through:
                return sealed
            last = min(through, done + DERIVE_CHUNK)
            sources = [known.get(seq) for seq in range(done + 1, last + 1)]
            if any(r is None for r in sources):
                sources = list(self._journal.scan(source_chain_key, done + 1, last))
            if not sources or sources[0].seq != done + 1:
                raise RuntimeError(f"{source_chain_key}: seq {done + 1} is not in the journal yet")
            events = [derived_event(r) for r in sources]
            top = sources[-1]
            cursor = Claim(*cursor_key(source_chain_key), {"seq": top.seq, "hash": top.hash},
                           expect_seq=done if stored else None)
            try:
                self._writer.append_batch(tenant_id, EVENTS_CHAIN, [("event", e) for e in events],
                                          training=top.training, claims=lambda recs, c=cursor: [c])
            except ClaimTaken:
                continue  # another deriver (or an earlier try) moved the cursor: read it again
            sealed += len(events)
        raise RuntimeError(f"{source_chain_key}: the event cursor kept moving; retry later")


class EventJournal:
    def __init__(self, writer: ChainWriter) -> None:
        self._writer = writer

    @property
    def writer(self) -> ChainWriter:
        return self._writer

    def record(
        self,
        tenant_id: str,
        kind: str,
        *,
        actor: str | None,
        details: dict[str, Any] | None = None,
        training: bool = False,
    ) -> SealedRecord:
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        data = {"kind": kind, "actor": actor, "details": dict(details or {})}
        return self._writer.append(tenant_id or PLATFORM_TENANT, EVENTS_CHAIN, "event", data, training=training)

    def record_many(self, tenant_id: str, events: list[dict[str, Any]], *, training: bool,
                    claims: Callable | None = None) -> list[SealedRecord]:
        return self._writer.append_batch(tenant_id or PLATFORM_TENANT, EVENTS_CHAIN,
                                         [("event", e) for e in events], training=training, claims=claims)

    def list(self, tenant_id: str, *, start: str, end: str, limit: int, after_seq: int | None = None):
        return self._writer.store.by_time(chain_key(tenant_id, EVENTS_CHAIN), start, end, limit=limit,
                                          after_seq=after_seq)
