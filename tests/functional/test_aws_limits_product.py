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


@pytest.mark.xfail(strict=True, reason=(
    "The stream verifier keeps every not-yet-archived entry of a chain in the `pending` map of ONE "
    "ops item (chalicelib/adapters/ops_dynamodb.py advance_head, services/stream_verifier.py) and "
    "the archiver only cuts a segment at 100 entries: 100 journal entries of 40 lines are ~880 KB, "
    "and the chunk of 50 entries the verifier writes at once is already ~440 KB. DynamoDB refuses "
    "the UpdateItem (ValidationException 'Item size to update has exceeded the maximum allowed "
    "size'), the verifier's commit fails, the stream batch is retried for ever from the same "
    "record: the journal chain is never verified nor archived again. The same happens to any "
    "chain once ~400 KB wait (e.g. S3 unavailable for a while). moto alone never measured nested "
    "`pending.#p` updates, so local mode could not show it."))
def test_a_full_segment_of_40_line_journal_entries_is_verified_and_archived(cv):
    container = cv.container()
    tenant, chain = new_tenant(), "prod.journal"
    container.chain_directory.register(tenant, chain)
    for first in (1, 51):
        container.chain_writer.append_batch(
            tenant, chain, [("journal", journal_entry(n)) for n in range(first, first + 50)], training=False)

    cv.pump().drain(max_rounds=3)

    key = chain_key(tenant, chain)
    assert container.ops_store.chain_state(key).seq == 100  # today: 0, every round fails
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
