from decimal import Decimal

import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import (
    MAX_AMOUNT_CENTS,
    POLICY_DOCUMENT,
    POLICY_LINE,
    VatTotals,
    cents_to_decimal,
    check_rounding_policy,
    div_round_half_up,
    format_cents,
    line_total_cents,
    parse_amount,
    parse_quantity,
    parse_rate_percent,
    vat_breakdown,
    vat_from_excl,
    vat_from_incl,
)


def fails(func, *args, field, fragment, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        func(*args, **kwargs)
    assert caught.value.field == field
    assert fragment in caught.value.detail, caught.value.detail


# --- parse_amount ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [("12.34", 1234), ("12.3", 1230), ("12", 1200), ("0.05", 5), ("0", 0), ("007.10", 710)],
)
def test_amount_strings_become_integer_cents(raw, cents):
    assert parse_amount(raw, "amount") == cents


def test_negative_amounts_are_accepted_only_when_allowed():
    assert parse_amount("-1.00", "amount", allow_negative=True) == -100
    fails(parse_amount, "-1.00", "lines.0.amount", field="lines.0.amount", fragment="must not be negative")


def test_negative_zero_is_zero():
    assert parse_amount("-0.00", "amount") == 0


def test_decimals_and_ints_are_accepted():
    assert parse_amount(Decimal("12.34"), "amount") == 1234
    assert parse_amount(Decimal("1.2E+1"), "amount") == 1200
    assert parse_amount(Decimal("1.234E+1"), "amount") == 1234
    assert parse_amount(12, "amount") == 1200


def test_a_float_is_refused_because_it_is_not_exact():
    fails(parse_amount, 0.1, "amount", field="amount", fragment="not a floating-point number")


def test_a_boolean_is_refused_even_though_python_treats_it_as_an_int():
    fails(parse_amount, True, "amount", field="amount", fragment="not a boolean")


def test_other_types_are_refused_with_their_type_name():
    fails(parse_amount, None, "amount", field="amount", fragment="got NoneType")


@pytest.mark.parametrize("raw", ["12.345", "1.000", "0.001"])
def test_more_than_two_decimals_are_refused(raw):
    fails(parse_amount, raw, "amount", field="amount", fragment="at most 2 decimals")


def test_a_decimal_whose_exponent_hides_a_third_decimal_is_refused():
    fails(parse_amount, Decimal("1E-3"), "amount", field="amount", fragment="at most 2 decimals")


@pytest.mark.parametrize("raw", ["1e3", "1E-2", "12.3e0"])
def test_exponent_notation_in_strings_is_refused(raw):
    fails(parse_amount, raw, "amount", field="amount", fragment="exponent notation")


@pytest.mark.parametrize("raw", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_non_finite_decimals_are_refused(raw):
    fails(parse_amount, raw, "amount", field="amount", fragment="finite")


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "inf", "abc", ".5", "5.", "+5", "1.2.3", "--1", "١٢"])
def test_malformed_strings_are_refused(raw):
    fails(parse_amount, raw, "amount", field="amount", fragment="is not a decimal number")


def test_a_decimal_comma_gets_a_hint():
    fails(parse_amount, "12,34", "amount", field="amount", fragment="use a dot")


# A decimal comma is refused, never read (docs/decisions/0016): the hint says what to send instead.
@pytest.mark.parametrize(
    ("parse", "raw", "hint"),
    [
        (parse_amount, "5,00", "use a dot: 5.00"),
        (parse_amount, "-5,5", "use a dot: -5.5"),
        (parse_amount, "1.234,50", "use a dot: 1234.50"),
        (parse_amount, "1 234,50", "use a dot: 1234.50"),
        (parse_amount, "1\u202f234,50", "use a dot: 1234.50"),
        (parse_amount, "1,234.50", "leave it out: 1234.50"),
        (parse_amount, "5,001", "use a dot, with at most 2 decimals"),
        (parse_amount, "1,2,3", "use a dot as the decimal separator and no thousands separator"),
        (parse_quantity, "1,5", "use a dot: 1.5"),
        (parse_quantity, "0,125", "use a dot: 0.125"),
        (parse_rate_percent, "5,5", "use a dot: 5.5"),
        (parse_rate_percent, "2,10", "use a dot: 2.10"),
    ],
)
def test_a_decimal_comma_is_refused_with_the_number_to_send_instead(parse, raw, hint):
    with pytest.raises(ValidationFailed) as caught:
        parse(raw, "lines.0.x")
    assert caught.value.field == "lines.0.x"
    assert hint in caught.value.detail, caught.value.detail
    assert repr(raw) in caught.value.detail  # the value as sent, quoted


def test_the_hint_is_never_a_value_that_would_be_accepted_differently():
    # "5,00" is never read as 5.00 nor as 500: refused, whatever the field.
    for parse in (parse_amount, parse_quantity, parse_rate_percent):
        with pytest.raises(ValidationFailed):
            parse("5,00", "f")


def test_spaces_get_a_hint():
    fails(parse_amount, " 12.34", "amount", field="amount", fragment="spaces are not accepted")


def test_an_empty_string_is_refused():
    fails(parse_amount, "", "amount", field="amount", fragment="must not be empty")


def test_a_very_long_string_is_refused_before_parsing():
    fails(parse_amount, "1" * 1000, "amount", field="amount", fragment="too long")


def test_the_largest_amount_is_accepted_and_one_cent_more_is_refused():
    assert parse_amount("100000000000.00", "amount") == MAX_AMOUNT_CENTS
    fails(parse_amount, "100000000000.01", "amount", field="amount", fragment="too large")
    fails(
        parse_amount, "-100000000000.01", "amount", field="amount", fragment="too large", allow_negative=True
    )
    fails(parse_amount, Decimal("1E+40"), "amount", field="amount", fragment="too large")
    fails(parse_amount, 10**12, "amount", field="amount", fragment="100000000000.00")


# --- format_cents / cents_to_decimal ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (-5, "-0.05"), (1234, "12.34"), (-123456, "-1234.56"), (100, "1.00")],
)
def test_cents_are_formatted_with_exactly_two_decimals(cents, text):
    assert format_cents(cents) == text


def test_formatting_and_parsing_round_trip():
    for cents in (-10001, -1, 0, 1, 99, 100, 123456789):
        assert parse_amount(format_cents(cents), "a", allow_negative=True) == cents


def test_format_cents_refuses_non_integers():
    with pytest.raises(TypeError):
        format_cents(1.5)
    with pytest.raises(TypeError):
        format_cents(True)


def test_cents_become_a_decimal_with_two_places():
    assert cents_to_decimal(1234) == Decimal("12.34")
    assert str(cents_to_decimal(-5)) == "-0.05"


# --- quantities and rates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "milli"), [("1.5", 1500), ("2", 2000), ("0.125", 125), (Decimal("0.001"), 1), (3, 3000)]
)
def test_quantities_become_integer_thousandths(raw, milli):
    assert parse_quantity(raw, "quantity") == milli


def test_a_quantity_with_four_decimals_is_refused():
    fails(
        parse_quantity, "1.2345", "lines.0.quantity", field="lines.0.quantity", fragment="at most 3 decimals"
    )


def test_a_zero_quantity_is_refused():
    fails(parse_quantity, "0.000", "quantity", field="quantity", fragment="must not be zero")


def test_a_negative_quantity_is_refused_unless_allowed():
    fails(parse_quantity, "-1", "quantity", field="quantity", fragment="greater than zero")
    assert parse_quantity("-1.5", "quantity", allow_negative=True) == -1500


def test_a_float_quantity_is_refused():
    fails(parse_quantity, 1.5, "quantity", field="quantity", fragment="floating-point")


def test_an_absurd_quantity_is_refused():
    fails(parse_quantity, "1000000000.001", "quantity", field="quantity", fragment="too large")


@pytest.mark.parametrize(
    ("raw", "bp"), [("5.5", 550), ("21", 2100), ("2.1", 210), ("2.10", 210), ("0", 0), (Decimal("20"), 2000)]
)
def test_percent_rates_become_basis_points(raw, bp):
    assert parse_rate_percent(raw, "vat_rate") == bp


def test_a_rate_above_one_hundred_percent_or_negative_is_refused():
    fails(parse_rate_percent, "100.01", "vat_rate", field="vat_rate", fragment="between 0 and 100")
    fails(parse_rate_percent, "-5.5", "vat_rate", field="vat_rate", fragment="between 0 and 100")


def test_a_rate_with_three_decimals_is_refused():
    fails(parse_rate_percent, "5.555", "vat_rate", field="vat_rate", fragment="at most 2 decimals")


def test_a_float_rate_is_refused():
    fails(parse_rate_percent, 5.5, "vat_rate", field="vat_rate", fragment="floating-point")


# --- rounding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "d", "q"), [(5, 10, 1), (4, 10, 0), (-5, 10, -1), (-4, 10, 0), (15, 10, 2), (25, 10, 3), (0, 7, 0)]
)
def test_division_rounds_half_away_from_zero(n, d, q):
    assert div_round_half_up(n, d) == q


def test_division_refuses_a_non_positive_denominator():
    with pytest.raises(ValueError):
        div_round_half_up(1, 0)


def test_line_totals_round_half_up_to_the_cent():
    assert line_total_cents(1500, 333) == 500  # 4.995 -> 5.00
    assert line_total_cents(1000, 199) == 199
    assert line_total_cents(125, 1) == 0  # 0.00125 -> 0.00
    assert line_total_cents(500, 1) == 1  # 0.005 -> 0.01


def test_a_reversed_line_total_is_the_exact_negation():
    for qty, price in [(1500, 333), (500, 1), (2333, 1999)]:
        assert line_total_cents(-qty, price) == -line_total_cents(qty, price)


def test_vat_from_each_side():
    assert vat_from_excl(1000, 2100) == 210
    assert vat_from_excl(10, 550) == 1  # 0.55 cent -> 1 cent
    assert vat_from_incl(1210, 2100) == 210
    assert vat_from_incl(10, 2100) == 2  # 1.735 cents -> 2
    assert vat_from_incl(100, 0) == 0


def test_vat_functions_refuse_rates_out_of_range_as_programming_errors():
    with pytest.raises(ValueError):
        vat_from_excl(100, 10001)
    with pytest.raises(ValueError):
        vat_from_incl(100, True)


# --- vat_breakdown ---------------------------------------------------------------------------


def test_three_lines_of_ten_cents_at_21_percent_incl_vat_differ_by_one_cent_between_policies():
    lines = [(2100, 10)] * 3
    assert vat_breakdown(lines, True, POLICY_LINE) == {2100: VatTotals(24, 6, 30)}
    assert vat_breakdown(lines, True, POLICY_DOCUMENT) == {2100: VatTotals(25, 5, 30)}


def test_three_lines_of_ten_cents_at_5_5_percent_excl_vat_differ_by_one_cent_between_policies():
    lines = [(550, 10)] * 3
    assert vat_breakdown(lines, False, POLICY_LINE) == {550: VatTotals(30, 3, 33)}
    assert vat_breakdown(lines, False, POLICY_DOCUMENT) == {550: VatTotals(30, 2, 32)}


def test_the_given_side_is_never_altered():
    lines = [(2100, 999), (2100, 1), (600, 333), (0, 500)]
    for policy in (POLICY_LINE, POLICY_DOCUMENT):
        incl = vat_breakdown(lines, True, policy)
        assert {r: t.incl for r, t in incl.items()} == {2100: 1000, 600: 333, 0: 500}
        excl = vat_breakdown(lines, False, policy)
        assert {r: t.excl for r, t in excl.items()} == {2100: 1000, 600: 333, 0: 500}


def test_excl_plus_vat_equals_incl_for_every_rate_and_policy():
    lines = [(rate, amount) for rate in (2100, 1200, 600, 550, 210, 0) for amount in (1, 7, 99, 12345, -3)]
    for policy in (POLICY_LINE, POLICY_DOCUMENT):
        for include in (True, False):
            for totals in vat_breakdown(lines, include, policy).values():
                assert totals.excl + totals.vat == totals.incl
                assert all(isinstance(x, int) for x in totals)


def test_rates_are_listed_highest_first():
    result = vat_breakdown([(600, 100), (2100, 100), (1200, 100)], True, POLICY_LINE)
    assert list(result) == [2100, 1200, 600]


def test_a_reversal_breakdown_is_the_exact_negation():
    lines = [(2100, 10), (2100, 10), (550, 333)]
    negated = [(rate, -amount) for rate, amount in lines]
    for policy in (POLICY_LINE, POLICY_DOCUMENT):
        original = vat_breakdown(lines, True, policy)
        reversed_ = vat_breakdown(negated, True, policy)
        assert reversed_ == {r: VatTotals(-t.excl, -t.vat, -t.incl) for r, t in original.items()}


def test_no_lines_give_an_empty_breakdown():
    assert vat_breakdown([], True, POLICY_DOCUMENT) == {}


def test_an_unknown_policy_is_refused_on_the_policy_field():
    fails(vat_breakdown, [(2100, 10)], True, "per-invoice", field="rounding_policy", fragment="one of")
    fails(
        check_rounding_policy,
        "x",
        "settings.rounding_policy",
        field="settings.rounding_policy",
        fragment="'document', 'line'",
    )


def test_malformed_lines_are_programming_errors():
    with pytest.raises(TypeError):
        vat_breakdown([(2100,)], True, POLICY_LINE)
    with pytest.raises(TypeError):
        vat_breakdown([(2100, 1.5)], True, POLICY_LINE)
    with pytest.raises(TypeError):
        vat_breakdown([(2100, 10)], "yes", POLICY_LINE)
