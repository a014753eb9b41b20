"""RFC 9457 problem responses: the one place where errors become HTTP.

Every error body has a stable ``type`` (a URI under /problems/), a human ``title``, the
``status``, a ``detail`` and, for bad input, the ``field`` at fault; a 422 also lists under
``errors`` every problem found in the request (``[{"field", "detail"}]``; ``field`` and ``detail``
repeat the first). Unexpected exceptions become a 500 problem without internals.
"""

from __future__ import annotations

from typing import Any

from chalice import Response
from pydantic import ValidationError

from chalicelib.domain import errors
from chalicelib.observability import logger

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://scelle.example/problems/"

STATUS_BY_ERROR: dict[type[errors.ScelleError], int] = {
    errors.ValidationFailed: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.SequenceConflict: 409,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.TooManyRequests: 429,
    errors.ChainBusy: 503,
    errors.Unavailable: 503,
}


class BadRequest(errors.ScelleError):
    """The request itself is malformed (not JSON, wrong content type)."""

    code = "bad-request"
    title = "Malformed request"


class PayloadTooLarge(errors.ScelleError):
    code = "payload-too-large"
    title = "Request body too large"


class MethodNotAllowed(errors.ScelleError):
    code = "method-not-allowed"
    title = "Method not allowed"


class UnsupportedMediaType(errors.ScelleError):
    code = "unsupported-media-type"
    title = "Unsupported media type"


# Errors of modules this one should not import at cold start, mapped by their stable code.
STATUS_BY_CODE: dict[str, int] = {"closure-mismatch": 409}
STATUS_BY_ERROR.update({BadRequest: 400, PayloadTooLarge: 413, MethodNotAllowed: 405, UnsupportedMediaType: 415})


def status_for(exc: errors.ScelleError) -> int:
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body=body, status_code=status, headers={"Content-Type": PROBLEM_JSON, **(headers or {})})


def from_scelle_error(exc: errors.ScelleError) -> Response:
    headers = {}
    if isinstance(exc, errors.ChainBusy | errors.TooManyRequests) and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    if isinstance(exc, errors.ValidationFailed):  # every 422 lists its problems, one or many
        extra["errors"] = exc.problems()
    return problem(status_for(exc), exc.code, exc.title, exc.detail, field=exc.field, headers=headers, **extra)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


# What pydantic puts before the message of a ValueError / AssertionError raised by a validator:
# noise for the reader of a problem ("Value error, an amount has..."), never part of our messages.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def pydantic_message(error: Any) -> str:
    """The message of one pydantic error (an item of ``ValidationError.errors()``), without the
    prefix pydantic adds to the messages of our validators."""
    message = str(error.get("msg", ""))
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def from_validation_error(exc: ValidationError) -> Response:
    """Pydantic errors: the first one names ``field``; all of them are listed under ``errors``."""
    items = [{"field": _dotted(e["loc"]), "detail": pydantic_message(e)} for e in exc.errors(include_url=False)]
    first = items[0] if items else {"field": "body", "detail": "invalid"}
    more = f" (and {len(items) - 1} more problem{'s' if len(items) > 2 else ''}: see errors)" if len(items) > 1 else ""
    return problem(
        422,
        errors.ValidationFailed.code,
        errors.ValidationFailed.title,
        f"{first['field']}: {first['detail']}{more}",
        field=first["field"],
        errors=items,
    )


def from_exception(exc: BaseException, *, inputs_parsed: bool = False) -> Response:
    """The problem for ``exc``. ``inputs_parsed``: raised by the route's own code once its inputs
    were validated, where a pydantic ``ValidationError`` is an answer that does not fit its
    documented model (stored data the model refuses): the server's fault, a 500 logged, never a
    422 "Invalid input" blaming the client."""
    if isinstance(exc, errors.ScelleError):
        return from_scelle_error(exc)
    if isinstance(exc, ValidationError) and not inputs_parsed:
        return from_validation_error(exc)
    logger.exception("unhandled error")
    return problem(500, "internal", "Internal error", "An unexpected error occurred; it has been logged.")
