"""Public reference data and checks: the legal VAT rates of a day, and a company's numbers
checked with sign-up's rules. Both are public, stateless and read no table (``static``): the
rates are law, the checks are checksums anyone can compute; neither says anything about a
tenant (the company check never says whether a company has signed up)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from chalice import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel, SupportedDate
from chalicelib.domain.company import check_company_identifiers
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.tenant import DEFAULT_TIME_ZONES
from chalicelib.domain.vat import SOURCES, coverage_start, percent_text, rows_on

reference_bp = Blueprint(__name__)
TAGS = ("reference",)


# ---- GET /v1/vat-rates ------------------------------------------------------------------------
class VatRatesQuery(StrictModel):
    country: Literal["BE", "FR"]
    date: SupportedDate | None = Field(
        None, description="the day of the operation (a receipt's business day); default: today in the country "
                          "(Europe/Brussels, Europe/Paris)")


class VatRateOut(BaseModel):
    rate: str = Field(description="the rate in percent as a decimal string, as a sale's vat_rate is sent: "
                                  "\"21\", \"5.5\", \"0\"")
    rate_bp: int = Field(description="the rate in basis points, as sealed: 2100, 550, 0")
    label: str = Field(description="standard, intermediate, reduced, super-reduced, zero rate or exempt")
    valid_from: dt.date = Field(description="first day the rate applies (inclusive; or the start of what Scellé "
                                            "knows)")
    valid_until: dt.date | None = Field(description="last day the rate applies (inclusive); null: still in force")


class SourceOut(BaseModel):
    title: str
    url: str


class VatRatesOut(BaseModel):
    country: Literal["BE", "FR"]
    date: dt.date
    rates: list[VatRateOut] = Field(description="every rate legal that day, highest first: a sale line's vat_rate "
                                                "must be one of them")
    sources: list[SourceOut]


@endpoint(
    reference_bp,
    "GET",
    "/v1/vat-rates",
    summary="The legal VAT rates of Belgium or France on a day (public)",
    tags=TAGS,
    query=VatRatesQuery,
    response=VatRatesOut,
    public=True,
    static=True,
    rules={"date": "within the table's coverage: BE from 1996-01-01, FR from 2012-01-01"},
)
def vat_rates(query: VatRatesQuery):
    day = query.date or dt.datetime.now(ZoneInfo(DEFAULT_TIME_ZONES[query.country])).date()
    rows = rows_on(query.country, day)
    if not rows:
        raise ValidationFailed(f"Scellé knows no VAT rates of {query.country} before "
                               f"{coverage_start(query.country).isoformat()}; got {day.isoformat()}.", field="date")
    return VatRatesOut(
        country=query.country,
        date=day,
        rates=[VatRateOut(rate=percent_text(r.rate_bp), rate_bp=r.rate_bp, label=r.label, valid_from=r.valid_from,
                          valid_until=r.valid_until) for r in rows],
        sources=[SourceOut(title=title, url=url) for title, url in SOURCES[query.country]],
    )


# ---- POST /v1/checks/company ------------------------------------------------------------------
Number = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CompanyCheckIn(StrictModel):
    country: Literal["BE", "FR"]
    company_number: Number | None = Field(
        None, description="as sign-up takes it: BE enterprise number (0403.170.701, BE (0)403.170.701, 403170701); "
                          "FR SIREN or SIRET, or a Monegasque business's 9 digits (000 + 6 digits)")
    vat_number: Number | None = Field(
        None, description="as sign-up takes it: BE0403170701 / FR44732829320 (Monaco: FR53000004605)")


class FieldCheck(BaseModel):
    ok: bool
    value: str | None = Field(None, description="the canonical form, as sign-up would store it (when ok)")
    problem: str | None = Field(None, description="what is wrong, in sign-up's words (when not ok)")


class CompanyCheckOut(BaseModel):
    country: Literal["BE", "FR"]
    ok: bool = Field(description="every number given is valid (and the VAT number belongs to the company number "
                                 "when both are given)")
    company_number: FieldCheck | None = Field(None, description="null when not given")
    vat_number: FieldCheck | None = Field(None, description="null when not given; when both are given, a valid VAT "
                                                            "number of another company is a problem here")


def _field(given: str | None, value: str | None, problem: str | None) -> FieldCheck | None:
    if given is None:
        return None
    return FieldCheck(ok=problem is None, value=value if problem is None else None, problem=problem)


@endpoint(
    reference_bp,
    "POST",
    "/v1/checks/company",
    summary="Check a company number and VAT number with sign-up's rules, per field (public; says nothing about "
            "whether the company has signed up)",
    tags=TAGS,
    body=CompanyCheckIn,
    response=CompanyCheckOut,
    public=True,
    static=True,
    rules={"company_number": "at least one of company_number and vat_number"},
)
def check_company(body: CompanyCheckIn):
    if body.company_number is None and body.vat_number is None:
        raise ValidationFailed("Give company_number, vat_number or both.", field="company_number")
    checked = check_company_identifiers(body.country, body.company_number, body.vat_number)
    return CompanyCheckOut(
        country=body.country,
        ok=not checked.problems,
        company_number=_field(body.company_number, checked.company_number, checked.problem("company_number")),
        vat_number=_field(body.vat_number, checked.vat_number, checked.problem("vat_number")),
    )
