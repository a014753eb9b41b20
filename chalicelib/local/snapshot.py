"""Saves and restores the embedded stack's tables and buckets under the data directory.

moto keeps nothing across restarts, so local mode persists through this snapshot: items are
written as DynamoDB JSON exactly as stored (the hashes cover those bytes, so a restored chain
verifies), objects with their metadata and Object Lock settings. A snapshot is written to a
temporary directory and renamed into place, so a crash never leaves half a snapshot.

Tables are restored *before* their stream is enabled: restored items are history, not new
writes, and must not be fed to the stream verifier and archiver a second time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from chalicelib.local.provision import create_table, enable_stream, ensure_buckets
from chalicelib.resources import RESOURCES

FORMAT = 1


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, set):
        return [_encode(v) for v in sorted(value)]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def save(clients, settings: Settings, target: Path) -> dict[str, int]:
    """Write a full snapshot to ``target`` (replaced atomically). Returns item counts per table."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tables").mkdir(parents=True)
    (tmp / "objects").mkdir()
    dynamodb, s3 = clients("dynamodb"), clients("s3")
    counts: dict[str, int] = {}
    for table in RESOURCES.tables:
        n = 0
        with open(tmp / "tables" / f"{table.logical}.jsonl", "w", encoding="utf-8") as out:
            for page in dynamodb.get_paginator("scan").paginate(TableName=settings.table_name(table.logical)):
                for item in page["Items"]:
                    out.write(json.dumps(_encode(item), separators=(",", ":")) + "\n")
                    n += 1
        counts[table.logical] = n
    with open(tmp / "objects.jsonl", "w", encoding="utf-8") as out:
        for bucket in RESOURCES.buckets:
            name = settings.bucket_name(bucket.logical)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for obj in page.get("Contents", []):
                    got = s3.get_object(Bucket=name, Key=obj["Key"])
                    data = got["Body"].read()
                    blob = hashlib.sha256(data).hexdigest()
                    (tmp / "objects" / blob).write_bytes(data)
                    meta = {
                        "bucket": bucket.logical,
                        "key": obj["Key"],
                        "blob": blob,
                        "content_type": got.get("ContentType"),
                        "metadata": got.get("Metadata", {}),
                        "lock_mode": got.get("ObjectLockMode"),
                        "lock_until": got["ObjectLockRetainUntilDate"].isoformat()
                        if got.get("ObjectLockRetainUntilDate")
                        else None,
                    }
                    out.write(json.dumps(meta) + "\n")
    (tmp / "snapshot.json").write_text(json.dumps({"format": FORMAT, "counts": counts}))
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def restore(clients, settings: Settings, source: Path) -> dict[str, int]:
    """Create every table and bucket and load the snapshot into them. Tables must not exist yet."""
    meta = json.loads((source / "snapshot.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"snapshot format {meta.get('format')} is not {FORMAT}: {source}")
    dynamodb, s3 = clients("dynamodb"), clients("s3")
    counts: dict[str, int] = {}
    for table in RESOURCES.tables:
        name = settings.table_name(table.logical)
        create_table(dynamodb, name, table, with_stream=False)
        path = source / "tables" / f"{table.logical}.jsonl"
        batch: list[dict] = []
        n = 0
        if path.exists():
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    batch.append({"PutRequest": {"Item": _decode(json.loads(line))}})
                    n += 1
                    if len(batch) == 25:
                        _write_batch(dynamodb, name, batch)
                        batch = []
        if batch:
            _write_batch(dynamodb, name, batch)
        enable_stream(dynamodb, name, table)
        counts[table.logical] = n
    ensure_buckets(s3, settings)
    objects = source / "objects.jsonl"
    if objects.exists():
        with open(objects, encoding="utf-8") as lines:
            for line in lines:
                obj = json.loads(line)
                put = {
                    "Bucket": settings.bucket_name(obj["bucket"]),
                    "Key": obj["key"],
                    "Body": (source / "objects" / obj["blob"]).read_bytes(),
                    "Metadata": obj["metadata"],
                }
                if obj["content_type"]:
                    put["ContentType"] = obj["content_type"]
                if obj["lock_mode"] and obj["lock_until"]:
                    put["ObjectLockMode"] = obj["lock_mode"]
                    put["ObjectLockRetainUntilDate"] = obj["lock_until"]
                s3.put_object(**put)
    return counts


def _write_batch(dynamodb, table_name: str, batch: list[dict]) -> None:
    pending = {table_name: batch}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
