"""Outgoing mail: SES (moto's SES in local mode), plus a readable outbox in local mode.

``SesMailer`` sends through the configured SES endpoint. ``OutboxMailer`` (local mode only) also
appends each message to ``<data_dir>/outbox.jsonl`` and logs one line, so a developer sees the
verification and invitation tokens that a real mailbox would receive; ``GET /v1/local/outbox``
reads that file back (and only exists when ``SCELLE_EXPOSE_OUTBOX`` is on in local mode).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import Unavailable
from chalicelib.observability import count, logger


class SesMailer:
    def __init__(self, client, sender: str) -> None:
        self._ses = client
        self._sender = sender

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        body: dict[str, Any] = {"Text": {"Data": text, "Charset": "UTF-8"}}
        if html is not None:
            body["Html"] = {"Data": html, "Charset": "UTF-8"}
        try:
            reply = self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": subject, "Charset": "UTF-8"}, "Body": body},
            )
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"mail to {to} could not be sent: {exc}") from exc
        count("MailsSent")
        return reply["MessageId"]


class OutboxMailer(SesMailer):
    """SES, and a copy of every message in a local JSON-lines file (local mode only)."""

    _lock = threading.Lock()

    def __init__(self, client, sender: str, outbox: Path) -> None:
        super().__init__(client, sender)
        self.outbox = outbox

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        message_id = super().send(to, subject, text, html)
        record = {
            "id": message_id or str(uuid.uuid4()),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "to": to,
            "subject": subject,
            "text": text,
        }
        with self._lock:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.outbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # tokens: owner only
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())  # a mail that was sent survives a crash, as the emulator's data does
        token = next((line for line in text.splitlines() if line.startswith(("token: ", "code: "))), "")
        logger.info(
            f"local mail to {to}: {subject}{' -- ' + token if token else ''} "
            f"(full text: GET /v1/local/outbox or {self.outbox})",
            extra={"mail_to": to, "subject": subject},
        )
        return record["id"]


def read_outbox(outbox: Path, *, to: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` messages of the local outbox (optionally for one recipient), newest first."""
    if not outbox.exists():
        return []
    messages = []
    with outbox.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            if to is None or message.get("to", "").lower() == to.lower():
                messages.append(message)
    return list(reversed(messages[-limit:]))
