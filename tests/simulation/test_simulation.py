"""The fault-injection simulation (sim.py): 1,000 seeded schedules hold I1-I6, the same seed
replays exactly, and the checker is not blind — each planted bug of the old write path is found."""

from __future__ import annotations

import os

import pytest

from chalicelib.services import sealing
from tests.simulation import sim

SCHEDULES = int(os.environ.get("SCELLE_SIM_SCHEDULES", "1000"))
CHUNK = 100


@pytest.mark.parametrize("first", range(0, SCHEDULES, CHUNK))
def test_every_schedule_keeps_the_invariants(first):
    failures = []
    for seed in range(first, min(first + CHUNK, SCHEDULES)):
        outcome = sim.run(seed)
        if not outcome.ok:
            failures.append(sim.shrink(outcome).report())
    assert not failures, "\n\n".join(failures[:3])


def test_the_same_seed_replays_exactly():
    first, again = sim.run(1234), sim.run(1234)
    assert first.faults > 0
    assert first.trace == again.trace
    assert first.stats == again.stats


def _first_failure(seeds=range(300)):
    for seed in seeds:
        outcome = sim.run(seed)
        if not outcome.ok:
            return outcome
    return None


def test_sealing_without_claims_is_caught_as_double_seals(monkeypatch):
    # The old write path: the seal does not take the operation's natural key with it.
    original = sealing.ChainWriter._commit

    def without_claims(self, tenant_id, chain, training, build, claims):
        return original(self, tenant_id, chain, training, build, claims if chain == "events" else None)

    monkeypatch.setattr(sealing.ChainWriter, "_commit", without_claims)
    outcome = _first_failure()
    assert outcome is not None
    assert {v.invariant for v in outcome.violations} & {"I1", "I2", "I3", "I5"}
    shorter = sim.shrink(outcome)
    assert not shorter.ok and shorter.config.operations <= outcome.config.operations
    assert f"seed {outcome.seed}" in shorter.report()


def test_an_events_chain_without_a_head_pointer_is_caught_restarting_after_ttl(monkeypatch):
    def old_event_writer(store, *, clock, **kw):
        return sealing.ChainWriter(store, clock=clock, ttl_seconds=30 * 86400, **kw)

    monkeypatch.setattr(sim, "event_writer", old_event_writer)
    outcome = _first_failure()
    assert outcome is not None
    assert "I4" in {v.invariant for v in outcome.violations}


def test_a_writer_that_takes_its_own_landed_write_for_a_rival_is_caught(monkeypatch):
    # Before: a conditional failure was always a lost race, even when the record in the way was
    # this very request's, applied with its answer lost. Claims alone then answer a replay, so
    # plant the old behaviour without them too.
    monkeypatch.setattr(sealing, "landed", lambda records, claims, rejected: False)
    original = sealing.ChainWriter._commit

    def without_claims(self, tenant_id, chain, training, build, claims):
        return original(self, tenant_id, chain, training, build, claims if chain == "events" else None)

    monkeypatch.setattr(sealing.ChainWriter, "_commit", without_claims)
    outcome = _first_failure()
    assert outcome is not None
    assert any("sealed" in v.detail or "events" in v.detail for v in outcome.violations)
