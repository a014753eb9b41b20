"""Scellé against DynamoDB's 400 KB item limit, now that the embedded stack enforces it
(chalicelib/local/aws_limits.py, docs/operations.md "AWS limits enforced locally").

The xfail tests are product defects found by that enforcement, kept strict so that they turn into
failures the day they are fixed; each reason says what goes wrong on AWS."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import pytest

from chalicelib.adapters.dynamodb_chain_store import to_item
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.journal import build_journal_entry
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
from chalicelib.domain.sales import MAX_LINES, build_sale
from chalicelib.local.aws_limits import MAX_ITEM_BYTES, item_size
from chalicelib.services.archive import SEGMENT_ENTRIES, record_line
from tests.support.continuous import new_tenant, private_stack

pytestmark = pytest.mark.functional
NOW = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
ACCOUNTANT = Actor("u-claire", "Claire Dubois")
SELLER = Actor("u-alice", "Alice Martin")


def journal_entry(number: int, lines: int = 40) -> dict:
    """A supplier invoice booked line by line: 40 lines with ordinary French labels."""
    body_lines = []
    for j in range(lines):
        line = {"account": "607000" if j % 2 == 0 else "401000",
                "account_label": "Achats de marchandises" if j % 2 == 0 else "Fournisseurs",
                "label": f"Facture fournisseur Dupont SARL FA-2026-{number:04d} ligne {j + 1}"}
        if j % 2 == 0:
            line.update(debit="1250.00", vat_rate="20")
        else:
            line.update(credit="1250.00", aux_account="DUPONT", aux_label="Dupont SARL")
        body_lines.append(line)
    body = {"journal_code": "AC", "journal_label": "Achats", "piece_ref": f"FA-2026-{number:04d}",
            "piece_date": "2026-11-20", "label": f"Facture Dupont SARL FA-2026-{number:04d}", "lines": body_lines}
    return build_journal_entry(body, country="FR", today=date(2026, 11, 23), recorded_by=ACCOUNTANT)


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-limits")) as cv:
        yield cv


def test_a_40_line_journal_entry_is_far_below_the_item_limit():
    record = seal("acme", "prod.journal", 1, "journal", NOW, False, journal_entry(1), GENESIS_PREV_HASH)
    assert 8_000 < item_size(to_item(record)) < 10_000
    # ... but the stream verifier keeps a whole segment of them, waiting for the archive, in ONE item:
    assert SEGMENT_ENTRIES * len(record_line(record).encode()) > 2 * MAX_ITEM_BYTES


def test_a_full_segment_of_40_line_journal_entries_is_verified_and_archived(cv):
    """Found by the 400 KB check: the verifier kept every entry waiting for the archive in a map
    inside ONE ops item; 100 entries of 40 lines (~880 KB) crossed DynamoDB's item limit, the state
    write failed and the stream batch was retried for ever: the chain was never verified nor
    archived again. Pending entries are now items of their own."""
    container = cv.container()
    tenant, chain = new_tenant(), "prod.journal"
    container.chain_directory.register(tenant, chain)
    for first in (1, 51):
        container.chain_writer.append_batch(
            tenant, chain, [("journal", journal_entry(n)) for n in range(first, first + 50)], training=False)

    cv.pump().drain(max_rounds=3)

    key = chain_key(tenant, chain)
    assert container.ops_store.chain_state(key).seq == 100  # was: 0, every round failed
    container.archiver.flush(key, force=True)
    assert container.ops_store.chain_state(key).archived_through == 100


def _largest_sale(char: str) -> dict:
    """What POST /v1/sales accepts: 500 lines of 200-character descriptions (~440 KB of JSON with a
    4-byte character, under the default 1 MiB body limit)."""
    return {"client_receipt_id": f"r-{uuid.uuid4().hex[:12]}", "register_id": "R1",
            "occurred_at": "2026-11-23T17:29:00Z",
            "lines": [{"description": char * 200, "quantity": "1", "unit_price": "1.00", "vat_rate": "20"}
                      for _ in range(MAX_LINES)],
            "payments": [{"method": "card", "amount": "500.00"}]}


SALE_CONTEXT = {"country": "FR", "time_zone": "Europe/Paris", "cutoff": time(4, 0), "seller": SELLER, "now": NOW}


def test_the_largest_sale_in_three_byte_characters_fits_in_one_item(container):
    record = seal(new_tenant(), "prod.sales.R1", 1, "sale", NOW, False, build_sale(_largest_sale("€"), **SALE_CONTEXT),
                  GENESIS_PREV_HASH)
    assert item_size(to_item(record)) < MAX_ITEM_BYTES
    container.journal_store.append(record)
    assert container.journal_store.get(record.chain_key, 1) == record


def test_a_sale_the_domain_accepts_is_stored_or_refused_as_invalid(container):
    """Found by the 400 KB check: a sale of 500 lines of 200 four-byte characters (~448 KB once
    sealed, under the 1 MiB body limit) was a 503 for ever (DynamoDB refused the item). It is now
    refused as invalid, naming the field, before anything is written."""
    with pytest.raises(ValidationFailed) as refused:
        build_sale(_largest_sale("😀"), **SALE_CONTEXT)
    assert refused.value.field == "lines" and "at most 350,000 bytes" in refused.value.detail


def test_a_long_archive_outage_keeps_the_state_small_and_loses_no_entry(cv):
    """300 entries of 40 lines (~2.6 MB) waiting while the archive is down: the verifier's state
    item stays a few hundred bytes, its head moves, and every entry is archived once S3 is back."""
    from chalicelib.local.aws_limits import item_size

    container = cv.container()
    tenant, chain = new_tenant(), "prod.journal"
    container.chain_directory.register(tenant, chain)
    key = chain_key(tenant, chain)
    flush = container.archiver.flush
    container.archiver.flush = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("S3 is down"))
    try:
        for first in range(1, 301, 50):
            container.chain_writer.append_batch(
                tenant, chain, [("journal", journal_entry(n)) for n in range(first, first + 50)], training=False)
        cv.pump().drain(max_rounds=5)
    finally:
        container.archiver.flush = flush
    state = container.ops_store.chain_state(key)
    assert state.seq == 300 and state.archived_through == 0 and len(state.pending) == 300
    stored = container.dynamodb.get_item(TableName=cv.settings.table_name("ops"),
                                         Key={"pk": {"S": f"CHAIN#{key}"}, "sk": {"S": "state"}})["Item"]
    assert item_size(stored) < 2_000
    while container.ops_store.chain_state(key).archived_through < 300:
        assert container.archiver.flush(key, force=True) is not None
    after = container.ops_store.chain_state(key)
    assert after.pending == {} and after.segments >= 3
    leftovers = container.dynamodb.query(TableName=cv.settings.table_name("ops"), KeyConditionExpression="pk = :p",
                                         ExpressionAttributeValues={":p": {"S": f"PENDING#{key}"}})["Items"]
    assert leftovers == []


def test_a_state_item_written_before_pending_items_is_read_and_archived(cv):
    """Data written by the earlier format (entries in a ``pending`` map of the state item) stays
    readable: its entries are pending, and archiving removes them from the map."""
    from chalicelib.services.archive import record_line

    container = cv.container()
    tenant, chain = new_tenant(), "prod.journal"
    key = chain_key(tenant, chain)
    records = container.chain_writer.append_batch(tenant, chain, [("journal", journal_entry(n)) for n in (1, 2)],
                                                  training=False)
    ops = cv.settings.table_name("ops")
    container.dynamodb.put_item(TableName=ops, Item={
        "pk": {"S": f"CHAIN#{key}"}, "sk": {"S": "state"}, "table": {"S": "journal"}, "seq": {"N": "2"},
        "hash": {"S": records[-1].hash}, "stream_seq": {"S": "1"}, "stream_arn": {"S": "arn"},
        "pending": {"M": {str(r.seq): {"S": record_line(r)} for r in records}},
        "pending_since": {"S": records[0].recorded_at}})
    state = container.ops_store.chain_state(key)
    assert sorted(state.pending) == [1, 2] and state.legacy_pending == (1, 2)
    container.archiver.flush(key, force=True)
    after = container.ops_store.chain_state(key)
    assert after.archived_through == 2 and after.pending == {}
    stored = container.dynamodb.get_item(TableName=ops, Key={"pk": {"S": f"CHAIN#{key}"}, "sk": {"S": "state"}})
    assert stored["Item"]["pending"]["M"] == {}
