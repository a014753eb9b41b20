"""The signer verifies before it signs (decision 0019).

Each tamper case proves that nothing is signed, that ``SigningRefused`` and a tamper alarm name
the first bad seq, and that a gap is never signed as a shorter tree. On an untouched chain the
signer signs exactly the root of entries 1..head, reading only the entries since the previous
checkpoint.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo, SigningRefused, verify_checkpoint
from chalicelib.domain.merkle import CompactRange, record_leaf_hash, root
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, seal
from chalicelib.ports.checkpoints import StoredCheckpoint
from chalicelib.ports.signatures import signature_verifier_for
from chalicelib.services.checkpoints import CheckpointService, KeyRegistry
from tests.support.alarms import RecordedAlarms

TENANT, CHAIN = "acme", "prod.sales.R1"
KEY = chain_key(TENANT, CHAIN)




class CountingStore(InMemoryChainStore):
    """Records which ranges the signer reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int | None]] = []
        self.gets: list[int] = []

    def raw_items(self, chain_key, first_seq=1, last_seq=None):
        self.reads.append((first_seq, last_seq))
        return super().raw_items(chain_key, first_seq, last_seq)

    def get(self, chain_key, seq):
        self.gets.append(seq)
        return super().get(chain_key, seq)

    def item(self, seq: int) -> dict:
        return dict(self._chains[KEY][seq])


@dataclasses.dataclass
class World:
    store: CountingStore
    checkpoints: InMemoryCheckpointStore
    signer: LocalSigner
    keys: KeyRegistry
    service: CheckpointService
    alarms: RecordedAlarms
    records: list[SealedRecord]

    def append(self, n: int) -> None:
        for _ in range(n):
            prev = self.records[-1].hash if self.records else GENESIS_PREV_HASH
            seq = len(self.records) + 1
            record = seal(TENANT, CHAIN, seq, "memo", f"2026-11-23T08:00:00.{seq:06d}Z", False,
                          {"n": seq, "note": f"memo {seq}"}, prev)
            self.store.append(record)
            self.records.append(record)

    def sign(self) -> Checkpoint:
        self.store.reads.clear()
        self.store.gets.clear()
        return self.service.checkpoint(TENANT, CHAIN)

    def true_root(self, size: int) -> str:
        return root([record_leaf_hash(r.hash) for r in self.records[:size]]).hex()

    def replace(self, seq: int, item: dict) -> None:
        self.store.tamper_replace(KEY, seq, item)

    def rehash(self, seq: int, change=lambda item: None) -> dict:
        """Change entry ``seq`` and recompute its own hash (its link stays as ``change`` left it)."""
        item = self.store.item(seq)
        change(item)
        item["hash"] = SealedRecord.from_item({**item, "hash": "0" * 64}).compute_hash()
        self.replace(seq, item)
        return item

    def rewrite_from(self, seq: int, change) -> None:
        """A careful forger: change entry ``seq`` and rehash and relink every entry after it."""
        prev = self.store.item(seq - 1)["hash"] if seq > 1 else GENESIS_PREV_HASH
        for s in range(seq, len(self.records) + 1):
            def relink(item, s=s, prev=prev):
                if s == seq:
                    change(item)
                item["prev_hash"] = prev
            prev = self.rehash(s, relink)["hash"]

    def put_stored(self, stored: StoredCheckpoint) -> None:
        self.checkpoints._items[KEY][stored.checkpoint.size] = stored

    def latest_size(self) -> int:
        latest = self.checkpoints.latest(KEY)
        return latest.checkpoint.size if latest else 0


@pytest.fixture
def world(tmp_path) -> World:
    store, checkpoints, alarms = CountingStore(), InMemoryCheckpointStore(), RecordedAlarms()
    signer = LocalSigner(tmp_path, "signer")
    keys = KeyRegistry(checkpoints, signer, alarms=alarms)
    service = CheckpointService(store, checkpoints, signer, keys, alarms=alarms)
    return World(store, checkpoints, signer, keys, service, alarms, [])


def _refused(world: World, reason: str, seq: int | None) -> SigningRefused:
    before = world.latest_size()
    with pytest.raises(SigningRefused) as caught:
        world.sign()
    assert (caught.value.reason, caught.value.first_bad_seq) == (reason, seq), caught.value.detail
    assert world.latest_size() == before, "nothing may be signed"
    assert [(a.reason, a.seq, a.source) for a in world.alarms.named(reason)] == [(reason, seq, "signer")]
    return caught.value


# -- an untouched chain ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_on_an_untouched_chain_each_checkpoint_signs_the_root_of_every_entry_so_far(world, seed):
    rng = random.Random(seed)
    published = None
    for _ in range(8):
        world.append(rng.choice([1, 2, 3, 7, 31, 64, 100]))
        signed = world.sign()
        assert (signed.size, signed.root) == (len(world.records), world.true_root(len(world.records)))
        published = world.keys.published()
        assert verify_checkpoint(signed, published, signature_verifier_for(published))
    assert world.alarms.raised == []


def test_the_signer_reads_only_the_entries_since_the_previous_checkpoint(world):
    world.append(100)
    world.sign()
    assert world.store.reads == [(1, 100)]  # the first checkpoint of a chain reads it from seq 1
    world.append(100)
    world.sign()
    assert world.store.reads == [(101, 200)]  # never from seq 1 again
    assert world.store.gets == []


def test_the_stored_checkpoint_ties_its_last_entry_hash_to_its_signed_root(world):
    world.append(100)
    world.sign()
    stored = world.checkpoints.latest(KEY)
    assert stored.last_hash == world.records[99].hash
    before = CompactRange.from_state(99, stored.frontier[:-1] + stored.last_path)
    before.append(record_leaf_hash(stored.last_hash))
    assert before.root().hex() == stored.checkpoint.root


def test_nothing_new_returns_the_latest_checkpoint_and_an_empty_chain_none(world):
    assert world.sign() is None
    world.append(3)
    first = world.sign()
    assert world.sign() == first


# -- tampered entries -------------------------------------------------------------------------------


def test_a_modified_entry_content_is_refused_at_its_seq(world):
    world.append(100)
    world.sign()
    world.append(100)
    item = world.store.item(137)
    item["data"] = {**item["data"], "note": "rewritten"}
    world.replace(137, item)
    error = _refused(world, "hash_mismatch", 137)
    assert "seq 137" in error.detail


def test_an_entry_with_a_correct_hash_but_a_broken_link_is_refused_at_its_seq(world):
    world.append(100)
    world.sign()
    world.append(100)
    world.rehash(150, lambda item: item.update(prev_hash="ab" * 32))  # its own hash recomputed: only the link breaks
    _refused(world, "broken_link", 150)


def test_a_gap_is_refused_at_the_missing_seq_and_never_signed_as_a_shorter_tree(world):
    world.append(100)
    world.sign()
    world.append(100)
    world.store.tamper_delete(KEY, 150)
    _refused(world, "gap", 150)
    assert world.checkpoints.latest_at_or_below(KEY, 199).checkpoint.size == 100


@pytest.mark.parametrize("missing", [101, 199])
def test_a_gap_next_to_the_anchor_or_the_head_is_refused(world, missing):
    world.append(100)
    world.sign()
    world.append(100)
    world.store.tamper_delete(KEY, missing)
    _refused(world, "gap", missing)


def test_entries_rewritten_and_rehashed_from_the_anchor_s_last_entry_are_refused_at_that_entry(world):
    world.append(100)
    world.sign()
    world.append(50)
    world.rewrite_from(100, lambda item: item["data"].update(note="rewritten"))
    # Entry 101 links to the rewritten 100, not to the hash the checkpoint at 100 signed: 100 is named.
    error = _refused(world, "checkpoint_mismatch", 100)
    assert "seq 100 was rewritten after it was signed" in error.detail


def test_the_anchor_s_last_entry_rewritten_with_one_entry_after_it_is_named(world):
    world.append(100)
    world.sign()
    world.append(1)
    world.rewrite_from(100, lambda item: item["data"].update(note="rewritten"))
    _refused(world, "checkpoint_mismatch", 100)


def test_an_entry_after_the_anchor_rewritten_alone_is_named_itself(world):
    world.append(100)
    world.sign()
    world.append(50)
    world.rehash(101, lambda item: item.update(prev_hash="ab" * 32))
    _refused(world, "broken_link", 101)


def test_the_first_checkpoint_of_a_chain_verifies_from_seq_1(world):
    world.append(10)
    world.rehash(4, lambda item: item["data"].update(note="x"))
    _refused(world, "broken_link", 5)


# -- the checkpoint item's unsigned attributes ----------------------------------------------------


def test_a_tampered_frontier_is_alarmed_and_no_wrong_root_is_signed(world):
    world.append(100)
    world.sign()
    world.append(100)
    stored = world.checkpoints.latest(KEY)
    forged = CompactRange.from_state(100, stored.frontier)
    forged = [h.hex() for h in forged.hashes]
    forged[-1] = "00" * 32  # one write to the frontier attribute
    world.put_stored(dataclasses.replace(stored, frontier=forged))
    signed = world.sign()
    # The frontier does not rebuild the signed root: recomputed from seq 1, the right root is signed.
    assert (signed.size, signed.root) == (200, world.true_root(200))
    assert [(a.reason, a.seq, a.source) for a in world.alarms.raised] == [("frontier_mismatch", 100, "signer")]
    assert world.store.reads == [(1, 200)]


def test_a_tampered_frontier_over_a_rewritten_chain_is_refused_at_the_checkpoint(world):
    world.append(100)
    world.sign()
    world.append(100)
    world.rewrite_from(40, lambda item: item["data"].update(note="rewritten"))
    stored = world.checkpoints.latest(KEY)
    world.put_stored(dataclasses.replace(stored, frontier=["11" * 32, "22" * 32, "33" * 32]))
    _refused(world, "checkpoint_mismatch", 100)
    assert world.alarms.named("frontier_mismatch")[0].seq == 100


def test_a_tampered_last_hash_is_alarmed_and_the_last_subtree_is_read_instead(world):
    world.append(96)  # 96 = 64 + 32: its last perfect subtree is entries 65..96
    world.sign()
    world.append(10)
    stored = world.checkpoints.latest(KEY)
    world.put_stored(dataclasses.replace(stored, last_hash="cd" * 32))
    signed = world.sign()
    assert (signed.size, signed.root) == (106, world.true_root(106))
    assert world.store.reads == [(65, 106)]
    assert [(a.reason, a.seq) for a in world.alarms.raised] == [("frontier_mismatch", 96)]


def test_a_checkpoint_stored_before_the_last_hash_was_kept_is_resumed_from_its_last_subtree(world):
    world.append(96)
    world.sign()
    stored = world.checkpoints.latest(KEY)
    world.put_stored(StoredCheckpoint(stored.checkpoint, stored.frontier))  # as written before decision 0019
    world.append(10)
    signed = world.sign()
    assert (signed.size, signed.root) == (106, world.true_root(106))
    assert world.store.reads == [(65, 106)]
    assert world.alarms.raised == []


def test_a_rewritten_entry_under_a_legacy_checkpoint_is_refused_at_the_checkpoint(world):
    world.append(96)
    world.sign()
    stored = world.checkpoints.latest(KEY)
    world.put_stored(StoredCheckpoint(stored.checkpoint, stored.frontier))
    world.append(10)
    world.rewrite_from(90, lambda item: item["data"].update(note="rewritten"))
    _refused(world, "checkpoint_mismatch", 96)


def test_a_previous_checkpoint_re_signed_by_another_key_is_refused(world, tmp_path):
    world.append(100)
    world.sign()
    world.append(10)
    stored = world.checkpoints.latest(KEY)
    rogue = LocalSigner(tmp_path, "rogue")
    cp = stored.checkpoint
    forged = dataclasses.replace(cp, signature=b"").with_signature(rogue.sign(cp.signed_message()))
    world.put_stored(dataclasses.replace(stored, checkpoint=forged))
    _refused(world, "bad_signature", 100)


# -- the Merkle root a closure seals --------------------------------------------------------------


def test_compact_at_verifies_the_entries_since_the_checkpoint_below(world):
    world.append(100)
    world.sign()
    world.append(30)
    assert world.service.root_at(TENANT, CHAIN, 130) == world.true_root(130)
    assert world.service.root_at(TENANT, CHAIN, 100) == world.true_root(100)
    world.rehash(120, lambda item: item["data"].update(note="x"))
    with pytest.raises(SigningRefused) as caught:
        world.service.compact_at(TENANT, CHAIN, 130)
    assert (caught.value.reason, caught.value.first_bad_seq) == ("broken_link", 121)
    world.store.tamper_delete(KEY, 125)
    with pytest.raises(SigningRefused) as caught:
        world.service.compact_at(TENANT, CHAIN, 130)
    assert caught.value.first_bad_seq == 121  # still the first bad seq


def test_compact_at_refuses_a_gap_before_its_size(world):
    world.append(20)
    world.store.tamper_delete(KEY, 20)
    world.store.tamper_delete(KEY, 19)
    with pytest.raises(SigningRefused) as caught:
        world.service.compact_at(TENANT, CHAIN, 20)
    assert (caught.value.reason, caught.value.first_bad_seq) == ("gap", 19)


# -- an event chain, whose entries expire ---------------------------------------------------------


def test_an_event_chain_with_an_expired_subtree_links_a_legacy_checkpoint_to_its_stored_last_entry(world):
    service = CheckpointService(world.store, world.checkpoints, world.signer, world.keys, alarms=world.alarms,
                                entries_expire=True)
    world.append(64)
    service.checkpoint(TENANT, CHAIN)
    stored = world.checkpoints.latest(KEY)
    world.put_stored(StoredCheckpoint(stored.checkpoint, stored.frontier))  # a legacy item
    for seq in range(1, 64):  # expired
        world.store.tamper_delete(KEY, seq)
    world.append(5)
    signed = service.checkpoint(TENANT, CHAIN)
    assert (signed.size, signed.root) == (69, world.true_root(69))
    assert world.alarms.raised == []


def test_an_event_chain_with_a_tampered_frontier_and_expired_entries_is_refused_without_a_false_gap(world):
    service = CheckpointService(world.store, world.checkpoints, world.signer, world.keys, alarms=world.alarms,
                                entries_expire=True)
    world.append(64)
    service.checkpoint(TENANT, CHAIN)
    stored = world.checkpoints.latest(KEY)
    world.put_stored(dataclasses.replace(stored, frontier=["11" * 32]))
    for seq in range(1, 60):
        world.store.tamper_delete(KEY, seq)
    world.append(5)
    with pytest.raises(SigningRefused) as caught:
        service.checkpoint(TENANT, CHAIN)
    assert (caught.value.reason, caught.value.first_bad_seq) == ("frontier_mismatch", 64)
    assert [(a.reason, a.seq) for a in world.alarms.raised] == [("frontier_mismatch", 64)]


# -- published keys -------------------------------------------------------------------------------


def test_a_published_key_whose_pem_was_swapped_under_the_signer_s_id_is_refused(world, tmp_path):
    world.append(100)
    world.sign()
    world.append(10)
    current = world.keys.ensure_current()
    rogue = LocalSigner(tmp_path, "rogue")
    world.checkpoints.put_key(PublicKeyInfo(current.key_id, current.not_before, None, rogue.public_key_pem()))
    with pytest.raises(SigningRefused) as caught:
        world.sign()
    assert (caught.value.reason, caught.value.first_bad_seq) == ("key_mismatch", None)
    assert world.latest_size() == 100
    # No verifier is handed the swapped key, and the swap is alarmed once.
    assert current.key_id not in [k.key_id for k in world.keys.published()]
    assert [(a.reason, a.source, a.chain) for a in world.alarms.raised] == [("key_mismatch", "key_registry", "keys")]
    assert "replaced under this id" in world.alarms.raised[0].detail


def test_a_retired_key_swapped_under_its_id_is_left_out_and_old_checkpoints_cannot_anchor(world, tmp_path):
    world.append(100)
    world.sign()
    old = world.keys.ensure_current()
    # GIVEN a rotation, then the retired key's PEM swapped
    new_signer = LocalSigner(tmp_path, "next")
    keys = KeyRegistry(world.checkpoints, new_signer, clock=lambda: _after(old.not_before), alarms=world.alarms)
    service = CheckpointService(world.store, world.checkpoints, new_signer, keys, alarms=world.alarms)
    keys.ensure_current()
    retired = next(k for k in world.checkpoints.keys() if k.key_id == old.key_id)
    rogue = LocalSigner(tmp_path, "rogue")
    world.checkpoints.put_key(dataclasses.replace(retired, public_key_pem=rogue.public_key_pem()))
    world.append(10)
    with pytest.raises(SigningRefused) as caught:
        service.checkpoint(TENANT, CHAIN)
    assert (caught.value.reason, caught.value.first_bad_seq) == ("key_not_valid", 100)
    assert old.key_id not in [k.key_id for k in keys.published()]
    assert {a.reason for a in world.alarms.raised} == {"key_mismatch", "key_not_valid"}


class LegacyKmsLike:
    """A signer whose key was published, before key ids carried a fingerprint, under a bare id."""

    def __init__(self, inner: LocalSigner, previous: str) -> None:
        self.inner, self.key_id, self.previous_key_ids = inner, inner.key_id, (previous,)

    def sign(self, message: bytes) -> bytes:
        return self.inner.sign(message)

    def public_key_pem(self) -> str:
        return self.inner.public_key_pem()


ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_legacy_id_of_the_signer_s_own_key_is_checked_against_its_public_key(tmp_path):
    store, alarms = InMemoryCheckpointStore(), RecordedAlarms()
    signer = LegacyKmsLike(LocalSigner(tmp_path, "kms"), ARN)
    store.put_key(PublicKeyInfo(ARN, "2026-01-01T00:00:00.000000Z", None, signer.public_key_pem()))
    registry = KeyRegistry(store, signer, alarms=alarms)
    registry.ensure_current()  # the signer publishes (readers never do)
    assert [k.key_id for k in registry.published()] == [ARN, signer.key_id]  # the legacy id is closed, kept
    # WHEN its PEM is swapped under the legacy id, THEN it is refused
    legacy = next(k for k in store.keys() if k.key_id == ARN)
    store.put_key(dataclasses.replace(legacy, public_key_pem=LocalSigner(tmp_path, "rogue").public_key_pem()))
    registry = KeyRegistry(store, signer, alarms=alarms)
    assert [k.key_id for k in registry.published()] == [signer.key_id]
    assert [a.reason for a in alarms.raised] == ["key_mismatch"]


def test_a_legacy_id_of_another_key_stays_usable_as_published(tmp_path):
    store = InMemoryCheckpointStore()
    other = LocalSigner(tmp_path, "other")
    store.put_key(PublicKeyInfo("scelle-test-2026", "2025-01-01T00:00:00.000000Z", "2025-06-01T00:00:00.000000Z",
                                other.public_key_pem()))
    registry = KeyRegistry(store, LocalSigner(tmp_path, "signer"))
    assert "scelle-test-2026" in [k.key_id for k in registry.published()]


def test_the_signer_never_publishes_a_key_its_id_does_not_name(tmp_path):
    class Mislabelled(LocalSigner):
        def public_key_pem(self) -> str:
            return LocalSigner(tmp_path, "other").public_key_pem()

    store = InMemoryCheckpointStore()
    with pytest.raises(SigningRefused, match="refusing to publish"):
        KeyRegistry(store, Mislabelled(tmp_path, "signer")).ensure_current()
    assert store.keys() == []


def _after(not_before: str):
    from datetime import timedelta

    from chalicelib.domain.records import parse_timestamp

    return parse_timestamp(not_before) + timedelta(days=1)
