"""Concurrent writers on the embedded DynamoDB: conditional writes keep one chain whole."""

import pytest

from chalicelib.domain.records import chain_key
from chalicelib.domain.verification import verify_chain
from chalicelib.services.sealing import ChainWriter
from tests.unit.test_sealing import _hammer

pytestmark = pytest.mark.functional


def _records(container, tenant):
    return list(container.journal_store.scan(chain_key(tenant, "prod.sales.R1")))


def test_eight_threads_appending_200_each_give_seq_1_to_1600_on_dynamodb(container):
    # Each thread has its own writer and client, like separate Lambda instances.
    from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

    table = container.settings.table_name("journal")
    tenant, errors = _hammer(lambda: ChainWriter(DynamoDBChainStore(container.client("dynamodb"), table),
                                                 max_attempts=400))
    assert errors == []
    records = _records(container, tenant)
    assert [r.seq for r in records] == list(range(1, 1601))
    report = verify_chain(records, tenant_id=tenant, chain="prod.sales.R1")
    assert report.ok, report


def test_eight_threads_with_batches_of_100_give_seq_1_to_1600_on_dynamodb(container):
    from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

    table = container.settings.table_name("journal")
    tenant, errors = _hammer(
        lambda: ChainWriter(DynamoDBChainStore(container.client("dynamodb"), table), max_attempts=400),
        batch=100,
    )
    assert errors == []
    records = _records(container, tenant)
    assert [r.seq for r in records] == list(range(1, 1601))
    assert verify_chain(records, tenant_id=tenant, chain="prod.sales.R1").ok
