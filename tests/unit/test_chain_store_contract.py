"""One contract, two stores: the in-memory fake and the DynamoDB adapter (on the session's
embedded moto server) must behave the same."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.errors import SequenceConflict, ValidationFailed
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal

NOW = "2026-11-23T10:00:00.000000Z"


def _chain(store, tenant, n, chain="prod.sales.R1", start=1, prev=GENESIS_PREV_HASH):
    records = []
    for seq in range(start, start + n):
        record = seal(tenant, chain, seq, "sale", NOW, False, {"n": seq, "label": "café"}, prev)
        records.append(record)
        prev = record.hash
    return records


class ChainStoreContract:
    store: object

    @pytest.fixture
    def tenant(self):
        return f"t{uuid.uuid4().hex[:12]}"

    def test_an_empty_chain_has_no_head(self, tenant):
        assert self.store.head(chain_key(tenant, "prod.sales.R1")) is None

    def test_can_append_and_read_back_identical_records(self, tenant):
        records = _chain(self.store, tenant, 3)
        for r in records:
            self.store.append(r)
        key = chain_key(tenant, "prod.sales.R1")
        assert self.store.head(key) == records[-1]
        assert self.store.get(key, 2) == records[1]
        assert list(self.store.scan(key)) == records
        assert all(r.intact for r in self.store.scan(key))

    def test_a_taken_seq_is_refused_and_the_first_writer_wins(self, tenant):
        first = _chain(self.store, tenant, 1)[0]
        rival = seal(tenant, "prod.sales.R1", 1, "sale", NOW, False, {"n": "rival"}, GENESIS_PREV_HASH)
        self.store.append(first)
        with pytest.raises(SequenceConflict):
            self.store.append(rival)
        assert self.store.get(chain_key(tenant, "prod.sales.R1"), 1) == first

    def test_a_batch_is_all_or_nothing(self, tenant):
        records = _chain(self.store, tenant, 5)
        self.store.append(records[3])  # seq 4 taken: the batch 1..5 must write nothing
        with pytest.raises(SequenceConflict):
            self.store.append_batch(records)
        assert [r.seq for r in self.store.scan(chain_key(tenant, "prod.sales.R1"))] == [4]

    def test_a_batch_of_100_commits_and_101_is_refused(self, tenant):
        records = _chain(self.store, tenant, 101)
        with pytest.raises(ValidationFailed):
            self.store.append_batch(records)
        self.store.append_batch(records[:100])
        assert self.store.head(chain_key(tenant, "prod.sales.R1")).seq == 100

    def test_scan_reads_a_range(self, tenant):
        for r in _chain(self.store, tenant, 6):
            self.store.append(r)
        assert [r.seq for r in self.store.scan(chain_key(tenant, "prod.sales.R1"), 2, 4)] == [2, 3, 4]

    def test_by_time_filters_and_pages_after_a_seq(self, tenant):
        for r in _chain(self.store, tenant, 4):
            self.store.append(r)
        key = chain_key(tenant, "prod.sales.R1")
        page = self.store.by_time(key, "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z", limit=2)
        assert [r.seq for r in page] == [1, 2]
        rest = self.store.by_time(key, page[-1].recorded_at, "2026-11-24T00:00:00Z", limit=10, after_seq=2)
        assert [r.seq for r in rest] == [3, 4]
        assert self.store.by_time(key, "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", limit=10) == []

    def test_chains_of_two_tenants_never_mix(self, tenant):
        other = tenant + "x"
        self.store.append(_chain(self.store, tenant, 1)[0])
        self.store.append(_chain(self.store, other, 1)[0])
        assert [r.tenant_id for r in self.store.scan(chain_key(tenant, "prod.sales.R1"))] == [tenant]


class TestInMemoryChainStore(ChainStoreContract):
    @pytest.fixture(autouse=True)
    def _store(self):
        self.store = InMemoryChainStore()


@pytest.mark.functional
class TestDynamoDBChainStore(ChainStoreContract):
    @pytest.fixture(autouse=True)
    def _store(self, container):
        self.store = container.journal_store
