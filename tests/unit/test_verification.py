"""Chain verification: every tamper case names its reason and the first bad seq."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.canonical import canonical_bytes
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.merkle import EMPTY_ROOT, ProofError, inclusion_proof, record_leaf_hash, root
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, seal
from chalicelib.domain.verification import (
    ChainHead,
    Reason,
    VerificationReport,
    verify_chain,
    verify_record_inclusion,
)
from tests.vectors.helpers import (
    ATTACKER_KEY_ID,
    TEST_KEY_ID,
    attacker_signing_key,
    make_signature_verifier,
    public_pem,
    sign,
    vector_signing_key,
)

TENANT = "acme"
CHAIN = "prod.sales.R1"
KEY = chain_key(TENANT, CHAIN)
PUBLISHED = [
    PublicKeyInfo(TEST_KEY_ID, "2026-01-01T00:00:00.000000Z", None, public_pem(vector_signing_key()))
]
VERIFIER = make_signature_verifier(PUBLISHED)


def _timestamp(seq: int) -> str:
    return f"2026-11-23T{8 + seq // 3600:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq % 1000000:06d}Z"


def _chain(length: int, tenant: str = TENANT, chain: str = CHAIN) -> list[SealedRecord]:
    records: list[SealedRecord] = []
    prev = GENESIS_PREV_HASH
    for seq in range(1, length + 1):
        record = seal(
            tenant,
            chain,
            seq,
            "sale",
            _timestamp(seq),
            False,
            {"receipt_id": f"R1-{seq:06d}", "total_gross_cents": 100 + seq},
            prev,
        )
        records.append(record)
        prev = record.hash
    return records


def _items(records: list[SealedRecord]) -> list[dict[str, Any]]:
    return [record.to_dict() for record in records]


def _rehash_from(items: list[dict[str, Any]], seq: int) -> list[dict[str, Any]]:
    """What an attacker with write access does: recompute every hash and link from ``seq`` on."""
    items = copy.deepcopy(items)
    for index in range(seq - 1, len(items)):
        if index:
            items[index]["prev_hash"] = items[index - 1]["hash"]
        fields = {name: value for name, value in items[index].items() if name != "hash"}
        items[index]["hash"] = hashlib.sha256(canonical_bytes(fields)).hexdigest()
    return items


def _checkpoint(
    items: list[dict[str, Any]],
    size: int,
    *,
    key_id: str = TEST_KEY_ID,
    signer: Any = None,
    timestamp: str | None = None,
) -> Checkpoint:
    tree_root = root([record_leaf_hash(item["hash"]) for item in items[:size]]).hex()
    unsigned = Checkpoint(KEY, size, tree_root, timestamp or _timestamp(size + 1), key_id)
    return unsigned.with_signature(sign(signer or vector_signing_key(), unsigned.signed_message()))


def _verify(items: Any, **options: Any) -> VerificationReport:
    options.setdefault("keys", PUBLISHED)
    options.setdefault("signature_verifier", VERIFIER)
    return verify_chain(items, tenant_id=TENANT, chain=CHAIN, **options)


def _assert_fails(report: VerificationReport, reason: str, first_bad_seq: int | None) -> None:
    assert (report.ok, report.reason, report.first_bad_seq) == (False, reason, first_bad_seq), report.detail


# -- the happy path --------------------------------------------------------------------------------


def test_an_untouched_chain_verifies_and_reports_its_size_and_root():
    records = _chain(10)
    checkpoints = [_checkpoint(_items(records), size) for size in (3, 10)]

    report = _verify(_items(records), checkpoints=checkpoints)

    assert report.ok and report.reason == Reason.OK == "ok"
    assert report.first_bad_seq is None
    assert report.size == 10
    assert report.root == root([record_leaf_hash(record.hash) for record in records]).hex()
    assert report.chain == KEY
    assert (report.proven_size, report.checkpoints_verified) == (10, 2)
    assert "10 entries verified" in report.detail


def test_an_empty_chain_verifies_with_the_empty_root():
    report = _verify([])

    assert report.ok and report.size == 0 and report.root == EMPTY_ROOT.hex()


def test_sealed_record_objects_verify_like_stored_items():
    assert _verify(_chain(5)).ok


def test_dynamodb_items_with_decimal_numbers_and_table_keys_verify():
    # GIVEN items as boto3 returns them: numbers are Decimal, pk/sk/ttl are present
    items = []
    for item in _items(_chain(4)):
        item = {
            **item,
            "seq": Decimal(item["seq"]),
            "hash_version": Decimal(1),
            "pk": KEY,
            "sk": Decimal(item["seq"]),
            "ttl": Decimal(1800000000),
        }
        item["data"] = {
            key: Decimal(value) if isinstance(value, int) else value for key, value in item["data"].items()
        }
        items.append(item)

    assert _verify(items).ok


def test_a_long_chain_is_streamed_from_a_generator():
    def stream() -> Iterator[dict[str, Any]]:
        prev = GENESIS_PREV_HASH
        for seq in range(1, 5001):
            record = seal(TENANT, CHAIN, seq, "event", _timestamp(seq), True, {"n": seq}, prev)
            prev = record.hash
            yield record.to_dict()

    report = _verify(stream())

    assert report.ok and report.size == 5000
    assert len(report.head.compact) == bin(5000).count("1")


# -- record tampering ------------------------------------------------------------------------------


def test_a_modified_amount_is_found_at_its_seq():
    items = _items(_chain(8))
    items[4]["data"]["total_gross_cents"] += 1

    report = _verify(items)

    _assert_fails(report, "hash_mismatch", 5)
    assert "seq 5" in report.detail and items[4]["hash"] in report.detail
    assert report.size == 4


def test_a_modified_stored_hash_is_a_hash_mismatch_at_its_seq():
    items = _items(_chain(8))
    items[4]["hash"] = "f" * 64

    _assert_fails(_verify(items), "hash_mismatch", 5)


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link():
    items = _items(_chain(8))
    items[4]["data"]["total_gross_cents"] = 0
    items[4] = _rehash_from(items, 5)[4]

    report = _verify(items)

    _assert_fails(report, "broken_link", 6)
    assert items[4]["hash"] in report.detail and "prev_hash" in report.detail


def test_a_deleted_middle_entry_is_a_gap_at_the_missing_seq():
    items = _items(_chain(8))
    del items[4]

    _assert_fails(_verify(items), "gap", 5)


def test_a_chain_that_does_not_start_at_seq_1_is_a_gap_at_1():
    _assert_fails(_verify(_items(_chain(8))[1:]), "gap", 1)


def test_an_inserted_copy_of_a_seq_is_a_duplicate():
    items = _items(_chain(8))
    items.insert(5, copy.deepcopy(items[4]))

    _assert_fails(_verify(items), "duplicate", 5)


def test_two_swapped_entries_are_out_of_order_not_a_gap():
    items = _items(_chain(8))
    items[3], items[5] = items[5], items[3]

    report = _verify(items)

    _assert_fails(report, "out_of_order", 4)
    assert "seq 6 comes where seq 4 was expected" in report.detail


def test_an_item_stored_under_another_sort_key_is_out_of_order():
    items = [{**item, "pk": KEY, "sk": item["seq"]} for item in _items(_chain(6))]
    items[2]["sk"] = 9

    _assert_fails(_verify(items), "out_of_order", 3)


def test_an_entry_of_another_tenant_is_wrong_chain_even_when_rehashed():
    items = _items(_chain(6))
    items[2]["tenant_id"] = "intruder"

    report = _verify(_rehash_from(items, 3))

    _assert_fails(report, "wrong_chain", 3)
    assert "field tenant_id: expected 'acme', found 'intruder'" in report.detail


def test_an_item_moved_from_another_partition_is_wrong_chain():
    items = [{**item, "pk": KEY} for item in _items(_chain(4))]
    items[1]["pk"] = chain_key("acme", "prod.sales.R2")

    _assert_fails(_verify(items), "wrong_chain", 2)


def test_an_unknown_hash_version_is_bad_version():
    items = _items(_chain(4))
    items[2]["hash_version"] = 2

    _assert_fails(_verify(items), "bad_version", 3)


def test_a_genesis_that_points_somewhere_is_bad_genesis():
    items = _items(_chain(4))
    items[0]["prev_hash"] = "1" * 64

    _assert_fails(_verify(_rehash_from(items, 1)), "bad_genesis", 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data", {"total_gross_cents": 12.5}),
        ("data", {"total_gross_cents": Decimal("12.5")}),
        ("seq", "3"),
        ("training", 1),
        ("note", "unsealed"),
    ],
    ids=["float", "fractional-decimal", "seq-as-string", "training-as-int", "unsealed-attribute"],
)
def test_a_malformed_entry_is_non_canonical_at_its_position(field, value):
    items = _items(_chain(5))
    items[2][field] = value

    _assert_fails(_verify(items), "non_canonical", 3)


def test_a_float_slipped_into_a_sealed_record_after_construction_is_non_canonical():
    records = _chain(3)
    records[2].data["total_gross_cents"] = 1.5

    _assert_fails(_verify(records), "non_canonical", 3)


def test_a_sealed_record_mutated_after_construction_is_rehashed_not_trusted():
    records = _chain(4)
    records[1].data["total_gross_cents"] = 0  # bypasses the frozen dataclass: the dict is still a dict

    _assert_fails(_verify(records), "hash_mismatch", 2)


# -- checkpoints -----------------------------------------------------------------------------------


def test_rehashing_everything_after_a_change_is_caught_by_the_next_signed_checkpoint():
    # GIVEN checkpoints signed at sizes 4, 8 and 12
    original = _items(_chain(12))
    checkpoints = [_checkpoint(original, size) for size in (4, 8, 12)]

    # WHEN seq 6 is changed and every later hash and link recomputed
    rewritten = copy.deepcopy(original)
    rewritten[5]["data"]["total_gross_cents"] = 1
    report = _verify(_rehash_from(rewritten, 6), checkpoints=checkpoints)

    # THEN the checkpoint at size 8 no longer matches, and the window is named
    _assert_fails(report, "checkpoint_mismatch", 8)
    assert report.proven_size == 4
    assert "after seq 4 up to seq 8" in report.detail


def test_a_full_rewrite_without_any_checkpoint_is_not_detectable():
    items = _items(_chain(6))
    items[2]["data"]["total_gross_cents"] = 1

    assert _verify(_rehash_from(items, 3)).ok  # the reason checkpoints are signed and published


def test_deleting_the_tail_after_a_checkpoint_is_truncated_at_the_first_missing_seq():
    items = _items(_chain(10))
    checkpoints = [_checkpoint(items, 10)]

    report = _verify(items[:7], checkpoints=checkpoints)

    _assert_fails(report, "truncated", 8)
    assert report.size == 7
    assert "entries 8 to 10 are missing" in report.detail


def test_a_checkpoint_by_an_unpublished_key_is_key_not_valid_at_its_size():
    items = _items(_chain(8))
    forged = _checkpoint(items, 6, key_id=ATTACKER_KEY_ID, signer=attacker_signing_key())

    report = _verify(items, checkpoints=[forged])

    _assert_fails(report, "key_not_valid", 6)
    assert ATTACKER_KEY_ID in report.detail


def test_a_checkpoint_dated_outside_its_key_validity_is_key_not_valid():
    items = _items(_chain(4))
    early = _checkpoint(items, 4, timestamp="2025-06-01T00:00:00.000000Z")

    _assert_fails(_verify(items, checkpoints=[early]), "key_not_valid", 4)


def test_a_forged_signature_under_the_published_key_id_is_bad_signature():
    items = _items(_chain(8))
    forged = _checkpoint(items, 8, signer=attacker_signing_key())

    _assert_fails(_verify(items, checkpoints=[forged]), "bad_signature", 8)


def test_a_forged_checkpoint_beyond_the_end_is_bad_signature_not_truncated():
    items = _items(_chain(5))
    longer = _checkpoint(_items(_chain(9)), 9, signer=attacker_signing_key())

    _assert_fails(_verify(items, checkpoints=[longer]), "bad_signature", 6)


def test_two_valid_checkpoints_of_one_size_with_different_roots_are_inconsistent():
    items = _items(_chain(6))
    fork = copy.deepcopy(items)
    fork[4]["data"]["total_gross_cents"] = 0
    checkpoints = [_checkpoint(items, 6), _checkpoint(_rehash_from(fork, 5), 6, timestamp=_timestamp(99))]

    report = _verify(items, checkpoints=checkpoints)

    _assert_fails(report, "checkpoint_inconsistent", 6)
    assert "different roots" in report.detail


def test_a_checkpoint_of_another_chain_is_wrong_chain():
    other = Checkpoint(chain_key(TENANT, "events"), 1, "00" * 32, _timestamp(1), TEST_KEY_ID, b"sig")

    _assert_fails(_verify(_items(_chain(2)), checkpoints=[other]), "wrong_chain", None)


def test_checkpoints_without_a_signature_verifier_are_a_programming_error():
    items = _items(_chain(2))

    with pytest.raises(ValueError, match="signature_verifier"):
        verify_chain(items, tenant_id=TENANT, chain=CHAIN, checkpoints=[_checkpoint(items, 2)])


def test_a_rollback_to_an_old_backup_is_detected_by_the_newer_checkpoint():
    # GIVEN a chain of 10 with a checkpoint at 10, restored from a backup taken at size 7
    items = _items(_chain(10))
    checkpoints = [_checkpoint(items, 7), _checkpoint(items, 10)]
    restored = items[:7]
    prev = restored[-1]["hash"]
    for seq in (8, 9):
        record = seal(TENANT, CHAIN, seq, "sale", _timestamp(100 + seq), False, {"after": "restore"}, prev)
        restored.append(record.to_dict())
        prev = record.hash

    # THEN the old checkpoint at size 10 shows the history was cut
    report = _verify(restored, checkpoints=checkpoints)

    _assert_fails(report, "truncated", 10)
    assert report.proven_size == 7


# -- extra checks, resuming, inclusion -------------------------------------------------------------


class _RunningTotal:
    """A closure-style check: keeps a running total and compares it with each 'closure' entry."""

    def __init__(self) -> None:
        self.total = 0
        self.seen: list[int] = []

    def check(self, record: SealedRecord) -> tuple[str, str] | None:
        self.seen.append(record.seq)
        if record.type == "closure":
            if record.data["total"] != self.total:
                return (
                    "closure_total_mismatch",
                    f"closure total {record.data['total']} != running total {self.total}",
                )
            return None
        self.total += record.data["total_gross_cents"]
        return None


def _with_closure(total: int) -> list[dict[str, Any]]:
    items = _items(_chain(3))
    closure = seal(TENANT, CHAIN, 4, "closure", _timestamp(4), False, {"total": total}, items[-1]["hash"])
    return [*items, closure.to_dict()]


def test_an_extra_check_can_fail_a_record_with_its_own_reason():
    report = _verify(_with_closure(999), extra_checks=[_RunningTotal()])

    _assert_fails(report, "closure_total_mismatch", 4)
    assert "running total 306" in report.detail


def test_an_extra_check_passes_a_correct_closure_and_accepts_plain_callables():
    seen: list[int] = []

    report = _verify(
        _with_closure(306), extra_checks=[_RunningTotal(), lambda record: seen.append(record.seq)]
    )

    assert report.ok
    assert seen == [1, 2, 3, 4]


def test_extra_checks_only_see_records_that_passed_the_builtin_checks():
    items = _items(_chain(4))
    items[2]["data"]["total_gross_cents"] = 0
    check = _RunningTotal()

    _assert_fails(_verify(items, extra_checks=[check]), "hash_mismatch", 3)
    assert check.seen == [1, 2]


def test_verification_resumes_from_an_earlier_head_with_the_same_result():
    items = _items(_chain(20))
    checkpoints = [_checkpoint(items, size) for size in (5, 12, 20)]
    full = _verify(items, checkpoints=checkpoints)

    first = _verify(items[:12], checkpoints=checkpoints[:2])
    second = _verify(items[12:], checkpoints=checkpoints, start=first.head)

    assert first.ok and second.ok
    assert (second.size, second.root, second.head) == (full.size, full.root, full.head)
    assert second.checkpoints_verified == 2  # size 12 (at the start) and 20; size 5 is behind the head


def test_a_resumed_run_still_catches_a_broken_link_at_the_seam():
    items = _items(_chain(10))
    head = _verify(items[:5]).head
    items[5]["prev_hash"] = "e" * 64
    items[5]["hash"] = hashlib.sha256(
        canonical_bytes({k: v for k, v in items[5].items() if k != "hash"})
    ).hexdigest()

    _assert_fails(_verify(items[5:], start=head), "broken_link", 6)


def test_a_chain_head_refuses_inconsistent_state():
    with pytest.raises(ValueError, match="64 zeros exactly when size is 0"):
        ChainHead(size=1, last_hash=GENESIS_PREV_HASH, compact=("00" * 32,))
    with pytest.raises(ProofError):
        ChainHead(size=3, last_hash="a" * 64, compact=("00" * 32,))


def test_a_record_is_proven_included_in_a_signed_checkpoint():
    records = _chain(9)
    items = _items(records)
    checkpoint = _checkpoint(items, 9)
    leaves = [record_leaf_hash(item["hash"]) for item in items]

    verify_record_inclusion(records[3], checkpoint, inclusion_proof(leaves, 3))
    verify_record_inclusion(items[3], checkpoint, inclusion_proof(leaves, 3))


def test_a_tampered_or_misplaced_record_is_not_proven_included():
    items = _items(_chain(9))
    checkpoint = _checkpoint(items, 9)
    leaves = [record_leaf_hash(item["hash"]) for item in items]
    tampered = copy.deepcopy(items[3])
    tampered["data"]["total_gross_cents"] = 0

    with pytest.raises(ProofError, match="not the hash of the record"):
        verify_record_inclusion(tampered, checkpoint, inclusion_proof(leaves, 3))
    with pytest.raises(ProofError, match="does not match"):
        verify_record_inclusion(items[4], checkpoint, inclusion_proof(leaves, 3))
    with pytest.raises(ProofError, match="beyond the checkpoint"):
        verify_record_inclusion(items[8], _checkpoint(items, 5), inclusion_proof(leaves[:5], 4))
