"""A manager at the till and at the closing: sells, takes a return (negative lines, refunded in
cash), closes the day; reads the register's past closures and, once a checkpoint covers the
closure, the fingerprint on its Z report (``closure.read``); month and year closures are not
offered to a manager. A password forgotten and reset through the mail's link."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.browser.conftest import accessible, join, shot, sign_in
from tests.support.users import PASSWORD, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def sell(page, description: str, price: str, *, returned: bool = False) -> None:
    page.fill("#line-description", description)
    page.fill("#line-price", price)
    if returned:
        page.check("#line-return")
    page.click("#add-line")
    page.click("#pay-exact-cash")
    page.click("#record-sale")


def test_a_manager_sells_takes_a_return_closes_the_day_and_reads_past_z_reports(page, console):
    account = console.account()
    email = unique_email("manager")
    join(console, account, "manager", email)
    sign_in(page, email, PASSWORD)
    page.goto("/#/till")
    page.wait_for_selector("#rate-21")
    sell(page, "Tarte aux pommes", "12,00")
    page.wait_for_selector("text=Recorded: receipt R1 / 1")
    page.fill("#line-description", "Tarte aux pommes")
    page.fill("#line-price", "12,00")
    page.check("#line-return")
    page.fill("#line-discount", "1")
    page.click("#add-line")
    assert "No discount on a returned item" in page.inner_text(".line-form")
    page.fill("#line-discount", "")
    page.click("#add-line")
    page.click("#pay-exact-cash")
    shot(page, "13-till-return")
    accessible(page, "till, a return")
    page.click("#record-sale")
    page.wait_for_selector("text=Recorded: receipt R1 / 2")
    sales = console.sales(account)
    assert [s["data"]["kind"] for s in sales] == ["sale", "return"]
    assert sales[1]["data"]["totals"]["incl"] == -1200 and sales[1]["data"]["payments"][0]["amount"] == -1200

    sold_on = date.fromisoformat(sales[0]["data"]["business_date"])
    console.clock.offset = timedelta(days=1, hours=6)
    page.click("#nav a:has-text('Closing')")
    page.wait_for_selector("#close-day")
    assert page.locator("#close-kind").count() == 0  # month and year: accountants and admins
    page.fill("#close-day", sold_on.isoformat())
    page.click("#close-submit")
    page.wait_for_selector("#zreport")
    assert page.inner_text("#z-period-total") == "€0.00"
    assert "1 sale(s), 1 return(s)" in page.inner_text("#zreport")
    assert "Not signed yet" in page.inner_text("#z-checkpoint") and page.locator("#sign-now").count() == 0

    # An administrator signs a checkpoint (a manager signs none): the manager's past Z report shows it.
    status, out = console.call("POST", f"/v1/tenants/{account['tenant_id']}/checkpoints",
                               {"chain": "test.sales.R1"}, token=account["token"])
    assert status == 201, out
    page.reload()
    page.wait_for_selector("#closure-list li[data-kind='day']")
    page.click("#closure-list li[data-kind='day'] button")
    page.wait_for_selector(f"#z-checkpoint:has-text('{out['root']}')")
    shot(page, "14-manager-zreport")
    accessible(page, "manager's closing")
    assert page.js_errors == []


def test_a_forgotten_password_is_reset_through_the_mails_link(page, console):
    account = console.account()
    email = account["body"]["email"]
    page.goto("/#/signin")
    page.fill("input[name=email]", email)
    page.click("#forgot")
    page.wait_for_selector("#reset-request-form")
    assert page.input_value("#reset-email") == email
    accessible(page, "password reset")
    page.click("#reset-request")
    page.wait_for_selector("#reset-confirm-form")
    assert email in page.inner_text("main")
    shot(page, "15-reset-requested")

    link = console.mailed_link(email, "/#/reset?")
    assert link.startswith(console.base + "/#/reset?email=")
    page.goto(link)  # the mail's link: address and code filled in
    page.wait_for_selector("#reset-confirm-form")
    assert page.input_value("#reset-confirm-email") == email and page.input_value("#reset-code")
    page.fill("#reset-password", "short")
    page.click("#reset-confirm")
    assert "10 to 64 characters" in page.inner_text(".field:has(#reset-password) .field-error")
    code = page.input_value("#reset-code")
    page.fill("#reset-code", "AAAA-AAAA-AAAA")
    page.fill("#reset-password", "New-Password-2027")
    page.click("#reset-confirm")
    page.wait_for_selector(".field:has(#reset-code) .field-error:has-text('wrong, used or expired')")
    page.fill("#reset-code", code.lower())  # case does not matter
    page.click("#reset-confirm")
    page.wait_for_selector("text=Your password is changed")
    assert page.input_value("input[name=email]") == email
    page.fill("input[name=password]", "New-Password-2027")
    page.click("form button[type=submit]")
    page.wait_for_selector("#my-role")
    assert console.call("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})[0] == 401
    assert page.js_errors == []
