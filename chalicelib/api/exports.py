"""Export routes: request a fiscal or FEC archive (202 + a job), list the jobs, follow one, download it."""

from __future__ import annotations

from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import ChainName, StrictModel, SupportedDate
from chalicelib.domain.identity import Caller
from chalicelib.domain.permissions import Permission
from chalicelib.wiring import Service

exports_bp = Blueprint(__name__)
TAGS = ("exports",)


class ExportIn(StrictModel):
    model_config = ConfigDict(populate_by_name=True)

    format: Literal["fiscal", "fec"] = Field(
        description="fiscal: CSV views (BOI-TVA-DECLA-30-10-30) + sealed records; fec: the French FEC + sealed records")
    from_: SupportedDate = Field(alias="from", description="first business day, YYYY-MM-DD")
    to: SupportedDate = Field(description="last business day (inclusive), YYYY-MM-DD; the FEC's closing date")
    chains: list[ChainName] | None = Field(
        None, min_length=1, max_length=200,
        description="ledger chains to export (default: all of the tenant's current mode); the event journal is "
                    "always included")


class ExportQuery(StrictModel):
    expires_in: int = Field(900, ge=1, le=3600, description="lifetime of the download URL in seconds (max 3600)")


class ExportListQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100, description="jobs per page (at most 100)")
    cursor: str | None = Field(None, max_length=512, description="the next_cursor of the previous page")


class Progress(BaseModel):
    entries_done: int
    entries_total: int | None
    percent: int


class Download(BaseModel):
    url: str = Field(description="pre-signed GET of exactly this archive; S3 refuses it after expires_at")
    expires_in: int
    expires_at: str
    file_name: str
    bytes: int
    sha256: str = Field(description="SHA-256 of the whole archive")
    manifest_sha256: str


class ExportJob(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed", "expired"]
    format: str
    from_: str = Field(alias="from")
    to: str
    chains: list[str]
    fiscal: bool = Field(description="false for a test-mode tenant: the archive is training data, never official")
    requested_by: str = Field(description="the requester's user id")
    requested_by_name: str | None = Field(None, description="the requester's name in this company when the job "
                                                            "was requested (null for jobs of before it was kept)")
    requested_at: str
    started_at: str | None
    finished_at: str | None
    progress: Progress
    error: dict[str, Any] | None
    download: Download | None = Field(description="present once done: a fresh URL each time, each one journaled")


@endpoint(exports_bp, "POST", "/v1/tenants/{tenant_id}/exports",
          summary="Request a fiscal or FEC export archive (built asynchronously)", tags=TAGS, body=ExportIn,
          response=ExportJob, status=202, permission=Permission.EXPORT, idempotent=True, errors=(409,),
          rules={"format": "fec only for a French tenant",
                 "from": "not after today; to - from at most 1,099 days", "to": "not before from",
                 "chains": "ledger chains of this tenant's current mode, each once (the events chain is always in)"})
def request_export(tenant_id: str, caller: Caller, body: ExportIn, *, exports=Service("exports")):
    from chalicelib.services.exports import ExportRequest

    key = (exports_bp.current_request.headers or {}).get("idempotency-key")
    job = exports.request(caller, ExportRequest(body.format, body.from_, body.to, body.chains), key)
    location = f"/v1/tenants/{tenant_id}/exports/{job['job_id']}"
    return Response(body=job, status_code=202, headers={"Content-Type": "application/json", "Location": location})


@endpoint(exports_bp, "GET", "/v1/tenants/{tenant_id}/exports/{job_id}",
          summary="An export job's status, progress and, when done, a short-lived download URL", tags=TAGS,
          query=ExportQuery, response=ExportJob, permission=Permission.EXPORT)
def get_export(tenant_id: str, job_id: str, caller: Caller, query: ExportQuery, *, exports=Service("exports")):
    return exports.status(caller, job_id, query.expires_in)


class ExportJobList(BaseModel):
    jobs: list[ExportJob] = Field(description="newest first; download is always null here (no URL is issued): "
                                              "GET the job for a fresh download URL")
    next_cursor: str | None = None


@endpoint(exports_bp, "GET", "/v1/tenants/{tenant_id}/exports",
          summary="The tenant's export jobs, newest first, without download URLs", tags=TAGS,
          query=ExportListQuery, response=ExportJobList, permission=Permission.EXPORT,
          rules={"cursor": "a next_cursor this route returned (else 422)"})
def list_exports(tenant_id: str, caller: Caller, query: ExportListQuery, *, exports=Service("exports")):
    from chalicelib.adapters.ops_dynamodb import decode_cursor, encode_cursor

    jobs, last = exports.recent(caller, limit=query.limit, after=decode_cursor(query.cursor))
    return {"jobs": jobs, "next_cursor": encode_cursor(last)}
