"""Saves and restores the embedded stack's tables and buckets under the data directory.

moto keeps nothing across restarts, so local mode persists through this snapshot: items are
written as DynamoDB JSON exactly as stored (the hashes cover those bytes, so a restored chain
verifies), objects with their metadata and Object Lock settings. A snapshot is written to a
temporary directory and renamed into place, so a crash never leaves half a snapshot.

Tables are restored *before* their stream is enabled: restored items are history, not new
writes, and must not be fed to the stream verifier and archiver a second time.

A snapshot is compaction, not the durability mechanism: every acknowledged change is in the redo
log first (``redo_log.py``). ``snapshot.json`` records the log's boundary at the snapshot's start;
``restore`` loads the snapshot, then the after-images logged past that boundary.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
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


def save(clients, settings: Settings, target: Path, *, redo_boundary: int = 0) -> dict[str, int]:
    """Write a full snapshot to ``target`` (replaced atomically). Returns item counts per table.
    ``redo_boundary``: the redo log's last lsn when the snapshot started (its later records are
    replayed on top of it)."""
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
                    try:
                        got = s3.get_object(Bucket=name, Key=obj["Key"])
                    except s3.exceptions.NoSuchKey:
                        continue  # deleted since it was listed: the redo log holds the deletion
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
    (tmp / "snapshot.json").write_text(json.dumps({"format": FORMAT, "counts": counts,
                                                   "redo_after": redo_boundary}))
    _fsync_tree(tmp)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    _fsync_tree(target.parent, recursive=False)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def _fsync_tree(root: Path, recursive: bool = True) -> None:
    """On disk before the rename that publishes it: a crash must not leave a renamed, empty file."""
    paths = [p for p in root.rglob("*") if p.is_file()] if recursive else []
    for path in [*paths, root, *(p for p in root.rglob("*") if p.is_dir() and recursive)]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def restore(clients, settings: Settings, source: Path | None, redo=None) -> dict[str, int]:
    """Create every table and bucket, load the snapshot (``source``; None: there is none yet) and
    then the changes of the redo log past its boundary. Tables must not exist yet. Returns the
    item counts per table, and ``redo`` the number of logged changes applied."""
    meta = {"format": FORMAT, "redo_after": 0}
    if source is not None:
        meta = json.loads((source / "snapshot.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"snapshot format {meta.get('format')} is not {FORMAT}: {source}")
    items, objects_logged = _redo_changes(redo, int(meta.get("redo_after", 0)))
    logged = sum(len(v) for v in items.values()) + len(objects_logged)
    dynamodb, s3 = clients("dynamodb"), clients("s3")
    counts: dict[str, int] = {}
    for table in RESOURCES.tables:
        name = settings.table_name(table.logical)
        create_table(dynamodb, name, table, with_stream=False)
        path = source / "tables" / f"{table.logical}.jsonl" if source is not None else None
        batch: list[dict] = []
        n = 0
        if path is not None and path.exists():
            with open(path, encoding="utf-8") as lines:
                for line in lines:
                    batch.append({"PutRequest": {"Item": _decode(json.loads(line))}})
                    n += 1
                    if len(batch) == 25:
                        _write_batch(dynamodb, name, batch)
                        batch = []
        if batch:
            _write_batch(dynamodb, name, batch)
        for key, item in items.pop(name, {}).values():  # logged after the snapshot: they win
            if item is None:
                dynamodb.delete_item(TableName=name, Key=key)
            else:
                dynamodb.put_item(TableName=name, Item=item)
        enable_stream(dynamodb, name, table)
        counts[table.logical] = n
    ensure_buckets(s3, settings)
    objects = source / "objects.jsonl" if source is not None else None
    if objects is not None and objects.exists():
        with open(objects, encoding="utf-8") as lines:
            for line in lines:
                obj = json.loads(line)
                if (settings.bucket_name(obj["bucket"]), obj["key"]) in objects_logged:
                    continue  # changed after the snapshot: the log has its state
                _put_object(s3, settings.bucket_name(obj["bucket"]), obj["key"],
                            (source / "objects" / obj["blob"]).read_bytes(), obj)
    for (bucket, key), obj in objects_logged.items():
        if obj is None:
            s3.delete_object(Bucket=bucket, Key=key)
        else:
            _put_object(s3, bucket, key, base64.b64decode(obj["body"]), obj)
    counts["redo"] = logged
    return counts


def _redo_changes(redo, after: int):
    """The last logged state of each item and object past ``after``: {table: {key: (key, item)}},
    {(bucket, key): object or None}."""
    from chalicelib.local.redo_log import to_boto

    items: dict[str, dict[str, tuple[dict, dict | None]]] = {}
    objects: dict[tuple[str, str], dict | None] = {}
    if redo is None:
        return items, objects
    for record in redo.records(after):
        if record["t"] == "dynamodb":
            key = json.dumps(record["key"], sort_keys=True)
            item = to_boto(record["item"]) if record["item"] is not None else None
            items.setdefault(record["table"], {})[key] = (to_boto(record["key"]), item)
        elif record["t"] == "s3":
            objects[(record["bucket"], record["key"])] = record["object"]
    return items, objects


def _put_object(s3, bucket: str, key: str, body: bytes, obj: dict) -> None:
    put = {"Bucket": bucket, "Key": key, "Body": body, "Metadata": obj.get("metadata") or {}}
    if obj.get("content_type"):
        put["ContentType"] = obj["content_type"]
    if obj.get("lock_mode") and obj.get("lock_until"):
        put["ObjectLockMode"] = obj["lock_mode"]
        put["ObjectLockRetainUntilDate"] = obj["lock_until"]
    s3.put_object(**put)


def _write_batch(dynamodb, table_name: str, batch: list[dict]) -> None:
    pending = {table_name: batch}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
