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
from chalicelib.domain.checkpoint import (
    BadSignature,
    Checkpoint,
    PublicKeyInfo,
    key_id_fingerprint,
    verify_checkpoint,
)
from chalicelib.ports.signatures import key_binding_problem

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


def test_the_kms_key_id_is_the_key_arn_and_its_fingerprint_so_a_rotated_alias_never_renames_old_signatures(
    container,
):
    key = container.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    container.kms.create_alias(AliasName="alias/scelle-test-signing", TargetKeyId=key["KeyId"])
    signer = KmsSigner(container.kms, "alias/scelle-test-signing")
    der = container.kms.get_public_key(KeyId=key["Arn"])["PublicKey"]
    assert signer.key_id == f"kms:{key['Arn']}:{hashlib.sha256(der).hexdigest()[:32]}"
    assert key_id_fingerprint(signer.key_id) == hashlib.sha256(der).hexdigest()[:32]
    assert signer.previous_key_ids == (key["Arn"],)  # what the key was published under before (a bare ARN)
    # WHEN the alias is moved to another key, this signer still signs with the key its id names
    other = container.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    container.kms.update_alias(AliasName="alias/scelle-test-signing", TargetKeyId=other["KeyId"])
    assert verify_signature(signer.public_key_pem(), MESSAGE, signer.sign(MESSAGE))
    assert serialization.load_pem_public_key(signer.public_key_pem().encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der


def test_each_signer_s_key_id_carries_the_fingerprint_of_its_public_key(signer):
    published = PublicKeyInfo(signer.key_id, "2026-01-01T00:00:00.000000Z", None, signer.public_key_pem())
    assert key_id_fingerprint(signer.key_id) is not None
    assert key_binding_problem(published) is None


def test_a_published_key_whose_pem_was_swapped_under_its_id_never_verifies(signer, tmp_path):
    # GIVEN a checkpoint signed by a rogue key, and the rogue PEM published under the real key id
    rogue = LocalSigner(tmp_path, "rogue")
    unsigned = Checkpoint("TENANT#t1#CHAIN#prod.sales.R1", 3, "ab" * 32, "2026-11-23T10:00:00.000000Z", signer.key_id)
    forged = unsigned.with_signature(rogue.sign(unsigned.signed_message()))
    swapped = [PublicKeyInfo(signer.key_id, "2026-01-01T00:00:00.000000Z", None, rogue.public_key_pem())]
    # THEN the binding check names the swap, and no signature verifies with that key
    assert "replaced under this id" in key_binding_problem(swapped[0])
    with pytest.raises(BadSignature, match="replaced under this id"):
        verify_checkpoint(forged, swapped, signature_verifier_for(swapped))


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
