"""In-memory ChainStore for unit tests: same contract as the DynamoDB adapter (see
tests/unit/test_chain_store_contract.py), including the all-or-nothing batch."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from chalicelib.domain.errors import SequenceConflict, ValidationFailed
from chalicelib.domain.records import SealedRecord

MAX_BATCH = 100


class InMemoryChainStore:
    def __init__(self) -> None:
        self._chains: dict[str, dict[int, dict]] = {}
        self._lock = threading.Lock()

    def head(self, chain_key: str) -> SealedRecord | None:
        with self._lock:
            chain = self._chains.get(chain_key)
            if not chain:
                return None
            return SealedRecord.from_item(chain[max(chain)])

    def get(self, chain_key: str, seq: int) -> SealedRecord | None:
        item = self._chains.get(chain_key, {}).get(seq)
        return SealedRecord.from_item(item) if item else None

    def append(self, record: SealedRecord, *, ttl: int | None = None) -> None:
        self.append_batch([record], ttl=ttl)

    def append_batch(self, records: Sequence[SealedRecord], *, ttl: int | None = None) -> None:
        if not 1 <= len(records) <= MAX_BATCH:
            raise ValidationFailed(f"a batch holds 1 to {MAX_BATCH} records, not {len(records)}", field="entries")
        with self._lock:
            for record in records:
                if record.seq in self._chains.get(record.chain_key, {}):
                    raise SequenceConflict(f"{record.chain_key} seq {record.seq} exists")
            for record in records:
                item = record.to_dict()
                if ttl is not None:
                    item["ttl"] = ttl
                self._chains.setdefault(record.chain_key, {})[record.seq] = item

    def scan(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[SealedRecord]:
        for item in self.raw_items(chain_key, first_seq, last_seq):
            yield SealedRecord.from_item(item)

    def by_time(self, chain_key, start, end, *, limit, after_seq=None):
        found = []
        for item in self.raw_items(chain_key):
            if start <= item["recorded_at"] < end and (after_seq is None or item["seq"] > after_seq):
                found.append(SealedRecord.from_item(item))
                if len(found) == limit:
                    break
        return found

    def raw_items(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[dict]:
        with self._lock:
            chain = dict(self._chains.get(chain_key, {}))
        for seq in sorted(chain):
            if seq >= first_seq and (last_seq is None or seq <= last_seq):
                yield dict(chain[seq])

    # ---- test helpers: tampering behind the application's back -------------------------------
    def tamper_replace(self, chain_key: str, seq: int, item: dict) -> None:
        self._chains[chain_key][seq] = item

    def tamper_delete(self, chain_key: str, seq: int) -> None:
        del self._chains[chain_key][seq]
