"""The support table, the support bucket, the user directory scan and the async invoker.

The support table's items are pynamodb models (``adapters/models/support.py`` has the layout;
decision 0010). Every state change is conditional (ticket ``version``, mailing ``status``,
recipient ``state``), so two workers never both win; several items that change together are one
``TransactWrite``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models.base import Endpoint, conditional_failed, unavailable
from chalicelib.adapters.models.support import (
    activity_key,
    inbound_key,
    mailing_key,
    news_key,
    recipient_key,
    support_models,
    ticket_key,
    unsub_key,
)
from chalicelib.domain.errors import Conflict, Unavailable, ValidationFailed
from chalicelib.domain.support import Mailing, Message, News, Progress, Recipient, Ticket


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """A page's last key (string attributes only) as an opaque cursor."""
    if not key:
        return None
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None, *, allowed: set[str], partition: tuple[str, str]) -> dict[str, Any] | None:
    """The start key of a cursor this query returned: exactly the query's key attributes, in its
    ``partition`` (attribute, value); any other is refused, never sent to DynamoDB (which refuses
    it with a ValidationException, a 503 here)."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(data, dict) or set(data) != allowed or not all(isinstance(v, str) for v in data.values()):
            raise ValueError
        if data[partition[0]] != partition[1]:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the cursor is not one this API returned", field="cursor") from None
    return {name: {"S": value} for name, value in data.items()}


@contextmanager
def _errors(operation: str) -> Iterator[None]:
    try:
        yield
    except PynamoDBException as exc:
        raise unavailable(f"support table {operation}", exc) from exc


def _page(results: Iterable[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    """The items of a limited query and the key to continue from."""
    items = list(results)
    return items, results.last_evaluated_key  # type: ignore[attr-defined]


class DynamoSupportStore:
    def __init__(self, endpoint: Endpoint, table_name: str) -> None:
        self._m = support_models(table_name, endpoint)

    # ---- plumbing -----------------------------------------------------------------------------
    def _get(self, model: type, key: tuple[str, str]) -> Any | None:
        try:
            return model.get(*key, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("support table get_item", exc) from exc

    @staticmethod
    def _conditional(operation: str, write: Callable[[], Any]) -> bool:
        """Run a conditional write; False if its condition failed."""
        try:
            write()
            return True
        except PynamoDBException as exc:
            if conditional_failed(exc):
                return False
            raise unavailable(f"support table {operation}", exc) from exc

    def _transact(self, build: Callable[[TransactWrite], None]) -> bool:
        """One ``TransactWrite`` (on the models' own connection: pynamodb's transactions do not
        read ``Meta.host``); False if it was cancelled."""
        try:
            with TransactWrite(connection=self._m.Ticket._get_connection().connection) as tx:
                build(tx)
            return True
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                return False
            raise unavailable("support table transact_write_items", exc) from exc

    # ---- tickets -----------------------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, message: Message) -> bool:
        """Ticket, first message and the tenant's list entry in one transaction; False if the ticket
        id exists already (a redelivered inbound mail)."""
        m = self._m

        def build(tx: TransactWrite) -> None:
            tx.save(m.Ticket.of(ticket), condition=m.Ticket.pk.does_not_exist())
            tx.save(m.Message.of(message), condition=m.Message.pk.does_not_exist())
            tx.save(m.TenantTicket.of(ticket), condition=m.TenantTicket.pk.does_not_exist())

        return self._transact(build)

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        item = self._get(self._m.Ticket, ticket_key(ticket_id))
        return item.to_domain() if item else None

    def messages(self, ticket_id: str) -> list[Message]:
        model = self._m.Message
        with _errors("query"):
            return [i.to_domain() for i in model.query(f"TICKET#{ticket_id}", model.sk.startswith("MSG#"),
                                                       consistent_read=True)]

    def message_exists(self, ticket_id: str, message_id: str) -> bool:
        return any(m.message_id == message_id for m in self.messages(ticket_id))

    def save_ticket(self, old: Ticket, new: Ticket, message: Message | None = None, *,
                    dedupe: str | None = None) -> bool:
        """Replace the ticket if nobody changed it since ``old`` was read (and add ``message``).
        ``dedupe`` (an inbound mail's object key) is recorded in the same transaction, so the
        same stored mail can never add its message twice."""
        m = self._m
        unchanged = m.Ticket.version == old.version
        if message is None:
            return self._conditional("put_item", lambda: m.Ticket.of(new).save(condition=unchanged))

        def build(tx: TransactWrite) -> None:
            tx.save(m.Ticket.of(new), condition=unchanged)
            tx.save(m.Message.of(message), condition=m.Message.pk.does_not_exist())
            if dedupe:
                tx.save(m.Inbound(*inbound_key(dedupe), ticket_id=new.ticket_id),
                        condition=m.Inbound.pk.does_not_exist())

        return self._transact(build)

    def seen(self, dedupe: str) -> bool:
        return self._get(self._m.Inbound, inbound_key(dedupe)) is not None

    def mark_overdue(self, ticket_id: str, at: datetime) -> bool:
        """Set ``overdue_at`` once (the alarm mail goes out once per ticket), and move ``version``
        on: a change saved from a ticket read before the mark is refused and retried from the
        marked ticket, instead of erasing the mark (and mailing the alarm again)."""
        model = self._m.Ticket
        return self._conditional("update_item", lambda: model(*ticket_key(ticket_id)).update(
            actions=[model.overdue_at.set(at), model.version.add(1)],
            condition=model.pk.exists() & model.overdue_at.does_not_exist(),
        ))

    def _tickets(self, ids: list[str]) -> list[Ticket]:
        with _errors("batch_get_item"):
            found = {i.ticket_id: i.to_domain()
                     for i in self._m.Ticket.batch_get([ticket_key(t) for t in ids], consistent_read=True)}
        return [found[t] for t in ids if t in found]

    def tenant_tickets(self, tenant_id: str, *, requester_id: str | None, limit: int, cursor: str | None) -> tuple[
        list[Ticket], str | None
    ]:
        model = self._m.TenantTicket
        start = decode_cursor(cursor, allowed={"pk", "sk"}, partition=("pk", f"TENANT#{tenant_id}"))
        with _errors("query"):
            items, last = _page(model.query(
                f"TENANT#{tenant_id}", model.sk.startswith("TICKET#"),
                filter_condition=(model.requester_id == requester_id) if requester_id else None,
                scan_index_forward=False, limit=limit, last_evaluated_key=start,
            ))
        return self._tickets([i.ticket_id for i in items]), encode_cursor(last)

    def queue(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[Ticket], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"}, partition=("gsi1pk", f"QUEUE#{status}"))
        with _errors("query"):
            items, last = _page(self._m.Ticket.queue.query(f"QUEUE#{status}", limit=limit, last_evaluated_key=start))
        return [i.to_domain() for i in items], encode_cursor(last)

    def awaiting_first_response(self) -> Iterator[Ticket]:
        model = self._m.Ticket
        with _errors("query"):
            for status in ("open", "waiting"):
                for item in model.queue.query(f"QUEUE#{status}",
                                              filter_condition=model.first_response_at.does_not_exist()):
                    yield item.to_domain()

    # ---- news --------------------------------------------------------------------------------
    def put_news(self, news: News, *, new: bool = True) -> None:
        model = self._m.News
        try:
            model.of(news).save(condition=model.pk.does_not_exist() if new else None)
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict(f"news {news.news_id} exists already") from exc
            raise unavailable("support table put_item", exc) from exc

    def get_news(self, news_id: str) -> News | None:
        item = self._get(self._m.News, news_key(news_id))
        return item.to_domain() if item else None

    def all_news(self) -> list[News]:
        with _errors("query"):
            return [i.to_domain() for i in self._m.News.query("NEWS")]

    # ---- mailings ----------------------------------------------------------------------------
    def create_mailing(self, mailing: Mailing) -> None:
        model = self._m.Mailing
        try:
            model.of(mailing).save(condition=model.pk.does_not_exist())
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict(f"mailing {mailing.mailing_id} exists already") from exc
            raise unavailable("support table put_item", exc) from exc

    def get_mailing(self, mailing_id: str) -> Mailing | None:
        item = self._get(self._m.Mailing, mailing_key(mailing_id))
        return item.to_domain() if item else None

    def mailings(self, *, limit: int, cursor: str | None) -> tuple[list[Mailing], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"}, partition=("gsi1pk", "MAILINGS"))
        with _errors("query"):
            items, last = _page(self._m.Mailing.listing.query("MAILINGS", scan_index_forward=False, limit=limit,
                                                              last_evaluated_key=start))
        return [i.to_domain() for i in items], encode_cursor(last)

    def save_mailing(self, new: Mailing, *, expected: tuple[str, ...]) -> bool:
        """Replace the mailing if its status is one of ``expected`` (the state machine's guard)."""
        model = self._m.Mailing
        return self._conditional("put_item", lambda: model.of(new).save(condition=model.status.is_in(*expected)))

    def add_recipients(self, mailing_id: str, recipients: list[Recipient]) -> None:
        """Write recipients (idempotent: a re-run of the preparation rewrites the same pending items)."""
        model = self._m.Recipient
        with _errors("batch_write_item"), model.batch_write() as batch:
            for r in recipients:
                batch.save(model.of(mailing_id, r))

    def recipients(self, mailing_id: str, state: str | None = None) -> Iterator[Recipient]:
        model = self._m.Recipient
        with _errors("query"):
            for item in model.query(f"MAILING#{mailing_id}", model.sk.startswith("RCPT#"), consistent_read=True,
                                    filter_condition=(model.state == state) if state else None):
                yield item.to_domain()

    def move_recipient(self, mailing_id: str, email: str, from_state: str, to_state: str, **attrs: Any) -> bool:
        """``from_state`` -> ``to_state`` (plus attributes) if the recipient is still in ``from_state``."""
        model = self._m.Recipient
        actions = [model.state.set(to_state)]
        actions += [getattr(model, name).set(value) for name, value in attrs.items() if value is not None]
        return self._conditional("update_item", lambda: model(*recipient_key(mailing_id, email)).update(
            actions=actions, condition=model.state == from_state))

    def progress(self, mailing_id: str) -> Progress:
        model = self._m.Recipient
        progress = Progress()
        with _errors("query"):
            for item in model.query(f"MAILING#{mailing_id}", model.sk.startswith("RCPT#"), attributes_to_get=["state"]):
                state = item.state or "pending"
                progress.counts[state] = progress.counts.get(state, 0) + 1
        return progress

    # ---- unsubscribe and activity ------------------------------------------------------------
    def unsubscribe(self, email: str, at: datetime) -> bool:
        """Record the address; False if it was already unsubscribed."""
        model = self._m.Unsubscribed
        return self._conditional("put_item", lambda: model(*unsub_key(email), email=email, at=at).save(
            condition=model.pk.does_not_exist()))

    def is_unsubscribed(self, email: str) -> bool:
        return self._get(self._m.Unsubscribed, unsub_key(email)) is not None

    def touch_activity(self, user_id: str, email: str, day: date) -> bool:
        """Record that the user used the app on ``day``: at most one write per user and day, and
        never a day back (a request answered late by another Lambda): a new address on an older
        day moves the address only."""
        model, today = self._m.Activity, day.isoformat()
        item = model(*activity_key(user_id), user_id=user_id, email=email, last_active=today,
                     gsi1sk=f"{today}#{user_id}")
        if self._conditional("put_item", lambda: item.save(
                condition=model.pk.does_not_exist() | (model.last_active < today))):
            return True
        return self._conditional("update_item", lambda: model(*activity_key(user_id)).update(
            actions=[model.email.set(email)], condition=model.pk.exists() & (model.email != email)))

    def active_since(self, day: date) -> Iterator[tuple[str, str]]:
        """(user_id, email) of users active on ``day`` or later."""
        model = self._m.Activity
        with _errors("query"):
            for item in model.recent.query("ACTIVE", model.gsi1sk >= day.isoformat()):
                yield item.user_id, item.email


class AccountsUserScan:
    """Every user record of the accounts table (read-only). A newsletter is exceptional and runs
    asynchronously, so one paginated Scan of ``sk = USER`` items is the honest way to reach
    everyone (decision 0010)."""

    def __init__(self, client, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def users(self) -> Iterator[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
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
                yield {k: de.deserialize(v) for k, v in item.items()}
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
