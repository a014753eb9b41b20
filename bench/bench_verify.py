"""Verification speed and memory.

Speed: verify_chain over N sealed records (as stored items) vs a bare canonicalise + SHA-256 loop
over the same records (aim >= 0.5). Memory: verifying 1,000,000 records generated on the fly
stays flat (aim < 200 MB peak), measured with tracemalloc against 100,000 records.
"""

from __future__ import annotations

import argparse
import hashlib
import resource

from bench.common import peak_memory, report, sale_payload, timed


def _records(n: int, payloads: list[dict]):
    """Sealed records as a store hands them to the verifier: decoded from their stored JSON."""
    from chalicelib.domain.canonical import TrustedItem, canonical_bytes, loads_trusted
    from chalicelib.domain.records import GENESIS_PREV_HASH, seal

    prev = GENESIS_PREV_HASH
    for i in range(1, n + 1):
        record = seal("bench", "prod.sales.R1", i, "sale", "2026-03-10T10:00:00.000000Z", False,
                      payloads[i % len(payloads)], prev)
        prev = record.hash
        yield TrustedItem(loads_trusted(canonical_bytes(record.to_dict())))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--memory-entries", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    from chalicelib.domain.canonical import canonical_bytes
    from chalicelib.domain.verification import verify_chain

    payloads = [sale_payload(i) for i in range(50)]
    items = list(_records(args.entries, payloads))

    try:
        import orjson

        def dumps(value):
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except ImportError:  # the stdlib gives the same bytes, slower
        import json

        def dumps(value):
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def bare():
        for item in items:
            hashlib.sha256(dumps({k: v for k, v in item.items() if k != "hash"})).digest()

    def baseline():
        for item in items:
            hashlib.sha256(canonical_bytes({k: v for k, v in item.items() if k != "hash"})).digest()

    def verify():
        report_ = verify_chain(items, tenant_id="bench", chain="prod.sales.R1")
        assert report_.ok, report_

    bare_t = timed(bare)
    base = timed(baseline)
    ours = timed(verify)

    def verify_stream(n):
        def run():
            r = verify_chain(_records(n, payloads), tenant_id="bench", chain="prod.sales.R1")
            assert r.ok and r.size == n
        return run

    small_n = max(1, args.memory_entries // 10)
    _, small_peak = peak_memory(verify_stream(small_n))
    _, big_peak = peak_memory(verify_stream(args.memory_entries))
    report("verification (pure domain, one core)", [
        ("entries", f"{args.entries:,}"),
        ("bare loop: sorted-keys dumps + SHA-256, no checks", f"{args.entries / bare_t:,.0f} /s"),
        ("checked canonicalise (refuses floats) + SHA-256", f"{args.entries / base:,.0f} /s"),
        ("verify_chain (hash, link, Merkle, checks)", f"{args.entries / ours:,.0f} /s"),
        ("ratio verify / bare loop (aim >= 0.5)", f"{bare_t / ours:.2f}"),
        ("ratio verify / checked canonicalise loop", f"{base / ours:.2f}"),
        (f"peak Python allocations verifying {small_n:,}", f"{small_peak / 2**10:,.0f} KiB"),
        (f"peak Python allocations verifying {args.memory_entries:,}", f"{big_peak / 2**10:,.0f} KiB (aim < 200 MiB)"),
        ("process max RSS (includes the test data above)",
         f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"),
        ("ratio peak memory 10x entries / 1x (flat = ~1)", f"{big_peak / small_peak:.2f}"),
    ])


if __name__ == "__main__":
    main()
