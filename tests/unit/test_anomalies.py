"""Each anomaly rule on an in-memory event journal: it fires when it should, once, is listed,
counted and mailed (integrity anomalies to the operator too), and stays quiet otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.services.anomalies import AnomalyConfig, AnomalyService, Rules
from chalicelib.services.sealing import ChainWriter

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 11:00 in Brussels


@dataclass
class Shop:
    time_zone: str = "Europe/Brussels"
    business_day_cutoff: time = time(4, 0)
    opening_hours: tuple[time, time] | None = None


class Mailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to, subject, text, html=None):
        self.sent.append((to, subject, text))


class World:
    def __init__(self, shop: Shop | None = None) -> None:
        self.now = T0
        self.store = InMemoryChainStore()
        self.writer = ChainWriter(self.store, clock=lambda: self.now)
        self.ops = InMemoryOpsStore()
        self.mailer = Mailer()
        self.counted = 0
        self.service = AnomalyService(
            self.ops, self.store, rules=Rules(AnomalyConfig()),
            tenant_of=lambda tenant_id: shop,
            admin_emails=lambda tenant_id: [f"admin@{tenant_id}.example"],
            operator_emails=lambda: ["ops@scelle.example"],
            mailer=lambda: self.mailer, on_anomaly=self._count,
        )

    def _count(self) -> None:
        self.counted += 1

    def event(self, kind, *, actor=None, after=timedelta(seconds=30), tenant="shop", **details):
        self.now += after
        data = {"kind": kind, "actor": actor, "details": details}  # any kind, as other modules write them
        record = self.writer.append(tenant, "events", "event", data, training=False)
        return self.service.on_event(record)

    def listed(self, tenant="shop"):
        return self.service.list(tenant)[0]


def test_five_failed_sign_ins_for_one_account_within_ten_minutes_are_an_anomaly():
    world = World()
    found = [world.event("auth.signin_failed", email="ann@shop.example", reason="bad password") for _ in range(5)]
    assert [len(f) for f in found] == [0, 0, 0, 0, 1]
    anomaly = found[-1][0]
    assert (anomaly.rule, anomaly.details["subject_kind"]) == ("signin_burst", "account")
    assert anomaly.details["failures"] == 5
    # a sixth failure in the same hour is the same anomaly, filed once
    assert world.event("signin_failed", email="ann@shop.example") == []
    assert len(world.listed()) == 1 and world.counted == 1
    assert world.mailer.sent[0][0] == "admin@shop.example"


def test_failed_sign_ins_from_one_address_across_accounts_are_an_anomaly():
    world = World()
    for i in range(5):
        found = world.event("signin_failed", email=f"user{i}@shop.example", ip="203.0.113.7")
    assert [(a.rule, a.details["subject"]) for a in found] == [("signin_burst", "203.0.113.7")]


def test_an_aggregated_sign_in_failure_event_counts_as_many_failures_as_it_summarises():
    # GIVEN the first failed sign-in of a window sealed at once, then the window's summary (0011)
    world = World()
    assert world.event("signin_failed", part="first", count=1, email="ann@shop.example") == []
    found = world.event("signin_failed", part="summary", count=40, distinct_emails=2,
                        emails=[{"email": "ann@shop.example", "count": 38}, {"email": "bob@shop.example", "count": 2}])
    # THEN the summary is a burst for the account it names with enough failures, not for the other
    assert [(a.rule, a.details["subject"], a.details["failures"]) for a in found] == [
        ("signin_burst", "ann@shop.example", 39)]


def test_failed_sign_ins_spread_over_more_than_the_window_are_not_an_anomaly():
    world = World()
    for _ in range(6):
        assert world.event("signin_failed", email="ann@shop.example", after=timedelta(minutes=3)) == []


def test_reversals_above_a_fifth_of_the_days_sales_are_an_anomaly():
    world = World(Shop())
    for _ in range(4):
        world.event("sale_recorded", actor="s1", total_cents=1000)
    assert world.event("entry_reversed", actor="m1", total_cents=500) == []  # one reversal: below the minimum
    found = world.event("entry_reversed", actor="m1", total_cents=500)
    assert [a.rule for a in found] == ["reversal_share"]
    assert (found[0].details["sold"], found[0].details["reversed"], found[0].details["by"]) == (4000, 1000, "amount")
    assert found[0].details["business_day"] == "2026-03-02"


def test_small_reversals_are_not_an_anomaly():
    world = World(Shop())
    for _ in range(10):
        world.event("sale_recorded", actor="s1", total_cents=1000)
    world.event("entry_reversed", total_cents=500)
    assert world.event("entry_reversed", total_cents=500) == []


def test_a_sale_outside_opening_hours_in_the_tenants_time_zone_is_an_anomaly():
    world = World(Shop(opening_hours=(time(9, 0), time(19, 0))))
    assert world.event("sale_recorded", actor="s1", total_cents=100) == []  # 11:00 in Brussels
    late = world.event("sale_recorded", actor="s1", total_cents=100, after=timedelta(hours=9))  # 20:00
    assert [a.rule for a in late] == ["after_hours"]
    assert "20:" in late[0].summary and late[0].details["seller"] == "s1"
    # another late sale the same business day is the same anomaly
    assert world.event("sale_recorded", actor="s1", total_cents=100, after=timedelta(minutes=30)) == []


def test_without_configured_hours_a_sale_at_night_is_an_anomaly():
    world = World(Shop())
    assert [a.rule for a in world.event("sale_recorded", after=timedelta(hours=13))] == ["after_hours"]  # 00:00


def test_an_export_by_someone_who_never_exported_is_an_anomaly_once():
    world = World()
    first = world.event("export_requested", actor="acct-1", scope="2026")
    assert [(a.rule, a.key) for a in first] == [("first_export", "acct-1")]
    assert world.event("export_requested", actor="acct-1", scope="2026-Q1") == []
    assert [a.key for a in world.event("export_requested", actor="acct-2")] == ["acct-2"]


@pytest.mark.parametrize("kind", ["tamper_alarm", "verification_failed"])
def test_an_integrity_failure_is_a_critical_anomaly_mailed_to_the_admin_and_the_operator(kind):
    world = World()
    found = world.event(kind, chain="prod.sales.R1", seq=7, reason="modified", detail="seq 7 was modified")
    assert [(a.rule, a.severity) for a in found] == [("integrity", "critical")]
    assert sorted(to for to, _, _ in world.mailer.sent) == ["admin@shop.example", "ops@scelle.example"]
    assert "ALERT" in world.mailer.sent[0][1]


def test_the_same_integrity_failure_seen_by_both_verifiers_is_one_anomaly():
    world = World()
    world.event("tamper_alarm", chain="prod.journal", seq=3, reason="rollback")
    assert world.event("verification_failed", chain="prod.journal", first_bad_seq=3, reason="rollback") == []


def test_platform_anomalies_go_to_the_operator_only():
    world = World()
    for _ in range(5):
        found = world.event("signin_failed", tenant="_platform", email="nobody@x.example")
    assert found and {to for to, _, _ in world.mailer.sent} == {"ops@scelle.example"}


def test_anomalies_are_listed_newest_first_page_by_page():
    world = World()
    world.event("export_requested", actor="a")
    world.event("export_requested", actor="b", after=timedelta(hours=1))
    world.event("export_requested", actor="c", after=timedelta(hours=1))
    page, cursor = world.service.list("shop", limit=2)
    assert [i["key"] for i in page] == ["c", "b"]
    rest, end = world.service.list("shop", limit=2, after=cursor)
    assert ([i["key"] for i in rest], end) == (["a"], None)


def test_anomaly_events_and_ordinary_events_are_not_anomalies():
    world = World()
    assert world.event("anomaly", rule="first_export") == []
    assert world.event("signin_succeeded", email="ann@shop.example") == []
    assert world.listed() == []


def test_a_mail_outage_does_not_lose_the_anomaly():
    world = World()

    class Down:
        def send(self, *args, **kwargs):
            raise ConnectionError("SES down")

    world.service._mailer = lambda: Down()
    assert len(world.event("export_requested", actor="a")) == 1
    assert len(world.listed()) == 1


def test_reversal_amounts_are_read_from_the_ledger_when_the_event_names_only_the_entry():
    world = World(Shop())
    world.service._entry_amount = lambda tenant, chain, seq: {7: 3000, 8: 200}[seq]
    for _ in range(4):
        world.event("sale_recorded", total_cents=2500)
    world.event("entry_reversed", chain="prod.sales.R1", seq=8, original_seq=2)
    found = world.event("entry_reversed", chain="prod.sales.R1", seq=7, original_seq=1)
    assert [(a.rule, a.details["reversed"], a.details["by"]) for a in found] == [("reversal_share", 3200, "amount")]
