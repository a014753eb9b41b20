"""Shared pydantic types for the HTTP edge: exact money as strings, never floats."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

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
