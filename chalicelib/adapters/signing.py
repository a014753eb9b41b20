"""Checkpoint signers: AWS KMS (``ECC_NIST_P256`` / ``ECDSA_SHA_256``) and a local key file for
local mode and tests. Both sign the RAW message (moto hashes DIGEST messages twice) and return
the DER signature; anyone verifies with the public key alone (``verify_signature``)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _fingerprint(public_pem: str) -> str:
    der = serialization.load_pem_public_key(public_pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


class LocalSigner:
    """A P-256 key kept in ``<key_dir>/<name>.pem`` (created on first use, mode 0600)."""

    def __init__(self, key_dir: Path, name: str = "signing") -> None:
        path = Path(key_dir) / f"{name}.pem"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        self._key = key
        self._public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self.key_id = f"local:{name}:{_fingerprint(self._public_pem)}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key_pem(self) -> str:
        return self._public_pem


class KmsSigner:
    def __init__(self, kms_client, key_id: str) -> None:
        self._kms = kms_client
        self._key_ref = key_id
        self._public_pem: str | None = None
        self.key_id = kms_client.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] if not key_id.startswith(
            "arn:"
        ) else key_id

    def sign(self, message: bytes) -> bytes:
        resp = self._kms.sign(
            KeyId=self._key_ref, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
        )
        return resp["Signature"]

    def public_key_pem(self) -> str:
        if self._public_pem is None:
            der = self._kms.get_public_key(KeyId=self._key_ref)["PublicKey"]
            key = serialization.load_der_public_key(der)
            self._public_pem = key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        return self._public_pem


def verify_signature(public_key_pem: str, message: bytes, signature: bytes) -> bool:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def signature_verifier_for(keys):
    """A ``(key_id, message, signature) -> bool`` callable over published PublicKeyInfo objects."""
    by_id = {k.key_id: k.public_key_pem for k in keys}

    def verify(key_id: str, message: bytes, signature: bytes) -> bool:
        pem = by_id.get(key_id)
        return pem is not None and verify_signature(pem, message, signature)

    return verify


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
