"""The support table, the support bucket, the user directory scan and the async invoker.

Item layout (docs/decisions/0010-support.md):

| record | pk | sk | gsi1pk / gsi1sk |
|---|---|---|---|
| ticket | ``TICKET#<id>`` | ``TICKET`` | ``QUEUE#<status>`` / ``<created_at>#<id>`` |
| message | ``TICKET#<id>`` | ``MSG#<at>#<message_id>`` | |
| tenant's ticket list | ``TENANT#<tenant_id>`` | ``TICKET#<created_at>#<id>`` | |
| news | ``NEWS`` | ``NEWS#<news_id>`` | |
| mailing | ``MAILING#<id>`` | ``MAILING`` | ``MAILINGS`` / ``<created_at>#<id>`` |
| recipient | ``MAILING#<id>`` | ``RCPT#<email>`` | |
| unsubscribed address | ``UNSUB#<email>`` | ``UNSUB`` | |
| last activity | ``ACTIVE#<user_id>`` | ``ACTIVE`` | ``ACTIVE`` / ``<YYYY-MM-DD>#<user_id>`` |
| applied inbound reply | ``INBOUND#<sha256(object key)>`` | ``INBOUND`` | |

Takes boto3 clients; never builds one. Every state change is conditional (ticket ``version``,
mailing ``status``, recipient ``state``), so two workers never both win.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import MISSING, fields
from datetime import UTC, date, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import Unavailable, ValidationFailed
from chalicelib.domain.support import (
    Attachment,
    Mailing,
    Message,
    News,
    Progress,
    Recipient,
    Ticket,
)

_ser = TypeSerializer()
_de = TypeDeserializer()


# ---- values ----------------------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _dump(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in attrs.items() if v is not None}


def _load(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _record(obj: Any) -> dict[str, Any]:
    """A frozen dataclass as item attributes (datetimes as RFC 3339 UTC strings)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, datetime):
            value = _iso(value)
        elif isinstance(value, Attachment):
            value = {"key": value.key, "filename": value.filename, "content_type": value.content_type,
                     "size": value.size}
        out[f.name] = value
    return out


def _build(cls: type, item: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in item:  # None is not stored
            if "None" in str(f.type) and f.default is MISSING:
                kwargs[f.name] = None
            continue
        value = item[f.name]
        kind = str(f.type)
        if "datetime" in kind and isinstance(value, str):
            value = _dt(value)
        elif "Attachment" in kind and isinstance(value, dict):
            value = Attachment(value["key"], value["filename"], value["content_type"], int(value["size"]))
        elif kind.startswith("int") and value is not None:
            value = int(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_load(key), sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None, *, allowed: set[str]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(data, dict) or set(data) - allowed or not all(isinstance(v, str) for v in data.values()):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the cursor is not one this API returned", field="cursor") from None
    return _dump(data)


# ---- keys ------------------------------------------------------------------------------------------
def ticket_key(ticket_id: str) -> dict[str, str]:
    return {"pk": f"TICKET#{ticket_id}", "sk": "TICKET"}


def mailing_key(mailing_id: str) -> dict[str, str]:
    return {"pk": f"MAILING#{mailing_id}", "sk": "MAILING"}


def recipient_key(mailing_id: str, email: str) -> dict[str, str]:
    return {"pk": f"MAILING#{mailing_id}", "sk": f"RCPT#{email}"}


def news_key(news_id: str) -> dict[str, str]:
    return {"pk": "NEWS", "sk": f"NEWS#{news_id}"}


def unsub_key(email: str) -> dict[str, str]:
    return {"pk": f"UNSUB#{email}", "sk": "UNSUB"}


def activity_key(user_id: str) -> dict[str, str]:
    return {"pk": f"ACTIVE#{user_id}", "sk": "ACTIVE"}


def _seen_key(source: str) -> dict[str, str]:
    return {"pk": "INBOUND#" + hashlib.sha256(source.encode()).hexdigest(), "sk": "INBOUND"}


def ticket_item(t: Ticket) -> dict[str, Any]:
    return {**ticket_key(t.ticket_id), "type": "ticket", **_record(t),
            "gsi1pk": f"QUEUE#{t.status}", "gsi1sk": f"{_iso(t.created_at)}#{t.ticket_id}"}


def message_item(m: Message) -> dict[str, Any]:
    return {"pk": f"TICKET#{m.ticket_id}", "sk": f"MSG#{_iso(m.at)}#{m.message_id}", "type": "message",
            **_record(m)}


def mailing_item(m: Mailing) -> dict[str, Any]:
    return {**mailing_key(m.mailing_id), "type": "mailing", **_record(m),
            "gsi1pk": "MAILINGS", "gsi1sk": f"{_iso(m.created_at)}#{m.mailing_id}"}


class DynamoSupportStore:
    def __init__(self, client, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- plumbing -----------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            raise Unavailable(f"support table {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"support table {operation} failed: {exc}") from exc

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self._table, Key=_dump(key), ConsistentRead=True).get("Item")
        return _load(item) if item else None

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        try:
            self._call(operation, TableName=self._table, **kwargs)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        try:
            self._call("transact_write_items", TransactItems=items)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise

    def _query(self, limit: int | None = None, start: dict[str, Any] | None = None, **kwargs: Any) -> tuple[
        list[dict[str, Any]], dict[str, Any] | None
    ]:
        """Up to ``limit`` items (all when None) and the key to continue from."""
        kwargs["TableName"] = self._table
        if start:
            kwargs["ExclusiveStartKey"] = start
        out: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = max(1, limit - len(out))
            resp = self._call("query", **kwargs)
            out.extend(_load(i) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or (limit is not None and len(out) >= limit):
                return out, last
            kwargs["ExclusiveStartKey"] = last

    def _iter(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        while True:
            resp = self._call("query", **kwargs)
            for item in resp.get("Items", []):
                yield _load(item)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # ---- tickets -----------------------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, message: Message) -> bool:
        """Ticket, first message and the tenant's list entry in one transaction; False if the ticket
        id exists already (a redelivered inbound mail)."""
        index = {"pk": f"TENANT#{ticket.tenant_id}", "sk": f"TICKET#{_iso(ticket.created_at)}#{ticket.ticket_id}",
                 "type": "tenant_ticket", "ticket_id": ticket.ticket_id, "requester_id": ticket.requester_id}
        new = "attribute_not_exists(pk)"
        return self._transact([
            {"Put": {"TableName": self._table, "Item": _dump(ticket_item(ticket)), "ConditionExpression": new}},
            {"Put": {"TableName": self._table, "Item": _dump(message_item(message)), "ConditionExpression": new}},
            {"Put": {"TableName": self._table, "Item": _dump(index), "ConditionExpression": new}},
        ])

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        item = self._get(ticket_key(ticket_id))
        return _build(Ticket, item) if item else None

    def messages(self, ticket_id: str) -> list[Message]:
        items = self._iter(KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
                           ExpressionAttributeValues=_dump({":pk": f"TICKET#{ticket_id}", ":m": "MSG#"}),
                           ConsistentRead=True)
        return [_build(Message, i) for i in items]

    def message_exists(self, ticket_id: str, message_id: str) -> bool:
        return any(m.message_id == message_id for m in self.messages(ticket_id))

    def save_ticket(self, old: Ticket, new: Ticket, message: Message | None = None, *,
                    dedupe: str | None = None) -> bool:
        """Replace the ticket if nobody changed it since ``old`` was read (and add ``message``).
        ``dedupe`` (an inbound mail's object key) is recorded in the same transaction, so the
        same stored mail can never add its message twice."""
        put = {"Put": {"TableName": self._table, "Item": _dump(ticket_item(new)),
                       "ConditionExpression": "version = :v", "ExpressionAttributeValues": _dump({":v": old.version})}}
        if message is None:
            return self._conditional("put_item", Item=put["Put"]["Item"], ConditionExpression="version = :v",
                                     ExpressionAttributeValues=put["Put"]["ExpressionAttributeValues"])
        new_item = "attribute_not_exists(pk)"
        items = [put, {"Put": {"TableName": self._table, "Item": _dump(message_item(message)),
                               "ConditionExpression": new_item}}]
        if dedupe:
            items.append({"Put": {"TableName": self._table, "ConditionExpression": new_item,
                                  "Item": _dump({**_seen_key(dedupe), "type": "inbound", "ticket_id": new.ticket_id})}})
        return self._transact(items)

    def seen(self, dedupe: str) -> bool:
        return self._get(_seen_key(dedupe)) is not None

    def mark_overdue(self, ticket_id: str, at: datetime) -> bool:
        """Set ``overdue_at`` once (the alarm mail goes out once per ticket)."""
        return self._conditional(
            "update_item", Key=_dump(ticket_key(ticket_id)), UpdateExpression="SET overdue_at = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(overdue_at)",
            ExpressionAttributeValues=_dump({":at": _iso(at)}),
        )

    def _tickets(self, ids: list[str]) -> list[Ticket]:
        found: dict[str, Ticket] = {}
        for i in range(0, len(ids), 100):
            keys = [_dump(ticket_key(t)) for t in ids[i:i + 100]]
            request = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                resp = self._call("batch_get_item", RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    t = _build(Ticket, _load(item))
                    found[t.ticket_id] = t
                request = resp.get("UnprocessedKeys") or {}
        return [found[t] for t in ids if t in found]

    def tenant_tickets(self, tenant_id: str, *, requester_id: str | None, limit: int, cursor: str | None) -> tuple[
        list[Ticket], str | None
    ]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :t)",
            "ExpressionAttributeValues": {":pk": f"TENANT#{tenant_id}", ":t": "TICKET#"},
            "ScanIndexForward": False,
        }
        if requester_id:
            kwargs["FilterExpression"] = "requester_id = :r"
            kwargs["ExpressionAttributeValues"][":r"] = requester_id
        kwargs["ExpressionAttributeValues"] = _dump(kwargs["ExpressionAttributeValues"])
        start = decode_cursor(cursor, allowed={"pk", "sk"})
        if start and start["pk"]["S"] != f"TENANT#{tenant_id}":
            raise ValidationFailed("the cursor is not one this API returned", field="cursor")
        items, last = self._query(limit, start, **kwargs)
        return self._tickets([i["ticket_id"] for i in items]), encode_cursor(last)

    def queue(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[Ticket], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"})
        items, last = self._query(
            limit, start, IndexName="gsi1", KeyConditionExpression="gsi1pk = :q",
            ExpressionAttributeValues=_dump({":q": f"QUEUE#{status}"}),
        )
        return [_build(Ticket, i) for i in items], encode_cursor(last)

    def awaiting_first_response(self) -> Iterator[Ticket]:
        for status in ("open", "waiting"):
            for item in self._iter(IndexName="gsi1", KeyConditionExpression="gsi1pk = :q",
                                   FilterExpression="attribute_not_exists(first_response_at)",
                                   ExpressionAttributeValues=_dump({":q": f"QUEUE#{status}"})):
                yield _build(Ticket, item)

    # ---- news --------------------------------------------------------------------------------
    def put_news(self, news: News, *, new: bool = True) -> None:
        item = {**news_key(news.news_id), "type": "news", **_record(news)}
        if new:
            self._call("put_item", TableName=self._table, Item=_dump(item),
                       ConditionExpression="attribute_not_exists(pk)")
        else:
            self._call("put_item", TableName=self._table, Item=_dump(item))

    def get_news(self, news_id: str) -> News | None:
        item = self._get(news_key(news_id))
        return _build(News, item) if item else None

    def all_news(self) -> list[News]:
        items = self._iter(KeyConditionExpression="pk = :pk", ExpressionAttributeValues=_dump({":pk": "NEWS"}))
        return [_build(News, i) for i in items]

    # ---- mailings ----------------------------------------------------------------------------
    def create_mailing(self, mailing: Mailing) -> None:
        self._call("put_item", TableName=self._table, Item=_dump(mailing_item(mailing)),
                   ConditionExpression="attribute_not_exists(pk)")

    def get_mailing(self, mailing_id: str) -> Mailing | None:
        item = self._get(mailing_key(mailing_id))
        return _build(Mailing, item) if item else None

    def mailings(self, *, limit: int, cursor: str | None) -> tuple[list[Mailing], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"})
        items, last = self._query(limit, start, IndexName="gsi1", KeyConditionExpression="gsi1pk = :q",
                                  ExpressionAttributeValues=_dump({":q": "MAILINGS"}), ScanIndexForward=False)
        return [_build(Mailing, i) for i in items], encode_cursor(last)

    def save_mailing(self, new: Mailing, *, expected: tuple[str, ...]) -> bool:
        """Replace the mailing if its status is one of ``expected`` (the state machine's guard)."""
        names = {f":s{i}": s for i, s in enumerate(expected)}
        return self._conditional(
            "put_item", Item=_dump(mailing_item(new)),
            ConditionExpression=f"#st IN ({', '.join(names)})",
            ExpressionAttributeNames={"#st": "status"}, ExpressionAttributeValues=_dump(names),
        )

    def add_recipients(self, mailing_id: str, recipients: list[Recipient]) -> None:
        """Write recipients (idempotent: a re-run of the preparation rewrites the same pending items)."""
        requests = [{"PutRequest": {"Item": _dump({**recipient_key(mailing_id, r.email), "type": "recipient",
                                                   **_record(r)})}} for r in recipients]
        for i in range(0, len(requests), 25):
            batch = {self._table: requests[i:i + 25]}
            for _ in range(8):
                resp = self._call("batch_write_item", RequestItems=batch)
                batch = resp.get("UnprocessedItems") or {}
                if not batch:
                    break
            else:
                raise Unavailable("support table batch_write_item kept returning unprocessed items")

    def recipients(self, mailing_id: str, state: str | None = None) -> Iterator[Recipient]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :r)",
            "ExpressionAttributeValues": {":pk": f"MAILING#{mailing_id}", ":r": "RCPT#"},
            "ConsistentRead": True,
        }
        if state:
            kwargs["FilterExpression"] = "#st = :s"
            kwargs["ExpressionAttributeNames"] = {"#st": "state"}
            kwargs["ExpressionAttributeValues"][":s"] = state
        kwargs["ExpressionAttributeValues"] = _dump(kwargs["ExpressionAttributeValues"])
        for item in self._iter(**kwargs):
            yield _build(Recipient, item)

    def move_recipient(self, mailing_id: str, email: str, from_state: str, to_state: str, **attrs: Any) -> bool:
        """``from_state`` -> ``to_state`` (plus attributes) if the recipient is still in ``from_state``."""
        values: dict[str, Any] = {":from": from_state, ":to": to_state}
        names = {"#st": "state"}
        sets = ["#st = :to"]
        for i, (name, value) in enumerate((n, v) for n, v in attrs.items() if v is not None):
            values[f":a{i}"] = _iso(value) if isinstance(value, datetime) else value
            names[f"#a{i}"] = name
            sets.append(f"#a{i} = :a{i}")
        return self._conditional(
            "update_item", Key=_dump(recipient_key(mailing_id, email)), UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#st = :from", ExpressionAttributeNames=names,
            ExpressionAttributeValues=_dump(values),
        )

    def progress(self, mailing_id: str) -> Progress:
        progress = Progress()
        for item in self._iter(KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
                               ExpressionAttributeValues=_dump({":pk": f"MAILING#{mailing_id}", ":r": "RCPT#"}),
                               ProjectionExpression="#st", ExpressionAttributeNames={"#st": "state"}):
            progress.counts[item.get("state", "pending")] = progress.counts.get(item.get("state", "pending"), 0) + 1
        return progress

    # ---- unsubscribe and activity ------------------------------------------------------------
    def unsubscribe(self, email: str, at: datetime) -> bool:
        """Record the address; False if it was already unsubscribed."""
        return self._conditional("put_item", Item=_dump({**unsub_key(email), "type": "unsubscribed", "email": email,
                                                        "at": _iso(at)}),
                                 ConditionExpression="attribute_not_exists(pk)")

    def is_unsubscribed(self, email: str) -> bool:
        return self._get(unsub_key(email)) is not None

    def touch_activity(self, user_id: str, email: str, day: date) -> bool:
        """Record that the user used the app on ``day``: at most one write per user and day."""
        today = day.isoformat()
        return self._conditional(
            "put_item",
            Item=_dump({**activity_key(user_id), "type": "activity", "user_id": user_id, "email": email,
                        "last_active": today, "gsi1pk": "ACTIVE", "gsi1sk": f"{today}#{user_id}"}),
            ConditionExpression="attribute_not_exists(pk) OR last_active < :d OR email <> :e",
            ExpressionAttributeValues=_dump({":d": today, ":e": email}),
        )

    def active_since(self, day: date) -> Iterator[tuple[str, str]]:
        """(user_id, email) of users active on ``day`` or later."""
        for item in self._iter(IndexName="gsi1", KeyConditionExpression="gsi1pk = :a AND gsi1sk >= :d",
                               ExpressionAttributeValues=_dump({":a": "ACTIVE", ":d": day.isoformat()})):
            yield item["user_id"], item["email"]


class AccountsUserScan:
    """Every user record of the accounts table (read-only). A newsletter is exceptional and runs
    asynchronously, so one paginated Scan of ``sk = USER`` items is the honest way to reach
    everyone (decision 0010)."""

    def __init__(self, client, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def users(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :u",
            "ProjectionExpression": "user_id, email, email_verified, #op",
            "ExpressionAttributeNames": {"#op": "operator"},
            "ExpressionAttributeValues": {":u": {"S": "USER"}},
        }
        while True:
            try:
                resp = self._client.scan(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise Unavailable(f"accounts scan failed: {exc}") from exc
            for item in resp.get("Items", []):
                yield _load(item)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


class SupportBucket:
    """Ticket attachments and inbound mail in the support bucket."""

    def __init__(self, client, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A pre-signed POST that S3 accepts only for this key, this content type and at most
        ``max_bytes`` (S3 enforces the policy; the local emulator does not)."""
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket, Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return {"method": "POST", "url": post["url"], "fields": post["fields"]}

    def presign_download(self, key: str, filename: str, expires_in: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'},
            ExpiresIn=expires_in,
        )

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise Unavailable(f"support bucket head_object failed: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"support bucket put_object failed: {exc}") from exc

    def get(self, key: str, max_bytes: int) -> bytes:
        try:
            obj = self._s3.get_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"support bucket get_object failed: {exc}") from exc
        if obj.get("ContentLength", 0) > max_bytes:
            raise ValidationFailed(f"the object is larger than {max_bytes} bytes", field="key")
        return obj["Body"].read()


class LambdaInvoker:
    """Starts a Lambda function asynchronously (``InvocationType=Event``)."""

    def __init__(self, client, function_name: str) -> None:
        self._lambda = client
        self.function_name = function_name

    def __call__(self, payload: dict[str, Any]) -> None:
        try:
            self._lambda.invoke(FunctionName=self.function_name, InvocationType="Event",
                                Payload=json.dumps(payload).encode())
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"could not start {self.function_name}: {exc}") from exc


class ThreadInvoker:
    """Local mode: runs the handler in a daemon thread, as Lambda would run it elsewhere."""

    def __init__(self, handler: Callable[[dict[str, Any]], Any]) -> None:
        self._handler = handler

    def __call__(self, payload: dict[str, Any]) -> None:
        threading.Thread(target=self._handler, args=(payload,), name="scelle-async", daemon=True).start()


def load_unsubscribe_key(configured: str | None, key_file) -> bytes:
    """The HMAC key of unsubscribe links: ``SCELLE_UNSUBSCRIBE_KEY`` (base64 or hex, >= 32 bytes;
    on AWS set it from a secret), else a random key kept in ``key_file`` (local mode; created
    with mode 0600 on first use)."""
    import binascii
    import os
    import secrets

    from chalicelib.config import ConfigError

    if configured:
        value = configured.strip()
        try:
            key = bytes.fromhex(value) if len(value) % 2 == 0 and all(
                c in "0123456789abcdefABCDEF" for c in value) else base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            raise ConfigError("SCELLE_UNSUBSCRIBE_KEY: not hex or base64") from None
        if len(key) < 32:
            raise ConfigError("SCELLE_UNSUBSCRIBE_KEY: at least 32 bytes are needed")
        return key
    if key_file is None:
        raise ConfigError("SCELLE_UNSUBSCRIBE_KEY must be set (32+ random bytes, hex or base64)")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass  # another process created it first: use theirs
    key = bytes.fromhex(key_file.read_text().strip())
    if len(key) < 32:
        raise ConfigError(f"{key_file}: the unsubscribe key file is damaged (fewer than 32 bytes)")
    return key
