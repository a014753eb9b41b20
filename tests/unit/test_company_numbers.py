"""The company and VAT number rules of sign-up (``domain.company``) against the shared cases of
``tests/vectors/company-numbers.json`` (the web console's tests read the same file)."""

import json
from pathlib import Path

import pytest

from chalicelib.domain.company import check_company_identifiers
from chalicelib.domain.errors import ValidationFailed

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "company-numbers.json"
CASES = json.loads(VECTORS.read_text("utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['country']}-{c['company_number']}-{c['vat_number']}" for c in CASES])
def test_each_shared_case_is_judged_as_the_file_says(case):
    checked = check_company_identifiers(case["country"], case["company_number"], case["vat_number"])
    for name in ("company_number", "vat_number"):
        expect, problem = case["expect"][name], checked.problem(name)
        if expect is None:
            assert case[name] is None and getattr(checked, name) is None and problem is None
        elif expect["ok"]:
            assert problem is None and getattr(checked, name) == expect["value"], case["reason"]
        else:
            assert problem is not None and expect["problem_contains"] in problem, (case["reason"], problem)
            assert getattr(checked, name) is None


def test_the_cases_cover_both_countries_both_outcomes_and_the_mismatch():
    assert {(c["country"], all(e is None or e["ok"] for e in c["expect"].values())) for c in CASES} == {
        ("BE", True), ("BE", False), ("FR", True), ("FR", False)}
    assert sum("does not belong" in json.dumps(c["expect"]) for c in CASES) >= 2


def test_another_country_is_refused_on_country():
    with pytest.raises(ValidationFailed) as refused:
        check_company_identifiers("NL", "0403170701", None)
    assert refused.value.field == "country"
