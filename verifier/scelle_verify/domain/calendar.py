"""Business days and closure periods in the tenant's time zone.

Instants are stored in UTC; closures are made per **business day** in the tenant's time zone
with a **cut-off**: a business day ``D`` starts at ``D`` + cut-off local time and ends where
``D + 1`` starts. With a 04:00 cut-off, a sale at 01:30 local on the 24th belongs to the 23rd.

Exact rule, also where clocks change: business day ``D`` starts at the **first instant at which
the local clock shows the cut-off or later on date D**. On the spring change (02:00 -> 03:00 in
Europe/Brussels and Europe/Paris) a 02:30 cut-off therefore starts the day at 03:00 local; on the
autumn change (03:00 -> 02:00) a 02:30 cut-off starts the day at the first 02:30 (summer time).
Every instant belongs to exactly one business day, and ``business_day_of(t)`` is ``D`` exactly
when ``start(D) <= t < start(D + 1)`` as given by ``period_bounds_utc``. A business day lasts
23, 24 or 25 hours.

Periods are ``"day"``, ``"month"`` (business days from the 1st to the last day of a month)
and ``"year"`` (1 January to 31 December). Fiscal years that do not follow the calendar year, or
that last more or less than 12 months (a first fiscal year), use ``range_bounds_utc``.

The cut-off must be before noon: a business day is named after the calendar date on which it
starts, and a later cut-off would put most of it on the next date.

Dates, periods and instants that come from a request must lie in the **supported range**, the
years 2000 to 2099 (instants in UTC): ``check_supported_date``, ``check_supported_instant`` and
``parse_period_key`` refuse the rest with ``ValidationFailed`` naming the field. Nothing the
product records falls outside it, and every computation on a supported value stays far from
the limits of ``datetime`` (year 1 and year 9999 overflow once shifted by a time zone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scelle_verify.domain.errors import ValidationFailed

__all__ = [
    "FIRST_SUPPORTED_YEAR",
    "LAST_SUPPORTED_YEAR",
    "PERIOD_KINDS",
    "TIME_ZONES",
    "business_day_of",
    "business_day_start_utc",
    "check_cutoff",
    "check_period_kind",
    "check_supported_date",
    "check_supported_instant",
    "check_time_zone",
    "parse_period_key",
    "period_bounds_utc",
    "period_key",
    "period_start",
    "range_bounds_utc",
]

TIME_ZONES = frozenset({"Europe/Brussels", "Europe/Paris"})
PERIOD_KINDS = ("day", "month", "year")
_LATEST_CUTOFF = time(12, 0)
#: The supported range of request dates and instants (UTC), both years included.
FIRST_SUPPORTED_YEAR = 2000
LAST_SUPPORTED_YEAR = 2099
_RANGE_TEXT = f"{FIRST_SUPPORTED_YEAR}-01-01 to {LAST_SUPPORTED_YEAR}-12-31"


def _supported_year(year: int) -> bool:
    return FIRST_SUPPORTED_YEAR <= year <= LAST_SUPPORTED_YEAR


def check_supported_date(day: date, field: str, *, what: str = "Date") -> date:
    """Return ``day`` if it is in the supported range (years 2000 to 2099), else
    ``ValidationFailed(field=field)``. ``day`` must be a ``date``."""
    if not _supported_year(_require_date(day, "day").year):
        raise ValidationFailed(
            f"{what} {day.isoformat()} is outside the supported range {_RANGE_TEXT}; check the year.", field=field
        )
    return day


def check_supported_instant(moment: datetime, field: str, *, what: str = "Time") -> datetime:
    """``moment`` in UTC if it falls between 2000-01-01T00:00:00Z and the end of 2099 (UTC), else
    ``ValidationFailed(field=field)``. ``moment`` must be an aware ``datetime`` (``ValueError``
    otherwise). Never overflows, whatever the year and offset."""
    if not isinstance(moment, datetime):
        raise TypeError(f"moment must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be time-zone aware")
    # The wall-clock year first: converting year 1 or 9999 to UTC can overflow.
    utc = moment.astimezone(UTC) if _supported_year(moment.year) else None
    if utc is None or not _supported_year(utc.year):
        raise ValidationFailed(
            f"{what} {moment.isoformat()} is outside the supported range {_RANGE_TEXT} (UTC); check the year "
            "and the clock.",
            field=field,
        )
    return utc


def check_time_zone(tz_name: object, field: str = "time_zone") -> ZoneInfo:
    """The ``ZoneInfo`` of an allowed tenant time zone, else ``ValidationFailed``."""
    if not isinstance(tz_name, str) or tz_name not in TIME_ZONES:
        raise ValidationFailed(
            f"Time zone must be one of {sorted(TIME_ZONES)}; got {tz_name!r}.", field=field
        )
    assert isinstance(tz_name, str)
    return ZoneInfo(tz_name)


def check_cutoff(cutoff: object, field: str = "business_day_cutoff") -> time:
    """Return ``cutoff`` if it is a naive ``time`` before 12:00, else ``ValidationFailed``."""
    if not isinstance(cutoff, time):
        raise ValidationFailed(
            f"Business-day cut-off must be a time of day; got {type(cutoff).__name__}.", field=field
        )
    if cutoff.tzinfo is not None:
        raise ValidationFailed(
            "Business-day cut-off is a local time and must not carry a time zone.", field=field
        )
    if cutoff >= _LATEST_CUTOFF:
        raise ValidationFailed(
            f"Business-day cut-off must be before 12:00; got {cutoff.isoformat()}.", field=field
        )
    return cutoff


def check_period_kind(kind: object, field: str = "period_kind") -> str:
    if kind not in PERIOD_KINDS:
        raise ValidationFailed(f"Period kind must be one of {list(PERIOD_KINDS)}; got {kind!r}.", field=field)
    assert isinstance(kind, str)
    return kind


def _require_date(value: object, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date (not a datetime), got {type(value).__name__}")
    return value


def _start_utc(day: date, zone: ZoneInfo, cutoff: time) -> datetime:
    """First UTC instant at which the clock in ``zone`` shows ``cutoff`` or later on ``day``."""
    wall = datetime.combine(day, cutoff)
    # fold=0 is the earlier of two readings of an ambiguous wall time (autumn change).
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # The wall time falls in the spring gap: start when the clock jumps over it. The jump lies in
    # (earliest, latest], the readings of ``wall`` with the offset after and before the change.
    earliest = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    latest = first
    after = latest.astimezone(zone).utcoffset()
    low, high = 0, int((latest - earliest).total_seconds())  # offset at low != after, at high ==
    while high - low > 1:
        middle = (low + high) // 2
        if (earliest + timedelta(seconds=middle)).astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return earliest + timedelta(seconds=high)


def business_day_start_utc(day: date, tz_name: str, cutoff: time) -> datetime:
    """The UTC instant at which business day ``day`` starts (see the module docstring)."""
    return _start_utc(_require_date(day, "day"), check_time_zone(tz_name), check_cutoff(cutoff))


def business_day_of(instant_utc: datetime, tz_name: str, cutoff: time) -> date:
    """The business day an instant belongs to, in ``tz_name`` with ``cutoff``.

    ``instant_utc`` must be time-zone aware (any offset works; UTC is expected). A naive
    datetime is a programming error and raises ``ValueError``.
    """
    if not isinstance(instant_utc, datetime):
        raise TypeError(f"instant_utc must be a datetime, got {type(instant_utc).__name__}")
    if instant_utc.tzinfo is None or instant_utc.utcoffset() is None:
        raise ValueError("instant_utc must be time-zone aware (UTC)")
    zone = check_time_zone(tz_name)
    check_cutoff(cutoff)
    local_day = instant_utc.astimezone(zone).date()
    # The local date's business day has started unless the clock is still before the cut-off
    # (start(local_day + 1) is after local midnight, so never earlier than the instant).
    if _start_utc(local_day, zone, cutoff) <= instant_utc:
        return local_day
    return local_day - timedelta(days=1)


def period_start(kind: str, day: date) -> date:
    """The first day of the ``kind`` period that contains ``day``."""
    check_period_kind(kind)
    _require_date(day, "day")
    if kind == "day":
        return day
    if kind == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next_start(kind: str, start: date) -> date:
    if kind == "day":
        return start + timedelta(days=1)
    if kind == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def period_bounds_utc(
    kind: str, period_start_date: date, tz_name: str, cutoff: time, *, field: str = "period"
) -> tuple[datetime, datetime]:
    """The half-open UTC interval ``[start, end)`` of a closure period.

    ``period_start_date`` must be the first day of the period (the 1st for a month, 1 January
    for a year), else ``ValidationFailed(field=field)``; ``period_start`` finds it. Both ends
    are business-day starts, so a month or year covers its business days exactly.
    """
    check_period_kind(kind)
    _require_date(period_start_date, "period_start_date")
    if period_start(kind, period_start_date) != period_start_date:
        raise ValidationFailed(
            f"A {kind} period starts on its first day; {period_start_date.isoformat()} is not "
            f"(use {period_start(kind, period_start_date).isoformat()}).",
            field=field,
        )
    zone = check_time_zone(tz_name)
    check_cutoff(cutoff)
    end_day = _next_start(kind, period_start_date)
    return _start_utc(period_start_date, zone, cutoff), _start_utc(end_day, zone, cutoff)


def range_bounds_utc(
    first_day: date, last_day: date, tz_name: str, cutoff: time, *, field: str = "period"
) -> tuple[datetime, datetime]:
    """The half-open UTC interval covering business days ``first_day`` to ``last_day``
    inclusive (a fiscal year of any length)."""
    _require_date(first_day, "first_day")
    _require_date(last_day, "last_day")
    if last_day < first_day:
        raise ValidationFailed(
            f"The period ends ({last_day.isoformat()}) before it starts ({first_day.isoformat()}).",
            field=field,
        )
    zone = check_time_zone(tz_name)
    check_cutoff(cutoff)
    return _start_utc(first_day, zone, cutoff), _start_utc(last_day + timedelta(days=1), zone, cutoff)


def period_key(kind: str, day: date) -> str:
    """The key of the ``kind`` period containing ``day``: ``"2026-11-23"``, ``"2026-11"`` or
    ``"2026"``."""
    start = period_start(kind, day)
    if kind == "day":
        return start.isoformat()
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}"


def parse_period_key(key: object, field: str = "period", *, supported_only: bool = True) -> tuple[str, date]:
    """``"2026-11-23"`` -> ``("day", date(2026, 11, 23))``, ``"2026-11"`` -> ``("month", ...)``,
    ``"2026"`` -> ``("year", ...)``; anything else raises ``ValidationFailed(field=field)``, and
    so does a period outside the supported years 2000 to 2099 unless ``supported_only`` is false
    (readers of sealed records check the key's shape only)."""
    if isinstance(key, str) and key.isascii():
        parts = key.split("-")
        if (
            1 <= len(parts) <= 3
            and all(p.isdigit() for p in parts)
            and len(parts[0]) == 4
            and all(len(p) == 2 for p in parts[1:])
        ):
            kind = ("year", "month", "day")[len(parts) - 1]
            numbers = [int(p) for p in parts] + [1] * (3 - len(parts))
            try:
                start = date(numbers[0], numbers[1], numbers[2])
            except ValueError:
                pass
            else:
                if supported_only and not _supported_year(start.year):
                    raise ValidationFailed(
                        f"Period {key!r} is outside the supported range {_RANGE_TEXT}.", field=field
                    )
                return kind, start
    raise ValidationFailed(f"Period must be YYYY-MM-DD, YYYY-MM or YYYY; got {key!r}.", field=field)
