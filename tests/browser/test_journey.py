"""A new company's first month in the console: sign-up (with live checks of the company and VAT
numbers), the mail's link opening the console, sign-in, the test-mode banner, a first sale and
its printed receipt with the QR code, the public check the QR opens, a return, the day's closure
and Z report with its signed checkpoint, the month's and the year's closures and their reports,
then going live with its explicit confirmation. Each main screen passes axe-core's WCAG 2.1 A/AA
rules. The export of a day, downloaded and verified with ``scelle verify``, is the journey of
test_make_run.py, against a real ``scelle local`` and its own stream pump."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.browser.conftest import accessible, shot
from tests.support.users import PASSWORD, be_enterprise_number, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _days_until(start: date, end: date) -> timedelta:
    """The server's clock moved from ``start`` to a few hours after the cut-off of ``end``."""
    return timedelta(days=(end - start).days, hours=6)


def test_sign_up_verify_sign_in_sale_return_day_month_year_closures_and_go_live(page, console):
    number = be_enterprise_number()
    email = unique_email("owner")
    page.goto("/")
    page.click("text=Sign up your company")
    page.wait_for_selector("h1:has-text('Sign up your company')")

    # Live checks: a mistyped enterprise number, then the right one; a VAT number of another company.
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    page.fill("input[name=company_number]", wrong)
    assert "check digits do not match" in page.inner_text(".field:has(input[name=company_number]) .field-error")
    page.fill("input[name=company_number]", f"{number[:4]}.{number[4:7]}.{number[7:]}")
    assert f"Valid: {number}" in page.inner_text(".field:has(input[name=company_number]) .hint")
    page.fill("input[name=vat_number]", "BE" + be_enterprise_number())
    assert "does not belong" in page.inner_text(".field:has(input[name=vat_number]) .field-error")
    page.fill("input[name=vat_number]", f"BE {number}")
    assert page.inner_text(".field:has(input[name=vat_number]) .field-error") == ""
    page.fill("input[name=company_name]", "Boulangerie Console")
    page.fill("input[name=line1]", "Rue de la Loi 16")
    page.fill("input[name=postal_code]", "10000")  # 5 digits: the server says so too
    page.fill("input[name=city]", "Bruxelles")
    page.fill("input[name=display_name]", "Anne Boulanger")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    shot(page, "01-signup")
    accessible(page, "sign-up")
    page.click("button:has-text('Sign up')")
    # The server's problem+json field error lands under its field.
    page.wait_for_selector(".field:has(input[name=postal_code]) .field-error:not(:empty)")
    page.fill("input[name=postal_code]", "1000")
    page.click("button:has-text('Sign up')")
    page.wait_for_selector("h1:has-text('Verify your email address')")
    assert email in page.inner_text("main")

    # The mail's link opens the console (public_base_url: this server), which verifies the address.
    link = console.mailed_link(email, "/#/verify?token=")
    assert link.startswith(console.base + "/#/verify?token=")
    page.goto(link)
    page.wait_for_selector("text=Your email address is verified")
    shot(page, "02-verified")
    page.click("main a:has-text('Sign in')")
    page.fill("input[name=password]", PASSWORD)
    assert page.input_value("input[name=email]") == email
    page.click("form button[type=submit]")
    page.wait_for_selector("#my-role")
    assert page.inner_text("#my-role") == "Administrator"
    assert page.is_visible("#testmode") and "Test mode" in page.inner_text("#testmode")
    shot(page, "03-home")
    accessible(page, "home")

    # The first sale: two lines (decimal commas), cash with change.
    page.click("#tile-till")
    page.wait_for_selector("#line-description")
    assert page.is_visible("#testmode")
    page.fill("#line-description", "Croissant")
    page.fill("#line-quantity", "2")
    page.fill("#line-price", "1,20")
    page.check("#rate-6", force=True)
    page.click("#add-line")
    page.fill("#line-description", "Café")
    page.fill("#line-price", "2,50")
    page.check("#rate-21", force=True)  # the rate chosen last stays selected
    page.click("#add-line")
    assert page.inner_text("#total") == "€4.90"
    page.fill("#pay-amount", "10")
    page.click("#add-payment")
    assert "€5.10" in page.inner_text("#due")
    assert "Rates legal on" in page.inner_text("#rates-date")
    shot(page, "04-till")
    accessible(page, "till")
    page.click("#record-sale")
    page.wait_for_selector("text=Recorded: receipt R1 / 1")
    page.click("#show-receipt")
    page.wait_for_selector("#receipt svg.qr")
    assert "TRAINING" in page.inner_text("#receipt")
    assert page.inner_text("#receipt-total") == "€4.90"
    shot(page, "05-receipt")
    accessible(page, "receipt")
    qr_text = page.get_attribute("#receipt svg.qr", "data-text")
    assert qr_text.startswith(console.base + "/check?")  # the API's receipt_proof.qr, as given
    assert qr_text in page.inner_text("#receipt-check-url")

    # Through the API: one sale, as typed.
    _, me = console.call("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})
    account = {"tenant_id": page.evaluate("sessionStorage.getItem('scelle.tenant')"), "token": me["access_token"]}
    [sale] = console.sales(account)[:1]
    assert sale["data"]["totals"]["incl"] == 490 and sale["data"]["change"] == 510
    assert [line["vat_rate"] for line in sale["data"]["lines"]] == [600, 2100]

    # The public check page the QR code opens: a training receipt.
    page.click("#check-link")
    page.wait_for_selector("#verdict")
    assert page.get_attribute("#verdict", "data-status") == "training"
    assert "€4.90" in page.inner_text("#verdict")  # the API's "4.90", as money (it was shown raw)
    shot(page, "06-check")
    accessible(page, "public check")

    # A return: one croissant brought back, refunded in cash.
    page.goto("/#/till")
    page.fill("#line-description", "Croissant")
    page.fill("#line-price", "1,20")
    page.check("#rate-6", force=True)
    page.check("#line-return")
    page.click("#add-line")
    assert page.inner_text("#total") == "-€1.20" and "To refund: €1.20" in page.inner_text("#due")
    assert page.inner_text("#record-sale") == "Record the return"
    page.click("#pay-exact-cash")  # "Refund in cash"
    assert "Refunded" in page.inner_text("#due")
    page.click("#record-sale")
    page.wait_for_selector("text=Recorded: receipt R1 / 2")
    page.click("#show-receipt")
    page.wait_for_selector("#receipt:has-text('Return receipt R1 / 2')")
    assert page.inner_text("#receipt-total") == "-€1.20"
    shot(page, "05b-return-receipt")

    # The next morning: close the day, print the Z report, sign its checkpoint.
    sold_on = date.fromisoformat(sale["data"]["business_date"])
    console.clock.offset = _days_until(sold_on, sold_on + timedelta(days=1))
    page.goto("/#/closing")
    page.wait_for_selector("#close-day")
    page.fill("#close-day", sale["data"]["business_date"])
    page.click("#close-submit")
    page.wait_for_selector("#zreport")
    assert page.inner_text("#z-period-total") == "€3.70"
    assert page.inner_text("#z-perpetual-total") == "€3.70"
    assert "1 sale(s), 1 return(s)" in page.inner_text("#zreport")
    page.click("#sign-now")
    page.wait_for_selector("#z-checkpoint:not(:has-text('Not signed yet'))")
    shot(page, "07-zreport")
    accessible(page, "closing and Z report")

    # The month, then the year, once each has ended: their reports, and the register's closures.
    next_month = (sold_on.replace(day=1) + timedelta(days=32)).replace(day=1)
    console.clock.offset = _days_until(sold_on, next_month)
    page.reload()
    page.wait_for_selector("#close-kind")
    page.select_option("#close-kind", "month")
    assert page.is_hidden("#close-day") and page.inner_text("#close-submit") == "Close the month"
    page.fill("#close-month", sold_on.strftime("%Y-%m"))
    page.click("#close-submit")
    page.wait_for_selector(f"#zreport-title:has-text('Monthly closure report · R1 · {sold_on.strftime('%B %Y')}')")
    assert page.inner_text("#z-period-total") == "€3.70"
    console.clock.offset = _days_until(sold_on, date(sold_on.year + 1, 1, 1))
    page.select_option("#close-kind", "year")
    page.fill("#close-year", str(sold_on.year))
    page.click("#close-submit")
    page.wait_for_selector(f"#zreport-title:has-text('Annual closure report · R1 · {sold_on.year}')")
    assert page.inner_text("#z-period-total") == "€3.70" and page.inner_text("#z-perpetual-total") == "€3.70"
    shot(page, "08-year-report")
    kinds = page.eval_on_selector_all("#closure-list li", "els => els.map(e => e.dataset.kind)")
    assert kinds == ["year", "month", "day"]
    console.clock.offset = timedelta(0)

    # Going live: refused until the irreversibility is acknowledged and the name typed.
    page.click("#testmode a")
    page.wait_for_selector("#golive-understood")
    submit = page.locator("button:has-text('Go live now')")
    assert submit.is_disabled()
    page.check("#golive-understood")
    assert submit.is_disabled()
    page.fill("#golive-name", "Boulangerie Console")
    shot(page, "09-golive")
    accessible(page, "go live")
    submit.click()
    page.wait_for_selector("text=Your company is live")
    assert page.is_hidden("#testmode")
    page.reload()  # the go-live screen again, once live: since when, as a date in words (it was the raw instant)
    page.wait_for_selector("text=in production since")
    since = page.inner_text("main")
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", since), since
    assert page.js_errors == []
