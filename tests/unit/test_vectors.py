"""The committed vectors in tests/vectors/ still verify, and regenerate byte for byte.

If one of these fails after a code change, the change altered hash format v1: every chain
sealed so far would stop verifying. Fix the code; never regenerate the vectors to make it pass.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain import merkle
from chalicelib.domain.canonical import CanonicalError, canonical_bytes, encode_stdlib
from chalicelib.domain.checkpoint import Checkpoint, CheckpointError
from chalicelib.domain.records import HASHED_FIELDS, SealedRecord
from chalicelib.domain.verification import verify_chain
from tests.vectors import generate
from tests.vectors.helpers import VECTORS_DIR, keys_from_json, load_vectors, make_signature_verifier

HASHING = load_vectors("hashing.json")
INCLUSION = load_vectors("merkle-inclusion.json")
CONSISTENCY = load_vectors("merkle-consistency.json")
TAMPER = load_vectors("chain-tamper.json")
CHECKPOINTS = load_vectors("checkpoints.json")


@pytest.mark.parametrize("name", sorted(generate.BUILDERS))
def test_the_committed_vector_file_regenerates_byte_for_byte(name):
    assert generate.BUILDERS[name]() == (VECTORS_DIR / name).read_text(encoding="utf-8"), (
        f"tests/vectors/{name} differs from what generate.py produces"
    )


# -- hashing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", HASHING["records"], ids=lambda vector: vector["desc"])
def test_each_record_vector_has_the_recorded_canonical_bytes_and_hash(vector):
    record = vector["record"]
    hashed = {name: record[name] for name in HASHED_FIELDS}

    assert set(record) == {*HASHED_FIELDS, "hash"}
    assert canonical_bytes(hashed) == vector["canonical"].encode("utf-8")
    assert encode_stdlib(hashed) == vector["canonical"].encode("utf-8")
    assert hashlib.sha256(vector["canonical"].encode("utf-8")).hexdigest() == vector["hash"] == record["hash"]
    assert SealedRecord.from_item(record).intact


@pytest.mark.parametrize("vector", HASHING["canonical"], ids=lambda vector: vector["desc"])
def test_each_canonical_vector_gives_its_bytes_or_is_refused(vector):
    value = json.loads(vector["value_json"])
    if vector["want_err"]:
        with pytest.raises(CanonicalError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == vector["canonical"].encode("utf-8")


# -- Merkle ----------------------------------------------------------------------------------------


def test_the_listed_roots_are_the_roots_of_the_listed_leaves():
    leaf_hashes = [bytes.fromhex(value) for value in INCLUSION["leaf_hashes"]]

    assert [merkle.leaf_hash(bytes.fromhex(value)) for value in INCLUSION["leaf_inputs"]] == leaf_hashes
    assert [merkle.root(leaf_hashes[:size]).hex() for size in range(len(leaf_hashes) + 1)] == INCLUSION[
        "roots"
    ]


def test_inclusion_vectors_cover_every_index_of_every_size_1_to_17_and_each_attack():
    happy = {(case["size"], case["index"]) for case in INCLUSION["cases"] if case["desc"] == "happy-path"}
    attacks = {case["desc"].split("[")[0] for case in INCLUSION["cases"] if case["want_err"]}

    assert happy == {(size, index) for size in range(1, 18) for index in range(size)}
    assert {"modified-proof", "index-plus-1", "trailing-garbage", "truncated-proof", "wrong-root"} <= attacks


def test_consistency_vectors_cover_every_pair_of_sizes_1_to_17_and_each_attack():
    happy = {(case["size1"], case["size2"]) for case in CONSISTENCY["cases"] if case["desc"] == "happy-path"}
    attacks = {case["desc"].split("[")[0] for case in CONSISTENCY["cases"] if case["want_err"]}

    assert happy == {(size1, size2) for size2 in range(1, 18) for size1 in range(1, size2 + 1)}
    assert {
        "modified-proof",
        "swapped-roots",
        "trailing-garbage",
        "truncated-proof",
        "empty-proof",
    } <= attacks


def _outcome(call) -> bool:
    try:
        call()
    except merkle.ProofError:
        return True
    return False


def test_every_inclusion_vector_verifies_or_fails_as_recorded():
    wrong = []
    for case in INCLUSION["cases"]:
        failed = _outcome(
            lambda case=case: merkle.verify_inclusion(
                bytes.fromhex(case["leaf_hash"]),
                case["index"],
                case["size"],
                [bytes.fromhex(value) for value in case["proof"]],
                bytes.fromhex(case["root"]),
            )
        )
        if failed != case["want_err"]:
            wrong.append((case["size"], case["index"], case["desc"]))

    assert wrong == []


def test_every_consistency_vector_verifies_or_fails_as_recorded():
    wrong = []
    for case in CONSISTENCY["cases"]:
        failed = _outcome(
            lambda case=case: merkle.verify_consistency(
                case["size1"],
                case["size2"],
                bytes.fromhex(case["root1"]),
                bytes.fromhex(case["root2"]),
                [bytes.fromhex(value) for value in case["proof"]],
            )
        )
        if failed != case["want_err"]:
            wrong.append((case["size1"], case["size2"], case["desc"]))

    assert wrong == []


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _rfc9162_inclusion_ok(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, as written in docs/hash-format.md (independent of merkle.py)."""
    if index >= size or any(len(value) != 32 for value in [leaf, root, *proof]):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _rfc9162_consistency_ok(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2, as written in docs/hash-format.md, with 0 < size1 <= size2."""
    if not 0 < size1 <= size2 or any(len(value) != 32 for value in [root1, root2, *proof]):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof:
        return False
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


def test_the_rfc_9162_algorithms_of_the_spec_agree_with_every_merkle_vector():
    wrong = []
    for case in INCLUSION["cases"]:
        proof = [bytes.fromhex(value) for value in case["proof"]]
        ok = _rfc9162_inclusion_ok(
            bytes.fromhex(case["leaf_hash"]), case["index"], case["size"], proof, bytes.fromhex(case["root"])
        )
        if ok == case["want_err"]:
            wrong.append(("inclusion", case["size"], case["index"], case["desc"]))
    for case in CONSISTENCY["cases"]:
        proof = [bytes.fromhex(value) for value in case["proof"]]
        ok = _rfc9162_consistency_ok(
            case["size1"], case["size2"], bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"]), proof
        )
        if ok == case["want_err"]:
            wrong.append(("consistency", case["size1"], case["size2"], case["desc"]))

    assert wrong == []


def test_the_proofs_generated_today_are_the_recorded_happy_paths():
    leaf_hashes = [bytes.fromhex(value) for value in INCLUSION["leaf_hashes"]]
    for case in INCLUSION["cases"]:
        if case["desc"] == "happy-path":
            proof = merkle.inclusion_proof(leaf_hashes[: case["size"]], case["index"])
            assert [value.hex() for value in proof] == case["proof"]
    for case in CONSISTENCY["cases"]:
        if case["desc"] == "happy-path":
            proof = merkle.consistency_proof(leaf_hashes[: case["size2"]], case["size1"])
            assert [value.hex() for value in proof] == case["proof"]


# -- chains ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", TAMPER["cases"], ids=lambda case: case["desc"][:70])
def test_each_chain_tamper_vector_gives_its_reason_and_first_bad_seq(case):
    # GIVEN the stored items, the checkpoint texts and the published keys of the vector
    keys = keys_from_json(case["keys"])

    # WHEN the chain is verified
    report = verify_chain(
        case["records"],
        tenant_id=case["tenant_id"],
        chain=case["chain"],
        checkpoints=[Checkpoint.from_text(text) for text in case["checkpoints"]],
        keys=keys,
        signature_verifier=make_signature_verifier(keys),
    )

    # THEN the verdict is exactly the recorded one
    assert report.ok == case["want"]["ok"], report.detail
    assert report.reason == case["want"]["reason"], report.detail
    assert report.first_bad_seq == case["want"]["first_bad_seq"], report.detail


def test_the_tamper_vectors_cover_every_attack_named_in_the_design():
    reasons = {case["want"]["reason"] for case in TAMPER["cases"]}

    assert {
        "hash_mismatch",
        "broken_link",
        "gap",
        "duplicate",
        "out_of_order",
        "wrong_chain",
        "bad_version",
        "bad_genesis",
        "non_canonical",
        "checkpoint_mismatch",
        "truncated",
        "bad_signature",
        "key_not_valid",
        "checkpoint_inconsistent",
        "ok",
    } == reasons


# -- checkpoints -----------------------------------------------------------------------------------


def test_the_valid_checkpoint_vector_parses_round_trips_and_its_signature_verifies():
    vector = CHECKPOINTS["valid"][0]
    public_key = serialization.load_pem_public_key(CHECKPOINTS["public_key_pem"].encode())
    assert isinstance(public_key, ec.EllipticCurvePublicKey)

    checkpoint = Checkpoint.from_text(vector["text"])

    assert checkpoint.to_text() == vector["text"]
    assert checkpoint.signed_message().decode() == vector["signed_message"]
    assert (checkpoint.chain_key, checkpoint.size, checkpoint.root, checkpoint.timestamp) == (
        vector["chain_key"],
        vector["size"],
        vector["root"],
        vector["timestamp"],
    )
    assert checkpoint.signature.hex() == vector["signature_der_hex"]
    public_key.verify(checkpoint.signature, vector["signed_message"].encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("vector", CHECKPOINTS["malformed"], ids=lambda vector: vector["desc"])
def test_each_malformed_checkpoint_vector_is_refused_with_its_message(vector):
    with pytest.raises(CheckpointError, match=vector["error"]):
        Checkpoint.from_text(vector["text"])


def test_the_vector_signing_key_is_documented_as_test_only():
    note = (VECTORS_DIR / "test-signing-key.README.txt").read_text(encoding="utf-8")

    assert note.startswith("TEST-ONLY KEY")
    assert (VECTORS_DIR / "test-signing-key.pub.pem").read_text() == CHECKPOINTS["public_key_pem"]


def test_the_worked_examples_in_docs_hash_format_match_the_vectors():
    spec = (VECTORS_DIR.parent.parent / "docs" / "hash-format.md").read_text(encoding="utf-8")
    genesis = HASHING["records"][0]

    assert genesis["canonical"] in spec
    assert f"one line, {len(genesis['canonical'].encode())} bytes" in spec
    assert genesis["hash"] in spec and HASHING["records"][1]["hash"] in spec
    assert CHECKPOINTS["valid"][0]["text"] in spec
