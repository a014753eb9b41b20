"""The embedded emulator's redo log: every change it acknowledges is on disk before its answer.

moto keeps everything in memory. Snapshots alone lose what was acknowledged since the last one
(a ``kill -9``, a power cut, an OOM kill), and a snapshot taken while writes go on is not a single
moment. So, in local mode, a WSGI middleware in front of moto's server (``DurableEmulator``) does,
for each request that changes state:

1. under one lock: let moto apply it, then read the *after-images* of what it touched (each
   DynamoDB item by key, each S3 object) straight from moto's in-process backends, and append them
   to the log. The lock makes the log's order the order in which the images were taken, so the
   last image of a key in the log is its state;
2. outside the lock: wait until the log is on disk (``fsync``; one fsync covers every record
   appended before it: group commit), and only then answer.

Cognito changes are rare (sign-up, confirmation, sign-in tokens): its whole state is rewritten
atomically after each one, under the same lock. Recovery (``snapshot.restore``) loads the last
snapshot, then applies the images logged after the snapshot's boundary, last image of a key
winning. Images are idempotent, so a snapshot taken while writes continue is still exact: any key
changed after the boundary is set again from the log, any other one was not changed since.

Format: one segment file per run of the log (``<first lsn>.log``), one record a line:
``<lsn> <crc32 hex> <json>``. A line torn by a crash (the only place one can be: the end of the
segment being written) fails its CRC or its parse, and it and what follows in its segment are
ignored — their requests were never answered. See docs/decisions/0014-durable-local-stack.md.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

SEGMENT_SUFFIX = ".log"

# DynamoDB operations that change items; table-level operations are not logged (the stack
# provisions its tables at every start) and PartiQL is not used by the product.
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_COGNITO_READS = ("Describe", "List", "Get", "AdminGet", "AdminList")


class RedoLog:
    """Append-only, checksummed, segmented log with group-commit fsync."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        last = 0
        for _, record_lsn, _ in self._scan(0):
            last = record_lsn
        self._next = last + 1
        self._lock = threading.Lock()  # appends and rotation
        self._sync_lock = threading.Lock()  # one fsync at a time; the others wait and reuse it
        self._synced = last
        self._file = self._open_segment(self._next)

    # ---- writing ------------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> int:
        """Buffer one record; returns its lsn. It is durable once ``sync(lsn)`` returns."""
        payload = json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8")
        with self._lock:
            lsn = self._next
            self._next += 1
            self._file.write(b"%d %08x " % (lsn, zlib.crc32(payload)) + payload + b"\n")
            return lsn

    def sync(self, lsn: int) -> None:
        """Return once every record up to ``lsn`` is on disk."""
        if self._synced >= lsn:
            return
        with self._sync_lock:
            if self._synced >= lsn:  # the fsync of another request covered it
                return
            with self._lock:
                self._file.flush()
                upto, fd = self._next - 1, self._file.fileno()
            os.fsync(fd)
            self._synced = upto

    def rotate(self) -> int:
        """Close the current segment (on disk) and start a new one; returns the boundary: every
        record up to it is in the closed segments. Call with the writers held (a snapshot's start)."""
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            boundary = self._next - 1
            self._synced = max(self._synced, boundary)
            self._file = self._open_segment(self._next)
            return boundary

    def drop_through(self, boundary: int) -> None:
        """Delete the segments whose records are all at or below ``boundary`` (a snapshot holds them)."""
        with self._lock:
            current = Path(self._file.name)
            segments = self._segments()
            for segment, following in itertools.pairwise(segments):
                if segment != current and _first_lsn(following) - 1 <= boundary:
                    segment.unlink(missing_ok=True)
            _fsync_dir(self.directory)

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()

    # ---- reading ------------------------------------------------------------------------------
    def records(self, after: int = 0) -> Iterator[dict[str, Any]]:
        """The intact records with an lsn above ``after``, in order (what is buffered included)."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()
        for _, _lsn, record in self._scan(after):
            yield record

    def _scan(self, after: int) -> Iterator[tuple[Path, int, dict[str, Any]]]:
        for segment in self._segments():
            with open(segment, "rb") as lines:
                for line in lines:
                    parsed = _parse(line)
                    if parsed is None:
                        break  # torn by a crash: nothing after it in this segment was answered
                    lsn, record = parsed
                    if lsn > after:
                        yield segment, lsn, record

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*" + SEGMENT_SUFFIX), key=_first_lsn)

    def _open_segment(self, first_lsn: int):
        path = self.directory / f"{first_lsn:012d}{SEGMENT_SUFFIX}"
        handle = open(path, "ab")
        os.chmod(path, 0o600)
        _fsync_dir(self.directory)
        return handle


def _first_lsn(segment: Path) -> int:
    return int(segment.name[: -len(SEGMENT_SUFFIX)])


def _parse(line: bytes) -> tuple[int, dict[str, Any]] | None:
    try:
        lsn, crc, payload = line.rstrip(b"\n").split(b" ", 2)
        if not line.endswith(b"\n") or int(crc, 16) != zlib.crc32(payload):
            return None
        return int(lsn), json.loads(payload)
    except ValueError:
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- the middleware -------------------------------------------------------------------------------
class DurableEmulator:
    """WSGI middleware in front of moto's server that logs each acknowledged change (module doc)."""

    def __init__(self, app: Callable, log: RedoLog, *, cognito_state_file: Path | None = None) -> None:
        self._app = app
        self.log = log
        self._cognito_state_file = cognito_state_file
        self.writers = threading.RLock()  # held while a change is applied and its images taken
        self.recording = True  # False while the stack loads its own history back

    def __call__(self, environ: dict, start_response: Callable):
        kind = classify(environ) if self.recording else None
        if kind is None:
            return self._app(environ, start_response)
        body = _read_body(environ)
        answer: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("written", []).append(data)

        lsn = 0
        with self.writers:
            environ["wsgi.input"] = io.BytesIO(body)
            result = self._app(environ, capture)
            try:
                chunks = answer.get("written", []) + list(result)
            finally:
                getattr(result, "close", lambda: None)()
            if answer.get("status", "500").startswith("2"):
                for record in after_images(kind, environ, body):
                    lsn = self.log.append(record)
                if kind[0] == "cognito" and self._cognito_state_file is not None:
                    from chalicelib.local.cognito_state import save_cognito_state

                    save_cognito_state(self._cognito_state_file)
        if lsn:
            self.log.sync(lsn)
        start_response(answer["status"], answer["headers"])
        return chunks


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        return stream.read(length)
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _credential_scope(environ: dict) -> tuple[str, str, str]:
    """(access key, region, service) of a SigV4 request, from its header or pre-signed query."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = ""
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        credential = unquote((parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential") or [""])[0])
    parts = credential.split("/")
    if len(parts) >= 4:
        return parts[0], parts[2], parts[3]
    return "", "", ""


def classify(environ: dict) -> tuple[str, str] | None:
    """("dynamodb", op), ("s3", method), ("cognito", op) for a request that may change state."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB_"):
        op = target.split(".", 1)[-1]
        return ("dynamodb", op) if op in _DYNAMODB_WRITES else None
    if target.startswith("AWSCognitoIdentityProviderService."):
        op = target.split(".", 1)[-1]
        return None if op.startswith(_COGNITO_READS) else ("cognito", op)
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("PUT", "POST", "DELETE"):
        _, _, service = _credential_scope(environ)
        if service == "s3" or (not service and _looks_like_s3_form_post(environ)):
            return ("s3", method)
    return None


def _looks_like_s3_form_post(environ: dict) -> bool:
    """A browser upload through a pre-signed POST: no Authorization header, a multipart form."""
    return (environ.get("REQUEST_METHOD") == "POST"
            and environ.get("CONTENT_TYPE", "").startswith("multipart/form-data"))


# ---- after-images ---------------------------------------------------------------------------------
def after_images(kind: tuple[str, str], environ: dict, body: bytes) -> list[dict[str, Any]]:
    service, op = kind
    if service == "dynamodb":
        return _dynamodb_images(op, environ, body)
    if service == "s3":
        return _s3_images(op, environ, body)
    return []


def _account(access_key: str) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    # moto takes a 12-digit access key id as the account id, any other one as the default account.
    return access_key if len(access_key) == 12 and access_key.isdigit() else DEFAULT_ACCOUNT_ID


def _dynamodb_images(op: str, environ: dict, body: bytes) -> list[dict[str, Any]]:
    from moto.dynamodb.models import dynamodb_backends

    access_key, region, _ = _credential_scope(environ)
    backend = dynamodb_backends[_account(access_key)][region or "us-east-1"]
    request = json.loads(body or b"{}")
    touched: list[tuple[str, dict | None, dict | None]] = []  # (table, key, item put)
    if op == "PutItem":
        touched.append((request["TableName"], None, request["Item"]))
    elif op in ("UpdateItem", "DeleteItem"):
        touched.append((request["TableName"], request["Key"], None))
    elif op == "BatchWriteItem":
        for table, requests in request.get("RequestItems", {}).items():
            for one in requests:
                if "PutRequest" in one:
                    touched.append((table, None, one["PutRequest"]["Item"]))
                else:
                    touched.append((table, one["DeleteRequest"]["Key"], None))
    elif op == "TransactWriteItems":
        for one in request.get("TransactItems", []):
            (action, spec), = one.items()
            if action == "Put":
                touched.append((spec["TableName"], None, spec["Item"]))
            elif action in ("Update", "Delete"):
                touched.append((spec["TableName"], spec["Key"], None))
    images = []
    for table_name, key, item in touched:
        table = backend.get_table(table_name)
        if key is None:
            key = {name: item[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
        stored = backend.get_item(table_name, key)
        # moto gives a top-level binary as base64 text and a nested one as bytes: tagged, then
        # both made bytes again on replay (``to_boto``).
        images.append({"t": "dynamodb", "table": table_name, "key": key,
                       "item": _encode(stored.to_json()["Attributes"]) if stored is not None else None})
    return images


def _encode(value: Any) -> Any:
    from chalicelib.local.snapshot import _encode as encode

    return encode(value)


def to_boto(value: Any) -> Any:
    """A logged item or key (DynamoDB JSON, binaries as base64 text or tagged bytes) as boto3's
    low-level client takes it: binaries as bytes."""
    from chalicelib.local.snapshot import _decode

    return _typed(_decode(value))


def _typed(attrs: dict[str, Any]) -> dict[str, Any]:
    return {name: _typed_value(v) for name, v in attrs.items()}


def _typed_value(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": inner if isinstance(inner, bytes) else base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [v if isinstance(v, bytes) else base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": _typed(inner)}
    if kind == "L":
        return {"L": [_typed_value(v) for v in inner]}
    return {kind: inner}


def _s3_images(method: str, environ: dict, body: bytes) -> list[dict[str, Any]]:
    from moto.s3.models import s3_backends

    access_key, _, _ = _credential_scope(environ)
    path = unquote(environ.get("PATH_INFO", "/")).lstrip("/")
    bucket, _, key = path.partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if method == "POST" and not key:  # a browser upload (pre-signed POST): the key is a form field
        key = _form_key(environ, body) or ""
    if not bucket or not key:
        return []  # bucket-level settings: provisioned again at every start
    if method == "PUT" and "uploadId" in query:
        return []  # a part of a multipart upload: the object appears on completion
    backend = s3_backends[_account(access_key)]["aws"]
    try:
        stored = backend.get_object(bucket, key)
    except Exception:
        stored = None
    if stored is None:
        return [{"t": "s3", "bucket": bucket, "key": key, "object": None}]
    lock_until = getattr(stored, "lock_until", None)
    return [{"t": "s3", "bucket": bucket, "key": key, "object": {
        "body": base64.b64encode(stored.value).decode("ascii"),
        "content_type": stored.metadata.get("content-type"),
        "metadata": {k[len("x-amz-meta-"):]: v for k, v in stored.metadata.items() if k.startswith("x-amz-meta-")},
        "lock_mode": getattr(stored, "lock_mode", None),
        "lock_until": lock_until,
    }}]


def _form_key(environ: dict, body: bytes) -> str | None:
    from werkzeug.formparser import parse_form_data

    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    copy["CONTENT_LENGTH"] = str(len(body))
    _, form, _ = parse_form_data(copy)
    return form.get("key")
