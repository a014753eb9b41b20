"""Double-entry journal entries: validate an entry (or a batch) and build the sealed payload.

``build_journal_entry(request, ...)`` returns the ``data`` of a ``"journal"`` record (schema in
``docs/entry-types.md``). The rules:

* ``journal_code``: 1 to 8 upper-case letters or digits (``VT``, ``AC``, ``BQ1``, ``OD``);
  ``journal_label`` optional (the FEC export needs one, from here or from the tenant's list).
* ``piece_ref`` (the supporting document: invoice number, statement...), 1 to 64 characters;
  ``piece_date``, a date not after ``today`` (the tenant's local date) nor before 2000;
  ``label``, 1 to 200 characters.
* 2 to ``MAX_LINES`` lines. Each line has an ``account``: 3 to 12 digits, the general-ledger
  account of the French PCG (``411000``, ``44571``) or the Belgian PCMN/MAR (``400000``,
  ``451``) — the class is the first digit and sub-accounts add digits, so digits only, no
  letters, no separators; an optional auxiliary (sub-ledger) account ``aux_account``: 1 to 17
  letters, digits, ``-``, ``_`` or ``.`` (the FEC ``CompAuxNum``), which then needs an
  ``aux_label``; optional ``account_label`` and line ``label``; exactly one of ``debit`` or
  ``credit``, a positive amount with at most 2 decimals; an optional ``vat_rate`` (percent),
  legal in the tenant's country on ``piece_date``.
* The entry balances: total debit == total credit, else ``field="lines"`` with the difference.

A batch (``build_journal_batch``) holds 1 to 99 entries; each is validated and an error names
its index (``entries.3.lines.1.debit``). Every field of every line of every entry is checked: the
error names the first at fault and lists them all (``ValidationFailed.problems()``); the balance
of an entry is checked once its lines are right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from chalicelib.domain.entries import (
    CURRENCY,
    SCHEMA_VERSION,
    Actor,
    calendar_date,
    identifier,
    item_list,
    join,
    read_object,
    text,
)
from chalicelib.domain.errors import Findings, ValidationFailed
from chalicelib.domain.money import format_cents, parse_amount, parse_rate_percent
from chalicelib.domain.records import check_sealable
from chalicelib.domain.vat import check_rate

__all__ = [
    "ACCOUNT",
    "AUX_ACCOUNT",
    "JOURNAL_CODE",
    "MAX_BATCH",
    "MAX_LINES",
    "MIN_PIECE_DATE",
    "build_journal_batch",
    "build_journal_entry",
    "check_account",
    "check_aux_account",
    "check_journal_code",
    "check_label",
    "check_piece_ref",
    "negate_journal",
]

MAX_LINES = 200
MAX_BATCH = 99  # one slot of DynamoDB's 100-item transaction is the request's claim (decision 0012)
MAX_PIECE_REF = 64
MAX_LABEL = 200
MIN_PIECE_DATE = date(2000, 1, 1)

JOURNAL_CODE = re.compile(r"[A-Z0-9]{1,8}", re.ASCII)
ACCOUNT = re.compile(r"[0-9]{3,12}", re.ASCII)
AUX_ACCOUNT = re.compile(r"[A-Za-z0-9._-]{1,17}", re.ASCII)

_ENTRY_FIELDS = ("journal_code", "journal_label", "piece_ref", "piece_date", "label", "lines")
_ENTRY_REQUIRED = ("journal_code", "piece_ref", "piece_date", "label", "lines")
_LINE_FIELDS = (
    "account",
    "account_label",
    "aux_account",
    "aux_label",
    "label",
    "debit",
    "credit",
    "vat_rate",
)
_LINE_REQUIRED = ("account",)


def build_journal_entry(
    request: Mapping[str, Any],
    *,
    country: str,
    today: date,
    recorded_by: Actor,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Validate one journal entry and return its sealed payload (``SealedRecord.type == "journal"``).

    Amounts are decimal strings or ``Decimal`` in EUR, VAT rates in percent, ``piece_date`` a
    ``date`` or ``"YYYY-MM-DD"``. ``country`` is the tenant's, ``today`` its local date,
    ``recorded_by`` the authenticated user. ``prefix`` is prepended to every error's field
    (``"entries.3"``). Raises ``ValidationFailed`` naming the field at fault.
    """
    if not isinstance(recorded_by, Actor):
        raise TypeError("recorded_by must be an Actor")
    body = read_object(request, prefix, what="Journal entry", allowed=_ENTRY_FIELDS, required=_ENTRY_REQUIRED)
    # Every field and line is checked and every failure kept; the balance needs them all.
    found = Findings()
    journal_code = found.check(check_journal_code, body["journal_code"], join(prefix, "journal_code"))
    journal_label = found.check(
        text,
        body.get("journal_label"),
        join(prefix, "journal_label"),
        what="Journal label",
        max_length=MAX_LABEL,
        required=False,
    )
    piece_ref = found.check(check_piece_ref, body["piece_ref"], join(prefix, "piece_ref"))
    piece_date = found.check(_piece_date, body["piece_date"], join(prefix, "piece_date"), today=today)
    label = found.check(check_label, body["label"], join(prefix, "label"))

    lines_field = join(prefix, "lines")
    raw_lines = found.check(item_list, body["lines"], lines_field, what="Lines", min_items=2, max_items=MAX_LINES)
    lines = [
        found.check(_line, raw, join(lines_field, index), country=country, piece_date=piece_date)
        for index, raw in enumerate(raw_lines or [])
    ]
    found.raise_if_any()
    assert piece_date is not None
    checked = [line for line in lines if line is not None]
    total_debit = sum(line["debit"] for line in checked)
    total_credit = sum(line["credit"] for line in checked)
    if total_debit != total_credit:
        raise ValidationFailed(
            f"The entry does not balance: debit {format_cents(total_debit)}, "
            f"credit {format_cents(total_credit)}, "
            f"difference {format_cents(total_debit - total_credit)}.",
            field=lines_field,
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "journal_code": journal_code,
        "journal_label": journal_label,
        "piece_ref": piece_ref,
        "piece_date": piece_date.isoformat(),
        "label": label,
        "recorded_by": recorded_by.as_dict(),
        "currency": CURRENCY,
        "lines": checked,
        "total_debit": total_debit,
        "total_credit": total_credit,
    }


def check_journal_code(value: object, field: str = "journal_code") -> str:
    """1 to 8 upper-case letters or digits (``VT``, ``AC``, ``BQ1``, ``OD``)."""
    return identifier(
        value,
        field,
        what="Journal code",
        pattern=JOURNAL_CODE,
        rule="1 to 8 upper-case letters or digits, such as 'VT', 'AC', 'BQ1' or 'OD'",
    )


def check_piece_ref(value: object, field: str = "piece_ref") -> str | None:
    return text(value, field, what="Piece reference", max_length=MAX_PIECE_REF)


def check_label(value: object, field: str = "label") -> str | None:
    return text(value, field, what="Label", max_length=MAX_LABEL)


def check_account(value: object, field: str = "account") -> str:
    """A general-ledger account: 3 to 12 digits (PCG / PCMN)."""
    return identifier(
        value,
        field,
        what="Account number",
        pattern=ACCOUNT,
        rule="3 to 12 digits (PCG or PCMN account, e.g. '411000'), no letters or separators",
    )


def check_aux_account(value: object, field: str = "aux_account") -> str:
    """An auxiliary (sub-ledger) account: 1 to 17 letters, digits, ``.``, ``_`` or ``-``."""
    return identifier(
        value, field, what="Auxiliary account", pattern=AUX_ACCOUNT, rule="1 to 17 letters, digits, '.', '_' or '-'"
    )


def _piece_date(value: object, field: str, *, today: date) -> date:
    piece_date = calendar_date(value, field, what="Piece date")
    if piece_date > today:
        raise ValidationFailed(
            f"Piece date {piece_date.isoformat()} is in the future (today is {today.isoformat()}).", field=field
        )
    if piece_date < MIN_PIECE_DATE:
        raise ValidationFailed(
            f"Piece date {piece_date.isoformat()} is before {MIN_PIECE_DATE.isoformat()}; check the year.",
            field=field,
        )
    return piece_date


def _line(raw: object, path: str, *, country: str, piece_date: date | None) -> dict[str, Any]:
    """One line, every field checked (all failures together). ``piece_date`` is None when the
    entry's date is itself invalid: the VAT rate's legality then waits."""
    line = read_object(raw, path, what="Line", allowed=_LINE_FIELDS, required=_LINE_REQUIRED)
    found = Findings()
    account = found.check(check_account, line["account"], join(path, "account"))
    account_label = found.check(
        text,
        line.get("account_label"),
        join(path, "account_label"),
        what="Account label",
        max_length=MAX_LABEL,
        required=False,
    )
    aux_account = None
    aux_label = None
    aux_label_field = join(path, "aux_label")
    if line.get("aux_account") is not None:
        aux_account = found.check(check_aux_account, line["aux_account"], join(path, "aux_account"))
        if line.get("aux_label") is None:
            found.check(_fail, "aux_label is required with aux_account.", aux_label_field)
    if line.get("aux_label") is not None:
        if line.get("aux_account") is None:
            found.check(_fail, "aux_label is only allowed with aux_account.", aux_label_field)
        else:
            aux_label = found.check(
                text, line["aux_label"], aux_label_field, what="Auxiliary account label", max_length=MAX_LABEL
            )
    line_label = found.check(
        text, line.get("label"), join(path, "label"), what="Line label", max_length=MAX_LABEL, required=False
    )

    has_debit = line.get("debit") is not None
    has_credit = line.get("credit") is not None
    side = "debit" if has_debit else "credit"
    amount = None
    if has_debit == has_credit:
        which = "both a debit and a credit" if has_debit else "neither a debit nor a credit"
        found.check(_fail, f"A line has exactly one of debit or credit; this one has {which}.", path)
    else:
        amount = found.check(_line_amount, line[side], join(path, side), side=side)
    rate = None
    if line.get("vat_rate") is not None:
        rate = found.check(_rate, line["vat_rate"], join(path, "vat_rate"), country=country, piece_date=piece_date)
    found.raise_if_any()
    return {
        "account": account,
        "account_label": account_label,
        "aux_account": aux_account,
        "aux_label": aux_label,
        "label": line_label,
        "debit": amount if side == "debit" else 0,
        "credit": amount if side == "credit" else 0,
        "vat_rate": rate,
    }


def _fail(detail: str, field: str) -> None:
    raise ValidationFailed(detail, field=field)


def _line_amount(value: object, field: str, *, side: str) -> int:
    amount = parse_amount(value, field)
    if amount == 0:
        raise ValidationFailed(
            f"A {side} must be greater than zero; a line without an amount is left out.", field=field
        )
    return amount


def _rate(value: object, field: str, *, country: str, piece_date: date | None) -> int:
    rate = parse_rate_percent(value, field)
    if piece_date is not None:  # else piece_date is invalid, and named already
        check_rate(country, piece_date, rate, field)
    return rate


def build_journal_batch(requests: object, *, country: str, today: date, recorded_by: Actor) -> list[dict[str, Any]]:
    """Validate 1 to ``MAX_BATCH`` entries in order and return their payloads (same order).

    An invalid entry stops the batch: nothing of it is recorded. Every entry is checked, so the
    error names the first field at fault (``entries.3.lines.1.debit``) and lists them all.
    """
    entries: Sequence[Any] = item_list(requests, "entries", what="Entries", min_items=1, max_items=MAX_BATCH)
    found = Findings()
    built = [
        found.check(
            build_journal_entry, entry, country=country, today=today, recorded_by=recorded_by,
            prefix=join("entries", index),
        )
        for index, entry in enumerate(entries)
    ]
    found.raise_if_any()
    payloads = [payload for payload in built if payload is not None]
    check_sealable(payloads, field="entries", item_field=lambda index: join(join("entries", index), "lines"))
    return payloads


def negate_journal(data: Mapping[str, Any]) -> dict[str, Any]:
    """A journal payload with debit and credit swapped on every line (what a reversal holds)."""
    negated = dict(data)
    negated["lines"] = [{**line, "debit": line["credit"], "credit": line["debit"]} for line in data["lines"]]
    negated["total_debit"] = data["total_credit"]
    negated["total_credit"] = data["total_debit"]
    return negated
