"""An in-memory support store with the DynamoDB adapter's rules (unit tests, contract test
``tests/functional/test_support_store.py``).

What it copies from ``support_dynamodb.DynamoSupportStore`` on purpose:

* values read back as the table stores them: times cut to the millisecond and turned to UTC
  (``models.base.iso``); a field given as None is absent, read as its dataclass default but seen
  by no condition or filter (a recipient written without a state lists and counts as pending, yet
  neither the ``pending`` filter nor a move from ``pending`` finds it);
* each change checks every condition first and only then writes, so a refused change leaves the
  state untouched, as a cancelled ``TransactWrite`` does; conditions that fail answer ``False``
  (tickets, mailings, recipients, unsubscribe, activity) or raise ``Conflict`` (news, mailings
  created twice), as the adapter does;
* the queries' key order (a ticket's messages by time, a tenant's tickets newest first, the
  operator's queue oldest first, mailings newest first, news by id, recipients by address) and
  their paging: a page evaluates ``limit`` keys, a requester filter applies after that and the
  next keys are read until ``limit`` tickets match (pynamodb's iterator), and the cursor is the
  adapter's (``encode_cursor``), so a cursor of one store is followed by the other alike, and
  one of another tenant, queue or listing is refused by both (``ValidationFailed``);
* the adapter's surprises, pinned by the contract test: ``save_ticket`` without a message ignores
  ``dedupe``; ``mark_overdue`` does not change the ticket's ``version`` (a ticket read before it saves
  and clears ``overdue_at``); ``add_recipients``
  rewrites a recipient whatever its state; ``touch_activity`` with another address writes even an
  older day.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, fields, replace
from datetime import date, datetime
from typing import Any, TypeVar

from chalicelib.adapters.models.base import iso
from chalicelib.adapters.models.support import inbound_key
from chalicelib.adapters.support_dynamodb import decode_cursor, encode_cursor
from chalicelib.domain.errors import Conflict
from chalicelib.domain.support import Mailing, Message, News, Progress, Recipient, Ticket

T = TypeVar("T")

_Key = dict[str, str]


def _cut(value: T) -> T:
    """``value`` as the support table holds it: times at millisecond precision in UTC. A field of
    None is held as absent: conditions and filters see no value (``_read`` gives the default)."""
    changes = {f.name: datetime.fromisoformat(iso(getattr(value, f.name)))
               for f in fields(value) if isinstance(getattr(value, f.name), datetime)}  # type: ignore[arg-type]
    return replace(value, **changes) if changes else value  # type: ignore[type-var]


def _read(value: T) -> T:
    """A held value as the adapter reads it: an absent field with a default is the default."""
    changes: dict[str, Any] = {}
    for f in fields(value):  # type: ignore[arg-type]
        if getattr(value, f.name) is None:
            if f.default is not MISSING and f.default is not None:
                changes[f.name] = f.default
            elif f.default_factory is not MISSING:
                changes[f.name] = f.default_factory()
    return replace(value, **changes) if changes else value  # type: ignore[type-var]


def _read_all(values: Iterable[T]) -> list[T]:
    return [_read(v) for v in values]


def _ticket_entry_key(t: Ticket) -> _Key:
    return {"pk": f"TENANT#{t.tenant_id}", "sk": f"TICKET#{iso(t.created_at)}#{t.ticket_id}"}


def _queue_key(t: Ticket) -> _Key:
    return {"pk": f"TICKET#{t.ticket_id}", "sk": "TICKET", "gsi1pk": f"QUEUE#{t.status}",
            "gsi1sk": f"{iso(t.created_at)}#{t.ticket_id}"}


def _listing_key(m: Mailing) -> _Key:
    return {"pk": f"MAILING#{m.mailing_id}", "sk": "MAILING", "gsi1pk": "MAILINGS",
            "gsi1sk": f"{iso(m.created_at)}#{m.mailing_id}"}


def _page(
    rows: list[tuple[_Key, T]], *, sort: str, forward: bool, limit: int, start: dict[str, Any] | None,
    match: Callable[[T], bool] = lambda _: True,
) -> tuple[list[T], str | None]:
    """A limited query of one partition as the embedded DynamoDB answers it and pynamodb's result
    iterator reads it: keys after ``start`` in ``sort`` order, pages of ``limit`` evaluated keys
    (a page has a last evaluated key when a key follows it), ``match`` applied to each page, and
    pages read until ``limit`` rows matched; the cursor is the last returned row's key when the
    limit is reached inside a page, else the page's last evaluated key. (AWS also returns a last
    evaluated key when a page ends exactly on the partition's last key; the embedded stack does
    not, and neither does this: the contract runs there.)"""
    def position(key: _Key) -> tuple[str, str, str]:
        return key[sort], key["pk"], key["sk"]

    order = sorted(rows, key=lambda r: position(r[0]), reverse=not forward)
    if start is not None:
        mark = position({name: start.get(name, {}).get("S", "") for name in (sort, "pk", "sk")})
        order = [r for r in order if (position(r[0]) > mark if forward else position(r[0]) < mark)]
    if limit <= 0:
        return [], encode_cursor(start)
    out: list[T] = []
    for at in range(0, len(order), limit):
        evaluated = order[at:at + limit]
        more = at + limit < len(order)
        returned = [(key, value) for key, value in evaluated if match(value)]
        for n, (key, value) in enumerate(returned):
            out.append(value)
            if len(out) == limit:
                if n < len(returned) - 1:
                    return out, _cursor(key)
                return out, _cursor(evaluated[-1][0]) if more else None
    return out, None


def _cursor(key: _Key) -> str | None:
    return encode_cursor({name: {"S": value} for name, value in key.items()})


class InMemorySupportStore:
    """The support table of ``DynamoSupportStore`` in dicts, behind one lock."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.ticket_entries: dict[str, _Key] = {}  # ticket id -> its tenant list entry's key
        self.requesters: dict[str, str] = {}  # ticket id -> the requester at creation
        self.messages_by_ticket: dict[str, dict[str, Message]] = {}  # ticket id -> sort key -> message
        self.inbound: set[str] = set()  # hashed keys of applied inbound mail
        self.news: dict[str, News] = {}
        self.mailing_items: dict[str, Mailing] = {}
        self.recipient_items: dict[str, dict[str, Recipient]] = {}  # mailing id -> email -> recipient
        self.unsubscribed: dict[str, datetime] = {}
        self.activity: dict[str, tuple[str, str]] = {}  # user id -> (email, YYYY-MM-DD)
        self._lock = threading.RLock()

    # ---- tickets -----------------------------------------------------------------------------
    @staticmethod
    def _message_sk(m: Message) -> str:
        return f"MSG#{iso(m.at)}#{m.message_id}"

    def create_ticket(self, ticket: Ticket, message: Message) -> bool:
        entry = _ticket_entry_key(ticket)
        with self._lock:
            if (ticket.ticket_id in self.tickets
                    or self._message_sk(message) in self.messages_by_ticket.get(message.ticket_id, {})
                    or entry in self.ticket_entries.values()):
                return False
            self.tickets[ticket.ticket_id] = _cut(ticket)
            self.messages_by_ticket.setdefault(message.ticket_id, {})[self._message_sk(message)] = _cut(message)
            self.ticket_entries[ticket.ticket_id] = entry
            self.requesters[ticket.ticket_id] = ticket.requester_id
            return True

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        found = self.tickets.get(ticket_id)
        return _read(found) if found else None

    def messages(self, ticket_id: str) -> list[Message]:
        with self._lock:
            stored = self.messages_by_ticket.get(ticket_id, {})
            return _read_all(stored[sk] for sk in sorted(stored))

    def message_exists(self, ticket_id: str, message_id: str) -> bool:
        return any(m.message_id == message_id for m in self.messages(ticket_id))

    def save_ticket(self, old: Ticket, new: Ticket, message: Message | None = None, *,
                    dedupe: str | None = None) -> bool:
        with self._lock:
            current = self.tickets.get(new.ticket_id)
            if current is None or current.version != old.version:
                return False
            if message is not None:
                if self._message_sk(message) in self.messages_by_ticket.get(message.ticket_id, {}):
                    return False
                if dedupe and inbound_key(dedupe)[0] in self.inbound:
                    return False
                self.messages_by_ticket.setdefault(message.ticket_id, {})[self._message_sk(message)] = (
                    _cut(message))
                if dedupe:
                    self.inbound.add(inbound_key(dedupe)[0])
            self.tickets[new.ticket_id] = _cut(new)  # dedupe without a message: not recorded
            return True

    def seen(self, dedupe: str) -> bool:
        return inbound_key(dedupe)[0] in self.inbound

    def mark_overdue(self, ticket_id: str, at: datetime) -> bool:
        with self._lock:
            current = self.tickets.get(ticket_id)
            if current is None or current.overdue_at is not None:
                return False
            # the version moves on, as in DynamoDB: a save from a stale read must not erase the mark
            self.tickets[ticket_id] = _cut(replace(current, overdue_at=at, version=current.version + 1))
            return True

    def tenant_tickets(self, tenant_id: str, *, requester_id: str | None, limit: int, cursor: str | None) -> tuple[
        list[Ticket], str | None
    ]:
        start = decode_cursor(cursor, allowed={"pk", "sk"}, partition=("pk", f"TENANT#{tenant_id}"))
        with self._lock:
            rows = [(key, ticket_id) for ticket_id, key in self.ticket_entries.items()
                    if key["pk"] == f"TENANT#{tenant_id}"]
            ids, last = _page(rows, sort="sk", forward=False, limit=limit, start=start,
                              match=lambda t: not requester_id or self.requesters[t] == requester_id)
            return _read_all(self.tickets[t] for t in ids if t in self.tickets), last

    def queue(self, status: str, *, limit: int, cursor: str | None) -> tuple[list[Ticket], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"}, partition=("gsi1pk", f"QUEUE#{status}"))
        with self._lock:
            rows = [(_queue_key(t), t) for t in self.tickets.values() if t.status == status]
        found, last = _page(rows, sort="gsi1sk", forward=True, limit=limit, start=start)
        return _read_all(found), last

    def awaiting_first_response(self) -> Iterator[Ticket]:
        for status in ("open", "waiting"):
            with self._lock:
                found = sorted((t for t in self.tickets.values() if t.status == status),
                               key=lambda t: _queue_key(t)["gsi1sk"])
            yield from _read_all(t for t in found if t.first_response_at is None)

    # ---- news --------------------------------------------------------------------------------
    def put_news(self, news: News, *, new: bool = True) -> None:
        with self._lock:
            if new and news.news_id in self.news:
                raise Conflict(f"news {news.news_id} exists already")
            self.news[news.news_id] = _cut(news)

    def get_news(self, news_id: str) -> News | None:
        found = self.news.get(news_id)
        return _read(found) if found else None

    def all_news(self) -> list[News]:
        with self._lock:
            return _read_all(self.news[n] for n in sorted(self.news))

    # ---- mailings ----------------------------------------------------------------------------
    def create_mailing(self, mailing: Mailing) -> None:
        with self._lock:
            if mailing.mailing_id in self.mailing_items:
                raise Conflict(f"mailing {mailing.mailing_id} exists already")
            self.mailing_items[mailing.mailing_id] = _cut(mailing)

    def get_mailing(self, mailing_id: str) -> Mailing | None:
        found = self.mailing_items.get(mailing_id)
        return _read(found) if found else None

    def mailings(self, *, limit: int, cursor: str | None) -> tuple[list[Mailing], str | None]:
        start = decode_cursor(cursor, allowed={"pk", "sk", "gsi1pk", "gsi1sk"}, partition=("gsi1pk", "MAILINGS"))
        with self._lock:
            rows = [(_listing_key(m), m) for m in self.mailing_items.values()]
        found, last = _page(rows, sort="gsi1sk", forward=False, limit=limit, start=start)
        return _read_all(found), last

    def save_mailing(self, new: Mailing, *, expected: tuple[str, ...]) -> bool:
        with self._lock:
            current = self.mailing_items.get(new.mailing_id)
            if current is None or current.status not in expected:
                return False
            self.mailing_items[new.mailing_id] = _cut(new)
            return True

    def add_recipients(self, mailing_id: str, recipients: list[Recipient]) -> None:
        """Unconditional puts, as the adapter's batch write: a recipient already claimed or sent is
        written back as given."""
        with self._lock:
            stored = self.recipient_items.setdefault(mailing_id, {})
            for r in recipients:
                stored[r.email] = _cut(r)

    def recipients(self, mailing_id: str, state: str | None = None) -> Iterator[Recipient]:
        with self._lock:  # read when iteration starts, as the adapter's query
            stored = self.recipient_items.get(mailing_id, {})
            found = [stored[email] for email in sorted(stored)]
        yield from _read_all(r for r in found if state is None or r.state == state)

    def move_recipient(self, mailing_id: str, email: str, from_state: str, to_state: str, **attrs: Any) -> bool:
        with self._lock:
            current = self.recipient_items.get(mailing_id, {}).get(email)
            if current is None or current.state != from_state:
                return False
            changes = {name: value for name, value in attrs.items() if value is not None}
            self.recipient_items[mailing_id][email] = _cut(replace(current, state=to_state, **changes))
            return True

    def progress(self, mailing_id: str) -> Progress:
        progress = Progress()
        with self._lock:
            for r in self.recipient_items.get(mailing_id, {}).values():
                state = r.state or "pending"
                progress.counts[state] = progress.counts.get(state, 0) + 1
        return progress

    # ---- unsubscribe and activity ------------------------------------------------------------
    def unsubscribe(self, email: str, at: datetime) -> bool:
        with self._lock:
            if email in self.unsubscribed:
                return False
            self.unsubscribed[email] = datetime.fromisoformat(iso(at))
            return True

    def is_unsubscribed(self, email: str) -> bool:
        return email in self.unsubscribed

    def touch_activity(self, user_id: str, email: str, day: date) -> bool:
        today = day.isoformat()
        with self._lock:
            current = self.activity.get(user_id)
            if current is None or current[1] < today:
                self.activity[user_id] = (email, today)
                return True
            if current[0] != email:  # a new address on an older day: the address moves, never the day
                self.activity[user_id] = (email, current[1])
                return True
            return False

    def active_since(self, day: date) -> Iterator[tuple[str, str]]:
        since = day.isoformat()
        with self._lock:
            found = sorted((f"{last}#{user_id}", user_id, email) for user_id, (email, last) in self.activity.items())
        for sort_key, user_id, email in found:
            if sort_key >= since:
                yield user_id, email
