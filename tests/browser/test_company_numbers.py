"""The sign-up form's live checks (console/js/ids.js) against the server's own vectors
(tests/vectors/company-numbers.json, which tests/unit/test_company_numbers.py runs through the
Python rules and POST /v1/checks/company answers): every case, in the browser, gets the vector's
verdict, canonical value and reason, so the JavaScript cannot drift from the Python."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

VECTORS = json.loads((ROOT / "tests" / "vectors" / "company-numbers.json").read_text())["cases"]

# In the page (the console's own modules, under its CSP): each case through ids.checkNumbers, each
# problem as the English message the form shows.
RUN = """async (cases) => {
  const ids = await import("/console/js/ids.js");
  const en = (await import("/console/i18n/en.js")).default;
  return cases.map((c) => {
    const r = ids.checkNumbers(c.country, c.company_number, c.vat_number);
    const view = (x) => x === null ? null : x.ok ? { ok: true, value: x.value } : { ok: false, problem: en[x.code] };
    return { company_number: view(r.company_number), vat_number: view(r.vat_number) };
  });
}"""


def test_every_vector_gets_the_same_verdict_from_the_console_rules(page):
    page.goto("/#/signup")
    page.wait_for_selector("input[name=company_number]")
    got = page.evaluate(RUN, VECTORS)
    assert len(got) == len(VECTORS) >= 20
    for case, result in zip(VECTORS, got, strict=True):
        where = f"{case['country']} {case['company_number']!r} / {case['vat_number']!r} ({case['reason']})"
        for name in ("company_number", "vat_number"):
            expected, actual = case["expect"][name], result[name]
            if expected is None:
                assert actual is None, where
            elif expected["ok"]:
                assert actual == {"ok": True, "value": expected["value"]}, where
            else:
                assert actual["ok"] is False, f"{where}: {name} accepted"
                assert expected["problem_contains"] in actual["problem"], f"{where}: {actual['problem']}"
    assert page.js_errors == []
