"""Administration: an admin changes the company's settings, invites a member who accepts through
the mailed link (``#/accept?token=…``) and signs in, changes their role, removes them, and grants a
tax auditor read-only access; the auditor sees the company's exports and how to verify them."""

from __future__ import annotations

import pytest

from tests.browser.conftest import accessible, join, new_page, shot, sign_in, token_of
from tests.support.users import PASSWORD, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_admin_invites_a_member_who_accepts_then_changes_the_role_and_removes_them(page, browser, console):
    account = console.account(company_name="Épicerie Admin")
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.click("#nav a:has-text('Administration')")
    page.wait_for_selector("#settings-form")

    # Settings: opening hours (journaled; time zone and cut-off stay open until a first closure).
    page.check("#hours-on")
    page.fill("#hours-mon", "09:00-12:30, 13:30-18:00")
    page.fill("#hours-tue", "25:00-26:00")
    page.click("#settings-save")
    page.wait_for_selector("#settings-form .field:has(#hours-tue) .field-error:not(:empty)")
    page.fill("#hours-tue", "09:00-18:00")
    page.click("#settings-save")
    page.wait_for_selector("text=Settings saved.")
    _, settings = console.call("GET", f"/v1/tenants/{account['tenant_id']}/settings", token=account["token"])
    hours = settings["opening_hours"]
    assert hours["mon"] == ["09:00-12:30", "13:30-18:00"] and hours["tue"] == ["09:00-18:00"] and hours["wed"] is None

    # The invitation.
    email = unique_email("manager")
    page.fill("#invite-email", email)
    page.select_option("#invite-role", "manager")
    page.fill("#invite-name", "Marc Gérant")
    page.click("#invite-submit")
    page.wait_for_selector(f"#invitations tr[data-email='{email}']")
    shot(page, "30-admin")
    accessible(page, "admin")

    context, invitee = new_page(browser, console, locale="fr-BE")
    try:
        invitee.goto(f"/#/accept?token={console.mailed_token(email)}")
        invitee.wait_for_selector("h1:has-text('Accepter une invitation')")
        invitee.fill("#accept-password", PASSWORD)
        shot(invitee, "31-accept")
        accessible(invitee, "accept")
        invitee.click("#accept-submit")
        invitee.wait_for_selector("#accepted :text('Marc Gérant')")
        invitee.click("#accepted a")
        invitee.fill("input[name=password]", PASSWORD)
        invitee.click("form button[type=submit]")
        invitee.wait_for_selector("#my-role")
        assert invitee.inner_text("#my-role") == "Gérant"  # in the browser's language
        nav = invitee.inner_text("#nav")
        assert "Caisse" in nav and "Clôture" in nav
        assert "Administration" not in nav and "Exports" not in nav
        assert invitee.js_errors == []
    finally:
        context.close()

    # The member, now active: their role changed, then removed (disabled; it can be undone).
    page.reload()
    row = page.locator(f"#members tr[data-email='{email}']")
    row.wait_for()
    assert row.get_attribute("data-status") == "active"
    row.locator("select.member-role").select_option("seller")
    row.locator("button:has-text('Save')").click()
    page.wait_for_selector(f"text={email} is updated.")
    _, roster = console.call("GET", f"/v1/tenants/{account['tenant_id']}/members", token=account["token"])
    assert {m["email"]: m["role"] for m in roster["members"]}[email] == "seller"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#members tr[data-email='{email}'] button:has-text('Remove')").click()
    page.wait_for_selector(f"#members tr[data-email='{email}'][data-status='disabled']")
    status, _ = console.call("GET", f"/v1/tenants/{account['tenant_id']}", token=token_of(console, email))
    assert status == 404  # a disabled member is refused at once

    # An auditor grant, listed as pending until accepted.
    auditor = unique_email("auditor")
    page.fill("#grant-email", auditor)
    page.fill("#grant-days", "14")
    page.fill("#grant-note", "SPF Finances, dossier 2026/117")
    page.click("#grant-submit")
    page.wait_for_selector(f"#grants tr[data-email='{auditor}'][data-status='pending']")
    shot(page, "32-grants")
    accessible(page, "grants")
    assert page.js_errors == []


def test_an_auditor_sees_the_granted_company_exports_it_and_is_told_how_to_verify(page, console):
    account = console.account(company_name="Cave Contrôlée")
    status, _ = console.call("POST", f"/v1/tenants/{account['tenant_id']}/go-live", {"confirm": True},
                             token=account["token"])
    assert status == 200  # an auditor exports production data only
    email = unique_email("auditor")
    join(console, account, "auditor", email)

    sign_in(page, email, PASSWORD)
    assert page.inner_text("#my-role") == "Auditor"
    assert page.is_visible("#valid-until")  # a grant ends by itself
    nav = page.inner_text("#nav")
    assert "Exports" in nav and "Books" in nav
    assert "Till" not in nav and "Administration" not in nav and "Support" not in nav and "Closing" not in nav
    page.click("#tile-exports")
    page.wait_for_selector("#verify-help")
    assert "Cave Contrôlée" in page.inner_text("main")
    assert page.get_attribute("#keys-link", "href") == "/v1/keys"
    assert "scelle verify --trusted-key keys.json" in page.inner_text("#verify-help")
    page.click("#export-submit")
    page.wait_for_selector("#export-jobs .job[data-status='done'] a.download", timeout=30_000)
    shot(page, "33-auditor-exports")
    accessible(page, "auditor-exports")
    with page.expect_download() as downloading:
        page.click("#export-jobs a.download")
    assert downloading.value.suggested_filename.startswith("scelle-fiscal-")
    with page.expect_download() as keys:
        page.click("#keys-link")
    assert keys.value.suggested_filename == "keys.json"

    # The books, read-only: chains verified, no journal entry form, no reversal.
    page.click("#nav a:has-text('Books')")
    page.wait_for_selector("h1:has-text('Entries')")
    assert page.locator(".tabs a:has-text('Journal entry')").count() == 0
    assert page.locator("button.reverse").count() == 0
    assert page.js_errors == []
