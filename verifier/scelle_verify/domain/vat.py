"""Dated VAT rate tables for Belgium and France, in basis points.

A rate is legal for an operation when a row of the table covers the operation's date (the
chargeable event: for a till receipt, its business day in the tenant's time zone). Laws change
rates on given dates, so a change is a new row with ``valid_from`` and the old row gets a
``valid_until``; rows are never edited in a way that changes the past.

``valid_from`` and ``valid_until`` are both **inclusive** (the first and the last day on which
the rate applies), the way laws word them ("until 31 December 2013").

What the rows say, and what they do not:

* **0** is listed for both countries for operations without VAT: Belgium has a real 0 % rate
  (e.g. newspapers) and both countries have exempt or out-of-scope operations (exports,
  intra-EU supplies, exemptions of art. 261 CGI / art. 44 Code TVA). Scellé records those
  lines at 0 bp; the reason of the exemption is not this module's concern.
* **Belgium**: 21 % applies since 1 January 1996 (it was 20.5 % before); 12 %, 6 % and 0 % are
  older. ``valid_from`` 1996-01-01 is the start of what Scellé knows, not when each reduced rate
  was created: dates before it have no rates and are refused.
* **France (metropolitan)**: 20 % and 10 % since 1 January 2014 (loi de finances rectificative
  pour 2012), replacing 19.6 % and 7 % (7 % existed from 1 January 2012). 5.5 % and 2.1 % apply
  throughout. Coverage starts on 2012-01-01 for the same reason as above.
* Not covered: the specific rates of Corsica (e.g. 13 %) and of the overseas departments (e.g.
  8.5 %); they would be added as tables keyed by territory when a tenant needs them.

Sources (``SOURCES``, also served by ``GET /v1/vat-rates``): for Belgium, the SPF Finances (Code
de la TVA art. 37 and arrêté royal n° 20 of 20 July 1970, tables A, B and C); for France, the
BOFiP (BOI-TVA-LIQ-10 and the following chapters; CGI art. 278 to 281 nonies).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from scelle_verify.domain.errors import ValidationFailed

__all__ = [
    "COUNTRIES",
    "RATE_TABLE",
    "SOURCES",
    "RateRow",
    "check_rate",
    "coverage_start",
    "percent_text",
    "rates_on",
    "rows_on",
    "validate_table",
]

COUNTRIES = frozenset({"BE", "FR"})


@dataclass(frozen=True)
class RateRow:
    """One VAT rate of one country over an inclusive range of dates."""

    country: str
    rate_bp: int
    valid_from: date
    valid_until: date | None = None  # inclusive; None = still in force
    label: str = ""

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


RATE_TABLE: tuple[RateRow, ...] = (
    # Belgium
    RateRow("BE", 2100, date(1996, 1, 1), None, "standard"),
    RateRow("BE", 1200, date(1996, 1, 1), None, "intermediate"),
    RateRow("BE", 600, date(1996, 1, 1), None, "reduced"),
    RateRow("BE", 0, date(1996, 1, 1), None, "zero rate or exempt"),
    # France (metropolitan)
    RateRow("FR", 1960, date(2012, 1, 1), date(2013, 12, 31), "standard (before 2014)"),
    RateRow("FR", 700, date(2012, 1, 1), date(2013, 12, 31), "intermediate (2012-2013)"),
    RateRow("FR", 2000, date(2014, 1, 1), None, "standard"),
    RateRow("FR", 1000, date(2014, 1, 1), None, "intermediate"),
    RateRow("FR", 550, date(2012, 1, 1), None, "reduced"),
    RateRow("FR", 210, date(2012, 1, 1), None, "super-reduced"),
    RateRow("FR", 0, date(2012, 1, 1), None, "exempt"),
)


SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "BE": (("SPF Finances: taux de TVA (Code de la TVA, art. 37; arrêté royal n° 20 du 20 juillet 1970, "
            "tableaux A, B et C)", "https://finances.belgium.be/fr/entreprises/tva"),),
    "FR": (("BOFiP: BOI-TVA-LIQ-10, TVA - Liquidation - Taux - Généralités (CGI, art. 278 à 281 nonies)",
            "https://bofip.impots.gouv.fr/bofip/1380-PGP.html"),),
}


def validate_table(table: Iterable[RateRow]) -> tuple[RateRow, ...]:
    """Check a rate table and return it as a tuple; raise ``ValueError`` on a malformed row.

    Rows must name a known country, carry an ``int`` rate in [0, 10000], end no earlier than
    they start, and two rows of the same country and rate must not overlap.
    """
    rows = tuple(table)
    for row in rows:
        if row.country not in COUNTRIES:
            raise ValueError(f"unknown country in rate table: {row!r}")
        if isinstance(row.rate_bp, bool) or not isinstance(row.rate_bp, int):
            raise ValueError(f"rate must be an int of basis points: {row!r}")
        if not 0 <= row.rate_bp <= 10_000:
            raise ValueError(f"rate out of range: {row!r}")
        if row.valid_until is not None and row.valid_until < row.valid_from:
            raise ValueError(f"row ends before it starts: {row!r}")
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if (a.country, a.rate_bp) != (b.country, b.rate_bp):
                continue
            a_end = a.valid_until or date.max
            b_end = b.valid_until or date.max
            if a.valid_from <= b_end and b.valid_from <= a_end:
                raise ValueError(f"overlapping rows for the same rate: {a!r} and {b!r}")
    return rows


def _check_inputs(country: object, on: object) -> None:
    if country not in COUNTRIES:
        raise ValidationFailed(
            f"Country must be one of {sorted(COUNTRIES)}; got {country!r}.", field="country"
        )
    # A datetime is a date subclass; its calendar day depends on a time zone, so the caller
    # must turn it into a business day first (calendar.business_day_of).
    if isinstance(on, datetime) or not isinstance(on, date):
        raise TypeError(f"on must be a date (not a datetime), got {type(on).__name__}")


def rates_on(country: str, on: date, *, table: Iterable[RateRow] | None = None) -> frozenset[int]:
    """The VAT rates (basis points) legal in ``country`` on ``on``; empty if the table does not
    cover that date. ``table`` replaces ``RATE_TABLE`` (tests, future law changes)."""
    _check_inputs(country, on)
    rows = RATE_TABLE if table is None else table
    return frozenset(row.rate_bp for row in rows if row.country == country and row.covers(on))


def rows_on(country: str, on: date, *, table: Iterable[RateRow] | None = None) -> tuple[RateRow, ...]:
    """The rows of the rates legal in ``country`` on ``on``, highest rate first (what
    ``rates_on`` gives, with each row's label and dates)."""
    _check_inputs(country, on)
    rows = RATE_TABLE if table is None else table
    return tuple(sorted((row for row in rows if row.country == country and row.covers(on)),
                        key=lambda row: -row.rate_bp))


def coverage_start(country: str, *, table: Iterable[RateRow] | None = None) -> date:
    """The first day the table has rates for ``country``."""
    rows = RATE_TABLE if table is None else table
    return min(row.valid_from for row in rows if row.country == country)


def percent_text(rate_bp: int) -> str:
    """A rate as the API writes it in a request (``"5.5"``, ``"21"``, ``"0"``)."""
    return _percent(rate_bp)


def _percent(rate_bp: int) -> str:
    """``550`` -> ``"5.5"``, ``2100`` -> ``"21"``."""
    whole, part = divmod(abs(rate_bp), 100)
    sign = "-" if rate_bp < 0 else ""
    return f"{sign}{whole}" if part == 0 else f"{sign}{whole}.{part:02d}".rstrip("0")


def check_rate(
    country: str, on: date, rate_bp: int, field: str, *, table: Iterable[RateRow] | None = None
) -> None:
    """Raise ``ValidationFailed(field=field)`` unless ``rate_bp`` is legal in ``country`` on
    ``on``; the message lists the legal rates of that day."""
    rates = rates_on(country, on, table=table)
    if isinstance(rate_bp, bool) or not isinstance(rate_bp, int):
        raise ValidationFailed(
            f"VAT rate must be an integer number of basis points; got {rate_bp!r}.", field=field
        )
    if not rates:
        raise ValidationFailed(f"No VAT rates are known for {country} on {on.isoformat()}.", field=field)
    if rate_bp not in rates:
        listed = ", ".join(f"{_percent(r)} %" for r in sorted(rates, reverse=True))
        raise ValidationFailed(
            f"VAT rate {_percent(rate_bp)} % is not valid in {country} on {on.isoformat()}; "
            f"valid rates: {listed}.",
            field=field,
        )
