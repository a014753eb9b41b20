"""Service-level routes: health and the API description."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import problems
from chalicelib.api.routing import endpoint
from chalicelib.wiring import Service

meta_bp = Blueprint(__name__)


class Health(BaseModel):
    status: str
    checks: dict[str, str]


@endpoint(meta_bp, "GET", "/health", summary="Readiness: every table is reachable", tags=("meta",),
          response=Health, public=True)
def get_health(*, health=Service("health")):
    report = health.check()
    if not report.ok:
        failing = ", ".join(f"{k}: {v}" for k, v in report.checks.items() if v != "ok")
        return problems.problem(503, "unavailable", "Service unavailable", f"not ready: {failing}",
                                checks=report.checks)
    return Health(status="ok", checks=report.checks)


_openapi_cache: dict | None = None


@endpoint(meta_bp, "GET", "/openapi.json", summary="This API, described in OpenAPI 3.1", tags=("meta",),
          public=True, static=True)
def get_openapi():
    global _openapi_cache
    if _openapi_cache is None:
        from chalicelib.api.openapi import build_openapi

        _openapi_cache = build_openapi(meta_bp.current_app.routes)
    return _openapi_cache
