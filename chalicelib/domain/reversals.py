"""Reversals (counter-entries): the only way to correct a sealed entry.

``reversal_of(original, reason, actor, now, reversed_seqs=...)`` returns the ``data`` of a
``"reversal"`` record that cancels ``original`` exactly. The service appends it to the
original's chain with the original's ``training`` flag, so that the register's closures net it.

The payload references the original by chain, seq, hash and type, carries the mandatory reason
and who asked, and holds in ``negated`` a full copy of the original payload with:

* a sale (or return): every amount negated — line quantities and amounts, per-rate and grand
  totals, payments and change (unit prices and discounts are magnitudes and stay);
* a journal entry: debit and credit swapped on every line and in the totals.

Rules: only ``"sale"`` and ``"journal"`` entries can be reversed — not a reversal (record a new
entry instead), not a closure (closures are recomputed from entries, never corrected), not an
event; an entry is reversed at most once (``Conflict``). There is no partial reversal: to
correct part of an entry, reverse it whole and record a new, correct entry (two records, each
simple to verify; a partial counter-entry would need its own arithmetic and could drift from
the original's rounding).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.entries import (
    CLOSURE,
    EVENT,
    JOURNAL,
    REVERSAL,
    SALE,
    SCHEMA_VERSION,
    Actor,
    text,
)
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.journal import negate_journal
from chalicelib.domain.records import is_hash_hex, parse_timestamp
from chalicelib.domain.sales import negate_sale

__all__ = ["MAX_REASON", "REVERSIBLE_TYPES", "reversal_of"]

MAX_REASON = 500
REVERSIBLE_TYPES = frozenset({SALE, JOURNAL})

_WHY_NOT = {
    REVERSAL: "a reversal cannot be reversed; record a new entry instead",
    CLOSURE: "a closure cannot be reversed; closures are computed from the entries they cover",
    EVENT: "an event of the event journal cannot be reversed",
}


def _record_fields(original: object) -> Mapping[str, Any]:
    if hasattr(original, "to_dict"):  # a SealedRecord
        original = original.to_dict()
    if not isinstance(original, Mapping):
        raise TypeError(f"original must be a sealed record or its dict, got {type(original).__name__}")
    for name in ("chain", "seq", "type", "hash", "recorded_at", "data"):
        if name not in original:
            raise ValueError(f"original record has no {name!r}")
    if not is_hash_hex(original["hash"]):
        raise ValueError("original record's hash is not 64 lowercase hex digits")
    return original


def reversal_of(
    original: object,
    reason: object,
    actor: Actor,
    now: datetime,
    *,
    reversed_seqs: Collection[int],
) -> dict[str, Any]:
    """The payload of the reversal of ``original`` (a ``SealedRecord`` or its ``to_dict()``).

    ``reason`` is required (1 to 500 characters, line feeds allowed); ``actor`` is the
    authenticated user; ``now`` the server's aware clock (the original must not be later);
    ``reversed_seqs`` the seqs of the original's chain that already have a reversal.

    Raises ``ValidationFailed`` (``field="reason"``, or ``field="seq"`` when the original's type
    cannot be reversed) and ``Conflict`` (``field="seq"``) when it is already reversed.
    """
    if not isinstance(actor, Actor):
        raise TypeError("actor must be an Actor")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError("now must be an aware datetime")
    record = _record_fields(original)
    record_type = record["type"]
    seq = record["seq"]
    if record_type not in REVERSIBLE_TYPES:
        why = _WHY_NOT.get(record_type, f"entries of type {record_type!r} cannot be reversed")
        raise ValidationFailed(f"Entry {seq} of chain {record['chain']!r} is a {record_type}: {why}.", field="seq")
    if seq in reversed_seqs:
        raise Conflict(
            f"Entry {seq} of chain {record['chain']!r} is already reversed; an entry is reversed at most once.",
            field="seq",
        )
    if parse_timestamp(record["recorded_at"]) > now:
        raise ValueError("the original was recorded after 'now': the clock or the record is wrong")
    checked_reason = text(reason, "reason", what="Reason", max_length=MAX_REASON, multiline=True)
    data = record["data"]
    negated = negate_sale(data) if record_type == SALE else negate_journal(data)
    return {
        "schema_version": SCHEMA_VERSION,
        "original": {
            "chain": record["chain"],
            "seq": seq,
            "hash": record["hash"],
            "type": record_type,
            "recorded_at": record["recorded_at"],
        },
        "reason": checked_reason,
        "recorded_by": actor.as_dict(),
        "negated": negated,
    }
