"""What the export service and the export job stores agree on.

A job is a plain JSON-able dict (``ExportService`` shapes it); the store keeps it under
(tenant, job id), claims a ``queued`` job for one worker (``expect_status``), and lists a tenant's
jobs newest first. The list's position is ``listing_position(job)``, ``<requested_at>#<job_id>``:
a page's ``after`` is the position of the last job of the previous page (the API hands it out as
an opaque cursor).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

# requested_at (RFC 3339 UTC, utc_timestamp) and a job id (x + hex digits): what a position is.
POSITION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z#x[0-9a-f]{1,40}$")


def listing_position(job: dict[str, Any]) -> str:
    """Where ``job`` sorts in its tenant's list: by request time, then job id."""
    return f"{job['requested_at']}#{job['job_id']}"


class ExportJobStore(Protocol):
    def put(self, tenant_id: str, job_id: str, job: dict[str, Any], *, expect_status: str | None = None,
            create: bool = False) -> None:
        """Store ``job``. ``create``: only if no job has this id (else ``Conflict``), and list it;
        ``expect_status``: only if the stored job still has this status (else ``Conflict``)."""
        ...

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        """The job as last stored (a consistent read), or None."""
        ...

    def recent(self, tenant_id: str, *, limit: int, after: str | None = None
               ) -> tuple[list[dict[str, Any]], str | None]:
        """The tenant's jobs, newest first (``listing_position`` descending), at most ``limit``,
        those after position ``after`` only; and the position to continue after, or None when
        this page holds the last job. Each job as last stored; jobs gone (TTL) are left out."""
        ...
