"""VerificationService on in-memory stores: each chain is read where it lives — ledger chains in
the journal, the event journal in the events table, its expired entries in the archive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.records import chain_key
from chalicelib.services.sealing import ChainWriter
from chalicelib.services.verification import VerificationService

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class NoCheckpoints:
    def list(self, key, min_size=0):
        return []

    def latest_at_or_below(self, key, size):
        return None


class NoKeys:
    def published(self):
        return []


class Archive:
    """The archived records of one chain (``Archive.records``' contract)."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.reads = 0

    def records(self, key, first_seq=1, last_seq=None):
        self.reads += 1
        return iter([r for r in self.items if r["seq"] >= first_seq and (last_seq is None or r["seq"] <= last_seq)])


@pytest.fixture
def stores():
    journal, events, archive = InMemoryChainStore(), InMemoryChainStore(), Archive()
    for i in range(4):
        ChainWriter(journal, clock=lambda: T0).append("t1", "prod.sales.R1", "memo", {"n": i}, training=False)
    for i in range(5):
        ChainWriter(events, clock=lambda: T0).append("t1", "events", "event",
                                                     {"kind": "signout", "actor": "u1", "details": {"n": i}},
                                                     training=False)
    failures = []
    service = VerificationService(journal, NoCheckpoints(), NoKeys(), events_store=events, archive=lambda: archive,
                                  on_failure=lambda tenant, chain, report: failures.append(report))
    return service, journal, events, archive, failures


def _expire(events, archive, upto):
    """Entries up to ``upto`` archived, then removed from the hot table (TTL)."""
    key = chain_key("t1", "events")
    for seq in range(len(archive.items) + 1, upto + 1):
        archive.items.append(events.get(key, seq).to_dict())
        events.tamper_delete(key, seq)


def test_the_events_chain_is_read_from_the_events_table_not_the_journal(stores):
    service, _, _, archive, failures = stores
    report = service.verify("t1", "events")
    assert (report.ok, report.size) == (True, 5) and failures == []
    assert archive.reads == 0  # nothing expired: the archive is not read
    assert service.verify("t1", "prod.sales.R1").size == 4


def test_expired_events_are_read_from_the_archive_then_the_table(stores):
    service, _, events, archive, failures = stores
    _expire(events, archive, 3)
    assert (service.verify("t1", "events").ok, service.verify("t1", "events").size) == (True, 5)
    assert service.verify("t1", "events", first_seq=2, last_seq=3).ok  # wholly in the archive
    assert service.verify("t1", "events", first_seq=3).ok
    _expire(events, archive, 5)  # the whole chain expired
    assert service.verify("t1", "events").size == 5
    assert failures == []


def test_an_event_missing_from_both_the_table_and_the_archive_is_a_gap_at_its_seq(stores):
    service, _, events, archive, failures = stores
    _expire(events, archive, 3)
    archive.items = [r for r in archive.items if r["seq"] != 2]
    report = service.verify("t1", "events")
    assert (report.ok, report.reason, report.first_bad_seq) == (False, "gap", 2)
    assert [f.first_bad_seq for f in failures] == [2]


def test_a_service_without_an_events_store_refuses_the_events_chain_rather_than_misread_it():
    service = VerificationService(InMemoryChainStore(), NoCheckpoints(), NoKeys())
    with pytest.raises(ValueError, match="events store"):
        service.verify("t1", "events")


# ---- closures met by a resumed range (decision 0031) ---------------------------------------------
@pytest.fixture
def signed_closures(tmp_path):
    """A day chain with two closures (seqs 7 and 9), loaded into a journal store as a function of
    the chain, with signed checkpoints at 6 and 9: ``load(chain)`` gives the service and its
    failures."""
    from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.domain.closures import ClosureCheck
    from chalicelib.services.checkpoints import CheckpointService, KeyRegistry

    def load(chain):
        clock = lambda: datetime(2026, 12, 1, tzinfo=UTC)  # noqa: E731
        journal, checkpoint_store = InMemoryChainStore(), InMemoryCheckpointStore()
        signer = LocalSigner(tmp_path, "log")
        keys = KeyRegistry(checkpoint_store, signer, clock=clock)
        keys.ensure_current()
        signing = CheckpointService(journal, checkpoint_store, signer, keys, clock=clock)
        for record in chain.records:
            journal.append(record)
            if record.seq in (6, 9):
                signing.checkpoint("t-1", chain.name)
        failures = []
        service = VerificationService(journal, checkpoint_store, keys, extra_checks=lambda: [ClosureCheck()],
                                      on_failure=lambda tenant, name, report: failures.append(report))
        return service, journal, failures

    return load


def test_a_range_resumed_from_a_checkpoint_checks_the_closures_it_meets(signed_closures):
    """Before, a resumed range (the hourly pass, a later slice of the weekly one) checked no
    closure: a correctly hashed closure with a reset perpetual total passed every hour."""
    from tests.unit.test_closures import closed_busy_day

    chain = closed_busy_day()
    service, _, failures = signed_closures(chain)
    assert service.verify("t-1", chain.name, first_seq=7).ok
    forged = closed_busy_day()
    forged.rewrite(9, lambda data: data.update(perpetual_grand_total=data["period_grand_total"]))
    service, _, failures = signed_closures(forged)
    full = service.verify("t-1", forged.name)
    resumed = service.verify("t-1", forged.name, first_seq=7)
    assert (full.reason, full.first_bad_seq) == ("closure_totals", 9)
    assert (resumed.ok, resumed.reason, resumed.first_bad_seq, resumed.detail) == (False, *[
        getattr(full, name) for name in ("reason", "first_bad_seq", "detail")])
    assert resumed.size == 9 and failures[-1] == resumed  # the range's own figures; the failure reported


def test_entries_read_again_for_a_closure_are_verified_too(signed_closures):
    """The day closed at seq 7 covers seqs 1-5: a range resumed from the checkpoint at 6 reads them
    again, verified from seq 1 (no signed state at or below 5), and finds the one changed in the
    table, which the range itself never reads."""
    from tests.unit.test_closures import closed_busy_day

    chain = closed_busy_day()
    service, journal, _ = signed_closures(chain)
    item = journal.get(chain_key("t-1", chain.name), 3).to_dict()
    item["data"]["totals"]["incl"] += 100
    journal.tamper_replace(chain_key("t-1", chain.name), 3, item)
    resumed = service.verify("t-1", chain.name, first_seq=7)
    assert (resumed.ok, resumed.reason, resumed.first_bad_seq) == (False, "hash_mismatch", 3)
    service._extra_checks = list  # without the closure checks, the range alone passes
    assert service.verify("t-1", chain.name, first_seq=7).ok


def test_a_resumed_range_whose_anchor_checkpoint_is_forged_names_it_instead_of_failing(signed_closures):
    """The checkpoint a range would resume from no longer verifies (its signature was replaced in
    the table): the range starts from seq 1, where every stored checkpoint is checked, and the
    report names it; it used to raise out of the verification (no finding, no alarm)."""
    from dataclasses import replace as replaced

    from tests.unit.test_closures import closed_busy_day

    chain = closed_busy_day()
    service, _, failures = signed_closures(chain)
    stored = service._checkpoints._items[chain_key("t-1", chain.name)]
    not_its_signature = b"\x30\x06\x02\x01\x01\x02\x01\x01"  # a well-formed DER signature of (1, 1)
    stored[6] = replaced(stored[6], checkpoint=replaced(stored[6].checkpoint, signature=not_its_signature))
    report = service.verify("t-1", chain.name, first_seq=8)
    assert (report.ok, report.reason, report.first_bad_seq) == (False, "bad_signature", 6)
    assert failures == [report]
