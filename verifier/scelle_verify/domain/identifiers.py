"""Belgian and French company and VAT identifiers: normalisation and checksum validation.

Every validator takes what a user typed and the name of the input (``field``), and returns the
canonical form or raises ``ValidationFailed(detail, field=field)`` whose detail says what is
wrong (length, characters, first digit, check digits).

Normalisation (``normalise``): Unicode NFKC (full-width digits become ASCII), then spaces
(any Unicode white space), dots, hyphens and dashes are removed and letters upper-cased, so
``"be 0403.170.701"`` becomes ``"BE0403170701"``.

Canonical forms:

* BE enterprise number: 10 digits, ``"0403170701"`` (a 9-digit number of the old form gets a
  leading 0; a leading ``BE`` is accepted and dropped). The leading 0 of the old numbers is
  often written in parentheses, ``"BE (0)468.561.072"``: read as ``"0468561072"``.
* BE VAT number: ``"BE"`` + enterprise number, ``"BE0403170701"``.
* FR SIREN: 9 digits; FR SIRET: 14 digits.
* FR VAT number: ``"FR"`` + 2-digit key + SIREN, ``"FR44732829320"``.
* Monaco: for VAT, Monaco is French territory (Franco-Monegasque convention of 18 May 1963), and
  a Monegasque business gets a French VAT number ``"FR"`` + key + ``"000"`` + 6 digits. Those 9
  digits are no SIREN (INSEE never issues one starting with 000) and carry no Luhn check digit;
  the key is computed like any French key, ``(12 + 3 x (n mod 97)) mod 97`` — e.g.
  ``FR53000004605``. Sources: python-stdnum ``stdnum/fr/tva.py`` ("numbers from Monaco are valid
  TVA but not SIREN": the SIREN check is skipped when digits 3-5 are ``000``, the key is checked)
  and ``stdnum/mc/tva.py`` (a Monegasque VAT number is a valid French one whose digits 3-5 are
  ``000``); VIES lists Monaco under FR. A Monegasque tenant signs up with country ``FR``, these 9
  digits as ``company_number`` (``"000004605"``) and the VAT number.

A VAT number typed without its country prefix is accepted and returned with it (the country is
known from the context); a different prefix (``"NL..."``) is refused.

Check-digit errors say "check digits do not match" without giving the expected value: the
mistake is usually a mistyped digit elsewhere, and showing the "right" check digits would invite
users to fix the checksum instead of the number, producing a valid number of someone else.

French VAT keys: only numeric keys are accepted. They are the keys of every business that has a
SIREN (and of Monegasque businesses, above), computed as ``(12 + 3 x (SIREN mod 97)) mod 97``.
Alphanumeric keys are issued to businesses without a SIREN; they cannot be tied to the company
number a tenant signs up with, so they are refused with a message that says so.
"""

from __future__ import annotations

import re
import unicodedata

from scelle_verify.domain.errors import ValidationFailed

__all__ = [
    "COUNTRIES",
    "be_enterprise_number",
    "be_vat_number",
    "company_number",
    "fr_company_number",
    "fr_siren",
    "fr_siret",
    "fr_vat_key",
    "fr_vat_number",
    "is_monaco_number",
    "luhn_valid",
    "normalise",
    "vat_matches_company_number",
    "vat_number",
]

COUNTRIES = frozenset({"BE", "FR"})

_MAX_INPUT = 64
_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]+")
_LA_POSTE_SIREN = "356000000"


def normalise(value: object, field: str) -> str:
    """Strip white space, dots, hyphens and dashes and upper-case; refuse non-strings, empty
    and absurdly long input."""
    if not isinstance(value, str):
        raise ValidationFailed(
            f"Expected a string, got {type(value).__name__} (numbers lose their leading zeros).",
            field=field,
        )
    if len(value) > _MAX_INPUT:
        raise ValidationFailed(f"Too long: {len(value)} characters.", field=field)
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    if not text:
        raise ValidationFailed("Must not be empty.", field=field)
    return text


def _require_digits(text: str, field: str, what: str) -> None:
    bad = sorted({c for c in text if not ("0" <= c <= "9")})
    if bad:
        raise ValidationFailed(f"{what} must contain only digits; found {''.join(bad)!r}.", field=field)


def _require_length(text: str, field: str, what: str, length: int) -> None:
    if len(text) != length:
        raise ValidationFailed(f"{what} must have {length} digits; got {len(text)}.", field=field)


def luhn_valid(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn (mod 10) check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# --- Belgium -------------------------------------------------------------------------------


def _be_digits(text: str, field: str, what: str) -> str:
    """Validate the 10 (or old-form 9) digits of an enterprise number, already normalised."""
    _require_digits(text, field, what)
    if len(text) == 9:
        text = "0" + text
    if len(text) != 10:
        raise ValidationFailed(
            f"{what} must have 10 digits (or 9 in the old form); got {len(text)}.", field=field
        )
    if text[0] not in "01":
        raise ValidationFailed(f"{what} must start with 0 or 1; got {text[0]}.", field=field)
    if int(text[8:]) != 97 - int(text[:8]) % 97:
        raise ValidationFailed(
            f"{what}: check digits do not match (the last two digits must equal 97 minus the "
            "first eight modulo 97); check for a mistyped digit.",
            field=field,
        )
    return text


# "BE (0)468.561.072", "(0)468 561 072": the leading 0 of an old 9-digit number, in parentheses.
_BE_PARENTHESISED_ZERO = re.compile(r"(BE)?\(0\)(?=[0-9])")


def _be_normalise(value: object, field: str) -> str:
    return _BE_PARENTHESISED_ZERO.sub(lambda m: (m.group(1) or "") + "0", normalise(value, field), count=1)


def be_enterprise_number(value: object, field: str) -> str:
    """A Belgian enterprise number (KBO/BCE) as 10 digits, e.g. ``"0403.170.701"`` ->
    ``"0403170701"``. A leading ``BE`` is accepted and dropped, and so is the parenthesised
    leading zero (``"BE (0)468.561.072"`` -> ``"0468561072"``)."""
    text = _be_normalise(value, field)
    if text.startswith("BE"):
        text = text[2:]
    return _be_digits(text, field, "A Belgian enterprise number")


def be_vat_number(value: object, field: str) -> str:
    """A Belgian VAT number as ``"BE"`` + 10 digits, e.g. ``"BE 0403.170.701"`` or
    ``"BE (0)403.170.701"`` -> ``"BE0403170701"``."""
    text = _strip_prefix(_be_normalise(value, field), "BE", field, "A Belgian VAT number")
    return "BE" + _be_digits(text, field, "A Belgian VAT number")


def _strip_prefix(text: str, prefix: str, field: str, what: str) -> str:
    if text.startswith(prefix):
        return text[len(prefix) :]
    if text[:2].isalpha():
        raise ValidationFailed(f"{what} must start with {prefix}; got {text[:2]}.", field=field)
    return text


# --- France --------------------------------------------------------------------------------


def _siren_digits(text: str, field: str, what: str) -> str:
    _require_digits(text, field, what)
    _require_length(text, field, what, 9)
    if not luhn_valid(text):
        raise ValidationFailed(
            f"{what}: check digit does not match (Luhn); check for a mistyped digit.", field=field
        )
    return text


def fr_siren(value: object, field: str) -> str:
    """A French SIREN as 9 Luhn-valid digits, e.g. ``"732 829 320"`` -> ``"732829320"``."""
    return _siren_digits(normalise(value, field), field, "A SIREN")


def is_monaco_number(digits: str) -> bool:
    """True for the 9 digits of a Monegasque business's French VAT number: ``000`` + 6 digits
    (not all zero). They have no check digit of their own (see the module docstring)."""
    return len(digits) == 9 and digits.isascii() and digits.isdigit() and digits.startswith("000") \
        and digits != "000000000"


def fr_company_number(value: object, field: str) -> str:
    """The company number of a tenant of country FR, as 9 digits: a SIREN (``fr_siren``), the
    SIREN of a SIRET (``fr_siret``: ``"732 829 320 00074"`` -> ``"732829320"``), or for a
    Monegasque business the 9 digits of its French VAT number, ``000`` + 6 digits."""
    text = normalise(value, field)
    if len(text) == 14:
        return fr_siret(text, field)[:9]
    if text.startswith("000"):
        _require_digits(text, field, "A Monegasque company number (000 and 6 digits)")
        _require_length(text, field, "A Monegasque company number (000 and 6 digits)", 9)
        if not is_monaco_number(text):
            raise ValidationFailed("A company number cannot be all zeros.", field=field)
        return text
    return _siren_digits(text, field, "A SIREN")


def fr_siret(value: object, field: str) -> str:
    """A French SIRET as 14 digits: a valid SIREN then a 5-digit establishment number, the
    whole Luhn-valid. La Poste's establishments (SIREN 356000000) follow their own rule (the
    sum of the digits is a multiple of 5) and are accepted under it."""
    text = normalise(value, field)
    _require_digits(text, field, "A SIRET")
    _require_length(text, field, "A SIRET", 14)
    _siren_digits(text[:9], field, "The SIREN part (first 9 digits) of this SIRET")
    if text[:9] == _LA_POSTE_SIREN and sum(map(int, text)) % 5 == 0:
        return text
    if not luhn_valid(text):
        raise ValidationFailed(
            "A SIRET: check digit does not match (Luhn); check for a mistyped digit.", field=field
        )
    return text


def fr_vat_key(siren: str) -> str:
    """The numeric key of the French VAT number of a (valid) SIREN, as 2 digits."""
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}"


def fr_vat_number(value: object, field: str) -> str:
    """A French VAT number as ``"FR"`` + 2-digit key + SIREN, e.g. ``"FR 44 732 829 320"`` ->
    ``"FR44732829320"``, or + the ``000`` number of a Monegasque business (``"FR53000004605"``).
    Alphanumeric keys are refused (see the module docstring)."""
    what = "A French VAT number"
    text = _strip_prefix(normalise(value, field), "FR", field, what)
    if len(text) != 11:
        raise ValidationFailed(
            f"{what} must be FR followed by 11 characters (a 2-digit key and the 9-digit SIREN); "
            f"got {len(text)}.",
            field=field,
        )
    key, siren = text[:2], text[2:]
    _require_digits(siren, field, "The SIREN part of this French VAT number")
    if not (key.isascii() and key.isalnum()):
        _require_digits(key, field, "The key of this French VAT number")
    if not key.isdigit():
        raise ValidationFailed(
            f"{what} with letters in its key ({key!r}) belongs to a business without a SIREN "
            "and cannot be checked; Scellé accepts numeric keys only.",
            field=field,
        )
    if is_monaco_number(siren):
        pass  # a Monegasque number: no SIREN, no Luhn digit; the key below is its only check
    else:
        _siren_digits(siren, field, "The SIREN part of this French VAT number")
    if key != fr_vat_key(siren):
        raise ValidationFailed(
            f"{what}: check digits do not match (the 2-digit key does not fit the SIREN); check "
            "for a mistyped digit.",
            field=field,
        )
    return "FR" + key + siren


# --- By country ----------------------------------------------------------------------------


def _check_country(country: object) -> str:
    if country not in COUNTRIES:
        raise ValidationFailed(
            f"Country must be one of {sorted(COUNTRIES)}; got {country!r}.", field="country"
        )
    assert isinstance(country, str)
    return country


def company_number(country: str, value: object, field: str) -> str:
    """The company number of ``country``: BE enterprise number, or FR SIREN (or the ``000``
    number of a Monegasque business, ``fr_company_number``)."""
    if _check_country(country) == "BE":
        return be_enterprise_number(value, field)
    return fr_company_number(value, field)


def vat_number(country: str, value: object, field: str) -> str:
    """The VAT number of ``country``: ``be_vat_number`` or ``fr_vat_number``."""
    if _check_country(country) == "BE":
        return be_vat_number(value, field)
    return fr_vat_number(value, field)


def vat_matches_company_number(
    country: str,
    vat: object,
    company_number: object,
    *,
    vat_field: str = "vat_number",
    company_field: str = "company_number",
) -> bool:
    """True when the VAT number belongs to the company: a BE VAT number is ``"BE"`` + the
    enterprise number, a FR VAT number embeds the SIREN (a FR ``company_number`` may be given
    as a SIREN or as a SIRET, whose first 9 digits are the SIREN).

    Both inputs are validated first; an invalid one raises ``ValidationFailed`` naming
    ``vat_field`` or ``company_field``.
    """
    vat_canonical = vat_number(country, vat, vat_field)
    if country == "BE":
        return vat_canonical[2:] == be_enterprise_number(company_number, company_field)
    return vat_canonical[4:] == fr_company_number(company_number, company_field)
