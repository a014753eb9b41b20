"""Appends sealed records to a chain. The only code path that writes ledger entries.

Optimistic concurrency: read the head (cached per process), seal seq = head + 1 on top of it,
write conditionally. A writer that loses the race re-reads the head and tries again with a
bounded, jittered backoff; after ``max_attempts`` it gives up with ``ChainBusy`` (a 503 that is
safe to retry). Two writers can never fork a chain or leave a gap: the store refuses a seq that
exists, and each record names the hash of the one before it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import ChainBusy, SequenceConflict
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, parse_timestamp, seal
from chalicelib.services.ports import ChainStore

# Builds (type, data) for the record about to be sealed, given the current head. Closures use
# it: what they cover depends on where the chain is when they are written.
PayloadFactory = Callable[[SealedRecord | None], tuple[str, dict[str, Any]]]


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
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._ttl_seconds = ttl_seconds
        self._on_append = on_append or (lambda n: None)
        self._on_conflict = on_conflict or (lambda: None)
        self._sleep = sleep
        self._heads: dict[str, SealedRecord | None] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> ChainStore:
        return self._store

    def head(self, tenant_id: str, chain: str) -> SealedRecord | None:
        return self._store.head(chain_key(tenant_id, chain))

    def append(
        self,
        tenant_id: str,
        chain: str,
        type: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        training: bool,
        factory: PayloadFactory | None = None,
    ) -> SealedRecord:
        """Seal one record at the head of ``chain``. Give (type, data), or a ``factory``."""
        if factory is None:
            if type is None or data is None:
                raise TypeError("append needs type and data, or a factory")
            fixed = (type, data)
            factory = lambda head: fixed  # noqa: E731
        return self._commit(tenant_id, chain, training, lambda head: [factory(head)])[0]

    def append_batch(
        self, tenant_id: str, chain: str, payloads: Sequence[tuple[str, dict[str, Any]]], *, training: bool
    ) -> list[SealedRecord]:
        """Seal up to 100 records in one conditional transaction (group commit)."""
        items = list(payloads)
        return self._commit(tenant_id, chain, training, lambda head: items)

    def _commit(self, tenant_id, chain, training, build) -> list[SealedRecord]:
        key = chain_key(tenant_id, chain)
        for attempt in range(self._max_attempts):
            head = self._cached_head(key)
            records = self._seal_all(tenant_id, chain, training, head, build(head))
            try:
                if len(records) == 1:
                    self._store.append(records[0], ttl=self._ttl(records[0]))
                else:
                    self._store.append_batch(records, ttl=self._ttl(records[0]))
            except SequenceConflict:
                self._on_conflict()
                with self._lock:
                    self._heads.pop(key, None)
                # Full jitter, capped: contention on one chain resolves in a few rounds.
                self._sleep(random.uniform(0, min(0.25, 0.004 * 2**attempt)))
                continue
            with self._lock:
                self._heads[key] = records[-1]
            self._on_append(len(records))
            return records
        raise ChainBusy(
            f"chain {chain} is busy: {self._max_attempts} attempts lost the race; retry the same request",
            retry_after=1,
        )

    def _cached_head(self, key: str) -> SealedRecord | None:
        with self._lock:
            if key in self._heads:
                return self._heads[key]
        head = self._store.head(key)
        with self._lock:
            self._heads[key] = head
        return head

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
