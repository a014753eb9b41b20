"""Appends sealed records to a chain. The only code path that writes ledger entries.

Optimistic concurrency: read the head (cached per process), seal seq = head + 1 on top of it,
write conditionally, together with the operation's claims (decision 0012). What a refusal means
is decided from what the store found in the way, never guessed:

* every item holds exactly what this attempt wrote: an earlier try of the same request landed
  and its answer was lost (an SDK resend after a timeout) — that is success, not a new seal;
* a claim of the operation is held: the operation was done before — ``ClaimTaken``, which the
  service turns into the first answer or a 409;
* a record of someone else at our seq: a lost race — re-read the head and try again with a
  bounded, jittered backoff; after ``max_attempts``, ``ChainBusy`` (a 503 safe to retry).

Two writers can never fork a chain or leave a gap: the store refuses a seq that exists, and each
record names the hash of the one before it. A chain whose items expire (the event journal) keeps
its head in a pointer claim that never expires, so it never restarts at seq 1 (invariant I4).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib.domain.claims import Claim, ClaimTaken, CommitRejected
from chalicelib.domain.errors import ChainBusy, SequenceConflict, Unavailable
from chalicelib.domain.records import (
    GENESIS_PREV_HASH,
    MAX_SEALED_DATA_BYTES,
    SealedRecord,
    chain_key,
    check_sealable,
    parse_timestamp,
    seal,
)
from chalicelib.domain.write_proofs import proof_message
from chalicelib.ports.stores import ChainStore
from chalicelib.ports.write_proofs import WriteProofs

# Builds (type, data) for the record about to be sealed, given the current head. Closures use
# it: what they cover depends on where the chain is when they are written.
PayloadFactory = Callable[[SealedRecord | None], tuple[str, dict[str, Any]]]
# The claims that go with the records about to be sealed (they may name their seq and hash).
ClaimsFactory = Callable[[list[SealedRecord]], Sequence[Claim]]


class ChainHead(NamedTuple):
    """The head as a pointer remembers it: enough to seal the next record on top of it."""

    seq: int
    hash: str
    recorded_at: str


def head_pointer_key(key: str) -> tuple[str, str]:
    return f"HEAD#{key}", "pointer"


def landed(records: Sequence[SealedRecord], claims: Sequence[Claim], rejected: CommitRejected) -> bool:
    """True when every item of the refused commit holds exactly what it would have written:
    the same request was applied before and only its answer was lost."""
    if len(rejected.records) != len(records) or len(rejected.claims) != len(claims):
        return False
    for record in records:
        if rejected.records.get(record.seq, {}).get("hash") != record.hash:
            return False
    for i, claim in enumerate(claims):
        stored = rejected.claims.get(i)
        if stored is None or any(stored.get(k) != v for k, v in claim.values.items()):
            return False
    return True


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChainWriter:
    def __init__(
        self,
        store: ChainStore,
        *,
        clock: Callable[[], datetime] = _utcnow,
        max_attempts: int = 12,
        ttl_seconds: int | None = None,
        on_append: Callable[[int], None] | None = None,
        on_conflict: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        head_pointer: bool = False,
        prover: WriteProofs | None = None,
    ) -> None:
        """``prover``: makes each record's write proof (decision 0022); without one, records are
        written unproven, which every verifier of a deployment with write proofs refuses."""
        self._store = store
        self._prover = prover
        self._clock = clock
        self._max_attempts = max_attempts
        self._ttl_seconds = ttl_seconds
        self._on_append = on_append or (lambda n: None)
        self._on_conflict = on_conflict or (lambda: None)
        self._sleep = sleep
        self._head_pointer = head_pointer
        # chain key -> (head, seq the pointer claim holds or None when there is none yet)
        self._heads: dict[str, tuple[SealedRecord | ChainHead | None, int | None]] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> ChainStore:
        return self._store

    def head(self, tenant_id: str, chain: str) -> SealedRecord | ChainHead | None:
        return self._read_head(chain_key(tenant_id, chain))[0]

    def append(
        self,
        tenant_id: str,
        chain: str,
        type: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        training: bool,
        factory: PayloadFactory | None = None,
        claims: ClaimsFactory | None = None,
    ) -> SealedRecord:
        """Seal one record at the head of ``chain``. Give (type, data), or a ``factory``;
        ``claims`` go into the same all-or-nothing write (``ClaimTaken`` if one is held)."""
        if factory is None:
            if type is None or data is None:
                raise TypeError("append needs type and data, or a factory")
            fixed = (type, data)
            factory = lambda head: fixed  # noqa: E731
        return self._commit(tenant_id, chain, training, lambda head: [factory(head)], claims)[0]

    def append_batch(
        self, tenant_id: str, chain: str, payloads: Sequence[tuple[str, dict[str, Any]]], *, training: bool,
        claims: ClaimsFactory | None = None,
    ) -> list[SealedRecord]:
        """Seal up to 100 records (records and claims together) in one conditional transaction."""
        items = list(payloads)
        return self._commit(tenant_id, chain, training, lambda head: items, claims)

    def _commit(self, tenant_id, chain, training, build, claims) -> list[SealedRecord]:
        key = chain_key(tenant_id, chain)
        for attempt in range(self._max_attempts):
            head, pointer_seq = self._cached_head(key)
            records = self._seal_all(tenant_id, chain, training, head, build(head))
            if attempt == 0:  # a write DynamoDB would refuse for its size is bad input, not a 503
                check_sealable([r.data for r in records], field="body", limit=MAX_SEALED_DATA_BYTES)
            if self._prover is not None:
                records = [r.with_write_proof(self._prover.prove(proof_message(r.hash))) for r in records]
            own = list(claims(records)) if claims else []
            extra = own + ([self._pointer_claim(key, pointer_seq, records[-1])] if self._head_pointer else [])
            try:
                self._store.commit(records, extra, ttl=self._ttl(records[0]))
            except CommitRejected as rejected:
                if landed(records, extra, rejected):
                    return self._done(key, records)
                held = [i for i in sorted(rejected.claims) if i < len(own)]
                if held:
                    with self._lock:
                        self._heads.pop(key, None)
                    raise ClaimTaken(own[held[0]], rejected.claims[held[0]]) from None
                self._lost_race(key, attempt)
                continue
            except SequenceConflict:  # a concurrent transaction on the same items
                self._lost_race(key, attempt)
                continue
            except Unavailable:
                # The request may have been applied with its answer lost: look before failing.
                if self._is_stored(key, records):
                    return self._done(key, records)
                with self._lock:
                    self._heads.pop(key, None)
                raise
            return self._done(key, records)
        raise ChainBusy(
            f"chain {chain} is busy: {self._max_attempts} attempts lost the race; retry the same request",
            retry_after=1,
        )

    def _done(self, key: str, records: list[SealedRecord]) -> list[SealedRecord]:
        with self._lock:
            self._heads[key] = (records[-1], records[-1].seq if self._head_pointer else None)
        self._on_append(len(records))
        return records

    def _lost_race(self, key: str, attempt: int) -> None:
        self._on_conflict()
        with self._lock:
            self._heads.pop(key, None)
        # Full jitter, capped: contention on one chain resolves in a few rounds.
        self._sleep(random.uniform(0, min(0.25, 0.004 * 2**attempt)))

    def _is_stored(self, key: str, records: list[SealedRecord]) -> bool:
        try:
            stored = self._store.get(key, records[-1].seq)
        except Exception:
            return False
        return stored is not None and stored.hash == records[-1].hash

    def _pointer_claim(self, key: str, pointer_seq: int | None, last: SealedRecord) -> Claim:
        pk, sk = head_pointer_key(key)
        return Claim(pk, sk, {"seq": last.seq, "hash": last.hash, "recorded_at": last.recorded_at},
                     expect_seq=pointer_seq)

    def _read_head(self, key: str) -> tuple[SealedRecord | ChainHead | None, int | None]:
        if self._head_pointer:
            pointer = self._store.claim(*head_pointer_key(key))
            if pointer is not None:
                return ChainHead(int(pointer["seq"]), pointer["hash"], pointer["recorded_at"]), int(pointer["seq"])
        # No pointer yet (a new chain, or one written before pointers existed): the table's head.
        return self._store.head(key), None

    def _cached_head(self, key: str) -> tuple[SealedRecord | ChainHead | None, int | None]:
        with self._lock:
            if key in self._heads:
                return self._heads[key]
        found = self._read_head(key)
        with self._lock:
            self._heads[key] = found
        return found

    def _seal_all(self, tenant_id, chain, training, head, payloads) -> list[SealedRecord]:
        now = self._clock()
        if head is not None:
            # recorded_at never goes backwards along a chain, even across machines' clocks.
            now = max(now, parse_timestamp(head.recorded_at))
        seq = head.seq if head else 0
        prev = head.hash if head else GENESIS_PREV_HASH
        records = []
        for type_, data in payloads:
            seq += 1
            record = seal(tenant_id, chain, seq, type_, now, training, data, prev)
            records.append(record)
            prev = record.hash
        return records

    def _ttl(self, record: SealedRecord) -> int | None:
        if self._ttl_seconds is None:
            return None
        return int(parse_timestamp(record.recorded_at).timestamp()) + self._ttl_seconds
