"""Tamper alarms reach the platform operator (GET /v1/operator/alarms, every tenant, newest first,
paginated; nobody else), and an entry read through the API says whether it is verified, pending or
altered (``integrity``)."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.services.tamper_alarms import TamperAlarm
from tests.support.bodies import sale_body
from tests.support.operators import operator_account
from tests.support.users import member, signed_up_account

pytestmark = pytest.mark.functional


@pytest.fixture
def world(api, stack):
    shop = signed_up_account(api, stack)
    other = signed_up_account(api, stack)
    return api, {"admin": shop, "seller": member(api, stack, shop.tenant_id, shop.token, "seller"),
                 "other": other, "operator": operator_account(api)}


def _raise(tenant_id: str, chain: str, seq: int | None, reason: str = "modified") -> TamperAlarm:
    from chalicelib import bootstrap

    alarm = TamperAlarm(tenant_id, chain, seq, reason, f"test {uuid.uuid4().hex[:8]}", "stream:journal",
                        evidence=uuid.uuid4().hex)
    assert bootstrap.container().tamper_alarms.raise_alarm(alarm) is True
    return alarm


def _all_alarms(client) -> list[dict]:
    found, cursor = [], None
    while True:
        reply = client.get("/v1/operator/alarms?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert reply.status == 200, reply
        found += reply.json["alarms"]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return found


def test_the_operator_sees_alarms_of_every_tenant_newest_first_and_paginated(world):
    api, people = world
    first = _raise(people["admin"].tenant_id, "test.sales.R1", 3)
    second = _raise(people["other"].tenant_id, "events", None, "truncated")
    listed = _all_alarms(api.with_token(people["operator"].token))
    mine = [a for a in listed if a["alarm_id"] in (first.alarm_id, second.alarm_id)]
    assert [a["alarm_id"] for a in mine] == [second.alarm_id, first.alarm_id]  # newest first
    assert mine[1] | {"raised_at": "x"} == {
        "alarm_id": first.alarm_id, "tenant_id": people["admin"].tenant_id, "chain": "test.sales.R1", "seq": 3,
        "reason": "modified", "detail": first.detail, "source": "stream:journal", "raised_at": "x"}
    assert mine[0]["seq"] is None and mine[0]["tenant_id"] == people["other"].tenant_id
    assert [a["raised_at"] for a in listed] == sorted((a["raised_at"] for a in listed), reverse=True)


def test_a_repeated_alarm_is_listed_once(world):
    from chalicelib import bootstrap

    api, people = world
    alarm = _raise(people["admin"].tenant_id, "test.sales.R1", 1)
    assert bootstrap.container().tamper_alarms.raise_alarm(alarm) is False
    listed = _all_alarms(api.with_token(people["operator"].token))
    assert [a["alarm_id"] for a in listed].count(alarm.alarm_id) == 1


def test_only_the_operator_lists_alarms(world):
    api, people = world
    alarm = _raise(people["admin"].tenant_id, "test.sales.R1", 2)
    for who in ("admin", "seller", "other"):
        reply = api.with_token(people[who].token).get("/v1/operator/alarms")
        assert reply.status == 403 and reply.json["permission"] == "alarms.read", (who, reply)
        assert alarm.alarm_id.encode() not in reply.body
    assert api.with_token(None).get("/v1/operator/alarms").status == 401
    assert api.with_token(people["operator"].token).get("/v1/operator/alarms?cursor=%%%").status == 422


def test_an_entry_says_pending_until_verified_and_altered_once_an_alarm_names_it(world):
    api, people = world
    tenant = people["admin"].tenant_id
    client = api.with_token(people["admin"].token)
    for _ in range(3):
        assert client.post(f"/v1/tenants/{tenant}/sales", sale_body()).status == 201
    entry = f"/v1/tenants/{tenant}/entries/test.sales.R1"
    assert client.get(f"{entry}/2").json["integrity"] == "pending"  # no signed checkpoint yet
    assert client.post(f"/v1/tenants/{tenant}/checkpoints", {"chain": "test.sales.R1"}).status == 201
    assert client.get(f"{entry}/2").json["integrity"] in ("pending", "verified")
    _raise(tenant, "test.sales.R1", 2)
    assert [client.get(f"{entry}/{seq}").json["integrity"] for seq in (2, 3)] == ["altered", "altered"]
    assert client.get(f"{entry}/1").json["integrity"] in ("pending", "verified")  # before the alarmed seq
    # another tenant's chain of the same name is untouched
    other = api.with_token(people["other"].token)
    assert other.post(f"/v1/tenants/{people['other'].tenant_id}/sales", sale_body()).status == 201
    assert other.get(f"/v1/tenants/{people['other'].tenant_id}/entries/test.sales.R1/1").json["integrity"] == \
        "pending"


def test_an_alarm_record_planted_in_the_ops_table_does_not_silence_the_alarm(world):
    """Decision 0032, on the embedded stack: whoever can write to the ops table stores an alarm's
    record before changing an entry (its id is computed from what the stream shows); the alarm is
    announced all the same, to the operator and on the entry, saying a record it did not write
    stood in its place."""
    from chalicelib import bootstrap
    from chalicelib.services.tamper_alarms import FORGED_NOTE

    api, people = world
    tenant = people["admin"].tenant_id
    client = api.with_token(people["admin"].token)
    for _ in range(2):
        assert client.post(f"/v1/tenants/{tenant}/sales", sale_body()).status == 201
    alarm = TamperAlarm(tenant, "test.sales.R1", 2, "modified", "seq 2: changed", "stream:journal",
                        evidence=uuid.uuid4().hex)
    ops = bootstrap.container().ops_store
    assert ops.put_once(f"ALARM#{tenant}", alarm.alarm_id, {
        "tenant_id": tenant, "chain": alarm.chain, "seq": 2, "reason": "modified", "detail": "-",
        "source": alarm.source, "evidence": alarm.evidence, "alarm_id": alarm.alarm_id,
        "raised_at": "2026-01-01T00:00:00.000000Z", "proof_key": "local:write-proof:0000000000000000",
        "proof_mac": "A" * 43 + "="})
    assert bootstrap.container().tamper_alarms.raise_alarm(alarm) is True
    listed = [a for a in _all_alarms(api.with_token(people["operator"].token)) if a["alarm_id"] == alarm.alarm_id]
    assert len(listed) == 1 and listed[0]["detail"].startswith(FORGED_NOTE), listed
    assert client.get(f"/v1/tenants/{tenant}/entries/test.sales.R1/2").json["integrity"] == "altered"
    events = client.get(f"/v1/tenants/{tenant}/events?limit=1000")
    assert events.status == 200, events
    assert any(e["kind"] == "tamper_alarm" and e["details"]["alarm_id"] == alarm.alarm_id
               and e["details"]["detail"].startswith(FORGED_NOTE) for e in events.json["events"]), events.json
    assert bootstrap.container().tamper_alarms.raise_alarm(alarm) is False  # our record answers for it now
