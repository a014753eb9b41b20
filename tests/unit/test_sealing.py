from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.errors import ChainBusy, SequenceConflict
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key
from chalicelib.domain.verification import verify_chain
from chalicelib.services.sealing import ChainWriter


def _writer(store=None, **kw):
    return ChainWriter(store or InMemoryChainStore(), sleep=lambda s: None, **kw)


def test_the_first_record_is_genesis_and_each_next_links_to_the_previous():
    writer = _writer()
    first = writer.append("t1", "prod.sales.R1", "sale", {"n": 1}, training=False)
    second = writer.append("t1", "prod.sales.R1", "sale", {"n": 2}, training=False)
    assert (first.seq, first.prev_hash) == (1, GENESIS_PREV_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)


def test_recorded_at_never_goes_backwards_even_if_the_clock_does():
    times = iter([datetime(2026, 11, 23, 12, tzinfo=UTC), datetime(2026, 11, 23, 11, tzinfo=UTC)])
    writer = _writer(clock=lambda: next(times))
    a = writer.append("t1", "c", "sale", {}, training=False)
    b = writer.append("t1", "c", "sale", {}, training=False)
    assert b.recorded_at == a.recorded_at


def test_a_stale_head_cache_is_corrected_after_a_conflict():
    store = InMemoryChainStore()
    mine, theirs = _writer(store), _writer(store)
    mine.append("t1", "c", "sale", {"by": "mine"}, training=False)
    theirs.append("t1", "c", "sale", {"by": "theirs"}, training=False)  # theirs reads head=1, writes 2
    third = mine.append("t1", "c", "sale", {"by": "mine"}, training=False)  # cached head=1 is stale
    assert third.seq == 3
    assert verify_chain(store.scan(chain_key("t1", "c")), tenant_id="t1", chain="c").ok


def test_conflicts_are_counted_and_retries_are_bounded():
    class AlwaysTaken(InMemoryChainStore):
        def commit(self, records, claims=(), *, ttl=None):
            raise SequenceConflict("taken")

    conflicts = []
    writer = _writer(AlwaysTaken(), max_attempts=4, on_conflict=lambda: conflicts.append(1))
    with pytest.raises(ChainBusy) as err:
        writer.append("t1", "c", "sale", {}, training=False)
    assert len(conflicts) == 4
    assert err.value.extra["retry_after"] == 1


def test_a_factory_builds_the_payload_from_the_head_it_seals_on():
    writer = _writer()
    writer.append("t1", "c", "sale", {}, training=False)
    closure = writer.append("t1", "c", training=False, factory=lambda head: ("closure", {"last": head.seq}))
    assert closure.data == {"last": 1}


def test_the_event_journal_sets_a_ttl_from_the_recorded_time():
    store = InMemoryChainStore()
    writer = _writer(store, ttl_seconds=30 * 86400)
    record = writer.append("t1", "events", "event", {"kind": "signup"}, training=False)
    item = next(store.raw_items(chain_key("t1", "events")))
    recorded = datetime.strptime(record.recorded_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert item["ttl"] == int((recorded + timedelta(days=30)).timestamp())


def _hammer(writer_factory, threads=8, per_thread=200, batch=1):
    tenant = f"t{uuid.uuid4().hex[:10]}"
    errors = []

    def work(n):
        writer = writer_factory()
        try:
            for i in range(0, per_thread, batch):
                if batch == 1:
                    writer.append(tenant, "prod.sales.R1", "sale", {"thread": n, "i": i}, training=False)
                else:
                    payloads = [("sale", {"thread": n, "i": i + j}) for j in range(batch)]
                    writer.append_batch(tenant, "prod.sales.R1", payloads, training=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    return tenant, errors


def test_eight_concurrent_writers_leave_no_gap_and_no_fork_in_memory():
    store = InMemoryChainStore()
    tenant, errors = _hammer(lambda: ChainWriter(store, max_attempts=200))
    assert errors == []
    records = list(store.scan(chain_key(tenant, "prod.sales.R1")))
    assert [r.seq for r in records] == list(range(1, 1601))
    report = verify_chain(records, tenant_id=tenant, chain="prod.sales.R1")
    assert report.ok and report.size == 1600


def test_eight_concurrent_batch_writers_leave_no_gap_and_no_fork_in_memory():
    store = InMemoryChainStore()
    tenant, errors = _hammer(lambda: ChainWriter(store, max_attempts=200), batch=20)
    assert errors == []
    records = list(store.scan(chain_key(tenant, "prod.sales.R1")))
    assert [r.seq for r in records] == list(range(1, 1601))
    assert verify_chain(records, tenant_id=tenant, chain="prod.sales.R1").ok
