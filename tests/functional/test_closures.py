"""Closures: daily, monthly and yearly, by hand and by the hourly schedule, in the tenant's time
zone, with a perpetual grand total that never resets."""

from __future__ import annotations

import pytest

from chalicelib.domain.closures import check_rollup
from chalicelib.domain.records import chain_key
from tests.support.ledger import at, ledger_on, sale_request
from tests.support.users import signed_up_account

pytestmark = pytest.mark.functional
CHAIN = "prod.sales.R1"


def _closures(container, tenant_id, chain=CHAIN):
    return [r for r in container.journal_store.scan(chain_key(tenant_id, chain)) if r.type == "closure"]


def test_the_schedule_closes_each_ended_day_then_the_month_then_the_year_and_the_chain_verifies(container, tmp_path):
    t = ledger_on(container, tmp_path, start=at("2025-12-30", 10))
    # GIVEN sales on 30 and 31 December 2025 and on 2 January 2026
    for day, amounts in (("2025-12-30", [1000, 250]), ("2025-12-31", [700]), ("2026-01-02", [1234, 66])):
        t.clock.set(at(day, 10))
        for cents in amounts:
            t.ledger.record_sale(t.caller, sale_request(t.clock, cents), None)
    # WHEN the hourly schedule runs on 3 January 2026
    t.clock.set(at("2026-01-03", 12))
    written = t.ledger.close_due_periods(t.tenant.tenant_id, CHAIN)
    # THEN three days, December and 2025 are closed, in that order
    assert [(r.data["kind"], r.data["period"]) for r in written] == [
        ("day", "2025-12-30"), ("day", "2025-12-31"), ("day", "2026-01-02"), ("month", "2025-12"), ("year", "2025"),
    ]
    days = {r.data["period"]: r.data for r in written if r.data["kind"] == "day"}
    month = next(r.data for r in written if r.data["kind"] == "month")
    year = next(r.data for r in written if r.data["kind"] == "year")
    assert days["2025-12-30"]["period_grand_total"] == 1250
    assert month["period_grand_total"] == 1950 == year["period_grand_total"]
    check_rollup(month, [days["2025-12-30"], days["2025-12-31"]])
    # AND the perpetual grand total carries over the year boundary
    assert days["2026-01-02"]["perpetual_grand_total"] == 1950 + 1300
    # AND running it again closes nothing more
    assert t.ledger.close_due_periods(t.tenant.tenant_id, CHAIN) == []
    report = t.verification.verify(t.tenant.tenant_id, CHAIN)
    assert report.ok, report


def test_a_day_is_closed_in_the_tenant_time_zone_with_its_cutoff(container, tmp_path):
    # 02:30 in Brussels on 11 March is before the 04:00 cut-off: it belongs to 10 March.
    t = ledger_on(container, tmp_path, start=at("2026-03-10", 12))
    t.ledger.record_sale(t.caller, sale_request(t.clock, 500), None)
    t.clock.set(at("2026-03-11", 1))  # 01:00 UTC = 02:00 Brussels
    t.ledger.record_sale(t.caller, sale_request(t.clock, 300), None)
    t.clock.set(at("2026-03-11", 12))
    closure = t.ledger.close_period(t.caller, t.tenant.tenant_id, CHAIN, "day", "2026-03-10")
    assert closure.data["period_grand_total"] == 800
    assert closure.data["entry_count"] == 2
    assert closure.data["time_zone"] == "Europe/Brussels"


def test_a_period_is_closed_once(container, tmp_path):
    t = ledger_on(container, tmp_path, start=at("2026-03-10", 12))
    t.ledger.record_sale(t.caller, sale_request(t.clock, 500), None)
    t.clock.set(at("2026-03-11", 12))
    t.ledger.close_period(t.caller, t.tenant.tenant_id, CHAIN, "day", "2026-03-10")
    from chalicelib.domain.errors import Conflict

    with pytest.raises(Conflict) as err:
        t.ledger.close_period(t.caller, t.tenant.tenant_id, CHAIN, "day", "2026-03-10")
    assert err.value.field == "period"


@pytest.fixture
def tenant_with_a_sale(api, stack):
    account = signed_up_account(api, stack)
    client = api.with_token(account.token)
    from tests.support.bodies import sale_body

    assert client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).status == 201
    return account, client


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"chain": "test.sales.R1", "kind": "day", "period": "2026-13-01"}, 422, "period"),
        ({"chain": "test.sales.R1", "kind": "day", "period": "2026-11"}, 422, "period"),
        ({"chain": "test.sales.R1", "kind": "week", "period": "2026-11-23"}, 422, "kind"),
        ({"chain": "test.sales.R9", "kind": "day", "period": "2026-11-23"}, 404, "chain"),
        ({"chain": "test.sales.R1", "kind": "day", "period": "2099-01-01"}, 422, "period"),
        ({"chain": "test.sales.R1", "kind": "day", "period": "2000-01-01"}, 422, "period"),
    ],
    ids=["no such date", "month given for a day", "unknown kind", "unknown chain", "in the future",
         "before the company existed"],
)
def test_a_bad_closure_request_is_a_problem_naming_the_field_and_writes_nothing(
    tenant_with_a_sale, container, body, status, field
):
    account, client = tenant_with_a_sale
    reply = client.post(f"/v1/tenants/{account.tenant_id}/closures", body)
    assert reply.status == status, reply
    assert reply.json["field"] == field
    assert container.journal_store.head(chain_key(account.tenant_id, "test.sales.R1")).seq == 1


def test_the_day_still_running_is_a_409_saying_when_it_can_be_closed(tenant_with_a_sale, container):
    from datetime import UTC, datetime

    from chalicelib.domain.calendar import business_day_of

    account, client = tenant_with_a_sale
    tenant = container.tenants.get(account.tenant_id)
    today = business_day_of(datetime.now(UTC), tenant.time_zone, tenant.business_day_cutoff).isoformat()
    reply = client.post(f"/v1/tenants/{account.tenant_id}/closures",
                        {"chain": "test.sales.R1", "kind": "day", "period": today})
    assert reply.status == 409, reply
    assert reply.json["field"] == "period" and "still open" in reply.json["detail"]
    assert container.journal_store.head(chain_key(account.tenant_id, "test.sales.R1")).seq == 1


def test_closures_are_listed_for_readers(tenant_with_a_sale):
    account, client = tenant_with_a_sale
    reply = client.get(f"/v1/tenants/{account.tenant_id}/closures?chain=test.sales.R1")
    assert reply.status == 200 and reply.json == {"closures": []}


def test_a_manager_reads_the_registers_closures_and_checkpoints_but_not_the_journals(api, stack, tenant_with_a_sale):
    """closure.read: the Z report's checkpoint fingerprint and the register's past closures, for the
    manager who closes its days; the journal's stay behind ledger.read."""
    from tests.functional.test_ledger_api import journal_entry
    from tests.support.users import member

    account, admin = tenant_with_a_sale
    t = account.tenant_id
    assert admin.post(f"/v1/tenants/{t}/journal-entries", {"entries": [journal_entry()]}).status == 201
    assert admin.post(f"/v1/tenants/{t}/checkpoints", {"chain": "test.sales.R1"}).status == 201
    manager = api.with_token(member(api, stack, t, account.token, "manager").token)
    checkpoints = manager.get(f"/v1/tenants/{t}/checkpoints?chain=test.sales.R1")
    assert checkpoints.status == 200, checkpoints
    assert [c["size"] for c in checkpoints.json["checkpoints"]] == [1] and checkpoints.json["checkpoints"][0]["root"]
    assert manager.get(f"/v1/tenants/{t}/closures?chain=test.sales.R1").json == {"closures": []}
    for path in ("checkpoints", "closures"):
        journal = manager.get(f"/v1/tenants/{t}/{path}?chain=test.journal")
        assert journal.status == 403 and journal.json["field"] == "chain", journal
        assert manager.get(f"/v1/tenants/{t}/{path}?chain=events").status in (403, 404)
        assert admin.get(f"/v1/tenants/{t}/{path}?chain=test.journal").status == 200
    # a seller (who closes nothing) and another tenant's admin are refused
    seller = api.with_token(member(api, stack, t, account.token, "seller").token)
    refused = seller.get(f"/v1/tenants/{t}/checkpoints?chain=test.sales.R1")
    assert refused.status == 403 and refused.json["permission"] == "closure.read"
    assert seller.get(f"/v1/tenants/{t}/closures?chain=test.sales.R1").status == 403
    stranger = api.with_token(signed_up_account(api, stack).token)
    for path in ("checkpoints", "closures"):
        assert stranger.get(f"/v1/tenants/{t}/{path}?chain=test.sales.R1").status == 404


def test_a_manager_closes_the_registers_days_but_not_the_journals(api, stack, tenant_with_a_sale, container):
    """A manager reads neither the journal's entries nor its closures: closing its day, which seals
    the day's totals and answers with them, is refused as well (403 on chain, nothing written),
    before any check of the period; an accountant may."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.domain.calendar import business_day_of
    from tests.functional.test_ledger_api import journal_entry
    from tests.support.users import member

    account, admin = tenant_with_a_sale
    t = account.tenant_id
    assert admin.post(f"/v1/tenants/{t}/journal-entries", {"entries": [journal_entry()]}).status == 201
    journal = chain_key(t, "test.journal")
    tenant = container.tenants.get(t)
    today = business_day_of(datetime.now(UTC), tenant.time_zone, tenant.business_day_cutoff)
    manager = api.with_token(member(api, stack, t, account.token, "manager").token)
    for period in (today - timedelta(days=1), today, today + timedelta(days=1)):
        body = {"chain": "test.journal", "kind": "day", "period": period.isoformat()}
        refused = manager.post(f"/v1/tenants/{t}/closures", body)
        assert refused.status == 403 and refused.json["field"] == "chain", refused
        assert container.journal_store.head(journal).seq == 1
    # the register's day: the manager's to close (still running here: 409, not 403)
    running = manager.post(f"/v1/tenants/{t}/closures",
                           {"chain": "test.sales.R1", "kind": "day", "period": today.isoformat()})
    assert running.status == 409 and running.json["field"] == "period", running
    accountant = api.with_token(member(api, stack, t, account.token, "accountant").token)
    allowed = accountant.post(f"/v1/tenants/{t}/closures",
                              {"chain": "test.journal", "kind": "day", "period": today.isoformat()})
    assert allowed.status == 409 and allowed.json["field"] == "period", allowed


def test_a_closure_sealed_with_wrong_totals_is_found_by_the_next_resumed_range(container, tmp_path, monkeypatch):
    """A closing job with a bug seals a closure whose totals are off by a cent: correctly hashed,
    proven and signed. The hourly pass resumes from the checkpoint before it; it must still find
    it (decision 0031: before, only a verification from seq 1 did), on DynamoDB items."""
    from chalicelib.domain import closures as closure_rules

    t = ledger_on(container, tmp_path, start=at("2026-03-10", 9))
    tenant = t.tenant.tenant_id
    for cents in (1000, 250):
        t.ledger.record_sale(t.caller, sale_request(t.clock, cents), None)
    t.clock.set(at("2026-03-11", 9))
    t.ledger.close_period(t.caller, tenant, CHAIN, "day", "2026-03-10")  # seq 3, correct
    t.ledger.record_sale(t.caller, sale_request(t.clock, 700), None)
    assert t.checkpoints.checkpoint(tenant, CHAIN).size == 4  # the pass before proved this far
    right = closure_rules.closure_payload

    def off_by_a_cent(*args, **kwargs):
        payload = right(*args, **kwargs)
        payload["period_grand_total"] += 1
        payload["perpetual_grand_total"] += 1
        return payload

    monkeypatch.setattr(closure_rules, "closure_payload", off_by_a_cent)
    t.clock.set(at("2026-03-12", 9))
    assert t.ledger.close_period(t.caller, tenant, CHAIN, "day", "2026-03-11").seq == 5
    monkeypatch.setattr(closure_rules, "closure_payload", right)
    assert t.checkpoints.checkpoint(tenant, CHAIN).size == 5
    resumed = t.verification.verify(tenant, CHAIN, first_seq=5)
    assert (resumed.ok, resumed.reason, resumed.first_bad_seq) == (False, "closure_totals", 5)
    assert "field period_grand_total expected 700, found 701" in resumed.detail
    assert t.verification.verify(tenant, CHAIN).first_bad_seq == 5  # the full check agrees


def test_an_earlier_day_is_not_sealed_after_a_later_one_closed_by_a_concurrent_run(container, tmp_path, monkeypatch):
    """Found by the fault-injection soak (seed 24573): a manual close of an empty day (2 March)
    was being written when the schedule closed 3 March; the manual close, retried at the next seq
    with the latest closure it had read before, sealed 2 March after 3 March (closures out of order,
    the chain no longer verified). It must follow what is sealed when it is written: refused."""
    from chalicelib.domain.errors import Conflict

    t = ledger_on(container, tmp_path, start=at("2026-03-03", 9))  # the company exists from 2 March
    tenant = t.tenant.tenant_id
    t.ledger.record_sale(t.caller, sale_request(t.clock, 500), None)
    t.clock.set(at("2026-03-05", 9))
    store = container.journal_store
    real_commit, raced = store.commit, []

    def commit(records, claims=(), **kwargs):
        if not raced and records[0].type == "closure" and records[0].data["period"] == "2026-03-02":
            raced.append(t.ledger.close_period(t.caller, tenant, CHAIN, "day", "2026-03-03"))  # the race
        return real_commit(records, claims, **kwargs)

    monkeypatch.setattr(store, "commit", commit)
    with pytest.raises(Conflict) as refused:
        t.ledger.close_period(t.caller, tenant, CHAIN, "day", "2026-03-02")
    assert "does not come after the last closed one (2026-03-03)" in refused.value.detail
    assert [(r.data["period"], r.seq) for r in _closures(container, tenant)] == [("2026-03-03", raced[0].seq)]
    assert t.verification.verify(tenant, CHAIN).ok
