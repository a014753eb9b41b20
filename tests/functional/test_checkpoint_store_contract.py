"""One contract for the checkpoint stores (DynamoDB on the embedded stack, and in memory)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.errors import Conflict
from chalicelib.ports.checkpoints import StoredCheckpoint

pytestmark = pytest.mark.functional


@pytest.fixture(params=["dynamodb", "memory"])
def store(request, container):
    return container.checkpoint_store if request.param == "dynamodb" else InMemoryCheckpointStore()


def _stored(key: str, size: int) -> StoredCheckpoint:
    cp = Checkpoint(chain_key=key, size=size, root=f"{size:064x}", timestamp="2026-12-05T10:00:00.000000Z",
                    key_id="local:test", signature=b"sig")
    return StoredCheckpoint(cp, [f"{size:064x}"])


def test_the_newest_checkpoint_at_or_below_a_size_is_read_directly(store):
    key = f"TENANT#t-{uuid.uuid4().hex[:8]}#CHAIN#prod.sales.R1"
    assert store.latest_at_or_below(key, 1000) is None
    for size in (100, 200, 300):
        store.put(_stored(key, size))
    assert store.latest_at_or_below(key, 99) is None
    assert store.latest_at_or_below(key, 100).checkpoint.size == 100
    assert store.latest_at_or_below(key, 299).checkpoint.size == 200
    assert store.latest_at_or_below(key, 10**9).checkpoint.size == 300
    assert store.latest_at_or_below(key, 250) == store.list(key)[1]
    with pytest.raises(Conflict):
        store.put(_stored(key, 200))


def test_the_checkpoints_from_a_size_on_are_listed_alone(store):
    """A ranged verification reads its anchor's checkpoint and those after it, not the chain's
    whole history (decision 0028)."""
    key = f"TENANT#t-{uuid.uuid4().hex[:8]}#CHAIN#prod.sales.R1"
    for size in (100, 200, 300):
        store.put(_stored(key, size))
    assert [s.checkpoint.size for s in store.list(key, 200)] == [200, 300]
    assert [s.checkpoint.size for s in store.list(key, 301)] == []
    assert [s.checkpoint.size for s in store.list(key)] == [100, 200, 300]


def test_the_last_entry_hash_and_its_path_are_stored_with_the_frontier(store):
    key = f"TENANT#t-{uuid.uuid4().hex[:8]}#CHAIN#prod.sales.R1"
    legacy = _stored(key, 100)  # an item written before the last entry hash was kept
    store.put(legacy)
    cp = dataclasses.replace(legacy.checkpoint, size=104)
    full = StoredCheckpoint(cp, ["aa" * 32, "bb" * 32], "cc" * 32, ["dd" * 32, "ee" * 32])
    store.put(full)
    assert store.latest_at_or_below(key, 100) == legacy
    assert (legacy.last_hash, legacy.last_path) == (None, None)
    assert store.latest(key) == full


def test_an_unsigned_attribute_of_the_wrong_shape_reads_as_unusable_not_as_an_error(container):
    key = f"TENANT#t-{uuid.uuid4().hex[:8]}#CHAIN#prod.sales.R1"
    store = container.checkpoint_store
    store.put(StoredCheckpoint(_stored(key, 4).checkpoint, ["aa" * 32], "cc" * 32, ["dd" * 32, "ee" * 32]))
    container.dynamodb.update_item(
        TableName=container.settings.table_name("checkpoints"), Key={"pk": {"S": key}, "sk": {"N": "4"}},
        UpdateExpression="SET frontier = :f, last_path = :p",
        ExpressionAttributeValues={":f": {"S": "not a list"}, ":p": {"L": [{"N": "1"}]}},
    )
    stored = store.latest(key)
    assert (stored.frontier, stored.last_hash, stored.last_path) == ([], "cc" * 32, None)
