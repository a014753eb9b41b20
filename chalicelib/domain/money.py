"""Exact money, quantities, VAT rates and the VAT rounding policies.

Conventions (they are part of the hash format, so they never change silently):

* **Money** is EUR, stored and hashed as an ``int`` number of cents. ``Decimal`` exists only at the
  edge (``parse_amount`` in, ``format_cents`` / ``cents_to_decimal`` out). ``float`` is refused
  everywhere: ``0.1 + 0.2`` is not ``0.3`` and a ledger cannot guess what the caller meant.
* **Quantities** are stored as an ``int`` number of thousandths (``1.5`` kg -> ``1500``).
* **VAT rates** are stored as an ``int`` number of basis points (``5.5 %`` -> ``550``).
* **Rounding** is ``ROUND_HALF_UP`` to the cent, ties away from zero (``0.005 -> 0.01``,
  ``-0.005 -> -0.01``), done in integer arithmetic (``div_round_half_up``). It is the ordinary
  commercial rounding ("arrondi commercial": half a cent goes up) that French and Belgian
  tills, invoices and accountants use, so totals match what customers and auditors compute by
  hand; unlike banker's rounding nobody has to explain it. Being symmetric around zero, a
  reversal line is always the exact negation of the line it cancels.
* **VAT rounding policy** is explicit and recorded with each entry (``ROUNDING_POLICIES``):

  - ``"line"``: VAT is computed and rounded on every line, then summed per rate.
  - ``"document"``: amounts are summed per rate first, then VAT is computed and rounded once
    per rate.

  Either way, per rate, ``excl + vat == incl`` exactly; the side that was *given* (excl or incl,
  per ``prices_include_vat``) is never altered, the other side is derived from it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from chalicelib.domain.errors import ValidationFailed

__all__ = [
    "MAX_AMOUNT_CENTS",
    "MAX_QUANTITY_MILLI",
    "MAX_RATE_BP",
    "POLICY_DOCUMENT",
    "POLICY_LINE",
    "ROUNDING_POLICIES",
    "VatTotals",
    "cents_to_decimal",
    "check_rounding_policy",
    "div_round_half_up",
    "format_cents",
    "line_total_cents",
    "parse_amount",
    "parse_quantity",
    "parse_rate_percent",
    "vat_breakdown",
    "vat_from_excl",
    "vat_from_incl",
]

#: Largest absolute amount accepted: 10**13 cents = 100 000 000 000.00 EUR.
MAX_AMOUNT_CENTS = 10**13
#: Largest absolute quantity accepted: 10**12 thousandths = 1 000 000 000 units.
MAX_QUANTITY_MILLI = 10**12
#: 100 % in basis points.
MAX_RATE_BP = 10_000

POLICY_LINE = "line"
POLICY_DOCUMENT = "document"
ROUNDING_POLICIES = frozenset({POLICY_LINE, POLICY_DOCUMENT})

# Longer strings are refused before any parsing (no number we accept needs more).
_MAX_TEXT = 32
_FIXED_POINT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)


def _shown(value: str) -> str:
    """The offending input, quoted and shortened, for an error message."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _to_scaled_int(value: object, field: str, *, places: int, what: str, example: str, max_abs: int) -> int:
    """Turn ``str`` / ``int`` / ``Decimal`` into ``int(value * 10**places)``, exactly, or refuse.

    The range check uses ``max_abs`` (in scaled units). Sign checks are left to the caller.
    """
    if isinstance(value, bool):
        raise ValidationFailed(
            f"{what} must be a decimal string such as {example!r}, not a boolean.", field=field
        )
    if isinstance(value, float):
        raise ValidationFailed(
            f"{what} must be a decimal string such as {example!r}, not a floating-point number "
            "(floats cannot hold decimal values exactly).",
            field=field,
        )
    if isinstance(value, int):
        scaled = value * 10**places
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationFailed(f"{what} must be a finite number; got {value}.", field=field)
        if value.adjusted() > 30:  # far beyond any limit; avoids building a huge integer
            raise ValidationFailed(f"{what} is too large.", field=field)
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite, checked above
        if exponent < -places:
            raise ValidationFailed(f"{what} must have at most {places} decimals; got {value}.", field=field)
        magnitude = int("".join(map(str, digits)) or "0") * 10 ** (exponent + places)
        scaled = -magnitude if sign else magnitude
    elif isinstance(value, str):
        scaled = _parse_text(value, field, places=places, what=what, example=example)
    else:
        raise ValidationFailed(
            f"{what} must be a decimal string such as {example!r}; got {type(value).__name__}.",
            field=field,
        )
    if abs(scaled) > max_abs:
        whole, part = divmod(max_abs, 10**places)
        raise ValidationFailed(
            f"{what} is too large; the limit is {whole}.{part:0{places}d} in absolute value.",
            field=field,
        )
    return scaled


# A number written the Belgian / French way: a decimal comma, perhaps thousands grouped by a dot,
# a space (also no-break or narrow no-break) or an apostrophe: "5,00", "1.234,50", "1 234,5".
_DECIMAL_COMMA = re.compile(r"(-?)(\d{1,3}(?:[. '\u00a0\u202f]\d{3})+|\d+),(\d+)", re.ASCII)
# Thousands grouped by a comma, the English way, with an optional dot decimal part: "1,234.50".
_GROUPED_BY_COMMA = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+)\.(\d+)", re.ASCII)


def _comma_hint(text: str, places: int) -> str:
    """What to send instead of a number written with a comma.

    A decimal comma is refused, not read: amounts are sealed exactly as sent, and "1,234" is
    1.234 in Brussels and Paris but 1234 in London; guessing would seal the wrong amount for some
    clients (docs/decisions/0016-errors-that-help.md). The hint gives the number
    the Belgian / French way of writing means, with a dot, when it is one this field accepts.
    """
    local = _DECIMAL_COMMA.fullmatch(text)
    if local is not None:
        sign, whole, fraction = local.groups()
        if len(fraction) <= places:
            return f"is written with a decimal comma; use a dot: {sign}{re.sub(r'[^0-9]', '', whole)}.{fraction}"
        return f"is written with a decimal comma; use a dot, with at most {places} decimals"
    english = _GROUPED_BY_COMMA.fullmatch(text)
    if english is not None and len(english.group(3)) <= places:
        sign, whole, fraction = english.groups()
        return f"has a thousands separator; leave it out: {sign}{whole.replace(',', '')}.{fraction}"
    return "has a comma; use a dot as the decimal separator and no thousands separator"


def _parse_text(text: str, field: str, *, places: int, what: str, example: str) -> int:
    if text == "":
        raise ValidationFailed(f"{what} must not be empty.", field=field)
    if len(text) > _MAX_TEXT:
        raise ValidationFailed(f"{what} is too long: {len(text)} characters.", field=field)
    match = _FIXED_POINT.fullmatch(text)
    if match is None:
        if "," in text:
            raise ValidationFailed(f"{what} {_shown(text)} {_comma_hint(text, places)}.", field=field)
        if "e" in text.lower() and any(c.isdigit() for c in text):
            hint = "exponent notation is not accepted"
        elif text.strip() != text or " " in text:
            hint = "spaces are not accepted"
        else:
            hint = "expected digits with an optional leading '-' and an optional '.' decimal part"
        raise ValidationFailed(
            f"{what} {_shown(text)} is not a decimal number such as {example!r}: {hint}.",
            field=field,
        )
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if len(fraction) > places:
        raise ValidationFailed(
            f"{what} must have at most {places} decimals; got {_shown(text)}.", field=field
        )
    magnitude = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    return -magnitude if sign else magnitude


def parse_amount(value: object, field: str, *, allow_negative: bool = False) -> int:
    """An amount in EUR (``"12.34"``, ``"12.3"``, ``"12"``, ``"-1.00"``, ``Decimal``, ``int``)
    as integer cents.

    Refused, with ``ValidationFailed(field=field)``: ``float`` and ``bool``; more than 2
    decimals (``"1.000"`` too: a third decimal means the caller rounded nothing); empty
    strings; NaN and infinities; exponent notation in strings (``"1e3"``); ``Decimal`` values
    whose exponent hides more than 2 decimals (``Decimal("1E-3")``); a comma (a decimal comma
    ``"5,00"`` is answered with the hint ``use a dot: 5.00``, never read), a ``+`` sign,
    spaces or thousands separators; more than ``MAX_AMOUNT_CENTS`` in absolute value; and
    negative amounts unless ``allow_negative``. ``"-0.00"`` is zero and is accepted.
    ``int`` input means whole euros (``12`` -> ``1200``).
    """
    cents = _to_scaled_int(value, field, places=2, what="Amount", example="12.34", max_abs=MAX_AMOUNT_CENTS)
    if cents < 0 and not allow_negative:
        raise ValidationFailed("Amount must not be negative.", field=field)
    return cents


def parse_quantity(value: object, field: str, *, allow_negative: bool = False) -> int:
    """A quantity with up to 3 decimals (``"1.5"``, ``"2"``, ``Decimal("0.125")``, ``int``) as
    integer thousandths (``"1.5"`` -> ``1500``).

    Same refusals as ``parse_amount``, with 3 decimals and ``MAX_QUANTITY_MILLI``. A quantity
    must not be zero; it must be positive unless ``allow_negative``.
    """
    milli = _to_scaled_int(value, field, places=3, what="Quantity", example="1.5", max_abs=MAX_QUANTITY_MILLI)
    if milli == 0:
        raise ValidationFailed("Quantity must not be zero.", field=field)
    if milli < 0 and not allow_negative:
        raise ValidationFailed("Quantity must be greater than zero.", field=field)
    return milli


def parse_rate_percent(value: object, field: str) -> int:
    """A VAT rate in percent (``"21"``, ``"5.5"``, ``"2.10"``, ``Decimal``, ``int``) as integer
    basis points (``"5.5"`` -> ``550``), between 0 and 100 %, at most 2 decimals.

    Whether the rate is legal for a country and date is ``vat.check_rate``'s job.
    """
    bp = _to_scaled_int(value, field, places=2, what="VAT rate", example="5.5", max_abs=10**8)
    if bp < 0 or bp > MAX_RATE_BP:
        raise ValidationFailed("VAT rate must be between 0 and 100 percent.", field=field)
    return bp


def format_cents(cents: int) -> str:
    """Integer cents as a plain string with exactly two decimals: ``-5`` -> ``"-0.05"``,
    ``123456`` -> ``"1234.56"``. No thousands separator, ``.`` as decimal point."""
    _require_int(cents, "cents")
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as a ``Decimal`` with exponent -2: ``1234`` -> ``Decimal("12.34")``."""
    return Decimal(format_cents(cents))


def _require_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def div_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up (ties away from zero), in integers only."""
    _require_int(numerator, "numerator")
    _require_int(denominator, "denominator")
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def line_total_cents(quantity_milli: int, unit_price_cents: int) -> int:
    """Quantity (thousandths) x unit price (cents), rounded half-up to the cent.

    ``line_total_cents(1500, 333) == 500`` (1.5 x 3.33 = 4.995 -> 5.00). Negative inputs are
    rounded symmetrically, so ``line_total_cents(-q, p) == -line_total_cents(q, p)``.
    """
    return div_round_half_up(quantity_milli * unit_price_cents, 1000)


def _check_rate_bp(rate_bp: object) -> int:
    """Rates reaching the arithmetic were parsed and checked already: a bad one is a bug."""
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int) or not 0 <= rate_bp <= MAX_RATE_BP:
        raise ValueError(f"rate_bp must be an int between 0 and {MAX_RATE_BP}, got {rate_bp!r}")
    return rate_bp


def vat_from_excl(excl_cents: int, rate_bp: int) -> int:
    """VAT on an amount excluding VAT: ``excl x rate / 10000``, rounded half-up to the cent."""
    _require_int(excl_cents, "excl_cents")
    return div_round_half_up(excl_cents * _check_rate_bp(rate_bp), MAX_RATE_BP)


def vat_from_incl(incl_cents: int, rate_bp: int) -> int:
    """VAT contained in an amount including VAT: ``incl x rate / (10000 + rate)``, rounded
    half-up to the cent."""
    _require_int(incl_cents, "incl_cents")
    rate = _check_rate_bp(rate_bp)
    return div_round_half_up(incl_cents * rate, MAX_RATE_BP + rate)


class VatTotals(NamedTuple):
    """Totals for one VAT rate, in cents; always ``excl + vat == incl``."""

    excl: int
    vat: int
    incl: int


def check_rounding_policy(policy: object, field: str = "rounding_policy") -> str:
    """Return ``policy`` if it is one of ``ROUNDING_POLICIES``, else raise ``ValidationFailed``."""
    if not isinstance(policy, str) or policy not in ROUNDING_POLICIES:
        raise ValidationFailed(
            f"Rounding policy must be one of {sorted(ROUNDING_POLICIES)}; got {policy!r}.",
            field=field,
        )
    return policy


def _totals(amount: int, rate_bp: int, prices_include_vat: bool) -> VatTotals:
    if prices_include_vat:
        vat = vat_from_incl(amount, rate_bp)
        return VatTotals(amount - vat, vat, amount)
    vat = vat_from_excl(amount, rate_bp)
    return VatTotals(amount, vat, amount + vat)


def vat_breakdown(
    lines: list[tuple[int, int]], prices_include_vat: bool, policy: str
) -> dict[int, VatTotals]:
    """Totals excluding VAT, VAT and including VAT per rate, in integer cents.

    ``lines`` are ``(rate_bp, amount_cents)`` pairs; ``amount_cents`` includes VAT when
    ``prices_include_vat`` (the usual till case) and excludes it otherwise (the usual B2B
    invoice case). Amounts may be negative (returns, reversals); rounding is symmetric.

    ``policy`` is ``"line"`` (round the VAT of every line, then add up per rate) or
    ``"document"`` (add up the amounts per rate, then compute and round the VAT once per rate).
    They can differ by a few cents: three lines of 0.10 including 21 % VAT give 0.06 VAT under
    ``"line"`` (3 x 0.02) and 0.05 under ``"document"`` (0.30 x 21/121 = 0.052).

    Returns a dict keyed by rate, highest rate first, each value a ``VatTotals(excl, vat,
    incl)`` with ``excl + vat == incl``. A rate with lines summing to zero is still listed.
    """
    check_rounding_policy(policy)
    if not isinstance(prices_include_vat, bool):
        raise TypeError("prices_include_vat must be a bool")
    sums: dict[int, tuple[int, int, int]] = {}
    for index, line in enumerate(lines):
        try:
            rate_bp, amount = line
        except (TypeError, ValueError):
            raise TypeError(f"line {index} must be a (rate_bp, amount_cents) pair") from None
        _check_rate_bp(rate_bp)
        _require_int(amount, f"amount of line {index}")
        if policy == POLICY_LINE:
            part = _totals(amount, rate_bp, prices_include_vat)
        else:  # document: only the amount is summed now; VAT comes once per rate below
            part = VatTotals(amount, 0, amount)
        excl, vat, incl = sums.get(rate_bp, (0, 0, 0))
        sums[rate_bp] = (excl + part.excl, vat + part.vat, incl + part.incl)
    result: dict[int, VatTotals] = {}
    for rate_bp in sorted(sums, reverse=True):
        excl, vat, incl = sums[rate_bp]
        if policy == POLICY_LINE:
            result[rate_bp] = VatTotals(excl, vat, incl)
        else:
            result[rate_bp] = _totals(incl if prices_include_vat else excl, rate_bp, prices_include_vat)
    return result
