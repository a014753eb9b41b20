"""The endpoint decorator every route goes through.

It does, in one place and in this order: the shape of ``tenant_id`` (read by the next step), the
permission check against the membership table (tenant routes) or the operator flag (platform
routes), the path parameters (``schemas.PATH_PARAMETERS``), the body checks (size, content type,
strict UTF-8, nesting depth, duplicate keys, lone surrogates: ``parse_json``), pydantic
validation of the body and query, the call, the response serialisation, and the mapping of every
error to an RFC 9457 problem. It also records each endpoint for ``GET /openapi.json``, with the
models that validate it and every status it can answer (``Endpoint.statuses``): the document
states the rules the server applies because both come from the same declaration.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, create_model

from chalicelib.api import problems
from chalicelib.api.schemas import NumberLiteral, StrictModel, path_parameter
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import Permission, PlatformPermission
from chalicelib.wiring import provide, services_of


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
    rules: tuple[tuple[str, str], ...] = field(default=())
    path_model: type[BaseModel] | None = None
    static: bool = False
    tenant_scoped: bool = False

    def statuses(self) -> dict[int, str]:
        """Every error status this route can answer, with why: derived from what it takes (body,
        query, path parameters), how it is guarded (token, tenant or platform permission), what it
        reaches (tables: 503), plus the statuses its declaration adds (``errors``)."""
        found: dict[int, str] = {429: "Too many requests: throttled (Retry-After says when to retry)"}
        if not self.static:
            found[503] = "A dependency is unreachable, or the chain is busy (Retry-After): retry the same request"
        malformed = []
        if self.body is not None:
            malformed.append("a body that is not JSON, empty, not UTF-8, nested too deep or with a key given twice")
            found[413] = "Body too large"
            found[415] = "Content-Type is not application/json"
        if self.query is not None:
            malformed.append("a query parameter given twice")
        if malformed:
            found[400] = "Malformed request: " + "; ".join(malformed)
        if self.body is not None or self.query is not None or self.path_model is not None or self.rules:
            found[422] = "Invalid input: every field at fault is listed under errors"
        if not self.public:
            found[401] = "Missing, invalid, expired or signed-out token"
        if self.tenant_scoped:
            found[403] = "The caller's role lacks the permission (permission, role)"
            found[404] = "No such tenant, or the caller is not a member of it; or no such resource in it"
        elif self.permission:
            found[403] = "Platform operators only"
        for status in self.errors:
            found.setdefault(status, _ERROR_TEXT[status])
        return dict(sorted(found.items()))


_ERROR_TEXT = {
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state (already done, changed meanwhile, an Idempotency-Key reused with "
         "another body)",
    422: "Invalid input: every field at fault is listed under errors",
    429: "Too many requests (Retry-After says when to retry)",
    503: "Unavailable: retry the same request (Retry-After)",
}

REGISTRY: list[Endpoint] = []

_PATH_PARAM = re.compile(r"{(\w+)}")


def principal_from_request(request) -> Principal:
    ctx = (request.context or {}).get("authorizer") or {}
    user_id = ctx.get("principalId") or ctx.get("sub")
    if not user_id:
        from chalicelib.domain.errors import Unauthenticated

        raise Unauthenticated("a valid bearer token is required")
    return Principal(user_id=user_id, email=ctx.get("email", ""), username=ctx.get("username", ""),
                     session_id=ctx.get("session_id", ""))


MAX_JSON_DEPTH = 32
"""Arrays and objects nest at most this deep in a request body (the top-level object is level 1)."""

# To count brackets outside strings: drop escape pairs first (no quote is then left inside a
# string), keep what lies between strings, then only the brackets. C-speed passes, no recursion.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
# A \uD800-\uDFFF escape: json.loads pairs valid surrogates into one character and keeps lone ones.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _DuplicateKeys(dict):
    """An object in which ``duplicate`` appeared more than once (json's last value kept)."""

    duplicate: str = ""


def _too_deep(text: str, limit: int) -> bool:
    """True when arrays and objects in ``text`` nest deeper than ``limit``, counted without
    recursion (json.loads itself would raise RecursionError on a body nested ~1,000 deep)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    if "\\" in text:
        text = _ESCAPE.sub("", text)
    depth = 0
    outside_strings = "".join(text.split('"')[::2])
    for bracket in _NOT_A_BRACKET.sub("", outside_strings):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _first_bad_key_or_text(data: Any) -> tuple[str, str] | None:
    """``(dotted path, "duplicate" | "surrogate")`` of the first duplicated key or lone surrogate
    in ``data``, in document order; None when there is none."""
    stack: list[tuple[str, Any, str | None]] = [("", data, None)]
    while stack:
        path, value, fault = stack.pop()
        if fault is not None:
            return path, fault
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return path or "body", "surrogate"
            continue
        children: list[tuple[str, Any, str | None]] = []
        if isinstance(value, dict):
            for key, item in value.items():
                if _LONE_SURROGATE.search(key):  # named by its object: the key itself cannot be shown
                    children.append((path or "body", None, "surrogate"))
                    continue
                where = f"{path}.{key}" if path else key
                duplicated = isinstance(value, _DuplicateKeys) and key == value.duplicate
                children.append((where, item, "duplicate" if duplicated else None))
        elif isinstance(value, list):
            children = [(f"{path}.{index}" if path else str(index), item, None) for index, item in enumerate(value)]
        stack.extend(reversed(children))
    return None


def parse_json(raw: bytes) -> Any:
    """Parse a request body: UTF-8 without a byte order mark, at most ``MAX_JSON_DEPTH`` levels,
    each key once per object, no lone surrogate escape, no NaN or Infinity, and numbers with a
    fraction kept as their literal text. Anything else is a ``problems.BadRequest`` (400) naming
    ``body``, or the dotted path of the key or text at fault."""
    try:
        text = raw.decode("utf-8")  # strict: Latin-1, UTF-16 and encoded surrogates are refused
    except UnicodeDecodeError as exc:
        raise problems.BadRequest(
            f"the body is not UTF-8 text (invalid byte at offset {exc.start}); send JSON encoded in UTF-8",
            field="body",
        ) from None
    if text.startswith("\ufeff"):
        raise problems.BadRequest("the body starts with a byte order mark; send UTF-8 without one", field="body")
    if _too_deep(text, MAX_JSON_DEPTH):
        raise problems.BadRequest(
            f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels in the body", field="body",
            max_depth=MAX_JSON_DEPTH,
        )
    suspect = False

    def object_from(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal suspect
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        suspect = True
        marked = _DuplicateKeys(obj)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                marked.duplicate = key
                break
            seen.add(key)
        return marked

    try:
        # parse_float keeps "12.34"-style numbers exact (never a float); the schemas decide what they accept.
        data = json.loads(text, parse_float=NumberLiteral, parse_constant=_not_json, object_pairs_hook=object_from)
    except ValueError as exc:
        raise problems.BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    if suspect or _SURROGATE_ESCAPE.search(text):
        found = _first_bad_key_or_text(data)
        if found is not None:
            where, what = found
            if what == "duplicate":
                raise problems.BadRequest(f"{where}: this key appears more than once in its object; send it once",
                                          field=where)
            raise problems.BadRequest(
                f"{where}: a lone surrogate escape (\\ud800-\\udfff) is not a Unicode character", field=where
            )
    return data


def parse_query(params: Any) -> dict[str, str]:
    """The query parameters as a dict; a parameter given more than once is a 400 naming it
    (Chalice would keep the last value silently)."""
    query: dict[str, str] = {}
    for name in params or {}:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(values) > 1:
            raise problems.BadRequest(f"the query parameter {name!r} is given {len(values)} times; give it once",
                                      field=name)
        query[name] = values[-1]
    return query


def _parse_body(request, model: type[BaseModel], max_bytes: int) -> BaseModel:
    raw = request.raw_body or b""
    if len(raw) > max_bytes:
        raise problems.PayloadTooLarge(f"the body has {len(raw)} bytes; the limit is {max_bytes}", field="body")
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise problems.UnsupportedMediaType(f"send application/json, not {content_type}", field="Content-Type")
    if not raw.strip():
        raise problems.BadRequest("the request body is empty; a JSON object is expected", field="body")
    return model.model_validate(parse_json(raw))


def _not_json(name: str) -> Any:
    # Python's json reads NaN and Infinity as floats; JSON has no such numbers.
    raise ValueError(f"{name} is not a JSON value")


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
    errors: tuple[int, ...] = (),
    rules: dict[str, str] | None = None,
    static: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as ``method path``.

    ``fn`` receives the path parameters (validated by their types in ``schemas.PATH_PARAMETERS``:
    ``seq`` is an int), plus ``body``/``query`` (validated models), ``caller`` (tenant routes with
    a tenant permission), ``principal`` (other authenticated routes) and ``request`` when it names
    them, and each service it declares as a keyword-only ``name=Service("<Container attribute>")``
    (``chalicelib.wiring``; a caller's own keyword wins, as a test's fake). It returns a model, a
    dict/list, or a chalice Response.

    ``errors``: the statuses the route answers beyond those its shape implies (``Endpoint.statuses``),
    e.g. ``(409,)``. ``rules``: the rules it applies that a JSON schema cannot state (a checksum, a
    total, a token this API mailed), by field: the OpenAPI document lists them, and a request that
    breaks only them is the documented 422.
    """
    params = _PATH_PARAM.findall(path)
    if permission is not None and isinstance(permission, Permission) and "tenant_id" not in params:
        raise ValueError(f"{path}: a tenant permission needs a {{tenant_id}} path parameter")
    unknown = [code for code in errors if code not in _ERROR_TEXT]
    if unknown:
        raise ValueError(f"{path}: no text for the error statuses {unknown}")
    path_model = (
        create_model(f"{method.title()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}Path", __base__=StrictModel,
                     **{name: (path_parameter(name), ...) for name in params})
        if params else None
    )
    tenant_model = (create_model(f"{method.title()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}Tenant", __base__=StrictModel,
                                 tenant_id=(path_parameter("tenant_id"), ...))
                    if "tenant_id" in params else None)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        wanted = set(fn.__code__.co_varnames[: fn.__code__.co_argcount + fn.__code__.co_kwonlyargcount])
        services = services_of(fn)  # its declared dependencies, filled in from the composition root

        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            from chalicelib import bootstrap

            request = bp.current_request
            try:
                kwargs: dict[str, Any] = dict(path_params)
                principal = None if public else principal_from_request(request)
                if tenant_model is not None:  # the access check reads it: its shape first
                    tenant_model.model_validate({"tenant_id": path_params["tenant_id"]})
                if principal is not None:
                    access = bootstrap.container().access
                    if isinstance(permission, Permission):
                        kwargs_caller = access.authorize(principal, path_params["tenant_id"], permission)
                        if "caller" in wanted:
                            kwargs["caller"] = kwargs_caller
                    elif isinstance(permission, PlatformPermission):
                        access.authorize_platform(principal, permission)
                    else:
                        access.authenticate(principal)
                    if "principal" in wanted:
                        kwargs["principal"] = principal
                if path_model is not None:  # like the body, once the caller may use the route
                    kwargs.update(dict(path_model.model_validate(path_params)))
                if body is not None:
                    kwargs["body"] = _parse_body(request, body, bootstrap.container().settings.max_body_bytes)
                if query is not None:
                    kwargs["query"] = query.model_validate(parse_query(request.query_params))
                if "request" in wanted:
                    kwargs["request"] = request
            except Exception as exc:
                return problems.from_exception(exc)
            try:
                result = fn(**provide(services, kwargs))
            except Exception as exc:
                return problems.from_exception(exc, inputs_parsed=True)
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
                tuple(errors),
                tuple((rules or {}).items()),
                path_model,
                static,
                isinstance(permission, Permission),
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
