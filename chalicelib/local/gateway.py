"""Chalice's local gateway and HTTP handler, answering their own errors as RFC 9457 problems.

API Gateway answers unknown routes and refused tokens itself, before any Lambda runs; on AWS the
CDK stack maps those gateway responses to problem bodies. This module does the same for
``scelle local`` and for the tests, so a client sees one error format everywhere:

- ``ProblemLocalGateway`` (used by the HTTP handler and by the in-process test client): unknown
  routes, refused tokens, oversized bodies, and methods API Gateway has no routes for (``TRACE``,
  ``CONNECT``, ``FOO``...: 405, with ``Allow`` when the path is a known route).
- ``ProblemRequestHandler`` (the HTTP server of ``scelle local``): every request method reaches
  the gateway (Python's ``http.server`` would answer an unknown one with an HTML 501), errors the
  HTTP layer itself raises (malformed request line, URI too long...) are problem objects too, and
  a ``HEAD`` answer carries no body. ``with_request_log(sink)`` makes a handler that reports every
  answer (method, target, status, milliseconds) to ``sink``: the terminal's request line.
- The web console (``console/``, docs/console.md): ``GET``/``HEAD`` of ``/``, ``/check`` (the page a
  receipt's QR code opens) and ``/console/<file>`` are answered from that folder, with a strict
  Content-Security-Policy, and ``/console/downloads/<file>`` (the slim verifier, its checksum, the
  auditor guides: ``chalicelib/local/downloads.py``) from the folder prepared for them; every other
  path (``/v1/...``, ``/health``...) goes to the app as before.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from chalice.local import ChaliceRequestHandler, LocalGateway, LocalGatewayException, RouteMatcher

# The pages, the Content-Security-Policy and the headers: shared with the CDK stack (CloudFront).
from chalicelib.console_policy import (  # noqa: F401
    CONSOLE_CSP,
    CONSOLE_HEADERS,
    CONSOLE_PAGES,
    CONSOLE_PREFIX,
    console_headers,
)
from chalicelib.local.downloads import TYPES as DOWNLOAD_TYPES
from chalicelib.local.downloads import URL_PREFIX as DOWNLOADS_PREFIX
from chalicelib.local.downloads import download_file

PROBLEM_JSON = "application/problem+json"
_TYPE = "https://scelle.example/problems/"
# The methods an API Gateway REST API can route (Chalice's too). Any other one never reaches the
# app: the app answers these itself (404 on an unknown path, 405 with Allow on a known one).
API_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What AWS refuses on the way back (docs/operations.md, "AWS limits enforced locally"): a Lambda's
# synchronous response is at most 6 MB (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html;
# API Gateway then answers 502), and API Gateway waits 29 s for its integration
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html; then 504, while the
# Lambda may still finish its work).
MAX_RESPONSE_BYTES = 6_291_456
INTEGRATION_TIMEOUT_SECONDS = 29.0


def _problem(status: int, code: str, title: str, detail: str,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"type": _TYPE + code, "title": title, "status": status, "detail": detail}
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_JSON, **(headers or {})},
        "multiValueHeaders": {},
        "body": json.dumps(body),
    }


# The web console: plain static files, served beside the API by `scelle local` (on AWS: S3 and
# CloudFront). Only these paths; everything else, /v1/... above all, reaches the app.
CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
CONSOLE_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
    ".ico": "image/x-icon", ".webmanifest": "application/manifest+json", ".txt": "text/plain; charset=utf-8",
}


def console_type(found: Path) -> str:
    """The Content-Type of a file ``console_file`` found."""
    return CONSOLE_TYPES.get(found.suffix) or DOWNLOAD_TYPES[found.suffix]


def console_file(target: str, root: Path = CONSOLE_DIR) -> Path | None:
    """The file of ``console/`` a ``GET`` of ``target`` (path and query) serves, or None when the
    path is not the console's (then the app answers it). Never leaves ``root``."""
    path = urlsplit(target).path
    if path.startswith(DOWNLOADS_PREFIX):
        return download_file(path)
    if path in CONSOLE_PAGES:
        page = root / "index.html"
        return page if page.is_file() else None
    if not path.startswith(CONSOLE_PREFIX):
        return None
    relative = unquote(path[len(CONSOLE_PREFIX):])
    parts = relative.split("/")
    if not relative or "\\" in relative or "\x00" in relative or any(p in ("", ".", "..") or p.startswith(".")
                                                                 for p in parts):
        return None
    candidate = (root / relative).resolve()
    base = root.resolve()
    if base not in candidate.parents or candidate.suffix not in CONSOLE_TYPES or not candidate.is_file():
        return None
    return candidate


def storage_origin(endpoint_url: str | None) -> str | None:
    """The origin (scheme://host:port) of the S3 endpoint the API signs its pre-signed URLs for:
    ``Settings.aws_endpoint_url`` locally (the embedded emulator); None without one."""
    parts = urlsplit(endpoint_url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def local_console_headers() -> dict[str, str]:
    """The console's headers as ``scelle local`` serves them: ``connect-src`` names exactly one more
    origin, the embedded S3 the ticket attachments' pre-signed POST goes to (the support bucket
    allows the console's origin in its CORS rule: chalicelib/local/provision.py)."""
    from chalicelib import bootstrap

    origin = storage_origin(bootstrap.settings().aws_endpoint_url)
    return console_headers([origin] if origin else [])


class ProblemLocalGateway(LocalGateway):
    def __init__(self, app_object, config, max_body_bytes: int = 10_485_760, *,
                 max_response_bytes: int = MAX_RESPONSE_BYTES, timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(app_object, config)
        self._max_body = max_body_bytes
        self._max_response = max_response_bytes
        self._timeout = timeout_seconds
        self._clock = clock
        self._routes = app_object.routes
        self._matcher = RouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        if method not in API_METHODS:
            return self._method_not_allowed(method, path)
        # API Gateway refuses payloads over 10 MB before any code runs; mirror it here.
        if body is not None and len(body) > self._max_body:
            return _problem(413, "payload-too-large", "Request body too large",
                            f"the body has {len(body)} bytes; the limit is {self._max_body}")
        started = self._clock()
        try:
            answer = super().handle_request(method=method, path=path, headers=headers, body=body)
        except LocalGatewayException as exc:
            return self._as_problem(exc, headers)
        return self._within_aws_limits(answer, self._clock() - started)

    def _within_aws_limits(self, answer: dict[str, Any], seconds: float) -> dict[str, Any]:
        if seconds > self._timeout:
            return _problem(504, "gateway-timeout", "Gateway timeout",
                            f"the request took {seconds:.1f} s; API Gateway answers 504 after {self._timeout:g} s "
                            "(the work may still have been done: retry with the same Idempotency-Key)")
        body = answer.get("body") or b""
        size = len(body.encode("utf-8") if isinstance(body, str) else body)
        if size > self._max_response:
            return _problem(502, "response-too-large", "Response too large",
                            f"the answer has {size} bytes; a Lambda answers at most {self._max_response} bytes "
                            "(ask for a smaller page)")
        return answer

    def _method_not_allowed(self, method: str, path: str) -> dict[str, Any]:
        """A method outside ``API_METHODS``. Known paths get the same answer (and ``Allow``) as the
        app's own 405 for a method the route lacks; unknown paths a 405 without ``Allow``."""
        shown = method if re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}", method) else "(not a method name)"
        try:
            route = self._matcher.match_route(path).route
        except ValueError:
            return _problem(405, "method-not-allowed", "Method not allowed", f"Unsupported method: {shown}")
        allowed = ", ".join(self._routes[route])
        return _problem(405, "method-not-allowed", "Method not allowed",
                        f"Unsupported method: {shown}; allowed: {allowed}", headers={"Allow": allowed})

    @staticmethod
    def _as_problem(exc: LocalGatewayException, headers: dict[str, str]) -> dict[str, Any]:
        raw = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
        if "Missing Authentication Token" in raw or "Authorization header requires" in raw:
            return _problem(404, "not-found", "Not found", "no such route")
        if exc.CODE in (401, 403):
            has_token = any(k.lower() == "authorization" for k in headers)
            detail = "the bearer token is invalid or expired" if has_token else "a bearer token is required"
            return _problem(401, "unauthenticated", "Authentication required", detail)
        return _problem(exc.CODE, "gateway-error", "Gateway error", raw)


class _UnreadableBody(Exception):
    """The request's body cannot be read (the connection cannot be kept: its framing is unknown)."""


class ProblemRequestHandler(ChaliceRequestHandler):
    """``chalice local``'s request handler with the problem-aware gateway. Every method, whatever
    its name, goes to the gateway; ``send_error`` (the HTTP layer's own refusals) writes a problem
    object instead of an HTML page."""

    # Told of every answer: (method, request target, status, milliseconds since the request line).
    request_log: Callable[[str, str, int, float], None] | None = None

    def __init__(self, request, client_address, server, app_object, config) -> None:
        self.local_gateway = ProblemLocalGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    @classmethod
    def with_request_log(cls, sink: Callable[[str, str, int, float], None]) -> type[ProblemRequestHandler]:
        return type(f"{cls.__name__}WithLog", (cls,), {"request_log": staticmethod(sink)})

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        return super().parse_request()

    def _parse_payload(self) -> tuple[dict[str, str], bytes | None]:
        """The body: ``Content-Length`` bytes, as Chalice reads it, or a chunked body de-chunked.
        Chalice's own reads only the former, so on a kept-alive connection the chunks were then
        read as the next request. A body that cannot be read is a 400 problem (connection closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            from werkzeug.serving import DechunkedInput

            limit = self.local_gateway._max_body
            try:
                body = DechunkedInput(self.rfile).read(limit + 1)
            except (OSError, ValueError):
                raise _UnreadableBody("the chunked request body is malformed") from None
            if len(body) > limit:
                self.close_connection = True  # the rest stays unread: the gateway answers 413
            return dict(self.headers), body or None
        length = self.headers.get("Content-Length")
        if length is not None and not length.strip().isdigit():
            raise _UnreadableBody(f"Content-Length must be a number of bytes, not {length[:40]!r}")
        return super()._parse_payload()

    def _generic_handle(self) -> None:
        try:
            super()._generic_handle()
        except _UnreadableBody as exc:
            self.send_error(HTTPStatus.BAD_REQUEST, str(exc))

    # Chalice binds these to its own ``_generic_handle``; GET and HEAD: ``_console_or_app`` below.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Called by ``send_response`` for every answer, the HTTP layer's own refusals included."""
        sink = self.request_log
        if sink is None:
            return
        try:
            status = int(code)
        except (TypeError, ValueError):
            return
        started, self._started = getattr(self, "_started", None), None  # one answer per request line
        elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        with contextlib.suppress(Exception):  # a terminal line must never break an answer
            sink(getattr(self, "command", None) or "-", getattr(self, "path", None) or "-", status, elapsed)

    def _console_or_app(self) -> None:
        found = console_file(self.path or "")
        if found is None:
            self._generic_handle()
            return
        headers = {"Content-Type": console_type(found), **local_console_headers()}
        self._send_http_response_with_body(200, headers, found.read_bytes())

    do_GET = do_HEAD = _console_or_app

    def __getattr__(self, name: str):
        # http.server looks up do_<METHOD> and answers an HTML 501 when there is none.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def log_message(self, format, *args):  # the app logs one structured line per request
        pass

    def _send_http_response_with_body(self, code: int, headers, body) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        # A HEAD answer has the headers of the GET answer and no body (the client reads none).
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            title, long = self.responses[code]
        except KeyError:
            title, long = "Error", ""
        detail = message if message and message != title else (explain or long or title)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "error"
        data = json.dumps({"type": _TYPE + slug, "title": title, "status": code, "detail": detail}).encode()
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            # The request line was not understood (http.server then assumes HTTP/0.9, which has no
            # status line and no headers): answer with both, so the client can read the problem.
            self.request_version = "HTTP/1.0"
        self.send_response(code)  # the standard reason phrase: ``message`` may quote the request
        self.send_header("Connection", "close")
        if code >= 200 and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.RESET_CONTENT, HTTPStatus.NOT_MODIFIED):
            self.send_header("Content-Type", PROBLEM_JSON)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        else:
            self.end_headers()
