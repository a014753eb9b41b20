"""The seq search that replaced the by_time index (decision 0027): it must return exactly what a
full filter returns, on any chain whose times never go backwards, with holes (entries TTL removed)
anywhere, in a logarithmic number of reads."""

from __future__ import annotations

import math
import random
from bisect import bisect_left

import pytest

from chalicelib.domain.time_search import (
    first_seq_at_or_after_time,
    items_in_time_range,
    items_in_time_range_newest_first,
)


def _chain(seed: int, size: int, hole_rate: float) -> dict[int, dict]:
    rng = random.Random(seed)
    minute, chain = 0, {}
    for seq in range(1, size + 1):
        minute += rng.choice((0, 0, 1, 3, 60))  # ties are frequent: several sales in one instant
        if seq == size or rng.random() >= hole_rate:  # the head is never expired
            chain[seq] = {"seq": seq, "recorded_at": f"T{minute:08d}"}
    return chain


class _Reads:
    def __init__(self, chain: dict[int, dict]) -> None:
        self.chain, self.seqs, self.count = chain, sorted(chain), 0

    def first_at_or_after(self, seq: int | None):
        self.count += 1
        i = len(self.seqs) - 1 if seq is None else bisect_left(self.seqs, seq)
        return (self.seqs[i], self.chain[self.seqs[i]]["recorded_at"]) if 0 <= i < len(self.seqs) else None

    def items_from(self, seq: int):
        for s in self.seqs[bisect_left(self.seqs, seq):]:
            self.count += 1
            yield self.chain[s]


def _expected(chain, start, end, limit, after_seq):
    return [item for s, item in sorted(chain.items())
            if start <= item["recorded_at"] < end and (after_seq is None or s > after_seq)][:limit]


@pytest.mark.parametrize("seed", range(40))
def test_the_search_finds_exactly_what_a_full_filter_finds(seed):
    rng = random.Random(seed)
    chain = _chain(seed, rng.randint(1, 400), hole_rate=rng.choice((0.0, 0.3, 0.9)))
    last = int(chain[max(chain)]["recorded_at"][1:])
    for _ in range(30):
        a = rng.randint(-5, last + 5)
        b = a + rng.randint(0, 200)
        start, end = f"T{a:08d}" if a >= 0 else "", f"T{b:08d}"
        limit = rng.choice((1, 2, 10, 1000))
        after = rng.choice((None, None, rng.randint(0, max(chain) + 2)))
        reads = _Reads(chain)
        got = items_in_time_range(lambda: reads.first_at_or_after(None), start, end, limit=limit, after_seq=after,
                                  first_at_or_after=reads.first_at_or_after, items_from=reads.items_from)
        assert got == _expected(chain, start, end, limit, after), (start, end, limit, after)


@pytest.mark.parametrize("seed", range(40))
def test_the_newest_first_search_finds_exactly_what_a_full_filter_finds_reversed(seed):
    rng = random.Random(seed)
    chain = _chain(seed, rng.randint(1, 400), hole_rate=rng.choice((0.0, 0.3, 0.9)))
    seqs = sorted(chain)
    last = int(chain[max(chain)]["recorded_at"][1:])
    for _ in range(30):
        a = rng.randint(-5, last + 5)
        b = a + rng.randint(0, 200)
        start, end = f"T{a:08d}" if a >= 0 else "", rng.choice((f"T{b:08d}", "U"))  # "U": after any time
        limit = rng.choice((1, 2, 10, 1000))
        before = rng.choice((None, None, rng.randint(0, max(chain) + 2)))
        reads = _Reads(chain)
        got = items_in_time_range_newest_first(
            lambda: reads.first_at_or_after(None), start, end, limit=limit, before_seq=before,
            first_at_or_after=reads.first_at_or_after,
            items_down_from=lambda seq: (chain[s] for s in reversed(seqs) if s <= seq))
        expected = [item for s, item in sorted(chain.items(), reverse=True)
                    if start <= item["recorded_at"] < end and (before is None or s < before)][:limit]
        assert got == expected, (start, end, limit, before)


def test_an_empty_chain_and_a_range_after_the_head_read_once():
    reads = _Reads({})
    assert first_seq_at_or_after_time(None, "T1", reads.first_at_or_after) is None
    chain = _chain(1, 50, 0.0)
    reads = _Reads(chain)
    head = reads.first_at_or_after(None)
    assert first_seq_at_or_after_time(head, "T99999999", reads.first_at_or_after) is None
    assert reads.count == 1


@pytest.mark.parametrize("size", [1_000, 100_000, 1_000_000])
def test_reads_grow_with_the_log_of_the_distance_from_the_head(size):
    chain = {s: {"seq": s, "recorded_at": f"T{s:08d}"} for s in range(1, size + 1)}
    for back in sorted({1, 10, 1_000, size - 1} - {size}):
        reads = _Reads(chain)
        head = reads.first_at_or_after(None)
        first = first_seq_at_or_after_time(head, f"T{size - back:08d}", reads.first_at_or_after)
        assert first == size - back
        assert reads.count <= 2 * math.ceil(math.log2(back + 1)) + 3, (size, back, reads.count)
