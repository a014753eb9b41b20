"""Business hours: when support is staffed, and how much staffed time lies between two instants.

Pure (stdlib only). A ``BusinessHours`` is a time zone (default Europe/Brussels), the opening
windows of a working day in local wall-clock time (default 09:00-17:00), the working weekdays
(default Monday to Friday), a public-holiday calendar computed per year (Belgium by default,
Easter-based days included) and extra closed dates (company closures).

* ``business_seconds(start, end)`` / ``business_minutes(start, end)``: staffed time in
  ``[start, end)``. A ticket opened on Friday at 16:30 and answered on Monday at 09:30 took
  60 business minutes.
* ``add_minutes(start, minutes)``: the instant at which ``minutes`` of staffed time have passed
  since ``start`` (the response deadline).

Windows are local wall-clock times, so they follow daylight-saving changes; a window bound that
falls in a spring-forward gap is read with the offset in force before the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "HOLIDAY_CALENDARS",
    "BusinessHours",
    "belgian_public_holidays",
    "easter_sunday",
    "french_public_holidays",
    "no_holidays",
    "parse_dates",
    "parse_windows",
    "parse_workdays",
]

MAX_SEARCH_DAYS = 3 * 366  # add_minutes gives up beyond this (a calendar with no open day)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---- Holidays ------------------------------------------------------------------------------------
def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    if not 1583 <= year <= 9999:
        raise ValueError(f"year {year} is outside the Gregorian range this algorithm covers")
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def belgian_public_holidays(year: int) -> Mapping[date, str]:
    """The ten Belgian legal public holidays of ``year`` (Royal Decree of 18 April 1974)."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "New Year's Day",
        easter + timedelta(days=1): "Easter Monday",
        date(year, 5, 1): "Labour Day",
        easter + timedelta(days=39): "Ascension Day",
        easter + timedelta(days=50): "Whit Monday",
        date(year, 7, 21): "National Day",
        date(year, 8, 15): "Assumption",
        date(year, 11, 1): "All Saints' Day",
        date(year, 11, 11): "Armistice Day",
        date(year, 12, 25): "Christmas Day",
    }


@lru_cache(maxsize=64)
def french_public_holidays(year: int) -> Mapping[date, str]:
    """The eleven French public holidays of ``year`` (Code du travail L3133-1, metropolitan)."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice",
        date(year, 12, 25): "Noël",
    }


def no_holidays(year: int) -> Mapping[date, str]:
    return {}


HOLIDAY_CALENDARS: dict[str, Callable[[int], Mapping[date, str]]] = {
    "BE": belgian_public_holidays,
    "FR": french_public_holidays,
    "none": no_holidays,
}


# ---- Configuration parsing (settings strings) ----------------------------------------------------
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """``"09:00-12:30,13:30-17:00"`` -> ordered, non-overlapping windows; ``24:00`` ends a day."""
    windows: list[tuple[time, time]] = []
    for part in text.split(","):
        match = _WINDOW.match(part)
        if not match:
            raise ValueError(f"opening hours must look like 09:00-17:00; got {part.strip()!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"not a time of day in {part.strip()!r}")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"a window must end after it starts; got {part.strip()!r}")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in pairwise(windows):
        if start < end:
            raise ValueError(f"opening windows overlap in {text!r}")
    return tuple(windows)


def parse_workdays(text: str) -> frozenset[int]:
    """``"mon-fri"``, ``"mon,tue,thu"`` or ``"mon-fri,sat"`` -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        try:
            a = _WEEKDAYS.index(first)
            b = _WEEKDAYS.index(last) if last else a
        except ValueError:
            raise ValueError(f"working days are mon..sun, e.g. mon-fri; got {part!r}") from None
        if b < a:
            raise ValueError(f"a range of days goes forward (mon-fri); got {part!r}")
        days.update(range(a, b + 1))
    return frozenset(days)


def parse_dates(text: str) -> frozenset[date]:
    """``"2026-12-24,2026-12-31"`` -> dates (empty text: none)."""
    out = set()
    for part in text.split(","):
        if part.strip():
            try:
                out.add(date.fromisoformat(part.strip()))
            except ValueError:
                raise ValueError(f"closed dates are YYYY-MM-DD; got {part.strip()!r}") from None
    return frozenset(out)


# ---- The calendar --------------------------------------------------------------------------------
def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str = "Europe/Brussels"
    windows: tuple[tuple[time, time], ...] = ((time(9, 0), time(17, 0)),)
    workdays: frozenset[int] = frozenset(range(5))
    holidays: str = "BE"  # a key of HOLIDAY_CALENDARS
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        if not self.windows:
            raise ValueError("at least one opening window is needed")
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError("working days must be a non-empty subset of 0..6 (Monday = 0)")
        if self.holidays not in HOLIDAY_CALENDARS:
            raise ValueError(f"holiday calendar must be one of {sorted(HOLIDAY_CALENDARS)}; got {self.holidays!r}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def minutes_per_day(self) -> int:
        return sum(_seconds_of(start, end) for start, end in self.windows) // 60

    def holiday(self, day: date) -> str | None:
        """The name of the public holiday or closure on ``day``, if any."""
        if day in self.closed_dates:
            return "closed"
        return HOLIDAY_CALENDARS[self.holidays](day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and self.holiday(day) is None

    def intervals_utc(self, day: date) -> list[tuple[datetime, datetime]]:
        """The staffed UTC intervals of local date ``day`` (empty on a closed day)."""
        if not self.is_business_day(day):
            return []
        zone = self.zone
        out = []
        for start, end in self.windows:
            a = _local_to_utc(day, start, zone)
            b = _local_to_utc(day + timedelta(days=1), time(0), zone) if end == time.max else _local_to_utc(
                day, end, zone
            )
            if b > a:
                out.append((a, b))
        return out

    def is_open(self, instant: datetime) -> bool:
        t = _aware(instant, "instant")
        day = t.astimezone(self.zone).date()
        return any(a <= t < b for a, b in self.intervals_utc(day))

    def business_seconds(self, start: datetime, end: datetime) -> int:
        """Staffed seconds in ``[start, end)``; 0 when ``end <= start``."""
        a, b = _aware(start, "start"), _aware(end, "end")
        if b <= a:
            return 0
        zone = self.zone
        total = 0.0
        for day in _days(a.astimezone(zone).date(), b.astimezone(zone).date()):
            for lo, hi in self.intervals_utc(day):
                overlap = (min(hi, b) - max(lo, a)).total_seconds()
                if overlap > 0:
                    total += overlap
        return int(total)

    def business_minutes(self, start: datetime, end: datetime) -> int:
        """Whole staffed minutes in ``[start, end)`` (rounded down)."""
        return self.business_seconds(start, end) // 60

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        """The first instant at which ``minutes`` staffed minutes have passed since ``start``."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        t = _aware(start, "start")
        left = timedelta(minutes=minutes)
        day = t.astimezone(self.zone).date()
        for _ in range(MAX_SEARCH_DAYS):
            for lo, hi in self.intervals_utc(day):
                lo = max(lo, t)
                if hi <= lo:
                    continue
                if not left:
                    return lo
                if hi - lo >= left:
                    return lo + left
                left -= hi - lo
            day += timedelta(days=1)
        raise ValueError(f"no staffed time within {MAX_SEARCH_DAYS} days of {start.isoformat()}")

    def describe(self) -> str:
        days = ",".join(_WEEKDAYS[d] for d in sorted(self.workdays))
        hours = ",".join(f"{a:%H:%M}-{'24:00' if b == time.max else f'{b:%H:%M}'}" for a, b in self.windows)
        return f"{days} {hours} {self.time_zone}, {self.holidays} public holidays" + (
            f", {len(self.closed_dates)} extra closed dates" if self.closed_dates else ""
        )


def _seconds_of(start: time, end: time) -> int:
    e = 86400 if end == time.max else end.hour * 3600 + end.minute * 60 + end.second
    return e - (start.hour * 3600 + start.minute * 60 + start.second)


def _local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous wall time (autumn) is its first reading; a wall time in the spring gap is
    # read with the offset before the change (it lands just after the jump).
    return datetime.combine(day, wall).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
