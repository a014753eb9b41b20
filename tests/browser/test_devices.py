"""The sign-in and the till on a phone (390x844) and a tablet (820x1180), touch screens: a sale
is made with taps, nothing is wider than the screen, and each screen passes axe-core's WCAG 2.1
A/AA rules. Screenshots: build/screenshots/50-*-phone.png, 51-*-tablet.png."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, TABLET, accessible, new_page, shot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > width + 1 || r.left < -1);
  }).map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className);
  // A table wider than its card is cut off by the card, not by the screen: the ticket's Amount
  // column was, on a tablet.
  const clipped = [...document.querySelectorAll('table')].filter((t) =>
    t.getBoundingClientRect().width > 0 && t.scrollWidth > t.parentElement.clientWidth + 1
  ).map((t) => 'table.' + t.className + ' by ' + (t.scrollWidth - t.parentElement.clientWidth) + 'px');
  return { scroll: document.documentElement.scrollWidth > width + 1, wide: wide.slice(0, 8), clipped };
}"""


def fits(page, where: str) -> None:
    found = page.evaluate(WIDER_THAN_SCREEN)
    assert not found["scroll"], f"{where}: wider than the screen: {found['wide']}"
    assert not found["clipped"], f"{where}: a table wider than its container: {found['clipped']}"


@pytest.mark.parametrize("device,size,number", [("phone", PHONE, 50), ("tablet", TABLET, 51)])
def test_sign_in_and_a_sale_on_a_touch_screen(browser, console, device, size, number):
    account = console.account()
    context, page = new_page(browser, console, **size)
    try:
        page.goto("/#/signin")
        page.wait_for_selector("input[name=email]")
        fits(page, "sign-in")
        shot(page, f"{number}-signin-{device}")
        accessible(page, f"sign-in on a {device}")
        page.fill("input[name=email]", account["body"]["email"])
        page.fill("input[name=password]", account["body"]["password"])
        page.tap("form button[type=submit]")
        page.wait_for_selector("#my-role")
        fits(page, "home")
        shot(page, f"{number}-home-{device}")

        page.goto("/#/till")
        page.wait_for_selector("#rate-6")
        page.fill("#line-description", "Pain de campagne")
        page.fill("#line-quantity", "2")
        page.fill("#line-price", "3,10")
        page.tap("label.rate:has(#rate-6)")
        page.tap("#add-line")
        page.tap("#pay-exact-card")
        assert page.inner_text("#total") == "€6.20"
        fits(page, "till")
        shot(page, f"{number}-till-{device}")
        accessible(page, f"till on a {device}")
        page.tap("#record-sale")
        page.wait_for_selector("text=Recorded: receipt R1 / 1")
        page.tap("#show-receipt")
        page.wait_for_selector("#receipt svg.qr")
        fits(page, "receipt")
        shot(page, f"{number}-receipt-{device}")
        [sale] = console.sales(account)
        assert sale["data"]["lines"][0]["vat_rate"] == 600
        assert page.js_errors == []
    finally:
        context.close()
