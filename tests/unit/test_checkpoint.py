"""Checkpoint text, signatures through the injected port, and key validity."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain.checkpoint import (
    HEADER,
    BadSignature,
    Checkpoint,
    CheckpointError,
    CheckpointsInconsistent,
    KeyNotValid,
    PublicKeyInfo,
    find_key,
    key_valid_at,
    verify_checkpoint,
    verify_checkpoint_consistency,
)
from chalicelib.domain.merkle import consistency_proof, leaf_hash, root
from tests.vectors.helpers import (
    TEST_KEY_ID,
    attacker_signing_key,
    make_signature_verifier,
    public_pem,
    sign,
    vector_signing_key,
)

CHAIN_KEY = "TENANT#acme#CHAIN#prod.sales.R1"
ROOT = "5c" * 32
WHEN = "2026-11-23T17:30:00.123456Z"


def _unsigned(
    size: int = 42, root_hex: str = ROOT, timestamp: str = WHEN, key_id: str = TEST_KEY_ID
) -> Checkpoint:
    return Checkpoint(CHAIN_KEY, size, root_hex, timestamp, key_id)


def _signed(**fields: object) -> Checkpoint:
    unsigned = _unsigned(**fields)  # type: ignore[arg-type]
    return unsigned.with_signature(sign(vector_signing_key(), unsigned.signed_message()))


def _published(
    not_before: str = "2026-01-01T00:00:00.000000Z", not_after: str | None = None
) -> PublicKeyInfo:
    return PublicKeyInfo(TEST_KEY_ID, not_before, not_after, public_pem(vector_signing_key()))


# -- text ------------------------------------------------------------------------------------------


def test_the_signed_message_is_exactly_six_lines_each_ending_with_a_newline():
    assert _unsigned().signed_message() == (
        f"scelle-checkpoint/v1\n{CHAIN_KEY}\n42\n{ROOT}\n{WHEN}\n{TEST_KEY_ID}\n".encode()
    )


def test_the_text_is_the_message_a_blank_line_and_the_base64_signature():
    checkpoint = _signed()

    text = checkpoint.to_text()

    assert (
        text
        == checkpoint.signed_message().decode()
        + "\n"
        + base64.b64encode(checkpoint.signature).decode()
        + "\n"
    )


def test_to_text_and_from_text_round_trip():
    checkpoint = _signed()

    parsed = Checkpoint.from_text(checkpoint.to_text())

    assert parsed == checkpoint
    assert parsed.to_text() == checkpoint.to_text()
    assert Checkpoint.from_text(checkpoint.to_text().encode()) == checkpoint


def test_a_size_zero_checkpoint_is_well_formed():
    checkpoint = _signed(size=0, root_hex=root([]).hex())

    assert Checkpoint.from_text(checkpoint.to_text()).size == 0


def test_an_unsigned_checkpoint_cannot_be_written_as_text():
    with pytest.raises(CheckpointError, match="unsigned"):
        _unsigned().to_text()


def _replace_line(text: str, number: int, value: str) -> str:
    lines = text.split("\n")
    lines[number - 1] = value
    return "\n".join(lines)


_GOOD = _signed().to_text()
_SIGNATURE_LINE = _GOOD.split("\n")[7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "checkpoint is empty"),
        (b"\xff\xfe", "not valid UTF-8"),
        (_GOOD.replace("\n", "\r\n"), "carriage return"),
        (_GOOD[:-1], "does not end with a newline"),
        (_replace_line(_GOOD, 1, "scelle-checkpoint/v2"), "line 1: unknown checkpoint header"),
        (f"{HEADER}\n{CHAIN_KEY}\n42\n", "checkpoint has 3 lines, the body alone needs 6"),
        (_replace_line(_GOOD, 2, "TENANT#acme"), "line 2: chain key"),
        (_replace_line(_GOOD, 3, "042"), "line 3: size '042' is not a decimal integer without leading zeros"),
        (_replace_line(_GOOD, 3, "-1"), "line 3"),
        (_replace_line(_GOOD, 3, str(2**63)), "does not fit in signed 64 bits"),
        (_replace_line(_GOOD, 4, ROOT.upper()), "line 4: root"),
        (_replace_line(_GOOD, 4, ROOT[:-2]), "line 4: root"),
        (_replace_line(_GOOD, 5, "2026-11-23T17:30:00Z"), "line 5"),
        (_replace_line(_GOOD, 6, ""), "line 6: key id is empty"),
        (_replace_line(_GOOD, 6, "key with spaces"), "line 6: key id"),
        (_replace_line(_GOOD, 7, "x"), "line 7: the body must be followed by one blank line"),
        ("".join(line + "\n" for line in _GOOD.split("\n")[:6]), "line 7"),
        (_replace_line(_GOOD, 8, ""), "line 8: missing signature"),
        (_replace_line(_GOOD, 8, "***"), "line 8: signature is not base64"),
        (_replace_line(_GOOD, 8, _SIGNATURE_LINE[:-1]), "bad length or padding"),
        (_GOOD + "trailer\n", "line 9: unexpected text after the signature line"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 60 else None,
)
def test_each_malformed_text_has_its_own_message(text, message):
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.from_text(text)


def test_a_signature_in_non_canonical_base64_is_refused_so_text_round_trips_exactly():
    # GIVEN a signature whose base64 ends with padding, with a stray bit in the last character
    checkpoint = _signed()
    while len(checkpoint.signature) % 3 == 0:  # need padding to have spare bits
        checkpoint = checkpoint.with_signature(checkpoint.signature + b"\x00")
    encoded = base64.b64encode(checkpoint.signature).decode()
    last = encoded.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray = alphabet[alphabet.index(last) ^ 1]
    tampered = encoded.rstrip("=")[:-1] + stray + "=" * (len(encoded) - len(encoded.rstrip("=")))

    with pytest.raises(CheckpointError, match="canonical base64"):
        Checkpoint.from_text(_replace_line(checkpoint.to_text(), 8, tampered))


def test_the_dataclass_validates_its_fields():
    with pytest.raises(CheckpointError, match="chain key"):
        Checkpoint("acme", 1, ROOT, WHEN, TEST_KEY_ID)
    with pytest.raises(CheckpointError, match="size must be an integer >= 0"):
        Checkpoint(CHAIN_KEY, -1, ROOT, WHEN, TEST_KEY_ID)
    with pytest.raises(CheckpointError, match="root must be 64 lowercase hex"):
        Checkpoint(CHAIN_KEY, 1, "x", WHEN, TEST_KEY_ID)
    with pytest.raises(CheckpointError, match="timestamp"):
        Checkpoint(CHAIN_KEY, 1, ROOT, "yesterday", TEST_KEY_ID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _unsigned().size = 1  # type: ignore[misc]


# -- signatures ------------------------------------------------------------------------------------


def test_the_signature_is_plain_ecdsa_p256_sha256_over_the_message_bytes():
    # GIVEN a checkpoint signed with the test key
    checkpoint = _signed()

    # THEN any ECDSA P-256 verifier accepts it over the six body lines (what `openssl dgst` does)
    vector_signing_key().public_key().verify(
        checkpoint.signature, checkpoint.signed_message(), ec.ECDSA(hashes.SHA256())
    )


def test_a_checkpoint_signed_by_a_published_key_verifies():
    key = _published()

    assert verify_checkpoint(_signed(), [key], make_signature_verifier([key])) == key


def test_a_checkpoint_by_an_unknown_key_id_is_key_not_valid():
    checkpoint = _signed(key_id="someone-else")

    with pytest.raises(KeyNotValid, match="unknown key 'someone-else'") as caught:
        verify_checkpoint(checkpoint, [_published()], make_signature_verifier([_published()]))

    assert caught.value.reason == "key_not_valid"


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [("2026-12-01T00:00:00.000000Z", None), ("2026-01-01T00:00:00.000000Z", "2026-11-23T17:30:00.123456Z")],
    ids=["before-not-before", "at-not-after"],
)
def test_a_checkpoint_dated_outside_the_key_validity_is_key_not_valid(not_before, not_after):
    key = _published(not_before, not_after)

    with pytest.raises(KeyNotValid, match="outside the validity"):
        verify_checkpoint(_signed(), [key], make_signature_verifier([key]))


def test_a_signature_by_another_key_under_the_published_id_is_bad_signature():
    unsigned = _unsigned()
    forged = unsigned.with_signature(sign(attacker_signing_key(), unsigned.signed_message()))

    with pytest.raises(BadSignature, match="does not verify") as caught:
        verify_checkpoint(forged, [_published()], make_signature_verifier([_published()]))

    assert caught.value.reason == "bad_signature"


def test_changing_any_signed_line_breaks_the_signature():
    signed = _signed()
    verifier = make_signature_verifier([_published()])
    for change in ({"size": 43}, {"root": "5d" * 32}, {"timestamp": "2026-11-23T17:30:00.123457Z"}):
        altered = dataclasses.replace(signed, **change)

        with pytest.raises(BadSignature):
            verify_checkpoint(altered, [_published()], verifier)


def test_an_empty_signature_or_a_failing_verifier_is_bad_signature():
    def broken(key_id: str, message: bytes, signature: bytes) -> bool:
        raise RuntimeError("KMS unreachable")

    with pytest.raises(BadSignature, match="no signature"):
        verify_checkpoint(_unsigned(), [_published()], make_signature_verifier([_published()]))
    with pytest.raises(BadSignature, match="KMS unreachable"):
        verify_checkpoint(_signed(), [_published()], broken)


def test_only_a_literal_true_from_the_verifier_counts_as_valid():
    with pytest.raises(BadSignature):
        verify_checkpoint(_signed(), [_published()], lambda key_id, message, signature: "yes")  # type: ignore[arg-type,return-value]


# -- key validity ----------------------------------------------------------------------------------


def test_a_key_is_valid_from_not_before_included_to_not_after_excluded():
    key = _published("2026-01-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z")

    assert not key_valid_at(key, "2025-12-31T23:59:59.999999Z")
    assert key_valid_at(key, "2026-01-01T00:00:00.000000Z")
    assert key_valid_at(key, "2026-12-31T23:59:59.999999Z")
    assert not key_valid_at(key, "2027-01-01T00:00:00.000000Z")


def test_a_current_key_has_no_end():
    assert key_valid_at(_published(), "2099-01-01T00:00:00.000000Z")


def test_a_key_must_end_after_it_starts_and_carry_a_pem_public_key():
    with pytest.raises(CheckpointError, match="not_after must be later"):
        _published("2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z")
    with pytest.raises(CheckpointError, match="not a PEM public key"):
        PublicKeyInfo(TEST_KEY_ID, "2026-01-01T00:00:00.000000Z", None, "-----BEGIN PRIVATE KEY-----")


def test_find_key_returns_the_key_with_that_id_or_none():
    key = _published()

    assert find_key([key], TEST_KEY_ID) is key
    assert find_key([key], "nope") is None


# -- consistency between two checkpoints -----------------------------------------------------------


def test_an_older_checkpoint_is_consistent_with_a_newer_one_through_a_proof():
    leaves = [leaf_hash(bytes([index]) * 32) for index in range(11)]
    older = _unsigned(size=6, root_hex=root(leaves[:6]).hex())
    newer = _unsigned(size=11, root_hex=root(leaves).hex())

    verify_checkpoint_consistency(older, newer, consistency_proof(leaves, 6))

    forked = _unsigned(size=6, root_hex=root([*leaves[:5], leaf_hash(b"fork")]).hex())
    with pytest.raises(CheckpointsInconsistent, match="not a prefix"):
        verify_checkpoint_consistency(forked, newer, consistency_proof(leaves, 6))


def test_checkpoints_of_different_chains_are_never_consistent():
    other = Checkpoint("TENANT#acme#CHAIN#events", 42, ROOT, WHEN, TEST_KEY_ID)

    with pytest.raises(CheckpointsInconsistent, match="different chains"):
        verify_checkpoint_consistency(other, _unsigned(), [])
