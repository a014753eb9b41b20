"""A company's identifiers checked together: its company number and its VAT number, as sign-up
checks them (``AccountsService.validate_signup``) and ``POST /v1/checks/company`` reports them.

Pure rules (the checksums and spellings are ``domain.identifiers``): each number is checked on its
own, and when both are valid, the VAT number must belong to the company number. Every problem is
kept, named by its field (``company_number``, ``vat_number``). Shared test cases, valid and
invalid with the reason: ``tests/vectors/company-numbers.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain import identifiers
from chalicelib.domain.errors import Findings, ValidationFailed


@dataclass(frozen=True)
class CompanyIdentifiers:
    company_number: str | None  # canonical; None when not given or refused
    vat_number: str | None  # canonical, with its country prefix; None when not given or refused
    problems: tuple[ValidationFailed, ...]  # in field order: company_number, then vat_number

    def problem(self, field: str) -> str | None:
        return next((p.detail for p in self.problems if p.field == field), None)


def _mismatch(detail: str) -> None:
    raise ValidationFailed(detail, field="vat_number")


def check_company_identifiers(country: str, company_number: object | None,
                              vat_number: object | None) -> CompanyIdentifiers:
    """Check the numbers given (``None``: not given) of a company of ``country`` (``BE`` or
    ``FR``; another country is a ``ValidationFailed`` on ``country``)."""
    if country not in identifiers.COUNTRIES:
        raise ValidationFailed(f"The country must be BE or FR; got {country!r}.", field="country")
    found = Findings()
    number = vat = None
    if company_number is not None:
        number = found.check(identifiers.company_number, country, company_number, "company_number")
    if vat_number is not None:
        vat = found.check(identifiers.vat_number, country, vat_number, "vat_number")
    if number is not None and vat is not None and not identifiers.vat_matches_company_number(country, vat, number):
        what = "enterprise number" if country == "BE" else "company number" if number.startswith("000") else "SIREN"
        found.check(_mismatch, f"This VAT number does not belong to the company's {what} {number}.")
        vat = None
    return CompanyIdentifiers(number, vat, tuple(found.found))
