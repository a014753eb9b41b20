"""One contract, two stores: the in-memory fake and the DynamoDB adapter (on the session's
embedded moto server) must behave the same."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.claims import Claim, CommitRejected
from chalicelib.domain.errors import SequenceConflict, ValidationFailed
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
from chalicelib.services.sealing import ChainWriter, landed

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

    def test_scan_in_small_pages_reads_the_same_records(self, tenant):
        for r in _chain(self.store, tenant, 7):
            self.store.append(r)
        key = chain_key(tenant, "prod.sales.R1")
        assert [r.seq for r in self.store.scan(key, 2, page_size=3)] == [2, 3, 4, 5, 6, 7]
        assert [r.seq for r in self.store.scan(key, 5, 6, page_size=1)] == [5, 6]

    def test_by_time_filters_and_pages_after_a_seq(self, tenant):
        for r in _chain(self.store, tenant, 4):
            self.store.append(r)
        key = chain_key(tenant, "prod.sales.R1")
        page = self.store.by_time(key, "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z", limit=2)
        assert [r.seq for r in page] == [1, 2]
        rest = self.store.by_time(key, page[-1].recorded_at, "2026-11-24T00:00:00Z", limit=10, after_seq=2)
        assert [r.seq for r in rest] == [3, 4]
        assert self.store.by_time(key, "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", limit=10) == []

    def test_by_time_newest_first_filters_and_pages_before_a_seq(self, tenant):
        prev = GENESIS_PREV_HASH
        times = ["2026-11-22T23:00", "2026-11-23T09:00", "2026-11-23T10:00", "2026-11-23T10:00", "2026-11-23T11:00",
                 "2026-11-24T08:00"]
        for seq, at in enumerate((f"{t}:00.000000Z" for t in times), start=1):
            record = seal(tenant, "prod.sales.R1", seq, "sale", at, False, {"n": seq}, prev)
            self.store.append(record)
            prev = record.hash
        key = chain_key(tenant, "prod.sales.R1")
        day = ("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z")
        page = self.store.by_time(key, *day, limit=2, descending=True)
        assert [r.seq for r in page] == [5, 4]
        rest = self.store.by_time(key, *day, limit=10, after_seq=4, descending=True)
        assert [r.seq for r in rest] == [3, 2]
        assert [r.seq for r in self.store.by_time(key, "0000", "9999", limit=10, descending=True)] == [6, 5, 4, 3, 2, 1]
        assert self.store.by_time(key, *day, limit=10, after_seq=2, descending=True) == []
        assert self.store.by_time(key, "2026-11-25T00:00:00Z", "9999", limit=10, descending=True) == []
        assert self.store.by_time(chain_key(tenant, "prod.sales.R9"), "0000", "9999", limit=10, descending=True) == []

    def test_chains_of_two_tenants_never_mix(self, tenant):
        other = tenant + "x"
        self.store.append(_chain(self.store, tenant, 1)[0])
        self.store.append(_chain(self.store, other, 1)[0])
        assert [r.tenant_id for r in self.store.scan(chain_key(tenant, "prod.sales.R1"))] == [tenant]


    # ---- commits with claims (decision 0012) ----------------------------------------------------
    def test_records_and_claims_are_written_together_and_a_held_claim_refuses_both(self, tenant):
        first, second = _chain(self.store, tenant, 2)
        claim = Claim(f"RECEIPT#{tenant}", "r-1", {"seq": 1, "hash": first.hash})
        self.store.commit([first], [claim])
        assert self.store.claim(claim.pk, claim.sk) == {"pk": claim.pk, "sk": "r-1", "seq": 1, "hash": first.hash}
        with pytest.raises(CommitRejected) as refused:
            self.store.commit([second], [Claim(claim.pk, "r-1", {"seq": 2, "hash": second.hash})])
        assert refused.value.records == {}
        assert refused.value.claims == {0: {"pk": claim.pk, "sk": "r-1", "seq": 1, "hash": first.hash}}
        assert self.store.head(chain_key(tenant, "prod.sales.R1")).seq == 1  # nothing of the second

    def test_a_refused_commit_returns_the_record_that_stood_in_the_way(self, tenant):
        first = _chain(self.store, tenant, 1)[0]
        rival = seal(tenant, "prod.sales.R1", 1, "sale", NOW, False, {"n": "rival"}, GENESIS_PREV_HASH)
        self.store.commit([rival])
        with pytest.raises(CommitRejected) as refused:
            self.store.commit([first], [Claim(f"RECEIPT#{tenant}", "r-1", {"seq": 1})])
        assert refused.value.records[1]["hash"] == rival.hash
        assert 0 not in refused.value.claims  # the claim itself was free
        assert not landed([first], [Claim(f"RECEIPT#{tenant}", "r-1", {"seq": 1})], refused.value)

    def test_a_commit_sent_twice_meets_its_own_items_and_says_so(self, tenant):
        records = _chain(self.store, tenant, 3)
        claims = [Claim(f"OPKEY#{tenant}", "k", {"request": "abc", "seq": 1, "hash": records[0].hash})]
        self.store.commit(records, claims)
        with pytest.raises(CommitRejected) as again:
            self.store.commit(records, claims)
        assert landed(records, claims, again.value)

    def test_a_pointer_moves_only_from_the_value_it_is_expected_to_hold(self, tenant):
        a, b, c = _chain(self.store, tenant, 3)
        pk = f"HEAD#{tenant}"
        self.store.commit([a], [Claim(pk, "pointer", {"seq": 1, "hash": a.hash})])
        with pytest.raises(CommitRejected) as stale:
            self.store.commit([b], [Claim(pk, "pointer", {"seq": 2, "hash": b.hash}, expect_seq=0)])
        assert stale.value.claims[0]["seq"] == 1
        self.store.commit([b], [Claim(pk, "pointer", {"seq": 2, "hash": b.hash}, expect_seq=1)])
        with pytest.raises(CommitRejected):
            self.store.commit([c], [Claim(pk, "pointer", {"seq": 3, "hash": c.hash}, expect_seq=1)])
        assert self.store.claim(pk, "pointer")["seq"] == 2

    def test_a_claim_added_alone_is_written_once_and_then_answers_with_its_holder(self, tenant):
        first = _chain(self.store, tenant, 1)[0]
        claim = Claim(f"OPKEY#{tenant}", "k-1", {"request": "abc", "seq": 1, "hash": first.hash})
        assert self.store.add_claim(claim) is None
        held = {"pk": claim.pk, "sk": "k-1", "request": "abc", "seq": 1, "hash": first.hash}
        assert self.store.claim(claim.pk, "k-1") == held
        assert self.store.add_claim(claim) == held  # sent again: it meets itself
        assert self.store.add_claim(Claim(claim.pk, "k-1", {"request": "xyz", "seq": 2, "hash": "0" * 64})) == held
        assert self.store.claim(claim.pk, "k-1") == held  # unchanged
        with pytest.raises(CommitRejected) as refused:  # and a commit claiming it is refused
            self.store.commit(_chain(self.store, tenant, 2)[1:], [Claim(claim.pk, "k-1", {"seq": 2})])
        assert refused.value.claims == {0: held}

    def test_a_commit_holds_at_most_100_items_records_and_claims_together(self, tenant):
        records = _chain(self.store, tenant, 100)
        with pytest.raises(ValidationFailed):
            self.store.commit(records, [Claim(f"OPKEY#{tenant}", "k", {"seq": 1})])
        assert self.store.head(chain_key(tenant, "prod.sales.R1")) is None


class TestInMemoryChainStore(ChainStoreContract):
    @pytest.fixture(autouse=True)
    def _store(self):
        self.store = InMemoryChainStore()


@pytest.mark.functional
class TestDynamoDBChainStore(ChainStoreContract):
    @pytest.fixture(autouse=True)
    def _store(self, container):
        self.store = container.journal_store

    def test_a_reader_that_stops_early_reads_one_small_page(self, tenant):
        """close_chain looks for the first operation after a closure: a Query of ``page_size``
        items, not a 1 MB page (docs/scaling.md, section 7)."""
        for r in _chain(self.store, tenant, 30):
            self.store.append(r)
        limits = []

        def spy(params, **_):
            limits.append(params.get("Limit"))

        events = self.store._client.meta.events
        events.register("provide-client-params.dynamodb.Query", spy)
        try:
            first = next(iter(self.store.scan(chain_key(tenant, "prod.sales.R1"), 3, page_size=8)))
        finally:
            events.unregister("provide-client-params.dynamodb.Query", spy)
        assert first.seq == 3 and limits == [8]


class _ResendingClient:
    """What botocore does when a request was applied but its answer was lost: it sends the
    same request again, and returns the answer to the second one."""

    def __init__(self, client) -> None:
        self._client = client
        self.resent = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _twice(self, name, **kwargs):
        getattr(self._client, name)(**kwargs)
        self.resent += 1
        return getattr(self._client, name)(**kwargs)

    def put_item(self, **kwargs):
        return self._twice("put_item", **kwargs)

    def transact_write_items(self, **kwargs):
        return self._twice("transact_write_items", **kwargs)


@pytest.mark.functional
@pytest.mark.parametrize("with_claim", [False, True])
def test_on_dynamodb_a_resent_write_is_recognised_as_our_own_and_sealed_once(container, with_claim):
    from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

    s = container.settings
    client = _ResendingClient(container.dynamodb)
    store = DynamoDBChainStore(client, s.table_name("journal"), s.table_name("ops"))
    writer = ChainWriter(store, sleep=lambda seconds: None)
    tenant = f"t{uuid.uuid4().hex[:12]}"
    claims = (lambda records: [Claim(f"RECEIPT#{tenant}", "r-1", {"seq": records[0].seq, "hash": records[0].hash})]
              ) if with_claim else None
    record = writer.append(tenant, "prod.sales.R1", "sale", {"n": 1}, training=False, claims=claims)
    assert client.resent == 1
    stored = list(container.journal_store.scan(chain_key(tenant, "prod.sales.R1")))
    assert stored == [record]  # before decision 0012: seq 2 held the same payload again
