"""Export jobs: request an archive, build it asynchronously, hand out short-lived download URLs.

* ``request`` checks the request (period, chains, format against the tenant), records the job
  (``queued``) and the ``export_requested`` event, and dispatches the build: on AWS an
  asynchronous invocation of the ``build_export`` Lambda function; locally a background thread
  of the API process (docs/decisions/0009-export-format.md says why).
* ``build`` claims the job (``queued`` -> ``running``, conditionally: a retried invocation does
  nothing), streams the archive into the exports bucket (``export_archive.build_archive``),
  updating the progress, and ends ``done`` (with the archive's and the manifest's SHA-256) or
  ``failed`` (with the reasons, e.g. every FEC check that failed).
* ``status`` reports the job; once done it issues a pre-signed URL for exactly that object,
  valid ``expires_in`` seconds (15 minutes by default, one hour at most), and records the
  ``export_url_issued`` event with the archive's fingerprint.
* ``recent`` lists the tenant's jobs, newest first, a page at a time, without download URLs
  (no URL is issued, nothing is journaled: ``status`` of one job gives a fresh one).

Test-mode tenants export training data: the archive says NON-FISCAL everywhere, and auditors may
not export them at all.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from chalicelib.domain.permissions import Role
from chalicelib.domain.records import SealedRecord, chain_key, utc_timestamp
from chalicelib.domain.tenant import Tenant
from chalicelib.domain.witness import WitnessRefused
from chalicelib.ports.exports import POSITION
from chalicelib.services.export_archive import (
    ArchiveSpec,
    ChainNotAsSigned,
    ChainTampered,
    EventJournalBehind,
    FecInvalid,
    WitnessMismatch,
    archive_name,
    build_archive,
)
from chalicelib.services.tenants import tenant_of

KINDS = ("fiscal", "fec")
URL_TTL_DEFAULT = 900
URL_TTL_MAX = 3600
MAX_DAYS = 3 * 366 + 1
STALE_AFTER = timedelta(minutes=20)
EVENTS_CHAIN = "events"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---- where records come from ------------------------------------------------------------------
class StoreSource:
    """A tenant's chains as stored: records from the journal/events tables (older events that left
    the 30-day hot table are read back from the archive), checkpoints, published keys and, with a
    witness (decision 0024), the witness's cosignatures and key."""

    def __init__(self, tenant_id: str, *, journal_store, events_store, checkpoints, events_checkpoints,
                 key_registry, archive: Callable[[], Any] | None = None, witness=None,
                 witness_key: Callable[[], tuple[str, str]] | None = None) -> None:
        """``witness``: a ``WitnessSubmitter``; ``witness_key``: ``() -> (key id, public key PEM)``
        of the witness it submits to (read once the checkpoints are co-signed: on AWS the witness
        function says it in its answers)."""
        if (witness is None) != (witness_key is None):
            raise ValueError("a witness needs its key, and a witness key its witness")
        self._tenant_id = tenant_id
        self._journal = journal_store
        self._events = events_store
        self._checkpoints = checkpoints
        self._events_checkpoints = events_checkpoints
        self._keys = key_registry
        self._archive = archive
        self._witness = witness
        self._witness_key = witness_key

    def _services(self, chain: str):
        if chain == EVENTS_CHAIN:
            return self._events, self._events_checkpoints
        return self._journal, self._checkpoints

    def end(self, chain: str) -> int:
        """Sign a checkpoint at the chain's head (the newest one if nothing was appended since)
        and, with a witness, have it co-signed: ``WitnessRefused`` (the witness raised its alarm)
        fails the export, a witness that cannot be reached (``Unavailable``) too. When another
        signer stored a newer checkpoint meanwhile, the witness co-signs that one and the archive
        ends there: its newest checkpoint is always the co-signed one."""
        store, service = self._services(chain)
        checkpoint = service.checkpoint(self._tenant_id, chain)
        end = checkpoint.size if checkpoint is not None else 0
        if end and self._witness is not None:
            cosigned = self._witness.submit(self._tenant_id, chain, store)
            if cosigned is None or cosigned.size < end:
                raise WitnessRefused(f"{chain}: the witness has co-signed a larger size than the newest signed "
                                     f"checkpoint (size {end}): checkpoints were removed or the table rolled back",
                                     reason="witness_ahead", size=end)
            end = cosigned.size
        self._not_rolled_back(chain, end)
        return end

    def _not_rolled_back(self, chain: str, end: int) -> None:
        """The write-once archive's newest checkpoint of the chain is no larger than where the chain
        ends now (it copies the checkpoints table, a little later): larger, the chain and its
        checkpoints were rolled back (an outside trial's test-mode chain, which no witness co-signs,
        exported as done that way)."""
        if self._archive is None:
            return
        archived = self._archive().newest_checkpoint_size(chain_key(self._tenant_id, chain), at_least=end)
        if archived > end:
            raise ChainNotAsSigned(chain, end, archived)

    def cosignatures(self, chain: str, end: int):
        """The witness's kept cosignatures of ``chain`` up to size ``end``, oldest first; only those by
        the witness's current key (the archive carries that key only)."""
        if self._witness is None or self._witness_key is None:
            return []
        key_id, _ = self._witness_key()
        return [c for c in self._witness.cosignatures(chain_key(self._tenant_id, chain), up_to=end)
                if c.witness_key_id == key_id]

    def witness_keys(self) -> list[tuple[str, str]]:
        return [self._witness_key()] if self._witness_key is not None else []

    def records(self, chain: str, first: int, last: int) -> Iterator[SealedRecord]:
        store, _ = self._services(chain)
        key = chain_key(self._tenant_id, chain)
        expected = first
        for item in store.raw_items(key, first, last):
            seq = int(item["sk"]) if "sk" in item else int(item["seq"])
            if seq > expected and self._archive is not None:
                for old in self._archive().records(key, expected, seq - 1):
                    yield SealedRecord.from_item(old)
            yield SealedRecord.from_item(item)
            expected = seq + 1

    def checkpoints(self, chain: str, end: int):
        _, service = self._services(chain)
        return [s.checkpoint for s in service.list(self._tenant_id, chain) if s.checkpoint.size <= end]

    def keys(self):
        return self._keys.published()

    def derived_through(self, chain: str) -> int:
        """The seq up to which every entry of ``chain`` has its event in the event journal: the
        deriver's cursor, moved in the same transaction as the events it seals."""
        from chalicelib.services.events import cursor_key

        stored = self._events.claim(*cursor_key(chain_key(self._tenant_id, chain)))
        return int(stored["seq"]) if stored else 0


# ---- dispatch ------------------------------------------------------------------------------------
class ThreadDispatcher:
    """Local mode: build in a background thread of the API process."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, service: ExportService, tenant_id: str, job_id: str) -> None:
        thread = threading.Thread(target=service.build_quietly, args=(tenant_id, job_id),
                                  name=f"export-{job_id}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()


class InlineDispatcher:
    """Build before answering (``scelle export-sample``, some tests)."""

    def __call__(self, service: ExportService, tenant_id: str, job_id: str) -> None:
        service.build_quietly(tenant_id, job_id)


class LambdaDispatcher:
    """AWS: an asynchronous (``Event``) invocation of the ``build_export`` function."""

    def __init__(self, lambda_client, function_name: str) -> None:
        self._client = lambda_client
        self._function = function_name

    def __call__(self, service: ExportService, tenant_id: str, job_id: str) -> None:
        self._client.invoke(FunctionName=self._function, InvocationType="Event",
                            Payload=json.dumps({"tenant_id": tenant_id, "job_id": job_id}).encode())


@dataclass(frozen=True)
class ExportRequest:
    kind: str
    first_day: date
    last_day: date
    chains: list[str] | None = None


class ExportService:
    def __init__(
        self,
        *,
        jobs,
        objects,
        tenants,
        directory,
        source_for: Callable[[str], Any],
        signer: Callable[[], Any],
        events,
        idempotency=None,
        dispatcher: Callable[[ExportService, str, str], None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        on_built: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._jobs = jobs
        self._objects = objects
        self._tenants = tenants
        self._directory = directory
        self._source_for = source_for
        self._signer = signer
        self._events = events
        self._idempotency = idempotency
        self.dispatcher = dispatcher or ThreadDispatcher()
        self._clock = clock
        self._on_built = on_built or (lambda job: None)

    # ---- request -------------------------------------------------------------------------------
    def request(self, caller, req: ExportRequest, idempotency_key: str | None = None) -> dict[str, Any]:
        tenant = tenant_of(caller, self._tenants)
        if tenant.training and caller.role == Role.AUDITOR:
            raise Forbidden("this tenant is in test mode: its data is training data, which auditors cannot export",
                            field="tenant_id")
        chains = self._chains(tenant, req)
        self._check(tenant, req)
        payload = {"format": req.kind, "from": req.first_day.isoformat(), "to": req.last_day.isoformat(),
                   "chains": chains}

        def work() -> dict[str, Any]:
            now = utc_timestamp(self._clock())
            job_id = f"x{uuid.uuid4().hex[:20]}"
            job = {
                "job_id": job_id, "tenant_id": tenant.tenant_id, "status": "queued", "format": req.kind,
                "from": req.first_day.isoformat(), "to": req.last_day.isoformat(), "chains": chains,
                "fiscal": not tenant.training, "requested_by": caller.user_id,
                "requested_by_name": getattr(caller, "name", None) or None, "requested_role": str(caller.role),
                "requested_at": now, "updated_at": now, "started_at": None, "finished_at": None,
                "progress": {"entries_done": 0, "entries_total": None}, "object_key": None, "file_name": None,
                "bytes": None, "sha256": None, "manifest_sha256": None, "error": None,
            }
            self._jobs.put(tenant.tenant_id, job_id, job, create=True)
            self._events.record(tenant.tenant_id, "export_requested", actor=caller.user_id, training=tenant.training,
                                details={"job_id": job_id, "format": req.kind, "from": job["from"], "to": job["to"],
                                         "chains": chains, "role": str(caller.role), "fiscal": not tenant.training})
            self.dispatcher(self, tenant.tenant_id, job_id)
            return self.view(self._jobs.get(tenant.tenant_id, job_id) or job)

        if self._idempotency is None:
            return work()
        return self._idempotency.run(f"{tenant.tenant_id}#export#{caller.user_id}", idempotency_key, payload, work)

    def _chains(self, tenant: Tenant, req: ExportRequest) -> list[str]:
        mode = f"{tenant.chain_mode}."
        known = [c for c in self._directory.chains(tenant.tenant_id) if c != EVENTS_CHAIN]
        if req.chains is None:
            return sorted(c for c in known if c.startswith(mode))
        chosen: list[str] = []
        for index, chain in enumerate(req.chains):
            field = f"chains.{index}"
            if chain == EVENTS_CHAIN:
                raise ValidationFailed("the event journal is always in the archive; list ledger chains only",
                                       field=field)
            if not chain.startswith(mode):
                what = "training (test-mode) data" if chain.startswith("test.") else "production data"
                raise ValidationFailed(f"{chain!r} holds {what}; this tenant's exports hold only {mode}* chains",
                                       field=field)
            if chain not in known:
                raise ValidationFailed(f"this tenant has no chain {chain!r}", field=field)
            if chain in chosen:
                raise ValidationFailed(f"{chain!r} is listed twice", field=field)
            chosen.append(chain)
        if not chosen:
            raise ValidationFailed("list at least one chain, or leave chains out for all of them", field="chains")
        return sorted(chosen)

    def _check(self, tenant: Tenant, req: ExportRequest) -> None:
        if req.kind not in KINDS:
            raise ValidationFailed(f"format is one of {', '.join(KINDS)}", field="format")
        if req.kind == "fec" and tenant.country != "FR":
            raise ValidationFailed("the FEC is a French file; this tenant is not French (use format fiscal)",
                                   field="format")
        if req.last_day < req.first_day:
            raise ValidationFailed(f"the period ends ({req.last_day}) before it starts ({req.first_day})", field="to")
        if (req.last_day - req.first_day).days + 1 > MAX_DAYS:
            raise ValidationFailed(f"a period is at most {MAX_DAYS} days; export longer spans in several archives",
                                   field="to")
        if req.first_day < date(2000, 1, 1):
            raise ValidationFailed("the period starts before 2000", field="from")
        today = self._clock().date()
        if req.first_day > today + timedelta(days=1):
            raise ValidationFailed(f"the period starts after today ({today})", field="from")

    # ---- build ---------------------------------------------------------------------------------
    def build_quietly(self, tenant_id: str, job_id: str) -> None:
        """``build`` for a worker: failures end in the job's status, never in an exception."""
        try:
            self.build(tenant_id, job_id)
        except Exception:
            from chalicelib.observability import logger

            logger.exception("export build failed", extra={"tenant_id": tenant_id, "job_id": job_id})

    def build(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        job = self._jobs.get(tenant_id, job_id)
        if job is None or job["status"] != "queued":
            return job  # done, failed or taken by another invocation: nothing to do
        now = utc_timestamp(self._clock())
        job.update(status="running", started_at=now, updated_at=now)
        try:
            self._jobs.put(tenant_id, job_id, job, expect_status="queued")
        except Conflict:
            return None
        tenant = self._tenants.get(tenant_id)
        spec = ArchiveSpec(job_id=job_id, kind=job["format"], first_day=date.fromisoformat(job["from"]),
                           last_day=date.fromisoformat(job["to"]), chains=tuple(job["chains"]),
                           requested_by=job["requested_by"], requested_at=job["requested_at"])
        name = archive_name(tenant, spec)
        key = f"exports/{tenant_id}/{job_id}/{name}"
        writer = self._objects.writer(key)
        sink = _HashingSink(writer)

        def progress(done: int, total: int) -> None:
            job["progress"] = {"entries_done": done, "entries_total": total}
            job["updated_at"] = utc_timestamp(self._clock())
            self._jobs.put(tenant_id, job_id, job)

        try:
            result = build_archive(sink, tenant=tenant, spec=spec, source=self._source_for(tenant_id),
                                   signer=self._signer(), clock=self._clock, progress=progress,
                                   directory=lambda: self._directory.chains(tenant_id))
            writer.close()
        except Exception as exc:
            writer.abort()
            job.update(status="failed", finished_at=utc_timestamp(self._clock()), error=_error(exc))
            job["updated_at"] = job["finished_at"]
            self._jobs.put(tenant_id, job_id, job)
            if isinstance(exc, (FecInvalid, EventJournalBehind, WitnessMismatch, WitnessRefused, ChainTampered)):
                return job  # refused for good: building again gives the same answer
            raise  # a store or the witness out of reach (retryable: request it again): logged
        job.update(status="done", finished_at=utc_timestamp(self._clock()), object_key=key, file_name=name,
                   bytes=sink.bytes, sha256=sink.sha256.hexdigest(), manifest_sha256=result.manifest_sha256)
        job["progress"] = {"entries_done": result.entries, "entries_total": result.entries}
        job["updated_at"] = job["finished_at"]
        self._jobs.put(tenant_id, job_id, job)
        self._on_built(job)
        return job

    # ---- status and download ----------------------------------------------------------------------
    def status(self, caller, job_id: str, expires_in: int = URL_TTL_DEFAULT) -> dict[str, Any]:
        if not 1 <= expires_in <= URL_TTL_MAX:
            raise ValidationFailed(f"expires_in is 1 to {URL_TTL_MAX} seconds", field="expires_in")
        job = self._jobs.get(caller.tenant_id, job_id)
        if job is None:
            raise NotFound(f"no export job {job_id!r} in this tenant", field="job_id")
        tenant = tenant_of(caller, self._tenants)
        if tenant.training and caller.role == Role.AUDITOR:
            raise Forbidden("this tenant is in test mode: auditors cannot export its training data",
                            field="tenant_id")
        job = self._stale(job)
        download = None
        if job["status"] == "done":
            if self._objects.size(job["object_key"]) is None:
                job = {**job, "status": "expired"}
            else:
                now = self._clock()
                url = self._objects.presign(job["object_key"], expires_in, job["file_name"])
                expires_at = utc_timestamp(now + timedelta(seconds=expires_in))
                self._events.record(caller.tenant_id, "export_url_issued", actor=caller.user_id,
                                    training=tenant.training,
                                    details={"job_id": job_id, "file": job["file_name"], "sha256": job["sha256"],
                                             "manifest_sha256": job["manifest_sha256"], "expires_in": expires_in,
                                             "expires_at": expires_at, "role": str(caller.role)})
                download = {"url": url, "expires_in": expires_in, "expires_at": expires_at,
                            "file_name": job["file_name"], "bytes": job["bytes"], "sha256": job["sha256"],
                            "manifest_sha256": job["manifest_sha256"]}
        return self.view(job, download)

    def recent(self, caller, *, limit: int, after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The tenant's jobs newest first (at most ``limit``, after position ``after``: the previous
        page's last) and the position to continue after (None: no more). The rules of ``status``:
        an auditor may not see a test-mode tenant's exports (training data)."""
        if after is not None and not POSITION.match(after):
            raise ValidationFailed("the cursor is not one this API returned", field="cursor")
        tenant = tenant_of(caller, self._tenants)
        if tenant.training and caller.role == Role.AUDITOR:
            raise Forbidden("this tenant is in test mode: auditors cannot export its training data",
                            field="tenant_id")
        jobs, last = self._jobs.recent(tenant.tenant_id, limit=limit, after=after)
        return [self.view(self._stale(job)) for job in jobs], last

    def _stale(self, job: dict[str, Any]) -> dict[str, Any]:
        """A queued or running job without progress for 20 minutes has lost its worker."""
        if job["status"] not in ("queued", "running"):
            return job
        try:
            updated = datetime.fromisoformat(job["updated_at"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return job
        if self._clock() - updated < STALE_AFTER:
            return job
        return {**job, "status": "failed",
                "error": {"title": "Worker stopped", "detail": "the export stopped before finishing; request it again"}}

    @staticmethod
    def view(job: dict[str, Any], download: dict[str, Any] | None = None) -> dict[str, Any]:
        progress = job.get("progress") or {}
        done, total = progress.get("entries_done") or 0, progress.get("entries_total")
        percent = 100 if job["status"] == "done" else (int(100 * done / total) if total else 0)
        return {
            "job_id": job["job_id"], "status": job["status"], "format": job["format"], "from": job["from"],
            "to": job["to"], "chains": job["chains"], "fiscal": job["fiscal"],
            "requested_by": job["requested_by"], "requested_by_name": job.get("requested_by_name"),
            "requested_at": job["requested_at"], "started_at": job.get("started_at"),
            "finished_at": job.get("finished_at"),
            "progress": {"entries_done": done, "entries_total": total, "percent": min(percent, 100)},
            "error": job.get("error"), "download": download,
        }


def _error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, (FecInvalid, EventJournalBehind, WitnessMismatch, ChainTampered)):
        return {"title": exc.title, "detail": exc.detail, "problems": [str(p) for p in exc.problems]}
    if isinstance(exc, WitnessRefused):  # the witness raised a tamper alarm: never exported as fine
        return {"title": "The witness refused the export's checkpoint",
                "detail": f"{exc.detail} (witness: {exc.reason}); the history the archive would carry is not the one "
                          "the independent witness co-signed, so it is not exported",
                "reason": exc.reason, "retryable": False}
    if isinstance(exc, Unavailable):
        return {"title": exc.title, "detail": f"{exc.detail}; request the export again", "retryable": True}
    from chalicelib.domain.errors import ScelleError

    if isinstance(exc, ScelleError):
        return {"title": exc.title, "detail": exc.detail}
    return {"title": "Export failed", "detail": "the archive could not be built; it has been logged"}


class _HashingSink:
    def __init__(self, inner) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data) -> int:
        self._inner.write(data)
        self.sha256.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        return None
