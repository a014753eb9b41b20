"""Each way the first write path sealed twice, lost track or raised a false alarm (issue 12),
replayed with a scripted fault on the in-memory world of the simulation. Every test here failed
before decision 0012."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.records import chain_key
from chalicelib.services.events import EVENTS_CHAIN
from chalicelib.services.ledger import SYSTEM
from tests.simulation.sim import TENANT, Config, SimulatedCrash, World, _sale_request


@pytest.fixture
def world():
    return World(seed=1, config=Config(fault_rate=0.0))


def _sales(world, chain="prod.sales.R1"):
    return [r for r in world.journal.inner.scan(chain_key(TENANT, chain)) if r.type == "sale"]


def _events(world):
    return list(world.events_store.inner.scan(chain_key(TENANT, EVENTS_CHAIN)))


def _sale(world, number=1, register="R1", till=1):
    return _sale_request(world, till, number, register)


@pytest.mark.parametrize("fault", ["apply_lose", "resend", "crash_after"])
def test_a_sale_whose_answer_was_lost_is_sealed_once_and_the_retry_gets_the_first_answer(world, fault):
    request = _sale(world)
    world.plan.script = [("journal.commit", fault)]
    caller = world.caller(1)
    first = None
    try:
        first = world.ledger.record_sale(caller, request, None)
    except (Unavailable, SimulatedCrash):
        pass
    retry = world.ledger.record_sale(caller, request, None)
    assert len(_sales(world)) == 1
    assert retry["seq"] == 1 and retry["hash"] == _sales(world)[0].hash
    if first is not None:  # "resend": the SDK's resend met our own write, which is success
        assert first["hash"] == retry["hash"]


def test_the_same_receipt_id_under_another_idempotency_key_or_none_is_recorded_once(world):
    request = _sale(world)
    caller = world.caller(1)
    a = world.ledger.record_sale(caller, request, "key-a")
    world.clock.advance(8 * 86400)  # past any idempotency window
    b = world.ledger.record_sale(caller, request, "key-b")
    c = world.ledger.record_sale(world.caller(2), request, None)
    assert a["seq"] == b["seq"] == c["seq"] == 1
    assert len(_sales(world)) == 1


def test_the_same_receipt_id_with_another_content_is_a_409_naming_the_field(world):
    request = _sale(world)
    world.ledger.record_sale(world.caller(1), request, None)
    changed = {**request, "lines": [{**request["lines"][0], "description": "Croissant"}]}
    with pytest.raises(Conflict) as err:
        world.ledger.record_sale(world.caller(1), changed, None)
    assert err.value.field == "client_receipt_id"
    assert len(_sales(world)) == 1


def test_an_idempotency_key_reused_for_another_receipt_is_a_409_on_the_key(world):
    world.ledger.record_sale(world.caller(1), _sale(world, 1), "K1")
    with pytest.raises(Conflict) as err:
        world.ledger.record_sale(world.caller(1), _sale(world, 2), "K1")
    assert err.value.field == "Idempotency-Key"
    assert len(_sales(world)) == 1


def test_a_failing_inline_checkpoint_does_not_fail_a_sealed_sale(world):
    world.plan.script = [("kms.sign", "fail")]
    answers = [world.ledger.record_sale(world.caller(1), _sale(world, n), None) for n in range(1, 8)]
    assert [a["seq"] for a in answers] == list(range(1, 8))  # seq 7 signs inline (every 7) and fails


@pytest.mark.parametrize("fault", ["apply_lose", "resend", "crash_after"])
def test_a_journal_batch_retried_after_a_lost_answer_is_sealed_once(world, fault):
    entries = [{"journal_code": "OD", "piece_ref": "P1", "piece_date": world.clock().date().isoformat(),
                "label": "Op", "lines": [{"account": "512000", "debit": "10.00"},
                                         {"account": "530000", "credit": "10.00"}]}]
    world.plan.script = [("journal.commit", fault)]
    try:  # a lost answer: the writer reads its seq back and answers; a crash: the client retries
        world.ledger.record_journal(world.caller(1), entries, "batch-1")
    except SimulatedCrash:
        assert fault == "crash_after"
    again = world.ledger.record_journal(world.caller(1), entries, "batch-1")
    assert [e["seq"] for e in again["entries"]] == [1]
    assert len(list(world.journal.inner.scan(chain_key(TENANT, "prod.journal")))) == 1
    with pytest.raises(Conflict):
        world.ledger.record_journal(world.caller(1), [{**entries[0], "label": "Other"}], "batch-1")


def test_a_reversal_interrupted_after_its_seal_answers_the_reversal_on_retry_not_409_forever(world):
    sale = world.ledger.record_sale(world.caller(1), _sale(world), None)
    world.clock.advance(60)
    world.plan.script = [("journal.commit", "crash_after")]
    with pytest.raises(SimulatedCrash):
        world.ledger.reverse(world.caller(1), sale["chain"], sale["seq"], "Erreur", None)
    retry = world.ledger.reverse(world.caller(1), sale["chain"], sale["seq"], "Erreur", None)
    assert retry["type"] == "reversal" and retry["seq"] == 2
    with pytest.raises(Conflict) as err:
        world.ledger.reverse(world.caller(1), sale["chain"], sale["seq"], "Another reason", None)
    assert "by entry 2" in err.value.detail


def test_a_reversal_interrupted_before_its_seal_can_be_made_on_retry(world):
    sale = world.ledger.record_sale(world.caller(1), _sale(world), None)
    world.plan.script = [("journal.commit", "crash_before")]
    with pytest.raises(SimulatedCrash):
        world.ledger.reverse(world.caller(1), sale["chain"], sale["seq"], "Erreur", None)
    assert world.ledger.reverse(world.caller(1), sale["chain"], sale["seq"], "Erreur", None)["seq"] == 2


def _day_ended(world):
    world.ledger.record_sale(world.caller(1), _sale(world), None)
    day = world.clock().date().isoformat()
    world.clock.advance(24 * 3600)  # the business day has ended (04:00 cut-off)
    return day


def test_a_closure_whose_lambda_died_after_sealing_is_not_sealed_again_by_the_next_run(world):
    day = _day_ended(world)
    world.plan.script = [("journal.commit", "crash_after")]
    with pytest.raises(SimulatedCrash):
        world.ledger.close_due_periods(TENANT, "prod.sales.R1")
    world.ledger.close_due_periods(TENANT, "prod.sales.R1")  # the schedule runs again
    closures = [r for r in world.journal.inner.scan(chain_key(TENANT, "prod.sales.R1")) if r.type == "closure"]
    assert [(c.data["kind"], c.data["period"]) for c in closures].count(("day", day)) == 1


def test_a_manual_close_racing_the_scheduled_one_closes_the_day_once(world):
    day = _day_ended(world)
    world.plan.script = [("journal.commit", "race")]
    world.plan.interleave = lambda: world.ledger.close_period(world.caller(2), TENANT, "prod.sales.R1", "day", day)
    world.ledger.close_due_periods(TENANT, "prod.sales.R1")  # loses to the manual close: no error
    closures = [r for r in world.journal.inner.scan(chain_key(TENANT, "prod.sales.R1")) if r.type == "closure"]
    assert [(c.data["kind"], c.data["period"]) for c in closures].count(("day", day)) == 1


@pytest.mark.parametrize("period, why", [("2026-03-05", "not started"), ("2026-02-20", "registered")])
def test_a_closure_of_a_future_period_or_before_the_company_existed_is_a_422(world, period, why):
    from chalicelib.domain.errors import ValidationFailed

    world.ledger.record_sale(world.caller(1), _sale(world), None)
    with pytest.raises(ValidationFailed) as err:
        world.ledger.close_period(world.caller(1), TENANT, "prod.sales.R1", "day", period)
    assert err.value.field == "period" and why in err.value.detail
    assert not [r for r in world.journal.inner.scan(chain_key(TENANT, "prod.sales.R1")) if r.type == "closure"]


def test_the_events_chain_continues_after_ttl_removed_every_item(world):
    for n in range(1, 4):
        world.ledger.record_sale(world.caller(1), _sale(world, n), None)
    world.deriver.catch_up(TENANT, ["prod.sales.R1"])
    before = _events(world)
    assert [e.seq for e in before] == [1, 2, 3]
    for e in before:  # thirty idle days: TTL removes them all
        world.events_store.inner.tamper_delete(e.chain_key, e.seq)
    world.clock.advance(31 * 86400)
    from chalicelib.services.events import EventJournal, event_writer

    journal = EventJournal(  # a new writer, as in a cold Lambda: nothing cached
        event_writer(world.events_store, clock=world.clock))
    event = journal.record(TENANT, "config_changed", actor="u-1")
    assert event.seq == 4 and event.prev_hash == before[-1].hash


def test_each_sealed_entry_gets_exactly_one_event_whatever_the_stream_delivers(world):
    for n in range(1, 6):
        world.ledger.record_sale(world.caller(1), _sale(world, n), None)
    records = list(world.journal.inner.scan(chain_key(TENANT, "prod.sales.R1")))
    world.plan.script = [("events.commit", "crash_after")]
    with pytest.raises(SimulatedCrash):  # the deriver dies right after sealing 1..2
        world.deriver.derive(records[:2])
    world.deriver.derive([records[3], records[1]])  # out of order, with a gap: read from the journal
    world.deriver.derive(records + records)  # redelivered twice
    kinds = [(e.data["kind"], e.data["details"]["seq"]) for e in _events(world)]
    assert kinds == [("sale_recorded", n) for n in range(1, 6)]
    assert all(e.data["details"]["total_cents"] > 0 for e in _events(world))


def test_a_sale_never_touches_the_events_chain(world):
    world.ledger.record_sale(world.caller(1), _sale(world), None)
    assert _events(world) == []  # the event comes from the stream, not from the request
    assert SYSTEM.user_id == "system"


def test_a_scheduled_close_days_after_the_end_does_not_close_what_is_not_due(world):
    day = _day_ended(world)
    world.clock.advance(timedelta(days=2).total_seconds())
    closed = world.ledger.close_due_periods(TENANT, "prod.sales.R1")
    assert [(c.data["kind"], c.data["period"]) for c in closed] == [("day", day)]
