from datetime import date, datetime

import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.vat import RATE_TABLE, RateRow, check_rate, rates_on, validate_table


def fails(func, *args, field, fragment, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        func(*args, **kwargs)
    assert caught.value.field == field
    assert fragment in caught.value.detail, caught.value.detail


def test_the_builtin_table_is_well_formed():
    assert validate_table(RATE_TABLE) == RATE_TABLE


def test_belgian_rates_today_are_21_12_6_and_0():
    assert rates_on("BE", date(2026, 11, 23)) == {2100, 1200, 600, 0}


def test_french_rates_today_are_20_10_5_5_2_1_and_0_for_exempt_operations():
    assert rates_on("FR", date(2026, 11, 23)) == {2000, 1000, 550, 210, 0}


def test_french_rates_changed_on_1_january_2014():
    assert rates_on("FR", date(2013, 12, 31)) == {1960, 700, 550, 210, 0}
    assert rates_on("FR", date(2014, 1, 1)) == {2000, 1000, 550, 210, 0}


def test_dates_before_the_table_have_no_rates():
    assert rates_on("BE", date(1995, 12, 31)) == frozenset()
    assert rates_on("FR", date(2011, 12, 31)) == frozenset()


def test_a_legal_rate_passes():
    check_rate("FR", date(2026, 5, 1), 550, "lines.0.vat_rate")
    check_rate("BE", date(2026, 5, 1), 0, "lines.0.vat_rate")


def test_a_rate_of_the_other_country_is_refused_and_the_legal_rates_are_listed():
    fails(
        check_rate,
        "BE",
        date(2026, 5, 1),
        550,
        "lines.2.vat_rate",
        field="lines.2.vat_rate",
        fragment="VAT rate 5.5 % is not valid in BE on 2026-05-01; valid rates: 21 %, 12 %, 6 %, 0 %.",
    )


def test_an_old_french_rate_is_refused_after_the_change():
    fails(
        check_rate,
        "FR",
        date(2014, 1, 1),
        1960,
        "vat_rate",
        field="vat_rate",
        fragment="19.6 % is not valid in FR on 2014-01-01; valid rates: 20 %, 10 %, 5.5 %, 2.1 %, 0 %",
    )


def test_a_date_outside_the_table_is_refused_with_a_clear_message():
    fails(
        check_rate,
        "BE",
        date(1990, 1, 1),
        2100,
        "vat_rate",
        field="vat_rate",
        fragment="No VAT rates are known for BE on 1990-01-01",
    )


def test_a_rate_that_is_not_an_integer_is_refused():
    fails(check_rate, "BE", date(2026, 1, 1), 21.0, "vat_rate", field="vat_rate", fragment="integer")
    fails(check_rate, "BE", date(2026, 1, 1), True, "vat_rate", field="vat_rate", fragment="integer")


def test_an_unknown_country_is_refused_on_the_country_field():
    fails(rates_on, "DE", date(2026, 1, 1), field="country", fragment="one of ['BE', 'FR']")


def test_a_datetime_is_refused_because_its_day_depends_on_a_time_zone():
    with pytest.raises(TypeError):
        rates_on("BE", datetime(2026, 1, 1, 12, 0))


HYPOTHETICAL = (
    RateRow("BE", 2100, date(1996, 1, 1), date(2027, 6, 30), "standard"),
    RateRow("BE", 2200, date(2027, 7, 1), None, "standard (hypothetical)"),
    RateRow("BE", 600, date(1996, 1, 1), None, "reduced"),
    RateRow("FR", 2000, date(2014, 1, 1), None, "standard"),
)


def test_a_hypothetical_dated_change_takes_effect_on_its_first_day_only():
    table = validate_table(HYPOTHETICAL)
    assert rates_on("BE", date(2027, 6, 30), table=table) == {2100, 600}
    assert rates_on("BE", date(2027, 7, 1), table=table) == {2200, 600}
    check_rate("BE", date(2027, 6, 30), 2100, "vat_rate", table=table)
    check_rate("BE", date(2027, 7, 1), 2200, "vat_rate", table=table)
    fails(
        check_rate,
        "BE",
        date(2027, 7, 1),
        2100,
        "vat_rate",
        table=table,
        field="vat_rate",
        fragment="valid rates: 22 %, 6 %",
    )


def test_overlapping_rows_for_the_same_rate_are_refused():
    with pytest.raises(ValueError, match="overlapping"):
        validate_table(
            [
                RateRow("BE", 2100, date(1996, 1, 1), None),
                RateRow("BE", 2100, date(2030, 1, 1), None),
            ]
        )


def test_a_row_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends before"):
        validate_table([RateRow("FR", 2000, date(2014, 1, 1), date(2013, 1, 1))])


@pytest.mark.parametrize(
    "row",
    [
        RateRow("DE", 1900, date(2020, 1, 1)),
        RateRow("FR", 20.0, date(2020, 1, 1)),
        RateRow("FR", 10001, date(2020, 1, 1)),
    ],
)
def test_malformed_rows_are_refused(row):
    with pytest.raises(ValueError):
        validate_table([row])


def test_valid_until_is_inclusive():
    row = RateRow("FR", 700, date(2012, 1, 1), date(2013, 12, 31))
    assert row.covers(date(2013, 12, 31))
    assert not row.covers(date(2014, 1, 1))
    assert not row.covers(date(2011, 12, 31))
