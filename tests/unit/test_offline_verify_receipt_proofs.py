"""Receipt proofs that anyone can check offline: inclusion proofs built from the checkpoints' compact
ranges equal RFC 6962's, read few leaves, and the per-address token bucket."""

from __future__ import annotations

import pytest

from chalicelib.adapters.checkpoint_store import StoredCheckpoint
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.errors import TooManyRequests
from chalicelib.domain.merkle import CompactRange, inclusion_proof, record_leaf_hash, root
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
from chalicelib.receipts import TokenBucket, inclusion_from_frontiers, is_hex_prefix, receipt_proof, short_code

KEY = chain_key("t1", "prod.sales.R1")


def _chain(n: int, every: int):
    store, stored, leaves = InMemoryChainStore(), [], []
    compact, prev = CompactRange(), GENESIS_PREV_HASH
    for seq in range(1, n + 1):
        record = seal("t1", "prod.sales.R1", seq, "sale", "2026-03-10T10:00:00.000000Z", False, {"n": seq}, prev)
        store.append(record)
        prev = record.hash
        leaves.append(record_leaf_hash(record.hash))
        compact.append(leaves[-1])
        if seq % every == 0 or seq == n:
            cp = Checkpoint(KEY, seq, compact.root().hex(), "2026-03-10T10:00:00.000000Z", "k", b"x")
            stored.append(StoredCheckpoint(cp, [h.hex() for h in compact.hashes]))
    return store, stored, leaves


@pytest.mark.parametrize("n, every", [(1, 1), (7, 3), (100, 10), (1000, 100), (1537, 100)])
def test_proofs_from_frontiers_are_the_rfc_6962_proofs(n, every):
    store, stored, leaves = _chain(n, every)
    for target in (stored[-1], stored[len(stored) // 2]):
        size = target.checkpoint.size
        assert root(leaves[:size]).hex() == target.checkpoint.root
        for seq in sorted({s for s in (1, 2, size // 3, size // 2, size - 1, size) if 1 <= s <= size}):
            proof, _ = inclusion_from_frontiers(KEY, store, stored, seq, target)
            assert proof == inclusion_proof(leaves[:size], seq - 1), (n, size, seq)


def test_a_proof_in_a_long_chain_reads_only_the_leaves_next_to_the_receipt():
    store, stored, leaves = _chain(20000, 100)
    for seq in (2345, 9999, 17000):
        proof, read = inclusion_from_frontiers(KEY, store, stored, seq, stored[-1])
        assert proof == inclusion_proof(leaves, seq - 1)
        assert read <= 1100, read  # not 20,000: the checkpoints' compact ranges give the rest


def test_the_code_and_payload_on_the_receipt():
    record = seal("t 1", "prod.sales.R1", 42, "sale", "2026-03-10T10:00:00.000000Z", False, {}, "a" * 64)
    proof = receipt_proof(record, "https://scelle.example/")
    assert proof["code"] == short_code(record.hash) == f"{record.hash[:5].upper()}-{record.hash[5:10].upper()}"
    assert proof["qr"] == f"https://scelle.example/check?t=t%201&c=prod.sales.R1&s=42&h={record.hash}"
    assert proof["verify_url"] == (
        f"https://scelle.example/v1/verify/receipt?t=t%201&c=prod.sales.R1&s=42&h={record.hash}")
    assert is_hex_prefix(proof["code"]) and is_hex_prefix(record.hash)
    assert not is_hex_prefix("ABCDE") and not is_hex_prefix("zzzzzzzzzz") and not is_hex_prefix("a" * 65)


def test_the_token_bucket_refills_and_is_per_address():
    now = [0.0]
    bucket = TokenBucket(capacity=2, refill_seconds=5, clock=lambda: now[0])
    bucket.take("a")
    bucket.take("a")
    with pytest.raises(TooManyRequests) as refused:
        bucket.take("a")
    assert refused.value.extra["retry_after"] >= 1
    bucket.take("b")
    now[0] += 5
    bucket.take("a")
