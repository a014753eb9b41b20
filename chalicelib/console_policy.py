"""The web console's URL map and response headers: one definition for ``scelle local`` and for AWS.

``chalicelib.local.gateway`` serves ``console/`` with these headers; the CDK stack
(``infra/stacks/console.py``) gives CloudFront the same pages and the same headers (a response
headers policy), so the console runs under one policy everywhere. Pure data: no I/O, no AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

# The console's single page, at these paths (``/check``: the page a receipt's QR code opens).
CONSOLE_PAGES = frozenset({"/", "/index.html", "/check"})
CONSOLE_PAGE_FILE = "index.html"  # the file of console/ every page path serves
CONSOLE_PREFIX = "/console/"  # console/<file> is served at /console/<file>

# No inline script or style, no other origin: the console talks to its own origin's API only
# (``connect_src`` adds origins it may also reach, e.g. the storage a pre-signed upload goes to).
_CSP_BEFORE_CONNECT = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:"
_CSP_AFTER_CONNECT = ("font-src 'self'; manifest-src 'self'; base-uri 'none'; "
                      "form-action 'self'; frame-ancestors 'none'")


def content_security_policy(connect_src: Iterable[str] = ()) -> str:
    """The console's Content-Security-Policy; ``connect_src``: origins allowed besides ``'self'``."""
    connect = " ".join(["'self'", *connect_src])
    return f"{_CSP_BEFORE_CONNECT}; connect-src {connect}; {_CSP_AFTER_CONNECT}"


CONSOLE_CSP = content_security_policy()


def console_headers(connect_src: Iterable[str] = ()) -> dict[str, str]:
    """The headers of every console answer (pages and files alike; no file name is hashed, so
    browsers revalidate each one: ``no-cache``)."""
    return {
        "Content-Security-Policy": content_security_policy(connect_src),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


CONSOLE_HEADERS = console_headers()
