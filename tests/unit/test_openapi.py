"""The OpenAPI document states the rules the server enforces, from the same declarations: the
models that validate (bodies, queries, path parameters), the statuses each route can answer, and
the rules no JSON schema can state (``x-rules``). tests/functional/test_openapi_fuzz.py checks the
document against the running server; these check its shape, and that the stated patterns agree
with the domain's own checks."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from chalicelib.api import schemas
from chalicelib.domain.errors import ValidationFailed


@pytest.fixture(scope="module")
def doc():
    from app import app
    from chalicelib.api.openapi import build_openapi

    return build_openapi(app.routes)


def _operations(doc):
    return [(f"{method.upper()} {path}", op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _param(op, name):
    return next(p for p in op["parameters"] if p["name"] == name)


def test_every_error_status_is_a_problem_with_its_schema(doc):
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for label, op in _operations(doc):
        errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
        assert errors, label
        for code, response in errors.items():
            assert response["content"] == problem, (label, code)
            assert response["description"], (label, code)
    assert set(doc["components"]["schemas"]["Problem"]["properties"]) == {
        "type", "title", "status", "detail", "field", "errors"}


def test_statuses_follow_from_what_a_route_takes_and_how_it_is_guarded(doc):
    ops = dict(_operations(doc))
    sale = set(ops["POST /v1/tenants/{tenant_id}/sales"]["responses"])
    assert {"201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"} <= sale
    assert set(ops["GET /v1/tenants/{tenant_id}/events"]["responses"]) >= {"400", "401", "403", "404", "422"}
    assert "413" not in ops["GET /v1/tenants/{tenant_id}/events"]["responses"]  # no body
    assert set(ops["POST /v1/signup"]["responses"]) >= {"400", "409", "413", "415", "422"}
    assert "401" not in ops["POST /v1/signup"]["responses"]  # public
    assert "401" in ops["POST /v1/auth/refresh"]["responses"]  # declared: a refused refresh token
    for label in ("POST /v1/tenants/{tenant_id}/go-live", "POST /v1/tenants/{tenant_id}/invitations",
                  "POST /v1/tenants/{tenant_id}/auditor-grants"):
        assert "409" in ops[label]["responses"], label
    assert "404" in ops["GET /v1/operator/mailings/{mailing_id}"]["responses"]
    assert "503" not in ops["GET /openapi.json"]["responses"]  # answered from code alone


def test_path_parameters_carry_their_patterns_and_minimums(doc):
    ops = dict(_operations(doc))
    op = ops["GET /v1/tenants/{tenant_id}/entries/{chain}/{seq}"]
    assert _param(op, "tenant_id")["schema"]["pattern"] == schemas.TENANT_ID
    assert _param(op, "chain")["schema"]["pattern"] == schemas.CHAIN_NAME
    assert _param(op, "seq")["schema"] == {"type": "integer", "minimum": 1, "maximum": schemas.MAX_SEQ}
    for label, op in _operations(doc):
        path = label.split(" ", 1)[1]
        assert sorted(p["name"] for p in op["parameters"] if p["in"] == "path") == sorted(
            re.findall(r"{(\w+)}", path)), label


def test_query_parameters_carry_the_constraints_of_their_model(doc):
    ops = dict(_operations(doc))
    limit = _param(ops["GET /v1/tenants/{tenant_id}/anomalies"], "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    expires = _param(ops["GET /v1/tenants/{tenant_id}/exports/{job_id}"], "expires_in")["schema"]
    assert (expires["minimum"], expires["maximum"]) == (1, 3600)
    start = _param(ops["GET /v1/tenants/{tenant_id}/events"], "start")["schema"]
    assert start["format"] == "date-time" and start["pattern"] == schemas.INSTANT_PATTERN
    chain = _param(ops["GET /v1/tenants/{tenant_id}/entries"], "chain")
    assert chain["required"] and chain["schema"]["pattern"] == schemas.CHAIN_NAME


def test_the_export_list_and_the_newest_first_entries_are_described(doc):
    ops = dict(_operations(doc))
    listing = ops["GET /v1/tenants/{tenant_id}/exports"]
    assert listing["x-permission"] == "export.create"
    assert _param(listing, "limit")["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert _param(listing, "cursor")["schema"]["maxLength"] == 512
    assert {r["field"] for r in listing["x-rules"]} == {"cursor"}
    assert {"200", "401", "403", "404", "422"} <= set(listing["responses"])
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    jobs = doc["components"]["schemas"][page]["properties"]
    assert set(jobs) == {"jobs", "next_cursor"} and jobs["jobs"]["items"]["$ref"].endswith("/ExportJob")
    order = _param(ops["GET /v1/tenants/{tenant_id}/entries"], "order")["schema"]
    assert order["enum"] == ["asc", "desc"] and order["default"] == "asc"


def test_every_request_body_refuses_unknown_fields(doc):
    components = doc["components"]["schemas"]
    for label, op in _operations(doc):
        body = op.get("requestBody")
        if body:
            name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert components[name]["additionalProperties"] is False, label


def test_rules_no_schema_can_state_are_listed_and_described(doc):
    ops = dict(_operations(doc))
    sale = ops["POST /v1/tenants/{tenant_id}/sales"]
    assert {r["field"] for r in sale["x-rules"]} >= {"lines", "payments", "expected_total"}
    assert "payments" in sale["description"]
    assert {r["field"] for r in ops["POST /v1/signup"]["x-rules"]} >= {"company_number", "vat_number", "password"}


def test_an_error_status_without_a_text_is_refused_at_declaration():
    from chalice import Blueprint

    from chalicelib.api.routing import endpoint

    with pytest.raises(ValueError, match="418"):
        endpoint(Blueprint(__name__), "GET", "/x", summary="x", public=True, errors=(418,))


# ---- a time bound is a timestamp: start=0.5 (read as a Unix time before) is refused ---------------
@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-11-23", "2026-11-23T17:30Z", "2026-11-23 17:30:00Z",
                                   "2026-11-23T17:30:00", "1999-12-31T12:00:00Z", "2026-02-30T10:00:00Z",
                                   "\uff12\uff10\uff12\uff16-11-23T17:30:00Z", "2026-11-23T17:30:00Z\n"])
def test_events_bounds_are_rfc3339_times_in_range(value):
    from chalicelib.api.members import EventsQuery

    with pytest.raises(ValidationError) as caught:
        EventsQuery.model_validate({"start": value})
    assert caught.value.errors()[0]["loc"] == ("start",)


@pytest.mark.parametrize("value", ["2026-11-23T17:30:00Z", "2026-11-23T17:30:00.123456+01:00"])
def test_events_bounds_accept_rfc3339_times(value):
    from chalicelib.api.members import EventsQuery

    assert EventsQuery.model_validate({"start": value}).start is not None


def test_entries_bounds_are_a_date_or_an_rfc3339_time():
    from chalicelib.api.ledger import EntriesQuery

    ok = EntriesQuery.model_validate({"chain": "test.sales", "from": "2026-11-23", "to": "2026-11-23T18:00:00+01:00"})
    assert (ok.from_, ok.to) == ("2026-11-23T00:00:00.000000Z", "2026-11-23T17:00:00.000000Z")
    for bad in ("0.5", "20261123", "2026-W47-1"):
        with pytest.raises(ValidationError):
            EntriesQuery.model_validate({"chain": "test.sales", "from": bad})


# ---- the stated patterns agree with the domain's checks ---------------------------------------------
def _domain_accepts(check, value) -> bool:
    try:
        check(value)
    except (ValidationFailed, ValueError):
        return False
    return True


TEXTS = ["a", " a ", "a b", "a\tb", "a\nb", "\ta\n", "", "   ", "a\x00b", "a\x7fb", "a\x85b", "\x85a\x85", "a\x9fb",
         "\u00a0a", "é", "a\u200bb", "x" * 200, " " + "x" * 199 + " "]


@pytest.mark.parametrize("text", TEXTS)
def test_ledger_text_pattern_is_the_domain_rule(text):
    from chalicelib.domain.entries import text as ledger_text

    pattern = schemas.ledger_text(200).json_schema["pattern"]
    stated = re.search(pattern, text) is not None and len(text) <= 200
    # the server: the model's raw max_length, then the domain's rule
    server = len(text) <= 200 and _domain_accepts(lambda v: ledger_text(v, "f", what="Text", max_length=200), text)
    assert stated == server, repr(text)


@pytest.mark.parametrize("text", TEXTS)
def test_support_text_pattern_is_the_domain_rule(text):
    from chalicelib.domain.support import clean_text

    pattern = schemas.support_text(200).json_schema["pattern"]
    stated = re.search(pattern, text) is not None and len(text) <= 200
    server = len(text) <= 200 and _domain_accepts(lambda v: clean_text(v, "f", 200), text)
    assert stated == server, repr(text)


@pytest.mark.parametrize("email", ["ana@example.com", "a.b+c@sub.example.be", "ana@example", "ana@@example.com",
                                   "ana example@x.com", "é@example.com", "a@b.c", "ana@example.com\n"])
def test_email_pattern_is_the_domain_rule(email):
    from chalicelib.domain.accounts import normalise_email

    assert (re.search(schemas.EMAIL_PATTERN, email) is not None) == _domain_accepts(normalise_email, email.strip())


@pytest.mark.parametrize("amount", ["12.50", "-3", "0.1", "1.234", "1,50", "1e3", "+1", " 1", "", "٣"])
def test_amount_pattern_is_the_domain_rule(amount):
    from chalicelib.domain.money import parse_amount

    pattern = schemas.Amount.__metadata__[-1].json_schema["pattern"]
    assert (re.search(pattern, amount) is not None) == _domain_accepts(
        lambda v: parse_amount(v, "amount", allow_negative=True), amount), amount
