"""Support tickets: opened in the app or by email, answered by the platform operator, with the
first response measured in business hours against a target (2 hours by default).

* Members (permission ``ticket.open``) open tickets in their tenant and see their own; a tenant
  admin sees every ticket of the tenant. Another tenant's ticket is a 404, never a 403.
* The operator (``support.answer``) sees the queue by status, replies (mailed to the requester,
  with ``[#<ticket id>]`` in the subject so an emailed answer lands in the same thread) and
  changes the status: open / waiting (for the client) / resolved. The operator sees the ticket
  and the tenant's name, never ledger data.
* ``check_sla`` (schedule ``check_ticket_sla``) counts tickets past their first-response target
  (metric ``TicketsOverdue``), marks each once and mails the operators once.
* ``receive_email`` turns an inbound message (SES receipt rule -> S3 ``inbound/``) into a ticket
  or a reply, exactly once per stored message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.business_hours import BusinessHours, parse_dates, parse_windows, parse_workdays
from chalicelib.domain.errors import Conflict, NotFound, ScelleError
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Permission, Role, allows
from chalicelib.domain.support import (
    MAX_ATTACHMENT_BYTES,
    MAX_BODY,
    MAX_SUBJECT,
    STATUS_LABELS,
    STATUSES,
    TICKET_TAG,
    Attachment,
    Message,
    Ticket,
    check_attachment,
    check_status_change,
    clean_text,
    derived_id,
    is_id,
    new_id,
    parse_inbound,
    reply_subject,
    safe_filename,
    status_after,
    strip_controls,
    strip_quoted_reply,
    to_millis,
    with_message,
)
from chalicelib.observability import logger

UPLOAD_SECONDS = 900
DOWNLOAD_SECONDS = 300
MAX_INBOUND_BYTES = 10 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


# ---- Configuration (SCELLE_SUPPORT_*; read once by bootstrap) --------------------------------------
@dataclass(frozen=True)
class SupportConfig:
    hours: BusinessHours
    target_minutes: int = 120
    address: str = ""  # where clients write / reply (SES receipt rule); Reply-To of our mails
    mailing_rate: float = 10.0  # mails per second for newsletters (SES account limit or below)
    strict_inbound: bool = True  # drop inbound mail without an SPF/DKIM/DMARC pass verdict


def support_config_from_env(environ: Mapping[str, str] | None = None, *, mail_from: str = "",
                            local: bool = False) -> SupportConfig:
    """Read ``SCELLE_SUPPORT_*`` and ``SCELLE_MAILING_RATE``; a bad value raises ``ConfigError``
    naming the variable."""
    from chalicelib.config import ConfigError

    env = os.environ if environ is None else environ

    def get(name: str, default: str) -> str:
        return env.get(name, default).strip() or default

    current = ""
    try:
        current = "SCELLE_SUPPORT_HOURS"
        windows = parse_windows(get(current, "09:00-17:00"))
        current = "SCELLE_SUPPORT_WORKDAYS"
        workdays = parse_workdays(get(current, "mon-fri"))
        current = "SCELLE_SUPPORT_CLOSED_DATES"
        closed = parse_dates(env.get(current, ""))
        current = "SCELLE_SUPPORT_TIME_ZONE"
        hours = BusinessHours(
            time_zone=get(current, "Europe/Brussels"),
            windows=windows,
            workdays=workdays,
            holidays=get("SCELLE_SUPPORT_HOLIDAYS", "BE"),
            closed_dates=closed,
        )
        current = "SCELLE_SUPPORT_TARGET_MINUTES"
        text = get(current, "120")
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 10_000):
            raise ValueError(f"must be a whole number of minutes from 1 to 10000; got {text!r}")
        target = int(text)
        current = "SCELLE_MAILING_RATE"
        text = get(current, "10")
        try:
            rate = float(text)
        except ValueError:
            rate = 0.0
        if not 0 < rate <= 1000:  # NaN fails this too
            raise ValueError(f"must be a number of mails per second, more than 0 and at most 1000; got {text!r}")
    except ValueError as exc:
        if "holiday calendar" in str(exc):
            current = "SCELLE_SUPPORT_HOLIDAYS"
        raise ConfigError(f"{current}: {exc}") from None
    domain = mail_from.rpartition("@")[2] or "scelle.example"
    address = get("SCELLE_SUPPORT_ADDRESS", f"support@{domain}")
    return SupportConfig(hours, target, address, rate, strict_inbound=not local)


# ---- Views handed to the API ---------------------------------------------------------------------
@dataclass(frozen=True)
class Thread:
    ticket: Ticket
    messages: list[Message]
    downloads: dict[str, str | None]  # message id -> pre-signed URL (None: not uploaded yet)


@dataclass(frozen=True)
class Opened:
    ticket: Ticket
    message: Message
    upload: dict[str, Any] | None


class SupportService:
    def __init__(
        self,
        store,
        accounts,
        bucket,
        mailer: Callable[[], Any],
        config: SupportConfig,
        *,
        public_base_url: str = "",
        operator_emails: Callable[[], list[str]] = list,
        on_first_response: Callable[[int], None] = lambda minutes: None,
        on_overdue: Callable[[int], None] = lambda n: None,
        touch: Callable[[Principal], None] = lambda p: None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._bucket = bucket
        self._mailer = mailer
        self.config = config
        self._base = public_base_url.rstrip("/")
        self._operator_emails = operator_emails
        self._on_first_response = on_first_response
        self._on_overdue = on_overdue
        self._touch = touch
        self._clock = to_millis(clock)

    @property
    def hours(self) -> BusinessHours:
        return self.config.hours

    # ---- requester side ------------------------------------------------------------------------
    def open_ticket(self, caller: Caller, subject: object, body: object,
                    attachment: Mapping[str, Any] | None = None) -> Opened:
        subject_text = clean_text(subject, "subject", MAX_SUBJECT, single_line=True)
        body_text = clean_text(body, "body", MAX_BODY)
        checked = None
        if attachment is not None:
            checked = check_attachment(attachment.get("filename"), attachment.get("content_type"),
                                       attachment.get("size"))
        opened = self._open(caller, subject_text, body_text, checked, channel="app")
        self._touch(caller.principal)
        assert opened is not None
        return opened

    def _open(self, caller: Caller, subject: str, body: str, attachment: tuple[str, str, int] | None, *,
              channel: str, ticket_id: str | None = None, message_id: str | None = None,
              data: bytes | None = None) -> Opened | None:
        user = self._accounts.get_user(caller.user_id)
        tenant = self._accounts.get_tenant(caller.tenant_id)
        email = (user.email if user else "") or caller.principal.email
        now = self._clock()
        ticket_id = ticket_id or new_id("k")
        message_id = message_id or new_id("m")
        att = None
        if attachment is not None:
            name, content_type, size = attachment
            att = Attachment(f"attachments/{caller.tenant_id}/{ticket_id}/{message_id}/{name}", name, content_type,
                             size)
        ticket = Ticket(
            ticket_id=ticket_id, tenant_id=caller.tenant_id, requester_id=caller.user_id, requester_email=email,
            subject=subject, status="open", channel=channel, created_at=now,  # type: ignore[arg-type]
            due_at=self.hours.add_minutes(now, self.config.target_minutes), updated_at=now,
            company_name=tenant.company_name if tenant else "",
        )
        message = Message(ticket_id, message_id, "requester", caller.user_id, email, body, now,
                          channel=channel, attachment=att)  # type: ignore[arg-type]
        if data is not None and att is not None:
            self._bucket.put(att.key, data, att.content_type)
        if not self._store.create_ticket(ticket, message):
            return None  # the same inbound mail, delivered again
        upload = None
        if att is not None and data is None:
            upload = {**self._bucket.presign_upload(att.key, att.content_type, att.size, UPLOAD_SECONDS),
                      "expires_in": UPLOAD_SECONDS, "max_bytes": att.size}
        self._mail(email, reply_subject(ticket),
                   f"We received your request and answer within {self.config.target_minutes // 60} business hours "
                   f"({self.hours.describe()}).\n\nYour message:\n{body}\n\n{self._footer(ticket)}")
        self._mail_operators(f"New ticket [#{ticket.ticket_id}] {ticket.subject}",
                             f"{ticket.company_name or ticket.tenant_id} ({email}) opened a ticket by {channel}.\n"
                             f"Answer before {ticket.due_at.isoformat()} (business-hours target).\n\n{body}")
        return Opened(ticket, message, upload)

    def list_for(self, caller: Caller, *, limit: int, cursor: str | None) -> tuple[list[Ticket], str | None]:
        requester = None if caller.role == Role.ADMIN else caller.user_id
        return self._store.tenant_tickets(caller.tenant_id, requester_id=requester, limit=limit, cursor=cursor)

    def _visible_ticket(self, caller: Caller, ticket_id: str) -> Ticket:
        ticket = self._store.get_ticket(ticket_id) if is_id(ticket_id, "k") else None
        if (
            ticket is None
            or ticket.tenant_id != caller.tenant_id
            or (caller.role != Role.ADMIN and ticket.requester_id != caller.user_id)
        ):
            raise NotFound("ticket not found", field="ticket_id")
        return ticket

    def thread_for(self, caller: Caller, ticket_id: str) -> Thread:
        return self._thread(self._visible_ticket(caller, ticket_id))

    def requester_reply(self, caller: Caller, ticket_id: str, body: object) -> tuple[Ticket, Message]:
        text = clean_text(body, "body", MAX_BODY)
        self._visible_ticket(caller, ticket_id)
        ticket, message, _ = self._add(ticket_id, "requester", caller.principal, text, None, channel="app")
        self._touch(caller.principal)
        self._mail_operators(f"Client reply [#{ticket.ticket_id}] {ticket.subject}",
                             f"{ticket.requester_email} wrote:\n\n{text}")
        return ticket, message

    # ---- operator side -------------------------------------------------------------------------
    def queue(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[Ticket], str | None]:
        return self._store.queue(status, limit=limit, cursor=cursor)

    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self._store.get_ticket(ticket_id) if is_id(ticket_id, "k") else None
        if ticket is None:
            raise NotFound("ticket not found", field="ticket_id")
        return ticket

    def thread(self, ticket_id: str) -> Thread:
        return self._thread(self._ticket(ticket_id))

    def operator_reply(self, principal: Principal, ticket_id: str, body: object, status: str | None) -> tuple[
        Ticket, Message, bool
    ]:
        text = clean_text(body, "body", MAX_BODY)
        if status is not None and status not in STATUSES:
            status_after(self._ticket(ticket_id), "operator", status)  # raises naming the field
        ticket, message, first_minutes = self._add(ticket_id, "operator", principal, text, status, channel="app")
        if first_minutes is not None:
            self._on_first_response(first_minutes)
        mailed = self._mail(
            ticket.requester_email, reply_subject(ticket),
            f"{text}\n\n-- \nScellé support. Status: {STATUS_LABELS[ticket.status]}.\n{self._footer(ticket)}",
        )
        return ticket, message, mailed

    def set_status(self, principal: Principal, ticket_id: str, status: object) -> Ticket:
        for _ in range(3):
            ticket = self._ticket(ticket_id)
            new_status = check_status_change(ticket, status)
            now = self._clock()
            from dataclasses import replace

            new = replace(ticket, status=new_status, updated_at=now, version=ticket.version + 1,
                          resolved_at=now if new_status == "resolved" else None)
            if self._store.save_ticket(ticket, new):
                return new
        raise Conflict("the ticket changed while it was being updated; retry", field="ticket_id")

    # ---- shared --------------------------------------------------------------------------------
    def _add(self, ticket_id: str, author: str, principal: Principal, text: str, status: str | None, *,
             channel: str, message_id: str | None = None, dedupe: str | None = None) -> tuple[
        Ticket, Message, int | None
    ]:
        for _ in range(4):
            ticket = self._ticket(ticket_id)
            new_status = status_after(ticket, author, status)  # type: ignore[arg-type]
            now = self._clock()
            minutes = None
            if author == "operator" and ticket.first_response_at is None:
                minutes = self.hours.business_minutes(ticket.created_at, now)
            email = principal.email
            if author == "requester":
                email = ticket.requester_email
            message = Message(ticket.ticket_id, message_id or new_id("m"), author, principal.user_id,  # type: ignore
                              email, text, now, channel=channel)  # type: ignore[arg-type]
            new = with_message(ticket, author, new_status, now, minutes)  # type: ignore[arg-type]
            if self._store.save_ticket(ticket, new, message, dedupe=dedupe):
                return new, message, minutes
            if dedupe and self._store.seen(dedupe):
                raise _Duplicate()
        raise Conflict("the ticket changed while it was being updated; retry", field="ticket_id")

    def _thread(self, ticket: Ticket) -> Thread:
        messages = self._store.messages(ticket.ticket_id)
        downloads: dict[str, str | None] = {}
        for m in messages:
            if m.attachment is not None:
                downloads[m.message_id] = (
                    self._bucket.presign_download(m.attachment.key, m.attachment.filename, DOWNLOAD_SECONDS)
                    if self._bucket.exists(m.attachment.key) else None
                )
        return Thread(ticket, messages, downloads)

    def _footer(self, ticket: Ticket) -> str:
        link = f"{self._base}/v1/tenants/{ticket.tenant_id}/tickets/{ticket.ticket_id}" if self._base else ""
        return (f"Ticket {ticket.ticket_id}. Reply to this email (keep [#{ticket.ticket_id}] in the subject)"
                + (f" or see the thread in the app: {link}" if link else "") + ".")

    def _mail(self, to: str, subject: str, text: str) -> bool:
        """Best effort: the ticket is recorded whatever happens to the mail (the app shows it)."""
        if not to:
            return False
        try:
            self._mailer().send(to, subject, text)
            return True
        except ScelleError as exc:
            logger.warning("support mail not sent", extra={"subject": subject, "error": exc.detail})
            return False

    def _mail_operators(self, subject: str, text: str) -> None:
        for address in self._operator_emails():
            self._mail(address, subject, text)

    # ---- SLA -------------------------------------------------------------------------------
    def overdue(self, now: datetime | None = None) -> list[Ticket]:
        now = now or self._clock()
        return [
            t for t in self._store.awaiting_first_response()
            if self.hours.business_minutes(t.created_at, now) >= self.config.target_minutes
        ]

    def check_sla(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or self._clock()
        late = self.overdue(now)
        newly = [t for t in late if t.overdue_at is None and self._store.mark_overdue(t.ticket_id, now)]
        self._on_overdue(len(late))
        for t in newly:
            logger.warning("ticket overdue", extra={"ticket_id": t.ticket_id, "created_at": t.created_at.isoformat()})
            self._mail_operators(
                f"OVERDUE [#{t.ticket_id}] {t.subject}",
                f"No first response after {self.config.target_minutes} business minutes "
                f"(opened {t.created_at.isoformat()}, due {t.due_at.isoformat()}).",
            )
        return {"overdue": len(late), "newly_overdue": [t.ticket_id for t in newly]}

    # ---- inbound mail ------------------------------------------------------------------------
    def receive_email(self, raw: bytes, source_key: str) -> str:
        """One stored inbound message -> a new ticket, a reply, or a logged drop. Returns what
        happened (``opened``, ``replied``, ``duplicate`` or ``dropped: <reason>``)."""
        mail = parse_inbound(raw)
        if mail.spam:
            return self._drop("spam or virus verdict", mail.sender)
        if mail.auto_submitted:
            return self._drop("automatic reply", mail.sender)
        if mail.authenticated is False or (self.config.strict_inbound and mail.authenticated is None):
            return self._drop("sender not authenticated (SPF/DKIM/DMARC)", mail.sender)
        user_id = self._accounts.user_id_for_email(mail.sender) if mail.sender else None
        user = self._accounts.get_user(user_id) if user_id else None
        if user is None or user.operator:
            return self._drop("unknown sender", mail.sender)  # no answer: no backscatter to forged senders
        now = self._clock()
        roles = {m.tenant_id: m.role for m in self._accounts.memberships_of(user.user_id)
                 if m.is_active(now) and allows(m.role, Permission.TICKET_OPEN)}
        text = strip_controls(strip_quoted_reply(mail.text.replace("\r\n", "\n")))[:MAX_BODY].strip()
        text = text or "(empty message)"
        principal = Principal(user.user_id, user.email)
        tag = TICKET_TAG.search(mail.subject)
        if tag:
            ticket = self._store.get_ticket(tag.group(1))
            if ticket is not None and ticket.requester_id == user.user_id and ticket.tenant_id in roles:
                try:
                    self._add(ticket.ticket_id, "requester", principal, clean_text(text, "body", MAX_BODY), None,
                              channel="email", message_id=derived_id("m", source_key), dedupe=source_key)
                except _Duplicate:
                    return "duplicate"
                self._mail_operators(f"Client reply by email [#{ticket.ticket_id}] {ticket.subject}", text)
                return "replied"
        tenant_id = self._tenant_for(mail.recipients, roles)
        if tenant_id is None:
            if roles:
                self._mail(user.email, "Your message to Scellé support",
                           "You belong to several companies, so we could not tell which one your message is about. "
                           "Please open the ticket in the app, or write to "
                           + " / ".join(self._plus_address(t) for t in sorted(roles)) + ".")
            return self._drop("no single tenant for the sender", mail.sender)
        subject = " ".join(strip_controls(mail.subject).split())[:MAX_SUBJECT] or "(no subject)"
        attachment, data = self._inbound_attachment(mail.attachments)
        caller = Caller(principal, tenant_id, roles[tenant_id])
        opened = self._open(caller, subject, clean_text(text, "body", MAX_BODY), attachment, channel="email",
                            ticket_id=derived_id("k", source_key), message_id=derived_id("m", source_key),
                            data=data)
        return "opened" if opened else "duplicate"

    def _plus_address(self, tenant_id: str) -> str:
        name, _, domain = self.config.address.partition("@")
        return f"{name}+{tenant_id}@{domain}"

    def _tenant_for(self, recipients: Iterable[str], roles: Mapping[str, str]) -> str | None:
        name = self.config.address.partition("@")[0].lower()
        for address in recipients:
            local = address.partition("@")[0]
            if local.startswith(name + "+") and local[len(name) + 1:] in roles:
                return local[len(name) + 1:]
        return next(iter(roles)) if len(roles) == 1 else None

    @staticmethod
    def _inbound_attachment(files) -> tuple[tuple[str, str, int] | None, bytes | None]:
        from chalicelib.domain.support import ATTACHMENT_TYPES

        for f in files:
            if f.content_type in ATTACHMENT_TYPES and 0 < len(f.data) <= MAX_ATTACHMENT_BYTES:
                try:
                    return (safe_filename(f.filename), f.content_type, len(f.data)), f.data
                except ScelleError:
                    continue
        return None, None

    @staticmethod
    def _drop(reason: str, sender: str) -> str:
        logger.info("inbound mail dropped", extra={"reason": reason, "sender_domain": sender.rpartition("@")[2]})
        return f"dropped: {reason}"


class _Duplicate(Exception):
    """This inbound message was already applied."""
