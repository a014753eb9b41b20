"""The till: offline sales queue and are each recorded once when the connection returns; the
sale screen works with the keyboard alone; a foreign company's data is never shown; the register's
sales are listed newest first, page by page, and a receipt is printed again from them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.browser.conftest import accessible, new_page, shot, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def sell(page, description: str, price: str) -> None:
    page.fill("#line-description", description)
    page.fill("#line-price", price)
    page.click("#add-line")
    page.click("#pay-exact-cash")
    page.click("#record-sale")


def test_offline_sales_wait_on_the_device_and_are_each_recorded_once(page, console):
    account = console.account()
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.goto("/#/till")
    page.wait_for_selector("#line-description")

    page.context.set_offline(True)
    page.wait_for_selector("#network:has-text('No connection')")
    for i, price in enumerate(["1,10", "2,20", "3,30"], start=1):
        sell(page, f"Pain {i}", price)
        page.wait_for_selector(f"#waiting-count:has-text('{i} sale(s) waiting')")
    assert "kept on this device" in page.inner_text("#sale-result")
    assert console.sales(account) == []
    shot(page, "10-till-offline")
    accessible(page, "till-offline")

    page.context.set_offline(False)  # the browser's "online" event sends what waits
    page.wait_for_selector("#waiting-count:has-text('Nothing waiting')", timeout=20_000)
    sales = console.sales(account)
    assert [s["seq"] for s in sales] == [1, 2, 3]
    assert sorted(s["data"]["totals"]["incl"] for s in sales) == [110, 220, 330]
    assert len({s["data"]["client_receipt_id"] for s in sales}) == 3
    shot(page, "11-till-back-online")

    # Sent again (a lost answer, another tab): still recorded once, with the first answer.
    first = sales[0]["data"]
    resend = {k: first[k] for k in ("client_receipt_id", "register_id")}
    resend["occurred_at"] = first["occurred_at"].replace(".000000Z", "Z")
    resend["lines"] = [{"description": "Pain 1", "quantity": "1", "unit_price": "1.10", "vat_rate": "21"}]
    resend["payments"] = [{"method": "cash", "amount": "1.10"}]
    status, again = console.call("POST", f"/v1/tenants/{account['tenant_id']}/sales", resend, token=account["token"])
    assert status in (201, 409), again
    assert len(console.sales(account)) == 3
    assert page.js_errors == []


def test_the_sale_screen_works_with_the_keyboard_alone(page, console):
    account = console.account()
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.goto("/#/till")
    page.wait_for_selector("#line-description")

    def tab_to(element_id: str, limit: int = 40) -> None:
        for _ in range(limit):
            if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("line-description")
    page.keyboard.type("Baguette")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    page.keyboard.type("1,15")
    page.keyboard.press("Enter")  # submits the line form
    page.wait_for_selector("#total:has-text('€3.45')")
    assert page.evaluate("document.activeElement.id") == "line-description"  # ready for the next item
    tab_to("pay-exact-card")
    page.keyboard.press("Enter")
    page.wait_for_selector("#due:has-text('Paid')")
    tab_to("record-sale")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Recorded: receipt R1 / 1")
    [sale] = console.sales(account)
    assert sale["data"]["totals"]["incl"] == 345 and sale["data"]["payments"][0]["method"] == "card"
    # Every control of the screen has a name (a label or an aria-label).
    unnamed = page.evaluate("""[...document.querySelectorAll('main input, main select, main button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unnamed == []
    shot(page, "12-till-keyboard")
    accessible(page, "till-keyboard")


def test_a_foreign_companys_data_is_never_shown(browser, console):
    mine = console.account()
    theirs = console.account(company_name="Secret Competitor SA")
    status, sale = console.call("POST", f"/v1/tenants/{theirs['tenant_id']}/sales", {
        "client_receipt_id": "SECRET-1", "register_id": "R1", "occurred_at": "2026-01-01T10:00:00Z",
        "lines": [{"description": "Hidden cake", "quantity": "1", "unit_price": "9.99", "vat_rate": "6"}],
        "payments": [{"method": "card", "amount": "9.99"}]}, token=theirs["token"])
    assert status == 201, sale

    context, page = new_page(browser, console)
    try:
        sign_in(page, mine["body"]["email"], mine["body"]["password"])
        # Pointing the console at the other company (as a crafted link or a tampered tab would)
        # falls back to the caller's own company: the API answers 404 for the other one anyway.
        page.evaluate(f"sessionStorage.setItem('scelle.tenant', '{theirs['tenant_id']}')")
        for route in ("#/home", "#/till", "#/closing", "#/receipt/SECRET-1"):
            page.goto("/" + route)
            page.reload()
            page.wait_for_selector("main h1")
            text = page.inner_text("body")
            assert "Secret Competitor" not in text and "Hidden cake" not in text, route
            assert theirs["tenant_id"] not in page.content(), route
        assert page.evaluate("sessionStorage.getItem('scelle.tenant')") == mine["tenant_id"]
        status, _ = console.call("GET", f"/v1/tenants/{theirs['tenant_id']}", token=mine["token"])
        assert status == 404
        assert page.js_errors == []
    finally:
        context.close()


def test_the_till_lists_the_register_s_sales_newest_first_and_prints_one_again(page, console):
    account = console.account()
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.goto("/#/till")
    page.wait_for_selector("#register-sales-list li.none")  # no sale on this register yet
    assert page.inner_text("#register-sales-title") == "Sales of register R1"
    sell(page, "Croissant", "1,20")
    page.wait_for_selector("#register-sales-list li.sale[data-seq='1']")
    sell(page, "Tarte", "12,35")
    page.wait_for_selector("#register-sales-list li.sale[data-seq='2']")

    sales = page.locator("#register-sales-list li.sale")
    assert [sales.nth(i).get_attribute("data-seq") for i in range(sales.count())] == ["2", "1"]  # newest first
    assert [sales.nth(i).locator(".sale-total").inner_text() for i in range(2)] == ["€12.35", "€1.20"]
    assert page.inner_text("#register-sales-list li.day") == "Today"
    assert all("Cash" in sales.nth(i).locator(".sale-payment").inner_text() for i in range(2))
    assert [s["data"]["totals"]["incl"] for s in console.sales(account)] == [120, 1235]
    shot(page, "13-till-register-sales")
    accessible(page, "till-register-sales")

    # Printed again: the receipt as the API reads it back, with the code and QR code of the sale.
    page.click("#register-sales-list li.sale[data-seq='1'] a.reprint")
    page.wait_for_selector("#receipt")
    assert page.inner_text("#receipt-total") == "€1.20"
    assert "R1 / 1" in page.inner_text("#receipt-title")
    status, entry = console.call("GET", f"/v1/tenants/{account['tenant_id']}/entries/test.sales.R1/1",
                                 token=account["token"])
    assert status == 200
    assert page.inner_text("#receipt-code") == entry["receipt_proof"]["code"]
    assert entry["receipt_proof"]["qr"] in page.inner_text("#receipt-check-url")
    assert page.locator("#receipt svg").count() == 1  # the QR code
    assert page.get_attribute("#check-link", "href") == entry["receipt_proof"]["qr"]
    shot(page, "14-till-reprint")
    assert page.js_errors == []


def test_the_register_s_sales_page_with_more(page, console):
    account = console.account()
    for i in range(12):
        status, _ = console.call("POST", f"/v1/tenants/{account['tenant_id']}/sales", {
            "client_receipt_id": f"more-{i}", "register_id": "R2",
            "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lines": [{"description": "Pain", "quantity": "1", "unit_price": f"{i + 1}.00", "vat_rate": "6"}],
            "payments": [{"method": "card", "amount": f"{i + 1}.00"}]}, token=account["token"])
        assert status == 201
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.evaluate("localStorage.setItem('scelle.register', 'R2')")
    page.goto("/#/till")
    page.wait_for_selector("#register-sales-list li.sale[data-seq='3']")
    assert page.locator("#register-sales-list li.sale").count() == 10
    page.click("#register-sales-more")
    page.wait_for_selector("#register-sales-list li.sale[data-seq='1']")
    seqs = page.eval_on_selector_all("#register-sales-list li.sale", "els => els.map(e => Number(e.dataset.seq))")
    assert seqs == list(range(12, 0, -1))  # every sale once, newest first
    assert page.locator("#register-sales-list li.day").count() == 1
    assert page.is_hidden("#register-sales-more")
    assert page.js_errors == []
