from datetime import UTC, date, datetime, time, timedelta

import pytest

from chalicelib.domain.canonical import check
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.journal import build_journal_entry
from chalicelib.domain.money import vat_breakdown
from chalicelib.domain.records import GENESIS_PREV_HASH, seal
from chalicelib.domain.reversals import reversal_of
from chalicelib.domain.sales import build_sale

NOW = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
MANAGER = Actor("u-bob", "Bob Manager")
SALE_CONTEXT = {
    "country": "FR",
    "time_zone": "Europe/Paris",
    "cutoff": time(4),
    "seller": MANAGER,
    "now": NOW,
}


def sale_payload(**changes):
    body = {
        "client_receipt_id": "R1-0042",
        "register_id": "R1",
        "occurred_at": "2026-11-23T17:00:00Z",
        "lines": [
            {"description": "Baguette", "quantity": "3", "unit_price": "0.10", "vat_rate": "5.5"},
            {
                "description": "Vin",
                "quantity": "1.5",
                "unit_price": "3.33",
                "vat_rate": "20",
                "discount": "0.20",
            },
        ],
        "payments": [{"method": "cash", "amount": "10.00"}],
        "rounding_policy": "line",
    }
    body.update(changes)
    return build_sale(body, **SALE_CONTEXT)


def journal_payload():
    return build_journal_entry(
        {
            "journal_code": "OD",
            "piece_ref": "OD-7",
            "piece_date": "2026-11-23",
            "label": "Virement interne",
            "lines": [{"account": "512000", "debit": "50.00"}, {"account": "580000", "credit": "50.00"}],
        },
        country="FR",
        today=date(2026, 11, 23),
        recorded_by=MANAGER,
    )


def sealed(record_type, data, seq=1):
    prev = GENESIS_PREV_HASH if seq == 1 else "1" * 64
    return seal("t-1", "prod.sales.R1", seq, record_type, NOW - timedelta(minutes=5), False, data, prev)


def reverse(record, reason="Wrong price keyed in", reversed_seqs=()):
    return reversal_of(record, reason, MANAGER, NOW, reversed_seqs=reversed_seqs)


def test_a_reversal_references_the_original_by_chain_seq_hash_and_type():
    original = sealed("sale", sale_payload(), seq=7)
    reversal = reverse(original)
    assert reversal["original"] == {
        "chain": "prod.sales.R1",
        "seq": 7,
        "hash": original.hash,
        "type": "sale",
        "recorded_at": original.recorded_at,
    }
    assert reversal["reason"] == "Wrong price keyed in"
    assert reversal["recorded_by"] == {"user_id": "u-bob", "name": "Bob Manager"}
    assert reversal["schema_version"] == 1
    check(reversal)


def test_a_sale_reversal_negates_every_amount_so_that_both_add_up_to_zero():
    original = sale_payload()
    negated = reverse(sealed("sale", original))["negated"]
    assert negated["totals"] == {name: -value for name, value in original["totals"].items()}
    for want, got in zip(original["vat_totals"], negated["vat_totals"], strict=True):
        assert got == {
            "rate": want["rate"],
            "excl": -want["excl"],
            "vat": -want["vat"],
            "incl": -want["incl"],
        }
    assert [item["quantity"] for item in negated["lines"]] == [-3000, -1500]
    assert [item["amount"] for item in negated["lines"]] == [-item["amount"] for item in original["lines"]]
    assert [item["amount"] for item in negated["payments"]] == [-1000]
    assert negated["change"] == -original["change"]
    assert (negated["client_receipt_id"], negated["seller"]) == (
        original["client_receipt_id"],
        original["seller"],
    )


def test_recomputing_the_negated_lines_gives_exactly_the_negated_totals():
    negated = reverse(sealed("sale", sale_payload()))["negated"]
    recomputed = vat_breakdown([(item["vat_rate"], item["amount"]) for item in negated["lines"]], True, "line")
    assert [[rate, *parts] for rate, parts in recomputed.items()] == [
        [part["rate"], part["excl"], part["vat"], part["incl"]] for part in negated["vat_totals"]
    ]


def test_reversing_a_return_gives_positive_amounts():
    original = sale_payload(
        kind="return",
        lines=[{"description": "Vin", "quantity": "-1", "unit_price": "9.00", "vat_rate": "20"}],
        payments=[{"method": "card", "amount": "-9.00"}],
    )
    negated = reverse(sealed("sale", original))["negated"]
    assert (negated["kind"], negated["totals"]["incl"], negated["payments"][0]["amount"]) == (
        "return",
        900,
        900,
    )


def test_a_journal_reversal_swaps_debit_and_credit():
    reversal = reverse(sealed("journal", journal_payload()))
    lines = reversal["negated"]["lines"]
    assert [(item["account"], item["debit"], item["credit"]) for item in lines] == [
        ("512000", 0, 5000),
        ("580000", 5000, 0),
    ]
    assert reversal["original"]["type"] == "journal"


def test_the_original_may_be_given_as_a_dict():
    original = sealed("sale", sale_payload()).to_dict()
    assert reverse(original)["original"]["hash"] == original["hash"]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_mandatory(reason):
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("sale", sale_payload()), reason=reason)
    assert caught.value.field == "reason"
    assert "Reason must" in caught.value.detail


def test_a_reason_longer_than_500_characters_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("sale", sale_payload()), reason="x" * 501)
    assert (caught.value.field, "at most 500" in caught.value.detail) == ("reason", True)


def test_a_reason_may_span_lines_but_not_hold_other_control_characters():
    assert reverse(sealed("sale", sale_payload()), reason="Line one\nline two")["reason"] == "Line one\nline two"
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("sale", sale_payload()), reason="bell\x07")
    assert (caught.value.field, "control characters" in caught.value.detail) == ("reason", True)


def test_a_reversal_cannot_be_reversed():
    first = reverse(sealed("sale", sale_payload()))
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("reversal", first, seq=2))
    assert caught.value.field == "seq"
    assert "a reversal cannot be reversed" in caught.value.detail


def test_a_closure_cannot_be_reversed():
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("closure", {"kind": "day"}))
    assert (caught.value.field, "a closure cannot be reversed" in caught.value.detail) == ("seq", True)


def test_an_event_cannot_be_reversed():
    with pytest.raises(ValidationFailed) as caught:
        reverse(sealed("event", {"kind": "login"}))
    assert (caught.value.field, "cannot be reversed" in caught.value.detail) == ("seq", True)


def test_an_entry_already_reversed_cannot_be_reversed_twice():
    original = sealed("sale", sale_payload(), seq=4)
    with pytest.raises(Conflict) as caught:
        reverse(original, reversed_seqs={2, 4})
    assert caught.value.field == "seq"
    assert "already reversed" in caught.value.detail


def test_other_reversed_entries_do_not_block_a_reversal():
    assert reverse(sealed("sale", sale_payload(), seq=4), reversed_seqs={2, 3})["original"]["seq"] == 4


def test_an_original_recorded_after_now_is_a_programming_error():
    original = sealed("sale", sale_payload())
    with pytest.raises(ValueError, match="after 'now'"):
        reversal_of(original, "why", MANAGER, NOW - timedelta(hours=1), reversed_seqs=())


def test_the_original_payload_is_not_modified():
    original = sealed("sale", sale_payload())
    before = original.to_dict()
    reverse(original)
    assert original.to_dict() == before
    assert original.intact
