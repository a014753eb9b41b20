"""The tamper matrix: each change made directly on the DynamoDB table, behind the application's
back, is found by the verifier, which names the first bad entry and the reason.

The chain (a Belgian register, production mode):
  seq 1-6   sales of 2026-03-10          seq 7   daily closure of 2026-03-10
  seq 8-10  sales of 2026-03-11          (signed checkpoint at size 10)
  seq 11    sale of 2026-03-11           seq 12  daily closure of 2026-03-11
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.records import chain_key
from tests.support.ledger import at, ledger_on, sale_request
from tests.support.tamper import Tamperer

pytestmark = pytest.mark.functional
CHAIN = "prod.sales.R1"


@pytest.fixture
def sealed(container, tmp_path):
    t = ledger_on(container, tmp_path, start=at("2026-03-10", 9))
    ledger, checkpoints, tenant, caller, clock = t.ledger, t.checkpoints, t.tenant, t.caller, t.clock
    for i in range(6):
        ledger.record_sale(caller, sale_request(clock, 1000 + i), None)
    clock.set(at("2026-03-11", 9))
    assert ledger.close_period(caller, tenant.tenant_id, CHAIN, "day", "2026-03-10").seq == 7
    for i in range(3):
        ledger.record_sale(caller, sale_request(clock, 2000 + i), None)
    assert checkpoints.checkpoint(tenant.tenant_id, CHAIN).size == 10
    ledger.record_sale(caller, sale_request(clock, 3000), None)
    clock.set(at("2026-03-12", 9))
    assert ledger.close_period(caller, tenant.tenant_id, CHAIN, "day", "2026-03-11").seq == 12
    tamper = Tamperer(container.dynamodb, container.settings.table_name("journal"), chain_key(tenant.tenant_id, CHAIN))
    container.test_ledger = t  # the verification service that knows this test's published key
    return container, tenant.tenant_id, tamper, checkpoints


def _verify(container, tenant, **kw):
    return container.test_ledger.verification.verify(tenant, CHAIN, **kw)


def _set_total(item, cents):
    item["data"]["totals"]["incl"] = cents
    item["data"]["payments"][0]["amount"] = cents


def test_an_untouched_chain_verifies(sealed):
    container, tenant, _, _ = sealed
    report = _verify(container, tenant)
    assert report.ok, report
    assert (report.size, report.proven_size) == (12, 10)


def test_a_changed_amount_is_found_at_its_seq(sealed):
    container, tenant, tamper, _ = sealed
    tamper.modify(5, lambda item: _set_total(item, 1))
    report = _verify(container, tenant)
    assert (report.ok, report.reason, report.first_bad_seq) == (False, "hash_mismatch", 5)


def test_a_changed_amount_with_every_later_hash_recomputed_is_caught_by_the_signed_checkpoint(sealed):
    """The signed root no longer matches; the signed tree's leaves (its stored tiles, each proven
    against that root) name the first rewritten entry: seq 9, not the checkpoint's size (an outside
    trial's correctly hashed forgery from seq 3 was named at the checkpoint, seq 5)."""
    container, tenant, tamper, _ = sealed
    tamper.modify(9, lambda item: _set_total(item, 1))
    tamper.rehash_from(9)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("checkpoint_mismatch", 9)
    assert report.detail.startswith("seq 9: its hash") and "checkpoint at size 10" in report.detail


def test_a_rehashed_forgery_whose_tiles_were_rewritten_too_is_named_at_the_checkpoint(sealed):
    """Tiles that no longer prove against the signed root vouch for nothing: no entry is blamed on
    their word, the report names the checkpoint whose root the chain does not rebuild."""
    container, tenant, tamper, _ = sealed
    tamper.modify(9, lambda item: _set_total(item, 1))
    tamper.rehash_from(9)
    tiles = container.settings.table_name("tiles")
    key = chain_key(tenant, CHAIN)
    items = container.dynamodb.query(TableName=tiles, KeyConditionExpression="pk = :pk",
                                     ExpressionAttributeValues={":pk": {"S": key}})["Items"]
    assert items, "the signer stored the tree's tiles"
    for item in items:  # the forger rewrites every stored tile: their hashes no longer prove
        data = item["hashes"]["B"]
        item["hashes"] = {"B": bytes(32) + data[32:]}
        container.dynamodb.put_item(TableName=tiles, Item=item)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("checkpoint_mismatch", 10)
    assert "up to seq 10" in report.detail


def test_a_rehashed_change_before_a_closure_is_caught_by_that_closure(sealed):
    container, tenant, tamper, _ = sealed
    tamper.modify(5, lambda item: _set_total(item, 1))
    tamper.rehash_from(5)
    report = _verify(container, tenant)
    assert report.first_bad_seq == 7  # the closure's Merkle root and totals no longer match
    assert report.reason in ("closure_merkle", "closure_totals")


def test_a_closure_whose_totals_are_altered_and_rehashed_is_found_at_the_closure(sealed):
    container, tenant, tamper, _ = sealed
    tamper.modify(7, lambda item: item["data"].update(period_grand_total=item["data"]["period_grand_total"] - 100))
    tamper.rehash_from(7)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("closure_totals", 7)
    assert "period_grand_total" in report.detail


def test_a_closure_whose_totals_are_altered_without_rehash_is_a_hash_mismatch(sealed):
    container, tenant, tamper, _ = sealed
    tamper.modify(12, lambda item: item["data"].update(perpetual_grand_total=0))
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("hash_mismatch", 12)


def test_a_deleted_middle_entry_is_a_gap(sealed):
    container, tenant, tamper, _ = sealed
    tamper.delete(6)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("gap", 6)  # the missing seq itself
    assert "seq 6 is missing" in report.detail


def test_a_tail_deleted_after_a_signed_checkpoint_is_a_truncation(sealed):
    container, tenant, tamper, _ = sealed
    for seq in range(12, 8, -1):
        tamper.delete(seq)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("truncated", 9)


def test_an_inserted_entry_is_found(sealed):
    container, tenant, tamper, _ = sealed
    # Shift 3..12 up by one and forge a linked, rehashed entry at 3.
    for seq in range(12, 2, -1):
        item = tamper.read(seq)
        item["sk"] = seq + 1
        tamper.write(item)
    forged = tamper.read(2)
    forged.update(sk=3, seq=3, prev_hash=forged["hash"])
    tamper.write(forged)
    tamper.rehash_from(3)
    report = _verify(container, tenant)
    assert report.ok is False
    assert report.first_bad_seq == 4
    assert report.reason in ("out_of_order", "broken_link")


def test_two_swapped_entries_are_found_at_the_first(sealed):
    container, tenant, tamper, _ = sealed
    tamper.swap(3, 4)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("out_of_order", 3)


def _forge_checkpoint(container, tenant, signer, *, key_id=None, root=None):
    stored = container.test_ledger.checkpoints._checkpoints.latest(chain_key(tenant, CHAIN))
    cp = stored.checkpoint
    unsigned = Checkpoint(cp.chain_key, cp.size, root or cp.root, cp.timestamp, key_id or cp.key_id)
    forged = unsigned.with_signature(signer.sign(unsigned.signed_message()))
    container.dynamodb.put_item(
        TableName=container.settings.table_name("checkpoints"),
        Item={"pk": {"S": forged.chain_key}, "sk": {"N": str(cp.size)}, "text": {"S": forged.to_text()},
              "frontier": {"L": [{"S": h} for h in stored.frontier]}},
    )


def test_a_checkpoint_re_signed_with_an_unpublished_key_is_a_bad_signature(sealed, tmp_path):
    container, tenant, tamper, checkpoints = sealed
    tamper.modify(9, lambda item: _set_total(item, 1))
    tamper.rehash_from(9)
    # The forger recomputes the root and re-signs it with their own key under the real key id.
    _forge_checkpoint(container, tenant, LocalSigner(tmp_path, "rogue"), root=checkpoints.root_at(tenant, CHAIN, 10))
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("bad_signature", 10)


def test_a_checkpoint_signed_by_an_unknown_key_id_is_refused(sealed, tmp_path):
    container, tenant, _, _ = sealed
    rogue = LocalSigner(tmp_path, "rogue")
    _forge_checkpoint(container, tenant, rogue, key_id=rogue.key_id)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("key_not_valid", 10)


def test_a_range_is_verified_from_the_signed_checkpoint_before_it(sealed):
    container, tenant, tamper, _ = sealed
    report = _verify(container, tenant, first_seq=11, last_seq=12)
    assert report.ok and report.size == 12
    tamper.modify(11, lambda item: _set_total(item, 1))
    report = _verify(container, tenant, first_seq=11)
    assert (report.reason, report.first_bad_seq) == ("hash_mismatch", 11)


def test_data_text_rewritten_in_a_non_canonical_form_is_reported_at_its_seq(sealed):
    container, tenant, tamper, _ = sealed
    raw = container.dynamodb.get_item(TableName=container.settings.table_name("journal"),
                                      Key={"pk": {"S": tamper.pk}, "sk": {"N": "4"}})["Item"]
    raw["data"]["S"] = raw["data"]["S"].replace(",", ", ", 1)  # same meaning, other bytes
    container.dynamodb.put_item(TableName=container.settings.table_name("journal"), Item=raw)
    report = _verify(container, tenant)
    assert (report.reason, report.first_bad_seq) == ("non_canonical", 4)
