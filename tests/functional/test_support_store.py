"""One contract for the support stores (``DynamoSupportStore`` on the embedded stack, and
``InMemorySupportStore``): conditional writes and transactions refuse what they must, queries keep
their order and paging, values read back as the table stores them, and the DynamoDB adapter's
surprises are pinned so the fake keeps copying them. The tests marked DynamoDB only check the
stored item shape: items in the shape written before the pynamodb models (decision 0025) read and
write back unchanged."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from chalicelib.adapters.support_memory import InMemorySupportStore
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.support import Attachment, Mailing, Message, News, Recipient, Ticket

pytestmark = pytest.mark.functional

NOW = datetime(2026, 3, 10, 9, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "memory"])
def store(request):
    """Each store of the contract (the embedded stack is started only for the DynamoDB one)."""
    if request.param == "memory":
        return InMemorySupportStore()
    return request.getfixturevalue("container").support_store


def _ids() -> tuple[str, str, str]:
    hexa = uuid.uuid4().hex
    return "k" + hexa[:20], "t" + hexa[:20], "m" + hexa[:20]


# ---- DynamoDB only: the stored item shape (raw boto3 items) ----------------------------------------
def legacy_items(ticket_id: str, tenant_id: str, mailing_id: str, suffix: str) -> list[dict]:
    """One item per entity exactly as the hand-written converters stored them (before 0025)."""
    at = "2026-03-10T09:00:00.123Z"
    return [
        {"pk": f"TICKET#{ticket_id}", "sk": "TICKET", "type": "ticket", "ticket_id": ticket_id,
         "tenant_id": tenant_id, "requester_id": "u1", "requester_email": "a@b.be", "subject": "Till offline",
         "status": "open", "channel": "app", "created_at": at, "due_at": "2026-03-10T11:00:00.123Z",
         "updated_at": at, "version": 3, "company_name": "", "messages": 2,
         "gsi1pk": f"QUEUE#open-{suffix}", "gsi1sk": f"{at}#{ticket_id}"},
        {"pk": f"TICKET#{ticket_id}", "sk": f"MSG#{at}#m1", "type": "message", "ticket_id": ticket_id,
         "message_id": "m1", "author": "requester", "author_id": "u1", "author_email": "a@b.be", "body": "Help",
         "at": at, "channel": "app", "attachment": {"key": "att/k", "filename": "z.pdf",
                                                    "content_type": "application/pdf", "size": 1234}},
        {"pk": f"TENANT#{tenant_id}", "sk": f"TICKET#{at}#{ticket_id}", "type": "tenant_ticket",
         "ticket_id": ticket_id, "requester_id": "u1"},
        {"pk": f"MAILING#{mailing_id}", "sk": "MAILING", "type": "mailing", "mailing_id": mailing_id,
         "kind": "recent_users", "subject": "News", "body": "**Hi**", "status": "prepared", "created_by": "op",
         "created_at": at, "updated_at": at, "months": 3, "recipients": 1, "runs": 0,
         "gsi1pk": "MAILINGS", "gsi1sk": f"{at}#{mailing_id}"},
        {"pk": f"MAILING#{mailing_id}", "sk": "RCPT#c@d.be", "type": "recipient", "email": "c@d.be",
         "user_id": "u2", "state": "claimed", "claimed_at": at},
        {"pk": f"UNSUB#gone-{suffix}@x.be", "sk": "UNSUB", "type": "unsubscribed", "email": f"gone-{suffix}@x.be",
         "at": at},
        {"pk": f"ACTIVE#u-{suffix}", "sk": "ACTIVE", "type": "activity", "user_id": f"u-{suffix}",
         "email": "e@f.be", "last_active": "2999-01-0" + suffix[-1:].translate(str.maketrans("abcdef", "123456")),
         "gsi1pk": "ACTIVE", "gsi1sk": f"2999-01-01#u-{suffix}"},
        {"pk": "INBOUND#" + "0" * 56 + suffix[:8], "sk": "INBOUND", "type": "inbound", "ticket_id": ticket_id},
    ]


def _put_raw(container, item: dict) -> None:
    from boto3.dynamodb.types import TypeSerializer

    container.dynamodb.put_item(TableName=container.settings.table_name("support"),
                                Item={k: TypeSerializer().serialize(v) for k, v in item.items()})


def _get_raw(container, pk: str, sk: str) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    item = container.dynamodb.get_item(TableName=container.settings.table_name("support"),
                                       Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)["Item"]
    return {k: TypeDeserializer().deserialize(v) for k, v in item.items()}


def test_items_of_the_hand_written_adapter_read_through_the_models(container):
    ticket_id, tenant_id, mailing_id = _ids()
    suffix = uuid.uuid4().hex[:8]
    for item in legacy_items(ticket_id, tenant_id, mailing_id, suffix):
        _put_raw(container, item)
    store = container.support_store
    ticket = store.get_ticket(ticket_id)
    assert (ticket.version, ticket.messages, ticket.created_at, ticket.first_response_at) == (3, 2, NOW, None)
    [message] = store.messages(ticket_id)
    assert message.attachment == Attachment("att/k", "z.pdf", "application/pdf", 1234) and message.at == NOW
    assert store.tenant_tickets(tenant_id, requester_id="u1", limit=10, cursor=None) == ([ticket], None)
    assert store.queue(f"open-{suffix}", limit=10, cursor=None)[0] == [ticket]
    mailing = store.get_mailing(mailing_id)
    assert (mailing.kind, mailing.months, mailing.recipients, mailing.confirmed_at) == ("recent_users", 3, 1, None)
    assert list(store.recipients(mailing_id)) == [Recipient("c@d.be", "u2", "claimed", claimed_at=NOW)]
    assert {k: v for k, v in store.progress(mailing_id).counts.items() if v} == {"claimed": 1}
    assert store.is_unsubscribed(f"gone-{suffix}@x.be") and not store.is_unsubscribed(f"other-{suffix}@x.be")
    assert (f"u-{suffix}", "e@f.be") in set(store.active_since(date(2999, 1, 1)))
    # written back by the models: the same item, attribute for attribute
    before = _get_raw(container, f"TICKET#{ticket_id}", "TICKET")
    assert store.save_ticket(ticket, ticket)
    before["gsi1pk"] = "QUEUE#open"  # the queue of the ticket's status (the test's own queue above)
    assert _get_raw(container, f"TICKET#{ticket_id}", "TICKET") == before
    before = _get_raw(container, f"MAILING#{mailing_id}", "MAILING")
    assert store.save_mailing(mailing, expected=("prepared",))
    assert _get_raw(container, f"MAILING#{mailing_id}", "MAILING") == before


def test_items_written_through_the_models_have_the_hand_written_shape(container):
    ticket_id, tenant_id, mailing_id = _ids()
    suffix = uuid.uuid4().hex[:8]
    expected = legacy_items(ticket_id, tenant_id, mailing_id, suffix)
    store = container.support_store
    ticket = Ticket(ticket_id, tenant_id, "u1", "a@b.be", "Till offline", "open", "app", NOW,
                    NOW + timedelta(hours=2), NOW, version=3, messages=2)
    message = Message(ticket_id, "m1", "requester", "u1", "a@b.be", "Help", NOW,
                      attachment=Attachment("att/k", "z.pdf", "application/pdf", 1234))
    assert store.create_ticket(ticket, message)
    mailing = Mailing(mailing_id, "recent_users", "News", "**Hi**", "prepared", "op", NOW, NOW, months=3,
                      recipients=1)
    store.create_mailing(mailing)
    store.add_recipients(mailing_id, [Recipient("c@d.be", "u2")])
    assert store.move_recipient(mailing_id, "c@d.be", "pending", "claimed", claimed_at=NOW)
    stored = [_get_raw(container, i["pk"], i["sk"]) for i in expected[:5]]
    expected[0]["gsi1pk"] = "QUEUE#open"
    assert stored == expected[:5]


def test_models_of_two_table_names_do_not_share_a_table():
    from chalicelib.adapters.models.base import Endpoint
    from chalicelib.adapters.models.support import support_models

    a, b = support_models("stack-a-support", Endpoint("eu-west-1")), support_models("stack-b-support",
                                                                                     Endpoint("eu-west-1"))
    assert (a.Ticket.Meta.table_name, b.Ticket.Meta.table_name) == ("stack-a-support", "stack-b-support")
    assert a.Ticket is not b.Ticket and support_models("stack-a-support", Endpoint("eu-west-1")) is a


# ---- The contract: DynamoDB and in memory ------------------------------------------------------------
def _ticket(ticket_id: str, tenant_id: str, *, at: datetime = NOW, requester: str = "u1", status: str = "open",
            **changes) -> Ticket:
    return replace(Ticket(ticket_id, tenant_id, requester, f"{requester}@b.be", "S", status, "app", at,
                          at + timedelta(hours=2), at), **changes)


def _message(ticket_id: str, message_id: str, at: datetime = NOW, author: str = "requester") -> Message:
    return Message(ticket_id, message_id, author, "u1", "a@b.be", "Help", at)


def _new_ticket(store, tenant_id: str, **kwargs) -> Ticket:
    ticket = _ticket("k" + uuid.uuid4().hex[:20], tenant_id, **kwargs)
    assert store.create_ticket(ticket, _message(ticket.ticket_id, "m0", ticket.created_at))
    return ticket


def _pages(fetch, limit: int) -> list[list]:
    """Every page of a paged query, following its cursors to the end."""
    pages, cursor = [], None
    while True:
        items, cursor = fetch(limit=limit, cursor=cursor)
        pages.append(items)
        if cursor is None:
            return pages


def test_conditional_writes_and_transactions_refuse_what_they_must(store):
    ticket_id, tenant_id, mailing_id = _ids()
    ticket = Ticket(ticket_id, tenant_id, "u1", "a@b.be", "S", "open", "app", NOW, NOW + timedelta(hours=2), NOW)
    first = Message(ticket_id, "m1", "requester", "u1", "a@b.be", "Help", NOW)
    assert store.create_ticket(ticket, first)
    assert not store.create_ticket(ticket, first)  # a redelivered inbound mail
    reply = Message(ticket_id, "m2", "operator", "op", "op@x.be", "Done", NOW + timedelta(minutes=1))
    newer = replace(ticket, version=2, status="waiting", messages=2)
    assert store.save_ticket(ticket, newer, reply, dedupe=f"inbound/{ticket_id}")
    assert store.seen(f"inbound/{ticket_id}")
    assert not store.save_ticket(ticket, replace(ticket, version=2, subject="lost"))  # stale version
    assert [m.message_id for m in store.messages(ticket_id)] == ["m1", "m2"]
    again = Message(ticket_id, "m3", "requester", "u1", "a@b.be", "Again", NOW + timedelta(minutes=2))
    assert not store.save_ticket(newer, replace(newer, version=3), again, dedupe=f"inbound/{ticket_id}")
    assert store.get_ticket(ticket_id) == newer and store.message_exists(ticket_id, "m2")
    assert not store.message_exists(ticket_id, "m3")
    assert store.mark_overdue(ticket_id, NOW) and not store.mark_overdue(ticket_id, NOW)
    assert not store.mark_overdue("k" + "9" * 20, NOW)  # no such ticket
    assert not store.save_ticket(ticket, replace(ticket, ticket_id="k" + "8" * 20))  # no such ticket

    mailing = Mailing(mailing_id, "newsletter", "S", "B", "preparing", "op", NOW, NOW)
    store.create_mailing(mailing)
    with pytest.raises(Conflict):
        store.create_mailing(replace(mailing, subject="again"))
    assert store.get_mailing(mailing_id) == mailing
    assert not store.save_mailing(replace(mailing, status="sending"), expected=("prepared",))
    assert store.save_mailing(replace(mailing, status="prepared"), expected=("preparing", "prepared"))
    assert not store.save_mailing(replace(mailing, mailing_id="u" + "9" * 20), expected=("preparing",))  # none such
    store.add_recipients(mailing_id, [Recipient(f"r{i}@x.be", f"u{i}") for i in range(30)])
    assert store.move_recipient(mailing_id, "r1@x.be", "pending", "claimed", claimed_at=NOW)
    assert not store.move_recipient(mailing_id, "r1@x.be", "pending", "claimed", claimed_at=NOW)
    assert not store.move_recipient(mailing_id, "nobody@x.be", "pending", "claimed")
    assert {k: v for k, v in store.progress(mailing_id).counts.items() if v} == {"pending": 29, "claimed": 1}
    assert [r.email for r in store.recipients(mailing_id, "claimed")] == ["r1@x.be"]

    email = f"{uuid.uuid4().hex[:8]}@x.be"
    assert not store.is_unsubscribed(email)
    assert store.unsubscribe(email, NOW) and not store.unsubscribe(email, NOW)
    assert store.is_unsubscribed(email)
    user = uuid.uuid4().hex
    assert store.touch_activity(user, email, date(2026, 3, 10))
    assert not store.touch_activity(user, email, date(2026, 3, 10))
    assert store.touch_activity(user, email, date(2026, 3, 11))


def test_a_refused_transaction_writes_nothing(store):
    ticket_id, tenant_id, _ = _ids()
    ticket = _ticket(ticket_id, tenant_id)
    assert store.create_ticket(ticket, _message(ticket_id, "m1"))
    assert not store.create_ticket(ticket, _message(ticket_id, "m2", NOW + timedelta(seconds=1)))
    stale = Message(ticket_id, "m3", "requester", "u1", "a@b.be", "Late", NOW + timedelta(seconds=2))
    assert not store.save_ticket(replace(ticket, version=7), replace(ticket, version=8), stale, dedupe="in/stale")
    assert not store.seen("in/stale")
    applied = _message(ticket_id, "m4", NOW + timedelta(seconds=3))
    assert store.save_ticket(ticket, replace(ticket, version=2), applied, dedupe="in/" + ticket_id)
    twice = _message(ticket_id, "m5", NOW + timedelta(seconds=4))  # the same stored mail, read again
    assert not store.save_ticket(replace(ticket, version=2), replace(ticket, version=3), twice,
                                 dedupe="in/" + ticket_id)
    same = _message(ticket_id, "m4", NOW + timedelta(seconds=3))  # a message stored already
    assert not store.save_ticket(replace(ticket, version=2), replace(ticket, version=3), same)
    assert [m.message_id for m in store.messages(ticket_id)] == ["m1", "m4"]
    assert store.get_ticket(ticket_id).version == 2


def test_values_read_back_as_the_table_stores_them(store):
    """Times are cut to the millisecond and read back in UTC; a field stored as absent reads as its
    dataclass default."""
    ticket_id, tenant_id, mailing_id = _ids()
    brussels = timezone(timedelta(hours=2))
    at = datetime(2026, 3, 10, 11, 0, 0, 123456, tzinfo=brussels)  # NOW + 456 µs, in another zone
    ticket = _ticket(ticket_id, tenant_id, at=at)
    attachment = Attachment("att/k", "z.pdf", "application/pdf", 1234)
    assert store.create_ticket(ticket, replace(_message(ticket_id, "m1", at), attachment=attachment))
    stored = store.get_ticket(ticket_id)
    assert stored.created_at == NOW and stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.microsecond == 123000 and stored == replace(
        ticket, created_at=NOW, updated_at=NOW, due_at=NOW + timedelta(hours=2))
    [message] = store.messages(ticket_id)
    assert message.at == NOW and message.attachment == attachment and message.channel == "app"
    assert store.mark_overdue(ticket_id, at) and store.get_ticket(ticket_id).overdue_at.microsecond == 123000

    store.create_mailing(Mailing(mailing_id, "newsletter", "S", "B", "preparing", "op", at, at, runs=None))
    assert store.get_mailing(mailing_id).runs == 0 and store.get_mailing(mailing_id).created_at == NOW
    store.add_recipients(mailing_id, [Recipient("a@x.be", "u1")])
    assert store.move_recipient(mailing_id, "a@x.be", "pending", "claimed", claimed_at=at)
    assert [r.claimed_at for r in store.recipients(mailing_id)] == [NOW]

    news = News("n" + uuid.uuid4().hex[:20], "T", "B", "all", at, None, "op", at)
    store.put_news(news)
    assert store.get_news(news.news_id) == replace(news, visible_from=NOW, published_at=NOW)


def test_a_recipient_written_without_a_state_reads_as_pending_but_no_condition_sees_it(store):
    """``state`` None is stored absent: read and counted as pending, yet the ``pending`` filter
    and a move from ``pending`` compare the stored attribute and find none."""
    _, _, mailing_id = _ids()
    store.add_recipients(mailing_id, [Recipient("a@x.be", "u1", state=None), Recipient("b@x.be", "u2")])
    assert [r.state for r in store.recipients(mailing_id)] == ["pending", "pending"]
    assert store.progress(mailing_id).counts["pending"] == 2
    assert [r.email for r in store.recipients(mailing_id, "pending")] == ["b@x.be"]
    assert not store.move_recipient(mailing_id, "a@x.be", "pending", "claimed", claimed_at=NOW)


def test_a_tickets_messages_come_in_time_order_then_by_id(store):
    ticket_id, tenant_id, _ = _ids()
    ticket = _ticket(ticket_id, tenant_id)
    assert store.create_ticket(ticket, _message(ticket_id, "m-late", NOW + timedelta(minutes=5)))
    current = ticket
    for message_id, minutes in (("m-b", 1), ("m-first", 0), ("m-a", 1)):
        newer = replace(current, version=current.version + 1)
        assert store.save_ticket(current, newer, _message(ticket_id, message_id, NOW + timedelta(minutes=minutes)))
        current = newer
    assert [m.message_id for m in store.messages(ticket_id)] == ["m-first", "m-a", "m-b", "m-late"]
    assert store.messages("k" + "7" * 20) == []


def test_a_tenants_tickets_come_newest_first_a_page_at_a_time(store):
    _, tenant_id, _ = _ids()
    made = [_new_ticket(store, tenant_id, at=NOW + timedelta(minutes=i), requester=("u1", "u2")[i % 2])
            for i in range(5)]
    ids = [t.ticket_id for t in made]
    every = _pages(lambda **page: store.tenant_tickets(tenant_id, requester_id=None, **page), 2)
    assert [[t.ticket_id for t in page] for page in every] == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    mine = _pages(lambda **page: store.tenant_tickets(tenant_id, requester_id="u1", **page), 2)
    assert [[t.ticket_id for t in page] for page in mine] == [[ids[4], ids[2]], [ids[0]]]  # pages are filled

    # the tickets as they are now, listed where they were created
    resolved = replace(made[3], status="resolved", version=2, created_at=NOW + timedelta(days=9))
    assert store.save_ticket(made[3], resolved)
    page, _ = store.tenant_tickets(tenant_id, requester_id=None, limit=2, cursor=None)
    assert [t.ticket_id for t in page] == [ids[4], ids[3]] and page[1].status == "resolved"

    _, cursor = store.tenant_tickets(tenant_id, requester_id=None, limit=2, cursor=None)
    with pytest.raises(ValidationFailed):
        store.tenant_tickets(_ids()[1], requester_id=None, limit=2, cursor=cursor)  # another tenant's cursor
    with pytest.raises(ValidationFailed):
        store.tenant_tickets(tenant_id, requester_id=None, limit=2, cursor="not-a-cursor")
    status = f"q-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        _new_ticket(store, tenant_id, status=status)
    queue_cursor = store.queue(status, limit=1, cursor=None)[1]
    assert queue_cursor is not None
    with pytest.raises(ValidationFailed):  # a cursor of the queue names index keys
        store.tenant_tickets(tenant_id, requester_id=None, limit=2, cursor=queue_cursor)


def test_a_filtered_page_can_be_followed_by_an_empty_one(store):
    """A page evaluates ``limit`` keys before the requester filter: a full page has a cursor
    whenever keys follow it, even when none of them is the requester's."""
    _, tenant_id, _ = _ids()
    _new_ticket(store, tenant_id, at=NOW, requester="u2")
    newer = [_new_ticket(store, tenant_id, at=NOW + timedelta(minutes=i), requester="u1") for i in (1, 2)]
    pages = _pages(lambda **page: store.tenant_tickets(tenant_id, requester_id="u1", **page), 2)
    assert [[t.ticket_id for t in page] for page in pages] == [[newer[1].ticket_id, newer[0].ticket_id], []]


def test_the_queue_is_oldest_first_a_page_at_a_time_and_follows_the_status(store):
    _, tenant_id, _ = _ids()
    status, other = f"q-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    made = {i: _new_ticket(store, tenant_id, at=NOW + timedelta(minutes=i), status=status) for i in (2, 0, 3, 1, 4)}
    pages = _pages(lambda **page: store.queue(status, **page), 2)
    assert [[t.ticket_id for t in page] for page in pages] == [
        [made[0].ticket_id, made[1].ticket_id], [made[2].ticket_id, made[3].ticket_id], [made[4].ticket_id]]
    assert store.save_ticket(made[1], replace(made[1], status=other, version=2))
    assert [t.ticket_id for t in store.queue(status, limit=10, cursor=None)[0]] == [
        made[i].ticket_id for i in (0, 2, 3, 4)]
    assert store.queue(other, limit=10, cursor=None) == ([replace(made[1], status=other, version=2)], None)
    assert store.queue(f"q-{uuid.uuid4().hex[:8]}", limit=10, cursor=None) == ([], None)
    with pytest.raises(ValidationFailed):
        store.queue(status, limit=2, cursor="bm90IGpzb24")


def test_a_cursor_of_another_query_is_refused(store):
    """A cursor names the query's own key attributes and partition: one of another tenant, queue
    or listing is a 422, never a start key DynamoDB refuses (a 503) or a page of another list."""
    _, tenant_id, mailing_id = _ids()
    status = f"q-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        _new_ticket(store, tenant_id, status=status)
    store.create_mailing(Mailing(mailing_id, "newsletter", "S", "B", "preparing", "op", NOW, NOW))
    store.create_mailing(replace(store.get_mailing(mailing_id), mailing_id="u" + uuid.uuid4().hex[:20]))
    tenant_cursor = store.tenant_tickets(tenant_id, requester_id=None, limit=1, cursor=None)[1]
    queue_cursor = store.queue(status, limit=1, cursor=None)[1]
    mailing_cursor = store.mailings(limit=1, cursor=None)[1]
    assert None not in (tenant_cursor, queue_cursor, mailing_cursor)
    for refused in (
        lambda: store.queue(status, limit=5, cursor=tenant_cursor),
        lambda: store.queue(f"q-{uuid.uuid4().hex[:8]}", limit=5, cursor=queue_cursor),
        lambda: store.queue(status, limit=5, cursor=mailing_cursor),
        lambda: store.mailings(limit=5, cursor=queue_cursor),
        lambda: store.mailings(limit=5, cursor=tenant_cursor),
        lambda: store.tenant_tickets(tenant_id, requester_id=None, limit=5, cursor=queue_cursor),
    ):
        with pytest.raises(ValidationFailed):
            refused()


def test_tickets_awaiting_a_first_response_are_open_then_waiting_oldest_first(store):
    _, tenant_id, _ = _ids()
    later, earlier = NOW + timedelta(minutes=2), NOW + timedelta(minutes=1)
    waiting = _new_ticket(store, tenant_id, status="waiting", at=earlier)
    open_late = _new_ticket(store, tenant_id, status="open", at=later)
    open_early = _new_ticket(store, tenant_id, status="open", at=earlier)
    _new_ticket(store, tenant_id, status="resolved")  # resolved without an answer: not awaited
    answered = _new_ticket(store, tenant_id, status="open", first_response_at=NOW, first_response_minutes=3)
    ours = {t.ticket_id for t in (waiting, open_late, open_early, answered)}
    found = [t.ticket_id for t in store.awaiting_first_response() if t.ticket_id in ours]
    assert found == [open_early.ticket_id, open_late.ticket_id, waiting.ticket_id]


def test_mailings_come_newest_first_a_page_at_a_time(store):
    base = datetime(9000, 1, 1, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 10**6)
    ids = ["u" + uuid.uuid4().hex[:20] for _ in range(3)]
    for i, mailing_id in enumerate(ids):
        at = base + timedelta(seconds=i)
        store.create_mailing(Mailing(mailing_id, "newsletter", "S", "B", "preparing", "op", at, at))
    pages = _pages(store.mailings, 2)
    listed = [m for page in pages for m in page]
    assert all(len(page) == 2 for page in pages[:-1]) and len({m.mailing_id for m in listed}) == len(listed)
    order = [(m.created_at, m.mailing_id) for m in listed]
    assert order == sorted(order, reverse=True)
    assert [m.mailing_id for m in listed if m.mailing_id in ids] == ids[::-1]
    with pytest.raises(ValidationFailed):
        store.mailings(limit=2, cursor="%%%")


def test_news_are_created_once_and_replaced_when_withdrawn(store):
    news = News("n" + uuid.uuid4().hex[:20], "Title", "Body", "all", NOW, None, "op", NOW)
    store.put_news(news)
    with pytest.raises(Conflict):
        store.put_news(news)
    store.put_news(replace(news, withdrawn_at=NOW), new=False)
    assert store.get_news(news.news_id).withdrawn_at == NOW and store.get_news(news.news_id).visible_until is None
    assert news.news_id in {n.news_id for n in store.all_news()}
    unknown = replace(news, news_id="n" + uuid.uuid4().hex[:20])
    store.put_news(unknown, new=False)  # a replacement of news that do not exist creates them
    assert store.get_news(unknown.news_id) == unknown and store.get_news("n" + "0" * 20) is None


def test_all_news_come_in_the_order_of_their_ids(store):
    ids = ["n" + uuid.uuid4().hex[:20] for _ in range(4)]
    for i, news_id in enumerate(ids):
        store.put_news(News(news_id, "T", "B", "all", NOW + timedelta(days=i), None, "op", NOW + timedelta(days=i)))
    assert [n.news_id for n in store.all_news() if n.news_id in ids] == sorted(ids)


def test_recipients_come_by_address_and_are_read_when_iteration_starts(store):
    _, _, mailing_id = _ids()
    store.add_recipients(mailing_id, [Recipient(f"{name}@x.be", name) for name in ("c", "a", "d", "b")])
    assert [r.email for r in store.recipients(mailing_id)] == ["a@x.be", "b@x.be", "c@x.be", "d@x.be"]
    pending = store.recipients(mailing_id, "pending")
    assert store.move_recipient(mailing_id, "a@x.be", "pending", "claimed", claimed_at=NOW)  # before it starts
    assert next(pending).email == "b@x.be"
    assert store.move_recipient(mailing_id, "d@x.be", "pending", "sent", sent_at=NOW)  # after it started
    assert [r.email for r in pending] == ["c@x.be", "d@x.be"]
    assert [r.email for r in store.recipients(mailing_id, "pending")] == ["b@x.be", "c@x.be"]
    assert list(store.recipients("u" + "9" * 20)) == [] and store.progress("u" + "9" * 20).total == 0


def test_a_moved_recipient_keeps_the_attributes_it_is_not_given(store):
    """``None`` attributes are left as they are: a failed recipient moved back to pending keeps
    its error."""
    _, _, mailing_id = _ids()
    store.add_recipients(mailing_id, [Recipient("a@x.be", "u1")])
    assert store.move_recipient(mailing_id, "a@x.be", "pending", "claimed", claimed_at=NOW)
    assert store.move_recipient(mailing_id, "a@x.be", "claimed", "failed", error="mailbox full")
    assert store.move_recipient(mailing_id, "a@x.be", "failed", "pending", error=None, claimed_at=None)
    assert list(store.recipients(mailing_id)) == [
        Recipient("a@x.be", "u1", "pending", claimed_at=NOW, error="mailbox full")]


def test_adding_recipients_again_rewrites_them_whatever_their_state(store):
    """The preparation's batch write is unconditional: a recipient already claimed or sent is
    written back as given."""
    _, _, mailing_id = _ids()
    store.add_recipients(mailing_id, [Recipient("a@x.be", "u1"), Recipient("b@x.be", "u2")])
    assert store.move_recipient(mailing_id, "a@x.be", "pending", "sent", sent_at=NOW, message_id="id-1")
    store.add_recipients(mailing_id, [Recipient("a@x.be", "u1")])
    assert list(store.recipients(mailing_id)) == [Recipient("a@x.be", "u1"), Recipient("b@x.be", "u2")]
    assert {k: v for k, v in store.progress(mailing_id).counts.items() if v} == {"pending": 2}


def test_a_dedupe_key_is_recorded_only_with_a_message(store):
    ticket_id, tenant_id, _ = _ids()
    ticket = _ticket(ticket_id, tenant_id)
    assert store.create_ticket(ticket, _message(ticket_id, "m1"))
    assert store.save_ticket(ticket, replace(ticket, version=2), dedupe="in/" + ticket_id)
    assert not store.seen("in/" + ticket_id)


def test_marking_a_ticket_overdue_moves_its_version_so_a_stale_save_cannot_erase_the_mark(store):
    """A change saved from a ticket read before it was marked overdue is refused (the service
    retries from a fresh read), so the mark stays and the alarm mail goes out once. It used to
    save, erase ``overdue_at``, and let the next overdue scan mark and mail it again."""
    ticket_id, tenant_id, _ = _ids()
    ticket = _ticket(ticket_id, tenant_id)
    assert store.create_ticket(ticket, _message(ticket_id, "m1"))
    assert store.mark_overdue(ticket_id, NOW + timedelta(hours=3))
    marked = store.get_ticket(ticket_id)
    assert marked.version == 2 and marked.overdue_at == NOW + timedelta(hours=3)
    assert not store.save_ticket(ticket, replace(ticket, version=2, messages=2))  # read before the mark
    assert store.save_ticket(marked, replace(marked, version=3, messages=2))
    assert store.get_ticket(ticket_id).overdue_at == NOW + timedelta(hours=3)
    assert not store.mark_overdue(ticket_id, NOW + timedelta(hours=4))


def test_activity_is_written_once_a_day_and_a_new_address_never_moves_the_day_back(store):
    """A new address on an older day (a request answered late) moves the address, not the day:
    the user's last activity used to go back, and a "recent users" mailing could miss them."""
    user = "u-" + uuid.uuid4().hex
    day = date(2998, 3, 11)
    assert store.touch_activity(user, "a@x.be", day)
    assert not store.touch_activity(user, "a@x.be", day - timedelta(days=1))
    assert store.touch_activity(user, "b@x.be", day - timedelta(days=1))
    assert (user, "b@x.be") in set(store.active_since(day))
    assert (user, "a@x.be") not in set(store.active_since(day - timedelta(days=1)))
    assert not store.touch_activity(user, "b@x.be", day)  # same day, same address: no write
    others = ["u-" + uuid.uuid4().hex for _ in range(3)]
    for n, other in enumerate(others):
        assert store.touch_activity(other, f"{n}@x.be", date(2998, 4, 3 - n))
    assert [u for u, _ in store.active_since(date(2998, 4, 1)) if u in others] == others[::-1]
