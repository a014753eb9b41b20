from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.calendar import (
    business_day_of,
    business_day_start_utc,
    check_cutoff,
    check_time_zone,
    parse_period_key,
    period_bounds_utc,
    period_key,
    period_start,
    range_bounds_utc,
)
from chalicelib.domain.errors import ValidationFailed

BRUSSELS = "Europe/Brussels"
PARIS = "Europe/Paris"
FOUR = time(4, 0)
MIDNIGHT = time(0, 0)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def fails(func, *args, field, fragment, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        func(*args, **kwargs)
    assert caught.value.field == field
    assert fragment in caught.value.detail, caught.value.detail


def hours(bounds):
    start, end = bounds
    return (end - start) / timedelta(hours=1)


# --- business_day_of -------------------------------------------------------------------------


def test_a_sale_at_01_30_local_with_a_04_00_cutoff_belongs_to_the_previous_day():
    # 2026-11-24 01:30 in Brussels (winter, UTC+1) is 00:30 UTC.
    assert business_day_of(utc(2026, 11, 24, 0, 30), BRUSSELS, FOUR) == date(2026, 11, 23)


def test_a_sale_at_the_cutoff_belongs_to_the_new_day():
    assert business_day_of(utc(2026, 11, 24, 3, 0), BRUSSELS, FOUR) == date(2026, 11, 24)
    assert business_day_of(utc(2026, 11, 24, 2, 59, 59, 999999), BRUSSELS, FOUR) == date(2026, 11, 23)


def test_a_late_evening_sale_in_utc_is_already_the_next_local_day_at_midnight_cutoff():
    # 23:30 UTC on 23 June is 01:30 on 24 June in Paris (summer, UTC+2).
    assert business_day_of(utc(2026, 6, 23, 23, 30), PARIS, MIDNIGHT) == date(2026, 6, 24)


def test_an_instant_with_another_offset_is_understood():
    instant = datetime(2026, 11, 24, 1, 30, tzinfo=timezone(timedelta(hours=1)))
    assert business_day_of(instant, BRUSSELS, FOUR) == date(2026, 11, 23)


def test_a_naive_instant_is_a_programming_error():
    with pytest.raises(ValueError, match="aware"):
        business_day_of(datetime(2026, 11, 24, 1, 30), BRUSSELS, FOUR)
    with pytest.raises(TypeError):
        business_day_of(date(2026, 11, 24), BRUSSELS, FOUR)


# --- DST: days of 23 and 25 hours ------------------------------------------------------------


@pytest.mark.parametrize("tz", [BRUSSELS, PARIS])
def test_the_march_change_makes_a_23_hour_business_day(tz):
    assert hours(period_bounds_utc("day", date(2026, 3, 29), tz, MIDNIGHT)) == 23
    # With a 04:00 cut-off the short day is the one that spans the change night.
    bounds = period_bounds_utc("day", date(2026, 3, 28), tz, FOUR)
    assert bounds == (utc(2026, 3, 28, 3, 0), utc(2026, 3, 29, 2, 0))
    assert hours(bounds) == 23
    assert hours(period_bounds_utc("day", date(2026, 3, 29), tz, FOUR)) == 24


@pytest.mark.parametrize("tz", [BRUSSELS, PARIS])
def test_the_october_change_makes_a_25_hour_business_day(tz):
    assert hours(period_bounds_utc("day", date(2026, 10, 25), tz, MIDNIGHT)) == 25
    bounds = period_bounds_utc("day", date(2026, 10, 24), tz, FOUR)
    assert bounds == (utc(2026, 10, 24, 2, 0), utc(2026, 10, 25, 3, 0))
    assert hours(bounds) == 25


def test_a_cutoff_inside_the_spring_gap_starts_the_day_when_the_clock_jumps():
    # 02:30 does not exist on 2026-03-29 in Brussels: clocks go from 02:00 CET to 03:00 CEST,
    # i.e. at 01:00 UTC.
    assert business_day_start_utc(date(2026, 3, 29), BRUSSELS, time(2, 30)) == utc(2026, 3, 29, 1, 0)
    assert business_day_of(utc(2026, 3, 29, 0, 59, 59), BRUSSELS, time(2, 30)) == date(2026, 3, 28)
    assert business_day_of(utc(2026, 3, 29, 1, 0), BRUSSELS, time(2, 30)) == date(2026, 3, 29)
    bounds = period_bounds_utc("day", date(2026, 3, 28), BRUSSELS, time(2, 30))
    assert hours(bounds) == 23.5  # from 02:30 CET to the jump at 03:00 CEST


def test_a_cutoff_inside_the_repeated_autumn_hour_starts_the_day_at_its_first_occurrence():
    # 02:30 happens twice on 2026-10-25 in Paris: 00:30 UTC (CEST) then 01:30 UTC (CET).
    cutoff = time(2, 30)
    assert business_day_start_utc(date(2026, 10, 25), PARIS, cutoff) == utc(2026, 10, 25, 0, 30)
    assert business_day_of(utc(2026, 10, 25, 0, 15), PARIS, cutoff) == date(2026, 10, 24)
    assert business_day_of(utc(2026, 10, 25, 0, 45), PARIS, cutoff) == date(2026, 10, 25)
    # 02:15 local the second time round is after the start: it stays in the new day.
    assert business_day_of(utc(2026, 10, 25, 1, 15), PARIS, cutoff) == date(2026, 10, 25)


@pytest.mark.parametrize("tz", [BRUSSELS, PARIS])
@pytest.mark.parametrize("cutoff", [MIDNIGHT, time(2, 0), time(2, 30), time(3, 0), FOUR, time(11, 59)])
def test_every_instant_of_the_year_falls_inside_the_bounds_of_its_business_day(tz, cutoff):
    instant = utc(2026, 1, 1)
    step = timedelta(minutes=37)  # walks across every hour of the day over the year
    previous_day = None
    while instant < utc(2027, 1, 1):
        day = business_day_of(instant, tz, cutoff)
        start, end = period_bounds_utc("day", day, tz, cutoff)
        assert start <= instant < end, (instant, day)
        assert previous_day is None or day >= previous_day
        previous_day = day
        instant += step


@pytest.mark.parametrize("tz", [BRUSSELS, PARIS])
def test_consecutive_business_days_tile_time_without_gaps_or_overlaps(tz):
    day = date(2025, 12, 31)
    _, previous_end = period_bounds_utc("day", day, tz, time(2, 30))
    for _ in range(400):
        day += timedelta(days=1)
        start, end = period_bounds_utc("day", day, tz, time(2, 30))
        assert start == previous_end
        assert hours((start, end)) in (23, 23.5, 24, 24.5, 25)
        previous_end = end


# --- periods ---------------------------------------------------------------------------------


def test_a_month_covers_its_business_days_and_ends_where_the_next_month_starts():
    march = period_bounds_utc("month", date(2026, 3, 1), PARIS, MIDNIGHT)
    assert march == (utc(2026, 2, 28, 23, 0), utc(2026, 3, 31, 22, 0))
    april = period_bounds_utc("month", date(2026, 4, 1), PARIS, MIDNIGHT)
    assert april[0] == march[1]
    assert hours(march) == 31 * 24 - 1


def test_december_rolls_over_to_january():
    bounds = period_bounds_utc("month", date(2026, 12, 1), BRUSSELS, FOUR)
    assert bounds == (utc(2026, 12, 1, 3, 0), utc(2027, 1, 1, 3, 0))


def test_a_year_runs_from_the_first_business_day_of_january_to_the_next_one():
    bounds = period_bounds_utc("year", date(2026, 1, 1), BRUSSELS, FOUR)
    assert bounds == (utc(2026, 1, 1, 3, 0), utc(2027, 1, 1, 3, 0))
    assert hours(bounds) == 365 * 24


def test_a_month_period_must_start_on_the_first():
    fails(
        period_bounds_utc,
        "month",
        date(2026, 11, 23),
        BRUSSELS,
        FOUR,
        field="period",
        fragment="use 2026-11-01",
    )


def test_a_year_period_must_start_on_the_first_of_january():
    fails(
        period_bounds_utc, "year", date(2026, 7, 1), BRUSSELS, FOUR, field="period", fragment="use 2026-01-01"
    )


def test_an_unknown_period_kind_is_refused():
    fails(
        period_bounds_utc,
        "week",
        date(2026, 11, 23),
        BRUSSELS,
        FOUR,
        field="period_kind",
        fragment="one of ['day', 'month', 'year']",
    )


def test_a_fiscal_year_of_any_length_uses_range_bounds():
    bounds = range_bounds_utc(date(2026, 7, 1), date(2027, 6, 30), BRUSSELS, FOUR)
    assert bounds == (utc(2026, 7, 1, 2, 0), utc(2027, 7, 1, 2, 0))
    fails(
        range_bounds_utc,
        date(2027, 6, 30),
        date(2026, 7, 1),
        BRUSSELS,
        FOUR,
        field="period",
        fragment="ends (2026-07-01) before it starts",
    )


@pytest.mark.parametrize(
    ("kind", "day", "key"),
    [
        ("day", date(2026, 11, 23), "2026-11-23"),
        ("month", date(2026, 11, 23), "2026-11"),
        ("year", date(2026, 11, 23), "2026"),
        ("month", date(2026, 1, 1), "2026-01"),
    ],
)
def test_period_keys(kind, day, key):
    assert period_key(kind, day) == key
    assert parse_period_key(key) == (kind, period_start(kind, day))


@pytest.mark.parametrize(
    "key",
    [
        "2026-13",
        "2026-02-30",
        "26",
        "2026-1",
        "2026/11",
        "",
        "\uff12\uff10\uff12\uff16",
        None,
        "2026-11-23-1",
    ],
)
def test_malformed_period_keys_are_refused(key):
    fails(parse_period_key, key, field="period", fragment="YYYY-MM-DD, YYYY-MM or YYYY")


# --- settings --------------------------------------------------------------------------------


def test_only_brussels_and_paris_are_allowed_time_zones():
    assert check_time_zone(BRUSSELS) == ZoneInfo(BRUSSELS)
    fails(check_time_zone, "UTC", field="time_zone", fragment="Europe/Brussels")
    fails(business_day_of, utc(2026, 1, 1), "Europe/London", FOUR, field="time_zone", fragment="one of")


def test_a_cutoff_at_or_after_noon_is_refused():
    assert check_cutoff(time(11, 59)) == time(11, 59)
    fails(check_cutoff, time(12, 0), field="business_day_cutoff", fragment="before 12:00")
    fails(
        business_day_of,
        utc(2026, 1, 1),
        BRUSSELS,
        time(23, 0),
        field="business_day_cutoff",
        fragment="before 12:00; got 23:00:00",
    )


def test_a_cutoff_with_a_time_zone_or_of_another_type_is_refused():
    fails(check_cutoff, time(4, 0, tzinfo=UTC), field="business_day_cutoff", fragment="local time")
    fails(check_cutoff, "04:00", field="business_day_cutoff", fragment="time of day")
