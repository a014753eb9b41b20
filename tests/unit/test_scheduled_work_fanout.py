"""Scheduled work fanned out one unit per chain (decision 0028): what the schedules queue, what a
worker does with a message, and how a long chain's verification goes on in slices."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.adapters.chain_directory import InMemoryChainDirectory
from chalicelib.adapters.work_queue import InMemoryWorkQueues
from chalicelib.domain.errors import ValidationFailed
from chalicelib.handlers.work import process_units
from chalicelib.ports.work import ChainUnit
from chalicelib.services.scheduled_work import ChainVerificationWork, WorkDispatcher, job_applies


@pytest.fixture
def directory():
    d = InMemoryChainDirectory()
    for tenant in ("t1", "t2"):
        for chain in ("events", "prod.sales.R1", "prod.journal.OD", "test.sales.R1"):
            d.register(tenant, chain)
    return d


def test_each_job_queues_one_unit_per_chain_it_applies_to(directory):
    queues = InMemoryWorkQueues()
    dispatcher = WorkDispatcher(directory=directory, queues=queues)
    assert dispatcher.dispatch("sign", "2026-12-05T10:00:00Z").sent == 8
    assert dispatcher.dispatch("close", "2026-12-05T10:00:00Z").sent == 4
    assert dispatcher.dispatch("verify", "2026-12-05T10:00:00Z").sent == 6
    closes = {(m["tenant_id"], m["chain"]) for m in queues.messages["close"]}
    assert closes == {(t, c) for t in ("t1", "t2") for c in ("prod.sales.R1", "prod.journal.OD")}
    assert not any(m["chain"] == "test.sales.R1" for m in queues.messages["verify"])
    assert job_applies("verify", "events") and not job_applies("close", "events")


def test_a_schedule_delivered_twice_queues_each_unit_once_and_the_next_window_again(directory):
    queues = InMemoryWorkQueues()
    dispatcher = WorkDispatcher(directory=directory, queues=queues)
    dispatcher.dispatch("sign", "2026-12-05T10:00:00Z")
    assert dispatcher.dispatch("sign", "2026-12-05T10:00:00Z").sent == 0  # EventBridge's duplicate
    assert dispatcher.dispatch("sign", "2026-12-05T10:05:00Z").sent == 8
    assert len(queues.messages["sign"]) == 16


def test_successive_windows_start_at_different_chains(directory):
    """A dispatcher cut short (timeout) must not leave the same chains behind every time."""
    firsts = set()
    for minute in range(0, 60, 5):
        queues = InMemoryWorkQueues()
        WorkDispatcher(directory=directory, queues=queues).dispatch("sign", f"2026-12-05T10:{minute:02d}:00Z")
        sent = [(m["tenant_id"], m["chain"]) for m in queues.messages["sign"]]
        assert sorted(sent) == sorted(directory.all_chains())  # every chain, once
        firsts.add(sent[0])
    assert len(firsts) >= 3


@pytest.mark.parametrize("body, field", [
    ({"job": "nap", "tenant_id": "t", "chain": "c"}, "job"),
    ({"job": "sign", "tenant_id": "", "chain": "c"}, "tenant_id"),
    ({"job": "sign", "tenant_id": "t", "chain": 3}, "chain"),
    ({"job": "sign", "tenant_id": "t", "chain": "c", "from_seq": 0}, "from_seq"),
    ({"job": "sign", "tenant_id": "t", "chain": "c", "from_seq": True}, "from_seq"),
    ([], "body"),
])
def test_a_message_that_is_not_a_unit_is_refused_naming_the_field(body, field):
    with pytest.raises(ValidationFailed) as err:
        ChainUnit.from_message(body)
    assert err.value.field == field


def _event(*bodies):
    return {"Records": [{"messageId": f"m{i}", "body": b if isinstance(b, str) else json.dumps(b)}
                        for i, b in enumerate(bodies)]}


def test_a_worker_reports_the_failed_unit_for_retry_and_drops_what_no_retry_can_mend():
    done = []

    def run_one(unit):
        if unit.chain == "broken":
            raise RuntimeError("S3 is down")
        done.append(unit.chain)

    result = process_units(_event({"job": "sign", "tenant_id": "t", "chain": "prod.sales.R1"},
                                  {"job": "sign", "tenant_id": "t", "chain": "broken"},
                                  "not json", {"job": "close", "tenant_id": "t", "chain": "prod.sales.R1"},
                                  {"job": "sign", "tenant_id": "t", "chain": "prod.sales.R2"}),
                           "sign", run_one)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert done == ["prod.sales.R1", "prod.sales.R2"]  # one chain's trouble never stops another


class _Verifier:
    def __init__(self, failing_slice=None, checkpoints=()):
        self.calls, self.failing, self.checkpoints = [], failing_slice, checkpoints

    def verify(self, tenant_id, chain, *, first_seq=1, last_seq=None):
        self.calls.append((first_seq, last_seq))
        ok = (first_seq, last_seq) != self.failing
        proven = max((s for s in self.checkpoints if s >= first_seq and (last_seq is None or s <= last_seq)),
                     default=0)
        return SimpleNamespace(ok=ok, proven_size=proven)


class _Store:
    def __init__(self, size):
        self.size = size

    def head(self, key):
        return SimpleNamespace(seq=self.size)


class _Checkpoints:
    def __init__(self, sizes):
        self.sizes = sizes

    def list(self, key, min_size=0):
        return [SimpleNamespace(checkpoint=SimpleNamespace(size=s)) for s in self.sizes if s >= min_size]

    def latest_at_or_below(self, key, size):
        below = [s for s in self.sizes if s <= size]
        return SimpleNamespace(checkpoint=SimpleNamespace(size=max(below))) if below else None


def _work(size, checkpoints, verifier, queues, slice_entries=1000, ops=None):
    deriver = SimpleNamespace(catch_up=lambda tenant, chains: 0)
    return ChainVerificationWork(deriver=deriver, full_verifier=verifier, journal_store=_Store(size),
                                 events_store=_Store(size), checkpoint_store=_Checkpoints(checkpoints),
                                 queues=queues, slice_entries=slice_entries, ops=ops)


def test_a_long_chain_is_verified_in_slices_ending_at_signed_checkpoints():
    queues, verifier = InMemoryWorkQueues(), _Verifier()
    work = _work(2900, [500, 900, 1200, 1800, 2500], verifier, queues)
    unit = ChainUnit("verify", "t", "prod.sales.R1")
    while unit is not None:
        work.run(unit)
        unit = queues.take("verify")
    # each slice ends at the last checkpoint within 1000 entries; the last one reaches the head
    assert verifier.calls == [(1, 900), (901, 1800), (1801, 2500), (2501, None)]


def test_a_failed_slice_stops_the_pass_and_a_short_chain_is_one_unit():
    queues, verifier = InMemoryWorkQueues(), _Verifier(failing_slice=(1, 900))
    _work(2600, [900, 1800], verifier, queues).run(ChainUnit("verify", "t", "prod.sales.R1"))
    assert verifier.calls == [(1, 900)] and queues.take("verify") is None
    queues, verifier = InMemoryWorkQueues(), _Verifier()
    _work(999, [500], verifier, queues).run(ChainUnit("verify", "t", "prod.sales.R1"))
    assert verifier.calls == [(1, None)] and queues.take("verify") is None


def test_an_hourly_pass_verifies_from_the_last_pass_checkpoint_and_a_full_one_from_seq_1():
    from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore

    ops, queues = InMemoryOpsStore(), InMemoryWorkQueues()
    verifier = _Verifier(checkpoints=(500, 900))
    work = _work(950, [500, 900], verifier, queues, ops=ops)
    work.run(ChainUnit("verify", "t", "prod.sales.R1"))  # no earlier pass: from seq 1
    work.run(ChainUnit("verify", "t", "prod.sales.R1"))  # from the checkpoint the first pass proved
    work.run(ChainUnit("verify", "t", "prod.sales.R1", full=True))  # the weekly full pass
    assert verifier.calls == [(1, None), (901, None), (1, None)]


def test_a_mark_naming_no_stored_checkpoint_is_not_trusted():
    from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
    from chalicelib.services.scheduled_work import verified_pass_pk

    ops = InMemoryOpsStore()
    ops.put_once(verified_pass_pk("t", "prod.sales.R1"), "pass", {"size": 700})  # no checkpoint at 700
    verifier = _Verifier(checkpoints=(500, 900))
    _work(950, [500, 900], verifier, InMemoryWorkQueues(), ops=ops).run(ChainUnit("verify", "t", "prod.sales.R1"))
    assert verifier.calls == [(1, None)]


def test_each_chain_gets_its_full_pass_once_a_week_and_the_passes_spread_over_the_week():
    from chalicelib.services.scheduled_work import full_pass_due

    chains = [(f"t{i}", "prod.sales.R1") for i in range(2000)]
    per_hour = [sum(full_pass_due(t, c, hour) for t, c in chains) for hour in range(168)]
    assert sum(per_hour) == len(chains)  # each chain exactly once in the week
    assert max(per_hour) < 3 * len(chains) / 168  # no hour carries the whole load
    assert full_pass_due("t", "c", None)  # an unreadable window: the safe side


def test_verify_units_are_marked_full_at_their_chains_hour(directory):
    queues = InMemoryWorkQueues()
    dispatcher = WorkDispatcher(directory=directory, queues=queues)
    for day in range(7):
        for hour in range(24):
            dispatcher.dispatch("verify", f"2026-12-{7 + day:02d}T{hour:02d}:00:00Z")  # a Monday to a Sunday
    fulls = sum(m["full"] for m in queues.messages["verify"])
    assert fulls == 6  # each of the 6 verified chains once in the week


def test_each_job_has_exactly_one_queue():
    from chalicelib.ports.work import JOBS
    from chalicelib.resources import RESOURCES

    assert sorted(q.job for q in RESOURCES.queues) == sorted(JOBS)
