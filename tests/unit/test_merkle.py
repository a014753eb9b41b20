"""RFC 6962 Merkle trees: hashes, roots, proofs and the compact range."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.domain.errors import ScelleError
from chalicelib.domain.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    RootMismatchError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    record_leaf_hash,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(f"leaf {index}".encode()).digest()) for index in range(count)]


def _reference_root(hashes: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as literally as possible."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_root(hashes[:k]) + _reference_root(hashes[k:])).digest()


# -- known answers (transparency-dev/merkle rfc6962_test.go) ---------------------------------------


def test_the_empty_tree_root_is_the_hash_of_nothing():
    # echo -n | sha256sum
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT


def test_an_empty_leaf_is_not_the_empty_tree():
    # echo -n 00 | xxd -r -p | sha256sum
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_a_leaf_hash_is_prefixed_with_a_zero_byte():
    # echo -n 004C313233343536 | xxd -r -p | sha256sum
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"


def test_a_node_hash_is_prefixed_with_a_one_byte():
    # echo -n 014E3132334E343536 | xxd -r -p | sha256sum
    assert (
        node_hash(b"N123", b"N456").hex()
        == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_a_leaf_cannot_pass_for_a_node_second_preimage():
    left, right = _leaves(2)

    assert leaf_hash(left + right) != node_hash(left, right)


def test_a_record_leaf_is_the_raw_32_bytes_of_its_hash():
    record_hash = "ab" * 32

    assert record_leaf_hash(record_hash) == hashlib.sha256(b"\x00" + bytes.fromhex(record_hash)).digest()
    with pytest.raises(ProofError, match="want 32"):
        record_leaf_hash("ab" * 31)


# -- roots and the compact range -------------------------------------------------------------------


def test_root_matches_the_rfc_definition_for_every_size_up_to_70():
    hashes = _leaves(70)
    for size in range(71):
        assert root(hashes[:size]) == _reference_root(hashes[:size]), size


def test_the_compact_range_gives_the_same_root_as_the_whole_tree_for_every_size_0_to_70():
    hashes = _leaves(70)
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size in range(1, 71):
        compact.append(hashes[size - 1])

        assert compact.size == size
        assert compact.root() == root(hashes[:size]), size
        assert len(compact.hashes) == bin(size).count("1")


def test_a_compact_range_saved_at_any_size_continues_without_the_old_leaves():
    hashes = _leaves(70)
    for saved_at in range(71):
        # GIVEN a range saved by a checkpoint at size `saved_at`
        compact = CompactRange()
        for value in hashes[:saved_at]:
            compact.append(value)
        size, state = compact.to_state()

        # WHEN the next run restores it and appends only the new leaves
        resumed = CompactRange.from_state(size, state)
        for value in hashes[saved_at:]:
            resumed.append(value)

        # THEN it reaches the same root as a full recomputation
        assert resumed.root() == root(hashes), saved_at


def test_a_copy_of_a_compact_range_is_independent():
    compact = CompactRange()
    compact.append(_leaves(1)[0])
    clone = compact.copy()

    clone.append(_leaves(2)[1])

    assert compact.size == 1 and clone.size == 2
    assert compact != clone


@pytest.mark.parametrize(
    ("size", "hashes", "message"),
    [
        (3, ["00" * 32], "needs 2 hashes, got 1"),
        (1, ["zz" * 32], "not hex"),
        (1, ["00" * 31], "unexpected size 31"),
        (-1, [], "non-negative"),
    ],
)
def test_a_malformed_compact_range_state_is_refused(size, hashes, message):
    with pytest.raises(ProofError, match=message):
        CompactRange.from_state(size, hashes)


def test_root_refuses_a_leaf_that_is_not_32_bytes():
    with pytest.raises(ProofError, match=r"leaf_hashes\[1\] has unexpected size 3"):
        root([_leaves(1)[0], b"abc"])


# -- inclusion -------------------------------------------------------------------------------------


def test_every_inclusion_proof_verifies_for_trees_up_to_40_leaves():
    hashes = _leaves(40)
    for size in range(1, 41):
        tree_root = root(hashes[:size])
        for index in range(size):
            proof = inclusion_proof(hashes[:size], index)

            verify_inclusion(hashes[index], index, size, proof, tree_root)


def test_an_inclusion_proof_for_another_leaf_does_not_verify():
    hashes = _leaves(7)
    proof = inclusion_proof(hashes, 2)

    with pytest.raises(RootMismatchError, match="does not match expected root"):
        verify_inclusion(hashes[3], 2, 7, proof, root(hashes))


@pytest.mark.parametrize(
    ("index", "size", "proof_length", "message"),
    [
        (5, 5, 3, r"index is beyond size: 5 >= 5"),
        (0, 0, 0, "index is beyond size"),
        (1, 5, 2, "wrong proof size 2, want 3"),
        (-1, 5, 3, "non-negative"),
    ],
)
def test_inclusion_preconditions_are_checked_before_hashing(index, size, proof_length, message):
    with pytest.raises(ProofError, match=message):
        root_from_inclusion_proof(_leaves(1)[0], index, size, _leaves(proof_length))


def test_inclusion_refuses_hashes_of_the_wrong_length():
    hashes = _leaves(4)
    proof = inclusion_proof(hashes, 0)

    with pytest.raises(ProofError, match="leaf_hash has unexpected size 31"):
        verify_inclusion(hashes[0][:31], 0, 4, proof, root(hashes))
    with pytest.raises(ProofError, match=r"proof\[1\] has unexpected size 33"):
        verify_inclusion(hashes[0], 0, 4, [proof[0], proof[1] + b"x"], root(hashes))
    with pytest.raises(ProofError, match="root has unexpected size 0"):
        verify_inclusion(hashes[0], 0, 4, proof, b"")


def test_inclusion_proof_generation_checks_the_index():
    with pytest.raises(ProofError, match="index is beyond size: 3 >= 3"):
        inclusion_proof(_leaves(3), 3)


# -- consistency -----------------------------------------------------------------------------------


def test_every_consistency_proof_verifies_for_trees_up_to_33_leaves():
    hashes = _leaves(33)
    for size2 in range(1, 34):
        root2 = root(hashes[:size2])
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(hashes[:size2], size1)

            verify_consistency(size1, size2, root(hashes[:size1]), root2, proof)


def test_a_rewritten_prefix_is_not_consistent():
    hashes = _leaves(9)
    rewritten = [*hashes[:3], leaf_hash(b"forged"), *hashes[4:]]
    proof = consistency_proof(rewritten, 5)

    with pytest.raises(RootMismatchError):
        verify_consistency(5, 9, root(hashes[:5]), root(rewritten), proof)


@pytest.mark.parametrize(
    ("size1", "size2", "proof_length", "message"),
    [
        (0, 5, 0, "size1 must be > 0"),
        (6, 5, 1, r"size2 \(5\) < size1 \(6\)"),
        (5, 5, 1, "size1=size2, but proof is not empty"),
        (3, 5, 0, "empty proof"),
        (3, 5, 1, "wrong proof size 1, want 4"),
    ],
)
def test_consistency_preconditions_are_checked_before_hashing(size1, size2, proof_length, message):
    any_root = _leaves(1)[0]

    with pytest.raises(ProofError, match=message):
        verify_consistency(size1, size2, any_root, any_root, _leaves(proof_length))


def test_equal_sizes_need_equal_roots():
    first, second = _leaves(2)

    with pytest.raises(RootMismatchError):
        verify_consistency(4, 4, first, second, [])


def test_consistency_proof_generation_requires_0_lt_size1_le_size2():
    with pytest.raises(ProofError, match="requires 0 < size1 <= size2"):
        consistency_proof(_leaves(3), 0)
    with pytest.raises(ProofError, match="requires 0 < size1 <= size2"):
        consistency_proof(_leaves(3), 4)


def test_proof_errors_are_scelle_errors_with_a_stable_code():
    assert issubclass(ProofError, ScelleError)
    assert issubclass(RootMismatchError, ProofError)
    assert ProofError.code == "proof-invalid"


def test_a_consistency_proof_from_the_old_compact_range_and_the_new_leaves_is_the_full_one():
    """What the witness submitter builds (decision 0024): no leaf before the old size is read."""
    from chalicelib.domain.merkle import CompactRange, consistency_proof, consistency_proof_after, verify_consistency

    leaves = [hashlib.sha256(i.to_bytes(2, "big")).digest() for i in range(70)]
    for size1 in range(1, 40):
        old = CompactRange()
        for leaf in leaves[:size1]:
            old.append(leaf)
        for size2 in range(size1, 70, 3):
            proof = consistency_proof_after(old, leaves[size1:size2])
            assert proof == consistency_proof(leaves[:size2], size1)
            new = old.copy()
            for leaf in leaves[size1:size2]:
                new.append(leaf)
            verify_consistency(size1, size2, old.root(), new.root(), proof)
