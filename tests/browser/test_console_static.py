"""How the local gateway serves console/: at ``/`` and under ``/console/`` only, with a strict
Content-Security-Policy; ``/v1/...`` and the rest still reach the app; nothing outside console/."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from chalicelib.local.gateway import CONSOLE_DIR, console_file

pytestmark = pytest.mark.integration


def get(base: str, path: str):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_the_console_is_served_with_a_strict_csp_and_never_shadows_the_api(console):
    status, headers, body = get(console.base, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert b"<script type=\"module\" src=\"/console/js/app.js\">" in body
    assert b"style=" not in body and re.search(rb"<script>(?!</script>)", body) is None  # nothing inline
    status, headers, _ = get(console.base, "/console/js/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, headers, _ = get(console.base, "/check?t=x&c=y&s=1&h=z")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    # The API is untouched: JSON and problem+json, no console page.
    status, headers, body = get(console.base, "/health")
    assert headers["Content-Type"].startswith("application/json")
    status, headers, _ = get(console.base, "/v1/no-such-route")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    for path in ("/console/../pyproject.toml", "/console/%2e%2e/pyproject.toml", "/console/", "/console/nope.js",
                 "/index.htm", "/console/js/../../app.py"):
        status, headers, _ = get(console.base, path)
        assert status == 404, path


def test_console_file_stays_inside_the_console_folder():
    assert console_file("/") == CONSOLE_DIR / "index.html"
    assert console_file("/?x=1") == CONSOLE_DIR / "index.html"
    assert console_file("/console/css/console.css") == (CONSOLE_DIR / "css" / "console.css").resolve()
    for target in ("/v1/me", "/health", "/openapi.json", "/console/..%2fREADME.md", "/console/.hidden",
                   "/console//etc/passwd", "/console/vendor/README.md", "/consolex/js/app.js"):
        assert console_file(target) is None, target


def test_every_message_exists_in_the_three_languages():
    keys = {}
    for lang in ("en", "fr", "nl"):
        text = (CONSOLE_DIR / "i18n" / f"{lang}.js").read_text(encoding="utf-8")
        keys[lang] = set(re.findall(r'"([a-z_]+\.[A-Za-z0-9_]+)":', text))
    assert keys["en"] and keys["en"] == keys["fr"] == keys["nl"]
    used = set()
    for source in (CONSOLE_DIR / "js").rglob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_]+\.[A-Za-z0-9_]+)"', source.read_text(encoding="utf-8")))
    assert used - keys["en"] == set()
