"""Export speed and memory.

Builds the fiscal export archive of one register chain of N entries (sales every 15 s, a daily
closure after each day, a signed checkpoint every 1,000 entries) with the production builder
(``services.export_archive.build_archive``) into a sink that only counts bytes, so the figure is
the builder's own cost (reading DynamoDB pages and the S3 multipart upload come on top).

Speed: against a bare canonicalise + SHA-256 loop over the same records, measured in the same
run. Memory: peak Python allocations (tracemalloc) while exporting 100,000 entries vs 10,000 —
flat when streaming works (aim: ratio < 2; the records themselves are generated beforehand and
not counted).

``python -m bench.bench_export [--entries 100000] [--small 10000]``; ``python -m bench`` (which
calls ``main([])``) runs it briefly, with 20,000 and 2,000 entries.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.common import peak_memory, report, sale_payload

TENANT_ID = "bench-tenant"
CHAIN = "prod.sales.R1"
START = date(2026, 1, 5)


def _tenant():
    from chalicelib.domain.tenant import Address, Tenant

    return Tenant(tenant_id=TENANT_ID, company_name="Bench SRL", country="BE", company_number="0403170701",
                  vat_number="BE0403170701", address=Address("Rue de la Loi 16", "1000", "Bruxelles", "BE"),
                  mode="production")


class SyntheticChain:
    """A valid production register chain generated on the fly: ``sales`` sales, ``per_day`` a day,
    each day closed the next morning, a signed checkpoint every ``every`` entries and at the end.
    Iterating twice gives the same records (the checkpoints' ECDSA signatures differ, both valid)."""

    def __init__(self, sales: int, signer, *, per_day: int = 2000, every: int = 1000) -> None:
        self.sales, self.signer, self.per_day, self.every = sales, signer, per_day, every
        self.days = -(-sales // per_day)
        self.total = sales + self.days
        self.checkpoints: list = []
        self._payloads = [sale_payload(i) for i in range(50)]

    def records(self) -> Iterator:
        from chalicelib.domain.checkpoint import Checkpoint
        from chalicelib.domain.closures import ClosureAccumulator, closure_payload
        from chalicelib.domain.entries import Actor
        from chalicelib.domain.merkle import CompactRange, record_leaf_hash
        from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal

        tenant = _tenant()
        key = chain_key(TENANT_ID, CHAIN)
        prev, compact, seq, previous, checkpoints = GENESIS_PREV_HASH, CompactRange(), 0, None, []
        closure = None
        system = Actor("system", "scheduled closure")

        def after(record):
            nonlocal prev
            prev = record.hash
            compact.append(record_leaf_hash(record.hash))
            if record.seq % self.every == 0 or record.seq == self.total:
                cp = Checkpoint(key, record.seq, compact.root().hex(), record.recorded_at, self.signer.key_id)
                checkpoints.append(cp.with_signature(self.signer.sign(cp.signed_message())))

        for day_index in range(self.days):
            day = START + timedelta(days=day_index)
            opening = datetime(day.year, day.month, day.day, 7, tzinfo=UTC)
            accumulator = ClosureAccumulator.following(previous, "day", day, time_zone=tenant.time_zone,
                                                       cutoff=tenant.business_day_cutoff)
            if closure is not None:
                accumulator.add(closure)  # the previous closure sits right after the range it closed
            for j in range(min(self.per_day, self.sales - day_index * self.per_day)):
                seq += 1
                record = seal(TENANT_ID, CHAIN, seq, "sale", opening + timedelta(seconds=15 * j), False,
                              self._payloads[seq % len(self._payloads)], prev)
                accumulator.add(record)
                after(record)
                yield record
            seq += 1
            closing = datetime(day.year, day.month, day.day, 5, tzinfo=UTC) + timedelta(days=1)
            previous = closure_payload(accumulator, merkle_root=compact.root().hex(), merkle_tree_size=seq - 1,
                                       closed_by=system, now=closing)
            closure = seal(TENANT_ID, CHAIN, seq, "closure", closing, False, previous, prev)
            after(closure)
            yield closure
        self.checkpoints = checkpoints


class ListSource:
    """A ``ChainSource`` over records already in memory (or a ``SyntheticChain`` streamed)."""

    def __init__(self, chain: SyntheticChain, records: list | None = None) -> None:
        self.chain, self._records = chain, records

    def end(self, chain: str) -> int:
        return self.chain.total

    def records(self, chain: str, first: int, last: int):
        return iter(self._records) if self._records is not None else self.chain.records()

    def checkpoints(self, chain: str, end: int):
        return list(self.chain.checkpoints)

    def keys(self):
        from chalicelib.domain.checkpoint import PublicKeyInfo

        return [PublicKeyInfo(self.chain.signer.key_id, "2026-01-01T00:00:00.000000Z", None,
                              self.chain.signer.public_key_pem())]


class CountingSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        return None


def spec(kind: str = "fiscal", last_day: date | None = None):
    from chalicelib.services.export_archive import ArchiveSpec

    return ArchiveSpec(job_id="bench", kind=kind, first_day=START, last_day=last_day or START + timedelta(days=3660),
                       chains=(CHAIN,), requested_by="bench", requested_at="2026-01-01T00:00:00.000000Z",
                       include_events=False)


def build(sink, source: ListSource):
    from chalicelib.services.export_archive import build_archive

    return build_archive(sink, tenant=_tenant(), spec=spec(), source=source, signer=source.chain.signer,
                         clock=lambda: datetime(2036, 1, 1, tzinfo=UTC))


def signer(key_dir: Path):
    from chalicelib.adapters.signing import LocalSigner

    return LocalSigner(key_dir, "bench")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="sales in the big export (default 100,000)")
    parser.add_argument("--small", type=int, default=10_000, help="sales in the small export (default 10,000)")
    args = parser.parse_args(argv)
    if argv is not None and not argv:  # `python -m bench`: every benchmark, briefly
        args.entries, args.small = 20_000, 2_000

    from chalicelib.domain.canonical import canonical_bytes

    with tempfile.TemporaryDirectory() as tmp:
        key = signer(Path(tmp))
        big = SyntheticChain(args.entries, key)
        started = time.perf_counter()
        records = list(big.records())
        generated = time.perf_counter() - started

        started = time.perf_counter()
        for record in records:
            hashlib.sha256(canonical_bytes(record.hashed_fields())).digest()
        baseline = time.perf_counter() - started

        sink = CountingSink()
        started = time.perf_counter()
        result = build(sink, ListSource(big, records))
        export = time.perf_counter() - started

        small = SyntheticChain(args.small, key)
        small_records = list(small.records())
        _, small_peak = peak_memory(lambda: build(CountingSink(), ListSource(small, small_records)))
        _, big_peak = peak_memory(lambda: build(CountingSink(), ListSource(big, records)))

    report("export (fiscal archive, one core, counting sink)", [
        ("entries", f"{result.entries:,} ({args.entries:,} sales + {big.days:,} daily closures)"),
        ("records generated in", f"{generated:.1f} s (not part of the export)"),
        ("baseline canonicalise+SHA-256", f"{baseline:.2f} s ({len(records) / baseline:,.0f} entries/s)"),
        ("export", f"{export:.2f} s ({result.entries / export:,.0f} entries/s), archive {sink.bytes / 1e6:.1f} MB"),
        ("export / baseline", f"{export / baseline:.2f}x"),
        (f"peak memory {len(small_records):,} entries", f"{small_peak / 1e6:.1f} MB"),
        (f"peak memory {len(records):,} entries", f"{big_peak / 1e6:.1f} MB"),
        ("memory ratio (aim < 2: flat)", f"{big_peak / small_peak:.2f}x for {len(records) / len(small_records):.0f}x "
                                         "the entries"),
    ])


if __name__ == "__main__":
    main()
