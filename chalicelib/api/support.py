"""Support tickets: members open and follow their tickets; the platform operator answers.

Member routes live under the tenant (``ticket.open``); operator routes under ``/v1/operator``
(``support.answer``). ``POST /v1/local/inbound-mail`` (local mode only) drops a raw message into
the support bucket and runs the same handler as the SES -> S3 -> ``inbound_mail`` path on AWS.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel as Strict
from chalicelib.api.schemas import support_text
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Permission, PlatformPermission
from chalicelib.domain.support import (
    ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    MAX_BODY,
    MAX_SUBJECT,
    STATUS_LABELS,
    Message,
    Ticket,
)
from chalicelib.wiring import Service

support_bp = Blueprint(__name__)
TAGS = ("support",)
IDEMPOTENCY_HEADER = "idempotency-key"

Status = Literal["open", "waiting", "resolved"]
Cursor = Annotated[str, StringConstraints(max_length=1024)]
Body = Annotated[str, support_text(MAX_BODY), StringConstraints(max_length=MAX_BODY)]
CURSOR_RULE = {"cursor": "a next_cursor this route returned (else 422)"}


class AttachmentIn(Strict):
    filename: str = Field(max_length=255, description="at least one letter or digit once reduced to ASCII")
    content_type: Literal[tuple(sorted(ATTACHMENT_TYPES))]  # type: ignore[valid-type]
    size: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES, description="bytes; S3 refuses a larger upload")


class TicketIn(Strict):
    subject: Annotated[str, support_text(MAX_SUBJECT)] = Field(max_length=MAX_SUBJECT)
    body: Body
    attachment: AttachmentIn | None = Field(None,
                                            description="a small file, uploaded with the returned pre-signed POST")


class MessageIn(Strict):
    body: Body


class ReplyIn(Strict):
    body: Body
    status: Status | None = Field(None, description="the status after the reply (default: waiting for client)")


class StatusIn(Strict):
    status: Status


class PageQuery(Strict):
    limit: int = Field(20, ge=1, le=100)
    cursor: Cursor | None = Field(None, description="the next_cursor of the previous page")


class QueueQuery(PageQuery):
    status: Status = "open"


class InboundIn(Strict):
    eml_base64: str = Field(min_length=4, max_length=1_400_000, description="the raw RFC 5322 message, base64",
                            json_schema_extra={"pattern": r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|"
                                                          r"[A-Za-z0-9+/]{3}=)?$"})


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int
    uploaded: bool
    download_url: str | None = Field(None, description="pre-signed, valid 5 minutes")


class MessageOut(BaseModel):
    message_id: str
    author: Literal["requester", "operator"]
    author_name: str
    body: str
    at: datetime
    channel: Literal["app", "email"]
    attachment: AttachmentOut | None = None


class TicketOut(BaseModel):
    ticket_id: str
    tenant_id: str
    subject: str
    status: Status
    status_label: str
    channel: Literal["app", "email"]
    requester_email: str
    created_at: datetime
    updated_at: datetime
    due_at: datetime = Field(description="first-response deadline, counted in business hours")
    first_response_at: datetime | None
    first_response_business_minutes: int | None
    overdue: bool
    messages: int
    company_name: str | None = Field(None, description="operator views only")


class TicketList(BaseModel):
    tickets: list[TicketOut]
    next_cursor: str | None = None


class ThreadOut(BaseModel):
    ticket: TicketOut
    thread: list[MessageOut]


class UploadOut(BaseModel):
    method: Literal["POST"]
    url: str
    fields: dict[str, str]
    expires_in: int
    max_bytes: int


class OpenedOut(BaseModel):
    ticket: TicketOut
    upload: UploadOut | None = Field(None, description="POST the file as multipart/form-data with these fields")


class ReplyOut(BaseModel):
    ticket: TicketOut
    message: MessageOut
    emailed: bool


class InboundOut(BaseModel):
    key: str
    outcome: str


def ticket_out(t: Ticket, *, operator: bool = False) -> TicketOut:
    now = datetime.now(UTC)
    return TicketOut(
        ticket_id=t.ticket_id, tenant_id=t.tenant_id, subject=t.subject, status=t.status,
        status_label=STATUS_LABELS[t.status], channel=t.channel, requester_email=t.requester_email,
        created_at=t.created_at, updated_at=t.updated_at, due_at=t.due_at, first_response_at=t.first_response_at,
        first_response_business_minutes=t.first_response_minutes,
        overdue=t.overdue_at is not None or (t.awaiting_first_response and now >= t.due_at),
        messages=t.messages, company_name=t.company_name if operator else None,
    )


def message_out(m: Message, downloads: dict[str, str | None] | None = None) -> MessageOut:
    att = None
    if m.attachment is not None:
        url = (downloads or {}).get(m.message_id)
        att = AttachmentOut(filename=m.attachment.filename, content_type=m.attachment.content_type,
                            size=m.attachment.size, uploaded=url is not None, download_url=url)
    name = m.author_email if m.author == "requester" else "Scellé support"
    return MessageOut(message_id=m.message_id, author=m.author, author_name=name, body=m.body, at=m.at,
                      channel=m.channel, attachment=att)


def thread_out(thread, *, operator: bool = False) -> ThreadOut:
    return ThreadOut(ticket=ticket_out(thread.ticket, operator=operator),
                     thread=[message_out(m, thread.downloads) for m in thread.messages])


# ---- member routes ---------------------------------------------------------------------------------
@endpoint(support_bp, "POST", "/v1/tenants/{tenant_id}/tickets", summary="Open a support ticket",
          tags=TAGS, body=TicketIn, response=OpenedOut, status=201, permission=Permission.TICKET_OPEN,
          idempotent=True, errors=(409,), rules={"attachment.filename": "at least one letter or digit once reduced "
                                                                        "to ASCII"})
def open_ticket(tenant_id: str, caller: Caller, body: TicketIn, *, support=Service("support"),
                idempotency=Service("idempotency")):
    def work() -> dict[str, Any]:
        opened = support.open_ticket(
            caller, body.subject, body.body, body.attachment.model_dump() if body.attachment else None
        )
        return OpenedOut(ticket=ticket_out(opened.ticket),
                         upload=UploadOut(**opened.upload) if opened.upload else None).model_dump(mode="json")

    key = (support_bp.current_request.headers or {}).get(IDEMPOTENCY_HEADER)
    scope = f"{tenant_id}#{caller.user_id}#tickets"
    # An empty header is a key to refuse (422), not "no key".
    return idempotency.run(scope, key, body.model_dump(mode="json"), work) if key is not None else work()


@endpoint(support_bp, "GET", "/v1/tenants/{tenant_id}/tickets",
          summary="The caller's tickets in this tenant (an admin sees all of the tenant's tickets)", tags=TAGS,
          query=PageQuery, response=TicketList, permission=Permission.TICKET_OPEN, rules=CURSOR_RULE)
def list_tickets(tenant_id: str, caller: Caller, query: PageQuery, *, support=Service("support")):
    tickets, cursor = support.list_for(caller, limit=query.limit, cursor=query.cursor)
    return TicketList(tickets=[ticket_out(t) for t in tickets], next_cursor=cursor)


@endpoint(support_bp, "GET", "/v1/tenants/{tenant_id}/tickets/{ticket_id}", summary="A ticket and its thread",
          tags=TAGS, response=ThreadOut, permission=Permission.TICKET_OPEN)
def get_ticket(tenant_id: str, ticket_id: str, caller: Caller, *, support=Service("support")):
    return thread_out(support.thread_for(caller, ticket_id))


@endpoint(support_bp, "POST", "/v1/tenants/{tenant_id}/tickets/{ticket_id}/messages",
          summary="Add a message to one's ticket (reopens it)", tags=TAGS, body=MessageIn, response=ReplyOut,
          status=201, permission=Permission.TICKET_OPEN, errors=(409,))
def add_message(tenant_id: str, ticket_id: str, caller: Caller, body: MessageIn, *, support=Service("support")):
    ticket, message = support.requester_reply(caller, ticket_id, body.body)
    return ReplyOut(ticket=ticket_out(ticket), message=message_out(message), emailed=False)


# ---- operator routes -------------------------------------------------------------------------------
@endpoint(support_bp, "GET", "/v1/operator/tickets", summary="The support queue, oldest first, by status",
          tags=TAGS, query=QueueQuery, response=TicketList, permission=PlatformPermission.SUPPORT_ANSWER,
          rules=CURSOR_RULE)
def queue(query: QueueQuery, *, support=Service("support")):
    tickets, cursor = support.queue(query.status, limit=query.limit, cursor=query.cursor)
    return TicketList(tickets=[ticket_out(t, operator=True) for t in tickets], next_cursor=cursor)


@endpoint(support_bp, "GET", "/v1/operator/tickets/{ticket_id}", summary="A ticket and its thread (operator)",
          tags=TAGS, response=ThreadOut, permission=PlatformPermission.SUPPORT_ANSWER, errors=(404,))
def operator_ticket(ticket_id: str, *, support=Service("support")):
    return thread_out(support.thread(ticket_id), operator=True)


@endpoint(support_bp, "POST", "/v1/operator/tickets/{ticket_id}/replies",
          summary="Answer a ticket (mailed to the requester)", tags=TAGS, body=ReplyIn, response=ReplyOut, status=201,
          permission=PlatformPermission.SUPPORT_ANSWER, errors=(404, 409))
def reply(ticket_id: str, principal: Principal, body: ReplyIn, *, support=Service("support")):
    ticket, message, mailed = support.operator_reply(principal, ticket_id, body.body, body.status)
    return ReplyOut(ticket=ticket_out(ticket, operator=True), message=message_out(message), emailed=mailed)


@endpoint(support_bp, "POST", "/v1/operator/tickets/{ticket_id}/status", summary="Change a ticket's status",
          tags=TAGS, body=StatusIn, response=TicketOut, permission=PlatformPermission.SUPPORT_ANSWER,
          errors=(404, 409))
def set_status(ticket_id: str, principal: Principal, body: StatusIn, *, support=Service("support")):
    return ticket_out(support.set_status(principal, ticket_id, body.status), operator=True)


# ---- local mode: drop an email in ------------------------------------------------------------------
@endpoint(support_bp, "POST", "/v1/local/inbound-mail",
          summary="Local mode only: receive a raw email as SES would (stored under inbound/, then handled); "
          "needs the local operator token",
          tags=("local",), body=InboundIn, response=InboundOut, status=201, public=True, errors=(401, 404),
          rules={"eml_base64": "the decoded message is not blank"})
def local_inbound_mail(body: InboundIn, request, *, settings=Service("settings"), support=Service("support"),
                       support_bucket=Service("support_bucket")):
    import uuid

    from chalicelib.api.local_access import refusal
    from chalicelib.handlers.support import inbound_mail_event, process_inbound_event

    if settings.mode != "local":
        raise NotFound("no such route")
    # It takes SES's verdict headers from the message as given and tells whether the sender has
    # an account: only for whoever runs the local stack.
    refused = refusal(request, settings.data_dir)
    if refused is not None:
        return refused
    try:
        raw = base64.b64decode(body.eml_base64, validate=True)
    except (ValueError, binascii.Error):
        raise ValidationFailed("not valid base64", field="eml_base64") from None
    if not raw.strip():
        raise ValidationFailed("the message is empty", field="eml_base64")
    key = f"inbound/local-{uuid.uuid4().hex}.eml"
    support_bucket.put(key, raw, "message/rfc822")
    outcomes = process_inbound_event(inbound_mail_event(support_bucket.bucket, key, len(raw), settings.region),
                                     support=support, support_bucket=support_bucket)
    return InboundOut(key=key, outcome=outcomes[0] if outcomes else "ignored")
