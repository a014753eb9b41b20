"""The web console (console/) in a real browser: Playwright for Python driving Debian's Chromium,
headless, against the embedded stack (the session's moto server, the Chalice app behind the same
request handler as ``scelle local``, which serves console/ at ``/``).

The server's clock is the real one plus ``console.clock.offset``: a test moves it a day ahead to
close the day it sold in (a day can be closed only once it has ended). Screenshots of each main
screen go to build/screenshots/ (gitignored), kept as test artifacts. ``accessible(page, name)``
runs axe-core (tests/browser/vendor/) on the screen shown and fails on a serious or critical
violation of a WCAG 2.1 A/AA rule. test_make_run.py runs one journey against a real
``scelle local`` instead."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_TOKEN = re.compile(r"^token: (\S+)$", re.MULTILINE)


class ShiftedClock:
    """The time source of every sealed record: now, plus an offset a test may move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Console:
    base: str
    clock: ShiftedClock
    operator_token: str

    def business_day(self) -> str:
        """The default tenant's business day on the server's (shifted) clock: a piece date or an
        export's end (``tests.support.bodies.business_today``)."""
        from tests.support.bodies import business_today

        return business_today(self.clock())

    def call(self, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, (json.loads(raw) if raw else None)

    def mailed_token(self, email: str) -> str:
        status, out = self.call("GET", f"/v1/local/outbox?to={email}&limit=5",
                                headers={"Authorization": f"Bearer {self.operator_token}"})
        assert status == 200, out
        for message in out["messages"]:
            found = _TOKEN.search(message["text"])
            if found:
                return found.group(1)
        raise AssertionError(f"no mail with a token to {email}")

    def mailed_link(self, email: str, prefix: str) -> str:
        """The newest console link mailed to ``email`` whose path starts with ``prefix``."""
        status, out = self.call("GET", f"/v1/local/outbox?to={email}&limit=5",
                                headers={"Authorization": f"Bearer {self.operator_token}"})
        assert status == 200, out
        for message in out["messages"]:
            found = re.search(r"(https?://\S+?" + re.escape(prefix) + r"\S+)", message["text"])
            if found:
                return found.group(1)
        raise AssertionError(f"no mail with a {prefix} link to {email}")

    def account(self, country: str = "BE", **overrides) -> dict:
        """A signed-up, verified company admin (through the API): body, tenant_id, token."""
        from tests.support.users import signup_body

        body = signup_body(country, **overrides)
        status, out = self.call("POST", "/v1/signup", body)
        assert status == 201, out
        status, _ = self.call("POST", "/v1/verify-email", {"token": self.mailed_token(body["email"])})
        assert status == 200
        status, tokens = self.call("POST", "/v1/auth/signin", {"email": body["email"], "password": body["password"]})
        assert status == 200, tokens
        return {"body": body, "tenant_id": out["tenant_id"], "token": tokens["access_token"]}

    def sales(self, account: dict, chain: str = "test.sales.R1") -> list[dict]:
        status, out = self.call("GET", f"/v1/tenants/{account['tenant_id']}/entries?chain={chain}&limit=500",
                                token=account["token"])
        if status == 404 and out.get("field") == "chain":
            return []  # no sale yet: the register's chain is created by its first sale
        assert status == 200, out
        return [e for e in out["entries"] if e["type"] == "sale"]


@pytest.fixture(scope="session")
def console(stack):
    """The app on a real HTTP server with the stack's settings, except ``public_base_url``: this
    server's address, as ``scelle local`` has it (the mails' links and the receipts' QR codes open
    this console), and the support bucket's CORS rule for this origin (chalicelib/local/provision.py)."""
    from app import app
    from chalicelib import bootstrap
    from chalicelib.local import operator_token
    from chalicelib.local.provision import ensure_bucket_cors
    from tests.support.http_server import HttpServer

    clock = ShiftedClock()
    server = HttpServer(app, name="console-http")
    base = f"http://127.0.0.1:{server.port}"
    settings = stack.settings.model_copy(update={"public_base_url": base})
    container = bootstrap.configure(settings, clock=clock)
    ensure_bucket_cors(container.client("s3"), settings)
    try:
        yield Console(base, clock, operator_token.read(stack.settings.data_dir))
    finally:
        server.stop()
        bootstrap.configure(stack.settings)


@pytest.fixture(autouse=True)
def _real_time(console):
    console.clock.offset = timedelta(0)
    yield
    console.clock.offset = timedelta(0)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)"
        if os.environ.get("CI") or os.environ.get("SCELLE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 820, "height": 1180}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def new_page(browser, console, locale: str = "en-GB", **options):
    """A page in a new context; ``console``: the in-process console, or a base URL."""
    options.setdefault("viewport", DESKTOP)
    base = console if isinstance(console, str) else console.base
    context = browser.new_context(base_url=base, locale=locale, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    # Script errors and CSP refusals; a refused request (a 4xx a test provokes) is no script error.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return context, page


@pytest.fixture
def page(browser, console):
    context, pg = new_page(browser, console)
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, email: str, password: str) -> None:
    page.goto("/#/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_selector("#my-role")


def join(console: Console, account: dict, role: str, email: str, *, new_account: bool = True) -> dict:
    """``email`` joins ``account``'s company with ``role`` (auditor: through a 30-day grant), through
    the API; returns the invitation's answer. ``new_account=False``: the address has an account already."""
    from tests.support.users import PASSWORD

    if role == "auditor":
        path, body = "auditor-grants", {"email": email, "days": 30, "note": "Browser test"}
    else:
        path, body = "invitations", {"email": email, "role": role}
    status, out = console.call("POST", f"/v1/tenants/{account['tenant_id']}/{path}", body, token=account["token"])
    assert status == 201, out
    accept = {"token": console.mailed_token(email)}
    if new_account:
        accept["password"] = PASSWORD
    status, out = console.call("POST", "/v1/invitations/accept", accept)
    assert status == 200, out
    return out


def token_of(console: Console, email: str) -> str:
    from tests.support.users import PASSWORD

    status, out = console.call("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})
    assert status == 200, out
    return out["access_token"]


def operator_email() -> str:
    """A new platform operator (no HTTP route creates one: the accounts service does)."""
    from chalicelib import bootstrap
    from tests.support.users import PASSWORD, unique_email

    email = unique_email("operator")
    bootstrap.container().accounts.create_operator(email, PASSWORD)
    return email


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def accessible(page, name: str) -> list[dict]:
    """axe-core's WCAG 2.1 A and AA rules on the screen shown: no serious or critical violation.
    axe is evaluated through the DevTools protocol (never served: the page's CSP stays as it is).
    Returns the minor and moderate ones (not failures)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("""async (tags) => {
      const r = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + ": " + (n.failureSummary || "")) }));
    }""", WCAG_21_AA)
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: accessibility violations\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in bad)
    return [v for v in result if v not in bad]
