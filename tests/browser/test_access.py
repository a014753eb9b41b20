"""What the console hides, the API refuses: a role too weak does not see the books, exports,
administration or operator screens, gets a refusal when it types their address, and the API
answers 403; a user of another company never sees these data (404 from the API), whatever company
id the tab remembers; the platform operator reaches no company's ledger."""

from __future__ import annotations

import pytest

from tests.browser.conftest import join, new_page, operator_email, sign_in, token_of
from tests.support.bodies import sale_body
from tests.support.users import PASSWORD, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SCREENS = ["journal", "entries", "chains", "events", "anomalies", "exports", "admin",
           "queue", "news", "mailings", "alarms"]


def test_a_seller_sees_none_of_these_screens_and_the_api_refuses_them(page, console):
    account = console.account()
    entry = {"entries": [{"journal_code": "OD", "piece_ref": "X-1", "piece_date": console.business_day(),
                          "label": "Secret entry", "lines": [{"account": "512000", "debit": "10.00"},
                                                             {"account": "706000", "credit": "10.00"}]}]}
    base = f"/v1/tenants/{account['tenant_id']}"
    assert console.call("POST", f"{base}/journal-entries", entry, token=account["token"])[0] == 201
    assert console.call("POST", f"{base}/sales", sale_body(), token=account["token"])[0] == 201  # the admin's
    email = unique_email("seller")
    join(console, account, "seller", email)
    sign_in(page, email, PASSWORD)
    # another's sale, opened by its address: not "not on this device", but not one the seller may see
    page.goto("/#/receipt/test.sales.R1/1")
    page.wait_for_selector("main .notice.error:has-text('not one you may see')")
    nav = page.inner_text("#nav")
    for hidden in ("Books", "Exports", "Administration", "Closing", "Ticket queue", "Alarms"):
        assert hidden not in nav
    assert "Till" in nav and "Support" in nav
    for screen in SCREENS:
        page.goto(f"/#/{screen}")
        page.wait_for_selector("main .notice.error:has-text('Your role cannot do this.')")
        assert "Secret entry" not in page.inner_text("main")
    token = token_of(console, email)
    export = {"format": "fiscal", "from": "2026-01-01", "to": "2026-01-01"}
    for method, path, body in [("POST", "/journal-entries", entry), ("GET", "/entries?chain=test.journal", None),
                               ("GET", "/members", None), ("POST", "/exports", export), ("GET", "/anomalies", None),
                               ("GET", "/events", None), ("GET", "/auditor-grants", None)]:
        status, problem = console.call(method, base + path, body, token=token)
        assert status == 403, (path, problem)
    status, _ = console.call("GET", "/v1/operator/tickets", token=token)
    assert status == 403
    assert page.js_errors == []


def test_another_company_never_shows_its_data_and_the_operator_reaches_no_ledger(page, browser, console):
    victim = console.account(company_name="Maison Victime")
    entry = {"entries": [{"journal_code": "OD", "piece_ref": "V-1", "piece_date": console.business_day(),
                          "label": "Victim's entry", "lines": [{"account": "512000", "debit": "10.00"},
                                                               {"account": "706000", "credit": "10.00"}]}]}
    status, _ = console.call("POST", f"/v1/tenants/{victim['tenant_id']}/journal-entries", entry, token=victim["token"])
    assert status == 201
    other = console.account(company_name="Maison Curieuse")

    # The other company's admin, with the victim's company id planted in the tab's memory.
    sign_in(page, other["body"]["email"], other["body"]["password"])
    page.evaluate(f"sessionStorage.setItem('scelle.tenant', '{victim['tenant_id']}')")
    for screen in ("home", "journal", "entries?chain=test.journal", "chains", "events", "exports", "admin", "support"):
        page.goto(f"/#/{screen}")
        page.reload()
        page.wait_for_selector("main h1")
        page.wait_for_timeout(150)
        text = page.inner_text("body")
        assert "Maison Victime" not in text and "Victim's entry" not in text and victim["tenant_id"] not in text, screen
    assert "Maison Curieuse" in page.inner_text("header")
    for path in ("", "/entries?chain=test.journal", "/members", "/events", "/chains"):
        status, problem = console.call("GET", f"/v1/tenants/{victim['tenant_id']}{path}", token=other["token"])
        assert status == 404 and problem["detail"] == "tenant not found", path
    assert page.js_errors == []

    context, op = new_page(browser, console)
    try:
        email = operator_email()
        sign_in(op, email, PASSWORD)
        op.goto("/#/journal")
        op.wait_for_selector("main .notice.error:has-text('Your role cannot do this.')")
        status, _ = console.call("GET", f"/v1/tenants/{victim['tenant_id']}/entries?chain=test.journal",
                                 token=token_of(console, email))
        assert status == 404
        assert op.js_errors == []
    finally:
        context.close()
