"""Support and communication: tickets, news, mailings, unsubscribe tokens and inbound mail.

Pure data and rules (stdlib only). Storage is ``adapters.support_dynamodb``; use cases are
``services.support`` / ``services.news`` / ``services.mailing``; decisions in
docs/decisions/0010-support.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Literal

from chalicelib.domain.errors import Conflict, ValidationFailed

# ---- Tickets -------------------------------------------------------------------------------------
TicketStatus = Literal["open", "waiting", "resolved"]
STATUSES: tuple[str, ...] = ("open", "waiting", "resolved")
STATUS_LABELS = {"open": "open", "waiting": "waiting for client", "resolved": "resolved"}
Channel = Literal["app", "email"]
Author = Literal["requester", "operator"]

MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
ATTACHMENT_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"}
)
TICKET_TAG = re.compile(r"\[#(k[0-9a-f]{20})\]")
_ID = re.compile(r"^[kmnu][0-9a-f]{20}$")
_FILENAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def to_millis(clock):
    """A clock whose instants are cut to the millisecond (what the support table stores), so
    that what a service returns equals what it stored."""

    def now() -> datetime:
        t = clock()
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    return now


def new_id(kind: Literal["k", "m", "n", "u"]) -> str:
    """A random id: ``k`` ticket, ``m`` message, ``n`` news, ``u`` mailing (+ 20 hex digits)."""
    return kind + secrets.token_hex(10)


def derived_id(kind: Literal["k", "m"], source: str) -> str:
    """A deterministic id from an external key (an inbound mail's object key): a redelivered
    notification names the same ticket or message, so a conditional put makes it happen once."""
    return kind + hashlib.sha256(source.encode()).hexdigest()[:20]


def is_id(value: str, kind: str) -> bool:
    return bool(_ID.match(value)) and value[0] == kind


def clean_text(value: object, field_name: str, max_length: int, *, single_line: bool = False) -> str:
    """Trimmed text with no control characters (tabs and newlines allowed unless single-line)."""
    if not isinstance(value, str):
        raise ValidationFailed("Expected a string.", field=field_name)
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if single_line:
        text = re.sub(r"[ \t\n]+", " ", text)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in text):
        raise ValidationFailed("Control characters are not allowed.", field=field_name)
    if not text:
        raise ValidationFailed("Must not be empty.", field=field_name)
    if len(text) > max_length:
        raise ValidationFailed(f"At most {max_length} characters (got {len(text)}).", field=field_name)
    return text


def strip_controls(text: str) -> str:
    """Mail text as received can hold stray control characters (form feeds, NULs): drop them
    rather than refuse a client's message."""
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc")


def safe_filename(value: object, field_name: str = "attachment.filename") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("A file name is required.", field=field_name)
    base = value.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _FILENAME_BAD.sub("_", base).strip("._")[:100]
    if not base:
        raise ValidationFailed("The file name has no usable characters.", field=field_name)
    return base


@dataclass(frozen=True)
class Attachment:
    key: str  # object key in the support bucket
    filename: str
    content_type: str
    size: int


def check_attachment(filename: object, content_type: object, size: object, prefix: str = "attachment") -> tuple[
    str, str, int
]:
    name = safe_filename(filename, f"{prefix}.filename")
    if content_type not in ATTACHMENT_TYPES:
        raise ValidationFailed(
            f"Attachment type must be one of {sorted(ATTACHMENT_TYPES)}; got {content_type!r}.",
            field=f"{prefix}.content_type",
        )
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(
            f"Attachment size must be 1 to {MAX_ATTACHMENT_BYTES} bytes.", field=f"{prefix}.size"
        )
    assert isinstance(content_type, str)
    return name, content_type, size


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    tenant_id: str
    requester_id: str
    requester_email: str
    subject: str
    status: TicketStatus
    channel: Channel
    created_at: datetime
    due_at: datetime  # first-response deadline (business time)
    updated_at: datetime
    version: int = 1
    company_name: str = ""
    messages: int = 1
    first_response_at: datetime | None = None
    first_response_minutes: int | None = None
    overdue_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def awaiting_first_response(self) -> bool:
        return self.first_response_at is None and self.status != "resolved"


@dataclass(frozen=True)
class Message:
    ticket_id: str
    message_id: str
    author: Author
    author_id: str
    author_email: str
    body: str
    at: datetime
    channel: Channel = "app"
    attachment: Attachment | None = None


def status_after(ticket: Ticket, author: Author, requested: str | None) -> TicketStatus:
    """The status a new message leaves the ticket in.

    A requester's message (re)opens the ticket. An operator's reply waits for the client unless
    the operator says ``open`` (still working on it) or ``resolved``.
    """
    if author == "requester":
        return "open"
    status = requested or "waiting"
    if status not in STATUSES:
        raise ValidationFailed(f"Status must be one of {list(STATUSES)}; got {status!r}.", field="status")
    return status  # type: ignore[return-value]


def check_status_change(ticket: Ticket, status: object) -> TicketStatus:
    if status not in STATUSES:
        raise ValidationFailed(f"Status must be one of {list(STATUSES)}; got {status!r}.", field="status")
    if status == ticket.status:
        raise Conflict(f"the ticket is already {STATUS_LABELS[ticket.status]}", field="status")
    return status  # type: ignore[return-value]


def with_message(ticket: Ticket, author: Author, status: TicketStatus, at: datetime, business_minutes: int | None) -> (
    Ticket
):
    """The ticket after a message; an operator's first message records the first response."""
    first_at, first_minutes = ticket.first_response_at, ticket.first_response_minutes
    if author == "operator" and first_at is None:
        first_at, first_minutes = at, business_minutes
    return replace(
        ticket,
        status=status,
        updated_at=at,
        version=ticket.version + 1,
        messages=ticket.messages + 1,
        first_response_at=first_at,
        first_response_minutes=first_minutes,
        resolved_at=at if status == "resolved" else None,
    )


def reply_subject(ticket: Ticket) -> str:
    return f"[#{ticket.ticket_id}] {ticket.subject}"[:250]


def strip_quoted_reply(text: str) -> str:
    """The new part of an emailed reply: stop at the first quoted line or 'On ... wrote:' header."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            break
        if re.match(r"^(On .+ wrote:|Le .+ a écrit ?:|-----\s*Original Message\s*-----)$", stripped):
            break
        out.append(line)
    return "\n".join(out).strip() or text.strip()


# ---- Inbound mail --------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboundFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InboundMail:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    attachments: tuple[InboundFile, ...] = ()
    spam: bool = False
    authenticated: bool | None = None  # None: no receiving-server verdict in the message
    auto_submitted: bool = False


def _verdict(msg: EmailMessage, header: str) -> str:
    return str(msg.get(header, "")).strip().upper()


def parse_inbound(raw: bytes) -> InboundMail:
    """Read a raw RFC 5322 message (as SES stores it in S3). Never raises on odd mail: what cannot
    be read is left empty and the caller decides."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    sender = parseaddr(str(msg.get("From", "")))[1].strip().lower()
    recipients = tuple(
        a.strip().lower()
        for _, a in getaddresses([str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])])
        if a
    )
    subject = " ".join(str(msg.get("Subject", "")).split())
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, ValueError):
            text = ""
        if body.get_content_type() == "text/html":
            text = _html_to_text(text)
    files = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        files.append(InboundFile(part.get_filename() or "attachment", part.get_content_type(), bytes(data)))
    # SES receiving adds "Authentication-Results: amazonses.com; spf=...; dkim=...; dmarc=...".
    results = [str(v) for v in (msg.get_all("Authentication-Results") or []) if "amazonses.com" in str(v).lower()]
    authenticated = (
        any(re.search(r"\b(?:spf|dkim|dmarc)=pass\b", r, re.IGNORECASE) for r in results) if results else None
    )
    spam = _verdict(msg, "X-SES-Spam-Verdict") == "FAIL" or _verdict(msg, "X-SES-Virus-Verdict") == "FAIL"
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower() not in ("", "no") or str(
        msg.get("Precedence", "")
    ).strip().lower() in ("bulk", "junk", "list")
    return InboundMail(sender, recipients, subject, text, tuple(files), spam, authenticated, auto)


def _html_to_text(html: str) -> str:
    from html import unescape

    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return unescape(re.sub(r"<[^>]+>", "", text))


# ---- News ----------------------------------------------------------------------------------------
Audience = Literal["all", "BE", "FR"]
AUDIENCES = ("all", "BE", "FR")
MAX_NEWS_TITLE = 200
MAX_NEWS_BODY = 20_000


@dataclass(frozen=True)
class News:
    news_id: str
    title: str
    body: str  # Markdown source
    audience: Audience
    visible_from: datetime
    visible_until: datetime | None
    published_by: str
    published_at: datetime
    withdrawn_at: datetime | None = None

    def visible(self, now: datetime, countries: frozenset[str]) -> bool:
        if self.withdrawn_at is not None or now < self.visible_from:
            return False
        if self.visible_until is not None and now >= self.visible_until:
            return False
        return self.audience == "all" or self.audience in countries


def check_window(visible_from: datetime, visible_until: datetime | None) -> None:
    for name, value in (("visible_from", visible_from), ("visible_until", visible_until)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValidationFailed("Give a time zone (e.g. 2026-05-01T08:00:00Z).", field=name)
    if visible_until is not None and visible_until <= visible_from:
        raise ValidationFailed("visible_until must be after visible_from.", field="visible_until")


# ---- Mailings ------------------------------------------------------------------------------------
MailingKind = Literal["newsletter", "recent_users"]
MAILING_KINDS = ("newsletter", "recent_users")
MailingStatus = Literal["preparing", "prepared", "sending", "failed", "done", "cancelled"]
RecipientState = Literal["pending", "claimed", "sent", "skipped", "failed"]
RECIPIENT_STATES: tuple[str, ...] = ("pending", "claimed", "sent", "skipped", "failed")
MAX_MONTHS = 36


@dataclass(frozen=True)
class Mailing:
    mailing_id: str
    kind: MailingKind
    subject: str
    body: str  # Markdown source
    status: MailingStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    months: int | None = None  # recent_users only
    recipients: int | None = None  # known once prepared
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: str
    state: RecipientState = "pending"
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    message_id: str | None = None
    error: str | None = None


@dataclass
class Progress:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECIPIENT_STATES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - self.counts["pending"] - self.counts["failed"]


# ---- Unsubscribe tokens --------------------------------------------------------------------------
_TOKEN_CONTEXT = b"scelle/unsubscribe/v1\x00"


class UnsubscribeTokens:
    """``base64url(email) "." base64url(HMAC-SHA256(key, context || email))``. No expiry: an
    unsubscribe link must keep working; the key is rotated by replacing it (old links then fail
    with a 422 and the user can still unsubscribe from any newer mail)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the unsubscribe key must have at least 32 bytes")
        self._key = key

    def _mac(self, email: str) -> bytes:
        return hmac.new(self._key, _TOKEN_CONTEXT + email.encode(), hashlib.sha256).digest()

    def sign(self, email: str) -> str:
        email = email.strip().lower()
        return f"{_b64(email.encode())}.{_b64(self._mac(email))}"

    def verify(self, token: object, field_name: str = "token") -> str:
        bad = ValidationFailed("This unsubscribe link is not valid (it may be cut or altered).", field=field_name)
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 800:
            raise bad
        left, right = token.split(".")
        try:
            email = _unb64(left).decode()
            mac = _unb64(right)
        except (ValueError, UnicodeDecodeError):
            raise bad from None
        if not hmac.compare_digest(mac, self._mac(email)):
            raise bad
        return email


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"
