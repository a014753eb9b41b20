"""Shared pydantic types for the HTTP edge: exact money as strings, never floats; the strict base
of every request model; dates and instants within the supported range."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from chalicelib.domain.calendar import check_supported_date, check_supported_instant
from chalicelib.domain.errors import ValidationFailed


class StrictModel(BaseModel):
    """The base of every request body and query model: an unknown field is refused (422 naming
    it), never silently ignored (a misspelt optional field would otherwise do nothing)."""

    model_config = ConfigDict(extra="forbid")


_AMOUNT = re.compile(r"^-?\d{1,11}(\.\d{1,2})?$")


def _amount(value: Any) -> str:
    # JSON numbers with a fraction reach us as their literal text (routing keeps them exact);
    # a Python float can only come from code, and is refused.
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("send amounts as strings with at most two decimals, e.g. \"12.50\"")
    text = str(value)
    if not _AMOUNT.fullmatch(text):
        raise ValueError("an amount has at most two decimals, e.g. \"12.50\"")
    return text


Amount = Annotated[str, BeforeValidator(_amount), Field(json_schema_extra={"example": "12.50"})]


def cents_to_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _quantity(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("send quantities as strings or integers, e.g. \"1.5\"")
    text = str(value)
    if not re.fullmatch(r"^-?\d{1,9}(\.\d{1,3})?$", text):
        raise ValueError("a quantity has at most three decimals")
    return text


Quantity = Annotated[str, BeforeValidator(_quantity)]
ChainName = Annotated[str, Field(pattern=r"^(test|prod)\.[a-z]+(\.[A-Za-z0-9_-]{1,32})?$|^events$")]
Percent = Annotated[str, BeforeValidator(lambda v: _percent(v))]


def _percent(value: Any) -> str:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("send VAT rates as strings, e.g. \"21\" or \"5.5\"")
    text = str(value)
    if not re.fullmatch(r"^\d{1,2}(\.\d{1,2})?$", text):
        raise ValueError("a VAT rate is a percentage like \"21\" or \"5.5\"")
    return text


DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]


# ---- dates and instants: the supported range is the years 2000 to 2099 (UTC) -------------------
def _in_range(check, value):
    try:
        check(value, "")
    except ValidationFailed as exc:  # pydantic names the field; the message says what is wrong
        raise ValueError(exc.detail) from None
    return value


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
