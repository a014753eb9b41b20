"""HTTP middleware: correlation id, one structured log line per request, problem bodies for
Chalice's own errors (405, 415), and the metrics flush."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from chalice import Response

from chalicelib.api import problems
from chalicelib.observability import flush_metrics, logger

_CHALICE_ERRORS = {
    "MethodNotAllowedError": (405, problems.MethodNotAllowed),
    "UnsupportedMediaType": (415, problems.UnsupportedMediaType),
    "BadRequest": (400, problems.BadRequest),
    "BadRequestError": (400, problems.BadRequest),
    "InternalServerError": (500, None),
}


def _as_problem(response: Response) -> Response:
    body = response.body
    if not (isinstance(body, dict) and "Code" in body and response.status_code >= 400):
        return response
    status, cls = _CHALICE_ERRORS.get(body["Code"], (response.status_code, None))
    extra_headers = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
    if cls is None:
        return problems.problem(status, "internal", "Internal error",
                                "An unexpected error occurred; it has been logged.")
    detail = str(body.get("Message", ""))
    if extra_headers:
        detail = f"{detail}; allowed: {next(iter(extra_headers.values()))}"
    fld = "Content-Type" if cls is problems.UnsupportedMediaType else None
    return problems.problem(status, cls.code, cls.title, detail, field=fld, headers=extra_headers)


_LAMBDA_CONTEXT: ContextVar[Any] = ContextVar("lambda_context", default=None)


def current_lambda_context() -> Any:
    """The Lambda context of the request being served (None outside a request)."""
    return _LAMBDA_CONTEXT.get()


def install(app) -> None:
    @app.middleware("http")
    def observe(event, get_response):
        started = time.perf_counter()
        _LAMBDA_CONTEXT.set(getattr(event, "lambda_context", None))
        context = getattr(event, "context", None) or {}
        logger.set_correlation_id(context.get("requestId"))
        response = _as_problem(get_response(event))
        logger.info(
            "request",
            extra={
                "method": getattr(event, "method", None),
                "path": context.get("resourcePath"),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        flush_metrics()
        logger.set_correlation_id(None)
        return response
