"""In-memory ChainStore for unit tests: same contract as the DynamoDB adapter (see
tests/unit/test_chain_store_contract.py), including the all-or-nothing batch."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence

from chalicelib.domain.claims import Claim, CommitRejected
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.records import SealedRecord
from chalicelib.domain.time_search import items_in_time_range, items_in_time_range_newest_first
from chalicelib.domain.write_proofs import proof_attributes

MAX_BATCH = 100
MAX_TRANSACTION_ITEMS = 100


class InMemoryChainStore:
    def __init__(self) -> None:
        self._chains: dict[str, dict[int, dict]] = {}
        self.claims: dict[tuple[str, str], dict] = {}
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
        self.commit([record], ttl=ttl)

    def append_batch(self, records: Sequence[SealedRecord], *, ttl: int | None = None) -> None:
        self.commit(records, ttl=ttl)

    def commit(self, records: Sequence[SealedRecord], claims: Sequence[Claim] = (), *,
               ttl: int | None = None) -> None:
        if not 1 <= len(records) <= MAX_BATCH:
            raise ValidationFailed(f"a batch holds 1 to {MAX_BATCH} records, not {len(records)}", field="entries")
        if len(records) + len(claims) > MAX_TRANSACTION_ITEMS:
            raise ValidationFailed(f"one commit holds at most {MAX_TRANSACTION_ITEMS} items (records and claims), "
                                   f"not {len(records) + len(claims)}", field="entries")
        with self._lock:
            taken_records = {r.seq: dict(self._chains[r.chain_key][r.seq]) for r in records
                             if r.seq in self._chains.get(r.chain_key, {})}
            taken_claims = {}
            for i, claim in enumerate(claims):
                stored = self.claims.get((claim.pk, claim.sk))
                ok = stored is None if claim.expect_seq is None else (
                    stored is not None and stored.get("seq") == claim.expect_seq)
                if not ok:
                    taken_claims[i] = dict(stored) if stored is not None else None
            if taken_records or taken_claims:
                raise CommitRejected(f"{records[0].chain_key}: the commit at seq {records[0].seq} was refused",
                                     records=taken_records, claims=taken_claims)
            for record in records:
                item = record.to_dict()
                if record.write_proof is not None:
                    item.update(proof_attributes(record.write_proof))
                if ttl is not None:
                    item["ttl"] = ttl
                self._chains.setdefault(record.chain_key, {})[record.seq] = item
            for claim in claims:
                self.claims[(claim.pk, claim.sk)] = {"pk": claim.pk, "sk": claim.sk, **claim.values}

    def claim(self, pk: str, sk: str) -> dict | None:
        with self._lock:
            stored = self.claims.get((pk, sk))
            return dict(stored) if stored is not None else None

    def add_claim(self, claim: Claim) -> dict | None:
        with self._lock:
            stored = self.claims.get((claim.pk, claim.sk))
            if stored is not None:
                return dict(stored)
            self.claims[(claim.pk, claim.sk)] = {"pk": claim.pk, "sk": claim.sk, **claim.values}
            return None

    def scan(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None, *,
             page_size: int | None = None) -> Iterator[SealedRecord]:
        for item in self.raw_items(chain_key, first_seq, last_seq):  # in memory: no pages
            yield SealedRecord.from_item(item)

    def by_time(self, chain_key, start, end, *, limit, after_seq=None, descending=False):
        # The DynamoDB adapter's search by seq (decision 0027), so that tests run it too.
        with self._lock:
            chain = dict(self._chains.get(chain_key, {}))
        seqs = sorted(chain)

        def first_at_or_after(seq: int | None):
            i = len(seqs) - 1 if seq is None else bisect_left(seqs, seq)
            return (seqs[i], chain[seqs[i]]["recorded_at"]) if 0 <= i < len(seqs) else None

        if descending:
            items = items_in_time_range_newest_first(
                lambda: first_at_or_after(None), start, end, limit=limit, before_seq=after_seq,
                first_at_or_after=first_at_or_after,
                items_down_from=lambda seq: (dict(chain[s]) for s in reversed(seqs[:bisect_right(seqs, seq)])))
            return [SealedRecord.from_item(item) for item in items]

        items = items_in_time_range(lambda: first_at_or_after(None), start, end, limit=limit, after_seq=after_seq,
                                    first_at_or_after=first_at_or_after,
                                    items_from=lambda seq: (dict(chain[s]) for s in seqs[bisect_left(seqs, seq):]))
        return [SealedRecord.from_item(item) for item in items]

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
