"""The accountant's books: one person keeping two client companies switches between them (seeing
what needs attention in each), records a balanced journal entry with a sub-ledger account (the
balance checked as they type, decimal commas), reverses it with a reason, verifies the chains,
signs a checkpoint and reads the event journal and the anomalies."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import accessible, join, shot, sign_in, token_of
from tests.support.users import PASSWORD, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_accountant_switches_companies_records_a_balanced_entry_and_reverses_it(page, console):
    first = console.account(company_name="Boulangerie Première")
    second = console.account(company_name="Fromagerie Seconde")
    email = unique_email("accountant")
    join(console, first, "accountant", email)
    join(console, second, "accountant", email, new_account=False)

    sign_in(page, email, PASSWORD)
    assert page.inner_text("#my-role") == "Accountant"
    nav = page.inner_text("#nav")
    assert "Books" in nav and "Exports" in nav and "Companies" in nav
    assert "Till" not in nav and "Administration" not in nav  # docs/roles.md: no sale.record, no members.manage

    # Every company, with what needs attention: both in test mode, every chain verified.
    page.click("#nav a:has-text('Companies')")
    page.wait_for_selector("section[data-ready]")
    rows = page.locator("#companies tbody tr")
    assert rows.count() == 2
    for tenant in (first, second):
        row = page.locator(f"#companies tr[data-tenant='{tenant['tenant_id']}']")
        assert "Still in test mode" in row.inner_text() and "FAILED" not in row.inner_text()
    shot(page, "20-companies")
    accessible(page, "companies")
    page.click(f"#companies tr[data-tenant='{second['tenant_id']}'] button")
    page.wait_for_selector("h1:has-text('Fromagerie Seconde')")

    # A journal entry: out of balance as typed, then balanced; sealed in the second company only.
    page.click("#tile-books")
    page.wait_for_selector("#journal-form")
    page.fill("#j-code", "VT")
    page.fill("#j-piece", "FA-2026-0042")
    page.fill("#j-label", "Facture Dupont SARL")
    first_line, second_line = page.locator("tr.jline").all()
    first_line.locator("input[name=account]").fill("411000")
    first_line.locator("input[name=aux_account]").fill("DUPONT")
    first_line.locator("input[name=aux_label]").fill("Dupont SARL")
    first_line.locator("input[name=debit]").fill("121,00")
    assert page.inner_text("#balance-state") == "Out of balance: €121.00 more Credits needed"
    second_line.locator("input[name=account]").fill("706000")
    second_line.locator("input[name=credit]").fill("100")
    assert page.inner_text("#balance-state") == "Out of balance: €21.00 more Credits needed"
    assert page.is_disabled("#j-submit")
    page.click("#add-jline")
    third = page.locator("tr.jline").nth(2)
    assert third.locator("input[name=account]").evaluate("el => el === document.activeElement")
    third.locator("input[name=account]").fill("445710")
    third.locator("input[name=credit]").fill("21,00")
    assert page.inner_text("#balance-state") == "Balanced"
    assert page.inner_text("#total-debit") == "Debits €121.00"
    assert page.is_enabled("#j-submit")
    shot(page, "21-journal-entry")
    accessible(page, "journal-entry")
    page.click("#j-submit")
    page.wait_for_selector("text=Sealed: test.journal #1")
    page.wait_for_selector("#journal-recent tr[data-seq='1']")

    status, out = console.call("GET", f"/v1/tenants/{second['tenant_id']}/entries?chain=test.journal",
                               token=token_of(console, email))
    assert status == 200, out
    [entry] = out["entries"]
    assert entry["data"]["total_debit"] == 12100 and entry["data"]["lines"][0]["aux_account"] == "DUPONT"
    status, out = console.call("GET", f"/v1/tenants/{first['tenant_id']}/entries?chain=test.journal",
                               token=first["token"])
    assert status == 404  # nothing in the first company

    # The reversal, with its reason.
    page.click(".tabs a:has-text('Entries')")
    page.wait_for_selector("#entries-table")
    page.select_option("#entries-chain", "test.journal")
    page.wait_for_selector("#entries-table tr[data-seq='1'] button.reverse")
    page.click("#entries-table tr[data-seq='1'] button.reverse")
    page.click(".reverse-form button[type=submit]")
    assert "Give the reason" in page.inner_text(".reverse-form .field-error")
    page.fill(".reverse-form textarea", "Invoice keyed twice; the right one is FA-2026-0043")
    page.click(".reverse-form button[type=submit]")
    page.wait_for_selector("text=Entry #1 is reversed by #2.")
    page.wait_for_selector("#entries-table tr[data-seq='1'] :text('Reversed by #2')")
    shot(page, "22-reversal")
    accessible(page, "reversal")
    status, out = console.call("GET", f"/v1/tenants/{second['tenant_id']}/entries/test.journal/2",
                               token=token_of(console, email))
    assert out["type"] == "reversal" and out["data"]["reason"].startswith("Invoice keyed twice")

    # Chains: verified now; a checkpoint signed on demand.
    page.click(".tabs a:has-text('Chains')")
    page.wait_for_selector("section[data-ready]")
    assert page.get_attribute(".verify-status[data-chain='test.journal']", "data-status") == "ok"
    page.click("#chains tr[data-chain='test.journal'] button.link")
    page.wait_for_selector("#cp-title")
    if page.is_visible("#sign-checkpoint"):
        page.click("#sign-checkpoint")
    page.wait_for_selector("#checkpoints td:text-is('2')")
    shot(page, "23-chains")
    accessible(page, "chains")

    # The event journal and the anomalies.
    page.click(".tabs a:has-text('Events')")
    page.wait_for_selector("#events-list tr[data-kind]")
    page.fill("#events-kind", "invitation")
    kinds = page.eval_on_selector_all("#events-list tr[data-kind]", "rows => rows.map(r => r.dataset.kind)")
    assert kinds and all("invitation" in k for k in kinds)
    # by whom: the member's name, not a user id (events carry ids; the members list names them)
    actors = page.eval_on_selector_all("#events-list tr[data-kind] td:nth-child(4)",
                                       "cells => cells.map(c => c.textContent)")
    assert actors and all(a and not re.fullmatch(r"[0-9a-f-]{36}", a) for a in actors), actors
    shot(page, "24-events")
    accessible(page, "events")
    page.click(".tabs a:has-text('Anomalies')")
    page.wait_for_selector("#anomalies-list :is(table, .notice)")
    assert page.js_errors == []
