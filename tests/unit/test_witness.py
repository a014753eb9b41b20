"""The independent witness (decision 0024): it co-signs a chain's checkpoint only when it extends
what it co-signed before, refuses rollbacks and forks with an alarm, trusts only its own view and
the log key it was given; the signer's side builds the consistency proof from the stored compact
range and the entries since."""

from __future__ import annotations

import io
import json
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.archive_s3 import InMemoryObjectStore
from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.adapters.witness_lambda import LambdaWitnessClient, handle_witness_request
from chalicelib.adapters.witness_view import ObjectWitnessView, witness_prefix
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.merkle import consistency_proof, record_leaf_hash, root
from chalicelib.domain.records import chain_key
from chalicelib.domain.witness import (
    Cosignature,
    CosignatureError,
    WitnessBehind,
    WitnessRefused,
    verify_cosignature,
)
from chalicelib.ports.checkpoints import StoredCheckpoint
from chalicelib.ports.signatures import verify_signature
from chalicelib.services.checkpoints import CheckpointService, KeyRegistry
from chalicelib.services.sealing import ChainWriter
from chalicelib.services.witness import Witness, WitnessSubmitter, cosignature_pk, cosignature_sk
from tests.support.alarms import RecordedAlarms

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
CHAIN = "prod.sales.R1"
KEY = chain_key("t1", CHAIN)




class Log:
    """A chain, its signed checkpoints, the witness and the submitter, all in memory."""

    def __init__(self, tmp_path) -> None:
        self.now = T0
        clock = lambda: self.now  # noqa: E731
        self.store = InMemoryChainStore()
        self.writer = ChainWriter(self.store, clock=clock, sleep=lambda s: None)
        self.checkpoint_store = InMemoryCheckpointStore()
        self.log_signer = LocalSigner(tmp_path, "log")
        keys = KeyRegistry(self.checkpoint_store, self.log_signer, clock=clock)
        keys.ensure_current()
        self.checkpoints = CheckpointService(self.store, self.checkpoint_store, self.log_signer, keys, clock=clock)
        self.objects = InMemoryObjectStore()
        self.alarms = RecordedAlarms()
        pinned = [PublicKeyInfo(self.log_signer.key_id, "2000-01-01T00:00:00.000000Z", None,
                                self.log_signer.public_key_pem())]
        self.witness_signer = LocalSigner(tmp_path, "witness")
        self.witness = Witness(self.witness_signer, ObjectWitnessView(self.objects, clock=clock), lambda: pinned,
                               clock=clock, alarms=self.alarms)
        self.ops = InMemoryOpsStore()
        self.submitter = WitnessSubmitter(self.witness, checkpoint_store=self.checkpoint_store, ops=self.ops,
                                          alarms=self.alarms)

    def append(self, n: int) -> None:
        for i in range(n):
            self.now += timedelta(seconds=1)
            self.writer.append("t1", CHAIN, "memo", {"n": i}, training=False)

    def sign(self) -> Checkpoint:
        self.now += timedelta(seconds=1)
        return self.checkpoints.checkpoint("t1", CHAIN)

    def leaves(self, size: int) -> list[bytes]:
        return [record_leaf_hash(r.hash) for r in self.store.scan(KEY, 1, size)]


@pytest.fixture
def log(tmp_path):
    return Log(tmp_path)


def test_each_new_checkpoint_is_co_signed_after_its_consistency_with_the_last_is_proven(log):
    log.append(5)
    first = log.sign()
    assert log.submitter.submit("t1", CHAIN, log.store).size == 5  # the first one: nothing to be consistent with
    log.append(6)
    second = log.sign()
    cosigned = log.submitter.submit("t1", CHAIN, log.store)
    assert (cosigned.size, cosigned.root) == (11, second.root)
    verify_cosignature(cosigned, second, lambda kid, m, s: verify_signature(log.witness.public_key_pem(), m, s))
    assert [c.size for c in log.submitter.cosignatures(KEY)] == [5, 11]
    assert log.submitter.has_cosigned_newest("t1", CHAIN)
    assert log.witness.latest(KEY).root == second.root != first.root
    assert log.alarms.raised == []


def test_the_proof_is_built_without_reading_entries_the_witness_already_covers(log):
    log.append(8)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    log.append(5)
    log.sign()
    read = []
    original = log.store.raw_items
    log.store.raw_items = lambda key, first=1, last=None: (read.append((first, last)), original(key, first, last))[1]
    log.submitter.submit("t1", CHAIN, log.store)
    assert read == [(9, 13)]


def test_a_checkpoint_of_another_history_at_a_larger_size_is_refused_and_alarmed(log):
    """Whoever holds the log's key signs a rewritten chain: the witness, which co-signed the
    original at size 5, refuses any proof from that root."""
    log.append(5)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    seen = log.witness.latest(KEY)
    forged_leaves = [bytes([i]) * 32 for i in range(9)]
    forged = log.log_signer
    unsigned = Checkpoint(KEY, 9, root(forged_leaves).hex(), "2026-03-10T10:00:00.000000Z", forged.key_id)
    checkpoint = unsigned.with_signature(forged.sign(unsigned.signed_message()))
    with pytest.raises(WitnessRefused) as refused:
        log.witness.add_checkpoint(checkpoint, 5, consistency_proof(forged_leaves, 5))
    assert refused.value.reason == "witness_inconsistent"
    assert ("witness_inconsistent", 9, "witness") in log.alarms.reasons()
    assert log.witness.latest(KEY) == seen  # nothing new was co-signed


def test_two_roots_for_one_size_are_a_fork_and_a_smaller_size_is_a_rollback(log):
    log.append(6)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    other = Checkpoint(KEY, 6, "ab" * 32, "2026-03-10T10:00:00.000000Z", log.log_signer.key_id)
    other = other.with_signature(log.log_signer.sign(other.signed_message()))
    with pytest.raises(WitnessRefused) as fork:
        log.witness.add_checkpoint(other, 6, [])
    assert fork.value.reason == "witness_fork"
    older = Checkpoint(KEY, 4, "cd" * 32, "2026-03-10T10:00:00.000000Z", log.log_signer.key_id)
    older = older.with_signature(log.log_signer.sign(older.signed_message()))
    with pytest.raises(WitnessRefused) as rollback:
        log.witness.add_checkpoint(older, 6, [])
    assert rollback.value.reason == "witness_rollback"
    assert [r for r, _, _ in log.alarms.reasons()] == ["witness_fork", "witness_rollback"]


def test_a_checkpoint_not_signed_by_the_pinned_log_key_is_refused(log, tmp_path):
    log.append(3)
    stranger = LocalSigner(tmp_path, "stranger")
    unsigned = Checkpoint(KEY, 3, "ab" * 32, "2026-03-10T10:00:00.000000Z", stranger.key_id)
    with pytest.raises(WitnessRefused) as refused:
        log.witness.add_checkpoint(unsigned.with_signature(stranger.sign(unsigned.signed_message())), 0, [])
    assert refused.value.reason == "key_not_valid"


def test_a_stale_old_size_is_answered_with_the_size_the_witness_knows(log):
    log.append(4)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    log.append(4)
    newer = log.sign()
    with pytest.raises(WitnessBehind) as behind:
        log.witness.add_checkpoint(newer, 2, [])
    assert behind.value.known_size == 4


def test_a_submitter_that_read_an_older_checkpoint_than_another_got_co_signed_raises_no_alarm(log):
    log.append(8)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    log.append(1)
    log.sign()
    stale = log.checkpoint_store.latest(KEY)  # size 9, what A read
    log.append(1)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)  # B: size 10 co-signed
    reads = iter([stale])
    newest = log.checkpoint_store.latest
    log.checkpoint_store.latest = lambda key: next(reads, None) or newest(key)
    cosigned = log.submitter.submit("t1", CHAIN, log.store)
    assert (cosigned.size, cosigned.root) == (10, newest(KEY).checkpoint.root)
    assert log.alarms.raised == []


def test_a_smaller_checkpoint_from_a_submitter_that_did_not_know_the_witness_moved_is_sent_back(log):
    """A read the witness at 8 and built its proof to 9; B got 10 co-signed meanwhile. The witness
    answers 'behind' (no alarm): A re-reads, finds 10 stored and co-signed, and ends there."""
    log.append(8)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    log.append(1)
    nine = log.sign()
    proof = consistency_proof(log.leaves(9), 8)
    log.append(1)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    with pytest.raises(WitnessBehind) as behind:
        log.witness.add_checkpoint(nine, 8, proof)
    assert behind.value.known_size == 10
    eight = Cosignature.from_text(log.ops.get(cosignature_pk(KEY), cosignature_sk(8, log.witness.key_id))["text"])
    seen_by_a = iter([eight])
    latest = log.witness.latest
    log.witness.latest = lambda key: next(seen_by_a, None) or latest(key)
    assert log.submitter.submit("t1", CHAIN, log.store).size == 10
    assert log.alarms.raised == []


def test_a_table_that_went_back_below_what_the_witness_co_signed_is_still_alarmed(log):
    log.append(8)
    log.sign()
    log.append(2)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)  # size 10 co-signed
    del log.checkpoint_store._items[KEY][10]  # the table restored from before size 10 was signed
    assert log.submitter.submit("t1", CHAIN, log.store) is None
    assert ("witness_ahead", 10, "witness") in log.alarms.reasons()


def test_a_submitter_overtaken_by_a_cosignature_the_table_contradicts_raises_a_fork_alarm(log):
    """The witness co-signed size 10; the table now holds another size-10 checkpoint (re-signed
    over rewritten entries by whoever holds the log's key) and a submitter that read size 9
    arrives: it must not take the witness's cosignature as covering the table's history."""
    log.append(8)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    log.append(1)
    nine = log.sign()
    log.append(1)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    unsigned = Checkpoint(KEY, 10, "ab" * 32, "2026-03-10T10:00:00.000000Z", log.log_signer.key_id)
    log.checkpoint_store._items[KEY][10] = StoredCheckpoint(
        unsigned.with_signature(log.log_signer.sign(unsigned.signed_message())), [], None, None)
    stale = iter([log.checkpoint_store._items[KEY][9]])
    newest = log.checkpoint_store.latest
    log.checkpoint_store.latest = lambda key: next(stale, None) or newest(key)
    assert nine.size == 9 and log.submitter.submit("t1", CHAIN, log.store) is None
    assert ("witness_fork", 10, "witness") in log.alarms.reasons()


@pytest.mark.parametrize("seed", range(3))
def test_submitters_racing_on_a_growing_chain_raise_no_alarm_and_the_witness_only_moves_forward(log, seed):
    """Four submitters (exports, the schedule) append, sign and submit at once, thread switches
    forced every microsecond: whatever the interleaving, an honest log that only grows raises no
    alarm, every submit ends at a co-signed size at least as large as the checkpoint it signed,
    and the witness's view only grows."""
    rng = random.Random(seed)
    appending = threading.Lock()
    errors, ends = [], []

    def submitter(rounds: int, pause: float) -> None:
        mine = WitnessSubmitter(log.witness, checkpoint_store=log.checkpoint_store, ops=log.ops, alarms=log.alarms)
        try:
            for _ in range(rounds):
                with appending:
                    log.append(1)
                signed = log.checkpoints.checkpoint("t1", CHAIN)
                cosigned = mine.submit("t1", CHAIN, log.store)
                ends.append((signed.size, cosigned.size))
                time.sleep(pause)
        except Exception as exc:  # reported below, with its type
            errors.append(repr(exc))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=submitter, args=(12, rng.choice([0, 0.0001, 0.001])), daemon=True)
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        sys.setswitchinterval(switch)
    assert errors == [] and log.alarms.raised == []
    assert len(ends) == 48 and all(cosigned >= signed for signed, cosigned in ends)
    sizes = [c.size for c in log.submitter.cosignatures(KEY)]
    assert sizes == sorted(set(sizes)) and sizes[-1] == 48
    assert log.witness.latest(KEY).size == 48


def test_an_object_planted_in_the_witness_view_is_never_believed(log):
    log.append(4)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    # Someone with write access to the bucket (not the witness) plants a bigger "latest".
    planted = Cosignature(log.witness.key_id, "2026-03-10T11:00:00.000000Z",
                          Checkpoint(KEY, 999, "ee" * 32, "2026-03-10T11:00:00.000000Z", log.log_signer.key_id),
                          b"not a signature")
    log.objects.put_new(f"{witness_prefix(KEY)}{999:012d}.cosig", planted.to_text().encode(),
                        retain_until=T0 + timedelta(days=1), metadata={})
    with pytest.raises(WitnessRefused) as refused:
        log.witness.latest(KEY)
    assert refused.value.reason == "witness_view_damaged"


def test_a_rewritten_chain_is_caught_by_the_submitter_before_anything_is_sent(log):
    log.append(5)
    log.sign()
    log.submitter.submit("t1", CHAIN, log.store)
    # The chain's first five entries are replaced behind everyone's back (stored checkpoint state too)
    log.store._chains[KEY][3]["hash"] = "00" * 32
    log.checkpoint_store._items[KEY].clear()
    log.append(2)
    log.checkpoint_store._items[KEY][7] = log.checkpoint_store._items.get(KEY, {}).get(7) or _resign(log, 7)
    with pytest.raises(WitnessRefused) as refused:
        log.submitter.submit("t1", CHAIN, log.store)
    assert refused.value.reason == "witness_fork"
    assert ("witness_fork", 5, "witness") in log.alarms.reasons()


def _resign(log, size):
    """A checkpoint over the (rewritten) table, signed with the log's own key, as its holder could."""
    unsigned = Checkpoint(KEY, size, root(log.leaves(size)).hex(), "2026-03-10T10:00:00.000000Z", log.log_signer.key_id)
    return StoredCheckpoint(unsigned.with_signature(log.log_signer.sign(unsigned.signed_message())), [], None, None)


def test_the_cosignature_text_round_trips_and_refuses_malformed_text(log):
    log.append(2)
    log.sign()
    cosigned = log.submitter.submit("t1", CHAIN, log.store)
    assert Cosignature.from_text(cosigned.to_text()) == cosigned
    text = cosigned.to_text()
    for broken in (text.replace("scelle-cosignature/v1", "x"), text[:-1], text.replace("\n\n", "\n"),
                   text.replace("time ", "when ")):
        with pytest.raises(CosignatureError):
            Cosignature.from_text(broken)


class _FakeLambda:
    """Invokes the witness function's handler in process, as Lambda would (JSON in, JSON out)."""

    def __init__(self, witness) -> None:
        self.witness = witness

    def invoke(self, *, FunctionName, InvocationType, Payload):
        answer = handle_witness_request(self.witness, json.loads(Payload))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_the_lambda_client_and_the_in_process_witness_behave_alike(log):
    client = LambdaWitnessClient(_FakeLambda(log.witness), "scelle-witness")
    submitter = WitnessSubmitter(client, checkpoint_store=log.checkpoint_store, ops=log.ops, alarms=log.alarms)
    log.append(3)
    log.sign()
    assert submitter.submit("t1", CHAIN, log.store).size == 3
    log.append(3)
    log.sign()
    assert submitter.submit("t1", CHAIN, log.store).size == 6
    assert client.key_id == log.witness.key_id
    other = Checkpoint(KEY, 6, "ab" * 32, "2026-03-10T10:00:00.000000Z", log.log_signer.key_id)
    with pytest.raises(WitnessRefused) as fork:
        client.add_checkpoint(other.with_signature(log.log_signer.sign(other.signed_message())), 6, [])
    assert fork.value.reason == "witness_fork"
