"""The business-hours clock of support: evenings, weekends, Belgian holidays (Easter-based ones
computed), daylight-saving changes, configuration."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.business_hours import (
    BusinessHours,
    belgian_public_holidays,
    easter_sunday,
    french_public_holidays,
    parse_dates,
    parse_windows,
    parse_workdays,
)

BXL = ZoneInfo("Europe/Brussels")
HOURS = BusinessHours()  # Mon-Fri 09:00-17:00 Europe/Brussels, Belgian holidays


def bx(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=BXL)


@pytest.mark.parametrize("year, expected", [
    (2000, date(2000, 4, 23)), (2019, date(2019, 4, 21)), (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)),
    (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28)), (2038, date(2038, 4, 25)), (2285, date(2285, 3, 22)),
])
def test_easter_sunday_is_computed(year, expected):
    assert easter_sunday(year) == expected


def test_the_ten_belgian_holidays_of_2026_include_the_easter_based_ones():
    days = belgian_public_holidays(2026)
    assert len(days) == 10
    assert days[date(2026, 4, 6)] == "Easter Monday"
    assert days[date(2026, 5, 14)] == "Ascension Day"
    assert days[date(2026, 5, 25)] == "Whit Monday"
    assert {date(2026, 1, 1), date(2026, 5, 1), date(2026, 7, 21), date(2026, 8, 15), date(2026, 11, 1),
            date(2026, 11, 11), date(2026, 12, 25)} <= set(days)
    assert belgian_public_holidays(2027)[date(2027, 3, 29)] == "Easter Monday"
    assert date(2026, 7, 14) in french_public_holidays(2026) and date(2026, 7, 14) not in days


def test_minutes_inside_one_working_day():
    assert HOURS.business_minutes(bx(2026, 3, 10, 10), bx(2026, 3, 10, 11, 30)) == 90


def test_the_evening_and_the_night_do_not_count():
    # Tuesday 16:30 -> Wednesday 09:30: 30 minutes on Tuesday + 30 on Wednesday.
    assert HOURS.business_minutes(bx(2026, 3, 10, 16, 30), bx(2026, 3, 11, 9, 30)) == 60
    # Opened at 20:00, answered at 09:15 the next morning.
    assert HOURS.business_minutes(bx(2026, 3, 10, 20), bx(2026, 3, 11, 9, 15)) == 15
    # Before opening.
    assert HOURS.business_minutes(bx(2026, 3, 11, 7), bx(2026, 3, 11, 8, 59)) == 0


def test_the_weekend_does_not_count():
    # Friday 16:30 -> Monday 09:30.
    assert HOURS.business_minutes(bx(2026, 3, 13, 16, 30), bx(2026, 3, 16, 9, 30)) == 60
    # Opened on Saturday, answered on Sunday evening: no business time at all.
    assert HOURS.business_minutes(bx(2026, 3, 14, 10), bx(2026, 3, 15, 22)) == 0


def test_public_holidays_do_not_count():
    # Easter Monday 2026 (6 April): opened at 10:00, answered Tuesday 10:00 -> one hour (Tuesday).
    assert HOURS.business_minutes(bx(2026, 4, 6, 10), bx(2026, 4, 7, 10)) == 60
    # Thursday 24 Dec 16:00 -> Monday 28 Dec 10:00 (Christmas Friday, weekend): 60 + 60.
    assert HOURS.business_minutes(bx(2026, 12, 24, 16), bx(2026, 12, 28, 10)) == 120
    # National Day 2026 is a Tuesday.
    assert not HOURS.is_business_day(date(2026, 7, 21))
    assert HOURS.holiday(date(2026, 7, 21)) == "National Day"


def test_the_deadline_of_a_two_hour_target():
    assert HOURS.add_minutes(bx(2026, 3, 10, 10), 120) == bx(2026, 3, 10, 12)
    assert HOURS.add_minutes(bx(2026, 3, 10, 16), 120) == bx(2026, 3, 11, 10)  # evening
    assert HOURS.add_minutes(bx(2026, 3, 13, 16), 120) == bx(2026, 3, 16, 10)  # weekend
    assert HOURS.add_minutes(bx(2026, 3, 14, 11), 120) == bx(2026, 3, 16, 11)  # opened on Saturday
    assert HOURS.add_minutes(bx(2026, 4, 3, 16, 30), 120) == bx(2026, 4, 7, 10, 30)  # Easter Monday
    assert HOURS.add_minutes(bx(2026, 5, 13, 16), 120) == bx(2026, 5, 15, 10)  # Ascension Thursday
    assert HOURS.add_minutes(bx(2026, 3, 10, 17), 0) == bx(2026, 3, 11, 9)  # next opening


def test_daylight_saving_changes_follow_the_wall_clock():
    # Spring 2026: Sunday 29 March. Friday 16:00 CET (15:00Z) + 2 h -> Monday 10:00 CEST (08:00Z).
    due = HOURS.add_minutes(bx(2026, 3, 27, 16), 120)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    # Autumn 2026: Sunday 25 October. A working day is still 8 hours either side.
    assert HOURS.business_minutes(bx(2026, 10, 23, 9), bx(2026, 10, 26, 17)) == 2 * 8 * 60
    assert HOURS.add_minutes(bx(2026, 10, 23, 16), 120) == datetime(2026, 10, 26, 10, 0, tzinfo=BXL)


def test_a_round_the_clock_calendar_crosses_the_spring_gap():
    always = BusinessHours(windows=parse_windows("00:00-24:00"), workdays=parse_workdays("mon-sun"),
                           holidays="none")
    # 29 March 2026 has 23 hours in Brussels.
    assert always.business_minutes(bx(2026, 3, 29), bx(2026, 3, 30)) == 23 * 60
    assert always.business_minutes(bx(2026, 10, 25), bx(2026, 10, 26)) == 25 * 60


def test_is_open():
    assert HOURS.is_open(bx(2026, 3, 10, 9))
    assert not HOURS.is_open(bx(2026, 3, 10, 17))
    assert not HOURS.is_open(bx(2026, 3, 14, 12))
    assert not HOURS.is_open(bx(2026, 11, 11, 12))


def test_configured_hours_lunch_break_saturdays_and_closures():
    custom = BusinessHours(
        windows=parse_windows("13:30-17:00, 08:30-12:00"),
        workdays=parse_workdays("mon-fri,sat"),
        closed_dates=parse_dates("2026-12-24, 2026-12-31"),
    )
    assert custom.windows == ((time(8, 30), time(12)), (time(13, 30), time(17)))
    assert custom.minutes_per_day == 420
    assert custom.business_minutes(bx(2026, 3, 10, 11), bx(2026, 3, 10, 14)) == 90  # lunch excluded
    assert custom.business_minutes(bx(2026, 3, 14, 10), bx(2026, 3, 14, 11)) == 60  # Saturday open
    assert custom.holiday(date(2026, 12, 24)) == "closed"
    assert custom.business_minutes(bx(2026, 12, 24, 9), bx(2026, 12, 24, 16)) == 0
    assert "mon,tue,wed,thu,fri,sat 08:30-12:00,13:30-17:00" in custom.describe()
    french = BusinessHours(time_zone="Europe/Paris", holidays="FR")
    assert not french.is_business_day(date(2026, 5, 8)) and HOURS.is_business_day(date(2026, 5, 8))


@pytest.mark.parametrize("text", ["9-17", "17:00-09:00", "09:00-12:00,11:00-13:00", "25:00-26:00", "09:60-10:00"])
def test_bad_opening_hours_are_refused(text):
    with pytest.raises(ValueError):
        parse_windows(text)


@pytest.mark.parametrize("build", [
    lambda: parse_workdays("monday"), lambda: parse_workdays("fri-mon"), lambda: parse_dates("2026-13-01"),
    lambda: BusinessHours(time_zone="Mars/Olympus"), lambda: BusinessHours(workdays=frozenset()),
    lambda: BusinessHours(holidays="XX"),
])
def test_bad_configuration_is_refused(build):
    with pytest.raises(ValueError):
        build()


def test_naive_datetimes_are_a_programming_error():
    with pytest.raises(ValueError):
        HOURS.business_minutes(datetime(2026, 3, 10, 10), bx(2026, 3, 10, 11))
    assert HOURS.business_minutes(bx(2026, 3, 10, 12), bx(2026, 3, 10, 11)) == 0


def test_adding_then_measuring_gives_back_the_same_minutes():
    rng = random.Random(8)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        t = start + timedelta(minutes=rng.randrange(0, 2 * 366 * 24 * 60))
        minutes = rng.randrange(0, 3000)
        due = HOURS.add_minutes(t, minutes)
        assert HOURS.business_minutes(t, due) == minutes
        if minutes:
            assert HOURS.is_open(due - timedelta(seconds=1))
