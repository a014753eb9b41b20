"""One contract for the export job stores (DynamoDB on the embedded stack, and in memory): a job is
created once, claimed once (``expect_status``), and a tenant's jobs are listed newest first, page
after page, each once, as last stored, and never another tenant's."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.exports import InMemoryExportJobs
from chalicelib.domain.errors import Conflict
from chalicelib.ports.exports import POSITION, listing_position

pytestmark = pytest.mark.functional


@pytest.fixture(params=["dynamodb", "memory"])
def store(request, container):
    return container.export_jobs if request.param == "dynamodb" else InMemoryExportJobs()


def _tenant() -> str:
    return f"t{uuid.uuid4().hex[:20]}"


def _job(tenant: str, minute: int, *, second: int = 0, job_id: str | None = None) -> dict:
    return {"job_id": job_id or f"x{uuid.uuid4().hex[:20]}", "tenant_id": tenant, "status": "queued",
            "format": "fiscal", "from": "2026-01-01", "to": "2026-01-31", "chains": ["prod.sales.R1"],
            "requested_at": f"2026-02-01T10:{minute:02d}:{second:02d}.000000Z", "progress": {"entries_done": 0}}


def test_a_job_is_created_once_and_claimed_once(store):
    tenant = _tenant()
    job = _job(tenant, 1)
    store.put(tenant, job["job_id"], job, create=True)
    with pytest.raises(Conflict):
        store.put(tenant, job["job_id"], job, create=True)
    running = {**job, "status": "running"}
    store.put(tenant, job["job_id"], running, expect_status="queued")
    with pytest.raises(Conflict):
        store.put(tenant, job["job_id"], running, expect_status="queued")
    assert store.get(tenant, job["job_id"])["status"] == "running"
    assert store.get(_tenant(), job["job_id"]) is None
    listed, more = store.recent(tenant, limit=10)
    assert [j["job_id"] for j in listed] == [job["job_id"]] and more is None  # listed once, as last stored
    assert listed[0]["status"] == "running"


def test_jobs_are_listed_newest_first_page_after_page_each_once(store):
    tenant, other = _tenant(), _tenant()
    jobs = [_job(tenant, m) for m in (3, 1, 4, 5, 2)]
    jobs.append(_job(tenant, 4, job_id="x" + "0" * 20))  # same instant: the job id breaks the tie
    for job in jobs:
        store.put(tenant, job["job_id"], job, create=True)
    store.put(other, "x" + "f" * 20, _job(other, 9, job_id="x" + "f" * 20), create=True)
    newest_first = sorted(jobs, key=listing_position, reverse=True)

    seen, after, pages = [], None, 0
    while True:
        page, after = store.recent(tenant, limit=2, after=after)
        pages += 1
        seen += [j["job_id"] for j in page]
        if after is None:
            break
        assert POSITION.match(after) and after == listing_position(page[-1])
    assert seen == [j["job_id"] for j in newest_first]
    assert pages == 3  # the last full page says there is no more: no empty page at the end
    everything, more = store.recent(tenant, limit=100)
    assert len(everything) == 6 and more is None
    assert store.recent(_tenant(), limit=5) == ([], None)


def test_a_page_after_the_oldest_job_is_empty(store):
    tenant = _tenant()
    job = _job(tenant, 7)
    store.put(tenant, job["job_id"], job, create=True)
    assert store.recent(tenant, limit=1, after=listing_position(job)) == ([], None)
