"""French, Dutch and English: chosen from the browser, switchable, amounts in the user's locale."""

from __future__ import annotations

import pytest

from tests.browser.conftest import accessible, new_page, shot

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_the_browser_language_is_used_and_the_switch_changes_texts_and_amounts(browser, console):
    account = console.account()
    context, page = new_page(browser, console, locale="nl-BE")
    try:
        page.goto("/")
        page.wait_for_selector("h1:has-text('Aanmelden')")
        assert page.get_attribute("html", "lang") == "nl"
        page.select_option("#lang", "fr")
        page.wait_for_selector("h1:has-text('Connexion')")
        assert page.get_attribute("html", "lang") == "fr"
        sign_in_fr(page, account)
        page.goto("/#/till")
        page.wait_for_selector("#line-description")
        page.fill("#line-description", "Pain")
        page.fill("#line-quantity", "1,5")
        page.fill("#line-price", "2,00")
        page.click("#add-line")
        total = page.inner_text("#total")
        assert total.replace("\u202f", " ").replace("\xa0", " ") == "3,00 €"
        assert "Mode test" in page.inner_text("#testmode")
        shot(page, "20-till-fr")
        accessible(page, "till-fr")
        page.select_option("#lang", "en")
        page.wait_for_selector("h1:has-text('Till')")
        page.select_option("#lang", "nl")
        page.wait_for_selector("h1:has-text('Kassa')")
        # The choice is remembered on this device.
        page.reload()
        page.wait_for_selector("h1:has-text('Kassa')")
        assert page.js_errors == []
    finally:
        context.close()


def sign_in_fr(page, account) -> None:
    page.fill("input[name=email]", account["body"]["email"])
    page.fill("input[name=password]", account["body"]["password"])
    page.click("form button[type=submit]")
    page.wait_for_selector("#my-role:has-text('Administrateur')")

