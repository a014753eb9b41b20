"""Inclusion proofs from tiles (decision 0026): the signer stores the tiles of each tree it signs,
reading no more entries than before; GET entry and the receipt check build their proofs from at
most two tiles per level and no entry, byte-identical to the proofs over all the leaves; a
changed tile fails against the signed root, as an altered entry does; a chain signed before
tiles still answers (from its entries), until its tiles are backfilled."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.adapters.tile_store import InMemoryTileStore
from chalicelib.domain.merkle import inclusion_proof, record_leaf_hash, root
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, seal
from chalicelib.domain.tiles import TileId, edge_tiles
from chalicelib.receipts import TokenBucket
from chalicelib.services.checkpoints import CheckpointService, KeyRegistry
from chalicelib.services.ledger import LedgerService
from tests.support.alarms import RecordedAlarms

TENANT, CHAIN = "acme", "prod.sales.R1"
KEY = chain_key(TENANT, CHAIN)


class CountingChainStore(InMemoryChainStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple] = []

    def raw_items(self, chain_key, first_seq=1, last_seq=None):
        self.reads.append(("raw_items", first_seq, last_seq))
        return super().raw_items(chain_key, first_seq, last_seq)

    def scan(self, chain_key, first_seq=1, last_seq=None):
        self.reads.append(("scan", first_seq, last_seq))
        return (SealedRecord.from_item(item) for item in super().raw_items(chain_key, first_seq, last_seq))

    def get(self, chain_key, seq):
        self.reads.append(("get", seq))
        return super().get(chain_key, seq)


class CountingCheckpointStore(InMemoryCheckpointStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def latest(self, chain_key):
        self.calls.append("latest")
        return super().latest(chain_key)

    def list(self, chain_key):
        self.calls.append("list")
        return super().list(chain_key)


@dataclasses.dataclass
class World:
    store: CountingChainStore
    checkpoints: CountingCheckpointStore
    tiles: InMemoryTileStore
    service: CheckpointService
    alarms: RecordedAlarms
    records: list[SealedRecord]
    signer: LocalSigner

    def append(self, n: int) -> None:
        chain = self.store._chains.setdefault(KEY, {})
        prev = self.records[-1].hash if self.records else GENESIS_PREV_HASH
        for _ in range(n):
            seq = len(self.records) + 1
            record = seal(TENANT, CHAIN, seq, "sale", f"2026-11-23T08:00:00.{seq % 1_000_000:06d}Z", False,
                          {"n": seq}, prev)
            chain[seq] = record.to_dict()  # as InMemoryChainStore.append stores it, without its per-item lock
            self.records.append(record)
            prev = record.hash

    def grow_and_sign(self, size: int) -> None:
        self.append(size - len(self.records))
        self.store.reads.clear()
        assert self.service.checkpoint(TENANT, CHAIN).size == size

    def leaves(self, size: int) -> list[bytes]:
        return [record_leaf_hash(r.hash) for r in self.records[:size]]

    def service_with(self, tiles) -> CheckpointService:
        keys = KeyRegistry(self.checkpoints, self.signer, alarms=self.alarms)
        return CheckpointService(self.store, self.checkpoints, self.signer, keys, alarms=self.alarms, tiles=tiles)


@pytest.fixture
def world(tmp_path) -> World:
    store, checkpoints, tiles, alarms = CountingChainStore(), CountingCheckpointStore(), InMemoryTileStore(), \
        RecordedAlarms()
    signer = LocalSigner(tmp_path, "signer")
    keys = KeyRegistry(checkpoints, signer, alarms=alarms)
    service = CheckpointService(store, checkpoints, signer, keys, alarms=alarms, tiles=tiles)
    return World(store, checkpoints, tiles, service, alarms, [], signer)


def _integrity(record, proof) -> str:
    """LedgerService.integrity, as GET entry runs it (no alarm, the stream verifier past it)."""
    ledger = LedgerService.__new__(LedgerService)
    ledger._alarms, ledger._verified_head = None, lambda key: 10**9
    return ledger.integrity(TENANT, CHAIN, record, proof)


def test_tiles_stored_at_odd_checkpoint_sizes_give_the_full_tree_proofs_without_reading_entries(world):
    for size in (1, 255, 256, 257, 300, 511, 512, 513, 1000):
        before = len(world.tiles._items)
        world.grow_and_sign(size)
        assert world.store.reads == [("raw_items", world.checkpoints.list(KEY)[-2].checkpoint.size + 1, size)
                                     if size > 1 else ("raw_items", 1, size)]  # the same reads as without tiles
        assert len(world.tiles._items) > before and set(edge_tiles(size)) <= {
            TileId.from_sk(sk) for (_, sk) in world.tiles._items}
        leaves = world.leaves(size)
        for seq in sorted(s for s in {1, 2, size // 2 + 1, size - 1, size} if 1 <= s <= size):
            world.store.reads.clear()
            proof = world.service.inclusion(TENANT, CHAIN, seq)
            assert world.store.reads == []  # no entry read
            assert proof["hashes"] == [h.hex() for h in inclusion_proof(leaves, seq - 1)], (size, seq)
            assert proof["root"] == root(leaves).hex() and proof["tree_size"] == size
            assert _integrity(world.records[seq - 1], proof) == "verified"
    assert not world.alarms.raised


def test_get_entry_on_a_70000_entry_chain_reads_a_bounded_number_of_items(world):
    for size in (65_536, 65_537, 70_000):
        world.grow_and_sign(size)
    leaves = world.leaves(70_000)
    for seq in (1, 256, 257, 65_536, 65_537, 69_999, 70_000, 12_345):
        world.store.reads.clear()
        world.checkpoints.calls.clear()
        reads, items = world.tiles.reads, world.tiles.items_read
        proof = world.service.inclusion(TENANT, CHAIN, seq)
        assert world.store.reads == [] and world.checkpoints.calls == ["latest"]
        assert world.tiles.reads - reads == 1 and world.tiles.items_read - items <= 6  # 2 * ceil(log256 70,000)
        assert proof["hashes"] == [h.hex() for h in inclusion_proof(leaves, seq - 1)], seq
        assert _integrity(world.records[seq - 1], proof) == "verified"


def test_a_changed_tile_fails_against_the_signed_root_and_the_entry_reads_altered(world, monkeypatch):
    # The service's own logger (Powertools) may not propagate to the root logger, which caplog reads.
    import chalicelib.services.checkpoints as checkpoints_module

    errors: list[str] = []
    monkeypatch.setattr(checkpoints_module.logger, "error", lambda message, *a, **kw: errors.append(message))
    world.grow_and_sign(1000)
    tid = TileId(0, 2, 256)  # leaves 513..768: seq 700's own tile
    data = world.tiles._items[(KEY, tid.sk)]
    world.tiles.tamper(KEY, tid, data[:32 * 188] + bytes(32) + data[32 * 189:])  # its neighbour, seq 701
    proof = world.service.inclusion(TENANT, CHAIN, 702)
    assert _integrity(world.records[701], proof) == "altered"
    assert any("the stored tiles do not rebuild the signed root" in m for m in errors)
    assert world.store.reads[-1:] != [("scan", 1, 1000)]  # no fallback to reading the chain
    assert _integrity(world.records[99], world.service.inclusion(TENANT, CHAIN, 100)) == "verified"  # other tiles
    # the receipt check says the same
    verifier = _receipts(world)
    answer = verifier.verify(TENANT, CHAIN, 702, world.records[701].hash, client="c")
    assert answer["status"] == "altered"
    assert verifier.verify(TENANT, CHAIN, 100, world.records[99].hash, client="c")["status"] == "genuine"


def test_a_changed_edge_tile_is_alarmed_at_the_next_signature_and_signing_goes_on(world):
    world.grow_and_sign(300)
    tid = TileId(0, 1, 44)
    world.tiles.tamper(KEY, tid, bytes(44 * 32))
    world.grow_and_sign(400)
    assert [a.reason for a in world.alarms.raised] == ["tile_mismatch"]
    assert (KEY, TileId(0, 1, 144).sk) not in world.tiles._items  # nothing built on the changed tile
    proof = world.service.inclusion(TENANT, CHAIN, 350)  # no tile of size 400: read from the entries
    assert proof["hashes"] == [h.hex() for h in inclusion_proof(world.leaves(400), 349)]
    assert world.store.reads[-1] == ("scan", 1, 400)


def _receipts(world, tiles="same"):
    from chalicelib.receipts import ReceiptVerifier

    return ReceiptVerifier(journal_store=world.store, checkpoint_store=world.checkpoints,
                           tile_store=world.tiles if tiles == "same" else tiles,
                           limiter=TokenBucket(capacity=10_000))


def _sales(world):
    """The world's records are sales without a payload a receipt shows: enough for the proof."""
    for record in world.records:
        world.store._chains[KEY][record.seq]["type"] = "sale"


def test_the_receipt_check_reads_one_checkpoint_and_one_batch_of_tiles(world):
    for size in (300, 65_537, 70_000):
        world.grow_and_sign(size)
    _sales(world)
    verifier = _receipts(world)
    for seq in (1, 257, 65_537, 70_000, 33_333):
        world.store.reads.clear()
        world.checkpoints.calls.clear()
        reads = world.tiles.reads
        answer = verifier.verify(TENANT, CHAIN, seq, world.records[seq - 1].hash, client="c")
        assert answer["status"] == "genuine" and answer["checkpoint"]["size"] == 70_000
        assert answer["proof"]["hashes"] == [h.hex() for h in inclusion_proof(world.leaves(70_000), seq - 1)]
        assert world.store.reads == [("get", seq)] and world.checkpoints.calls == ["latest"]
        assert world.tiles.reads - reads == 1


def test_a_chain_signed_before_tiles_answers_from_its_entries_until_backfilled(world):
    untiled = world.service_with(None)  # the signer before this change
    world.append(700)
    assert untiled.checkpoint(TENANT, CHAIN).size == 700
    world.grow_and_sign(800)  # the new signer: its anchor has no tiles, so neither has this tree
    assert world.tiles._items == {} and not world.alarms.raised
    leaves = world.leaves(800)
    world.store.reads.clear()
    proof = world.service.inclusion(TENANT, CHAIN, 5)
    assert proof["hashes"] == [h.hex() for h in inclusion_proof(leaves, 4)]
    assert world.store.reads == [("scan", 1, 800)]  # as before tiles
    _sales(world)
    answer = _receipts(world).verify(TENANT, CHAIN, 5, world.records[4].hash, client="c")
    assert answer["status"] == "genuine" and "list" in world.checkpoints.calls  # from the checkpoints' ranges
    # backfill: the chain is read once, checked against its newest checkpoint, and tiled
    world.store.reads.clear()
    assert world.service.backfill_tiles(TENANT, CHAIN) == 5  # 3 full level-0 tiles, the edges of levels 0, 1
    assert world.store.reads == [("raw_items", 1, 800)]
    assert world.service.backfill_tiles(TENANT, CHAIN) == 0
    world.grow_and_sign(1100)  # extends the backfilled tiles, reading only entries 801..1100
    assert world.store.reads == [("raw_items", 801, 1100)]
    world.store.reads.clear()
    assert world.service.inclusion(TENANT, CHAIN, 5)["hashes"] == [
        h.hex() for h in inclusion_proof(world.leaves(1100), 4)]
    assert world.store.reads == []


def test_the_first_checkpoint_and_a_resigned_size_store_tiles_once(world):
    world.grow_and_sign(3)
    writes = world.tiles.writes
    assert world.tiles.put_many(KEY, {TileId(0, 0, 3): b"".join(world.leaves(3))}) == []  # a retry: no-op
    assert world.tiles.writes == writes
    assert world.tiles.put_many(KEY, {TileId(0, 0, 3): bytes(96)}) == [TileId(0, 0, 3)]  # differs: reported
    assert world.tiles._items[(KEY, TileId(0, 0, 3).sk)] == b"".join(world.leaves(3))  # not overwritten


def test_an_entry_altered_after_signing_still_reads_altered(world):
    world.grow_and_sign(600)
    record = world.records[41]
    changed = SimpleNamespace(seq=record.seq, hash="0" * 64)  # what the table now holds for seq 42
    assert _integrity(changed, world.service.inclusion(TENANT, CHAIN, 42)) == "altered"
