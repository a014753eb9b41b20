"""One contract for both checkpoint signers: the KMS signer (AWS; here moto's KMS) and the local
key file. Each signs the RAW message with ECDSA P-256 / SHA-256, and anyone verifies the DER
signature with the published public key alone."""

from __future__ import annotations

import pytest

from chalicelib.adapters.signing import KmsSigner, LocalSigner, signature_verifier_for, verify_signature
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo, verify_checkpoint

pytestmark = pytest.mark.functional
MESSAGE = b"scelle-checkpoint/v1\nTENANT#t1#CHAIN#prod.sales.R1\n3\n" + b"ab" * 32 + b"\n"


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
