"""Export jobs (ops table) and export archives (exports bucket): DynamoDB / S3 and in-memory.

* A job is one ops item ``pk = EXPORTS#<tenant_id>``, ``sk = <job_id>`` holding the job as JSON,
  its status (for the conditional claim: a worker starts a job only if it is still ``queued``,
  so a retried asynchronous invocation never builds it twice) and a TTL (90 days).
* The tenant's list of jobs, newest first: one more ops item per job, written with the job in the
  same transaction and never changed, ``pk = EXPORTLIST#<tenant_id>``, ``sk = <requested_at>#<job_id>``
  (``ports.exports.listing_position``). A page is one Query of that partition, newest first, and one
  consistent BatchGetItem of its jobs (at most 100). No index: the ops table has none, and a sparse
  GSI would be read eventually consistently and written again at each progress update.
* An archive is streamed into S3 with a multipart upload of 8 MiB parts (one ``PutObject`` when
  smaller): constant memory, no local file. Download URLs are SigV4 pre-signed ``GetObject`` URLs
  for exactly that key, with an expiry that S3 enforces (moto's server does not: tests check the
  URL, not the expiry).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.ports.exports import listing_position

PART_BYTES = 8 * 1024 * 1024
JOB_TTL_SECONDS = 90 * 86400
LIST_TTL_SECONDS = JOB_TTL_SECONDS + 86400  # outlives its job: a listed job gone is left out, never the reverse
BATCH_GET_MAX = 100


def _pk(tenant_id: str) -> str:
    return f"EXPORTS#{tenant_id}"


def _list_pk(tenant_id: str) -> str:
    return f"EXPORTLIST#{tenant_id}"


class DynamoDBExportJobs:
    def __init__(self, client, ops_table: str) -> None:
        self._client = client
        self._table = ops_table

    def put(self, tenant_id: str, job_id: str, job: dict[str, Any], *, expect_status: str | None = None,
            create: bool = False) -> None:
        item = {
            "pk": {"S": _pk(tenant_id)},
            "sk": {"S": job_id},
            "job": {"S": json.dumps(job, sort_keys=True)},
            "status": {"S": job["status"]},
            "expires_at": {"N": str(int(time.time()) + JOB_TTL_SECONDS)},
        }
        if create:
            self._create(tenant_id, job_id, job, item)
            return
        kwargs: dict[str, Any] = {"TableName": self._table, "Item": item}
        if expect_status is not None:
            kwargs["ConditionExpression"] = "#s = :s"
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
            kwargs["ExpressionAttributeValues"] = {":s": {"S": expect_status}}
        try:
            self._client.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"export job {job_id} is no longer {expect_status or 'new'}", field="job_id") from exc
            raise Unavailable(f"export job write failed: {exc.response['Error']['Code']}") from exc

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        try:
            resp = self._client.get_item(TableName=self._table, Key={"pk": {"S": _pk(tenant_id)}, "sk": {"S": job_id}},
                                         ConsistentRead=True)
        except ClientError as exc:
            raise Unavailable(f"export job read failed: {exc.response['Error']['Code']}") from exc
        item = resp.get("Item")
        return json.loads(item["job"]["S"]) if item else None

    def _create(self, tenant_id: str, job_id: str, job: dict[str, Any], item: dict[str, Any]) -> None:
        """The job and its place in the tenant's list, in one transaction."""
        listed = {
            "pk": {"S": _list_pk(tenant_id)},
            "sk": {"S": listing_position(job)},
            "job_id": {"S": job_id},
            "expires_at": {"N": str(int(time.time()) + LIST_TTL_SECONDS)},
        }
        try:
            self._client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self._table, "Item": listed}},
            ])
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if exc.response["Error"]["Code"] == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
                raise Conflict(f"export job {job_id} exists", field="job_id") from exc
            raise Unavailable(f"export job write failed: {exc.response['Error']['Code']}") from exc

    def recent(self, tenant_id: str, *, limit: int, after: str | None = None
               ) -> tuple[list[dict[str, Any]], str | None]:
        if not 1 <= limit <= BATCH_GET_MAX:
            raise ValueError(f"limit is 1 to {BATCH_GET_MAX}")
        pk = _list_pk(tenant_id)
        kwargs: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}}, "ScanIndexForward": False,
            "Limit": limit + 1,  # one more: is there a next page?
            "ConsistentRead": True,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": after}}
        try:
            resp = self._client.query(**kwargs)
        except ClientError as exc:
            raise Unavailable(f"export job list failed: {exc.response['Error']['Code']}") from exc
        listed = resp.get("Items", [])
        page = listed[:limit]
        more = len(listed) > limit or ("LastEvaluatedKey" in resp and bool(page))
        jobs = self._jobs(tenant_id, [i["job_id"]["S"] for i in page])
        found = [jobs[i["job_id"]["S"]] for i in page if i["job_id"]["S"] in jobs]
        return found, (page[-1]["sk"]["S"] if more else None)

    def _jobs(self, tenant_id: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored jobs among ``job_ids`` (at most 100): one consistent BatchGetItem, and again
        for the keys DynamoDB left unprocessed."""
        if not job_ids:
            return {}
        request: dict[str, Any] = {self._table: {
            "Keys": [{"pk": {"S": _pk(tenant_id)}, "sk": {"S": j}} for j in job_ids],
            "ProjectionExpression": "sk, job", "ConsistentRead": True}}
        found: dict[str, dict[str, Any]] = {}
        for attempt in range(8):
            try:
                resp = self._client.batch_get_item(RequestItems=request)
            except ClientError as exc:
                raise Unavailable(f"export job read failed: {exc.response['Error']['Code']}") from exc
            for item in resp.get("Responses", {}).get(self._table, []):
                found[item["sk"]["S"]] = json.loads(item["job"]["S"])
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                return found
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise Unavailable("export job read failed: keys left unprocessed")


class InMemoryExportJobs:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put(self, tenant_id: str, job_id: str, job: dict[str, Any], *, expect_status: str | None = None,
            create: bool = False) -> None:
        with self._lock:
            current = self.items.get((tenant_id, job_id))
            if create and current is not None:
                raise Conflict(f"export job {job_id} exists", field="job_id")
            if expect_status is not None and (current is None or current["status"] != expect_status):
                raise Conflict(f"export job {job_id} is no longer {expect_status}", field="job_id")
            self.items[(tenant_id, job_id)] = json.loads(json.dumps(job))

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        job = self.items.get((tenant_id, job_id))
        return json.loads(json.dumps(job)) if job is not None else None

    def recent(self, tenant_id: str, *, limit: int, after: str | None = None
               ) -> tuple[list[dict[str, Any]], str | None]:
        if not 1 <= limit <= BATCH_GET_MAX:
            raise ValueError(f"limit is 1 to {BATCH_GET_MAX}")
        with self._lock:
            jobs = sorted((j for (t, _), j in self.items.items() if t == tenant_id), key=listing_position,
                          reverse=True)
        if after is not None:
            jobs = [j for j in jobs if listing_position(j) < after]
        page = [json.loads(json.dumps(j)) for j in jobs[:limit]]
        return page, (listing_position(page[-1]) if len(jobs) > limit else None)


class MultipartWriter:
    """A write-only binary stream into one S3 object (no ``seek``/``tell``: ``zipfile`` then writes
    data descriptors). ``close()`` completes the upload; ``abort()`` discards it."""

    def __init__(self, client, bucket: str, key: str, *, part_bytes: int = PART_BYTES,
                 content_type: str = "application/zip") -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._part_bytes = part_bytes
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes = 0
        self.closed = False

    def write(self, data) -> int:
        self._buffer += data
        self.bytes += len(data)
        while len(self._buffer) >= self._part_bytes:
            chunk = bytes(self._buffer[: self._part_bytes])
            del self._buffer[: self._part_bytes]
            self._upload(chunk)
        return len(data)

    def flush(self) -> None:
        return None

    def _upload(self, chunk: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type)["UploadId"]
        number = len(self._parts) + 1
        etag = self._client.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                        PartNumber=number, Body=chunk)["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})

    def close(self) -> None:
        if self.closed:
            return
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer),
                                    ContentType=self._content_type)
        else:
            if self._buffer:
                self._upload(bytes(self._buffer))
            self._client.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                                   MultipartUpload={"Parts": self._parts})
        self._buffer = bytearray()
        self.closed = True

    def abort(self) -> None:
        if self._upload_id is not None:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            except ClientError:  # best effort; the bucket's lifecycle rule removes stale uploads
                pass
        self.closed = True


class S3ExportObjects:
    def __init__(self, client, presign_client, bucket: str) -> None:
        self._client = client
        self._presign = presign_client
        self.bucket = bucket

    def writer(self, key: str) -> MultipartWriter:
        return MultipartWriter(self._client, self.bucket, key)

    def size(self, key: str) -> int | None:
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise Unavailable(f"export archive check failed: {exc.response['Error']['Code']}") from exc

    def read(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def presign(self, key: str, expires_in: int, file_name: str) -> str:
        return self._presign.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{file_name}"',
                    "ResponseContentType": "application/zip"},
            ExpiresIn=expires_in,
        )


class InMemoryExportObjects:
    """For unit tests and benchmarks: keeps archives in memory (or only counts their bytes)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.objects: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}
        self._keep = keep
        self.bucket = "memory"

    def writer(self, key: str):
        store = self

        class _Writer:
            def __init__(self) -> None:
                self.buffer = bytearray() if store._keep else None
                self.bytes = 0

            def write(self, data) -> int:
                if self.buffer is not None:
                    self.buffer += data
                self.bytes += len(data)
                return len(data)

            def flush(self) -> None:
                return None

            def close(self) -> None:
                store.sizes[key] = self.bytes
                if self.buffer is not None:
                    store.objects[key] = bytes(self.buffer)

            def abort(self) -> None:
                return None

        return _Writer()

    def size(self, key: str) -> int | None:
        return self.sizes.get(key)

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def presign(self, key: str, expires_in: int, file_name: str) -> str:
        return f"memory://{self.bucket}/{key}?X-Amz-Expires={expires_in}"


def presign_client(settings):
    """An S3 client that pre-signs with SigV4 (``X-Amz-Expires``; SigV2 URLs are deprecated), with
    path-style addresses against a local endpoint (the embedded moto server)."""
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"region_name": settings.region}
    config: dict[str, Any] = {"signature_version": "s3v4"}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        config["s3"] = {"addressing_style": "path"}
    if settings.mode == "local":
        kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - moto
    return boto3.client("s3", config=Config(**config), **kwargs)
