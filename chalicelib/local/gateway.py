"""Chalice's local gateway, answering its own errors as RFC 9457 problems.

API Gateway answers unknown routes and refused tokens itself, before any Lambda runs; on AWS the
CDK stack maps those gateway responses to problem bodies. This class does the same for
``scelle local`` and for the tests, so a client sees one error format everywhere.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.local import LocalGateway, LocalGatewayException

PROBLEM_JSON = "application/problem+json"
_TYPE = "https://scelle.example/problems/"


def _problem(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    body = {"type": _TYPE + code, "title": title, "status": status, "detail": detail}
    return {
        "statusCode": status,
        "headers": {"Content-Type": PROBLEM_JSON},
        "multiValueHeaders": {},
        "body": json.dumps(body),
    }


class ProblemLocalGateway(LocalGateway):
    def __init__(self, app_object, config, max_body_bytes: int = 10_485_760) -> None:
        super().__init__(app_object, config)
        self._max_body = max_body_bytes

    def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        # API Gateway refuses payloads over 10 MB before any code runs; mirror it here.
        if body is not None and len(body) > self._max_body:
            return _problem(413, "payload-too-large", "Request body too large",
                            f"the body has {len(body)} bytes; the limit is {self._max_body}")
        try:
            return super().handle_request(method=method, path=path, headers=headers, body=body)
        except LocalGatewayException as exc:
            return self._as_problem(exc, headers)

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
