"""Shared pydantic types for the HTTP edge: exact money as strings, never floats; the strict base
of every request model; dates and instants within the supported range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from chalicelib.domain.calendar import check_supported_date, check_supported_instant
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import parse_amount, parse_quantity, parse_rate_percent


class StrictModel(BaseModel):
    """The base of every request body and query model: an unknown field is refused (422 naming
    it), never silently ignored (a misspelt optional field would otherwise do nothing)."""

    model_config = ConfigDict(extra="forbid")


def domain_rule(check: Callable[[Any], object]) -> Callable[[Any], Any]:
    """A pydantic validator running a domain check (one that raises ``ValidationFailed``) on a
    field: its message becomes the field's error, so the schema lists every field at fault at once
    with the domain's own words, and the value goes on unchanged (the domain builds from it)."""

    def run(value: Any) -> Any:
        try:
            check(value)
        except ValidationFailed as exc:  # pydantic names the field; the message says what is wrong
            raise ValueError(exc.detail) from None
        return value

    return run


def _number_text(parse: Callable[..., int]) -> Callable[[Any], str]:
    # JSON numbers with a fraction reach us as their literal text (routing keeps them exact); the
    # rules (and messages: floats, decimal commas, too many decimals) are money.py's.
    def check(value: Any) -> str:
        domain_rule(parse)(value)
        return str(value)

    return check


Amount = Annotated[
    str,
    BeforeValidator(_number_text(lambda v: parse_amount(v, "", allow_negative=True))),
    Field(json_schema_extra={"example": "12.50"}),
]


def cents_to_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


Quantity = Annotated[
    str,
    BeforeValidator(_number_text(lambda v: parse_quantity(v, "", allow_negative=True))),
    Field(json_schema_extra={"example": "1.5"}),
]
ChainName = Annotated[str, Field(pattern=r"^(test|prod)\.[a-z]+(\.[A-Za-z0-9_-]{1,32})?$|^events$")]
Percent = Annotated[
    str, BeforeValidator(_number_text(lambda v: parse_rate_percent(v, ""))), Field(json_schema_extra={"example": "5.5"})
]


DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]


# ---- dates and instants: the supported range is the years 2000 to 2099 (UTC) -------------------
def _in_range(check, value):
    return domain_rule(lambda v: check(v, ""))(value)


SupportedDate = Annotated[dt.date, AfterValidator(lambda d: _in_range(check_supported_date, d))]
"""A ``YYYY-MM-DD`` date in the years 2000 to 2099."""

SupportedInstant = Annotated[AwareDatetime, AfterValidator(lambda t: _in_range(check_supported_instant, t))]
"""An RFC 3339 date and time with an offset, between 2000-01-01T00:00:00Z and the end of 2099 (UTC)."""


def _time_bound(value: Any) -> str:
    """A ``YYYY-MM-DD`` date (00:00 UTC that day) or an RFC 3339 time with an offset, as the
    fixed-width UTC text of ``recorded_at`` (so that text order is time order)."""
    from chalicelib.domain.records import utc_timestamp

    if not isinstance(value, str):
        raise ValueError("give a date (YYYY-MM-DD) or an RFC 3339 time such as 2026-11-23T17:30:00Z")
    try:
        if len(value) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is neither a date (YYYY-MM-DD) nor an RFC 3339 time such as "
                         "2026-11-23T17:30:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give the time with its offset (e.g. Z or +01:00); a bare local time is ambiguous")
    return utc_timestamp(_in_range(check_supported_instant, moment))


TimeBound = Annotated[str, BeforeValidator(_time_bound)]
"""A bound of ``recorded_at``: a date (00:00 UTC) or an RFC 3339 time, normalised to UTC text."""
