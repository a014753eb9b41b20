"""The exports screen: the company's export jobs listed from the API (whoever requested them, in
whatever tab), newest first, page by page; and the *How to verify* card's downloads: the slim
verifier (which runs), its SHA-256, and the auditor guide in the user's language."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import urllib.request

import pytest

from tests.browser.conftest import ROOT, accessible, shot, sign_in
from tests.support.bodies import business_today

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
TODAY = business_today()


def request_export(console, account) -> str:
    status, job = console.call("POST", f"/v1/tenants/{account['tenant_id']}/exports",
                               {"format": "fiscal", "from": TODAY, "to": TODAY}, token=account["token"])
    assert status == 202, job
    return job["job_id"]


def test_the_company_s_jobs_are_listed_newest_first_and_a_done_one_gets_its_link(page, console):
    account = console.account()
    requested = [request_export(console, account) for _ in range(11)]  # through the API, not this tab
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.goto("/#/exports")
    page.wait_for_selector("#export-jobs .job")
    cards = page.locator("#export-jobs .job")
    assert cards.count() == 10
    page.click("#export-more")
    page.wait_for_selector(f"#export-jobs .job[data-job='{requested[0]}']")
    listed = page.eval_on_selector_all("#export-jobs .job", "els => els.map(e => e.dataset.job)")
    assert listed == requested[::-1]  # every job once, newest first
    assert page.is_hidden("#export-more")

    newest = f"#export-jobs .job[data-job='{requested[-1]}']"
    page.wait_for_selector(f"{newest}[data-status='done']", timeout=30_000)  # followed until built
    if page.locator(f"{newest} a.download").count() == 0:  # listed done already: the link on request
        page.click(f"{newest} .get-link")
    page.wait_for_selector(f"{newest} a.download")
    file_name = page.inner_text(f"{newest} .file-name")
    commands = page.locator("#verify-help pre code")
    assert all(file_name in commands.nth(i).inner_text() for i in range(commands.count()))
    shot(page, "34-exports-list")
    accessible(page, "exports-list")
    assert page.js_errors == []


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.headers["Content-Type"], resp.read()


def test_the_verify_card_offers_the_slim_verifier_and_the_guide_in_the_user_s_language(page, console, tmp_path):
    account = console.account()
    sign_in(page, account["body"]["email"], account["body"]["password"])
    page.goto("/#/exports")
    page.wait_for_selector("#verify-help #verifier-link")
    page.wait_for_function("document.querySelector('#verifier-sha256').textContent.length === 64")
    help_text = page.inner_text("#verify-help")
    assert "<" not in help_text and ">" not in help_text  # commands without placeholders to fill in

    # The links answer, with their content types.
    verifier_href = page.get_attribute("#verifier-link", "href")
    guide_href = page.get_attribute("#guide-link", "href")
    assert verifier_href == "/console/downloads/scelle-verify.pyz"
    assert guide_href == "/console/downloads/auditor-guide.en.md"
    status, kind, pyz = _get(console.base + verifier_href)
    assert status == 200 and kind == "application/octet-stream" and pyz.startswith(b"#!/usr/bin/env python3\n")
    status, kind, checksum = _get(console.base + verifier_href + ".sha256")
    assert status == 200 and kind == "text/plain; charset=utf-8"
    status, kind, guide = _get(console.base + guide_href)
    assert status == 200 and kind == "text/markdown; charset=utf-8"
    assert guide == (ROOT / "docs" / "auditor-guide.en.md").read_bytes()

    # The downloaded verifier is the one whose SHA-256 the card shows, and it runs.
    with page.expect_download() as downloading:
        page.click("#verifier-link")
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    assert saved.name == "scelle-verify.pyz" and saved.read_bytes() == pyz
    digest = hashlib.sha256(pyz).hexdigest()
    assert page.inner_text("#verifier-sha256") == digest and checksum.decode() == f"{digest}  scelle-verify.pyz\n"
    ran = subprocess.run([sys.executable, str(saved), "--help"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "--trusted-key" in ran.stdout, ran.stderr

    # The guide follows the interface's language: French in French, English otherwise.
    with page.expect_download() as guide_download:
        page.click("#guide-link")
    assert guide_download.value.suggested_filename == "auditor-guide.en.md"
    for lang, file in (("fr", "auditor-guide.fr.md"), ("nl", "auditor-guide.en.md"), ("en", "auditor-guide.en.md")):
        page.select_option("#lang", lang)
        page.wait_for_selector(f"#guide-link[href='/console/downloads/{file}']")
        assert page.evaluate("document.documentElement.lang").startswith(lang)
    page.select_option("#lang", "fr")
    page.wait_for_selector("#guide-link[hreflang='fr']")
    assert "guide du contrôleur" in page.inner_text("#guide-link")
    status, _, french = _get(console.base + page.get_attribute("#guide-link", "href"))
    assert status == 200 and french == (ROOT / "docs" / "auditor-guide.fr.md").read_bytes()
    shot(page, "35-exports-verify-card-fr")
    accessible(page, "exports-verify-card")
    page.select_option("#lang", "en")
    assert page.js_errors == []


def test_an_unknown_download_is_not_served(console):
    for path in ("/console/downloads/", "/console/downloads/secret.md", "/console/downloads/..%2Fdocs%2Fsecurity.md",
                 "/console/downloads/scelle-verify.pyz/x"):
        try:
            urllib.request.urlopen(console.base + path, timeout=10)
            raise AssertionError(f"{path} was served")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404, path
