"""``build_export``: builds one export archive, invoked asynchronously by the API on AWS.

Thin: the event is ``{"tenant_id", "job_id"}``; the export service claims the job (a retried
invocation of a job already taken does nothing) and streams the archive to the exports bucket.
In local mode the API builds in a background thread instead (services.exports.ThreadDispatcher).
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.wiring import Service, inject

exports_bp = Blueprint(__name__)


@exports_bp.lambda_function(name="build_export")
@inject
def build_export(event, context, *, exports=Service("exports")):
    from chalicelib.observability import flush_metrics, logger

    tenant_id, job_id = event.get("tenant_id"), event.get("job_id")
    if not (isinstance(tenant_id, str) and isinstance(job_id, str)):
        logger.error("build_export: the event needs tenant_id and job_id", extra={"event": str(event)[:500]})
        return {"status": "ignored"}
    job = exports.build(tenant_id, job_id)
    flush_metrics()
    return {"job_id": job_id, "status": (job or {}).get("status", "skipped")}
