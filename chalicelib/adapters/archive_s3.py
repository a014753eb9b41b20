"""The archive bucket as a write-once object store: S3 with Object Lock (compliance mode), and an
in-memory twin with the same contract for unit tests.

``put_new`` writes only if the key does not exist yet (``If-None-Match: *``), so a retried write
never makes a second copy; ``put_version`` adds a new version of a key (the manifests). Every
version is locked until its ``retain_until``: compliance mode means nobody, root included, can
delete or shorten it before then.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.domain.errors import Unavailable

LOCK_MODE = "COMPLIANCE"


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    metadata: dict[str, str]
    retain_until: datetime | None = None
    lock_mode: str | None = None


class S3ObjectStore:
    def __init__(self, s3_client, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def _put(self, key: str, body: bytes, retain_until: datetime, metadata: dict[str, str], **extra) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/octet-stream",
            Metadata=metadata,
            ObjectLockMode=LOCK_MODE,
            ObjectLockRetainUntilDate=retain_until,
            **extra,
        )

    def put_new(self, key: str, body: bytes, *, retain_until: datetime, metadata: dict[str, str]) -> bool:
        """Write ``key`` unless it exists. True if written, False if an object was already there."""
        try:
            self._put(key, body, retain_until, metadata, IfNoneMatch="*")
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise Unavailable(f"archive write of {key} failed: {code}") from exc
        return True

    def put_version(self, key: str, body: bytes, *, retain_until: datetime, metadata: dict[str, str]) -> None:
        try:
            self._put(key, body, retain_until, metadata)
        except ClientError as exc:
            raise Unavailable(f"archive write of {key} failed: {exc.response['Error']['Code']}") from exc

    def get(self, key: str) -> StoredObject | None:
        try:
            got = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise Unavailable(f"archive read of {key} failed: {exc.response['Error']['Code']}") from exc
        return StoredObject(
            got["Body"].read(),
            dict(got.get("Metadata") or {}),
            got.get("ObjectLockRetainUntilDate"),
            got.get("ObjectLockMode"),
        )

    def head(self, key: str) -> StoredObject | None:
        """Metadata and lock of ``key`` without its body (``body`` is empty)."""
        try:
            got = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise Unavailable(f"archive head of {key} failed: {exc.response['Error']['Code']}") from exc
        return StoredObject(b"", dict(got.get("Metadata") or {}), got.get("ObjectLockRetainUntilDate"),
                            got.get("ObjectLockMode"))

    def keys(self, prefix: str, *, start_after: str | None = None) -> Iterator[str]:
        """Keys under ``prefix`` in ascending order, page by page."""
        kwargs = {"Bucket": self._bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    yield obj["Key"]
        except ClientError as exc:
            raise Unavailable(f"archive listing of {prefix} failed: {exc.response['Error']['Code']}") from exc

    def versions(self, key: str) -> int:
        """How many versions of exactly ``key`` exist (tests: nothing is written twice)."""
        resp = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        return sum(1 for v in resp.get("Versions", []) if v["Key"] == key)


class InMemoryObjectStore:
    """Same contract, in a dict (versions kept; nothing can be deleted)."""

    def __init__(self) -> None:
        self._objects: dict[str, list[StoredObject]] = {}
        self._sorted: list[str] = []  # the keys in order, so a listing costs what S3's does
        self._lock = threading.Lock()
        self.fail_next_put: Exception | None = None  # tests: simulate an outage

    def _check_failure(self) -> None:
        if self.fail_next_put is not None:
            exc, self.fail_next_put = self.fail_next_put, None
            raise exc

    def put_new(self, key: str, body: bytes, *, retain_until: datetime, metadata: dict[str, str]) -> bool:
        self._check_failure()
        with self._lock:
            if key in self._objects:
                return False
            self._objects[key] = [StoredObject(bytes(body), dict(metadata), retain_until, LOCK_MODE)]
            bisect.insort(self._sorted, key)
            return True

    def put_version(self, key: str, body: bytes, *, retain_until: datetime, metadata: dict[str, str]) -> None:
        self._check_failure()
        with self._lock:
            if key not in self._objects:
                bisect.insort(self._sorted, key)
            self._objects.setdefault(key, []).append(StoredObject(bytes(body), dict(metadata), retain_until,
                                                                  LOCK_MODE))

    def get(self, key: str) -> StoredObject | None:
        versions = self._objects.get(key)
        return versions[-1] if versions else None

    def head(self, key: str) -> StoredObject | None:
        found = self.get(key)
        return None if found is None else StoredObject(b"", found.metadata, found.retain_until, found.lock_mode)

    def keys(self, prefix: str, *, start_after: str | None = None) -> Iterator[str]:
        with self._lock:
            start = bisect.bisect_right(self._sorted, start_after) if start_after and start_after >= prefix else (
                bisect.bisect_left(self._sorted, prefix))
            found = []
            for key in self._sorted[start:]:
                if not key.startswith(prefix):
                    break
                found.append(key)
        yield from found

    def versions(self, key: str) -> int:
        return len(self._objects.get(key, []))

    def all_versions(self, prefix: str = "") -> Iterator[tuple[str, StoredObject]]:
        """Every stored version under ``prefix`` (tests: what the locked storage holds)."""
        for key in self.keys(prefix):
            for version in self._objects[key]:
                yield key, version

    # tests: tampering with the stored bytes (impossible on S3 with Object Lock)
    def replace_body(self, key: str, body: bytes) -> None:
        last = self._objects[key][-1]
        self._objects[key][-1] = StoredObject(body, last.metadata, last.retain_until, last.lock_mode)
