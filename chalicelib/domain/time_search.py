"""Where a time range starts in a chain, found by its seq alone (decision 0027).

The chain writer never lets ``recorded_at`` go backwards along a chain (services/sealing.py), so
a chain sorted by seq is also sorted by time: the first entry of a range is found by a search over
seq, with no time index. The search sees the chain only through ``first_at_or_after(seq)``, the
first stored entry whose seq is >= ``seq`` (or None), so that holes (event-journal entries TTL has
removed) are stepped over rather than mistaken for the end of the chain.

It gallops back from the head and then bisects: ``O(log k)`` reads for a range starting ``k``
entries before the head, so recent windows (anomaly rules, today's sales) cost a handful of reads
on a chain of any length. Pure: no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

# (seq, recorded_at) of the first stored entry at or after a seq, or None past the head.
FirstAtOrAfter = Callable[[int], "tuple[int, str] | None"]


def first_seq_at_or_after_time(head: tuple[int, str] | None, start: str,
                               first_at_or_after: FirstAtOrAfter) -> int | None:
    """The seq to read from so that every stored entry with ``recorded_at >= start`` is found and
    every entry before it has ``recorded_at < start``; None when the chain has no such entry.

    ``head``: (seq, recorded_at) of the chain's last entry, or None for an empty chain."""
    if head is None or head[1] < start:
        return None
    head_seq = head[0]
    lo, hi = 1, head_seq  # entries before lo are all earlier than start; the entry at hi is not
    step = 1
    while True:  # gallop back from the head
        probe = head_seq - step
        if probe < lo:
            break
        found = first_at_or_after(probe)
        if found is None or found[1] >= start:  # None: a concurrent reader lost the head (never here)
            hi = probe
            step *= 2
            continue
        lo = found[0] + 1
        break
    while lo < hi:  # bisect [lo, hi]
        mid = (lo + hi) // 2
        found = first_at_or_after(mid)
        if found is not None and found[1] < start:
            lo = found[0] + 1
        else:
            hi = mid
    return lo


def items_in_time_range(head: Callable[[], tuple[int, str] | None], start: str, end: str, *, limit: int,
                        after_seq: int | None, first_at_or_after: FirstAtOrAfter,
                        items_from: Callable[[int], Iterator[dict]]) -> list[dict]:
    """Stored items with ``start <= recorded_at < end`` and seq > ``after_seq``, ascending, at
    most ``limit``. ``head()``: (seq, recorded_at) of the chain's last entry, read only if needed;
    ``items_from(seq)``: the stored items from ``seq`` on, ascending, lazily."""
    first = None
    if after_seq is not None:  # a next page: its first entry is usually the one to read from
        found = first_at_or_after(after_seq + 1)
        if found is None:
            return []
        if found[1] >= start:
            first = found[0]
    if first is None:
        first = first_seq_at_or_after_time(head(), start, first_at_or_after)
        if first is None:
            return []
        if after_seq is not None:
            first = max(first, after_seq + 1)
    found_items: list[dict] = []
    for item in items_from(first):
        if item["recorded_at"] >= end:
            break
        if item["recorded_at"] >= start:  # only a tampered chain goes back in time
            found_items.append(item)
            if len(found_items) == limit:
                break
    return found_items


def items_in_time_range_newest_first(head: Callable[[], tuple[int, str] | None], start: str, end: str, *,
                                     limit: int, before_seq: int | None, first_at_or_after: FirstAtOrAfter,
                                     items_down_from: Callable[[int], Iterator[dict]]) -> list[dict]:
    """Stored items with ``start <= recorded_at < end`` and seq < ``before_seq``, newest first, at
    most ``limit``. ``items_down_from(seq)``: the stored items from ``seq`` down, descending,
    lazily. The range's last entry is found as ``items_in_time_range`` finds its first: one read
    when ``end`` is after the head (today's entries), a search back from the head otherwise."""
    found_head = head()
    if found_head is None:
        return []
    if found_head[1] < end:
        top = found_head[0]
    else:
        first_not_before_end = first_seq_at_or_after_time(found_head, end, first_at_or_after)
        top = (first_not_before_end or 1) - 1
    if before_seq is not None:
        top = min(top, before_seq - 1)
    found_items: list[dict] = []
    if top < 1:
        return found_items
    for item in items_down_from(top):
        if item["recorded_at"] < start:
            break
        if item["recorded_at"] < end:  # only a tampered chain goes back in time
            found_items.append(item)
            if len(found_items) == limit:
                break
    return found_items
