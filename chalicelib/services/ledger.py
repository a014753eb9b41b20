"""Ledger use cases: record sales and journal entries, reverse them, close periods, read them.

Every write goes through ``ChainWriter`` (sealed, conditional, append-only) together with the
claim of its natural key, in one atomic write (decision 0012): a register's receipt id, the
request's ``Idempotency-Key``, the entry a reversal undoes, a chain's closed period. A retry of
an operation that was sealed finds its claim and answers with the entry it sealed; a different
operation under a held key is a 409 naming the field. The event journal records each sealed
entry from the journal stream (``services/events.py``), never inline.

Who the caller is and what they may do was decided before (``Caller``); here only ownership
rules remain (a seller sees only their own sales). Tenant data (country, time zone, test mode)
always comes from the tenant record, never from the request.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import closures as closure_rules
from chalicelib.domain.calendar import business_day_of, parse_period_key, period_bounds_utc, period_key
from chalicelib.domain.canonical import canonical_bytes
from chalicelib.domain.claims import Claim, ClaimTaken
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import Conflict, Findings, Forbidden, NotFound, Unavailable, ValidationFailed
from chalicelib.domain.journal import build_journal_batch
from chalicelib.domain.merkle import ProofError, record_leaf_hash, verify_inclusion
from chalicelib.domain.permissions import Permission, allows
from chalicelib.domain.records import SealedRecord, chain_key, parse_timestamp
from chalicelib.domain.reversals import reversal_of
from chalicelib.domain.sales import build_sale
from chalicelib.domain.tenant import Tenant
from chalicelib.services.tenants import tenant_of

CHECKPOINT_SCHEDULE_SECONDS = 300
PERIOD_ORDER = ("day", "month", "year")
NEXT_DUE_PAGE = 8  # records read at once to find the first operation after a closure
IDEMPOTENCY_HEADER = "Idempotency-Key"
_CURSOR_SEQ = re.compile(r"[1-9][0-9]{0,18}")


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
        checkpoint_every: int,
        clock_skew: timedelta,
        clock: Callable[[], datetime] = _utcnow,
        public_base_url: str = "http://127.0.0.1:8000",
        alarms=None,
        verified_head: Callable[[str], int] | None = None,
        after_seal: Callable[[SealedRecord], None] | None = None,
    ) -> None:
        """``checkpoint_every``: the cadence a write answers with (``checkpoint.size``); the
        signing itself happens off the request path (the journal stream's ``CheckpointCadence``).
        ``after_seal``: called with each sealed entry, for stacks without a stream (in memory)."""
        self._writer = writer
        self._store = writer.store
        self._directory = directory
        self._index = index
        self._checkpoints = checkpoints
        self._tenants = tenants
        self._every = checkpoint_every
        self._skew = clock_skew
        self._clock = clock
        self._public_base_url = public_base_url  # printed in the receipt's QR code
        self._after_seal = after_seal or (lambda record: None)
        self._alarms = alarms  # AlarmService: the alarms naming a chain (integrity)
        self._verified_head = verified_head  # chain key -> the last seq the stream verifier checked

    # ---- writes ------------------------------------------------------------------------------
    def record_sale(self, caller, request: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        tenant = tenant_of(caller, self._tenants)
        # The body first, then the header: a problem names what the caller sent, all of it.
        found = Findings()
        payload = found.check(
            build_sale,
            request,
            country=tenant.country,
            time_zone=tenant.time_zone,
            cutoff=tenant.business_day_cutoff,
            seller=_actor(caller),
            now=self._clock(),
            skew=self._skew,
        )
        found.check(_check_key, idempotency_key)
        found.raise_if_any()
        assert payload is not None
        chain = sales_chain(tenant, payload["register_id"])
        receipt_id = payload["client_receipt_id"]
        # What makes two sends "the same sale": the sealed content, less who sent it.
        fingerprint = _fingerprint({k: v for k, v in payload.items() if k != "seller"})
        scope = f"{tenant.tenant_id}#{chain}"

        def claims(records: list[SealedRecord]) -> list[Claim]:
            ref = {"request": fingerprint, "seq": records[0].seq, "hash": records[0].hash}
            found = [Claim(f"RECEIPT#{scope}", receipt_id, ref)]
            if idempotency_key and idempotency_key != receipt_id:
                found.append(Claim(f"OPKEY#{scope}", idempotency_key, ref))
            return found

        try:
            record = self._append(tenant, chain, "sale", payload, claims=claims)
        except ClaimTaken as taken:
            field = "client_receipt_id" if taken.claim.pk.startswith("RECEIPT#") else IDEMPOTENCY_HEADER
            what = (f"receipt {receipt_id!r} of register {payload['register_id']}" if field == "client_receipt_id"
                    else f"this {IDEMPOTENCY_HEADER}")
            answer = self._replay(tenant, chain, taken, fingerprint, field=field, what=what)
            if field == "client_receipt_id" and idempotency_key and idempotency_key != receipt_id:
                self._bind_key(f"OPKEY#{scope}", idempotency_key, taken.stored or {})
            return answer
        return self.accepted(record, fresh=True)

    def record_journal(self, caller, entries: Any, idempotency_key: str | None) -> dict[str, Any]:
        tenant = tenant_of(caller, self._tenants)
        today = business_day_of(self._clock(), tenant.time_zone, tenant.business_day_cutoff)
        found = Findings()
        payloads = found.check(build_journal_batch, entries, country=tenant.country, today=today,
                               recorded_by=_actor(caller))
        found.check(_check_key, idempotency_key)
        found.raise_if_any()
        assert payloads is not None
        chain = journal_chain(tenant)
        fingerprint = _fingerprint([{k: v for k, v in p.items() if k != "recorded_by"} for p in payloads])

        def claims(records: list[SealedRecord]) -> list[Claim]:
            if not idempotency_key:
                return []
            return [Claim(f"OPKEY#{tenant.tenant_id}#{chain}", idempotency_key,
                          {"request": fingerprint, "seq": records[0].seq, "hash": records[0].hash,
                           "count": len(records)})]

        self._directory.register(tenant.tenant_id, chain)
        try:
            records = self._writer.append_batch(tenant.tenant_id, chain, [("journal", p) for p in payloads],
                                                training=tenant.training, claims=claims)
        except ClaimTaken as taken:
            stored = taken.stored or {}
            if stored.get("request") != fingerprint:
                raise Conflict(f"this {IDEMPOTENCY_HEADER} was already used with different entries",
                               field=IDEMPOTENCY_HEADER) from None
            first, count = int(stored["seq"]), int(stored.get("count", 1))
            records = list(self._store.scan(chain_key(tenant.tenant_id, chain), first, first + count - 1))
            if len(records) != count:
                raise Unavailable(f"entries {first}..{first + count - 1} of {chain} cannot be read back") from None
            return {"entries": [self.accepted(r) for r in records]}
        self._after_append(tenant, chain, records[-1])
        return {"entries": [self.accepted(r, fresh=True) for r in records]}

    def reverse(self, caller, chain: str, seq: int, reason: Any, idempotency_key: str | None) -> dict[str, Any]:
        tenant = tenant_of(caller, self._tenants)
        _check_key(idempotency_key)
        original = self._visible_entry(caller, tenant, chain, seq)
        payload = reversal_of(original, reason, _actor(caller), self._clock(), reversed_seqs=())
        fingerprint = _fingerprint({"reason": payload["reason"]})

        def claims(records: list[SealedRecord]) -> list[Claim]:
            # The same item the reversal index always used (``REVERSED#``), now sealed with it.
            return [Claim(f"REVERSED#{tenant.tenant_id}#{chain}", f"{seq:020d}",
                          {"request": fingerprint, "seq": records[0].seq, "hash": records[0].hash})]

        try:
            record = self._append(tenant, chain, "reversal", payload, claims=claims)
        except ClaimTaken as taken:
            stored = taken.stored or {}
            if stored.get("request") != fingerprint or "seq" not in stored:
                by = f" by entry {stored['seq']}" if "seq" in stored else ""
                raise Conflict(f"entry {seq} of {chain} is already reversed{by}; an entry is reversed at most once",
                               field="seq") from None
            return self._replay(tenant, chain, taken, fingerprint, field="seq", what=f"the reversal of {seq}")
        return self.accepted(record, fresh=True)

    def close_period(self, caller_or_system, tenant_id: str, chain: str, kind: str, period: str) -> SealedRecord:
        """Seal the closure of ``period`` (``2026-11-23``, ``2026-11``, ``2026``) of ``chain``.

        A period is closed once (its claim is sealed with the closure) and only once it has
        ended: every entry sealed after the closure is later than the period's end, since
        ``recorded_at`` never goes backwards along a chain (invariant I3)."""
        tenant = self._tenants.get(tenant_id)
        if chain not in self._directory.chains(tenant_id):
            raise NotFound(f"no chain {chain!r} in this tenant", field="chain")
        if chain == "events":
            raise ValidationFailed("the event journal is not closed; close a sales or journal chain", field="chain")
        if caller_or_system is not SYSTEM:  # closing the journal's day shows its totals: a manager may not
            _check_chain_readable(caller_or_system, chain)
        parsed_kind, period_start = parse_period_key(period, field="period")
        if parsed_kind != kind:
            raise ValidationFailed(f"{period!r} is not a {kind} period", field="period")
        start_utc, end_utc = period_bounds_utc(kind, period_start, tenant.time_zone, tenant.business_day_cutoff)
        now = self._clock()
        if start_utc > now:
            raise ValidationFailed(f"the {kind} {period} has not started yet", field="period")
        if end_utc > now:  # the closure itself checks it again at sealing time (domain/closures.py)
            raise Conflict(f"The {kind} period {period} is still open: it ends at "
                           f"{end_utc.isoformat().replace('+00:00', 'Z')}.", field="period")
        created = getattr(tenant, "created_at", None)
        if created is not None and end_utc <= created:
            raise ValidationFailed(f"the {kind} {period} ended before this company was registered "
                                   f"({created.date().isoformat()})", field="period")
        done = {p for _, p, _ in self._index.closures(tenant_id, chain, kind)}
        if period in done:
            raise Conflict(f"the {kind} {period} of {chain} is already closed", field="period")
        actor = _actor(caller_or_system)
        key = chain_key(tenant_id, chain)

        def factory(head: SealedRecord | None):
            # Read at each attempt: a closure sealed by a concurrent run (the schedule closing the
            # next day while this one was being written) must be the one this follows, or refuse
            # it (Conflict: not after it); a stale read sealed an earlier day after a later one.
            previous = self._latest_closure(tenant_id, chain, kind)
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

        def claims(records: list[SealedRecord]) -> list[Claim]:
            # The closure index item (``CLOSURES#``), sealed with the closure: a period closes once.
            return [Claim(f"CLOSURES#{tenant_id}#{chain}", f"{kind}#{period}",
                          {"seq": records[0].seq, "hash": records[0].hash})]

        try:
            # A closure is training data when its chain is (a test chain closed after going live is
            # still a test chain): the chain's mode, not the tenant's current one.
            record = self._writer.append(tenant_id, chain, training=chain.startswith("test."), factory=factory,
                                         claims=claims)
        except ClaimTaken:
            raise Conflict(f"the {kind} {period} of {chain} is already closed", field="period") from None
        self._after_append(tenant, chain, record)
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
                try:
                    written.append(self.close_period(SYSTEM, tenant_id, chain, kind, period))
                except Conflict:
                    # Closed meanwhile by a manual close or another run: what we wanted is done.
                    if period not in {p for _, p, _ in self._index.closures(tenant_id, chain, kind)}:
                        raise
        return written

    def _next_due_period(self, tenant: Tenant, chain: str, kind: str, now: datetime) -> str | None:
        previous = self._latest_closure(tenant.tenant_id, chain, kind)
        first = previous["last_seq"] + 1 if previous else 1
        # Small pages: the answer is the first operation after the previous closure, a record or two
        # on (an unlimited Query read a 1 MB page every hour per chain and kind: docs/scaling.md).
        for record in self._store.scan(chain_key(tenant.tenant_id, chain), first, page_size=NEXT_DUE_PAGE):
            if record.type not in ("sale", "journal", "reversal"):
                continue
            day = business_day_of(parse_timestamp(record.recorded_at), tenant.time_zone, tenant.business_day_cutoff)
            period = period_key(kind, day)
            _, start = parse_period_key(period)
            _, end = period_bounds_utc(kind, start, tenant.time_zone, tenant.business_day_cutoff)
            return period if end <= now else None
        return None

    # ---- reads -------------------------------------------------------------------------------
    def list_entries(self, caller, chain: str, start: str, end: str, limit: int, cursor: str | None,
                     *, newest_first: bool = False) -> Page:
        """A page of ``chain``'s entries with ``start <= recorded_at < end``, oldest first (newest
        first with ``newest_first``); a seller's list holds only the sales it recorded."""
        tenant = tenant_of(caller, self._tenants)
        self._check_chain_visible(caller, tenant, chain)
        after_seq, start_at = None, start
        if cursor:
            # A cursor is the seq and recorded_at of the last entry of a page: both must be an entry's
            # (one read), or any seq and instant ("-5|…", "7|2000-01-01…") started a page anywhere.
            seq_text, _, cursor_at = cursor.partition("|")
            after_seq = int(seq_text) if _CURSOR_SEQ.fullmatch(seq_text) else None
            entry = self._store.get(chain_key(tenant.tenant_id, chain), after_seq) if after_seq else None
            if entry is None or entry.recorded_at != cursor_at:
                raise ValidationFailed("the cursor is not one this API returned", field="cursor")
            if not newest_first:
                start_at = cursor_at
        own_only = not allows(caller.role, Permission.SALE_READ_ALL) and ".sales." in chain
        order = {"descending": True} if newest_first else {}
        found: list[SealedRecord] = []
        while len(found) < limit:
            batch = self._store.by_time(chain_key(tenant.tenant_id, chain), start_at, end, limit=limit,
                                        after_seq=after_seq, **order)
            if not batch:
                break
            for record in batch:
                if not own_only or _seller_of(record) == caller.user_id:
                    found.append(record)
                    if len(found) == limit:
                        break
                after_seq = record.seq
                if not newest_first:
                    start_at = record.recorded_at
            if len(batch) < limit:
                break
        more = len(found) == limit
        next_cursor = f"{found[-1].seq}|{found[-1].recorded_at}" if more and found else None
        return Page(found, next_cursor)

    def get_entry(self, caller, chain: str, seq: int) -> tuple[SealedRecord, dict | None, str]:
        """The entry, its inclusion proof (None until a signed checkpoint covers it) and its
        integrity (``integrity``)."""
        tenant = tenant_of(caller, self._tenants)
        record = self._visible_entry(caller, tenant, chain, seq)
        proof = self._checkpoints.inclusion(tenant.tenant_id, chain, seq)
        return record, proof, self.integrity(tenant.tenant_id, chain, record, proof)

    def integrity(self, tenant_id: str, chain: str, record: SealedRecord, proof: dict | None) -> str:
        """``altered``: a tamper alarm names this chain at or before this entry (there is no way
        to close an alarm yet: every alarm counts), or the inclusion proof does not reach the
        signed root; ``verified``: a signed checkpoint's root includes the entry and the stream
        verifier's head has passed it; ``pending`` otherwise. At most one query (the chain's
        lowest alarm) and one GetItem (the verifier's head)."""
        if self._alarms is not None:
            first = self._alarms.first_alarmed_seq(tenant_id, chain)
            if first is not None and first <= record.seq:
                return "altered"
        if proof is None:
            return "pending"
        try:
            verify_inclusion(record_leaf_hash(record.hash), proof["leaf_index"], proof["tree_size"],
                             [bytes.fromhex(h) for h in proof["hashes"]], bytes.fromhex(proof["root"]))
        except (ProofError, ValueError):
            return "altered"
        if self._verified_head is None or self._verified_head(chain_key(tenant_id, chain)) < record.seq:
            return "pending"
        return "verified"

    def closures(self, caller, chain: str) -> list[SealedRecord]:
        tenant = tenant_of(caller, self._tenants)
        self._check_chain_visible(caller, tenant, chain)
        found = []
        for _, _, seq in self._index.closures(tenant.tenant_id, chain):
            record = self._store.get(chain_key(tenant.tenant_id, chain), seq)
            if record is not None:
                found.append(record)
        return sorted(found, key=lambda r: r.seq)

    # ---- helpers -----------------------------------------------------------------------------
    def read_view(self, record: SealedRecord) -> dict[str, Any]:
        """An entry as the read routes give it: a sale with its receipt's verification code and QR
        payload, as its recording answered them (to print the receipt again)."""
        view = entry_view(record)
        if record.type == "sale":
            from chalicelib.receipts import receipt_proof

            view["receipt_proof"] = receipt_proof(record, self._public_base_url)
        return view

    def accepted(self, record: SealedRecord, *, fresh: bool = False) -> dict[str, Any]:
        """What a write answers: the sealed entry and the checkpoint that will cover it.

        ``fresh``: the entry was sealed by this request, so no checkpoint covers it yet — no need
        to read the checkpoint table on the hot path."""
        if fresh:
            signed_size = None
        else:
            latest = self._checkpoints.latest(record.tenant_id, record.chain)
            signed_size = latest.checkpoint.size if latest is not None else None
        covered = signed_size is not None and signed_size >= record.seq
        view = {
            **entry_view(record),
            "checkpoint": {
                "covered": covered,
                "size": signed_size if covered else math.ceil(record.seq / self._every) * self._every,
                "signed_within_seconds": 0 if covered else CHECKPOINT_SCHEDULE_SECONDS,
            },
        }
        if record.type == "sale":  # the receipt's verification code and QR payload (chalicelib/receipts.py)
            from chalicelib.receipts import receipt_proof

            view["receipt_proof"] = receipt_proof(record, self._public_base_url)
        return view

    def _append(self, tenant: Tenant, chain: str, type_: str, payload: dict, *, claims=None) -> SealedRecord:
        self._directory.register(tenant.tenant_id, chain)
        record = self._writer.append(tenant.tenant_id, chain, type_, payload, training=tenant.training,
                                     claims=claims)
        self._after_append(tenant, chain, record)
        return record

    def _after_append(self, tenant: Tenant, chain: str, record: SealedRecord) -> None:
        # Signing "every N entries" happens off the request path, when the journal stream sees
        # the N-th entry (CheckpointCadence, decision 0022): the API signs nothing inline.
        self._after_seal(record)

    def _replay(self, tenant: Tenant, chain: str, taken: ClaimTaken, fingerprint: str, *, field: str,
                what: str) -> dict[str, Any]:
        """The first answer of an operation done before, or a 409 if the claim holds another one."""
        stored = taken.stored or {}
        if stored.get("request") != fingerprint:
            raise Conflict(f"{what} was already recorded with a different content (entry {stored.get('seq')}); "
                           "a receipt is recorded once — send a new receipt id for a new sale", field=field)
        record = self._store.get(chain_key(tenant.tenant_id, chain), int(stored["seq"]))
        if record is None or record.hash != stored.get("hash"):
            raise Unavailable(f"entry {stored.get('seq')} of {chain} cannot be read back; retry shortly")
        return self.accepted(record)

    def _bind_key(self, pk: str, key: str, replayed: dict[str, Any]) -> None:
        """A key first sent with a resent receipt is claimed for the sale it replays, as if it had
        come with the sale: else it was free, and the same key then sealed another receipt."""
        ref = {name: replayed[name] for name in ("request", "seq", "hash")}
        held = self._store.add_claim(Claim(pk, key, ref))
        if held is not None and (held.get("seq"), held.get("hash")) != (ref["seq"], ref["hash"]):
            raise Conflict(f"this {IDEMPOTENCY_HEADER} was already used for another sale (entry {held.get('seq')}); "
                           "send a new key for a new operation", field=IDEMPOTENCY_HEADER)

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
        _check_chain_readable(caller, chain)

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


def _check_chain_readable(caller, chain: str) -> None:
    """A chain that is not a register's sales chain (the journal) needs ``ledger.read`` (docs/roles.md)."""
    if ".sales." not in chain and not allows(caller.role, Permission.LEDGER_READ):
        raise Forbidden(f"your role ({caller.role}) cannot read the {chain} chain", field="chain")


def _actor(caller) -> Actor:
    """Who is sealed as seller / recorded_by / closed_by: the caller's user id and the display name
    its membership gave it at the access check (``Caller.name``), whatever token was sent."""
    if caller is SYSTEM:
        return Actor("system", "scheduled closure")
    return Actor(caller.user_id, caller.name)


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def _check_key(key: str | None) -> None:
    # An empty header is refused, not read as "no key": the client meant to send one, and a journal
    # batch retried without a key would be recorded twice.
    if key == "":
        raise ValidationFailed(f"the {IDEMPOTENCY_HEADER} header is empty: send 1 to 128 visible ASCII "
                               "characters, or leave the header out", field=IDEMPOTENCY_HEADER)
    if key is not None and not (1 <= len(key) <= 128 and all("\x21" <= c <= "\x7e" for c in key)):
        raise ValidationFailed("use 1 to 128 visible ASCII characters", field=IDEMPOTENCY_HEADER)


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

