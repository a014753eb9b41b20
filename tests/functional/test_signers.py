"""One contract for both signers (checkpoints and export manifests): the KMS signer (AWS; here
moto's KMS, patched to AWS's limits) and the local key file. Each signs the SHA-256 digest of the
message (KMS MessageType=DIGEST), which is an ECDSA P-256 / SHA-256 signature of the message
itself: anyone verifies the DER signature with the published public key alone, whatever the size of
the message. Both refuse what KMS Sign refuses: a RAW message over 4,096 bytes, a DIGEST message
that is not 32 bytes long."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.signing import (
    MAX_MESSAGE_BYTES,
    KmsSigner,
    LocalSigner,
    MessageRefused,
    signature_verifier_for,
    verify_signature,
)
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo, verify_checkpoint

pytestmark = pytest.mark.functional
MESSAGE = b"scelle-checkpoint/v1\nTENANT#t1#CHAIN#prod.sales.R1\n3\n" + b"ab" * 32 + b"\n"
LARGE = b'{"checkpoint_sizes": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n' * 200  # a manifest-like 11 KB


@pytest.fixture(params=["kms", "local"])
def signer(request, container, tmp_path):
    if request.param == "local":
        return LocalSigner(tmp_path, "contract")
    key = container.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    return KmsSigner(container.kms, key["KeyId"])


def test_a_signature_verifies_with_the_public_key_alone(signer):
    signature = signer.sign(MESSAGE)
    assert verify_signature(signer.public_key_pem(), MESSAGE, signature)


def test_a_changed_message_does_not_verify(signer):
    signature = signer.sign(MESSAGE)
    assert not verify_signature(signer.public_key_pem(), MESSAGE.replace(b"3", b"4", 1), signature)


def test_a_signed_checkpoint_verifies_against_the_published_key(signer):
    unsigned = Checkpoint("TENANT#t1#CHAIN#prod.sales.R1", 3, "ab" * 32, "2026-11-23T10:00:00.000000Z", signer.key_id)
    signed = unsigned.with_signature(signer.sign(unsigned.signed_message()))
    published = [PublicKeyInfo(signer.key_id, "2026-01-01T00:00:00.000000Z", None, signer.public_key_pem())]
    assert verify_checkpoint(Checkpoint.from_text(signed.to_text()), published, signature_verifier_for(published))


def test_the_kms_key_id_is_the_key_arn_so_a_rotated_alias_never_renames_old_signatures(container):
    key = container.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    container.kms.create_alias(AliasName="alias/scelle-test-signing", TargetKeyId=key["KeyId"])
    signer = KmsSigner(container.kms, "alias/scelle-test-signing")
    assert signer.key_id == key["Arn"]


def test_a_message_over_the_kms_raw_limit_is_signed_and_verifies_as_an_ecdsa_sha256_signature(signer):
    assert len(LARGE) > 2 * MAX_MESSAGE_BYTES
    signature = signer.sign(LARGE)
    key = serialization.load_pem_public_key(signer.public_key_pem().encode())
    key.verify(signature, LARGE, ec.ECDSA(hashes.SHA256()))  # raises if not: what `openssl dgst -sha256` checks
    assert not verify_signature(signer.public_key_pem(), LARGE[:-1], signature)


def test_a_raw_message_and_its_digest_give_the_same_kind_of_signature(signer):
    for signature in (signer.sign_message(MESSAGE, "RAW"), signer.sign_message(hashlib.sha256(MESSAGE).digest(),
                                                                               "DIGEST")):
        assert verify_signature(signer.public_key_pem(), MESSAGE, signature)


def test_a_raw_message_of_exactly_4096_bytes_is_accepted(signer):
    message = b"m" * MAX_MESSAGE_BYTES
    assert verify_signature(signer.public_key_pem(), message, signer.sign_message(message, "RAW"))


@pytest.mark.parametrize(("message", "message_type", "error"), [
    (b"m" * (MAX_MESSAGE_BYTES + 1), "RAW", "less than or equal to 4096"),
    (b"d" * 31, "DIGEST", "Digest is invalid length for algorithm ECDSA_SHA_256"),
    (b"d" * 33, "DIGEST", "Digest is invalid length for algorithm ECDSA_SHA_256"),
    (hashlib.sha256(MESSAGE).hexdigest().encode(), "DIGEST", "Digest is invalid length"),  # hex, not bytes
    (hashlib.sha512(MESSAGE).digest(), "DIGEST", "Digest is invalid length"),
])
def test_what_kms_sign_refuses_both_signers_refuse(signer, message, message_type, error):
    with pytest.raises((ClientError, MessageRefused)) as caught:
        signer.sign_message(message, message_type)
    if isinstance(caught.value, ClientError):
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert error in str(caught.value)
