"""Tenant settings over HTTP on the embedded stack: admin only, every bad field a 422 naming it
with nothing written, every change journaled, and time zone / cut-off frozen once a period is
closed (409)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.domain.calendar import business_day_of
from chalicelib.domain.records import parse_timestamp
from chalicelib.local.clock import MovingClock
from tests.support.bodies import sale_body
from tests.support.users import count_all, member, signed_up_account
from tests.unit.test_tenant_settings import WEEK, TenantSettingsStoreContract, week

pytestmark = pytest.mark.functional


def settings_path(tenant_id: str) -> str:
    return f"/v1/tenants/{tenant_id}/settings"


DEFAULTS = {"time_zone": "Europe/Brussels", "business_day_cutoff": "04:00", "opening_hours": None}


def stated(settings: dict) -> dict:
    """The settings as stated, without ``business_day`` (read off the clock: its own test)."""
    return {k: v for k, v in settings.items() if k != "business_day"}


def test_an_admin_changes_the_settings_and_the_change_is_journaled(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    assert stated(admin.get(settings_path(owner.tenant_id)).json) == DEFAULTS
    body = {"time_zone": "Europe/Paris", "business_day_cutoff": "05:30", "opening_hours": WEEK}
    reply = admin.put(settings_path(owner.tenant_id), body)
    assert reply.status == 200, reply
    assert stated(reply.json) == body
    assert stated(admin.get(settings_path(owner.tenant_id)).json) == body
    tenant = admin.get(f"/v1/tenants/{owner.tenant_id}").json
    assert (tenant["time_zone"], tenant["business_day_cutoff"], tenant["opening_hours"]) == (
        "Europe/Paris", "05:30", WEEK,
    )
    event = admin.get(f"/v1/tenants/{owner.tenant_id}/events").json["events"][-1]
    assert (event["kind"], event["actor"], event["training"]) == ("config_changed", owner.user_id, True)
    assert event["details"] == {
        "changed": ["time_zone", "business_day_cutoff", "opening_hours"],
        "before": DEFAULTS,
        "after": body,
    }


def test_a_partial_change_keeps_the_other_settings_and_null_clears_opening_hours(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    assert stated(admin.put(settings_path(owner.tenant_id), {"opening_hours": WEEK}).json) == {
        **DEFAULTS, "opening_hours": WEEK,
    }
    assert stated(admin.put(settings_path(owner.tenant_id), {"business_day_cutoff": "03:00"}).json) == {
        **DEFAULTS, "business_day_cutoff": "03:00", "opening_hours": WEEK,
    }
    assert stated(admin.put(settings_path(owner.tenant_id), {"opening_hours": None}).json) == {
        **DEFAULTS, "business_day_cutoff": "03:00",
    }
    events = admin.get(f"/v1/tenants/{owner.tenant_id}/events").json["events"]
    changes = [e["details"]["changed"] for e in events if e["kind"] == "config_changed"]
    assert changes == [["opening_hours"], ["business_day_cutoff"], ["opening_hours"]]


def test_a_change_to_the_current_values_writes_nothing(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    before = count_all(stack)
    reply = admin.put(settings_path(owner.tenant_id), {"time_zone": "Europe/Brussels", "business_day_cutoff": "04:00"})
    assert reply.status == 200 and stated(reply.json) == DEFAULTS
    assert count_all(stack) == before


@pytest.fixture(scope="module")
def members(stack):
    """One tenant with a member of every other role, and another tenant's admin."""
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    owner = signed_up_account(api, stack)
    tokens = {role: member(api, stack, owner.tenant_id, owner.token, role).token
              for role in ("accountant", "manager", "seller", "auditor")}
    tokens["outsider"] = signed_up_account(api, stack).token
    return api, owner, tokens


@pytest.mark.parametrize("role", ["accountant", "manager", "seller", "auditor"])
def test_only_an_admin_changes_settings_every_member_reads_them(members, stack, role):
    api, owner, tokens = members
    before = count_all(stack)
    reply = api.with_token(tokens[role]).put(settings_path(owner.tenant_id), {"time_zone": "Europe/Paris"})
    assert reply.status == 403, reply
    assert (reply.json["permission"], reply.json["role"]) == ("tenant.configure", role)
    assert count_all(stack) == before
    assert api.with_token(tokens[role]).get(settings_path(owner.tenant_id)).json["time_zone"] == "Europe/Brussels"


def test_a_member_of_another_tenant_gets_tenant_not_found(members, stack):
    api, owner, tokens = members
    outsider = api.with_token(tokens["outsider"])
    before = count_all(stack)
    for reply in (outsider.put(settings_path(owner.tenant_id), {"time_zone": "Europe/Paris"}),
                  outsider.get(settings_path(owner.tenant_id))):
        assert reply.status == 404 and reply.json["detail"] == "tenant not found", reply
    assert count_all(stack) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"timezone": "Europe/Paris"}, "timezone"),
        ({"time_zone": "Europe/London"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"business_day_cutoff": "12:00"}, "business_day_cutoff"),
        ({"business_day_cutoff": "4h"}, "business_day_cutoff"),
        ({"business_day_cutoff": 4.5}, "business_day_cutoff"),
        ({"opening_hours": "09:00-18:00"}, "opening_hours"),
        ({"opening_hours": {"mon": ["09:00-18:00"]}}, "opening_hours.tue"),
        ({"opening_hours": week(mon=["9-18"])}, "opening_hours.mon.0"),
        ({"opening_hours": week(fri=["09:00-12:00", "11:00-18:00"])}, "opening_hours.fri.1"),
        ({"opening_hours": week(sat=["22:00-02:00"])}, "opening_hours.sat.0"),
        # a valid field beside a bad one is not written either
        ({"time_zone": "Europe/Paris", "opening_hours": week(sun=["x"])}, "opening_hours.sun.0"),
    ],
)
def test_every_bad_field_is_a_422_naming_it_and_writes_nothing(api, stack, body, field):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    before = count_all(stack)
    reply = admin.put(settings_path(owner.tenant_id), body)
    assert reply.status == 422, reply
    assert reply.json["field"] == field, reply
    assert count_all(stack) == before
    assert stated(admin.get(settings_path(owner.tenant_id)).json) == DEFAULTS


def test_time_zone_and_cutoff_are_frozen_once_a_period_is_closed(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    path = settings_path(owner.tenant_id)
    # While nothing is closed the cut-off can change (sales already recorded or not).
    assert admin.put(path, {"business_day_cutoff": "05:00"}).status == 200
    # GIVEN a sale today and, two days later, its business day closed
    clock = MovingClock(datetime.now(UTC))
    stack.container(clock=clock)
    sale = admin.post(f"/v1/tenants/{owner.tenant_id}/sales", sale_body())
    assert sale.status == 201, sale
    day = business_day_of(parse_timestamp(sale.json["recorded_at"]), "Europe/Brussels", time(5, 0))
    clock.set(datetime.now(UTC) + timedelta(days=2))
    closed = admin.post(f"/v1/tenants/{owner.tenant_id}/closures",
                        {"chain": "test.sales.R1", "kind": "day", "period": day.isoformat()})
    assert closed.status == 201, closed
    # THEN time zone and cut-off are refused with a 409 naming them, and nothing is written
    before = count_all(stack)
    for body, field in (
        ({"time_zone": "Europe/Paris"}, "time_zone"),
        ({"business_day_cutoff": "04:00"}, "business_day_cutoff"),
        ({"opening_hours": WEEK, "business_day_cutoff": "06:00"}, "business_day_cutoff"),
    ):
        reply = admin.put(path, body)
        assert reply.status == 409 and reply.json["field"] == field, reply
        assert day.isoformat() in reply.json["detail"]
    assert count_all(stack) == before
    assert stated(admin.get(path).json) == {**DEFAULTS, "business_day_cutoff": "05:00"}
    # AND opening hours still change (restating the frozen values is fine)
    reply = admin.put(path, {"opening_hours": WEEK, "time_zone": "Europe/Brussels"})
    assert reply.status == 200 and reply.json["opening_hours"] == WEEK


class TestDynamoTenantSettings(TenantSettingsStoreContract):
    @pytest.fixture
    def store(self, container):
        return container.accounts_store


def test_a_tenant_item_written_before_settings_existed_loads_and_changes(container):
    from boto3.dynamodb.types import TypeSerializer

    from tests.unit.test_accounts_store_contract import Signup
    from tests.unit.test_tenant_settings import tenant_item

    s = Signup().create(container.accounts_store)
    legacy = {k: v for k, v in tenant_item(s.tenant, admin_count=1).items()
              if v is not None and k not in ("time_zone", "business_day_cutoff")}
    container.dynamodb.put_item(TableName=container.settings.table_name("accounts"),
                                Item={k: TypeSerializer().serialize(v) for k, v in legacy.items()})
    store = container.accounts_store
    loaded = store.get_tenant(s.tenant.tenant_id)
    assert (loaded.time_zone, loaded.business_day_cutoff, loaded.opening_hours) == ("Europe/Brussels", time(4), None)
    saved = store.update_tenant_settings(loaded, loaded.with_settings(time_zone="Europe/Paris"))
    assert store.get_tenant(s.tenant.tenant_id) == saved and saved.time_zone == "Europe/Paris"


@pytest.mark.parametrize(("utc", "cutoff", "day"), [
    ("2026-12-06T00:30:00Z", "04:00", "2026-12-05"),  # 01:30 in Brussels: before the cut-off, still the 5th
    ("2026-12-06T03:30:00Z", "04:00", "2026-12-06"),  # 04:30 in Brussels
    ("2026-12-06T03:30:00Z", "05:00", "2026-12-05"),  # 04:30, but the day turns at 05:00
    ("2026-07-01T01:59:00Z", "00:00", "2026-07-01"),  # 03:59 in summer time, midnight cut-off
])
def test_the_settings_say_the_tenant_s_business_day_now(api, stack, utc, cutoff, day):
    """What a client (and docs/user-guide.md) needs to date a journal entry or an export's end:
    a UTC date can be a day ahead of the tenant's business day (422 "in the future")."""
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    assert admin.put(settings_path(owner.tenant_id), {"business_day_cutoff": cutoff}).status == 200
    stack.container(clock=MovingClock(datetime.fromisoformat(utc.replace("Z", "+00:00"))))
    assert admin.get(settings_path(owner.tenant_id)).json["business_day"] == day
