"""What could never be stored is refused as invalid input before anything is written (a 422
naming the field), never a 503 retried for ever: one record is one DynamoDB item (400 KB), one
batch one transaction (4 MB)."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.records import (
    MAX_COMMIT_DATA_BYTES,
    MAX_RECORD_DATA_BYTES,
    MAX_SEALED_DATA_BYTES,
    canonical_bytes,
    check_sealable,
)
from chalicelib.services.sealing import ChainWriter


def _data(size: int) -> dict:
    text = "x" * (size - len(canonical_bytes({"text": ""})))
    data = {"text": text}
    assert len(canonical_bytes(data)) == size
    return data


def test_a_record_at_the_limit_passes_and_one_byte_more_is_refused_naming_the_field():
    check_sealable([_data(MAX_RECORD_DATA_BYTES)], field="lines")
    with pytest.raises(ValidationFailed) as refused:
        check_sealable([_data(MAX_RECORD_DATA_BYTES + 1)], field="lines")
    assert refused.value.field == "lines"


def test_one_record_of_a_batch_is_named_and_a_batch_too_large_together_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        check_sealable([_data(20), _data(MAX_RECORD_DATA_BYTES + 1)], field="entries",
                       item_field=lambda i: f"entries.{i}.lines")
    assert refused.value.field == "entries.1.lines"
    many = [_data(MAX_RECORD_DATA_BYTES)] * (MAX_COMMIT_DATA_BYTES // MAX_RECORD_DATA_BYTES + 1)
    with pytest.raises(ValidationFailed) as refused:
        check_sealable(many, field="entries")
    assert refused.value.field == "entries"


def test_the_writer_refuses_a_record_no_item_could_hold_and_writes_nothing():
    store = InMemoryChainStore()
    writer = ChainWriter(store)
    writer.append("t-1", "prod.sales.R1", "sale", _data(MAX_SEALED_DATA_BYTES - 1000), training=False)
    with pytest.raises(ValidationFailed) as refused:
        writer.append("t-1", "prod.sales.R1", "sale", _data(MAX_SEALED_DATA_BYTES + 1), training=False)
    assert refused.value.field == "body"
    assert store.head("TENANT#t-1#CHAIN#prod.sales.R1").seq == 1
