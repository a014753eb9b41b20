"""What every ledger entry payload shares: entry types, actors, and the input readers.

Payload builders (``sales``, ``journal``, ``reversals``, ``closures``) take input that the HTTP
layer already decoded (``dict``/``list``/``str``/``Decimal``/``date``/``datetime``) and return the
``data`` of a sealed record: JSON types only, money in integer cents, VAT rates in basis points,
quantities in thousandths, instants as RFC 3339 UTC strings, never a float. Every refusal is a
``ValidationFailed`` whose ``field`` is the dotted path of the input at fault
(``lines.2.vat_rate``). Unknown input keys are refused too (a misspelt optional field would
otherwise be silently ignored).

The schema of each payload is documented field by field in ``docs/entry-types.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from scelle_verify.domain.calendar import check_supported_date, check_supported_instant
from scelle_verify.domain.errors import ValidationFailed
from scelle_verify.domain.records import utc_timestamp

__all__ = [
    "CLOSURE",
    "CURRENCY",
    "ENTRY_TYPES",
    "EVENT",
    "JOURNAL",
    "LEDGER_TYPES",
    "REVERSAL",
    "SALE",
    "SCHEMA_VERSION",
    "Actor",
    "calendar_date",
    "identifier",
    "instant",
    "item_list",
    "join",
    "read_object",
    "text",
    "utc_timestamp",
]

# SealedRecord.type of each kind of record.
SALE = "sale"
JOURNAL = "journal"
REVERSAL = "reversal"
CLOSURE = "closure"
EVENT = "event"
ENTRY_TYPES = frozenset({SALE, JOURNAL, REVERSAL, CLOSURE, EVENT})
#: The types that carry amounts and are covered (counted, totalled) by closures.
LEDGER_TYPES = frozenset({SALE, JOURNAL, REVERSAL})

#: ``schema_version`` of every payload built here. A new payload shape gets a new version and
#: its own reader; payloads already sealed are never rewritten.
SCHEMA_VERSION = 1
#: Every amount is in cents of this currency.
CURRENCY = "EUR"

MAX_NAME = 200
# C0 controls and DEL; a multi-line text may keep line feeds and tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def join(prefix: str | None, name: str | int) -> str:
    """The dotted path of ``name`` inside ``prefix`` (``join("lines.2", "vat_rate")``)."""
    return f"{prefix}.{name}" if prefix else str(name)


def read_object(
    value: object,
    field: str | None,
    *,
    what: str,
    allowed: Iterable[str],
    required: Iterable[str] = (),
) -> Mapping[str, Any]:
    """``value`` as a mapping with only ``allowed`` keys and every ``required`` key present; every
    unknown and missing key is named (``ValidationFailed.gather``), not only the first."""
    if not isinstance(value, Mapping):
        raise ValidationFailed(f"{what} must be an object; got {type(value).__name__}.", field=field)
    allowed_keys = frozenset(allowed)
    found = [
        ValidationFailed(
            f"Unknown field {key!r} in {what.lower()}; allowed: {', '.join(sorted(allowed_keys))}.",
            field=join(field, str(key)),
        )
        for key in value
        if key not in allowed_keys
    ]
    found += [ValidationFailed(f"{key} is required.", field=join(field, key)) for key in required
              if value.get(key) is None]
    if found:
        raise ValidationFailed.gather(found)
    return value


def item_list(value: object, field: str, *, what: str, min_items: int, max_items: int) -> list[Any]:
    """``value`` as a list of ``min_items`` to ``max_items`` items."""
    if not isinstance(value, list | tuple):
        raise ValidationFailed(f"{what} must be a list; got {type(value).__name__}.", field=field)
    if len(value) < min_items:
        if min_items == 1:
            raise ValidationFailed(f"{what} must not be empty.", field=field)
        raise ValidationFailed(f"{what} must have at least {min_items} items; got {len(value)}.", field=field)
    if len(value) > max_items:
        raise ValidationFailed(f"{what} must have at most {max_items} items; got {len(value)}.", field=field)
    return list(value)


def text(
    value: object,
    field: str,
    *,
    what: str,
    max_length: int = MAX_NAME,
    required: bool = True,
    multiline: bool = False,
) -> str | None:
    """A human text, stripped of surrounding white space; ``None`` when optional and absent.

    Refused: non-strings, an empty (or blank) required text, more than ``max_length``
    characters, control characters (line feeds and tabs are allowed when ``multiline``).
    """
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{what} must be a string; got {type(value).__name__}.", field=field)
    stripped = value.strip()
    if not stripped:
        if not required:
            return None
        raise ValidationFailed(f"{what} must not be empty.", field=field)
    if len(stripped) > max_length:
        raise ValidationFailed(f"{what} is too long: {len(stripped)} characters, at most {max_length}.", field=field)
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(stripped):
        raise ValidationFailed(f"{what} must not contain control characters.", field=field)
    return stripped


def identifier(value: object, field: str, *, what: str, pattern: re.Pattern[str], rule: str) -> str:
    """A machine identifier matching ``pattern`` exactly (nothing stripped); ``rule`` says what
    the pattern allows, for the message."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{what} must be a string; got {type(value).__name__}.", field=field)
    if value == "":
        raise ValidationFailed(f"{what} must not be empty: {rule}.", field=field)
    if pattern.fullmatch(value) is None:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValidationFailed(f"{what} {shown!r} is not valid: {rule}.", field=field)
    return value


def instant(value: object, field: str, *, what: str) -> datetime:
    """An aware ``datetime`` (or an ISO 8601 string with an offset or ``Z``), in UTC, within the
    supported range (years 2000 to 2099, ``calendar.check_supported_instant``)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(
                f"{what} must be an ISO 8601 date and time such as '2026-11-23T17:30:00Z'.", field=field
            ) from None
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{what} must be a date and time; got {type(value).__name__}.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{what} must carry a time zone offset (e.g. 'Z' or '+01:00'); a bare local time is ambiguous.",
            field=field,
        )
    return check_supported_instant(value, field, what=what)


def calendar_date(value: object, field: str, *, what: str) -> date:
    """A ``date`` (or an ISO ``YYYY-MM-DD`` string) in the supported years 2000 to 2099; a
    ``datetime`` is refused."""
    if isinstance(value, str):
        try:
            if len(value) != 10:
                raise ValueError(value)
            value = date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(f"{what} must be a date written YYYY-MM-DD.", field=field) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationFailed(f"{what} must be a date (YYYY-MM-DD); got {type(value).__name__}.", field=field)
    return check_supported_date(value, field, what=what)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user id and the display name shown on receipts and in exports.

    Built by the service from the authenticated caller (never from the request body). Automatic
    work (scheduled closures) uses ``Actor("system", "<what>")``.
    """

    user_id: str
    name: str

    def __post_init__(self) -> None:
        for attribute in ("user_id", "name"):
            value = getattr(self, attribute)
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME or _CONTROL.search(value):
                raise ValueError(
                    f"Actor.{attribute} must be a non-empty string of at most {MAX_NAME} characters "
                    f"without control characters, got {value!r}"
                )

    def as_dict(self) -> dict[str, str]:
        return {"user_id": self.user_id, "name": self.name}
