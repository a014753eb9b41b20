"""A tenant: one company's books, in test mode first and in production after ``go-live``.

Pure data and rules (stdlib only). The company data is validated at sign-up
(``chalicelib.domain.identifiers``); here a tenant only knows whether it is complete enough to go
live and which chains it writes to (``chain_mode``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Literal

Mode = Literal["test", "production"]

DEFAULT_TIME_ZONES: dict[str, str] = {"BE": "Europe/Brussels", "FR": "Europe/Paris"}
DEFAULT_BUSINESS_DAY_CUTOFF = time(4, 0)


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

    def gone_live(self, at: datetime) -> Tenant:
        """This tenant in production from ``at``. Irreversible; refuses a second go-live."""
        if self.mode == "production":
            raise ValueError("already in production")
        return replace(self, mode="production", production_since=at)
