"""LedgerService.integrity: verified only when a signed root includes the entry and the stream
verifier has passed it; altered when an alarm names the chain at or before it; pending otherwise."""

from __future__ import annotations

from types import SimpleNamespace

from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.domain.merkle import inclusion_proof, record_leaf_hash, root
from chalicelib.services.ledger import LedgerService
from chalicelib.services.tamper_alarms import AlarmService, TamperAlarm

HASHES = [f"{n:064x}" for n in range(1, 5)]


class _Journal:
    def record(self, *args, **kwargs) -> None:
        pass


def _service(head: int):
    ops = InMemoryOpsStore()
    alarms = AlarmService(ops, _Journal)
    ledger = LedgerService.__new__(LedgerService)
    ledger._alarms, ledger._verified_head = alarms, lambda key: head
    return ledger, alarms, ops


def _proof(seq: int, size: int = 4) -> dict:
    leaves = [record_leaf_hash(h) for h in HASHES[:size]]
    return {"leaf_index": seq - 1, "tree_size": size, "root": root(leaves).hex(),
            "hashes": [h.hex() for h in inclusion_proof(leaves, seq - 1)]}


def _record(seq: int):
    return SimpleNamespace(seq=seq, hash=HASHES[seq - 1])


def test_verified_needs_the_signed_root_and_the_stream_verifier_past_the_entry():
    ledger, _, _ = _service(head=3)
    assert ledger.integrity("t", "c", _record(3), _proof(3)) == "verified"
    assert ledger.integrity("t", "c", _record(4), _proof(4)) == "pending"  # the verifier is at 3
    assert ledger.integrity("t", "c", _record(2), None) == "pending"  # no signed checkpoint yet


def test_a_proof_that_misses_the_signed_root_is_altered():
    ledger, _, _ = _service(head=4)
    assert ledger.integrity("t", "c", SimpleNamespace(seq=2, hash="f" * 64), _proof(2)) == "altered"


def test_an_alarm_alters_its_seq_and_later_ones_of_its_chain_only():
    ledger, alarms, _ = _service(head=4)
    alarms.raise_alarm(TamperAlarm("t", "c", 2, "modified", "d", "stream:journal", evidence="e"))
    assert [ledger.integrity("t", "c", _record(s), _proof(s)) for s in (1, 2, 3)] == ["verified", "altered",
                                                                                     "altered"]
    assert ledger.integrity("t", "other", _record(2), _proof(2)) == "verified"
    assert ledger.integrity("u", "c", _record(2), _proof(2)) == "verified"
    alarms.raise_alarm(TamperAlarm("t", "other", None, "truncated", "d", "full", evidence="e"))
    assert ledger.integrity("t", "other", _record(1), _proof(1)) == "altered"  # the whole chain


def test_alarm_listings_are_written_once_and_repaired_on_a_repeat():
    _, alarms, ops = _service(head=0)
    alarm = TamperAlarm("t", "c", 2, "modified", "d", "stream:journal", evidence="e")
    assert alarms.raise_alarm(alarm) is True
    (listed,), _ = ops.query("ALARMS", limit=10)
    ops.delete("ALARMS", listed["sk"])  # as if the process died between the writes
    assert alarms.raise_alarm(alarm) is False
    again, _ = ops.query("ALARMS", limit=10)
    assert [i["sk"] for i in again] == [listed["sk"]]
    assert alarms.raise_alarm(alarm) is False
    assert len(alarms.list_all(limit=10)[0]) == 1
