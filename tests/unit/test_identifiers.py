import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.identifiers import (
    be_enterprise_number,
    be_vat_number,
    company_number,
    fr_company_number,
    fr_siren,
    fr_siret,
    fr_vat_key,
    fr_vat_number,
    is_monaco_number,
    luhn_valid,
    normalise,
    vat_matches_company_number,
    vat_number,
)


def fails(func, *args, field, fragment):
    with pytest.raises(ValidationFailed) as caught:
        func(*args)
    assert caught.value.field == field
    assert fragment in caught.value.detail, caught.value.detail
    return caught.value


# --- normalisation ---------------------------------------------------------------------------


def test_normalise_strips_spaces_dots_dashes_and_upper_cases():
    assert normalise(" be 0403.170-701 ", "f") == "BE0403170701"


def test_normalise_turns_full_width_digits_and_non_breaking_spaces_into_plain_ones():
    assert normalise("\uff10\uff14\uff10\uff13\u00a0170\u2013701", "f") == "0403170701"


def test_normalise_refuses_a_number_because_it_would_lose_leading_zeros():
    fails(normalise, 403170701, "company_number", field="company_number", fragment="got int")


def test_normalise_refuses_an_input_that_is_only_separators():
    fails(normalise, " .- ", "vat_number", field="vat_number", fragment="empty")


def test_normalise_refuses_absurdly_long_input():
    fails(normalise, "1" * 65, "vat_number", field="vat_number", fragment="Too long")


# --- Belgium ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0403170701", "0403.170.701", "0403 170 701", "BE 0403.170.701"])
def test_a_real_belgian_enterprise_number_is_accepted_in_its_usual_spellings(raw):
    assert be_enterprise_number(raw, "company_number") == "0403170701"


def test_an_old_nine_digit_belgian_number_gets_its_leading_zero():
    assert be_enterprise_number("403.170.701", "company_number") == "0403170701"


def test_a_belgian_number_whose_first_eight_digits_are_a_multiple_of_97_has_check_digits_97():
    first_eight = f"{97 * 10000:08d}"
    assert be_enterprise_number(first_eight + "97", "n") == first_eight + "97"


def test_a_belgian_number_with_a_mistyped_digit_fails_on_check_digits():
    error = fails(
        be_enterprise_number,
        "0403170702",
        "company_number",
        field="company_number",
        fragment="check digits do not match",
    )
    assert "01" not in error.detail  # the expected check digits are not given away


def test_a_belgian_number_of_the_wrong_length_says_how_many_digits_it_has():
    fails(
        be_enterprise_number,
        "04031707",
        "company_number",
        field="company_number",
        fragment="10 digits (or 9 in the old form); got 8",
    )


def test_a_belgian_number_starting_with_2_is_refused():
    fails(
        be_enterprise_number,
        "2403170701",
        "company_number",
        field="company_number",
        fragment="must start with 0 or 1; got 2",
    )


def test_a_belgian_number_with_letters_names_them():
    fails(
        be_enterprise_number,
        "04O3170701",
        "company_number",
        field="company_number",
        fragment="only digits; found 'O'",
    )


@pytest.mark.parametrize("raw", ["BE0403170701", "be 0403.170.701", "BE 403 170 701", "0403170701"])
def test_a_belgian_vat_number_is_returned_with_its_prefix(raw):
    assert be_vat_number(raw, "vat_number") == "BE0403170701"


def test_a_belgian_vat_number_with_another_country_prefix_is_refused():
    fails(
        be_vat_number, "NL0403170701", "vat_number", field="vat_number", fragment="must start with BE; got NL"
    )


def test_a_belgian_vat_number_with_bad_check_digits_says_so():
    fails(
        be_vat_number,
        "BE0403170702",
        "vat_number",
        field="vat_number",
        fragment="A Belgian VAT number: check digits do not match",
    )


# --- France ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["732829320", "732 829 320", "552100554"])
def test_real_sirens_are_accepted(raw):
    assert fr_siren(raw, "company_number") == raw.replace(" ", "")


def test_a_siren_with_a_mistyped_digit_fails_the_luhn_check():
    fails(
        fr_siren,
        "732829321",
        "company_number",
        field="company_number",
        fragment="check digit does not match (Luhn)",
    )


def test_a_siren_of_the_wrong_length_says_so():
    fails(
        fr_siren, "73282932", "company_number", field="company_number", fragment="must have 9 digits; got 8"
    )


def test_a_siren_with_letters_is_refused():
    fails(fr_siren, "73282932A", "siren", field="siren", fragment="only digits; found 'A'")


def test_a_real_siret_is_accepted():
    assert fr_siret("732 829 320 00074", "siret") == "73282932000074"


def test_a_siret_with_a_mistyped_establishment_digit_fails_the_luhn_check():
    fails(fr_siret, "73282932000075", "siret", field="siret", fragment="A SIRET: check digit does not match")


def test_a_siret_whose_siren_part_is_invalid_names_the_siren_part():
    fails(fr_siret, "73282932100074", "siret", field="siret", fragment="The SIREN part")


def test_a_siret_of_the_wrong_length_is_refused():
    fails(fr_siret, "7328293200007", "siret", field="siret", fragment="14 digits; got 13")


def test_a_la_poste_siret_follows_the_sum_of_digits_rule():
    assert not luhn_valid("35600000049837")
    assert fr_siret("35600000049837", "siret") == "35600000049837"


def test_a_la_poste_siret_breaking_both_rules_is_refused():
    fails(fr_siret, "35600000049838", "siret", field="siret", fragment="check digit does not match")


def test_the_french_vat_key_follows_the_official_formula():
    assert fr_vat_key("732829320") == "44"
    assert fr_vat_key("552100554") == "96"


def test_a_siren_whose_key_is_below_ten_gets_a_leading_zero():
    siren = next(
        f"{n:09d}"
        for n in range(100000000, 100100000)
        if luhn_valid(f"{n:09d}") and (12 + 3 * (n % 97)) % 97 < 10
    )
    assert len(fr_vat_key(siren)) == 2 and fr_vat_key(siren).startswith("0")
    assert fr_vat_number("FR" + fr_vat_key(siren) + siren, "v") == "FR" + fr_vat_key(siren) + siren


@pytest.mark.parametrize("raw", ["FR44732829320", "fr 44 732 829 320", "44732829320"])
def test_a_french_vat_number_is_returned_with_its_prefix(raw):
    assert fr_vat_number(raw, "vat_number") == "FR44732829320"


def test_a_french_vat_number_with_a_wrong_key_fails_on_check_digits():
    fails(
        fr_vat_number, "FR45732829320", "vat_number", field="vat_number", fragment="check digits do not match"
    )


def test_a_french_vat_number_with_an_alphanumeric_key_is_refused_with_the_reason():
    fails(fr_vat_number, "FR2H732829320", "vat_number", field="vat_number", fragment="numeric keys only")


def test_a_french_vat_number_of_the_wrong_length_says_what_is_expected():
    fails(
        fr_vat_number,
        "FR4473282932",
        "vat_number",
        field="vat_number",
        fragment="FR followed by 11 characters",
    )


def test_a_french_vat_number_with_an_invalid_siren_names_the_siren_part():
    fails(
        fr_vat_number,
        "FR44732829321",
        "vat_number",
        field="vat_number",
        fragment="The SIREN part of this French VAT number",
    )


def test_a_french_vat_number_with_a_belgian_prefix_is_refused():
    fails(
        fr_vat_number,
        "BE44732829320",
        "vat_number",
        field="vat_number",
        fragment="must start with FR; got BE",
    )


def test_a_french_vat_number_with_a_symbol_in_the_key_is_refused_as_non_digit():
    fails(fr_vat_number, "FR4#732829320", "vat_number", field="vat_number", fragment="only digits; found '#'")


# --- by country ------------------------------------------------------------------------------


def test_company_and_vat_numbers_dispatch_on_country():
    assert company_number("BE", "0403.170.701", "c") == "0403170701"
    assert company_number("FR", "732 829 320", "c") == "732829320"
    assert vat_number("BE", "BE0403170701", "v") == "BE0403170701"
    assert vat_number("FR", "FR44732829320", "v") == "FR44732829320"


def test_an_unsupported_country_is_refused_on_the_country_field():
    fails(company_number, "DE", "123", "c", field="country", fragment="one of ['BE', 'FR']")


def test_a_belgian_vat_number_matches_its_own_enterprise_number():
    assert vat_matches_company_number("BE", "BE 0403.170.701", "0403170701")


def test_a_belgian_vat_number_does_not_match_another_enterprise_number():
    other = "0" + f"{1234567:07d}" + f"{97 - 1234567 % 97:02d}"
    assert not vat_matches_company_number("BE", "BE0403170701", other)


def test_a_french_vat_number_matches_its_siren_or_a_siret_of_that_siren():
    assert vat_matches_company_number("FR", "FR44732829320", "732829320")
    assert vat_matches_company_number("FR", "FR44732829320", "73282932000074")
    assert not vat_matches_company_number("FR", "FR44732829320", "552100554")


def test_matching_names_the_invalid_input():
    fails(
        vat_matches_company_number,
        "FR",
        "FR45732829320",
        "732829320",
        field="vat_number",
        fragment="check digits",
    )
    fails(
        vat_matches_company_number,
        "BE",
        "BE0403170701",
        "0403170702",
        field="company_number",
        fragment="check digits",
    )


# --- every legal way of writing them --------------------------------------------------------------


# 0468.561.072: first eight 04685610, 4685610 mod 97 = 25, check digits 97 - 25 = 72.
@pytest.mark.parametrize(
    "raw",
    [
        "BE (0)468.561.072",  # the old 9-digit number with its leading 0 in parentheses
        "BE(0)468561072",
        "be (0) 468 561 072",
        "(0)468.561.072",
        "0468.561.072",
        "0468 561 072",
        "BE0468561072",
        "BE 0468.561.072",
        "BE-0468-561-072",
        "468561072",  # the old form, without the 0
        "468.561.072",
        "BE 468.561.072",
        "\uff22\uff25 0468.561.072",  # full-width letters
    ],
)
def test_a_belgian_number_is_accepted_in_every_legal_spelling(raw):
    assert be_enterprise_number(raw, "company_number") == "0468561072"
    assert be_vat_number(raw, "vat_number") == "BE0468561072"
    assert company_number("BE", raw, "company_number") == "0468561072"
    assert vat_matches_company_number("BE", raw, "0468.561.072")


@pytest.mark.parametrize("raw", ["BE (1)468.561.072", "BE 0468.561.072 (0)", "BE (0)0468.561.072", "BE ()468561072"])
def test_parentheses_are_read_only_as_the_leading_zero(raw):
    with pytest.raises(ValidationFailed) as caught:
        be_vat_number(raw, "vat_number")
    assert caught.value.field == "vat_number"


# Monaco: French VAT numbers "FR" + key + "000" + 6 digits, no SIREN and no Luhn digit, key as usual
# (python-stdnum stdnum/fr/tva.py and stdnum/mc/tva.py; FR53000004605 is stdnum's example).
def test_the_vat_number_of_a_monegasque_business_is_accepted():
    assert not luhn_valid("000004605")  # not a SIREN: no Luhn digit
    assert fr_vat_key("000004605") == "53"
    for raw in ("FR53000004605", "FR 53 000 004 605", "fr53-000-004-605", "53000004605"):
        assert fr_vat_number(raw, "vat_number") == "FR53000004605"
        assert vat_number("FR", raw, "vat_number") == "FR53000004605"


def test_a_monegasque_vat_number_with_a_wrong_key_is_refused():
    fails(fr_vat_number, "FR54000004605", "vat_number", field="vat_number", fragment="check digits do not match")


def test_a_monegasque_business_signs_up_with_the_nine_digits_of_its_vat_number():
    assert company_number("FR", "000 004 605", "company_number") == "000004605"
    assert vat_matches_company_number("FR", "FR53000004605", "000004605")
    assert not vat_matches_company_number("FR", "FR53000004605", "732829320")
    assert not vat_matches_company_number("FR", "FR44732829320", "000004605")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("00000460", "must have 9 digits; got 8"), ("000000000", "all zeros"), ("00000460A", "only digits")],
)
def test_a_malformed_monegasque_number_is_refused(raw, fragment):
    fails(fr_company_number, raw, "company_number", field="company_number", fragment=fragment)


def test_only_numbers_starting_with_000_escape_the_luhn_check():
    assert is_monaco_number("000004605")
    assert not is_monaco_number("100004606") and not is_monaco_number("000000000")
    key = fr_vat_key("100004606")  # the right key, but 100004606 is no SIREN (Luhn) and not Monegasque
    fails(fr_vat_number, f"FR{key}100004606", "vat_number", field="vat_number", fragment="Luhn")


def test_a_french_company_number_may_be_a_siret_and_the_siren_is_kept():
    assert company_number("FR", "732 829 320 00074", "company_number") == "732829320"
    fails(company_number, "FR", "73282932000075", "company_number", field="company_number", fragment="Luhn")
