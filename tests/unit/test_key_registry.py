from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.config import ConfigError
from chalicelib.services.checkpoints import KeyRegistry


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now


def test_the_first_key_is_published_open_ended(tmp_path):
    store, clock = InMemoryCheckpointStore(), Clock()
    key = KeyRegistry(store, LocalSigner(tmp_path, "a"), clock=clock).ensure_current()
    assert key.not_after is None
    assert key.not_before == "2026-01-01T00:00:00.000000Z"


def test_rotating_closes_the_old_key_at_that_instant_and_keeps_it_published(tmp_path):
    store, clock = InMemoryCheckpointStore(), Clock()
    old = KeyRegistry(store, LocalSigner(tmp_path, "a"), clock=clock).ensure_current()
    clock.now += timedelta(days=30)
    new = KeyRegistry(store, LocalSigner(tmp_path, "b"), clock=clock).ensure_current()
    published = {k.key_id: k for k in store.keys()}
    assert published[old.key_id].not_after == new.not_before == "2026-01-31T00:00:00.000000Z"
    assert published[new.key_id].not_after is None


def test_a_retired_key_cannot_be_brought_back(tmp_path):
    store, clock = InMemoryCheckpointStore(), Clock()
    KeyRegistry(store, LocalSigner(tmp_path, "a"), clock=clock).ensure_current()
    clock.now += timedelta(days=1)
    KeyRegistry(store, LocalSigner(tmp_path, "b"), clock=clock).ensure_current()
    with pytest.raises(ConfigError, match="retired"):
        KeyRegistry(store, LocalSigner(tmp_path, "a"), clock=clock).ensure_current()


def test_two_processes_publishing_the_same_new_key_agree_on_its_not_before(tmp_path):
    # GIVEN the scheduler read the key list before the API published the new key (a stale read)
    class StaleFirstRead(InMemoryCheckpointStore):
        def __init__(self, shared):
            self.__dict__ = shared.__dict__
            self.stale = True

        def keys(self):
            if self.stale:
                self.stale = False
                return []
            return super().keys()

    store = InMemoryCheckpointStore()
    api_clock, scheduler_clock = Clock(), Clock()
    scheduler_clock.now += timedelta(milliseconds=5)
    signer = LocalSigner(tmp_path, "a")
    published = KeyRegistry(store, signer, clock=api_clock).ensure_current()
    # WHEN the scheduler, working from its stale read, publishes the same key a moment later
    again = KeyRegistry(StaleFirstRead(store), signer, clock=scheduler_clock).ensure_current()
    # THEN the first publication stands: a checkpoint the API signed right after it stays valid
    assert again.not_before == published.not_before == "2026-01-01T00:00:00.000000Z"
    assert [k.not_before for k in store.keys()] == [published.not_before]


def test_readers_publish_nothing_and_a_signer_moves_keys_out_of_the_ops_table_once(tmp_path):
    """Issue 14 item 3: keys live in a table only signers may write. Keys published in ops before
    it existed are read from there until the first signer moves them over (a swapped PEM is not
    carried over)."""
    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.domain.checkpoint import PublicKeyInfo
    from chalicelib.services.checkpoints import KeyRegistry

    class TwoTables:
        def __init__(self) -> None:
            self.table, self.legacy = {}, {}

        def keys(self):
            return sorted(self.table.values(), key=lambda k: k.not_before)

        def legacy_keys(self):
            return sorted(self.legacy.values(), key=lambda k: k.not_before)

        def put_key(self, key, *, if_absent=False):
            self.table[key.key_id] = key

    signer = LocalSigner(tmp_path, "now")
    old = LocalSigner(tmp_path, "old")
    rogue = LocalSigner(tmp_path, "rogue")
    store = TwoTables()
    store.legacy[old.key_id] = PublicKeyInfo(old.key_id, "2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z",
                                             old.public_key_pem())
    swapped = LocalSigner(tmp_path, "swapped")
    store.legacy[swapped.key_id] = PublicKeyInfo(swapped.key_id, "2026-01-01T00:00:00.000000Z", None,
                                                 rogue.public_key_pem())
    reader = KeyRegistry(store, signer)
    assert [k.key_id for k in reader.published()] == [old.key_id]  # from ops, until moved; nothing written
    assert store.table == {}
    KeyRegistry(store, signer).ensure_current()
    assert set(store.table) == {old.key_id, signer.key_id}  # moved and published; the swapped PEM left behind
    assert [k.key_id for k in KeyRegistry(store, signer).published()] == [old.key_id, signer.key_id]
