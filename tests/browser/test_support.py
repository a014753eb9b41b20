"""Support: a member opens a ticket with an attachment (uploaded with the pre-signed POST the API
returns, under the console's real policy: its CSP names the storage's origin, the bucket's CORS
rule the console's) and sees the first-response clock; the platform operator finds it in the queue, downloads
the attachment, answers it, which stops the clock; the operator's news, mailings and alarms."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import accessible, new_page, operator_email, shot, sign_in
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def storage() -> str:
    from chalicelib import bootstrap
    from chalicelib.local.gateway import storage_origin

    return storage_origin(bootstrap.settings().aws_endpoint_url)


def test_the_policy_names_exactly_the_storage_and_the_bucket_allows_only_the_console(console):
    """The local gateway's CSP adds one origin to ``connect-src``, the embedded S3's, which the API's
    pre-signed uploads use; the support bucket's CORS rule (chalicelib/resources.py, set by
    chalicelib/local/provision.py) lets the console's origin POST to it, and no other origin."""
    from chalicelib import bootstrap

    with urllib.request.urlopen(console.base + "/", timeout=10) as resp:
        csp = resp.headers["Content-Security-Policy"]
    assert re.search(r"connect-src ([^;]*);", csp).group(1) == f"'self' {storage()}"
    bucket = f"{storage()}/{bootstrap.settings().bucket_name('support')}"

    def preflight(origin: str) -> tuple[int, str | None]:
        req = urllib.request.Request(bucket, method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Access-Control-Allow-Origin")

    assert preflight(console.base) == (200, console.base)
    status, _ = preflight("http://evil.example")
    assert status == 403


def test_a_ticket_with_an_attachment_is_answered_by_the_operator(page, browser, console):
    account = console.account(company_name="Boucherie Support")
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.click("#nav a:has-text('Support')")
    page.wait_for_selector("#ticket-form")
    page.click("#ticket-submit")
    assert "Give a subject" in page.inner_text("#ticket-form")
    page.fill("#ticket-subject", "The printer skips the QR code")
    page.fill("#ticket-body", "Since this morning the receipts come out without their QR code.\nPhoto attached.")
    page.set_input_files("#ticket-file", files=[{"name": "printer-log.txt", "mimeType": "text/plain",
                                                 "buffer": b"12:01 print R1/42: QR skipped\n"}])
    shot(page, "40-ticket-new")
    accessible(page, "support")
    page.click("#ticket-submit")
    page.wait_for_selector("#thread")
    assert page.get_attribute("#ticket-clock .clock", "data-clock") in ("running", "overdue")
    page.wait_for_selector("#thread a.attachment-link:has-text('printer-log.txt')")
    shot(page, "41-ticket")
    accessible(page, "ticket")
    assert page.js_errors == []  # the upload went through under the real policy
    ticket_url = page.url

    op_context, op = new_page(browser, console, timezone_id="Europe/Brussels")
    try:
        sign_in(op, operator_email(), PASSWORD)
        assert op.inner_text("#my-role") == "Platform operator"
        assert "Books" not in op.inner_text("#nav") and "Till" not in op.inner_text("#nav")
        op.click("#nav a:has-text('Ticket queue')")
        op.wait_for_selector("#queue")
        op.click("#queue a:has-text('The printer skips the QR code')")
        op.wait_for_selector("#thread")
        assert "Boucherie Support" in op.inner_text("main")
        link = op.locator("#thread a.attachment-link")
        assert link.inner_text().startswith("Attachment: printer-log.txt")
        with op.expect_download() as downloading:
            link.click()
        assert downloading.value.suggested_filename == "printer-log.txt"
        op.fill("#op-reply", "Thanks: update the printer's firmware from its menu, then restart it.")
        shot(op, "42-operator-ticket")
        accessible(op, "operator's ticket")
        op.click("#op-send")
        op.wait_for_selector("#ticket-clock [data-clock='answered']")
        assert "Waiting for the client" in op.inner_text("#ticket-status")

        # News, mailings and alarms: the operator's other screens.
        op.click("#nav a:has-text('News')")
        op.fill("#news-title", "Maintenance on Sunday")
        op.fill("#news-body", "The service pauses on Sunday from 02:00 to 02:30.")
        op.fill("#news-until", "2099-12-31")  # the last day it shows, where the operator is
        op.click("#news-submit")
        op.wait_for_selector("#news th:text-is('Maintenance on Sunday')")
        listed = op.inner_text("#news tr:has(th:text-is('Maintenance on Sunday'))")
        assert "31 Dec 2099" in listed and "2100" not in listed, listed  # it read "1 Jan 2100, 00:59"
        op.click("#nav a:has-text('Mailings')")
        op.wait_for_selector("#mailing-subject")
        op.click("#nav a:has-text('Alarms')")
        op.wait_for_selector("h1:has-text('Tamper alarms')")
        shot(op, "43-alarms")
        accessible(op, "alarms")
        assert op.js_errors == []
    finally:
        op_context.close()

    # The member sees the answer, the clock stopped, and the news on the home screen.
    page.goto(ticket_url)
    page.reload()
    page.wait_for_selector("#thread li[data-author='operator']")
    assert page.get_attribute("#ticket-clock .clock", "data-clock") == "answered"
    page.click("#nav a:has-text('Home')")
    page.wait_for_selector("#news-home :text('Maintenance on Sunday')")
    assert page.js_errors == []
