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
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from chalice.local import ChaliceRequestHandler, LocalGateway, LocalGatewayException, RouteMatcher

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
