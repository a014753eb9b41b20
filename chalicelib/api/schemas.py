"""Shared pydantic types for the HTTP edge: exact money as strings, never floats; the strict base
of every request model; dates and instants within the supported range."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

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


class NumberLiteral(Decimal):
    """A JSON number with a fraction or an exponent as ``routing.parse_json`` reads it: exact (never
    a float) and remembering how it was written (``text``). It is a number, not text: a ``str``
    field refuses it, an ``int`` field takes 9.0 as 9 (JSON Schema's integers), and ``Amount``,
    ``Quantity`` and ``Percent`` read its literal text with money.py's rules."""

    text: str

    def __new__(cls, text: str) -> NumberLiteral:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return f"NumberLiteral({self.text!r})"


def _json_integer(value: Any) -> Any:
    # pydantic's lax int also takes "5" and true: JSON Schema's integers are numbers (9.0 is 9)
    if isinstance(value, str | bool):
        raise ValueError(f"must be a JSON integer, found {value!r}")
    return value


def json_int(**constraints: Any) -> Any:
    """An integer as JSON Schema has it: a number without a fraction (9 or 9.0), never text or a
    boolean; ``constraints`` as ``Field`` takes them (placed before the check, so that the JSON
    schema states them: ``minimum``, not pydantic's ``ge``)."""
    return Annotated[int, Field(**constraints), BeforeValidator(_json_integer)]


def _number_text(parse: Callable[..., int]) -> Callable[[Any], str]:
    # JSON numbers with a fraction reach us as their literal text (routing keeps them exact); the
    # rules (and messages: floats, decimal commas, too many decimals) are money.py's.
    def check(value: Any) -> str:
        if isinstance(value, NumberLiteral):
            value = value.text
        domain_rule(parse)(value)
        return str(value)

    return check


_NUMBER_NOTE = "; a JSON number is read from its literal text the same way"
Amount = Annotated[
    str,
    BeforeValidator(_number_text(lambda v: parse_amount(v, "", allow_negative=True))),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(?:\.[0-9]{1,2})?$", "maxLength": 32,
                    "description": "euros with a dot and at most 2 decimals, e.g. 12.50; at most 100000000000.00 in "
                                   "absolute value" + _NUMBER_NOTE, "examples": ["12.50"]}),
]


def cents_to_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


Quantity = Annotated[
    str,
    BeforeValidator(_number_text(lambda v: parse_quantity(v, "", allow_negative=True))),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(?:\.[0-9]{1,3})?$", "maxLength": 32,
                    "description": "a dot and at most 3 decimals, e.g. 1.5" + _NUMBER_NOTE, "examples": ["1.5"]}),
]
CHAIN_NAME = r"^(test|prod)\.[a-z]+(\.[A-Za-z0-9_-]{1,32})?$|^events$"
ChainName = Annotated[str, Field(pattern=CHAIN_NAME, description="a chain: test.<kind>[.<register>], "
                                 "prod.<kind>[.<register>] or events")]
Percent = Annotated[
    str,
    BeforeValidator(_number_text(lambda v: parse_rate_percent(v, ""))),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(?:\.[0-9]{1,2})?$", "maxLength": 32,
                    "description": "a percentage from 0 to 100 with at most 2 decimals, e.g. 5.5" + _NUMBER_NOTE,
                    "examples": ["5.5"]}),
]


DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]




# ---- texts: what ``domain.entries.text`` (ledger) and ``domain.support.clean_text`` (tickets, news,
# mailings) accept. Both trim white space first, then refuse control characters (ledger: C0 and
# DEL; support: every Cc but tab and line breaks) and, when required, an empty text.
_LEDGER_EDGE, _LEDGER_INNER = r"[^\s\x00-\x1f\x7f]", r"[^\x00-\x1f\x7f]"
_SUPPORT_EDGE, _SUPPORT_INNER = r"[^\s\x00-\x1f\x7f-\x9f]", r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def _text_pattern(edge: str, inner: str, required: bool) -> str:
    words = f"{edge}(?:{inner}*{edge})?"
    return rf"^\s*{words}\s*$" if required else rf"^\s*(?:{words})?\s*$"


def ledger_text(max_length: int, *, required: bool = True, multiline: bool = False) -> WithJsonSchema:
    """The stated form of a ledger text (a sale line's description, a journal label...)."""
    inner = r"[^\x00-\x08\x0b-\x1f\x7f]" if multiline else _LEDGER_INNER
    return WithJsonSchema({"type": "string", "maxLength": max_length,
                           "pattern": _text_pattern(_LEDGER_EDGE, inner, required),
                           "description": f"{'1' if required else '0'} to {max_length} characters once trimmed, "
                                          f"no control characters{' but tabs and line feeds' if multiline else ''}"})


def support_text(max_length: int) -> WithJsonSchema:
    """The stated form of a ticket, news or mailing text (tabs and line breaks allowed)."""
    return WithJsonSchema({"type": "string", "maxLength": max_length,
                           "pattern": _text_pattern(_SUPPORT_EDGE, _SUPPORT_INNER, True),
                           "description": f"1 to {max_length} characters once trimmed, no control characters but "
                                          "tabs and line breaks"})

# ---- email addresses: what ``domain.accounts.normalise_email`` accepts, once trimmed ----------------
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$"


def _email(value: str) -> str:
    from chalicelib.domain.accounts import normalise_email

    domain_rule(normalise_email)(value)
    return value


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email),
                  WithJsonSchema({"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN,
                                  "examples": ["ana@example.com"]})]
"""An email address (name@domain.tld, at most 254 characters; compared case-insensitively)."""

# ---- dates and instants: the supported range is the years 2000 to 2099 (UTC) -------------------
# Each is text of one exact shape (the pattern the OpenAPI document states and the server checks
# first: a number such as ``start=0.5`` is never read as a Unix time), then a real date or time
# (the ``format``), then within the range.
# [0-9], never \d: Python's \d also matches other scripts' digits, ECMAScript's does not.
# The format (date, date-time) then says which days exist (no 2026-02-30).
_DAY = r"20[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
DATE_PATTERN = f"^{_DAY}$"
INSTANT_PATTERN = (f"^{_DAY}" r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
                   r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$")
DATE_TEXT = "YYYY-MM-DD, in the years 2000 to 2099"
INSTANT_TEXT = ("RFC 3339 date and time with seconds and an offset (Z or +01:00), e.g. 2026-11-23T17:30:00Z, "
                "between 2000-01-01T00:00:00Z and 2099-12-31T23:59:59.999999Z once in UTC")
DATE_SCHEMA = {"type": "string", "format": "date", "pattern": DATE_PATTERN, "description": DATE_TEXT}
INSTANT_SCHEMA = {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN, "description": INSTANT_TEXT}
_DATE = re.compile(DATE_PATTERN)
_INSTANT = re.compile(INSTANT_PATTERN)


def _in_range(check, value):
    return domain_rule(lambda v: check(v, ""))(value)


def _text_of(pattern: re.Pattern[str], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            shown = f"{value[:40]!r}" if isinstance(value, str) else f"a {type(value).__name__}"
            raise ValueError(f"{shown} is not {what}")
        return value

    return check


instant_text = _text_of(_INSTANT, "an RFC 3339 time such as 2026-11-23T17:30:00Z (seconds and an offset, "
                        "years 2000 to 2099)")
date_text = _text_of(_DATE, "a date written YYYY-MM-DD (years 2000 to 2099)")

SupportedDate = Annotated[dt.date, BeforeValidator(date_text),
                          AfterValidator(lambda d: _in_range(check_supported_date, d)), WithJsonSchema(DATE_SCHEMA)]
"""A ``YYYY-MM-DD`` date in the years 2000 to 2099."""

SupportedInstant = Annotated[AwareDatetime, BeforeValidator(instant_text),
                             AfterValidator(lambda t: _in_range(check_supported_instant, t)),
                             WithJsonSchema(INSTANT_SCHEMA)]
"""An RFC 3339 date and time with an offset, between 2000-01-01T00:00:00Z and the end of 2099 (UTC)."""


def _time_bound(value: str) -> str:
    """A ``YYYY-MM-DD`` date (00:00 UTC that day) or an RFC 3339 time with an offset, as the
    fixed-width UTC text of ``recorded_at`` (so that text order is time order)."""
    from chalicelib.domain.records import utc_timestamp

    try:
        if len(value) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a real date or time") from None
    return utc_timestamp(_in_range(check_supported_instant, moment))


_DATE_OR_INSTANT = re.compile(f"{DATE_PATTERN}|{INSTANT_PATTERN}")
TimeBound = Annotated[
    str,
    BeforeValidator(_text_of(_DATE_OR_INSTANT, "a date (YYYY-MM-DD) or an RFC 3339 time such as "
                             "2026-11-23T17:30:00Z, in the years 2000 to 2099")),
    AfterValidator(_time_bound),
    WithJsonSchema({"anyOf": [DATE_SCHEMA, INSTANT_SCHEMA]}),
]
"""A bound of ``recorded_at``: a date (00:00 UTC) or an RFC 3339 time, normalised to UTC text."""


# ---- path parameters: one type per name, checked by ``routing.endpoint`` and stated in the
# OpenAPI document. Other ids (grant, job, ticket...) are opaque: an unknown one is a 404.
TENANT_ID = r"^t[0-9a-f]{20}$"
MAX_SEQ = 2**63 - 1
_SEQ_TEXT = re.compile(r"[1-9][0-9]{0,18}")


def _seq_text(value: Any) -> Any:
    """A path's seq as written: decimal digits, no sign, point, space or leading zero (pydantic's lax
    int read "1.0" and "+2" as entries 1 and 2, and a reversal was sealed from such a path)."""
    if isinstance(value, str) and not _SEQ_TEXT.fullmatch(value):
        raise ValueError(f"an entry's number is written in digits, from 1 (e.g. 12), found {value[:40]!r}")
    return value


PATH_PARAMETERS: dict[str, Any] = {
    "tenant_id": Annotated[str, Field(pattern=TENANT_ID, description="a tenant id: t + 20 hex digits")],
    "chain": ChainName,
    "seq": Annotated[int, Field(ge=1, le=MAX_SEQ, description="an entry's number in its chain, from 1"),
                     BeforeValidator(_seq_text)],
}
OPAQUE_ID = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""Any other path parameter: an id this API returned."""


def path_parameter(name: str) -> Any:
    return PATH_PARAMETERS.get(name, OPAQUE_ID)
