"""Dates, periods and instants from requests lie in the supported range, the years 2000 to 2099
(UTC): outside it they are refused naming the field, and nothing overflows on the way."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from chalicelib.api.schemas import SupportedDate, SupportedInstant, TimeBound
from chalicelib.domain.calendar import (
    FIRST_SUPPORTED_YEAR,
    LAST_SUPPORTED_YEAR,
    check_supported_date,
    check_supported_instant,
    parse_period_key,
)
from chalicelib.domain.entries import Actor, calendar_date, instant
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.sales import build_sale

PLUS_14 = timezone(timedelta(hours=14))
MINUS_12 = timezone(timedelta(hours=-12))


def refused(func, *args, field, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        func(*args, **kwargs)
    assert caught.value.field == field, caught.value.detail
    assert "2000" in caught.value.detail and "2099" in caught.value.detail, caught.value.detail
    return caught.value


def test_the_range_is_the_years_2000_to_2099():
    assert (FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR) == (2000, 2099)


# ---- dates ------------------------------------------------------------------------------------
@pytest.mark.parametrize("day", [date(2000, 1, 1), date(2026, 11, 23), date(2099, 12, 31)])
def test_dates_in_the_range_pass(day):
    assert check_supported_date(day, "d") == day
    assert calendar_date(day.isoformat(), "d", what="Date") == day


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31), date(2100, 1, 1), date(9999, 12, 31)])
def test_dates_outside_the_range_are_refused_naming_the_field(day):
    refused(check_supported_date, day, "entries.0.piece_date", field="entries.0.piece_date")
    refused(calendar_date, day.isoformat(), "piece_date", what="Piece date", field="piece_date")


# ---- instants ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2000, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2099, 12, 31, 13, 0, tzinfo=PLUS_14),
    ],
)
def test_instants_in_the_range_pass_and_come_back_in_utc(moment):
    checked = check_supported_instant(moment, "t")
    assert checked == moment and checked.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=PLUS_14),  # would overflow once converted to UTC
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_12),  # likewise
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2000, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # 1999 in UTC
        datetime(2099, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),  # 2100 in UTC
        datetime(2100, 1, 1, tzinfo=UTC),
    ],
)
def test_instants_outside_the_range_are_refused_without_overflowing(moment):
    refused(check_supported_instant, moment, "occurred_at", field="occurred_at")
    refused(instant, moment.isoformat(), "occurred_at", what="occurred_at", field="occurred_at")


def test_a_sale_in_year_one_is_refused_naming_occurred_at_not_an_overflow():
    request = {
        "client_receipt_id": "R1-1",
        "register_id": "R1",
        "lines": [{"description": "x", "quantity": "1", "unit_price": "1.00", "vat_rate": "21"}],
    }
    context = {"country": "BE", "time_zone": "Europe/Brussels", "cutoff": time(4, 0),
               "seller": Actor("u-1", "Alice"), "now": datetime(2026, 11, 23, 12, tzinfo=UTC)}
    for occurred_at in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59Z"):
        refused(build_sale, {**request, "occurred_at": occurred_at}, **context, field="occurred_at")


# ---- closure periods --------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["9999-12-31", "0001-01-01", "1999", "1999-12", "2100", "2100-01-01"])
def test_periods_outside_the_range_are_refused_naming_the_field(key):
    refused(parse_period_key, key, field="period")


@pytest.mark.parametrize(("key", "kind"), [("2000", "year"), ("2099-12", "month"), ("2099-12-31", "day")])
def test_periods_at_the_edges_of_the_range_pass(key, kind):
    assert parse_period_key(key)[0] == kind


def test_readers_of_sealed_records_check_the_shape_of_a_period_only():
    """A closure sealed before the range existed must still verify."""
    assert parse_period_key("1999-12", supported_only=False) == ("month", date(1999, 12, 1))
    with pytest.raises(ValidationFailed):
        parse_period_key("1999-13", supported_only=False)


# ---- the pydantic types of the HTTP edge ------------------------------------------------------
def test_supported_dates_and_instants_at_the_edge_refuse_the_rest_with_a_validation_error():
    assert TypeAdapter(SupportedDate).validate_python("2026-01-31") == date(2026, 1, 31)
    assert TypeAdapter(SupportedInstant).validate_python("2026-01-31T10:00:00+01:00").hour == 10
    for adapter, value in ((SupportedDate, "0001-01-01"), (SupportedDate, "9999-12-31"),
                           (SupportedInstant, "0001-01-01T00:00:00+14:00"), (SupportedInstant, "2100-01-01T00:00:00Z"),
                           (SupportedInstant, "2026-01-31T10:00:00")):
        with pytest.raises(ValidationError):
            TypeAdapter(adapter).validate_python(value)


@pytest.mark.parametrize(
    ("given", "bound"),
    [
        ("2026-11-23", "2026-11-23T00:00:00.000000Z"),
        ("2026-11-23T18:30:00+01:00", "2026-11-23T17:30:00.000000Z"),
        ("2026-11-23T17:30:00.5Z", "2026-11-23T17:30:00.500000Z"),
        ("2026-11-24T03:00:00+05:00", "2026-11-23T22:00:00.000000Z"),
    ],
)
def test_an_entries_bound_becomes_the_utc_text_of_recorded_at(given, bound):
    assert TypeAdapter(TimeBound).validate_python(given) == bound


@pytest.mark.parametrize(
    "given", ["0001-01-01T00:00:00Z", "9999-12-31", "1999-12-31", "2026-11-23T10:00:00", "2026-02-30", "soon", 5]
)
def test_a_bad_entries_bound_is_a_validation_error(given):
    with pytest.raises(ValidationError):
        TypeAdapter(TimeBound).validate_python(given)
