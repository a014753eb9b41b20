import copy
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.canonical import check
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import vat_breakdown
from chalicelib.domain.sales import MAX_LINES, build_sale, negate_sale

NOW = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
SELLER = Actor("u-alice", "Alice Martin")
FR = {"country": "FR", "time_zone": "Europe/Paris", "cutoff": time(4, 0), "seller": SELLER, "now": NOW}
BE = {**FR, "country": "BE", "time_zone": "Europe/Brussels"}


def request(**changes):
    body = {
        "client_receipt_id": "R1-20261123-0042",
        "register_id": "R1",
        "occurred_at": "2026-11-23T17:29:00Z",
        "lines": [
            {"description": "Baguette", "quantity": "2", "unit_price": "1.20", "vat_rate": "5.5"},
            {
                "description": "Vin rouge",
                "quantity": "1",
                "unit_price": "12.90",
                "vat_rate": "20",
                "discount": "0.90",
            },
        ],
        "payments": [{"method": "card", "amount": "14.40"}],
    }
    body.update(changes)
    return body


def line(description="Article", quantity="1", unit_price="1.00", vat_rate="20", **extra):
    return {
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "vat_rate": vat_rate,
        **extra,
    }


def fails(body, *, field, fragment, context=FR, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        build_sale(body, **{**context, **kwargs})
    assert caught.value.field == field, caught.value.detail
    assert fragment in caught.value.detail, caught.value.detail


# --- the payload -------------------------------------------------------------------------------


def test_a_receipt_becomes_a_payload_of_integer_cents_basis_points_and_thousandths():
    sale = build_sale(request(), **FR)
    assert sale["lines"] == [
        {
            "description": "Baguette",
            "quantity": 2000,
            "unit_price": 120,
            "discount": 0,
            "amount": 240,
            "vat_rate": 550,
        },
        {
            "description": "Vin rouge",
            "quantity": 1000,
            "unit_price": 1290,
            "discount": 90,
            "amount": 1200,
            "vat_rate": 2000,
        },
    ]
    assert sale["vat_totals"] == [
        {"rate": 2000, "excl": 1000, "vat": 200, "incl": 1200},
        {"rate": 550, "excl": 227, "vat": 13, "incl": 240},
    ]
    assert sale["totals"] == {"excl": 1227, "vat": 213, "incl": 1440}
    assert sale["payments"] == [{"method": "card", "amount": 1440, "reference": None}]
    assert sale["change"] == 0


def test_the_payload_records_who_where_when_and_how_it_was_computed():
    sale = build_sale(request(), **FR)
    assert sale["schema_version"] == 1
    assert sale["kind"] == "sale"
    assert sale["client_receipt_id"] == "R1-20261123-0042"
    assert sale["register_id"] == "R1"
    assert sale["seller"] == {"user_id": "u-alice", "name": "Alice Martin"}
    assert sale["occurred_at"] == "2026-11-23T17:29:00.000000Z"
    assert sale["business_date"] == "2026-11-23"
    assert sale["country"] == "FR"
    assert sale["currency"] == "EUR"
    assert sale["prices_include_vat"] is True
    assert sale["rounding_policy"] == "document"


def test_the_payload_is_canonical_json_without_floats():
    check(build_sale(request(), **FR))


def test_decimal_inputs_are_accepted_like_strings():
    body = request(
        lines=[line(quantity=Decimal("1.5"), unit_price=Decimal("3.33"), vat_rate=Decimal("20"))],
        payments=[{"method": "card", "amount": Decimal("5.00")}],
    )
    assert build_sale(body, **FR)["lines"][0]["amount"] == 500  # 1.5 x 3.33 = 4.995 -> 5.00


def test_prices_excluding_vat_get_the_vat_added_on_top():
    body = request(
        prices_include_vat=False,
        lines=[line(unit_price="100.00")],
        payments=[{"method": "transfer", "amount": "120.00"}],
    )
    sale = build_sale(body, **FR)
    assert sale["prices_include_vat"] is False
    assert sale["totals"] == {"excl": 10000, "vat": 2000, "incl": 12000}


def test_the_rounding_policy_is_recorded_and_changes_the_vat_by_a_cent():
    lines = [line(unit_price="0.10", vat_rate="21") for _ in range(3)]
    per_document = build_sale(request(lines=lines, payments=[{"method": "cash", "amount": "0.30"}]), **BE)
    per_line = build_sale(
        request(lines=lines, payments=[{"method": "cash", "amount": "0.30"}], rounding_policy="line"), **BE
    )
    assert per_document["rounding_policy"] == "document"
    assert per_document["vat_totals"] == [{"rate": 2100, "excl": 25, "vat": 5, "incl": 30}]
    assert per_line["rounding_policy"] == "line"
    assert per_line["vat_totals"] == [{"rate": 2100, "excl": 24, "vat": 6, "incl": 30}]


def test_an_unknown_rounding_policy_is_refused():
    fails(request(rounding_policy="banker"), field="rounding_policy", fragment="must be one of")


def test_prices_include_vat_must_be_a_boolean():
    fails(request(prices_include_vat="yes"), field="prices_include_vat", fragment="true or false")


def test_belgian_rates_apply_to_belgian_tenants():
    body = request(lines=[line(vat_rate="21"), line(vat_rate="6")], payments=[{"method": "card", "amount": "2.00"}])
    assert [part["rate"] for part in build_sale(body, **BE)["vat_totals"]] == [2100, 600]


# --- lines ---------------------------------------------------------------------------------------


def test_a_receipt_without_lines_is_refused():
    fails(request(lines=[]), field="lines", fragment="must not be empty")


def test_lines_must_be_a_list():
    fails(request(lines={"a": 1}), field="lines", fragment="must be a list")


def test_too_many_lines_are_refused():
    fails(request(lines=[line()] * (MAX_LINES + 1)), field="lines", fragment=f"at most {MAX_LINES}")


def test_a_zero_quantity_is_refused():
    fails(request(lines=[line(), line(quantity="0")]), field="lines.1.quantity", fragment="must not be zero")


def test_a_quantity_with_more_than_three_decimals_is_refused():
    fails(request(lines=[line(quantity="1.2345")]), field="lines.0.quantity", fragment="at most 3 decimals")


def test_a_unit_price_with_more_than_two_decimals_is_refused():
    fails(request(lines=[line(unit_price="1.999")]), field="lines.0.unit_price", fragment="at most 2 decimals")


def test_a_float_price_is_refused():
    fails(request(lines=[line(unit_price=1.2)]), field="lines.0.unit_price", fragment="floating-point")


def test_a_negative_unit_price_is_refused():
    fails(request(lines=[line(unit_price="-1.00")]), field="lines.0.unit_price", fragment="must not be negative")


def test_a_vat_rate_unknown_in_the_country_is_refused_with_the_valid_rates():
    body = request(lines=[line(), line(), line(vat_rate="21")])
    fails(body, field="lines.2.vat_rate", fragment="21 % is not valid in FR on 2026-11-23; valid rates: 20 %")


def test_the_vat_rate_is_checked_on_the_business_day_in_the_tenant_time_zone():
    # 01:30 in Paris on 1 January 2014 belongs to business day 31 December 2013 (cut-off 04:00),
    # when 19.6 % was still the standard rate.
    body = request(
        occurred_at="2014-01-01T00:30:00Z",
        lines=[line(vat_rate="19.6")],
        payments=[{"method": "cash", "amount": "1.00"}],
    )
    sale = build_sale(body, **{**FR, "now": datetime(2014, 1, 1, 1, tzinfo=UTC)})
    assert sale["business_date"] == "2013-12-31"
    fails(
        {**body, "lines": [line(vat_rate="20")]},
        field="lines.0.vat_rate",
        fragment="not valid in FR on 2013-12-31",
        now=datetime(2014, 1, 1, 1, tzinfo=UTC),
    )


def test_a_vat_rate_above_100_percent_is_refused():
    fails(request(lines=[line(vat_rate="120")]), field="lines.0.vat_rate", fragment="between 0 and 100")


def test_a_line_without_description_is_refused():
    body = request(lines=[{"quantity": "1", "unit_price": "1.00", "vat_rate": "20"}])
    fails(body, field="lines.0.description", fragment="description is required")


def test_a_blank_description_is_refused():
    fails(request(lines=[line(description="   ")]), field="lines.0.description", fragment="must not be empty")


def test_a_description_with_control_characters_is_refused():
    fails(
        request(lines=[line(description="a\x00b")]),
        field="lines.0.description",
        fragment="control characters",
    )


def test_descriptions_are_stored_without_surrounding_spaces():
    body = request(lines=[line(description="  Croissant ")], payments=[{"method": "cash", "amount": "1.00"}])
    assert build_sale(body, **FR)["lines"][0]["description"] == "Croissant"


def test_an_unknown_line_field_is_refused_rather_than_ignored():
    fails(request(lines=[line(discout="1.00")]), field="lines.0.discout", fragment="Unknown field")


def test_a_discount_reduces_the_line_amount():
    body = request(
        lines=[line(quantity="3", unit_price="2.00", discount="1.50")],
        payments=[{"method": "card", "amount": "4.50"}],
    )
    assert build_sale(body, **FR)["lines"][0]["amount"] == 450


def test_a_discount_larger_than_the_line_is_refused():
    fails(
        request(lines=[line(unit_price="1.00", discount="1.01")]),
        field="lines.0.discount",
        fragment="larger than the line amount 1.00",
    )


def test_a_negative_discount_is_refused():
    fails(request(lines=[line(discount="-0.10")]), field="lines.0.discount", fragment="must not be negative")


# --- returns -------------------------------------------------------------------------------------


def test_negative_quantities_outside_a_return_are_refused():
    fails(request(lines=[line(), line(quantity="-1")]), field="lines.1.quantity", fragment="only in a return")


def test_a_return_gives_negative_totals_and_is_refunded_with_negative_payments():
    body = request(
        kind="return",
        lines=[line(quantity="-1", unit_price="12.00")],
        payments=[{"method": "card", "amount": "-12.00"}],
    )
    sale = build_sale(body, **FR)
    assert sale["kind"] == "return"
    assert sale["lines"][0]["quantity"] == -1000
    assert sale["totals"] == {"excl": -1000, "vat": -200, "incl": -1200}
    assert sale["payments"][0]["amount"] == -1200
    assert sale["change"] == 0


def test_a_discounted_returned_line_gives_back_the_discounted_price():
    body = request(
        kind="return",
        lines=[line(quantity="-1", unit_price="12.00", discount="2.00")],
        payments=[{"method": "cash", "amount": "-10.00"}],
    )
    assert build_sale(body, **FR)["lines"][0]["amount"] == -1000


def test_a_return_can_be_an_exchange_that_the_customer_tops_up():
    body = request(
        kind="return",
        lines=[line(quantity="-1", unit_price="10.00"), line(unit_price="15.00")],
        payments=[{"method": "cash", "amount": "10.00"}],
    )
    sale = build_sale(body, **FR)
    assert sale["totals"]["incl"] == 500
    assert sale["change"] == 500


def test_a_return_without_a_negative_quantity_is_refused():
    fails(request(kind="return"), field="lines", fragment="at least one line with a negative quantity")


def test_an_unknown_kind_is_refused():
    fails(request(kind="refund"), field="kind", fragment="must be one of")


def test_a_refund_must_be_paid_back_exactly():
    body = request(
        kind="return",
        lines=[line(quantity="-1", unit_price="12.00")],
        payments=[{"method": "cash", "amount": "-13.00"}],
    )
    fails(body, field="payments", fragment="must equal the total incl VAT -12.00 exactly")


def test_a_refund_paid_with_a_positive_amount_is_refused():
    body = request(
        kind="return",
        lines=[line(quantity="-1", unit_price="12.00")],
        payments=[{"method": "cash", "amount": "12.00"}],
    )
    fails(body, field="payments.0.amount", fragment="refund (negative total) with negative amounts")


# --- payments ------------------------------------------------------------------------------------


def test_cash_tendered_above_the_total_records_the_change_given_back():
    sale = build_sale(
        request(payments=[{"method": "card", "amount": "10.00"}, {"method": "cash", "amount": "5.00"}]), **FR
    )
    assert sale["change"] == 60
    assert sum(payment["amount"] for payment in sale["payments"]) - sale["change"] == sale["totals"]["incl"]


def test_a_card_payment_above_the_total_is_refused():
    fails(
        request(payments=[{"method": "card", "amount": "15.00"}]),
        field="payments",
        fragment="only cash can be overpaid",
    )


def test_change_larger_than_the_cash_tendered_is_refused():
    body = request(
        payments=[
            {"method": "card", "amount": "14.00"},
            {"method": "cash", "amount": "1.00"},
            {"method": "voucher", "amount": "5.00"},
        ]
    )
    fails(body, field="payments", fragment="1.00 was tendered in cash")


def test_payments_below_the_total_are_refused_with_the_missing_amount():
    fails(request(payments=[{"method": "card", "amount": "14.00"}]), field="payments", fragment="missing 0.40")


def test_a_receipt_without_payments_is_refused_when_something_is_due():
    body = request()
    del body["payments"]
    fails(body, field="payments", fragment="less than the total incl VAT 14.40")


def test_a_free_receipt_needs_no_payment():
    body = request(lines=[line(unit_price="0.00")], payments=[])
    assert build_sale(body, **FR)["totals"] == {"excl": 0, "vat": 0, "incl": 0}


def test_a_payment_on_a_free_receipt_is_refused():
    body = request(lines=[line(unit_price="1.00", discount="1.00")], payments=[{"method": "cash", "amount": "1.00"}])
    fails(body, field="payments.0.amount", fragment="no payment is expected")


def test_a_zero_payment_is_refused():
    body = request(payments=[{"method": "card", "amount": "14.40"}, {"method": "cash", "amount": "0.00"}])
    fails(body, field="payments.1.amount", fragment="must not be zero")


def test_a_negative_payment_on_a_sale_is_refused():
    fails(
        request(payments=[{"method": "card", "amount": "-1.00"}]),
        field="payments.0.amount",
        fragment="positive amounts",
    )


def test_an_unknown_payment_method_is_refused():
    body = request(payments=[{"method": "card", "amount": "4.40"}, {"method": "bitcoin", "amount": "10.00"}])
    fails(body, field="payments.1.method", fragment="must be one of")


def test_a_payment_amount_with_three_decimals_is_refused():
    fails(
        request(payments=[{"method": "card", "amount": "14.400"}]),
        field="payments.0.amount",
        fragment="at most 2 decimals",
    )


def test_a_payment_reference_is_kept():
    sale = build_sale(request(payments=[{"method": "voucher", "amount": "14.40", "reference": "GIFT-77"}]), **FR)
    assert sale["payments"][0]["reference"] == "GIFT-77"


def test_a_payment_without_amount_is_refused():
    fails(request(payments=[{"method": "card"}]), field="payments.0.amount", fragment="amount is required")


# --- expected total ------------------------------------------------------------------------------


def test_an_expected_total_that_matches_is_accepted():
    assert build_sale(request(expected_total="14.40"), **FR)["totals"]["incl"] == 1440


def test_an_expected_total_that_does_not_add_up_is_refused_naming_the_field():
    fails(
        request(expected_total="14.41"),
        field="expected_total",
        fragment="does not match the total incl VAT computed from the lines, 14.40 (difference 0.01",
    )


# --- identity, register, time --------------------------------------------------------------------


def test_the_client_receipt_id_is_required_for_idempotency():
    body = request()
    del body["client_receipt_id"]
    fails(body, field="client_receipt_id", fragment="required")


def test_a_client_receipt_id_with_spaces_is_refused():
    fails(request(client_receipt_id="R1 42"), field="client_receipt_id", fragment="is not valid")


def test_a_register_id_that_cannot_be_part_of_a_chain_name_is_refused():
    fails(request(register_id="R.1"), field="register_id", fragment="letters, digits, '-' or '_'")
    fails(request(register_id="R#1"), field="register_id", fragment="is not valid")


def test_an_unknown_field_is_refused():
    fails(request(seller={"user_id": "someone-else"}), field="seller", fragment="Unknown field")


def test_a_sale_in_the_future_beyond_the_clock_skew_is_refused():
    fails(request(occurred_at="2026-11-23T17:35:01Z"), field="occurred_at", fragment="is in the future")


def test_a_sale_slightly_ahead_within_the_clock_skew_is_accepted():
    assert build_sale(request(occurred_at="2026-11-23T17:35:00Z"), **FR)["occurred_at"] == "2026-11-23T17:35:00.000000Z"


def test_the_clock_skew_is_a_parameter():
    fails(
        request(occurred_at="2026-11-23T17:30:01Z"),
        field="occurred_at",
        fragment="0 s of clock skew",
        skew=timedelta(0),
    )


def test_an_occurred_at_without_offset_is_refused():
    fails(request(occurred_at="2026-11-23T17:29:00"), field="occurred_at", fragment="time zone offset")


def test_an_occurred_at_that_is_not_a_date_is_refused():
    fails(request(occurred_at="yesterday"), field="occurred_at", fragment="ISO 8601")


def test_an_offline_receipt_keeps_its_own_time_and_business_day():
    sale = build_sale(request(occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC)), **FR)
    assert (sale["occurred_at"], sale["business_date"]) == ("2026-11-20T09:00:00.000000Z", "2026-11-20")


def test_a_sale_before_the_cutoff_belongs_to_the_previous_business_day():
    sale = build_sale(request(occurred_at="2026-11-24T02:30:00+01:00"), **{**FR, "now": NOW + timedelta(days=1)})
    assert sale["business_date"] == "2026-11-23"


def test_the_request_is_not_modified():
    body = request()
    before = copy.deepcopy(body)
    build_sale(body, **FR)
    assert body == before


# --- negation ------------------------------------------------------------------------------------


def test_negating_a_sale_negates_every_amount_and_keeps_the_rounding_exact():
    sale = build_sale(request(payments=[{"method": "cash", "amount": "20.00"}]), **FR)
    negated = negate_sale(sale)
    assert [item["quantity"] for item in negated["lines"]] == [-2000, -1000]
    assert [item["unit_price"] for item in negated["lines"]] == [120, 1290]
    assert negated["totals"] == {"excl": -1227, "vat": -213, "incl": -1440}
    assert negated["payments"][0]["amount"] == -2000
    assert negated["change"] == -560
    recomputed = vat_breakdown([(item["vat_rate"], item["amount"]) for item in negated["lines"]], True, "document")
    assert [list(part) for part in recomputed.values()] == [
        [part["excl"], part["vat"], part["incl"]] for part in negated["vat_totals"]
    ]


# --- shapes --------------------------------------------------------------------------------------


def test_a_line_that_is_not_an_object_is_refused():
    fails(request(lines=[line(), "Baguette"]), field="lines.1", fragment="must be an object")


def test_a_description_longer_than_200_characters_is_refused():
    fails(request(lines=[line(description="x" * 201)]), field="lines.0.description", fragment="at most 200")


def test_payments_must_be_a_list():
    fails(request(payments={"method": "card"}), field="payments", fragment="must be a list")


def test_more_than_20_payments_are_refused():
    fails(request(payments=[{"method": "cash", "amount": "1.00"}] * 21), field="payments", fragment="at most 20")


def test_a_payment_reference_longer_than_64_characters_is_refused():
    body = request(payments=[{"method": "voucher", "amount": "14.40", "reference": "V" * 65}])
    fails(body, field="payments.0.reference", fragment="at most 64")


def test_a_request_that_is_not_an_object_is_refused():
    fails(["not", "an", "object"], field=None, fragment="Sale must be an object")


# --- every problem at once -------------------------------------------------------------------------


def problems(body, context=FR):
    with pytest.raises(ValidationFailed) as caught:
        build_sale(body, **context)
    return caught.value, [(item["field"], item["detail"]) for item in caught.value.problems()]


def test_every_field_at_fault_is_listed_not_only_the_first():
    body = request(
        client_receipt_id="",
        register_id="R.1",
        lines=[
            line(quantity="1,5", unit_price="5,00", vat_rate="5,5"),
            line(),
            line(description=" ", quantity="0", unit_price="-1", vat_rate="7", discount="x"),
        ],
        payments=[{"method": "bitcoin", "amount": "0"}, {"method": "card", "amount": "5,00"}],
        expected_total="1,00",
    )
    error, found = problems(body)
    assert [field for field, _ in found] == [
        "client_receipt_id",
        "register_id",
        "lines.0.quantity",
        "lines.0.unit_price",
        "lines.0.vat_rate",
        "lines.2.description",
        "lines.2.quantity",
        "lines.2.unit_price",
        "lines.2.vat_rate",
        "lines.2.discount",
        "expected_total",
        "payments.0.method",
        "payments.0.amount",
        "payments.1.amount",
    ]
    # the error names the first and says there are more; each problem keeps its own message
    assert error.field == "client_receipt_id" and "(and 13 more problems: see errors)" in error.detail
    assert dict(found)["lines.0.unit_price"] == "Amount '5,00' is written with a decimal comma; use a dot: 5.00."
    assert "not valid in FR" in dict(found)["lines.2.vat_rate"]


def test_unknown_and_missing_keys_are_all_named():
    body = {k: v for k, v in request(colour="red", seller="me").items() if k != "register_id"}
    _, found = problems(body)
    assert [field for field, _ in found] == ["colour", "seller", "register_id"]


def test_a_line_rule_that_needs_another_field_waits_for_it():
    # occurred_at is wrong: the VAT rate can only be parsed, not checked against a date
    _, found = problems(request(occurred_at="yesterday", lines=[line(vat_rate="7")]))
    assert [field for field, _ in found] == ["occurred_at"]
    # an unknown kind: a negative quantity cannot be judged
    _, found = problems(request(kind="refund", lines=[line(quantity="-1")]))
    assert [field for field, _ in found] == ["kind"]


def test_rules_across_fields_come_once_every_field_is_right():
    # a payment sign and a missing amount: checked against the total only when the lines are valid
    _, found = problems(request(lines=[line(unit_price="x")], payments=[{"method": "card", "amount": "-1.00"}]))
    assert [field for field, _ in found] == ["lines.0.unit_price"]
    _, found = problems(request(payments=[{"method": "card", "amount": "-1.00"}]))
    assert [field for field, _ in found] == ["payments.0.amount"]


def test_a_single_problem_has_no_count_in_its_detail():
    error, found = problems(request(register_id="R.1"))
    assert len(found) == 1 and "more problem" not in error.detail
