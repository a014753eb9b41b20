"""Ledger use cases: record sales and journal entries, reverse them, close periods, read them.

Every write goes through ``ChainWriter`` (sealed, conditional, append-only) and is recorded in
the event journal. Who the caller is and what they may do was decided before (``Caller``); here
only ownership rules remain (a seller sees only their own sales). Tenant data (country, time
zone, test mode) always comes from the tenant record, never from the request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import closures as closure_rules
from chalicelib.domain.calendar import business_day_of, parse_period_key, period_bounds_utc, period_key
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.journal import build_journal_batch
from chalicelib.domain.permissions import Permission, allows
from chalicelib.domain.records import SealedRecord, chain_key, parse_timestamp
from chalicelib.domain.reversals import reversal_of
from chalicelib.domain.sales import build_sale
from chalicelib.domain.tenant import Tenant

CHECKPOINT_SCHEDULE_SECONDS = 300
PERIOD_ORDER = ("day", "month", "year")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Page:
    records: list[SealedRecord]
    next_cursor: str | None


def sales_chain(tenant: Tenant, register_id: str) -> str:
    return f"{tenant.chain_mode}.sales.{register_id}"


def journal_chain(tenant: Tenant) -> str:
    return f"{tenant.chain_mode}.journal"


class LedgerService:
    def __init__(
        self,
        *,
        writer,
        directory,
        index,
        checkpoints,
        tenants,
        events,
        idempotency,
        checkpoint_every: int,
        clock_skew: timedelta,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._writer = writer
        self._store = writer.store
        self._directory = directory
        self._index = index
        self._checkpoints = checkpoints
        self._tenants = tenants
        self._events = events
        self._idempotency = idempotency
        self._every = checkpoint_every
        self._skew = clock_skew
        self._clock = clock

    # ---- writes ------------------------------------------------------------------------------
    def record_sale(self, caller, request: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        tenant = self._tenants.get(caller.tenant_id)
        register = request.get("register_id") if isinstance(request, dict) else None
        # An offline till re-sending a receipt is recorded once: its own receipt id is the key.
        key = idempotency_key or (request.get("client_receipt_id") if isinstance(request, dict) else None)
        scope = f"{tenant.tenant_id}#sale#{register}"

        def work() -> dict[str, Any]:
            payload = build_sale(
                request,
                country=tenant.country,
                time_zone=tenant.time_zone,
                cutoff=tenant.business_day_cutoff,
                seller=_actor(caller),
                now=self._clock(),
                skew=self._skew,
            )
            chain = sales_chain(tenant, payload["register_id"])
            record = self._append(tenant, chain, "sale", payload)
            self._journal_event(tenant, caller, "sale_recorded", record, total_cents=payload["totals"]["incl"])
            return self.accepted(record)

        return self._idempotency.run(scope, key, request, work)

    def record_journal(self, caller, entries: Any, idempotency_key: str | None) -> dict[str, Any]:
        tenant = self._tenants.get(caller.tenant_id)

        def work() -> dict[str, Any]:
            today = business_day_of(self._clock(), tenant.time_zone, tenant.business_day_cutoff)
            payloads = build_journal_batch(entries, country=tenant.country, today=today, recorded_by=_actor(caller))
            chain = journal_chain(tenant)
            self._directory.register(tenant.tenant_id, chain)
            records = self._writer.append_batch(
                tenant.tenant_id, chain, [("journal", p) for p in payloads], training=tenant.training
            )
            self._after_append(tenant, chain, records[-1])
            for record in records:
                self._journal_event(tenant, caller, "journal_recorded", record)
            return {"entries": [self.accepted(r) for r in records]}

        return self._idempotency.run(f"{tenant.tenant_id}#journal", idempotency_key, entries, work)

    def reverse(self, caller, chain: str, seq: int, reason: Any, idempotency_key: str | None) -> dict[str, Any]:
        tenant = self._tenants.get(caller.tenant_id)
        original = self._visible_entry(caller, tenant, chain, seq)

        def work() -> dict[str, Any]:
            self._index.claim_reversal(tenant.tenant_id, chain, seq)
            try:
                payload = reversal_of(original, reason, _actor(caller), self._clock(), reversed_seqs=())
                record = self._append(tenant, chain, "reversal", payload)
            except BaseException:
                self._index.release_reversal(tenant.tenant_id, chain, seq)
                raise
            self._journal_event(tenant, caller, "entry_reversed", record, original_seq=seq,
                                reason=str(reason)[:500])
            return self.accepted(record)

        return self._idempotency.run(f"{tenant.tenant_id}#reverse#{chain}#{seq}", idempotency_key,
                                     {"reason": reason}, work)

    def close_period(self, caller_or_system, tenant_id: str, chain: str, kind: str, period: str) -> SealedRecord:
        """Seal the closure of ``period`` (``2026-11-23``, ``2026-11``, ``2026``) of ``chain``."""
        tenant = self._tenants.get(tenant_id)
        if chain not in self._directory.chains(tenant_id):
            raise NotFound(f"no chain {chain!r} in this tenant", field="chain")
        if chain == "events":
            raise ValidationFailed("the event journal is not closed; close a sales or journal chain", field="chain")
        parsed_kind, period_start = parse_period_key(period, field="period")
        if parsed_kind != kind:
            raise ValidationFailed(f"{period!r} is not a {kind} period", field="period")
        done = {p for _, p, _ in self._index.closures(tenant_id, chain, kind)}
        if period in done:
            raise Conflict(f"the {kind} {period} of {chain} is already closed", field="period")
        previous = self._latest_closure(tenant_id, chain, kind)
        actor = _actor(caller_or_system)
        key = chain_key(tenant_id, chain)

        def factory(head: SealedRecord | None):
            acc = closure_rules.ClosureAccumulator.following(
                previous, kind, period_start, time_zone=tenant.time_zone, cutoff=tenant.business_day_cutoff
            )
            size = head.seq if head else 0
            if size >= acc.first_seq:
                for record in self._store.scan(key, acc.first_seq, size):
                    if not acc.add(record):
                        break
            compact = self._checkpoints.compact_at(tenant_id, chain, size)
            payload = closure_rules.closure_payload(
                acc, merkle_root=compact.root().hex(), merkle_tree_size=size, closed_by=actor, now=self._clock()
            )
            return "closure", payload

        record = self._writer.append(tenant_id, chain, training=tenant.training, factory=factory)
        self._index.add_closure(tenant_id, chain, kind, period, record.seq)
        self._after_append(tenant, chain, record)
        self._events.record(tenant_id, "period_closed", actor=actor.user_id, training=tenant.training,
                            details={"chain": chain, "seq": record.seq, "kind": kind, "period": period,
                                     "period_grand_total": record.data.get("period_grand_total"),
                                     "perpetual_grand_total": record.data.get("perpetual_grand_total")})
        return record

    def close_due_periods(self, tenant_id: str, chain: str) -> list[SealedRecord]:
        """Close, in order, every day, then month, then year of ``chain`` that has ended and has
        entries not yet closed (what the hourly schedule runs)."""
        tenant = self._tenants.get(tenant_id)
        now = self._clock()
        written = []
        for kind in PERIOD_ORDER:
            while True:
                period = self._next_due_period(tenant, chain, kind, now)
                if period is None:
                    break
                written.append(self.close_period(SYSTEM, tenant_id, chain, kind, period))
        return written

    def _next_due_period(self, tenant: Tenant, chain: str, kind: str, now: datetime) -> str | None:
        previous = self._latest_closure(tenant.tenant_id, chain, kind)
        first = previous["last_seq"] + 1 if previous else 1
        for record in self._store.scan(chain_key(tenant.tenant_id, chain), first):
            if record.type not in ("sale", "journal", "reversal"):
                continue
            day = business_day_of(parse_timestamp(record.recorded_at), tenant.time_zone, tenant.business_day_cutoff)
            period = period_key(kind, day)
            _, start = parse_period_key(period)
            _, end = period_bounds_utc(kind, start, tenant.time_zone, tenant.business_day_cutoff)
            return period if end <= now else None
        return None

    # ---- reads -------------------------------------------------------------------------------
    def list_entries(self, caller, chain: str, start: str, end: str, limit: int, cursor: str | None) -> Page:
        tenant = self._tenants.get(caller.tenant_id)
        self._check_chain_visible(caller, tenant, chain)
        after_seq, start_at = None, start
        if cursor:
            try:
                seq_text, start_at = cursor.split("|", 1)
                after_seq = int(seq_text)
            except ValueError:
                raise ValidationFailed("the cursor is not one this API returned", field="cursor") from None
        own_only = not allows(caller.role, Permission.SALE_READ_ALL) and ".sales." in chain
        found: list[SealedRecord] = []
        while len(found) < limit:
            batch = self._store.by_time(chain_key(tenant.tenant_id, chain), start_at, end, limit=limit,
                                        after_seq=after_seq)
            if not batch:
                break
            for record in batch:
                if not own_only or _seller_of(record) == caller.user_id:
                    found.append(record)
                    if len(found) == limit:
                        break
                after_seq, start_at = record.seq, record.recorded_at
            if len(batch) < limit:
                break
        more = len(found) == limit
        next_cursor = f"{found[-1].seq}|{found[-1].recorded_at}" if more and found else None
        return Page(found, next_cursor)

    def get_entry(self, caller, chain: str, seq: int) -> tuple[SealedRecord, dict | None]:
        tenant = self._tenants.get(caller.tenant_id)
        record = self._visible_entry(caller, tenant, chain, seq)
        proof = self._checkpoints.inclusion(tenant.tenant_id, chain, seq)
        return record, proof

    def closures(self, caller, chain: str) -> list[SealedRecord]:
        tenant = self._tenants.get(caller.tenant_id)
        self._check_chain_visible(caller, tenant, chain)
        found = []
        for _, _, seq in self._index.closures(tenant.tenant_id, chain):
            record = self._store.get(chain_key(tenant.tenant_id, chain), seq)
            if record is not None:
                found.append(record)
        return sorted(found, key=lambda r: r.seq)

    # ---- helpers -----------------------------------------------------------------------------
    def accepted(self, record: SealedRecord) -> dict[str, Any]:
        """What a write answers: the sealed entry and the checkpoint that will cover it."""
        latest = self._checkpoints.latest(record.tenant_id, record.chain)
        covered = latest is not None and latest.checkpoint.size >= record.seq
        view = {
            **entry_view(record),
            "checkpoint": {
                "covered": covered,
                "size": latest.checkpoint.size if covered else math.ceil(record.seq / self._every) * self._every,
                "signed_within_seconds": 0 if covered else CHECKPOINT_SCHEDULE_SECONDS,
            },
        }
        if record.type == "sale":  # the receipt's verification code and QR payload (chalicelib/receipts.py)
            from chalicelib.receipts import receipt_proof

            view["receipt_proof"] = receipt_proof(record)
        return view

    def _append(self, tenant: Tenant, chain: str, type_: str, payload: dict) -> SealedRecord:
        self._directory.register(tenant.tenant_id, chain)
        record = self._writer.append(tenant.tenant_id, chain, type_, payload, training=tenant.training)
        self._after_append(tenant, chain, record)
        return record

    def _after_append(self, tenant: Tenant, chain: str, record: SealedRecord) -> None:
        # "Every N entries": the N-th entry's writer signs; the 5-minute schedule covers the rest.
        if record.seq % self._every == 0:
            self._checkpoints.checkpoint(tenant.tenant_id, chain)

    def _journal_event(self, tenant, caller, kind, record: SealedRecord, **details) -> None:
        self._events.record(tenant.tenant_id, kind, actor=caller.user_id, training=tenant.training,
                            details={"chain": record.chain, "seq": record.seq, "hash": record.hash, **details})

    def _latest_closure(self, tenant_id: str, chain: str, kind: str) -> dict | None:
        entries = self._index.closures(tenant_id, chain, kind)
        if not entries:
            return None
        _, _, seq = entries[-1]
        record = self._store.get(chain_key(tenant_id, chain), seq)
        return record.data if record else None

    def _check_chain_visible(self, caller, tenant: Tenant, chain: str) -> None:
        if chain not in self._directory.chains(tenant.tenant_id) or chain == "events":
            raise NotFound(f"no chain {chain!r} in this tenant", field="chain")
        if ".sales." not in chain and not allows(caller.role, Permission.LEDGER_READ):
            raise Forbidden(f"your role ({caller.role}) cannot read the {chain} chain", field="chain")

    def _visible_entry(self, caller, tenant: Tenant, chain: str, seq: int) -> SealedRecord:
        self._check_chain_visible(caller, tenant, chain)
        record = self._store.get(chain_key(tenant.tenant_id, chain), seq)
        if record is None:
            raise NotFound(f"no entry {seq} in {chain}", field="seq")
        if not allows(caller.role, Permission.SALE_READ_ALL) and _seller_of(record) != caller.user_id:
            raise NotFound(f"no entry {seq} in {chain}", field="seq")  # others' sales do not exist for you
        return record


class _System:
    user_id = "system"
    name = "Scheduled closure"


SYSTEM = _System()


def _actor(caller) -> Actor:
    if caller is SYSTEM:
        return Actor("system", "scheduled closure")
    principal = getattr(caller, "principal", None)
    name = (principal.email if principal and principal.email else None) or caller.user_id
    return Actor(caller.user_id, name)


def _seller_of(record: SealedRecord) -> str | None:
    seller = record.data.get("seller") or record.data.get("recorded_by") or {}
    return seller.get("user_id") if isinstance(seller, dict) else None


def entry_view(record: SealedRecord) -> dict[str, Any]:
    return {
        "chain": record.chain,
        "seq": record.seq,
        "type": record.type,
        "recorded_at": record.recorded_at,
        "training": record.training,
        "hash": record.hash,
        "prev_hash": record.prev_hash,
        "hash_version": record.hash_version,
        "data": record.data,
    }

