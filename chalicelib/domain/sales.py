"""Sale receipts and returns: validate a till's receipt and build the payload that is sealed.

``build_sale(request, ...)`` returns the ``data`` of a ``"sale"`` record (schema in
``docs/entry-types.md``). What the rules are, in the order they are checked:

* ``kind`` is ``"sale"`` (default) or ``"return"``. Negative quantities are allowed only in a
  return, and a return has at least one (a return may also sell: an exchange).
* ``client_receipt_id`` is the till's own receipt id (it exists before the receipt reaches the
  server, so an offline till that re-sends a receipt is recorded once: the service keys
  idempotency on ``register_id`` + ``client_receipt_id``). The legal, gap-free receipt number is
  the record's ``seq`` in its register chain.
* ``occurred_at`` (the till's clock) must not be later than ``now + skew``; its business day in
  the tenant's time zone and cut-off is ``business_date``, the date whose VAT rates apply.
* Each line: a description, a non-zero quantity (3 decimals), a unit price (2 decimals, not
  negative), a VAT rate in percent that is legal in the tenant's country on ``business_date``,
  and an optional discount (an amount, not more than the line). The line ``amount`` is
  ``round_half_up(quantity x unit_price)`` reduced by the discount, on the price basis
  (including VAT when ``prices_include_vat``, the retail norm and the default).
* Totals per rate (excl VAT / VAT / incl VAT) follow the recorded ``rounding_policy``
  (``money.vat_breakdown``: ``"document"`` by default, or ``"line"``); ``expected_total``, if
  the till sends it, must equal the computed total incl VAT.
* Payments (cash, card, cheque, voucher, transfer, other), each non-zero and of the sign of the
  total, add up to the total incl VAT. Only cash may exceed it: the excess is the ``change``
  given back, which must not exceed the cash tendered. A refund (negative total) is paid back
  exactly, without change. Invariant: ``sum(payments.amount) - change == totals.incl``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from chalicelib.domain.calendar import business_day_of, check_cutoff, check_time_zone
from chalicelib.domain.entries import (
    CURRENCY,
    SCHEMA_VERSION,
    Actor,
    identifier,
    instant,
    item_list,
    join,
    read_object,
    text,
    utc_timestamp,
)
from chalicelib.domain.errors import Findings, ValidationFailed
from chalicelib.domain.money import (
    POLICY_DOCUMENT,
    check_rounding_policy,
    format_cents,
    line_total_cents,
    parse_amount,
    parse_quantity,
    parse_rate_percent,
    vat_breakdown,
)
from chalicelib.domain.records import check_sealable
from chalicelib.domain.vat import check_rate

__all__ = [
    "DEFAULT_ROUNDING_POLICY",
    "DEFAULT_SKEW",
    "MAX_LINES",
    "MAX_PAYMENTS",
    "PAYMENT_METHODS",
    "REGISTER_ID",
    "SALE_KINDS",
    "build_sale",
    "check_client_receipt_id",
    "check_description",
    "check_reference",
    "check_register_id",
    "negate_sale",
]

SALE_KINDS = ("sale", "return")
PAYMENT_METHODS = ("cash", "card", "cheque", "voucher", "transfer", "other")
MAX_LINES = 500
MAX_PAYMENTS = 20
MAX_DESCRIPTION = 200
MAX_REFERENCE = 64
DEFAULT_SKEW = timedelta(minutes=5)
DEFAULT_ROUNDING_POLICY = POLICY_DOCUMENT

#: A register id becomes part of a chain name (``prod.sales.<register_id>``): no dots, no '#'.
REGISTER_ID = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
_REGISTER_RULE = "1 to 32 letters, digits, '-' or '_'"
CLIENT_RECEIPT_ID = _CLIENT_RECEIPT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}", re.ASCII)
_CLIENT_RECEIPT_RULE = "1 to 64 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit"

_REQUEST_FIELDS = (
    "kind",
    "client_receipt_id",
    "register_id",
    "occurred_at",
    "prices_include_vat",
    "rounding_policy",
    "lines",
    "payments",
    "expected_total",
)
_REQUEST_REQUIRED = ("client_receipt_id", "register_id", "occurred_at", "lines")
_LINE_FIELDS = ("description", "quantity", "unit_price", "vat_rate", "discount")
_LINE_REQUIRED = ("description", "quantity", "unit_price", "vat_rate")
_PAYMENT_FIELDS = ("method", "amount", "reference")
_PAYMENT_REQUIRED = ("method", "amount")


def build_sale(
    request: Mapping[str, Any],
    *,
    country: str,
    time_zone: str,
    cutoff: time,
    seller: Actor,
    now: datetime,
    skew: timedelta = DEFAULT_SKEW,
) -> dict[str, Any]:
    """Validate a receipt and return its sealed payload (``SealedRecord.type == "sale"``).

    ``request`` holds what the till sent (``kind``, ``client_receipt_id``, ``register_id``,
    ``occurred_at``, ``prices_include_vat``, ``rounding_policy``, ``lines``, ``payments``,
    ``expected_total``); amounts are decimal strings or ``Decimal`` in EUR, quantities decimal
    strings, VAT rates in percent (``"5.5"``). ``country``, ``time_zone`` and ``cutoff`` are
    the tenant's; ``seller`` is the authenticated user; ``now`` is the server's aware clock.

    Raises ``ValidationFailed`` naming the field at fault (``lines.2.vat_rate``); when several
    fields are wrong, it names the first and lists them all (``ValidationFailed.problems()``).
    Rules that need every field valid (a return's negative line, ``expected_total`` against the
    lines, payments against the total) are checked once the fields are, first error only.
    """
    if not isinstance(seller, Actor):
        raise TypeError("seller must be an Actor")
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError("now must be an aware datetime")
    if not isinstance(skew, timedelta) or skew < timedelta(0):
        raise TypeError("skew must be a non-negative timedelta")
    check_time_zone(time_zone)
    check_cutoff(cutoff)

    body = read_object(request, None, what="Sale", allowed=_REQUEST_FIELDS, required=_REQUEST_REQUIRED)
    # Every field is checked, and every failure kept, before anything that needs them all (totals,
    # payments against the total): one answer names every field at fault.
    found = Findings()
    kind = found.check(_kind, body.get("kind", "sale"))
    client_receipt_id = found.check(check_client_receipt_id, body["client_receipt_id"])
    register_id = found.check(check_register_id, body["register_id"])
    occurred_at = found.check(_occurred_at, body["occurred_at"], now=now, skew=skew)
    business_date = business_day_of(occurred_at, time_zone, cutoff) if occurred_at is not None else None
    prices_include_vat = found.check(_prices_include_vat, body.get("prices_include_vat", True))
    policy = found.check(check_rounding_policy, body.get("rounding_policy", DEFAULT_ROUNDING_POLICY))

    raw_lines = found.check(item_list, body["lines"], "lines", what="Lines", min_items=1, max_items=MAX_LINES) or []
    lines = [
        found.check(_line, raw, join("lines", index), kind=kind, country=country, business_date=business_date)
        for index, raw in enumerate(raw_lines)
    ]
    expected = None
    if body.get("expected_total") is not None:
        expected = found.check(parse_amount, body["expected_total"], "expected_total", allow_negative=True)
    raw_payments = found.check(_payment_fields, body.get("payments", []))
    found.raise_if_any()
    assert kind is not None and client_receipt_id is not None and register_id is not None
    assert occurred_at is not None and business_date is not None and policy is not None
    assert isinstance(prices_include_vat, bool) and raw_payments is not None
    checked_lines = [line for line in lines if line is not None]

    if kind == "return" and not any(line["quantity"] < 0 for line in checked_lines):
        raise ValidationFailed(
            "A return needs at least one line with a negative quantity (the goods taken back); "
            "use kind 'sale' otherwise.",
            field="lines",
        )

    breakdown = vat_breakdown(
        [(line["vat_rate"], line["amount"]) for line in checked_lines], prices_include_vat, policy
    )
    vat_totals = [
        {"rate": rate, "excl": part.excl, "vat": part.vat, "incl": part.incl} for rate, part in breakdown.items()
    ]
    totals = {
        "excl": sum(part.excl for part in breakdown.values()),
        "vat": sum(part.vat for part in breakdown.values()),
        "incl": sum(part.incl for part in breakdown.values()),
    }
    if expected is not None and expected != totals["incl"]:
        raise ValidationFailed(
            f"Expected total {format_cents(expected)} does not match the total incl VAT computed "
            f"from the lines, {format_cents(totals['incl'])} (difference "
            f"{format_cents(expected - totals['incl'])}, rounding policy {policy!r}).",
            field="expected_total",
        )

    payments, change = _payments(raw_payments, total=totals["incl"])
    sale = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "client_receipt_id": client_receipt_id,
        "register_id": register_id,
        "seller": seller.as_dict(),
        "occurred_at": utc_timestamp(occurred_at),
        "business_date": business_date.isoformat(),
        "country": country,
        "currency": CURRENCY,
        "prices_include_vat": prices_include_vat,
        "rounding_policy": policy,
        "lines": checked_lines,
        "vat_totals": vat_totals,
        "totals": totals,
        "payments": payments,
        "change": change,
    }
    check_sealable([sale], field="lines")
    return sale


def check_client_receipt_id(value: object, field: str = "client_receipt_id") -> str:
    """The till's receipt id: 1 to 64 of ``A-Z a-z 0-9 . _ : / -``, starting with a letter or digit."""
    return identifier(value, field, what="Client receipt id", pattern=_CLIENT_RECEIPT_ID, rule=_CLIENT_RECEIPT_RULE)


def check_register_id(value: object, field: str = "register_id") -> str:
    """A register id, part of its chain's name: 1 to 32 of ``A-Z a-z 0-9 _ -``."""
    return identifier(value, field, what="Register id", pattern=REGISTER_ID, rule=_REGISTER_RULE)


def check_description(value: object, field: str = "description") -> str | None:
    return text(value, field, what="Description", max_length=MAX_DESCRIPTION)


def check_reference(value: object, field: str = "reference") -> str | None:
    return text(value, field, what="Reference", max_length=MAX_REFERENCE, required=False)


def _kind(kind: object) -> str:
    if kind not in SALE_KINDS:
        raise ValidationFailed(f"Kind must be one of {list(SALE_KINDS)}; got {kind!r}.", field="kind")
    assert isinstance(kind, str)
    return kind


def _occurred_at(value: object, *, now: datetime, skew: timedelta) -> datetime:
    occurred_at = instant(value, "occurred_at", what="occurred_at")
    if occurred_at > now + skew:
        raise ValidationFailed(
            f"occurred_at {utc_timestamp(occurred_at)} is in the future: the server clock says "
            f"{utc_timestamp(now)} and allows {int(skew.total_seconds())} s of clock skew; "
            "check the till's clock.",
            field="occurred_at",
        )
    return occurred_at


def _prices_include_vat(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(
            f"prices_include_vat must be true or false; got {value!r}.", field="prices_include_vat"
        )
    return value


def _line(
    raw: object, path: str, *, kind: str | None, country: str, business_date: date | None
) -> dict[str, Any]:
    """One line, every field checked (all failures together). ``kind`` or ``business_date`` is
    None when that field of the sale is itself invalid: the rules that need it wait."""
    line = read_object(raw, path, what="Line", allowed=_LINE_FIELDS, required=_LINE_REQUIRED)
    found = Findings()
    description = found.check(check_description, line["description"], join(path, "description"))
    quantity_field = join(path, "quantity")
    quantity = found.check(_quantity, line["quantity"], quantity_field, kind=kind)
    unit_price = found.check(parse_amount, line["unit_price"], join(path, "unit_price"))
    rate_field = join(path, "vat_rate")
    rate = found.check(_rate, line["vat_rate"], rate_field, country=country, business_date=business_date)
    discount_field = join(path, "discount")
    discount = 0
    if line.get("discount") is not None:
        discount = found.check(parse_amount, line["discount"], discount_field)
    found.raise_if_any()
    assert quantity is not None and unit_price is not None and rate is not None and discount is not None
    gross = line_total_cents(quantity, unit_price)
    if discount > abs(gross):
        raise ValidationFailed(
            f"Discount {format_cents(discount)} is larger than the line amount {format_cents(abs(gross))}.",
            field=discount_field,
        )
    # The discount reduces the line's magnitude: a returned line gives back the discounted price.
    amount = gross - discount if gross >= 0 else gross + discount
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "discount": discount,
        "amount": amount,
        "vat_rate": rate,
    }


def _quantity(value: object, field: str, *, kind: str | None) -> int:
    quantity = parse_quantity(value, field, allow_negative=True)
    if quantity < 0 and kind == "sale":
        raise ValidationFailed(
            "Negative quantities are allowed only in a return (kind 'return'); a mistake on a recorded "
            "sale is corrected by reversing it.",
            field=field,
        )
    return quantity


def _rate(value: object, field: str, *, country: str, business_date: date | None) -> int:
    rate = parse_rate_percent(value, field)
    if business_date is not None:  # else occurred_at is invalid, and named already
        check_rate(country, business_date, rate, field)
    return rate


def _payment_fields(raw: object) -> list[dict[str, Any]]:
    """Every payment's own fields (method, amount, reference), all failures together; how they
    add up against the total is ``_payments``' job."""
    items = item_list(raw, "payments", what="Payments", min_items=0, max_items=MAX_PAYMENTS)
    found = Findings()
    payments = [found.check(_payment, item, join("payments", index)) for index, item in enumerate(items)]
    found.raise_if_any()
    return [payment for payment in payments if payment is not None]


def _payment(item: object, path: str) -> dict[str, Any]:
    payment = read_object(item, path, what="Payment", allowed=_PAYMENT_FIELDS, required=_PAYMENT_REQUIRED)
    found = Findings()
    method = found.check(_payment_method, payment["method"], join(path, "method"))
    amount = found.check(_payment_amount, payment["amount"], join(path, "amount"))
    reference = found.check(check_reference, payment.get("reference"), join(path, "reference"))
    found.raise_if_any()
    return {"method": method, "amount": amount, "reference": reference}


def _payment_method(method: object, field: str) -> str:
    if method not in PAYMENT_METHODS:
        raise ValidationFailed(f"Payment method must be one of {list(PAYMENT_METHODS)}; got {method!r}.", field=field)
    assert isinstance(method, str)
    return method


def _payment_amount(value: object, field: str) -> int:
    amount = parse_amount(value, field, allow_negative=True)
    if amount == 0:
        raise ValidationFailed("A payment amount must not be zero; leave the payment out.", field=field)
    return amount


def _payments(payments: list[dict[str, Any]], *, total: int) -> tuple[list[dict[str, Any]], int]:
    """The checked payments against the total: their signs, their sum, the change."""
    for index, payment in enumerate(payments):
        amount, amount_field = payment["amount"], join(join("payments", index), "amount")
        if total == 0:
            raise ValidationFailed("The total is zero: no payment is expected.", field=amount_field)
        if (amount < 0) != (total < 0):
            raise ValidationFailed(
                "A sale is paid with positive amounts and a refund (negative total) with negative amounts; "
                f"this payment is {format_cents(amount)} for a total of {format_cents(total)}.",
                field=amount_field,
            )

    paid = sum(payment["amount"] for payment in payments)
    excess = paid - total
    if total >= 0 and excess < 0:
        raise ValidationFailed(
            f"Payments add up to {format_cents(paid)}, less than the total incl VAT {format_cents(total)} "
            f"(missing {format_cents(-excess)}).",
            field="payments",
        )
    if total < 0 and excess != 0:
        raise ValidationFailed(
            f"Refund payments add up to {format_cents(paid)}; they must equal the total incl VAT "
            f"{format_cents(total)} exactly (no change is given on a refund).",
            field="payments",
        )
    cash = sum(payment["amount"] for payment in payments if payment["method"] == "cash")
    if excess > 0 and excess > cash:
        raise ValidationFailed(
            f"Payments exceed the total incl VAT {format_cents(total)} by {format_cents(excess)}; only cash "
            f"can be overpaid (the excess is given back as change) and {format_cents(cash)} "
            "was tendered in cash.",
            field="payments",
        )
    return payments, excess


def negate_sale(data: Mapping[str, Any]) -> dict[str, Any]:
    """A sale payload with every amount negated (what a reversal holds).

    Quantities, line amounts, per-rate and grand totals, payments and change change sign; unit
    prices and discounts are magnitudes and stay. Rounding is symmetric, so recomputing the
    negated lines gives exactly the negated totals.
    """
    negated = dict(data)
    negated["lines"] = [{**line, "quantity": -line["quantity"], "amount": -line["amount"]} for line in data["lines"]]
    negated["vat_totals"] = [
        {"rate": part["rate"], "excl": -part["excl"], "vat": -part["vat"], "incl": -part["incl"]}
        for part in data["vat_totals"]
    ]
    negated["totals"] = {name: -data["totals"][name] for name in ("excl", "vat", "incl")}
    negated["payments"] = [{**payment, "amount": -payment["amount"]} for payment in data["payments"]]
    negated["change"] = -data["change"]
    return negated
