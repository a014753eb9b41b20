"""Tenant settings: the pure validation (every bad field named), the service rules (journaled,
no-op writes nothing, time zone and cut-off frozen once a period is closed), the store contract,
the after-hours anomaly rule on the tenant's own opening hours, and platform operators."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.adapters.accounts_memory import InMemoryAccountsStore
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.tenant import OpeningHours, Tenant, parse_settings_change
from tests.unit.accounts_world import PASSWORD, world
from tests.unit.test_accounts_store_contract import NOW, Signup


def _tenant_model():
    from chalicelib.adapters.models.accounts import accounts_models
    from chalicelib.adapters.models.base import Endpoint

    return accounts_models("unit-accounts", Endpoint("eu-west-1")).Tenant


def tenant_item(tenant: Tenant, admin_count: int) -> dict:
    """The stored tenant item (the accounts model's), as plain values."""
    from boto3.dynamodb.types import TypeDeserializer

    raw = _tenant_model().of(tenant, admin_count).serialize()
    return {k: TypeDeserializer().deserialize(v) for k, v in raw.items()}


def tenant_from(item: dict) -> Tenant:
    """A stored tenant item read back through the accounts model."""
    from boto3.dynamodb.types import TypeSerializer

    return _tenant_model().from_raw_data({k: TypeSerializer().serialize(v) for k, v in item.items()}).to_domain()

WEEK = {
    "mon": ["09:00-12:30", "13:30-19:00"],
    "tue": ["09:00-19:00"],
    "wed": ["09:00-19:00"],
    "thu": ["09:00-19:00"],
    "fri": ["18:00-24:00"],
    "sat": ["00:00-02:00", "10:00-18:00"],
    "sun": None,
}


def week(**days):
    return {**WEEK, **days}


# ---- the pure validation ---------------------------------------------------------------------
def test_a_full_change_is_parsed():
    change = parse_settings_change(
        {"time_zone": "Europe/Paris", "business_day_cutoff": "05:30", "opening_hours": WEEK}
    )
    assert change["time_zone"] == "Europe/Paris"
    assert change["business_day_cutoff"] == time(5, 30)
    hours = change["opening_hours"]
    assert hours.windows(0) == ((time(9), time(12, 30)), (time(13, 30), time(19)))
    assert hours.windows(4) == ((time(18), time.max),)
    assert hours.windows(6) == ()
    assert hours.to_json() == WEEK
    assert OpeningHours.from_json(hours.to_json()) == hours


def test_only_the_fields_given_are_changed_and_null_opening_hours_means_unknown():
    assert parse_settings_change({"opening_hours": None}) == {"opening_hours": None}
    assert parse_settings_change({"business_day_cutoff": "00:00"}) == {"business_day_cutoff": time(0, 0)}


def test_an_empty_list_is_a_closed_day_like_null():
    assert OpeningHours.from_json(week(sun=[])) == OpeningHours.from_json(WEEK)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "body"),
        ({"timezone": "Europe/Paris"}, "timezone"),
        ({"time_zone": "Europe/London"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"time_zone": 1}, "time_zone"),
        ({"business_day_cutoff": "12:00"}, "business_day_cutoff"),
        ({"business_day_cutoff": "4:00"}, "business_day_cutoff"),
        ({"business_day_cutoff": "04:60"}, "business_day_cutoff"),
        ({"business_day_cutoff": "04:00:00"}, "business_day_cutoff"),
        ({"business_day_cutoff": 4}, "business_day_cutoff"),
        ({"business_day_cutoff": None}, "business_day_cutoff"),
        ({"opening_hours": "09:00-18:00"}, "opening_hours"),
        ({"opening_hours": ["09:00-18:00"]}, "opening_hours"),
        ({"opening_hours": {"mon": ["09:00-18:00"]}}, "opening_hours.tue"),
        ({"opening_hours": week(monday=["09:00-18:00"])}, "opening_hours.monday"),
        ({"opening_hours": week(mon="09:00-18:00")}, "opening_hours.mon"),
        ({"opening_hours": week(mon=["08:00-09:00"] * 7)}, "opening_hours.mon"),
        ({"opening_hours": week(tue=["9:00-18:00"])}, "opening_hours.tue.0"),
        ({"opening_hours": week(tue=[900])}, "opening_hours.tue.0"),
        ({"opening_hours": week(tue=["09:00-18:00", "18:00-25:00"])}, "opening_hours.tue.1"),
        ({"opening_hours": week(tue=["24:00-24:00"])}, "opening_hours.tue.0"),
        ({"opening_hours": week(tue=["09:00-24:30"])}, "opening_hours.tue.0"),
        ({"opening_hours": week(wed=["18:00-09:00"])}, "opening_hours.wed.0"),
        ({"opening_hours": week(wed=["10:00-10:00"])}, "opening_hours.wed.0"),
        ({"opening_hours": week(thu=["09:00-13:00", "12:00-18:00"])}, "opening_hours.thu.1"),
        ({"opening_hours": week(thu=["14:00-18:00", "09:00-12:00"])}, "opening_hours.thu.1"),
    ],
)
def test_every_bad_field_is_refused_by_name(raw, field):
    with pytest.raises(ValidationFailed) as refused:
        parse_settings_change(raw)
    assert refused.value.field == field, refused.value.detail


def test_opening_hours_are_local_wall_clock_windows_per_weekday():
    hours = OpeningHours.from_json(WEEK)
    monday = datetime(2026, 3, 2)
    assert hours.is_open(monday.replace(hour=9))
    assert not hours.is_open(monday.replace(hour=12, minute=45))  # lunch
    assert not hours.is_open(monday.replace(hour=19))  # end excluded
    assert hours.is_open(datetime(2026, 3, 6, 23, 59, 59))  # Friday until 24:00
    assert hours.is_open(datetime(2026, 3, 7, 1, 0))  # and on Saturday night
    assert not hours.is_open(datetime(2026, 3, 8, 12, 0))  # Sunday: closed
    assert hours.describe(0) == "09:00-12:30, 13:30-19:00" and hours.describe(6) == "closed"


# ---- the tenant record -----------------------------------------------------------------------
def test_a_tenant_without_opening_hours_has_none_and_old_items_still_load():
    tenant = Tenant("t1", "Co", "BE", "0403170701", "BE0403170701", created_at=NOW)
    assert tenant.opening_hours is None
    item = tenant_item(tenant, admin_count=1)
    legacy = {k: v for k, v in item.items() if v is not None}  # as stored before opening hours existed
    assert "opening_hours" not in legacy
    assert tenant_from(legacy) == tenant
    del legacy["business_day_cutoff"], legacy["time_zone"]
    assert tenant_from(legacy).settings() == {
        "time_zone": "Europe/Brussels",
        "business_day_cutoff": "04:00",
        "opening_hours": None,
    }


def test_opening_hours_survive_the_item_round_trip():
    tenant = Tenant("t1", "Co", "FR", "732829320", "FR44732829320", created_at=NOW,
                    opening_hours=OpeningHours.from_json(WEEK))
    item = tenant_item(tenant, admin_count=1)
    assert item["opening_hours"]["sun"] == []
    assert tenant_from(item) == tenant


# ---- the store contract (DynamoDB: tests/functional/test_tenant_settings.py) -------------------
class TenantSettingsStoreContract:
    @pytest.fixture
    def store(self):
        raise NotImplementedError

    def test_can_change_settings_when_nobody_changed_them_meanwhile(self, store):
        s = Signup().create(store)
        before = store.get_tenant(s.tenant.tenant_id)
        after = before.with_settings(time_zone="Europe/Paris", opening_hours=OpeningHours.from_json(WEEK))
        saved = store.update_tenant_settings(before, after)
        assert saved == after == store.get_tenant(before.tenant_id)
        cleared = store.update_tenant_settings(saved, saved.with_settings(opening_hours=None))
        assert cleared.opening_hours is None and store.get_tenant(before.tenant_id) == cleared

    def test_a_change_based_on_stale_settings_is_refused_and_writes_nothing(self, store):
        s = Signup().create(store)
        before = store.get_tenant(s.tenant.tenant_id)
        first = store.update_tenant_settings(before, before.with_settings(opening_hours=OpeningHours.from_json(WEEK)))
        for stale in (
            before.with_settings(business_day_cutoff=time(6, 0)),
            before.with_settings(time_zone="Europe/Paris"),
        ):
            with pytest.raises(Conflict) as refused:
                store.update_tenant_settings(before, stale)
            assert refused.value.field == "settings"
        assert store.get_tenant(before.tenant_id) == first


class TestInMemoryTenantSettings(TenantSettingsStoreContract):
    @pytest.fixture
    def store(self):
        return InMemoryAccountsStore()


# ---- the service -----------------------------------------------------------------------------
def admin_of(w, email="owner@example.com"):
    result = w.signup(email)
    return result.tenant.tenant_id, w.caller(result.tenant.tenant_id, email)


def no_closures(tenant_id):
    return []


def test_a_change_is_stored_and_journaled_with_before_and_after():
    w = world()
    tenant_id, admin = admin_of(w)
    saved = w.tenants.configure(admin, {"business_day_cutoff": "06:00", "opening_hours": WEEK},
                                closed_periods=no_closures)
    assert saved.business_day_cutoff == time(6, 0) and w.tenants.get(tenant_id) == saved
    event = w.journal.events[-1]
    assert (event["kind"], event["actor"], event["training"]) == ("config_changed", admin.user_id, True)
    assert event["details"] == {
        "changed": ["business_day_cutoff", "opening_hours"],
        "before": {"business_day_cutoff": "04:00", "opening_hours": None},
        "after": {"business_day_cutoff": "06:00", "opening_hours": WEEK},
    }


def test_a_change_that_changes_nothing_writes_and_journals_nothing():
    w = world()
    tenant_id, admin = admin_of(w)
    events = len(w.journal.events)
    same = w.tenants.configure(admin, {"time_zone": "Europe/Brussels", "business_day_cutoff": "04:00"},
                               closed_periods=no_closures)
    assert same == w.tenants.get(tenant_id) and len(w.journal.events) == events


def test_a_bad_change_writes_nothing():
    w = world()
    tenant_id, admin = admin_of(w)
    before, events = w.tenants.get(tenant_id), len(w.journal.events)
    with pytest.raises(ValidationFailed) as refused:
        w.tenants.configure(admin, {"time_zone": "Europe/Paris", "opening_hours": week(sat=["x"])},
                            closed_periods=no_closures)
    assert refused.value.field == "opening_hours.sat.0"
    assert w.tenants.get(tenant_id) == before and len(w.journal.events) == events


@pytest.mark.parametrize(
    ("change", "field"),
    [({"time_zone": "Europe/Paris"}, "time_zone"), ({"business_day_cutoff": "05:00"}, "business_day_cutoff")],
)
def test_time_zone_and_cutoff_are_frozen_once_any_chain_has_closed_a_period(change, field):
    w = world()
    tenant_id, admin = admin_of(w)
    before, events = w.tenants.get(tenant_id), len(w.journal.events)
    asked = []

    def closed(tid):
        asked.append(tid)
        return [("test.sales.R1", "day", "2025-02-28")]

    with pytest.raises(Conflict) as refused:
        w.tenants.configure(admin, change, closed_periods=closed)
    assert refused.value.field == field and "2025-02-28" in refused.value.detail
    assert asked == [tenant_id]
    assert w.tenants.get(tenant_id) == before and len(w.journal.events) == events
    # opening hours, and a "change" to the current values, stay possible
    w.tenants.configure(admin, {"opening_hours": WEEK, "time_zone": "Europe/Brussels"}, closed_periods=closed)
    assert w.tenants.get(tenant_id).opening_hours == OpeningHours.from_json(WEEK)


def test_closures_are_not_looked_up_when_only_opening_hours_change():
    w = world()
    _, admin = admin_of(w)

    def closed(tid):
        raise AssertionError("not needed")

    w.tenants.configure(admin, {"opening_hours": WEEK}, closed_periods=closed)


def test_a_concurrent_change_is_a_conflict_naming_the_field():
    w = world()
    tenant_id, admin = admin_of(w)

    def closed(tid):  # another admin changes the cut-off while this change is being checked
        current = w.store.get_tenant(tid)
        w.store.update_tenant_settings(current, current.with_settings(business_day_cutoff=time(3, 0)))
        return []

    with pytest.raises(Conflict) as refused:
        w.tenants.configure(admin, {"time_zone": "Europe/Paris"}, closed_periods=closed)
    assert refused.value.field == "time_zone"
    assert w.tenants.get(tenant_id).time_zone == "Europe/Brussels"


# ---- the after-hours anomaly rule on the tenant's opening hours --------------------------------
def _anomaly_world(tenant):
    from tests.unit.test_anomalies import World

    return World(tenant)


def _tenant(opening_hours=None):
    return Tenant("shop", "Co", "BE", "0403170701", "BE0403170701", created_at=NOW,
                  opening_hours=OpeningHours.from_json(opening_hours) if opening_hours else None)


def test_the_after_hours_rule_uses_the_tenants_opening_hours_when_set():
    # T0 of test_anomalies is Monday 2 March 2026, 10:00 UTC = 11:00 in Brussels.
    shop = _anomaly_world(_tenant(WEEK))
    assert shop.event("sale_recorded", actor="s1", total_cents=100) == []  # 11:00: open
    lunch = shop.event("sale_recorded", actor="s1", total_cents=100, after=timedelta(hours=2))  # 13:00
    assert [a.rule for a in lunch] == ["after_hours"]
    assert lunch[0].details["opening_hours"] == "Mon 09:00-12:30, 13:30-19:00"
    assert "13:0" in lunch[0].summary


def test_a_late_sale_inside_the_tenants_hours_is_not_an_anomaly_though_the_default_would_flag_it():
    friday_night = datetime(2026, 3, 6, 22, 30, tzinfo=UTC)  # 23:30 in Brussels, open until 24:00
    own = _anomaly_world(_tenant(WEEK))
    default = _anomaly_world(_tenant())
    for w in (own, default):
        w.now = friday_night
    assert own.event("sale_recorded", total_cents=100, after=timedelta(0)) == []
    assert [a.rule for a in default.event("sale_recorded", total_cents=100, after=timedelta(0))] == ["after_hours"]


def test_a_sale_on_a_closed_day_is_an_anomaly():
    shop = _anomaly_world(_tenant(WEEK))
    shop.now = datetime(2026, 3, 8, 11, 0, tzinfo=UTC)  # Sunday noon in Brussels
    found = shop.event("sale_recorded", total_cents=100, after=timedelta(0))
    assert [a.details["opening_hours"] for a in found] == ["Sun closed"]


def test_without_opening_hours_the_default_window_applies():
    shop = _anomaly_world(_tenant())
    assert shop.event("sale_recorded", total_cents=100, after=timedelta(hours=2)) == []  # Monday 13:00
    found = shop.event("sale_recorded", total_cents=100, after=timedelta(hours=10))  # 23:00
    assert [a.details["opening_hours"] for a in found] == ["06:00-22:00"]


# ---- platform operators ----------------------------------------------------------------------
def test_adding_an_operator_creates_an_account_with_a_generated_password_once():
    w = world()
    added = w.accounts.add_operator("Ops@Scelle.example")
    assert added.outcome == "created" and added.user.operator and added.user.email == "ops@scelle.example"
    w.accounts.password_policy.check(added.password)
    assert w.signin.sign_in("ops@scelle.example", added.password).access_token
    again = w.accounts.add_operator("ops@scelle.example")
    assert (again.outcome, again.password, again.user.user_id) == ("already", None, added.user.user_id)
    assert [u.email for u in w.accounts.operators()] == ["ops@scelle.example"]


def test_an_existing_account_that_belongs_to_no_tenant_is_flagged_and_keeps_its_password():
    w = world()
    tenant_id, admin = admin_of(w)
    w.join(tenant_id, "owner@example.com", "former@example.com", "seller")
    former = w.store.user_id_for_email("former@example.com")
    w.accounts.update_member(admin, former, None, True)  # disabled: no longer an active member
    added = w.accounts.add_operator("former@example.com")
    assert (added.outcome, added.password, added.user.user_id) == ("flagged", None, former)
    assert w.store.get_user(former).operator
    assert w.signin.sign_in("former@example.com", PASSWORD).access_token


def test_an_active_member_or_an_unverified_account_is_not_made_an_operator():
    w = world()
    w.signup("owner@example.com")
    w.signup("new@example.com", number="0202239951", verify=False)
    for email in ("owner@example.com", "new@example.com"):
        with pytest.raises(Conflict) as refused:
            w.accounts.add_operator(email)
        assert refused.value.field == "email"
        assert not w.store.get_user(w.store.user_id_for_email(email)).operator
    assert w.accounts.operators() == []
