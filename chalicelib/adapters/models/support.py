"""Models of the support table (decision 0010). Item layout:

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

Every item also has ``type``; attributes are named as the fields of the domain dataclasses
(``domain/support.py``), times are RFC 3339 UTC strings, counts numbers; absent means None.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cache

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.adapters.models.base import (
    DomainItem,
    DomainMap,
    Endpoint,
    Gsi1,
    UtcTimeAttribute,
    iso,
    meta,
    one_client,
)
from chalicelib.domain.support import Attachment, Mailing, Message, News, Recipient, Ticket


class AttachmentMap(DomainMap):
    domain = Attachment
    key = UnicodeAttribute()
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()


def ticket_key(ticket_id: str) -> tuple[str, str]:
    return f"TICKET#{ticket_id}", "TICKET"


def mailing_key(mailing_id: str) -> tuple[str, str]:
    return f"MAILING#{mailing_id}", "MAILING"


def recipient_key(mailing_id: str, email: str) -> tuple[str, str]:
    return f"MAILING#{mailing_id}", f"RCPT#{email}"


def news_key(news_id: str) -> tuple[str, str]:
    return "NEWS", f"NEWS#{news_id}"


def unsub_key(email: str) -> tuple[str, str]:
    return f"UNSUB#{email}", "UNSUB"


def activity_key(user_id: str) -> tuple[str, str]:
    return f"ACTIVE#{user_id}", "ACTIVE"


def inbound_key(source: str) -> tuple[str, str]:
    return "INBOUND#" + hashlib.sha256(source.encode()).hexdigest(), "INBOUND"


@dataclass(frozen=True)
class SupportModels:
    """The model classes of one support table."""

    Ticket: type
    Message: type
    TenantTicket: type
    Inbound: type
    News: type
    Mailing: type
    Recipient: type
    Unsubscribed: type
    Activity: type


@cache
def support_models(table_name: str, endpoint: Endpoint) -> SupportModels:
    """The models bound to ``table_name`` (built once per table name and endpoint: stacks of other
    names in the same process have classes of their own)."""
    bound = meta(table_name, endpoint)

    class Item(Model):
        Meta = bound
        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)

    class TicketItem(DomainItem, Item):
        domain = Ticket
        item_type = UnicodeAttribute(attr_name="type", default="ticket")
        ticket_id = UnicodeAttribute()
        tenant_id = UnicodeAttribute()
        requester_id = UnicodeAttribute()
        requester_email = UnicodeAttribute()
        subject = UnicodeAttribute()
        status = UnicodeAttribute()
        channel = UnicodeAttribute()
        created_at = UtcTimeAttribute()
        due_at = UtcTimeAttribute()
        updated_at = UtcTimeAttribute()
        version = NumberAttribute()
        company_name = UnicodeAttribute(null=True)
        messages = NumberAttribute(null=True)
        first_response_at = UtcTimeAttribute(null=True)
        first_response_minutes = NumberAttribute(null=True)
        overdue_at = UtcTimeAttribute(null=True)
        resolved_at = UtcTimeAttribute(null=True)
        gsi1pk = UnicodeAttribute()  # QUEUE#<status>: the operator's queue, oldest first
        gsi1sk = UnicodeAttribute()
        queue = Gsi1()

        @classmethod
        def of(cls, t: Ticket) -> TicketItem:
            pk, sk = ticket_key(t.ticket_id)
            return cls(pk, sk, **cls.attributes_of(t), gsi1pk=f"QUEUE#{t.status}",
                       gsi1sk=f"{iso(t.created_at)}#{t.ticket_id}")

    class MessageItem(DomainItem, Item):
        domain = Message
        item_type = UnicodeAttribute(attr_name="type", default="message")
        ticket_id = UnicodeAttribute()
        message_id = UnicodeAttribute()
        author = UnicodeAttribute()
        author_id = UnicodeAttribute()
        author_email = UnicodeAttribute()
        body = UnicodeAttribute()
        at = UtcTimeAttribute()
        channel = UnicodeAttribute(null=True)
        attachment = AttachmentMap(null=True)

        @classmethod
        def of(cls, m: Message) -> MessageItem:
            return cls(f"TICKET#{m.ticket_id}", f"MSG#{iso(m.at)}#{m.message_id}", **cls.attributes_of(m))

    class TenantTicketItem(Item):
        """A tenant's pointer to one of its tickets (newest first in the tenant's partition)."""

        item_type = UnicodeAttribute(attr_name="type", default="tenant_ticket")
        ticket_id = UnicodeAttribute()
        requester_id = UnicodeAttribute()

        @classmethod
        def of(cls, t: Ticket) -> TenantTicketItem:
            return cls(f"TENANT#{t.tenant_id}", f"TICKET#{iso(t.created_at)}#{t.ticket_id}",
                       ticket_id=t.ticket_id, requester_id=t.requester_id)

    class InboundItem(Item):
        """An inbound mail already applied to a ticket (its object key, hashed)."""

        item_type = UnicodeAttribute(attr_name="type", default="inbound")
        ticket_id = UnicodeAttribute()

    class NewsItem(DomainItem, Item):
        domain = News
        item_type = UnicodeAttribute(attr_name="type", default="news")
        news_id = UnicodeAttribute()
        title = UnicodeAttribute()
        body = UnicodeAttribute()
        audience = UnicodeAttribute()
        visible_from = UtcTimeAttribute()
        visible_until = UtcTimeAttribute(null=True)
        published_by = UnicodeAttribute()
        published_at = UtcTimeAttribute()
        withdrawn_at = UtcTimeAttribute(null=True)

        @classmethod
        def of(cls, n: News) -> NewsItem:
            return cls(*news_key(n.news_id), **cls.attributes_of(n))

    class MailingItem(DomainItem, Item):
        domain = Mailing
        item_type = UnicodeAttribute(attr_name="type", default="mailing")
        mailing_id = UnicodeAttribute()
        kind = UnicodeAttribute()  # newsletter, recent_users
        subject = UnicodeAttribute()
        body = UnicodeAttribute()
        status = UnicodeAttribute()
        created_by = UnicodeAttribute()
        created_at = UtcTimeAttribute()
        updated_at = UtcTimeAttribute()
        months = NumberAttribute(null=True)
        recipients = NumberAttribute(null=True)
        confirmed_by = UnicodeAttribute(null=True)
        confirmed_at = UtcTimeAttribute(null=True)
        finished_at = UtcTimeAttribute(null=True)
        last_error = UnicodeAttribute(null=True)
        runs = NumberAttribute(null=True)
        gsi1pk = UnicodeAttribute(default="MAILINGS")
        gsi1sk = UnicodeAttribute()
        listing = Gsi1()

        @classmethod
        def of(cls, m: Mailing) -> MailingItem:
            return cls(*mailing_key(m.mailing_id), **cls.attributes_of(m),
                       gsi1sk=f"{iso(m.created_at)}#{m.mailing_id}")

    class RecipientItem(DomainItem, Item):
        domain = Recipient
        item_type = UnicodeAttribute(attr_name="type", default="recipient")
        email = UnicodeAttribute()
        user_id = UnicodeAttribute()
        state = UnicodeAttribute(null=True)
        claimed_at = UtcTimeAttribute(null=True)
        sent_at = UtcTimeAttribute(null=True)
        message_id = UnicodeAttribute(null=True)
        error = UnicodeAttribute(null=True)

        @classmethod
        def of(cls, mailing_id: str, r: Recipient) -> RecipientItem:
            return cls(*recipient_key(mailing_id, r.email), **cls.attributes_of(r))

    class UnsubscribedItem(Item):
        item_type = UnicodeAttribute(attr_name="type", default="unsubscribed")
        email = UnicodeAttribute()
        at = UtcTimeAttribute()

    class ActivityItem(Item):
        """The day a user last used the app (at most one write per user and day)."""

        item_type = UnicodeAttribute(attr_name="type", default="activity")
        user_id = UnicodeAttribute()
        email = UnicodeAttribute()
        last_active = UnicodeAttribute()  # YYYY-MM-DD
        gsi1pk = UnicodeAttribute(default="ACTIVE")
        gsi1sk = UnicodeAttribute()  # <YYYY-MM-DD>#<user_id>
        recent = Gsi1()

    models = SupportModels(TicketItem, MessageItem, TenantTicketItem, InboundItem, NewsItem, MailingItem,
                         RecipientItem, UnsubscribedItem, ActivityItem)
    one_client(*(getattr(models, f.name) for f in fields(models)))
    return models
