import copy
from datetime import date

import pytest

from chalicelib.domain.canonical import check
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.journal import (
    MAX_BATCH,
    MAX_LINES,
    build_journal_batch,
    build_journal_entry,
    negate_journal,
)

ACCOUNTANT = Actor("u-claire", "Claire Dubois")
CONTEXT = {"country": "FR", "today": date(2026, 11, 23), "recorded_by": ACCOUNTANT}


def entry(**changes):
    body = {
        "journal_code": "VT",
        "journal_label": "Ventes",
        "piece_ref": "FA-2026-0042",
        "piece_date": "2026-11-20",
        "label": "Facture Dupont SARL",
        "lines": [
            {"account": "411000", "aux_account": "DUPONT", "aux_label": "Dupont SARL", "debit": "120.00"},
            {
                "account": "706000",
                "account_label": "Prestations de services",
                "credit": "100.00",
                "vat_rate": "20",
            },
            {"account": "445710", "credit": "20.00"},
        ],
    }
    body.update(changes)
    return body


def two_lines(first=None, second=None):
    return [
        first or {"account": "512000", "debit": "10.00"},
        second or {"account": "580000", "credit": "10.00"},
    ]


def fails(body, *, field, fragment, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        build_journal_entry(body, **{**CONTEXT, **kwargs})
    assert caught.value.field == field, caught.value.detail
    assert fragment in caught.value.detail, caught.value.detail


def test_a_balanced_entry_becomes_a_payload_in_cents():
    payload = build_journal_entry(entry(), **CONTEXT)
    assert payload == {
        "schema_version": 1,
        "journal_code": "VT",
        "journal_label": "Ventes",
        "piece_ref": "FA-2026-0042",
        "piece_date": "2026-11-20",
        "label": "Facture Dupont SARL",
        "recorded_by": {"user_id": "u-claire", "name": "Claire Dubois"},
        "currency": "EUR",
        "lines": [
            {
                "account": "411000",
                "account_label": None,
                "aux_account": "DUPONT",
                "aux_label": "Dupont SARL",
                "label": None,
                "debit": 12000,
                "credit": 0,
                "vat_rate": None,
            },
            {
                "account": "706000",
                "account_label": "Prestations de services",
                "aux_account": None,
                "aux_label": None,
                "label": None,
                "debit": 0,
                "credit": 10000,
                "vat_rate": 2000,
            },
            {
                "account": "445710",
                "account_label": None,
                "aux_account": None,
                "aux_label": None,
                "label": None,
                "debit": 0,
                "credit": 2000,
                "vat_rate": None,
            },
        ],
        "total_debit": 12000,
        "total_credit": 12000,
    }
    check(payload)


def test_the_request_is_not_modified():
    body = entry()
    before = copy.deepcopy(body)
    build_journal_entry(body, **CONTEXT)
    assert body == before


def test_an_unbalanced_entry_is_refused_with_the_difference():
    body = entry(lines=two_lines(second={"account": "580000", "credit": "9.99"}))
    fails(body, field="lines", fragment="debit 10.00, credit 9.99, difference 0.01")


def test_an_entry_needs_at_least_two_lines():
    fails(entry(lines=[{"account": "512000", "debit": "10.00"}]), field="lines", fragment="at least 2 items")


def test_too_many_lines_are_refused():
    fails(entry(lines=two_lines() * (MAX_LINES // 2 + 1)), field="lines", fragment=f"at most {MAX_LINES}")


def test_a_line_with_both_debit_and_credit_is_refused():
    body = entry(lines=two_lines(first={"account": "512000", "debit": "10.00", "credit": "10.00"}))
    fails(body, field="lines.0", fragment="has both a debit and a credit")


def test_a_line_with_neither_debit_nor_credit_is_refused():
    fails(
        entry(lines=two_lines(second={"account": "580000"})),
        field="lines.1",
        fragment="neither a debit nor a credit",
    )


def test_a_zero_debit_is_refused():
    fails(
        entry(lines=two_lines(first={"account": "512000", "debit": "0.00"})),
        field="lines.0.debit",
        fragment="greater than zero",
    )


def test_a_negative_credit_is_refused():
    fails(
        entry(lines=two_lines(second={"account": "580000", "credit": "-10.00"})),
        field="lines.1.credit",
        fragment="must not be negative",
    )


def test_an_amount_with_three_decimals_is_refused():
    fails(
        entry(lines=two_lines(first={"account": "512000", "debit": "10.001"})),
        field="lines.0.debit",
        fragment="at most 2 decimals",
    )


@pytest.mark.parametrize("account", ["41", "4110000000000", "411A00", "411 000", "411.000", ""])
def test_an_account_number_must_be_3_to_12_digits(account):
    fails(
        entry(lines=two_lines(first={"account": account, "debit": "10.00"})),
        field="lines.0.account",
        fragment="3 to 12 digits",
    )


def test_an_account_number_given_as_a_number_is_refused():
    fails(
        entry(lines=two_lines(first={"account": 411000, "debit": "10.00"})),
        field="lines.0.account",
        fragment="must be a string",
    )


def test_belgian_pcmn_accounts_are_accepted():
    payload = build_journal_entry(
        entry(lines=two_lines({"account": "400000", "debit": "1.00"}, {"account": "700", "credit": "1.00"})),
        **{**CONTEXT, "country": "BE"},
    )
    assert [item["account"] for item in payload["lines"]] == ["400000", "700"]


def test_an_auxiliary_account_needs_its_label():
    body = entry(lines=two_lines(first={"account": "411000", "aux_account": "DUPONT", "debit": "10.00"}))
    fails(body, field="lines.0.aux_label", fragment="required with aux_account")


def test_an_auxiliary_label_without_an_auxiliary_account_is_refused():
    body = entry(lines=two_lines(first={"account": "411000", "aux_label": "Dupont", "debit": "10.00"}))
    fails(body, field="lines.0.aux_label", fragment="only allowed with aux_account")


def test_an_invalid_auxiliary_account_is_refused():
    body = entry(
        lines=two_lines(first={"account": "411000", "aux_account": "DU PONT", "aux_label": "x", "debit": "10.00"})
    )
    fails(body, field="lines.0.aux_account", fragment="is not valid")


@pytest.mark.parametrize("code", ["vt", "", "TOOLONGXX", "V-T", "VÉ"])
def test_a_journal_code_must_be_1_to_8_uppercase_letters_or_digits(code):
    fails(entry(journal_code=code), field="journal_code", fragment="1 to 8 upper-case letters or digits")


def test_a_piece_date_in_the_future_is_refused():
    fails(entry(piece_date="2026-11-24"), field="piece_date", fragment="is in the future")


def test_a_piece_date_before_2000_is_refused():
    fails(entry(piece_date="1999-12-31"), field="piece_date", fragment="check the year")


def test_a_malformed_piece_date_is_refused():
    fails(entry(piece_date="20/11/2026"), field="piece_date", fragment="YYYY-MM-DD")


def test_a_piece_date_may_be_a_date_object():
    assert build_journal_entry(entry(piece_date=date(2026, 11, 23)), **CONTEXT)["piece_date"] == "2026-11-23"


def test_a_missing_piece_reference_is_refused():
    body = entry()
    del body["piece_ref"]
    fails(body, field="piece_ref", fragment="piece_ref is required")


def test_a_piece_reference_longer_than_64_characters_is_refused():
    fails(entry(piece_ref="X" * 65), field="piece_ref", fragment="at most 64")


def test_a_blank_label_is_refused():
    fails(entry(label=" "), field="label", fragment="must not be empty")


def test_a_vat_rate_unknown_on_the_piece_date_is_refused():
    body = entry()
    body["lines"][1]["vat_rate"] = "19.6"
    fails(body, field="lines.1.vat_rate", fragment="19.6 % is not valid in FR on 2026-11-20")


def test_the_vat_rate_is_checked_on_the_piece_date():
    body = entry(piece_date="2013-06-30")
    body["lines"][1]["vat_rate"] = "19.6"
    assert build_journal_entry(body, **CONTEXT)["lines"][1]["vat_rate"] == 1960


def test_an_unknown_field_is_refused():
    fails(entry(lettering="AA"), field="lettering", fragment="Unknown field")
    body = entry(lines=two_lines(first={"account": "512000", "debit": "10.00", "side": "D"}))
    fails(body, field="lines.0.side", fragment="Unknown field")


# --- batches -------------------------------------------------------------------------------------


def test_a_batch_returns_the_payloads_in_order():
    payloads = build_journal_batch([entry(piece_ref="A"), entry(piece_ref="B")], **CONTEXT)
    assert [payload["piece_ref"] for payload in payloads] == ["A", "B"]


def test_an_error_in_a_batch_names_the_entry_and_the_line():
    entries = [entry() for _ in range(5)]
    entries[3]["lines"][1]["debit"] = "1.00"
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch(entries, **CONTEXT)
    assert caught.value.field == "entries.3.lines.1"
    assert "both a debit and a credit" in caught.value.detail
    entries[3]["lines"][1] = {"account": "706000", "debit": "1.234"}
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch(entries, **CONTEXT)
    assert caught.value.field == "entries.3.lines.1.debit"


def test_an_unbalanced_entry_in_a_batch_names_its_lines():
    entries = [entry(), entry(lines=two_lines(second={"account": "580000", "credit": "1.00"}))]
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch(entries, **CONTEXT)
    assert (caught.value.field, "difference 9.00" in caught.value.detail) == ("entries.1.lines", True)


def test_an_empty_batch_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch([], **CONTEXT)
    assert (caught.value.field, caught.value.detail) == ("entries", "Entries must not be empty.")


def test_a_batch_of_more_than_99_entries_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch([entry()] * (MAX_BATCH + 1), **CONTEXT)
    assert caught.value.field == "entries"
    assert "at most 99" in caught.value.detail


def test_a_batch_entry_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch([entry(), "oops"], **CONTEXT)
    assert caught.value.field == "entries.1"
    assert "must be an object" in caught.value.detail


def test_negating_an_entry_swaps_debit_and_credit():
    payload = build_journal_entry(entry(), **CONTEXT)
    negated = negate_journal(payload)
    assert [(item["debit"], item["credit"]) for item in negated["lines"]] == [
        (0, 12000),
        (10000, 0),
        (2000, 0),
    ]
    assert (negated["total_debit"], negated["total_credit"]) == (12000, 12000)
    assert payload["lines"][0]["debit"] == 12000  # the original is untouched


def test_an_account_label_longer_than_200_characters_is_refused():
    body = entry(lines=two_lines(first={"account": "512000", "account_label": "x" * 201, "debit": "10.00"}))
    fails(body, field="lines.0.account_label", fragment="at most 200")


def test_a_journal_label_with_control_characters_is_refused():
    fails(entry(journal_label="Ven\ttes"), field="journal_label", fragment="control characters")


def test_a_line_label_is_kept_without_surrounding_spaces():
    body = entry(lines=two_lines(first={"account": "512000", "label": " Chèque 1234 ", "debit": "10.00"}))
    assert build_journal_entry(body, **CONTEXT)["lines"][0]["label"] == "Chèque 1234"


# --- every problem at once -------------------------------------------------------------------------


def test_every_field_of_every_line_at_fault_is_listed():
    body = entry(
        journal_code="vt",
        piece_date="2026-13-01",
        lines=[
            {"account": "41A", "debit": "5,00"},
            {"account": "706000", "credit": "0", "vat_rate": "5,5"},
            {"account": "445710", "debit": "1.00", "credit": "1.00", "aux_label": "x"},
        ],
    )
    with pytest.raises(ValidationFailed) as caught:
        build_journal_entry(body, **CONTEXT)
    found = caught.value.problems()
    assert [item["field"] for item in found] == [
        "journal_code",
        "piece_date",
        "lines.0.account",
        "lines.0.debit",
        "lines.1.credit",
        "lines.1.vat_rate",
        "lines.2.aux_label",
        "lines.2",
    ]
    assert caught.value.field == "journal_code"
    assert found[3]["detail"] == "Amount '5,00' is written with a decimal comma; use a dot: 5.00."


def test_a_batch_lists_the_problems_of_every_entry():
    bad_first = entry(lines=two_lines(first={"account": "512000", "debit": "1,50"}))
    bad_third = entry(piece_ref=" ")
    with pytest.raises(ValidationFailed) as caught:
        build_journal_batch([bad_first, entry(), bad_third], **CONTEXT)
    assert [item["field"] for item in caught.value.problems()] == ["entries.0.lines.0.debit", "entries.2.piece_ref"]


def test_the_balance_is_checked_once_every_line_is_right():
    body = entry(lines=two_lines(first={"account": "512000", "debit": "10,00"}, second={"account": "580000",
                                                                                        "credit": "9.00"}))
    with pytest.raises(ValidationFailed) as caught:
        build_journal_entry(body, **CONTEXT)
    assert [item["field"] for item in caught.value.problems()] == ["lines.0.debit"]
