"""Public reference routes: GET /v1/vat-rates and POST /v1/checks/company."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "company-numbers.json"
CASES = json.loads(VECTORS.read_text("utf-8"))["cases"]


@pytest.fixture
def public(api):
    return api.with_token(None)


def test_the_vat_rates_of_a_day_as_decimal_strings_and_basis_points_with_sources(public):
    be = public.get("/v1/vat-rates?country=BE&date=2026-03-10")
    assert be.status == 200, be
    assert [(r["rate"], r["rate_bp"]) for r in be.json["rates"]] == [("21", 2100), ("12", 1200), ("6", 600), ("0", 0)]
    assert be.json["country"] == "BE" and be.json["date"] == "2026-03-10"
    assert "SPF Finances" in be.json["sources"][0]["title"]
    fr = public.get("/v1/vat-rates?country=FR&date=2026-03-10").json
    assert [r["rate"] for r in fr["rates"]] == ["20", "10", "5.5", "2.1", "0"]
    assert "BOFiP" in fr["sources"][0]["title"]
    # the rates in force that day: 19.6 % and 7 % until the end of 2013
    before = public.get("/v1/vat-rates?country=FR&date=2013-12-31").json["rates"]
    assert [r["rate_bp"] for r in before] == [1960, 700, 550, 210, 0]
    assert before[0]["valid_until"] == "2013-12-31" and fr["rates"][0]["valid_from"] == "2014-01-01"
    assert public.get("/v1/vat-rates?country=FR").json["rates"][0]["rate"] == "20"  # today


def test_the_rates_are_those_a_sale_accepts(public):
    from datetime import date

    from chalicelib.domain.vat import rates_on

    for country in ("BE", "FR"):
        listed = {r["rate_bp"] for r in public.get(f"/v1/vat-rates?country={country}&date=2026-06-01").json["rates"]}
        assert listed == rates_on(country, date(2026, 6, 1))


@pytest.mark.parametrize("query, field", [
    ("country=NL&date=2026-03-10", "country"),
    ("date=2026-03-10", "country"),
    ("country=BE&date=2026-02-30", "date"),
    ("country=BE&date=10/03/2026", "date"),
    ("country=FR&date=2011-12-31", "date"),  # before what the table covers
    ("country=BE&at=2026-03-10", "at"),
])
def test_a_bad_vat_rates_query_is_a_422_naming_the_field(public, query, field):
    reply = public.get(f"/v1/vat-rates?{query}")
    assert reply.status == 422 and reply.json["field"] == field, reply


@pytest.mark.parametrize("case", CASES, ids=[f"{c['country']}-{c['company_number']}-{c['vat_number']}" for c in CASES])
def test_the_company_check_answers_each_shared_case_per_field(public, case):
    body = {k: case[k] for k in ("country", "company_number", "vat_number") if case[k] is not None}
    reply = public.post("/v1/checks/company", body)
    assert reply.status == 200, reply
    assert reply.json["ok"] == all(e is None or e["ok"] for e in case["expect"].values())
    for name in ("company_number", "vat_number"):
        expect, got = case["expect"][name], reply.json[name]
        if expect is None:
            assert got is None
        elif expect["ok"]:
            assert got == {"ok": True, "value": expect["value"], "problem": None}
        else:
            assert got["ok"] is False and got["value"] is None and expect["problem_contains"] in got["problem"]


def test_the_company_check_says_the_same_as_sign_up_and_nothing_about_signed_up_companies(api, stack, public):
    from tests.support.users import signup_body

    bad = signup_body("BE", vat_number="BE0403170702")
    refused = api.post("/v1/signup", bad)
    checked = public.post("/v1/checks/company", {"country": "BE", "company_number": bad["company_number"],
                                                 "vat_number": bad["vat_number"]}).json
    assert refused.status == 422
    assert {e["field"]: e["detail"] for e in refused.json["errors"]}["vat_number"] == checked["vat_number"]["problem"]
    # a company already signed up: sign-up says 409, the check only checks the numbers
    good = signup_body("BE")
    assert api.post("/v1/signup", good).status == 201
    again = public.post("/v1/checks/company", {"country": "BE", "company_number": good["company_number"],
                                               "vat_number": good["vat_number"]})
    assert again.status == 200 and again.json["ok"] is True


@pytest.mark.parametrize("body, field", [
    ({"country": "BE"}, "company_number"),
    ({"company_number": "0403170701"}, "country"),
    ({"country": "DE", "company_number": "0403170701"}, "country"),
    ({"country": "BE", "company_number": ""}, "company_number"),
    ({"country": "BE", "vat_number": "x" * 65}, "vat_number"),
    ({"country": "BE", "company_number": 403170701}, "company_number"),
    ({"country": "BE", "company_number": "0403170701", "name": "x"}, "name"),
])
def test_a_bad_company_check_is_a_422_naming_the_field(public, body, field):
    reply = public.post("/v1/checks/company", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
