"""Support handlers (names fixed in docs/decisions/0000-contracts-between-modules.md).

* ``check_ticket_sla`` — schedule rate(15 minutes): metric ``TicketsOverdue``; marks and mails
  newly overdue tickets once.
* ``send_mailing`` — Lambda invoked asynchronously: ``{"mailing_id", "step": "prepare"|"send"}``.
* ``inbound_mail`` — Lambda wired by CDK to the support bucket's ``inbound/`` notifications (SES
  receipt rule -> S3). Locally, ``scelle support-mail FILE.eml`` posts the file to the running
  stack (``POST /v1/local/inbound-mail``), which stores it under ``inbound/`` and calls the same
  function with the same S3 event.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from chalice import Blueprint

from chalicelib.wiring import Service, inject

support_handlers_bp = Blueprint(__name__)


@support_handlers_bp.schedule("rate(15 minutes)", name="check_ticket_sla")
@inject
def check_ticket_sla(event, *, support=Service("support")):
    from chalicelib.observability import flush_metrics

    try:
        return support.check_sla()
    finally:
        flush_metrics()


@support_handlers_bp.lambda_function(name="send_mailing")
@inject
def send_mailing(event, context, *, mailing=Service("mailing")):
    from chalicelib.observability import flush_metrics

    remaining = getattr(context, "get_remaining_time_in_millis", None) or (lambda: 900_000)
    try:
        return mailing.handle(dict(event or {}), remaining)
    finally:
        flush_metrics()


@support_handlers_bp.lambda_function(name="inbound_mail")
@inject
def inbound_mail(event, context, *, support=Service("support"), support_bucket=Service("support_bucket")):
    from chalicelib.observability import flush_metrics

    try:
        return {"outcomes": process_inbound_event(event, support=support, support_bucket=support_bucket)}
    finally:
        flush_metrics()


def process_inbound_event(event: dict[str, Any], *, support, support_bucket) -> list[str]:
    """Each S3 record of the event -> ``SupportService.receive_email``. A message that cannot be
    read is dropped and logged; an unavailable dependency raises (Lambda retries the event, and
    the same object key can only ever apply once)."""
    from chalicelib.domain.errors import Unavailable, ValidationFailed
    from chalicelib.observability import logger
    from chalicelib.services.support import MAX_INBOUND_BYTES

    outcomes = []
    for record in (event or {}).get("Records", []):
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        key = unquote_plus((s3.get("object") or {}).get("key", ""))
        if bucket != support_bucket.bucket or not key.startswith("inbound/"):
            logger.warning("inbound_mail: object outside support inbound/ ignored", extra={"key": key})
            outcomes.append("ignored")
            continue
        try:
            raw = support_bucket.get(key, MAX_INBOUND_BYTES)
            outcome = support.receive_email(raw, key)
        except Unavailable:
            raise
        except ValidationFailed as exc:
            outcome = f"dropped: {exc.detail}"
        logger.info("inbound mail", extra={"key": key, "outcome": outcome})
        outcomes.append(outcome)
    return outcomes


def inbound_mail_event(bucket: str, key: str, size: int, region: str) -> dict[str, Any]:
    """The S3 ``ObjectCreated:Put`` notification AWS sends for one object."""
    from urllib.parse import quote_plus

    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key), "size": size}},
    }]}


# ---- `scelle support-mail FILE.eml` ----------------------------------------------------------------
def _cmd_support_mail(args: argparse.Namespace) -> int:
    import base64
    import json
    import os
    import urllib.error
    import urllib.request

    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        print(f"scelle support-mail: {exc}", file=sys.stderr)
        return 2
    api = (args.api or os.environ.get("SCELLE_PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not api.startswith(("http://", "https://")):
        print("scelle support-mail: --api must be an http(s) URL", file=sys.stderr)
        return 2
    from pathlib import Path

    from chalicelib.local.operator_token import read as read_operator_token
    from chalicelib.local.operator_token import token_path

    # The route needs the local operator token, which the running stack keeps in its data directory.
    data_dir = args.data_dir or Path(os.environ.get("SCELLE_DATA_DIR") or ".scelle")
    headers = {"Content-Type": "application/json"}
    token = read_operator_token(data_dir)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{api}/v1/local/inbound-mail", method="POST", headers=headers,
        data=json.dumps({"eml_base64": base64.b64encode(raw).decode()}).encode(),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            print(reply.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"scelle support-mail: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
        if exc.code == 401:
            found = "none" if token is None else "not the running stack's"
            print(f"scelle support-mail: the local operator token in {token_path(data_dir)} is {found}: "
                  "pass the running stack's data directory with --data-dir", file=sys.stderr)
    except urllib.error.URLError as exc:
        print(f"scelle support-mail: is `make run` up at {api}? ({exc.reason})", file=sys.stderr)
    return 1


def register_cli(subparsers) -> None:
    from pathlib import Path

    parser = subparsers.add_parser(
        "support-mail",
        help="local mode: deliver a raw email (.eml) to support, as SES would (opens a ticket or adds a reply)",
    )
    parser.add_argument("file", type=Path, help="the message, RFC 5322 (.eml)")
    parser.add_argument("--api", help="the running local stack (default SCELLE_PUBLIC_BASE_URL or "
                                      "http://127.0.0.1:8000)")
    parser.add_argument("--data-dir", type=Path, help="its data directory, which holds the local operator token "
                                                      "(default SCELLE_DATA_DIR or .scelle)")
    parser.set_defaults(func=_cmd_support_mail)
