"""Builds the OpenAPI 3.1 document from the endpoint registry and the pydantic models.

The document is generated from the very models that validate requests (bodies, queries and path
parameters in validation mode, responses in serialization mode, in one pass so that two models of
the same name never overwrite each other), so every rule a model enforces — lengths, minimums,
patterns, enums, formats, ``additionalProperties: false`` — is stated. Each operation lists every
status it can answer (``routing.Endpoint.statuses``) with the problem schema, and the rules a JSON
schema cannot express (``endpoint(rules=...)``) in its description and under ``x-rules``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.routing import REGISTRY, Endpoint

_REF = "#/components/schemas/{model}"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,128}$"

PROBLEM_SCHEMA = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details. Branch on type (stable) or status, never on detail (for people). "
    "Some problems add members (permission and role on a 403, max_depth on a too-deep body).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "stable, e.g. "
                 "https://scelle.example/problems/validation-failed"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the input at fault: a dotted path in the body "
                  "(lines.0.vat_rate), a query or path parameter, or a header"},
        "errors": {
            "type": "array",
            "description": "on a 422, every problem found (field and detail repeat the first)",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the ``null`` branch of an optional field (a query or path
    parameter is absent or text, never null)."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def _parameters(where: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        description = prop.pop("description", "")
        prop.pop("title", None)
        if prop.get("default", "") is None:
            del prop["default"]
        param: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required,
                                 "schema": prop}
        if description:
            param["description"] = description
        found.append(param)
    return found


def _rules_text(rules: tuple[tuple[str, str], ...]) -> str:
    lines = "\n".join(f"- `{name}`: {rule}" for name, rule in rules)
    return ("Rules a JSON schema cannot state (a request that breaks one is a 422 naming the field):\n"
            f"{lines}")


def _operation(ep: Endpoint, schemas: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary,
        "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', ep.path.lower()).strip('_')}",
        "tags": list(ep.tags),
        "parameters": [],
        "responses": {},
    }
    if ep.rules:
        op["description"] = _rules_text(ep.rules)
        op["x-rules"] = [{"field": name, "rule": rule} for name, rule in ep.rules]
    if ep.permission:
        op["x-permission"] = ep.permission
    if ep.path_model is not None:
        op["parameters"] += _parameters("path", schemas[_key(ep.path_model, "validation")])
    if ep.query is not None:
        op["parameters"] += _parameters("query", schemas[_key(ep.query, "validation")])
    if ep.idempotent:
        op["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "1 to 128 visible ASCII characters: a retried request with the same key returns the "
                "first result (409 if the body differs); an empty header is refused (leave it out instead).",
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            }
        )
    if ep.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": schemas[_key(ep.body, "validation")]}}}
    ok: dict[str, Any] = {"description": "Success"}
    if ep.response is not None:
        ok["content"] = {ep.content_type: {"schema": schemas[_key(ep.response, "serialization")]}}
    op["responses"][str(ep.status)] = ok
    problem = {"content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}}}
    for code, text in ep.statuses().items():
        op["responses"][str(code)] = {"description": text, **problem}
    op["security"] = [] if ep.public else [{"bearerAuth": []}]
    return op


def _key(model: type[BaseModel], mode: str) -> tuple[str, str]:
    return f"{model.__module__}.{model.__qualname__}", mode


def _models(endpoints: list[Endpoint]) -> list[tuple[type[BaseModel], str]]:
    wanted: dict[tuple[str, str], tuple[type[BaseModel], str]] = {}
    for ep in endpoints:
        for model, mode in ((ep.body, "validation"), (ep.query, "validation"), (ep.path_model, "validation"),
                            (ep.response, "serialization")):
            if model is None:
                continue
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{ep.method} {ep.path}: {model!r} is not a pydantic model")
            wanted.setdefault(_key(model, mode), (model, mode))
    return list(wanted.values())


def build_openapi(routes: dict[str, Any], title: str = "Scellé API", version: str = "1") -> dict[str, Any]:
    """Describe the endpoints of ``routes`` (an app's route table) that went through ``endpoint``."""
    mounted = sorted((ep for ep in REGISTRY if ep.method in routes.get(ep.path, {})), key=lambda e: (e.path, e.method))
    models = _models(mounted)
    key_map, defs = models_json_schema(models, ref_template=_REF)  # type: ignore[arg-type]
    components: dict[str, Any] = dict(defs.get("$defs", {}))
    as_parameters = {_key(m, "validation") for ep in mounted for m in (ep.query, ep.path_model) if m is not None}
    as_schemas = {_key(m, mode) for ep in mounted for m, mode in ((ep.body, "validation"),
                                                                   (ep.response, "serialization")) if m is not None}
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    inlined: set[str] = set()
    for (model, mode), ref in key_map.items():
        key = _key(model, mode)
        if key in as_parameters:  # listed as parameters, one by one: resolved, not referenced
            name = ref["$ref"].rsplit("/", 1)[-1]
            schemas[key] = components[name]
            if key not in as_schemas:
                inlined.add(name)
        else:
            schemas[key] = ref
    for name in inlined:
        del components[name]
    components["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for ep in mounted:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Sealed ledger for receipts and journal entries. Errors are RFC 9457 problems "
            "(application/problem+json, the Problem schema); every status an operation can answer is listed with "
            "it. Request schemas state every rule the server checks on one field; the rules no JSON schema can "
            "state (checksums, totals, tokens this API mailed) are listed under each operation's x-rules.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
