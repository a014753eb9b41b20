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
