"""A tenant: one company's books, in test mode first and in production after ``go-live``.

Pure data and rules (stdlib only). The company data is validated at sign-up
(``chalicelib.domain.identifiers``); here a tenant only knows whether it is complete enough to go
live and which chains it writes to (``chain_mode``).

Its **settings** (``PUT /v1/tenants/{tenant_id}/settings``) are the time zone, the business-day
cut-off and the opening hours; ``parse_settings_change`` validates a change, naming the field at
fault (``opening_hours.mon.0``). Time zone and cut-off decide which business day an instant
belongs to (``CLOCK_FIELDS``); the service refuses to change them once a period is closed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any, Literal

from chalicelib.domain.calendar import check_cutoff, check_time_zone
from chalicelib.domain.errors import ValidationFailed

Mode = Literal["test", "production"]

DEFAULT_TIME_ZONES: dict[str, str] = {"BE": "Europe/Brussels", "FR": "Europe/Paris"}
DEFAULT_BUSINESS_DAY_CUTOFF = time(4, 0)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
MAX_WINDOWS_PER_DAY = 6
SETTINGS_FIELDS = ("time_zone", "business_day_cutoff", "opening_hours")
# The settings that decide which business day an instant belongs to: changing them would move
# the bounds of periods already closed, so they are frozen once a tenant has closed one.
CLOCK_FIELDS = ("time_zone", "business_day_cutoff")

Window = tuple[time, time]  # [start, end) in local wall-clock time; end time.max is 24:00
# ASCII digits only (\d would take other scripts' digits) and no trailing newline ($ would).
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")
_WINDOW = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")


def _hhmm(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


@dataclass(frozen=True)
class OpeningHours:
    """When the tenant's shops are open, per weekday, in the tenant's local wall-clock time.

    ``days[0]`` is Monday; an empty tuple is a closed day. Windows are ordered, do not overlap,
    and stay within their day (a bar open until 02:00 has ``18:00-24:00`` on Friday and
    ``00:00-02:00`` on Saturday).
    """

    days: tuple[tuple[Window, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("opening hours have exactly 7 days, Monday first")

    def windows(self, weekday: int) -> tuple[Window, ...]:
        return self.days[weekday]

    def is_open(self, local: datetime) -> bool:
        """Whether the local wall-clock time ``local`` (already in the tenant's zone) is inside
        a window of its weekday."""
        moment = local.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in self.days[local.weekday()])

    def describe(self, weekday: int) -> str:
        windows = self.days[weekday]
        return ", ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in windows) if windows else "closed"

    def to_json(self) -> dict[str, list[str] | None]:
        """``{"mon": ["09:00-12:30", "13:30-19:00"], ..., "sun": None}`` (None: closed)."""
        return {
            name: [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in windows] or None
            for name, windows in zip(WEEKDAYS, self.days, strict=True)
        }

    @classmethod
    def from_json(cls, raw: object, field: str = "opening_hours") -> OpeningHours:
        """Parse and validate the ``to_json`` form; ``ValidationFailed`` names the field at fault
        (``opening_hours``, ``opening_hours.sat``, ``opening_hours.mon.1``)."""
        if not isinstance(raw, Mapping):
            raise ValidationFailed(
                "Opening hours are an object with one key per weekday (mon..sun), each a list of "
                '"HH:MM-HH:MM" windows or null for a closed day.',
                field=field,
            )
        for key in raw:
            if key not in WEEKDAYS:
                raise ValidationFailed(
                    f"Unknown weekday {key!r}; use {', '.join(WEEKDAYS)}.", field=f"{field}.{key}"
                )
        days = []
        for name in WEEKDAYS:
            if name not in raw:
                raise ValidationFailed(
                    "Give every weekday (mon..sun); null (or []) for a closed day.", field=f"{field}.{name}"
                )
            days.append(_day_windows(raw[name], f"{field}.{name}"))
        return cls(tuple(days))


def _day_windows(raw: object, field: str) -> tuple[Window, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValidationFailed('A day is a list of "HH:MM-HH:MM" windows, or null when closed.', field=field)
    if len(raw) > MAX_WINDOWS_PER_DAY:
        raise ValidationFailed(f"At most {MAX_WINDOWS_PER_DAY} opening windows per day.", field=field)
    windows: list[Window] = []
    for index, text in enumerate(raw):
        where = f"{field}.{index}"
        match = _WINDOW.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValidationFailed(f'A window looks like "09:00-18:30"; got {text!r}.', field=where)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValidationFailed(f"{text!r} is not a pair of times of day (00:00 to 24:00).", field=where)
        start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValidationFailed(
                f"A window ends after it starts, within its day; got {text!r} (split a window past "
                "midnight into 22:00-24:00 and 00:00-02:00 on the next day).",
                field=where,
            )
        if windows and start < windows[-1][1]:
            raise ValidationFailed(
                f"Windows are in order and do not overlap; {text!r} starts before the previous one ends.",
                field=where,
            )
        windows.append((start, end))
    return tuple(windows)


def parse_cutoff(raw: object, field: str = "business_day_cutoff") -> time:
    """``"04:00"`` -> ``time(4, 0)``; a cut-off is ``HH:MM`` before 12:00 (``calendar.check_cutoff``)."""
    match = _HHMM.fullmatch(raw) if isinstance(raw, str) else None
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValidationFailed(f'Business-day cut-off is a local time "HH:MM", e.g. "04:00"; got {raw!r}.', field=field)
    return check_cutoff(time(int(match.group(1)), int(match.group(2))), field)


def parse_settings_change(raw: object) -> dict[str, Any]:
    """Validate a settings change: the fields given, parsed (``time_zone`` str,
    ``business_day_cutoff`` time, ``opening_hours`` OpeningHours or None = unknown). Raises
    ``ValidationFailed`` naming the first field at fault; nothing else happens."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed("The settings are a JSON object.", field="body")
    for key in raw:
        if key not in SETTINGS_FIELDS:
            raise ValidationFailed(f"Unknown setting; the settings are {', '.join(SETTINGS_FIELDS)}.", field=str(key))
    if not raw:
        raise ValidationFailed(f"Give at least one of {', '.join(SETTINGS_FIELDS)}.", field="body")
    change: dict[str, Any] = {}
    if "time_zone" in raw:
        check_time_zone(raw["time_zone"], "time_zone")
        change["time_zone"] = raw["time_zone"]
    if "business_day_cutoff" in raw:
        change["business_day_cutoff"] = parse_cutoff(raw["business_day_cutoff"])
    if "opening_hours" in raw:
        value = raw["opening_hours"]
        change["opening_hours"] = None if value is None else OpeningHours.from_json(value)
    return change


@dataclass(frozen=True)
class Address:
    """A postal address (the registered office). ``country`` is the tenant's country."""

    line1: str
    postal_code: str
    city: str
    country: str
    line2: str = ""

    def missing(self) -> list[str]:
        return [f"address.{name}" for name in ("line1", "postal_code", "city", "country") if not getattr(self, name)]


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    company_name: str
    country: str  # "BE" | "FR"
    company_number: str  # BE enterprise number (10 digits) or FR SIREN (9 digits), canonical
    vat_number: str  # canonical, with its country prefix
    address: Address | None = None
    time_zone: str = ""  # IANA name; empty means the country's default
    business_day_cutoff: time = DEFAULT_BUSINESS_DAY_CUTOFF
    mode: Mode = "test"
    production_since: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    opening_hours: OpeningHours | None = None  # None: unknown (anomaly rules use their default)

    def __post_init__(self) -> None:
        if not self.time_zone:
            object.__setattr__(self, "time_zone", DEFAULT_TIME_ZONES.get(self.country, "UTC"))
        if self.mode not in ("test", "production"):
            raise ValueError(f"mode must be 'test' or 'production', not {self.mode!r}")

    @property
    def chain_mode(self) -> Literal["test", "prod"]:
        """The mode part of this tenant's chain names (``test.sales.R1``, ``prod.journal``)."""
        return "prod" if self.mode == "production" else "test"

    @property
    def training(self) -> bool:
        """True while in test mode: every record is training data and never official."""
        return self.mode != "production"

    def missing_company_data(self) -> list[str]:
        """Names of the company fields that are still empty (go-live needs none)."""
        missing = [
            name for name in ("company_name", "country", "company_number", "vat_number") if not getattr(self, name)
        ]
        missing += ["address"] if self.address is None else self.address.missing()
        return missing

    def settings(self) -> dict[str, Any]:
        """The settings in their JSON form (``business_day_cutoff`` ``"HH:MM"``)."""
        return {
            "time_zone": self.time_zone,
            "business_day_cutoff": self.business_day_cutoff.strftime("%H:%M"),
            "opening_hours": self.opening_hours.to_json() if self.opening_hours else None,
        }

    def with_settings(self, **change: Any) -> Tenant:
        """This tenant with ``change`` (from ``parse_settings_change``) applied."""
        unknown = set(change) - set(SETTINGS_FIELDS)
        if unknown:
            raise ValueError(f"not settings: {sorted(unknown)}")
        return replace(self, **change)

    def changed_settings(self, other: Tenant) -> list[str]:
        """The settings fields whose values differ between this tenant and ``other``."""
        return [name for name in SETTINGS_FIELDS if getattr(self, name) != getattr(other, name)]

    def gone_live(self, at: datetime) -> Tenant:
        """This tenant in production from ``at``. Irreversible; refuses a second go-live."""
        if self.mode == "production":
            raise ValueError("already in production")
        return replace(self, mode="production", production_since=at)
