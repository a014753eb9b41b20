"""Bad input through the HTTP API is a 4xx RFC 9457 problem naming the field, never a 5xx, and it
writes nothing: deep or duplicated JSON, bodies that are not UTF-8, unknown fields, dates and
timestamps outside the supported range (years 2000 to 2099), and decimal commas; a 422 lists every
problem of the request under ``errors``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.support.bodies import sale_body
from tests.support.operators import operator_account
from tests.support.users import count_all, signed_up_account

pytestmark = pytest.mark.functional

PROBLEM = "application/problem+json"


@pytest.fixture
def admin(api, stack):
    account = signed_up_account(api, stack)
    return account, api.with_token(account.token)


@pytest.fixture
def with_a_sale(admin):
    """A tenant whose register chain test.sales.R1 holds one sale."""
    account, client = admin
    first = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    assert first.status == 201, first
    return account, client


def _head(container, tenant_id, chain):
    return container.journal_store.head(f"TENANT#{tenant_id}#CHAIN#{chain}")


def _problem(reply, status, field):
    assert reply.status == status, reply
    assert reply.headers["content-type"] == PROBLEM
    assert reply.json["status"] == status and reply.json["field"] == field, reply.json
    return reply.json


# ---- the body as bytes: depth, duplicate keys, encoding -----------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED_SALES = [
    ("nested 1,000 deep", lambda: json.dumps(sale_body())[:-1] + ', "lines": ' + _nested(1000) + "}", "body"),
    ("nested 100,000 deep", lambda: '{"lines": ' + _nested(100_000) + "}", "body"),
    ("a duplicated key", lambda: json.dumps(sale_body())[:-1] + ', "register_id": "R2"}', "register_id"),
    ("a key duplicated in a line",
     lambda: json.dumps(sale_body()).replace('"vat_rate": "21"', '"vat_rate": "21", "vat_rate": "6"'),
     "lines.0.vat_rate"),
    ("a lone surrogate escape",
     lambda: json.dumps(sale_body()).replace("Espresso", "Espresso \\ud800"), "lines.0.description"),
]


@pytest.mark.parametrize("why, raw, field", MALFORMED_SALES, ids=[c[0] for c in MALFORMED_SALES])
def test_a_malformed_json_body_is_a_400_problem_and_writes_nothing(with_a_sale, container, stack, why, raw, field):
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", raw=raw().encode())
    problem = _problem(reply, 400, field)
    assert problem["type"].endswith("/bad-request")
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1
    assert count_all(stack) == before


NOT_UTF8 = [
    ("UTF-16 with a byte order mark", lambda text: text.encode("utf-16")),
    ("UTF-16 without a byte order mark", lambda text: text.encode("utf-16-le")),
    ("Latin-1", lambda text: text.encode("latin-1")),
    ("a UTF-8 byte order mark", lambda text: b"\xef\xbb\xbf" + text.encode()),
    ("an encoded surrogate (CESU-8)", lambda text: text.replace("Caf\u00e9", "Caf\\ud800").encode()
     .replace(b"\\ud800", b"\xed\xa0\x80")),
]


@pytest.mark.parametrize("why, encode", NOT_UTF8, ids=[c[0] for c in NOT_UTF8])
def test_a_body_that_is_not_utf8_is_a_400_problem_and_writes_nothing(admin, container, stack, why, encode):
    account, client = admin
    text = json.dumps(sale_body(lines=[{"description": "Caf\u00e9", "quantity": "1", "unit_price": "5.00",
                                        "vat_rate": "21"}]), ensure_ascii=False)
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", raw=encode(text))
    problem = _problem(reply, 400, "body")
    assert problem["type"].endswith("/bad-request")
    assert _head(container, account.tenant_id, "test.sales.R1") is None
    assert count_all(stack) == before


def test_the_same_sale_in_utf8_is_accepted(admin):
    """The control for the test above: only the encoding made it fail."""
    account, client = admin
    text = json.dumps(sale_body(lines=[{"description": "Caf\u00e9", "quantity": "1", "unit_price": "5.00",
                                        "vat_rate": "21"}]), ensure_ascii=False)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", raw=text.encode())
    assert reply.status == 201, reply
    assert reply.json["data"]["lines"][0]["description"] == "Caf\u00e9"


# ---- values of another JSON type: never converted ---------------------------------------------------
@pytest.mark.parametrize("value", ["false", "true", 0, 1, "no", "off", None])
def test_prices_include_vat_that_is_not_a_json_boolean_is_a_422_and_writes_nothing(admin, stack, value):
    """pydantic's lax booleans read "false" as false (and 0, "no", "off"): a till sending a string
    had its sale sealed with what the string happened to mean."""
    account, client = admin
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(prices_include_vat=value))
    _problem(reply, 422, "prices_include_vat")
    assert count_all(stack) == before


@pytest.mark.parametrize(("change", "field"), [({"first_seq": "1"}, "first_seq"), ({"first_seq": 1.5}, "first_seq"),
                                               ({"last_seq": "1"}, "last_seq"), ({"first_seq": True}, "first_seq")])
def test_a_verification_range_that_is_not_json_integers_is_a_422(with_a_sale, stack, change, field):
    """Text and booleans were read as numbers ("1", true); 1.0 is an integer, as JSON Schema says."""
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/verifications", {"chain": "test.sales.R1", **change})
    _problem(reply, 422, field)
    assert count_all(stack) == before
    whole = client.post(f"/v1/tenants/{account.tenant_id}/verifications", {"chain": "test.sales.R1", "first_seq": 1.0})
    assert whole.status == 200 and whole.json["ok"] is True, whole


@pytest.mark.parametrize("seq", ["1.0", "+1", "01", "%201", "1e0", "1_0", "-1", "0", str(2**63)])
def test_an_entry_number_in_a_path_is_digits_from_1_else_a_422_naming_seq(with_a_sale, stack, seq):
    """"1.0" and "+2" were read as entries 1 and 2 (pydantic's lax int), and a reversal was sealed
    from such a path."""
    account, client = with_a_sale
    base = f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1"
    assert client.get(f"{base}/1").status == 200
    problem = _problem(client.get(f"{base}/{seq}"), 422, "seq")
    _no_pydantic_noise(problem)
    before = count_all(stack)
    _problem(client.post(f"{base}/{seq}/reversal", {"reason": "wrong price"}), 422, "seq")
    assert count_all(stack) == before


# ---- unknown fields -------------------------------------------------------------------------------
def test_unknown_fields_in_a_verification_request_are_refused(with_a_sale, stack):
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/verifications",
                        {"chain": "test.sales.R1", "from_seq": 1})
    _problem(reply, 422, "from_seq")
    assert count_all(stack) == before


def test_unknown_fields_in_a_checkpoint_request_are_refused_and_nothing_is_signed(with_a_sale, stack):
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "test.sales.R1", "size": 1})
    _problem(reply, 422, "size")
    assert count_all(stack) == before
    listed = client.get(f"/v1/tenants/{account.tenant_id}/checkpoints?chain=test.sales.R1")
    assert listed.status == 200 and listed.json["checkpoints"] == []


@pytest.mark.parametrize("path", ["checkpoints?chain=test.sales.R1&sise=1", "anomalies?limit=5&limt=5"])
def test_unknown_query_parameters_are_refused(with_a_sale, path):
    account, client = with_a_sale
    reply = client.get(f"/v1/tenants/{account.tenant_id}/{path}")
    _problem(reply, 422, path.rsplit("&", 1)[1].split("=")[0])


def test_a_repeated_query_parameter_is_refused_naming_it(with_a_sale):
    account, client = with_a_sale
    reply = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&limit=1&limit=100")
    _problem(reply, 400, "limit")


# ---- dates and timestamps outside the supported range ---------------------------------------------
OUT_OF_RANGE_INSTANTS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:30:00+01:00",  # 1999-12-31T23:30Z
]


@pytest.mark.parametrize("occurred_at", OUT_OF_RANGE_INSTANTS)
def test_a_sale_at_an_unsupported_time_is_a_422_naming_occurred_at(with_a_sale, container, stack, occurred_at):
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(occurred_at=occurred_at))
    problem = _problem(reply, 422, "occurred_at")
    assert "2000" in problem["detail"] and "2099" in problem["detail"]
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1
    assert count_all(stack) == before


@pytest.mark.parametrize("piece_date", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_a_journal_entry_dated_outside_the_range_is_a_422_naming_its_date(admin, container, stack, piece_date):
    account, client = admin
    entry = {"journal_code": "OD", "piece_ref": "P-1", "piece_date": piece_date, "label": "Loyer",
             "lines": [{"account": "613000", "debit": "10.00"}, {"account": "440000", "credit": "10.00"}]}
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries", {"entries": [entry]})
    _problem(reply, 422, "entries.0.piece_date")
    assert _head(container, account.tenant_id, "test.journal") is None
    assert count_all(stack) == before


@pytest.mark.parametrize(("kind", "period"), [
    ("day", "9999-12-31"), ("day", "0001-01-01"), ("month", "2100-01"), ("year", "1999"), ("year", "9999"),
])
def test_a_closure_of_an_unsupported_period_is_a_422_naming_period(with_a_sale, container, stack, kind, period):
    account, client = with_a_sale
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/closures",
                        {"chain": "test.sales.R1", "kind": kind, "period": period})
    _problem(reply, 422, "period")
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1
    assert count_all(stack) == before


@pytest.mark.parametrize(("query", "field"), [
    ("from=0001-01-01T00:00:00Z", "from"),
    ("to=9999-12-31", "to"),
    ("from=1999-12-31", "from"),
    ("from=yesterday", "from"),
    ("from=2026-11-23T10:00:00", "from"),  # no offset: ambiguous
    ("from=2026-02-30", "from"),
])
def test_an_entries_query_with_a_bad_or_unsupported_bound_is_a_422_naming_it(with_a_sale, query, field):
    account, client = with_a_sale
    reply = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&{query}")
    _problem(reply, 422, field)


def test_entries_query_bounds_with_an_offset_are_compared_as_instants(with_a_sale):
    """``from`` an hour ago written at +05:00 reads later, as text, than the sale's UTC time; it is
    an instant all the same, and the sale is after it."""
    account, client = with_a_sale
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5)))
    query = {"chain": "test.sales.R1", "from": an_hour_ago.isoformat(), "to": in_an_hour.isoformat()}
    from urllib.parse import urlencode

    reply = client.get(f"/v1/tenants/{account.tenant_id}/entries?{urlencode(query)}")
    assert reply.status == 200, reply
    assert [e["seq"] for e in reply.json["entries"]] == [1]
    today = datetime.now(UTC).date()
    by_day = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&from={today.isoformat()}"
                        f"&to={(today + timedelta(days=1)).isoformat()}")
    assert [e["seq"] for e in by_day.json["entries"]] == [1]


@pytest.mark.parametrize(("query", "field"), [
    ("end=0001-01-01T00:00:00Z", "end"),
    ("start=0001-01-01T00:00:00Z", "start"),
    ("start=2026-01-01T00:00:00Z&end=9999-12-31T23:59:59Z", "end"),
    ("end=99999999999", "end"),
])
def test_an_events_query_outside_the_range_is_a_422_naming_the_bound(admin, query, field):
    account, client = admin
    reply = client.get(f"/v1/tenants/{account.tenant_id}/events?{query}")
    _problem(reply, 422, field)


@pytest.mark.parametrize(("bounds", "field"), [
    ({"from": "0001-01-01", "to": "2026-01-31"}, "from"),
    ({"from": "2026-01-01", "to": "9999-12-31"}, "to"),
    ({"from": "1999-01-01", "to": "1999-12-31"}, "from"),
])
def test_an_export_of_an_unsupported_range_is_a_422_and_no_job(admin, stack, bounds, field):
    account, client = admin
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/exports", {"format": "fiscal", **bounds})
    _problem(reply, 422, field)
    assert count_all(stack) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"visible_from": "0001-01-01T00:00:00Z"}, "visible_from"),
    ({"visible_until": "9999-12-31T23:59:59Z"}, "visible_until"),
])
def test_news_visible_outside_the_range_is_a_422_naming_the_field(api, stack, fields, field):
    operator = api.with_token(operator_account(api).token)
    before = count_all(stack)
    reply = operator.post("/v1/operator/news", {"title": "T", "body": "B", **fields})
    _problem(reply, 422, field)
    assert count_all(stack) == before


# ---- what could never be stored --------------------------------------------------------------------
def test_a_sale_too_large_to_be_one_item_is_a_422_naming_lines_and_writes_nothing(admin, stack):
    """Under the body limit (sent as UTF-8: ~440 KB), over DynamoDB's 400 KB item once sealed (500
    lines of 200 four-byte characters): it was a 503 for ever, the write refused at each retry."""
    account, client = admin
    lines = [{"description": "😀" * 200, "quantity": "1", "unit_price": "1.00", "vat_rate": "21"}
             for _ in range(500)]
    text = json.dumps(sale_body(lines=lines, payments=[{"method": "card", "amount": "500.00"}]), ensure_ascii=False)
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", raw=text.encode())
    assert "at most 350,000 bytes" in _problem(reply, 422, "lines")["detail"]
    assert count_all(stack) == before


# ---- errors that help: the value as sent, the field it was sent in, every problem at once ---------
def _no_pydantic_noise(problem):
    assert "Value error" not in json.dumps(problem) and "Assertion failed" not in json.dumps(problem)


DECIMAL_COMMAS = [
    ({"unit_price": "5,00"}, "lines.0.unit_price", "use a dot: 5.00"),
    ({"quantity": "1,5"}, "lines.0.quantity", "use a dot: 1.5"),
    ({"vat_rate": "5,5"}, "lines.0.vat_rate", "use a dot: 5.5"),
    ({"discount": "0,50"}, "lines.0.discount", "use a dot: 0.50"),
    ({"unit_price": "1.234,50"}, "lines.0.unit_price", "use a dot: 1234.50"),
]


@pytest.mark.parametrize(("change", "field", "hint"), DECIMAL_COMMAS, ids=[c[1] for c in DECIMAL_COMMAS])
def test_a_decimal_comma_in_a_sale_line_is_a_422_naming_the_field_with_a_hint(admin, stack, change, field, hint):
    account, client = admin
    line = {"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21", **change}
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(lines=[line]))
    problem = _problem(reply, 422, field)
    [only] = problem["errors"]
    assert only["field"] == field and hint in only["detail"] and hint in problem["detail"]
    assert repr(next(iter(change.values()))) in only["detail"]  # the value as sent
    _no_pydantic_noise(problem)
    assert count_all(stack) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"payments": [{"method": "cash", "amount": "5,00"}]}, "payments.0.amount"),
    ({"expected_total": "5,00"}, "expected_total"),
])
def test_a_decimal_comma_in_a_payment_or_total_is_a_422_naming_it(admin, stack, change, field):
    account, client = admin
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(**change))
    assert "use a dot: 5.00" in _problem(reply, 422, field)["detail"]
    assert count_all(stack) == before


@pytest.mark.parametrize(("line", "field", "hint"), [
    ({"account": "613000", "debit": "10,00"}, "entries.0.lines.0.debit", "use a dot: 10.00"),
    ({"account": "613000", "debit": "10.00", "vat_rate": "20,0"}, "entries.0.lines.0.vat_rate", "use a dot: 20.0"),
])
def test_a_decimal_comma_in_a_journal_line_is_a_422_naming_it(admin, container, stack, line, field, hint):
    account, client = admin
    entry = {"journal_code": "OD", "piece_ref": "P-1", "piece_date": "2026-01-05", "label": "Loyer",
             "lines": [line, {"account": "440000", "credit": "10.00"}]}
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries", {"entries": [entry]})
    assert hint in _problem(reply, 422, field)["detail"]
    assert _head(container, account.tenant_id, "test.journal") is None
    assert count_all(stack) == before


def test_every_problem_of_a_sale_is_listed_at_once(admin, container, stack):
    account, client = admin
    body = sale_body(
        client_receipt_id="",
        register_id="R.1",
        lines=[{"description": "Espresso", "quantity": "1,5", "unit_price": "5,00", "vat_rate": "21"},
               {"description": " ", "quantity": "0", "unit_price": "1.00", "vat_rate": "5,5"}],
        payments=[{"method": "card", "amount": "5,00"}],
    )
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", body)
    problem = _problem(reply, 422, "client_receipt_id")
    assert [item["field"] for item in problem["errors"]] == [
        "client_receipt_id", "register_id", "lines.0.quantity", "lines.0.unit_price",
        "lines.1.description", "lines.1.quantity", "lines.1.vat_rate", "payments.0.amount",
    ]
    assert "(and 7 more problems: see errors)" in problem["detail"]
    _no_pydantic_noise(problem)
    assert count_all(stack) == before


def test_every_business_rule_broken_by_the_lines_is_listed(admin, stack):
    """The fields are well formed; the rules about them (a rate legal in BE on that day, a negative
    quantity only in a return) are checked on every line, not up to the first failure."""
    account, client = admin
    lines = [{"description": "A", "quantity": "1", "unit_price": "1.00", "vat_rate": "20"},
             {"description": "B", "quantity": "-1", "unit_price": "1.00", "vat_rate": "21"},
             {"description": "C", "quantity": "1", "unit_price": "1.00", "vat_rate": "5.5"}]
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(lines=lines))
    problem = _problem(reply, 422, "lines.0.vat_rate")
    assert [item["field"] for item in problem["errors"]] == ["lines.0.vat_rate", "lines.1.quantity",
                                                             "lines.2.vat_rate"]
    assert count_all(stack) == before


def test_every_problem_of_a_journal_batch_is_listed(admin, stack):
    account, client = admin
    good = {"journal_code": "OD", "piece_ref": "P-1", "piece_date": "2026-01-05", "label": "Loyer",
            "lines": [{"account": "613000", "debit": "10.00"}, {"account": "440000", "credit": "10.00"}]}
    bad = {**good, "journal_code": "od", "lines": [{"account": "61A", "debit": "10,00"},
                                                   {"account": "440000", "credit": "10.00"}]}
    before = count_all(stack)
    entries = [bad, good, {**good, "label": " "}]
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries", {"entries": entries})
    problem = _problem(reply, 422, "entries.0.journal_code")
    assert [item["field"] for item in problem["errors"]] == [
        "entries.0.journal_code", "entries.0.lines.0.account", "entries.0.lines.0.debit", "entries.2.label"]
    _no_pydantic_noise(problem)
    assert count_all(stack) == before


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": ""}], ids=["no key", "an empty key"])
def test_an_empty_client_receipt_id_is_reported_on_client_receipt_id(admin, stack, headers):
    account, client = admin
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(client_receipt_id=""), headers=headers)
    problem = _problem(reply, 422, "client_receipt_id")
    assert "must not be empty" in problem["detail"]
    assert "Idempotency-Key" not in problem["detail"]
    assert count_all(stack) == before


def test_an_empty_idempotency_key_on_a_good_sale_is_named_and_says_it_is_empty(admin, stack):
    account, client = admin
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(), headers={"Idempotency-Key": ""})
    assert "header is empty" in _problem(reply, 422, "Idempotency-Key")["detail"]
    assert count_all(stack) == before


def test_a_bad_body_rule_and_a_bad_idempotency_key_are_both_listed_body_first(admin, stack):
    account, client = admin
    lines = [{"description": "A", "quantity": "1", "unit_price": "1.00", "vat_rate": "20"}]
    before = count_all(stack)
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(lines=lines),
                        headers={"Idempotency-Key": "has spaces in it"})
    problem = _problem(reply, 422, "lines.0.vat_rate")
    assert [item["field"] for item in problem["errors"]] == ["lines.0.vat_rate", "Idempotency-Key"]
    assert count_all(stack) == before
