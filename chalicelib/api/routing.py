"""The endpoint decorator every route goes through.

It does, in one place and in this order: body size and JSON checks, pydantic validation of the
body and query, the permission check against the membership table (tenant routes) or the
operator flag (platform routes), the call, the response serialisation, and the mapping of every
error to an RFC 9457 problem. It also records each endpoint for ``GET /openapi.json``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel

from chalicelib.api import problems
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import Permission, PlatformPermission


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    permission: str | None
    public: bool
    idempotent: bool
    content_type: str = "application/json"
    errors: tuple[int, ...] = field(default=())


REGISTRY: list[Endpoint] = []

_PATH_PARAM = re.compile(r"{(\w+)}")


def principal_from_request(request) -> Principal:
    ctx = (request.context or {}).get("authorizer") or {}
    user_id = ctx.get("principalId") or ctx.get("sub")
    if not user_id:
        from chalicelib.domain.errors import Unauthenticated

        raise Unauthenticated("a valid bearer token is required")
    return Principal(user_id=user_id, email=ctx.get("email", ""), username=ctx.get("username", ""))


def _parse_body(request, model: type[BaseModel], max_bytes: int) -> BaseModel:
    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise problems.PayloadTooLarge(f"the body has {len(raw)} bytes; the limit is {max_bytes}", field="body")
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise problems.UnsupportedMediaType(f"send application/json, not {content_type}", field="Content-Type")
    if not raw.strip():
        raise problems.BadRequest("the request body is empty; a JSON object is expected", field="body")
    try:
        # parse_float=str keeps "12.34"-style numbers exact; the schemas decide what they accept.
        data = json.loads(raw, parse_float=lambda s: _FloatLiteral(s))
    except (ValueError, UnicodeDecodeError) as exc:
        raise problems.BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    return model.model_validate(data)


class _FloatLiteral(str):
    """A JSON number with a fraction, kept as its literal text so no float ever exists."""


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    tags: tuple[str, ...] = (),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    permission: Permission | PlatformPermission | None = None,
    public: bool = False,
    idempotent: bool = False,
    content_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as ``method path``.

    ``fn`` receives the path parameters, plus ``body``/``query`` (validated models), ``caller``
    (tenant routes with a tenant permission), ``principal`` (other authenticated routes) and
    ``request`` when it names them. It returns a model, a dict/list, or a chalice Response.
    """
    params = _PATH_PARAM.findall(path)
    if permission is not None and isinstance(permission, Permission) and "tenant_id" not in params:
        raise ValueError(f"{path}: a tenant permission needs a {{tenant_id}} path parameter")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        wanted = set(fn.__code__.co_varnames[: fn.__code__.co_argcount + fn.__code__.co_kwonlyargcount])

        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            from chalicelib import bootstrap

            request = bp.current_request
            try:
                kwargs: dict[str, Any] = dict(path_params)
                if not public:
                    principal = principal_from_request(request)
                    if isinstance(permission, Permission):
                        kwargs_caller = bootstrap.access().authorize(principal, path_params["tenant_id"], permission)
                        if "caller" in wanted:
                            kwargs["caller"] = kwargs_caller
                    elif isinstance(permission, PlatformPermission):
                        bootstrap.access().authorize_platform(principal, permission)
                    if "principal" in wanted:
                        kwargs["principal"] = principal
                if body is not None:
                    kwargs["body"] = _parse_body(request, body, bootstrap.settings().max_body_bytes)
                if query is not None:
                    kwargs["query"] = query.model_validate(dict(request.query_params or {}))
                if "request" in wanted:
                    kwargs["request"] = request
                result = fn(**kwargs)
            except Exception as exc:
                return problems.from_exception(exc)
            return to_response(result, status)

        authorizer = None if public else _jwt_authorizer()
        bp.route(path, methods=[method], authorizer=authorizer)(view)
        REGISTRY.append(
            Endpoint(
                method,
                path,
                summary,
                tags,
                body,
                query,
                response,
                status,
                str(permission) if permission else None,
                public,
                idempotent,
                content_type,
            )
        )
        return fn

    return decorate


def _jwt_authorizer():
    from chalicelib.api.authorizer import jwt_authorizer

    return jwt_authorizer


def to_response(result: Any, status: int = 200) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    elif isinstance(result, list):
        result = [r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in result]
    return Response(body=result, status_code=status, headers={"Content-Type": "application/json"})
