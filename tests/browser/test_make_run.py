"""From ``make run`` to a verified export without leaving the browser, against a real
``scelle local`` (a child process on a free port, its own data directory, its own embedded S3,
stream pump and scheduler): sign-up, the mail's link, sign-in, a sale, the export of that day
(requested, followed, downloaded through its signed link), ``scelle verify`` of the archive
with the published keys, and the same verification in the browser ("Verify here", then anchored
to the published keys). Nothing here runs the event pump: ``scelle local``'s own does, every
second, as it does for a user."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, Console, ShiftedClock, accessible, new_page, shot
from tests.support.users import PASSWORD, be_enterprise_number, unique_email

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SCELLE = Path(sys.executable).parent / "scelle"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """``scelle local --port <free> --data-dir <tmp>`` with none of the test session's settings."""
    from chalicelib.local import operator_token
    from chalicelib.local.moto_server import free_port

    data_dir = tmp_path_factory.mktemp("scelle-local")
    port = free_port("127.0.0.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCELLE_", "AWS_", "MOTO_"))}
    log = (data_dir / "scelle-local.log").open("w")
    proc = subprocess.Popen([str(SCELLE), "local", "--port", str(port), "--data-dir", str(data_dir)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("scelle local did not start:\n" + (data_dir / "scelle-local.log").read_text())
                time.sleep(0.2)
        yield Console(base, ShiftedClock(), operator_token.read(data_dir))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_from_make_run_to_a_verified_export_in_the_browser(browser, local, tmp_path):
    context, page = new_page(browser, local.base)
    try:
        number = be_enterprise_number()
        email = unique_email("baker")
        page.goto("/")
        page.click("text=Sign up your company")
        page.fill("input[name=company_name]", "Boulangerie Locale")
        page.fill("input[name=company_number]", number)
        page.fill("input[name=vat_number]", f"BE{number}")
        page.fill("input[name=line1]", "Grand-Place 1")
        page.fill("input[name=postal_code]", "1000")
        page.fill("input[name=city]", "Bruxelles")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Sign up')")
        page.wait_for_selector("h1:has-text('Verify your email address')")
        page.goto(local.mailed_link(email, "/#/verify?token="))  # the mail's link, as mailed
        page.wait_for_selector("text=Your email address is verified")
        page.click("main a:has-text('Sign in')")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_selector("#my-role")

        page.click("#tile-till")
        page.wait_for_selector("#rate-6")
        page.fill("#line-description", "Pain au chocolat")
        page.fill("#line-quantity", "3")
        page.fill("#line-price", "1,40")
        page.check("#rate-6", force=True)
        page.click("#add-line")
        page.click("#pay-exact-cash")
        page.click("#record-sale")
        page.wait_for_selector("text=Recorded: receipt R1 / 1")
        page.click("#show-receipt")
        assert page.get_attribute("#receipt svg.qr", "data-text").startswith(local.base + "/check?")

        _, tokens = local.call("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})
        account = {"tenant_id": page.evaluate("sessionStorage.getItem('scelle.tenant')"),
                   "token": tokens["access_token"]}
        [sale] = local.sales(account)
        day = sale["data"]["business_date"]

        page.click("#nav a:has-text('Exports')")
        page.wait_for_selector("#export-form")
        page.fill("#export-from", day)
        page.fill("#export-to", day)
        page.click("#export-submit")
        page.wait_for_selector("#export-jobs .job:is([data-status='done'], [data-status='failed'])", timeout=90_000)
        job = page.locator("#export-jobs .job").first
        assert job.get_attribute("data-status") == "done", job.inner_text()
        assert "NOT FISCAL" in job.inner_text()
        shot(page, "09-export")
        accessible(page, "exports")
        with page.expect_download() as downloading:
            job.locator("a.download").click()
        archive = tmp_path / downloading.value.suggested_filename
        downloading.value.save_as(archive)
        assert job.locator(".sha256").inner_text() == hashlib.sha256(archive.read_bytes()).hexdigest()
        keys = tmp_path / "keys.json"  # the console's "keys.json" link: the published keys, the trust anchor
        keys.write_text(json.dumps(local.call("GET", "/v1/keys")[1]))
        verified = subprocess.run([str(SCELLE), "verify", "--trusted-key", str(keys), str(archive)],
                                  capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "RESULT: OK" in verified.stdout and "NOT FISCAL" in verified.stdout

        # The same archive verified without leaving the browser, then anchored to the published keys.
        job.locator("button.verify-here").click()
        page.wait_for_selector("#vx-verdict[data-status='unanchored']", timeout=60_000)
        page.click("#vx-anchor")
        page.wait_for_selector("#vx-verdict[data-status='verified']", timeout=30_000)
        assert "is one of the keys this platform publishes" in page.inner_text("#vx-verdict")
        shot(page, "10-verified-in-browser")
        accessible(page, "export verified in the browser")
        assert page.js_errors == []
    finally:
        context.close()
