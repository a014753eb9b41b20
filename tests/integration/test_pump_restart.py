"""The stream pump and the handler stopped in the middle of their work and restarted: nothing is
skipped, nothing is archived twice, and the archive still verifies."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.adapters.signing import signature_verifier_for
from chalicelib.domain.records import chain_key
from chalicelib.services.archive import Archiver, rebuild_report
from tests.support.continuous import alarms, new_tenant, private_stack

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies (not an error the handler could catch and report)."""


def _crash_on(obj, name: str, *, call: int, after: bool = False):
    """Make ``obj.name`` kill the process on its ``call``-th call (before or after doing its work)."""
    original = getattr(obj, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call and not after:
            raise Crash(f"{name} #{call}")
        result = original(*args, **kwargs)
        if calls["n"] == call and after:
            raise Crash(f"after {name} #{call}")
        return result

    setattr(obj, name, wrapper)
    return lambda: setattr(obj, name, original)


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-pump")) as cv:
        yield cv


def test_a_pump_and_handler_killed_mid_batch_and_restarted_skip_nothing_and_archive_nothing_twice(cv):
    # GIVEN two chains with 150 and 90 entries, written in interleaved group commits
    container = cv.container()
    container.__dict__["archiver"] = Archiver(container.ops_store, container.archive, segment_entries=40,
                                              clock=container.clock)
    tenant = new_tenant()
    sizes = {"prod.sales.R1": 150, "prod.journal": 90}
    for chain in sizes:
        container.chain_directory.register(tenant, chain)
    for start in range(0, 150, 30):
        for chain, size in sizes.items():
            if start < size:
                payloads = [("memo", {"n": n}) for n in range(start, min(start + 30, size))]
                container.chain_writer.append_batch(tenant, chain, payloads, training=False)
    state_file = cv.data_dir / "restart-pump.json"

    def pump():
        return cv.pump(fresh=True, state_file=state_file)

    # WHEN the handler dies while saving the state of the second chain of the first batch
    restore = _crash_on(container.ops_store, "advance_head", call=2)
    with pytest.raises(Crash):
        pump().drain()
    restore()
    # AND, restarted, dies right after writing an archive segment, before recording it
    restore = _crash_on(container.archive, "write_segment", call=1, after=True)
    with pytest.raises(Crash):
        pump().drain()
    restore()
    # AND, restarted, the pump dies after a batch was handled but before it saved its position
    restarted = pump()
    restore = _crash_on(restarted, "_save", call=1)
    with pytest.raises(Crash):
        restarted.drain()
    restore()
    # AND finally runs to the end, and the archive window closes
    pump().drain()
    for chain in sizes:
        container.archiver.flush(chain_key(tenant, chain), force=True)

    # THEN every entry was seen once, in order, and archived exactly once
    for chain, size in sizes.items():
        key = chain_key(tenant, chain)
        state = container.ops_store.chain_state(key)
        assert (state.seq, state.archived_through, state.pending_seqs) == (size, size, [])
        manifest = container.archive.manifest(key)
        assert [r["seq"] for r in container.archive.records(key)] == list(range(1, size + 1))
        ranges = [(s.first_seq, s.last_seq) for s in manifest.segments]
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges)), ranges
        assert all(container.archive.objects.versions(s.key) == 1 for s in manifest.segments)
        # AND the archive alone still verifies
        report = rebuild_report(container.archive, tenant, chain, signature_verifier_for=signature_verifier_for)
        assert (report.ok, report.size) == (True, size), report
    assert alarms(container, tenant) == []
