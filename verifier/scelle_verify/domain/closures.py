"""Closures (daily, monthly, yearly) of a chain: build them, check them, re-check them.

A closure is a sealed ``"closure"`` record in the chain it closes. Its payload (schema in
``docs/entry-types.md``) states what the period holds: entry counts, totals per VAT rate
(excl / VAT / incl), the period grand total, the perpetual grand total, the seq range covered,
the business-day bounds and the Merkle root of the chain at the time of closing.

**Coverage.** A closure of kind K (``day``, ``month``, ``year``) covers the contiguous seq range
``[first_seq, last_seq]``: ``first_seq`` is the previous K-closure's ``last_seq + 1`` (1 for the
chain's first K-closure) and ``last_seq`` is the last *ledger entry* (``sale``, ``journal``,
``reversal``) recorded before the period's end; the range is empty when
``last_seq == first_seq - 1``. Closures and events inside a range are ignored. Every ledger
entry of the range is recorded (``recorded_at``, the server's sealing time) within
``[period_start, period_end)``, and none recorded before ``period_end`` is left after it: the
chain writer keeps ``recorded_at`` non-decreasing along a chain, so recording time and seq
order agree. Periods are business periods in the tenant's time zone with its cut-off
(``calendar.period_bounds_utc``), recorded in the payload. Periods are closed in order
(day, then the month that contains it, then the year); a period without entries needs no
closure.

**Totals.** Sale and return receipts add their per-rate totals and their total incl VAT (a
return's are negative); a reversal adds the negated amounts it holds; journal entries add
their debit and credit to ``journal_totals``. ``period_grand_total`` is the net total incl VAT
(sales minus returns minus reversed sales). ``perpetual_grand_total`` is never reset: it is the previous
K-closure's perpetual total plus this period's grand total, i.e. the net total incl VAT of every
ledger entry from seq 1 through ``last_seq``. Because ranges are contiguous, a month's totals
are the sum of its days' and a year's the sum of its months' (``check_rollup``), and the
perpetual total at the end of a month equals that of its last day.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from operator import itemgetter
from typing import Any, NamedTuple

from scelle_verify.domain.calendar import (
    PERIOD_KINDS,
    check_cutoff,
    check_period_kind,
    check_time_zone,
    parse_period_key,
    period_bounds_utc,
    period_key,
)
from scelle_verify.domain.entries import JOURNAL, LEDGER_TYPES, REVERSAL, SALE, SCHEMA_VERSION, Actor
from scelle_verify.domain.errors import Conflict, ScelleError, ValidationFailed
from scelle_verify.domain.merkle import CompactRange, ProofError, record_leaf_hash
from scelle_verify.domain.records import SealedRecord, is_hash_hex, parse_timestamp, utc_timestamp

__all__ = [
    "CATEGORIES",
    "ClosureAccumulator",
    "ClosureCheck",
    "ClosureMismatch",
    "PayloadError",
    "ResumedClosureCheck",
    "check_follows",
    "check_rollup",
    "closure_payload",
    "closure_runs",
    "entry_contribution",
]

#: How covered ledger entries are counted: sale receipts, return receipts, journal entries,
#: reversals (of either).
CATEGORIES = ("sale", "return", "journal", "reversal")
_CHILD_KIND = {"month": "day", "year": "month"}


class ClosureMismatch(ScelleError):
    """Closures disagree with each other (a month with its days, a closure with its predecessor)."""

    code = "closure-mismatch"
    title = "Closures do not add up"


class PayloadError(ValueError):
    """A stored payload lacks a field the closure arithmetic needs, or has the wrong type."""


# --- what one entry contributes --------------------------------------------------------------


class Contribution(NamedTuple):
    category: str
    grand: int
    debit: int
    credit: int
    vat: tuple[tuple[int, int, int, int], ...]  # (rate, excl, vat, incl)


def _get(data: object, key: str, path: str) -> Any:
    if type(data) is not dict or key not in data:
        raise PayloadError(f"{path}.{key} is missing")
    return data[key]


def _int(data: object, key: str, path: str) -> int:
    value = _get(data, key, path)
    if type(value) is not int:
        raise PayloadError(f"{path}.{key} must be an integer, found {value!r}")
    return value


def _sale_amounts(data: object, path: str) -> tuple[int, tuple[tuple[int, int, int, int], ...]]:
    parts = _get(data, "vat_totals", path)
    if type(parts) is not list:
        raise PayloadError(f"{path}.vat_totals must be a list")
    vat = tuple(
        (
            _int(part, "rate", f"{path}.vat_totals.{index}"),
            _int(part, "excl", f"{path}.vat_totals.{index}"),
            _int(part, "vat", f"{path}.vat_totals.{index}"),
            _int(part, "incl", f"{path}.vat_totals.{index}"),
        )
        for index, part in enumerate(parts)
    )
    return _int(_get(data, "totals", path), "incl", f"{path}.totals"), vat


def _sale_fast(data: object) -> Contribution | None:
    """A well-formed sale's contribution, with no work spent on error messages; None when
    anything is off (``entry_contribution`` then finds and names it)."""
    try:
        kind, parts, totals = data["kind"], data["vat_totals"], data["totals"]  # type: ignore[index]
        if (kind != "sale" and kind != "return") or type(parts) is not list or type(totals) is not dict:
            return None
        incl = totals["incl"]
        if type(incl) is not int:
            return None
        vat = []
        for part in parts:
            if type(part) is not dict:
                return None
            rate, excl, tax, total = values = (part["rate"], part["excl"], part["vat"], part["incl"])
            if type(rate) is not int or type(excl) is not int or type(tax) is not int or type(total) is not int:
                return None
            vat.append(values)
    except (KeyError, TypeError):
        return None
    return Contribution(kind, incl, 0, 0, tuple(vat))


def entry_contribution(record_type: str, data: object) -> Contribution | None:
    """What a record adds to the closures that cover it; ``None`` for closures and events.

    Raises ``PayloadError`` when the payload lacks what the arithmetic needs.
    """
    if record_type not in LEDGER_TYPES:
        return None
    if record_type == SALE and type(data) is dict:
        fast = _sale_fast(data)
        if fast is not None:
            return fast
    if record_type == SALE:
        kind = _get(data, "kind", "data")
        if kind not in ("sale", "return"):
            raise PayloadError(f"data.kind must be 'sale' or 'return', found {kind!r}")
        grand, vat = _sale_amounts(data, "data")
        return Contribution(kind, grand, 0, 0, vat)
    if record_type == JOURNAL:
        return Contribution(JOURNAL, 0, _int(data, "total_debit", "data"), _int(data, "total_credit", "data"), ())
    original_type = _get(_get(data, "original", "data"), "type", "data.original")
    negated = _get(data, "negated", "data")
    if original_type == SALE:
        grand, vat = _sale_amounts(negated, "data.negated")
        return Contribution(REVERSAL, grand, 0, 0, vat)
    if original_type == JOURNAL:
        debit = _int(negated, "total_debit", "data.negated")
        return Contribution(REVERSAL, 0, debit, _int(negated, "total_credit", "data.negated"), ())
    raise PayloadError(f"data.original.type must be 'sale' or 'journal', found {original_type!r}")


class _Totals:
    """Running totals of a set of entries; ``fields()`` gives their payload form."""

    __slots__ = ("counts", "credit", "debit", "grand", "vat")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(CATEGORIES, 0)
        self.vat: dict[int, list[int]] = {}
        self.grand = 0
        self.debit = 0
        self.credit = 0

    def add_entry(self, entry: Contribution) -> None:
        self.add_entries((entry,))

    def add_entries(self, entries: Iterable[Contribution]) -> None:
        counts, by_rate = self.counts, self.vat
        grand, debit, credit = self.grand, self.debit, self.credit
        for category, entry_grand, entry_debit, entry_credit, parts in entries:
            counts[category] += 1
            grand += entry_grand
            debit += entry_debit
            credit += entry_credit
            for rate, excl, vat, incl in parts:
                sums = by_rate.get(rate)
                if sums is None:
                    sums = by_rate[rate] = [0, 0, 0]
                sums[0] += excl
                sums[1] += vat
                sums[2] += incl
        self.grand, self.debit, self.credit = grand, debit, credit

    def add(self, other: _Totals) -> None:
        for name, count in other.counts.items():
            self.counts[name] += count
        self.grand += other.grand
        self.debit += other.debit
        self.credit += other.credit
        for rate, (excl, vat, incl) in other.vat.items():
            sums = self.vat.setdefault(rate, [0, 0, 0])
            sums[0] += excl
            sums[1] += vat
            sums[2] += incl

    def fields(self) -> dict[str, Any]:
        return {
            "entry_count": sum(self.counts.values()),
            "counts": dict(self.counts),
            "vat_totals": [
                {"rate": rate, "excl": sums[0], "vat": sums[1], "incl": sums[2]}
                for rate, sums in sorted(self.vat.items(), reverse=True)
            ],
            "period_grand_total": self.grand,
            "journal_totals": {"debit": self.debit, "credit": self.credit},
        }


def _record_view(record: object) -> tuple[int, str, str, Any]:
    """(seq, type, recorded_at, data) of a ``SealedRecord`` or of its dict form."""
    if type(record) is SealedRecord:  # the common case, without the slower Mapping check
        return record.seq, record.type, record.recorded_at, record.data
    if isinstance(record, Mapping):
        return record["seq"], record["type"], record["recorded_at"], record["data"]
    return record.seq, record.type, record.recorded_at, record.data  # type: ignore[attr-defined]


def _record_hash(record: object) -> str:
    return record["hash"] if isinstance(record, Mapping) else record.hash  # type: ignore[attr-defined]


# --- building a closure ----------------------------------------------------------------------


class ClosureAccumulator:
    """Totals of one period of one chain, fed with the chain's records in seq order.

    Start it with ``following(previous_closure_payload, ...)`` (or the constructor), feed it
    every record from ``first_seq`` on with ``add`` until ``add`` returns ``False`` (the first
    ledger entry recorded at or after the period end: it and everything after belong to the
    next period) or the chain's head is reached, then build the payload with ``closure_payload``.
    """

    def __init__(
        self,
        kind: str,
        period_start: date,
        *,
        time_zone: str,
        cutoff: time,
        first_seq: int = 1,
        previous_perpetual_grand_total: int = 0,
    ) -> None:
        self.kind = check_period_kind(kind)
        self.time_zone = time_zone
        self.cutoff = cutoff
        self.period_start_date = period_start
        start, end = period_bounds_utc(kind, period_start, time_zone, cutoff)
        self.period_start = utc_timestamp(start)
        self.period_end = utc_timestamp(end)
        self._end = end
        if type(first_seq) is not int or first_seq < 1:
            raise ValueError(f"first_seq must be an int >= 1, got {first_seq!r}")
        if type(previous_perpetual_grand_total) is not int:
            raise ValueError("previous_perpetual_grand_total must be an int")
        self.first_seq = first_seq
        self.previous_perpetual_grand_total = previous_perpetual_grand_total
        self.last_seq = first_seq - 1
        self.fed_through = first_seq - 1
        self.ended = False
        self._totals = _Totals()

    @classmethod
    def following(
        cls,
        previous: Mapping[str, Any] | None,
        kind: str,
        period_start: date,
        *,
        time_zone: str,
        cutoff: time,
    ) -> ClosureAccumulator:
        """An accumulator for the period after ``previous``, the chain's latest closure of the
        same kind (``None`` for the chain's first): it starts at ``previous["last_seq"] + 1`` and
        carries on its perpetual grand total. Raises ``Conflict`` when the period does not come
        after ``previous``'s (a period is closed once, in order)."""
        if previous is None:
            return cls(kind, period_start, time_zone=time_zone, cutoff=cutoff)
        if previous.get("kind") != kind:
            raise ValueError(f"previous closure is a {previous.get('kind')!r} closure, not a {kind!r} one")
        accumulator = cls(
            kind,
            period_start,
            time_zone=time_zone,
            cutoff=cutoff,
            first_seq=previous["last_seq"] + 1,
            previous_perpetual_grand_total=previous["perpetual_grand_total"],
        )
        if accumulator.period_start < previous["period_end"]:
            raise Conflict(
                f"The {kind} period {period_key(kind, period_start)} does not come after the last closed one "
                f"({previous['period']}); a period is closed once, in order.",
                field="period",
            )
        return accumulator

    def add(self, record: object) -> bool:
        """Feed the next record of the chain (seq ``fed_through + 1``).

        Returns ``False``, and ignores it and every later record, when it is a ledger entry
        recorded at or after the period end. Raises ``Conflict`` when a ledger entry was
        recorded before the period start (an earlier period is not closed yet) and
        ``ValueError`` when records are skipped or out of order.
        """
        if self.ended:
            return False
        seq, record_type, recorded_at, data = _record_view(record)
        if seq != self.fed_through + 1:
            raise ValueError(
                f"records must be fed in seq order from {self.first_seq}: expected {self.fed_through + 1}, got {seq}"
            )
        if record_type in LEDGER_TYPES:
            parse_timestamp(recorded_at)  # fixed-width stamps: string order is time order
            if recorded_at >= self.period_end:
                self.ended = True
                return False
            if recorded_at < self.period_start:
                raise Conflict(
                    f"Entry {seq} was recorded at {recorded_at}, before this {self.kind} period starts "
                    f"({self.period_start}): close the earlier period first.",
                    field="period",
                )
            contribution = entry_contribution(record_type, data)
            assert contribution is not None
            self._totals.add_entry(contribution)
            self.last_seq = seq
        self.fed_through = seq
        return True

    @property
    def period(self) -> str:
        return period_key(self.kind, self.period_start_date)

    def totals(self) -> dict[str, Any]:
        """The totals so far, in payload form (``entry_count``, ``counts``, ``vat_totals``,
        ``period_grand_total``, ``journal_totals``)."""
        return self._totals.fields()


def closure_payload(
    accumulator: ClosureAccumulator,
    *,
    merkle_root: str,
    merkle_tree_size: int,
    closed_by: Actor,
    now: datetime,
) -> dict[str, Any]:
    """The payload of the closure of ``accumulator``'s period (``SealedRecord.type == "closure"``).

    ``merkle_tree_size`` is the chain head the caller read and ``merkle_root`` (hex) the chain's
    Merkle root over seqs 1..``merkle_tree_size``; the closure must be appended right after that
    head (``seq == merkle_tree_size + 1``, which ``ClosureCheck`` verifies with the root). The
    accumulator must have been fed every record up to the head, or have seen the period end
    before it. If another writer appends first, feed the accumulator the new records and build
    the payload again with the new head and root. ``now`` must be at or after the period end
    (``Conflict`` otherwise: the period is still open).
    """
    if not isinstance(closed_by, Actor):
        raise TypeError("closed_by must be an Actor")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError("now must be an aware datetime")
    if now < accumulator._end:
        raise Conflict(
            f"The {accumulator.kind} period {accumulator.period} is still open: it ends at {accumulator.period_end}.",
            field="period",
        )
    if not is_hash_hex(merkle_root):
        raise ValueError("merkle_root must be 64 lowercase hex digits")
    if type(merkle_tree_size) is not int:
        raise ValueError("merkle_tree_size must be an int")
    fed_enough = (
        merkle_tree_size > accumulator.fed_through
        if accumulator.ended
        else (merkle_tree_size == accumulator.fed_through)
    )
    if not fed_enough:
        raise ValueError(
            f"the accumulator was fed through seq {accumulator.fed_through} (period ended: "
            f"{accumulator.ended}) but the head is {merkle_tree_size}: feed every record up to the head"
        )
    totals = accumulator.totals()
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": accumulator.kind,
        "period": accumulator.period,
        "time_zone": accumulator.time_zone,
        "business_day_cutoff": accumulator.cutoff.isoformat(),
        "period_start": accumulator.period_start,
        "period_end": accumulator.period_end,
        "first_seq": accumulator.first_seq,
        "last_seq": accumulator.last_seq,
        **totals,
        "perpetual_grand_total": accumulator.previous_perpetual_grand_total + totals["period_grand_total"],
        "merkle_tree_size": merkle_tree_size,
        "merkle_root": merkle_root,
        "closed_by": closed_by.as_dict(),
    }


# --- comparing closures ----------------------------------------------------------------------


def _same(want: int, got: object) -> bool:
    """``got`` is exactly the integer ``want`` (``True`` is not ``1`` here)."""
    return type(got) is int and got == want


def _compare_totals(expected: Mapping[str, Any], found: Mapping[str, Any]) -> tuple[str, Any, Any] | None:
    """The first totals field where ``found`` differs from ``expected``: (field, expected, found)."""
    if not _same(expected["entry_count"], found.get("entry_count")):
        return "entry_count", expected["entry_count"], found.get("entry_count")
    found_counts = found.get("counts")
    for name in CATEGORIES:
        value = found_counts.get(name) if isinstance(found_counts, Mapping) else None
        if not _same(expected["counts"][name], value):
            return f"counts.{name}", expected["counts"][name], value
    expected_parts = expected["vat_totals"]
    expected_rates = [part["rate"] for part in expected_parts]
    found_parts = found.get("vat_totals")
    if not isinstance(found_parts, list) or not all(isinstance(part, Mapping) for part in found_parts):
        return "vat_totals", expected_parts, found_parts
    found_rates = [part.get("rate") for part in found_parts]
    if len(found_rates) != len(expected_rates) or not all(map(_same, expected_rates, found_rates)):
        return "vat_totals (rates)", expected_rates, found_rates
    for index, (want, got) in enumerate(zip(expected_parts, found_parts, strict=True)):
        for name in ("excl", "vat", "incl"):
            if not _same(want[name], got.get(name)):
                return f"vat_totals.{index}.{name} (rate {want['rate']})", want[name], got.get(name)
    if not _same(expected["period_grand_total"], found.get("period_grand_total")):
        return "period_grand_total", expected["period_grand_total"], found.get("period_grand_total")
    found_journal = found.get("journal_totals")
    for name in ("debit", "credit"):
        value = found_journal.get(name) if isinstance(found_journal, Mapping) else None
        if not _same(expected["journal_totals"][name], value):
            return f"journal_totals.{name}", expected["journal_totals"][name], value
    return None


def _describe(closure: Mapping[str, Any]) -> str:
    return f"{closure.get('kind')} closure {closure.get('period')}"


def check_follows(previous: Mapping[str, Any] | None, closure: Mapping[str, Any]) -> None:
    """Check that ``closure`` continues ``previous`` (the chain's previous closure of the same
    kind, ``None`` for the first): same kind, a later period, ``first_seq`` right after
    ``previous``'s ``last_seq``, and ``perpetual_grand_total == previous perpetual +
    period_grand_total``. Raises ``ClosureMismatch`` naming the field."""
    if previous is None:
        prior_last, prior_perpetual = 0, 0
    else:
        if previous.get("kind") != closure.get("kind"):
            raise ClosureMismatch(f"{_describe(closure)} cannot follow a {previous.get('kind')} closure.", field="kind")
        if closure["period_start"] < previous["period_end"]:
            raise ClosureMismatch(
                f"{_describe(closure)} starts at {closure['period_start']}, before {_describe(previous)} "
                f"ends ({previous['period_end']}).",
                field="period_start",
            )
        prior_last, prior_perpetual = previous["last_seq"], previous["perpetual_grand_total"]
    if closure["first_seq"] != prior_last + 1:
        raise ClosureMismatch(
            f"{_describe(closure)}: first_seq is {closure['first_seq']}, expected {prior_last + 1} "
            "(right after the previous closure's last_seq).",
            field="first_seq",
        )
    expected = prior_perpetual + closure["period_grand_total"]
    if closure["perpetual_grand_total"] != expected:
        raise ClosureMismatch(
            f"{_describe(closure)}: perpetual_grand_total is {closure['perpetual_grand_total']}, expected "
            f"{expected} (previous perpetual {prior_perpetual} + period {closure['period_grand_total']}).",
            field="perpetual_grand_total",
        )


def check_rollup(parent: Mapping[str, Any], children: Sequence[Mapping[str, Any]]) -> None:
    """Check that a monthly closure is the sum of its daily closures (a yearly one of its
    monthly closures): children of the right kind inside the parent's period, contiguous seq
    ranges that exactly fill the parent's, counts and totals that add up, and the parent's
    perpetual grand total equal to its last child's. ``children`` are in period order and
    leave out only periods without entries. Raises ``ClosureMismatch`` naming the parent's
    field (or ``children.<i>...``)."""
    parent_kind = parent.get("kind")
    if parent_kind not in _CHILD_KIND:
        raise ValueError(f"only month and year closures have children, not {parent_kind!r}")
    child_kind = _CHILD_KIND[parent_kind]
    parse_period_key(parent["period"], supported_only=False)  # validates the key (sealed: any year)
    expected_first = parent["first_seq"]
    sums = _Totals()
    for index, child in enumerate(children):
        where = f"children.{index}"
        if child.get("kind") != child_kind:
            raise ClosureMismatch(
                f"{_describe(parent)} is made of {child_kind} closures, not {child.get('kind')}.",
                field=f"{where}.kind",
            )
        _, child_start = parse_period_key(child["period"], supported_only=False)
        if period_key(parent_kind, child_start) != parent["period"]:
            raise ClosureMismatch(f"{_describe(child)} is not inside {_describe(parent)}.", field=f"{where}.period")
        if child["first_seq"] != expected_first:
            raise ClosureMismatch(
                f"{_describe(child)} starts at seq {child['first_seq']}, expected {expected_first}: "
                f"the {child_kind} closures of {_describe(parent)} must cover its range "
                "without gap or overlap.",
                field=f"{where}.first_seq",
            )
        expected_first = child["last_seq"] + 1
        part = _Totals()
        part.counts = {name: child["counts"][name] for name in CATEGORIES}
        part.vat = {item["rate"]: [item["excl"], item["vat"], item["incl"]] for item in child["vat_totals"]}
        part.grand = child["period_grand_total"]
        part.debit = child["journal_totals"]["debit"]
        part.credit = child["journal_totals"]["credit"]
        sums.add(part)
    if parent["last_seq"] != expected_first - 1:
        raise ClosureMismatch(
            f"{_describe(parent)} ends at seq {parent['last_seq']} but its {child_kind} closures end at "
            f"{expected_first - 1}.",
            field="last_seq",
        )
    mismatch = _compare_totals(sums.fields(), parent)
    if mismatch is not None:
        name, want, got = mismatch
        raise ClosureMismatch(
            f"{_describe(parent)}: {name} is {got} but its {child_kind} closures add up to {want}.",
            field=name.split(" ")[0],
        )
    if children and parent["perpetual_grand_total"] != children[-1]["perpetual_grand_total"]:
        raise ClosureMismatch(
            f"{_describe(parent)}: perpetual_grand_total is {parent['perpetual_grand_total']} but its last "
            f"{child_kind} closure ({children[-1]['period']}) ends at "
            f"{children[-1]['perpetual_grand_total']}.",
            field="perpetual_grand_total",
        )


# --- re-checking closures during verification ------------------------------------------------


@dataclass
class _Segment:
    """Ledger entries of the seqs ``(previous bound, end]``, aggregated."""

    end: int
    totals: _Totals = field(default_factory=_Totals)
    cumulative_grand: int = 0
    earliest: tuple[str, int] | None = None  # (recorded_at, seq)
    latest: tuple[str, int] | None = None


class _Closure(NamedTuple):
    kind: str
    period: str
    period_start_date: date
    time_zone: str
    cutoff: time
    period_start: str
    period_end: str
    first_seq: int
    last_seq: int
    perpetual: int
    merkle_tree_size: int


_CLOSURE_INTS = (
    "first_seq",
    "last_seq",
    "perpetual_grand_total",
    "merkle_tree_size",
    "entry_count",
    "period_grand_total",
)


def _read_closure(data: object) -> _Closure:
    for name in _CLOSURE_INTS:
        _int(data, name, "data")
    assert isinstance(data, dict)
    kind = _get(data, "kind", "data")
    if kind not in PERIOD_KINDS:
        raise PayloadError(f"data.kind must be one of {list(PERIOD_KINDS)}, found {kind!r}")
    try:
        key_kind, start = parse_period_key(_get(data, "period", "data"), supported_only=False)
    except ValidationFailed:
        raise PayloadError(f"data.period {data['period']!r} is not a period key") from None
    if key_kind != kind:
        raise PayloadError(f"data.period {data['period']!r} is not a {kind} period")
    time_zone = _get(data, "time_zone", "data")
    raw_cutoff = _get(data, "business_day_cutoff", "data")
    try:
        check_time_zone(time_zone)
        cutoff = check_cutoff(time.fromisoformat(raw_cutoff) if type(raw_cutoff) is str else raw_cutoff)
    except (ValidationFailed, ValueError):
        raise PayloadError(
            f"data.time_zone {time_zone!r} or data.business_day_cutoff {raw_cutoff!r} is invalid"
        ) from None
    for name in ("period_start", "period_end", "merkle_root"):
        if type(_get(data, name, "data")) is not str:
            raise PayloadError(f"data.{name} must be a string")
    if not is_hash_hex(data["merkle_root"]):
        raise PayloadError("data.merkle_root must be 64 lowercase hex digits")
    return _Closure(
        kind,
        data["period"],
        start,
        time_zone,
        cutoff,
        data["period_start"],
        data["period_end"],
        data["first_seq"],
        data["last_seq"],
        data["perpetual_grand_total"],
        data["merkle_tree_size"],
    )


# a buffered (seq, recorded_at, contribution)
_SEQ, _STAMP, _CONTRIBUTION = itemgetter(0), itemgetter(1), itemgetter(2)


class ClosureCheck:
    """An extra check for ``verification.verify_chain``: re-computes every closure of a chain.

    Fed every record of one chain in seq order from seq 1 (``check(record)``), it keeps the
    ledger entries' contributions and, at each closure, checks (first failure reported):

    * ``closure_payload`` — the closure lacks a field or has a wrong type; ``entry_payload`` —
      a ledger entry lacks the amounts a closure needs;
    * ``closure_period`` — ``period_start``/``period_end`` are not the business-period bounds
      of ``period`` in ``time_zone`` with ``business_day_cutoff``; the period does not come
      after the previous closure of its kind; the closure was recorded before its period ended;
      a covered entry was recorded outside the period;
    * ``closure_merkle`` — ``merkle_tree_size`` is not ``seq - 1`` or ``merkle_root`` is not the
      Merkle root of the chain's first ``seq - 1`` records;
    * ``closure_range`` — ``first_seq`` is not the previous same-kind ``last_seq + 1``;
      ``last_seq`` is not in ``[first_seq - 1, seq - 1]``; an entry recorded before the period
      end is left out; a range boundary falls inside a range already closed by a later-ending
      closure (closures are written in order: day, then month, then year);
    * ``closure_totals`` — ``entry_count``, ``counts``, ``vat_totals``, ``period_grand_total``,
      ``journal_totals`` differ from the sums of the covered entries, or
      ``perpetual_grand_total`` differs from the net total incl VAT of every ledger entry from
      seq 1 through ``last_seq`` (= the previous same-kind closure's perpetual + this period's
      total). The detail names the field, the expected and the found value.

    It must see the chain from seq 1 (it keeps its own Merkle compact range and running
    totals), so it belongs to full verifications, not to ones resumed from a ``ChainHead``.
    Memory: the contributions of the entries since the latest range boundary (normally the
    entries of one business day), one small aggregate per closure and O(log n) hashes.
    """

    def __init__(self) -> None:
        self._bounds: list[int] = [0]
        self._segments: dict[int, _Segment] = {0: _Segment(0)}
        self._buffer: list[tuple[int, str, Contribution]] = []
        self._previous: dict[str, _Closure] = {}
        self._tree = CompactRange()
        self._own_tree = True

    def share_tree(self, tree: CompactRange) -> bool:
        """Use the caller's Merkle compact range instead of keeping one (``verify_chain`` does:
        it appends each record's leaf after every check of the record passed, so when a record is
        checked here the range holds exactly the records before it, as this check's own would).
        Refused (False) unless both hold the same number of leaves."""
        if tree.size != self._tree.size:
            return False
        self._tree, self._own_tree = tree, False
        self.check = self._check  # type: ignore[method-assign]  # nothing to append to a tree of its own
        return True

    def check(self, record: object) -> tuple[str, str] | None:
        report = self._check(record)
        if self._own_tree:
            try:
                self._tree.append(record_leaf_hash(_record_hash(record)))
            except (ProofError, ValueError) as exc:  # pragma: no cover - the verifier checks hashes first
                return "closure_merkle", f"cannot add the record's hash to the Merkle tree: {exc}"
        return report

    def _check(self, record: object) -> tuple[str, str] | None:
        seq, record_type, recorded_at, data = _record_view(record)
        if record_type in LEDGER_TYPES:
            try:
                contribution = entry_contribution(record_type, data)
            except PayloadError as exc:
                return "entry_payload", f"{record_type} entry: {exc}"
            assert contribution is not None
            self._buffer.append((seq, recorded_at, contribution))
            return None
        if record_type != "closure":
            return None
        try:
            closure = _read_closure(data)
        except PayloadError as exc:
            return "closure_payload", f"closure: {exc}"
        previous = self._previous.get(closure.kind)
        self._previous[closure.kind] = closure
        return self._check_closure(seq, recorded_at, closure, data, previous)

    def _check_closure(
        self,
        seq: int,
        recorded_at: str,
        closure: _Closure,
        data: Mapping[str, Any],
        previous: _Closure | None,
    ) -> tuple[str, str] | None:
        name = f"{closure.kind} closure {closure.period}"
        start, end = period_bounds_utc(closure.kind, closure.period_start_date, closure.time_zone, closure.cutoff)
        for field_name, want, got in (
            ("period_start", utc_timestamp(start), closure.period_start),
            ("period_end", utc_timestamp(end), closure.period_end),
        ):
            if got != want:
                return "closure_period", f"{name}: field {field_name} expected {want}, found {got}"
        if recorded_at < closure.period_end:
            return "closure_period", (
                f"{name}: recorded at {recorded_at}, before its period ends ({closure.period_end})"
            )
        if previous is not None and closure.period_start < previous.period_end:
            return "closure_period", (
                f"{name}: field period_start {closure.period_start} is before the end of the previous "
                f"{closure.kind} closure {previous.period} ({previous.period_end})"
            )
        expected_first = previous.last_seq + 1 if previous is not None else 1
        if closure.first_seq != expected_first:
            return (
                "closure_range",
                f"{name}: field first_seq expected {expected_first}, found {closure.first_seq}",
            )
        if not closure.first_seq - 1 <= closure.last_seq < seq:
            return "closure_range", (
                f"{name}: field last_seq expected between {closure.first_seq - 1} and {seq - 1}, "
                f"found {closure.last_seq}"
            )
        if closure.merkle_tree_size != seq - 1:
            return "closure_merkle", (
                f"{name}: field merkle_tree_size expected {seq - 1}, found {closure.merkle_tree_size}"
            )
        root = self._tree.root().hex()
        if data["merkle_root"] != root:
            return "closure_merkle", f"{name}: field merkle_root expected {root}, found {data['merkle_root']}"
        for boundary in (closure.first_seq - 1, closure.last_seq):
            if not self._ensure_bound(boundary):
                return "closure_range", (
                    f"{name}: its range boundary after seq {boundary} falls inside a range already "
                    "closed by a later-ending closure; closures are written in order (day, month, year)"
                )
        covered = self._aggregate(closure.first_seq - 1, closure.last_seq)
        if covered.earliest is not None and covered.earliest[0] < closure.period_start:
            stamp, at = covered.earliest
            return (
                "closure_period",
                f"{name}: covers entry {at} recorded at {stamp}, before period_start {closure.period_start}",
            )
        if covered.latest is not None and covered.latest[0] >= closure.period_end:
            stamp, at = covered.latest
            return (
                "closure_period",
                f"{name}: covers entry {at} recorded at {stamp}, not before period_end {closure.period_end}",
            )
        left_out = self._earliest_after(closure.last_seq)
        if left_out is not None and left_out[0] < closure.period_end:
            stamp, at = left_out
            return "closure_range", (
                f"{name}: field last_seq {closure.last_seq} leaves out entry {at}, recorded at {stamp} "
                f"before period_end {closure.period_end}"
            )
        mismatch = _compare_totals(covered.totals.fields(), data)
        if mismatch is not None:
            field_name, want, got = mismatch
            return "closure_totals", f"{name}: field {field_name} expected {want}, found {got}"
        expected_perpetual = self._segments[closure.last_seq].cumulative_grand
        if closure.perpetual != expected_perpetual:
            return "closure_totals", (
                f"{name}: field perpetual_grand_total expected {expected_perpetual} "
                f"(net total incl VAT of seqs 1..{closure.last_seq}), found {closure.perpetual}"
            )
        return None

    def _ensure_bound(self, boundary: int) -> bool:
        """Make ``boundary`` a segment end, folding buffered entries; False if it cannot be one."""
        if boundary in self._segments:
            return True
        if boundary < self._bounds[-1]:
            return False
        split = bisect.bisect_right(self._buffer, boundary, key=_SEQ)
        segment = _Segment(boundary)
        entries = self._buffer[:split]
        segment.totals.add_entries(map(_CONTRIBUTION, entries))
        if entries:
            # the first entry recorded earliest and the last recorded latest (entries in seq order)
            first, last = min(entries, key=_STAMP), max(reversed(entries), key=_STAMP)
            segment.earliest, segment.latest = (first[1], first[0]), (last[1], last[0])
        del self._buffer[:split]
        segment.cumulative_grand = self._segments[self._bounds[-1]].cumulative_grand + segment.totals.grand
        self._bounds.append(boundary)
        self._segments[boundary] = segment
        return True

    def _aggregate(self, after: int, through: int) -> _Segment:
        """The entries of seqs ``(after, through]``; both must be segment ends."""
        result = _Segment(through)
        low = bisect.bisect_left(self._bounds, after)
        high = bisect.bisect_left(self._bounds, through)
        for bound in self._bounds[low + 1 : high + 1]:
            segment = self._segments[bound]
            result.totals.add(segment.totals)
            if segment.earliest is not None and (result.earliest is None or segment.earliest < result.earliest):
                result.earliest = segment.earliest
            if segment.latest is not None and (result.latest is None or segment.latest > result.latest):
                result.latest = segment.latest
        return result

    def _earliest_after(self, through: int) -> tuple[str, int] | None:
        """The earliest-recorded ledger entry with a seq after ``through`` seen so far."""
        candidates = [self._segments[bound].earliest for bound in self._bounds if bound > through]
        candidates += [(stamp, entry_seq) for entry_seq, stamp, _ in self._buffer if entry_seq > through]
        present = [candidate for candidate in candidates if candidate is not None]
        return min(present) if present else None


# --- re-checking closures in a verification resumed from a signed checkpoint ---------------------


class ResumedClosureCheck(ClosureCheck):
    """``ClosureCheck`` for one closure kind, in a verification that starts from a signed checkpoint
    instead of seq 1 (an hourly pass, a slice of the weekly one: decision 0031).

    The previous closure of a kind was checked when it was new, and the chain's hashes bind it
    since: this check takes the first closure of its kind it meets as given, and checks every later
    one of its kind against it and against the entries fed, as ``ClosureCheck`` does — the
    perpetual total continues that closure's. The run must start at or before the first covered
    seq of the first closure to check (``closure_runs``): that closure's predecessor (written after
    its own last entry, so at a seq after it) is then met first. A closure of this kind at or after
    ``check_from`` met before any other is therefore wrong (``closure_range``); with
    ``from_start`` (a run from seq 1) none is given and the first one is checked too. Closures of
    the other kinds are not checked here (each kind has its own run); met after the predecessor,
    they fold the entries at their end, so that a closure whose range starts inside theirs is
    refused as ``ClosureCheck`` refuses it (closures are written in order: day, month, year).
    """

    def __init__(self, kind: str, *, check_from: int, from_start: bool = False) -> None:
        super().__init__()
        self._kind = kind
        self._check_from = check_from
        self._seeded = from_start

    def share_tree(self, tree: CompactRange) -> bool:
        # the verifier's range starts at the signed checkpoint's frontier: its roots are the chain's
        self._tree, self._own_tree = tree, False
        self.check = self._check  # type: ignore[method-assign]
        return True

    def _check(self, record: object) -> tuple[str, str] | None:
        seq, record_type, recorded_at, data = _record_view(record)
        if record_type != "closure":
            return super()._check(record)
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if kind not in PERIOD_KINDS:
            # no run of its own: every run that meets it in the range checked names it
            return ("closure_payload", f"closure: data.kind must be one of {list(PERIOD_KINDS)}, found {kind!r}"
                    ) if seq >= self._check_from else None
        if kind != self._kind:
            if self._seeded and type(data.get("last_seq")) is int:  # type: ignore[union-attr]
                self._ensure_bound(data["last_seq"])  # type: ignore[index]  # fold the entries buffered so far
            return None
        try:
            closure = _read_closure(data)
        except PayloadError as exc:
            return "closure_payload", f"closure: {exc}"
        if not self._seeded:
            if seq >= self._check_from:
                return "closure_range", (
                    f"{closure.kind} closure {closure.period}: no {closure.kind} closure comes between its first "
                    f"covered seq ({closure.first_seq}) and it, where the one it follows must be (written after "
                    "its own last entry): field first_seq does not follow the previous closure"
                )
            self._seed(closure)
            return None
        previous = self._previous.get(closure.kind)
        self._previous[closure.kind] = closure
        return self._check_closure(seq, recorded_at, closure, data, previous)

    def _seed(self, closure: _Closure) -> None:
        base = closure.last_seq
        self._bounds = [base]
        self._segments = {base: _Segment(base, cumulative_grand=closure.perpetual)}
        self._buffer = [entry for entry in self._buffer if entry[0] > base]
        self._previous = {closure.kind: closure}
        self._seeded = True


def closure_runs(closures: Iterable[tuple[int, object]]) -> list[tuple[str, int, int]]:
    """What a verification resumed from a signed checkpoint reads again to check the closures it
    met: ``(kind, after, through)`` per closure kind, in ``PERIOD_KINDS`` order, the seqs
    ``after + 1 .. through`` from a signed state at or below ``after`` (0: from seq 1), checked by
    a ``ResumedClosureCheck(kind, ...)``. ``after`` is the first covered seq of the kind's first
    closure met, less one (where its predecessor's range ends); ``through`` its last closure met.
    ``closures``: ``(seq, data)`` of the closure records met, in seq order. A closure whose kind
    is not a period kind is read by a ``day`` run (every run names it)."""
    runs: dict[str, list[int]] = {}
    for seq, data in closures:
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if kind not in PERIOD_KINDS:
            kind = "day"
        first = data.get("first_seq") if isinstance(data, Mapping) else None
        after = seq - 1
        if type(first) is int and 1 <= first <= seq:
            after = first - 1
        if kind in runs:
            runs[kind][1] = seq
        else:
            runs[kind] = [after, seq]
    return [(kind, runs[kind][0], runs[kind][1]) for kind in PERIOD_KINDS if kind in runs]
