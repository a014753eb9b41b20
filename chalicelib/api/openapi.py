"""Builds the OpenAPI 3.1 document from the endpoint registry and the pydantic schemas."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from chalicelib.api.routing import REGISTRY, Endpoint

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"{(\w+)}")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "dotted path of the input at fault"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}},
        },
    },
}


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template=_REF, mode="serialization")
    components.update(schema.pop("$defs", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        components[tp.__name__] = schema
        return {"$ref": _REF.format(model=tp.__name__)}
    return schema


def _operation(ep: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary,
        "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', ep.path.lower()).strip('_')}",
        "tags": list(ep.tags),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(ep.path)
        ],
        "responses": {},
    }
    if ep.permission:
        op["x-permission"] = ep.permission
    if ep.query is not None:
        for name, fld in ep.query.model_fields.items():
            op["parameters"].append(
                {
                    "name": fld.alias or name,
                    "in": "query",
                    "required": fld.is_required(),
                    "description": fld.description or "",
                    "schema": TypeAdapter(fld.annotation).json_schema(ref_template=_REF),
                }
            )
    if ep.idempotent:
        op["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retried request with the same key returns the first result.",
                "schema": {"type": "string", "maxLength": 128},
            }
        )
    if ep.body is not None:
        schema = _schema(ep.body, components)
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    ok: dict[str, Any] = {"description": "Success"}
    if ep.response is not None:
        ok["content"] = {ep.content_type: {"schema": _schema(ep.response, components)}}
    op["responses"][str(ep.status)] = ok
    problem = {"content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}}}
    codes = {"422": "Invalid input", "400": "Malformed request"} if ep.body or ep.query else {}
    if not ep.public:
        codes.update({"401": "Missing or invalid token", "403": "Not allowed for this role"})
        op["security"] = [{"bearerAuth": []}]
    else:
        op["security"] = []
    if "tenant_id" in ep.path:
        codes["404"] = "Not found (or not a member of this tenant)"
    for code, text in sorted(codes.items()):
        op["responses"][code] = {"description": text, **problem}
    return op


def build_openapi(routes: dict[str, Any], title: str = "Scellé API", version: str = "1") -> dict[str, Any]:
    """Describe the endpoints of ``routes`` (an app's route table) that went through ``endpoint``."""
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    mounted = [ep for ep in REGISTRY if ep.method in routes.get(ep.path, {})]
    for ep in sorted(mounted, key=lambda e: (e.path, e.method)):
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Sealed ledger for receipts and journal entries. Errors are RFC 9457 problems.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
