"""Request bodies the tests and the benchmarks send, written once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time


def business_today(now: datetime | None = None, time_zone: str = "Europe/Brussels", cutoff: time = time(4)) -> str:
    """A tenant's business day at ``now`` (default: the real clock; default settings, the same in
    Paris): what "today" means for a journal entry's piece date or an export's end, and the day a
    sale made then belongs to. The UTC date is a day ahead of it between midnight UTC and the
    cut-off (a 422 "in the future")."""
    from chalicelib.domain.calendar import business_day_of

    return business_day_of(now or datetime.now(UTC), time_zone, cutoff).isoformat()


def sale_body(**overrides) -> dict:
    """A minimal valid sale (one espresso, paid by card), with a fresh receipt id; ``overrides``
    replace top-level fields."""
    body = {
        "client_receipt_id": f"rcpt-{uuid.uuid4().hex[:10]}",
        "register_id": "R1",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21"}],
        "payments": [{"method": "card", "amount": "5.00"}],
    }
    body.update(overrides)
    return body


def till_receipt(register: str, receipt: str, at: datetime | None = None) -> dict:
    """The bakery receipt the tills test and the sales benchmarks send: two lines at two VAT rates,
    a card payment."""
    return {
        "client_receipt_id": receipt,
        "register_id": register,
        "occurred_at": (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [
            {"description": "Croissant au beurre", "quantity": "3", "unit_price": "1.20", "vat_rate": "6"},
            {"description": "Café crème", "quantity": "2", "unit_price": "2.80", "vat_rate": "21"},
        ],
        "payments": [{"method": "card", "amount": "9.20"}],
    }
