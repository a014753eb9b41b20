"""Signers for checkpoints and export manifests: AWS KMS (``ECC_NIST_P256`` / ``ECDSA_SHA_256``) and
a local key file for local mode and tests. Both return the DER-encoded ECDSA P-256 signature over
SHA-256 of the message; anyone verifies with the public key alone (``verify_signature``, or
``openssl dgst -sha256 -verify``).

``sign(message)`` hashes the message here and has the key sign the 32-byte digest (KMS
``MessageType=DIGEST``; cryptography's ``Prehashed`` for the local key): the signature is exactly
the one a RAW signature of the message would be, but the size of the message no longer matters.
KMS refuses a RAW message over 4,096 bytes, and an export manifest is larger than that and grows
with every checkpoint. ``sign_message`` is the KMS ``Sign`` call itself, with its limits, which the
local key enforces too (and the embedded moto, see ``chalicelib/local/moto_patches.py``), so that
local mode cannot hide them. The limits, from the AWS KMS API reference
(https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html and
https://docs.aws.amazon.com/kms/latest/APIReference/API_Verify.html; botocore's model says the
same, ``Message`` 1-4096 bytes, but botocore does not check it): ``Message`` is 1 to 4,096 bytes;
with ``MessageType=DIGEST`` its length must be the digest length of the signing algorithm
(32 bytes for ``ECDSA_SHA_256``)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from chalicelib.ports.signatures import (  # noqa: F401 (their home)
    public_key_fingerprint,
    signature_verifier_for,
    verify_signature,
)

SIGNING_ALGORITHM = "ECDSA_SHA_256"
MAX_MESSAGE_BYTES = 4096  # KMS Sign / Verify ``Message``, whatever the MessageType
# Digest length per KMS signing algorithm, for MessageType=DIGEST (by the hash the name ends with).
DIGEST_BYTES = {"SHA_256": 32, "SHA_384": 48, "SHA_512": 64}


class MessageRefused(ValueError):
    """What KMS answers with a ``ValidationException``: a message it does not accept."""


def check_kms_message(message: bytes, message_type: str | None, signing_algorithm: str | None) -> None:
    """Refuse, as KMS ``Sign`` and ``Verify`` do, a message outside the API's limits.

    ``message_type`` None means RAW (the API's default). Unknown algorithms are left to the caller.
    """
    if not message:
        raise MessageRefused(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    if len(message) > MAX_MESSAGE_BYTES:
        raise MessageRefused(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_MESSAGE_BYTES}"
        )
    if message_type == "DIGEST":
        expected = next((n for suffix, n in DIGEST_BYTES.items() if (signing_algorithm or "").endswith(suffix)), None)
        if expected is not None and len(message) != expected:
            raise MessageRefused(
                f"Digest is invalid length for algorithm {signing_algorithm}: "
                f"{len(message)} bytes, expected {expected}"
            )


LOCAL_FINGERPRINT_HEX = 16  # local:<name>:<16 hex>, as local key ids have always been
KMS_FINGERPRINT_HEX = 32  # kms:<key ARN>:<32 hex> (128 bits: no second key can be made to match)


def _fingerprint(public_pem: str) -> str:
    return public_key_fingerprint(public_pem)[:LOCAL_FINGERPRINT_HEX]


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
        return self.sign_message(hashlib.sha256(message).digest(), "DIGEST")

    def sign_message(self, message: bytes, message_type: str = "RAW") -> bytes:
        """What KMS ``Sign`` does with these arguments, its limits included (``MessageRefused``)."""
        if message_type not in ("RAW", "DIGEST"):
            raise MessageRefused(f"MessageType {message_type!r} is not RAW or DIGEST")
        check_kms_message(message, message_type, SIGNING_ALGORITHM)
        algorithm = hashes.SHA256() if message_type == "RAW" else Prehashed(hashes.SHA256())
        return self._key.sign(message, ec.ECDSA(algorithm))

    def public_key_pem(self) -> str:
        return self._public_pem


class KmsSigner:
    """An ``ECC_NIST_P256`` KMS key. Its key id is ``kms:<key ARN>:<fingerprint>``, the fingerprint
    being the first 32 hex digits of SHA-256 of the DER public key that KMS ``GetPublicKey``
    returns (one call per process, cached): a verifier checks a published PEM against it.

    Before key ids carried a fingerprint, a KMS key was published under its bare ARN;
    ``previous_key_ids`` names that id so the key registry can check its PEM against this key.
    Every call names the key by its ARN (an alias given in the settings is resolved once): an
    alias moved to another key mid-process cannot make this signer sign with a key its id does
    not name.
    """

    def __init__(self, kms_client, key_id: str) -> None:
        self._kms = kms_client
        self.arn = key_id if key_id.startswith("arn:") else kms_client.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        self._key_ref = self.arn
        self._public_pem: str | None = None
        self._key_id: str | None = None

    @property
    def key_id(self) -> str:
        if self._key_id is None:
            self._key_id = f"kms:{self.arn}:{public_key_fingerprint(self.public_key_pem())[:KMS_FINGERPRINT_HEX]}"
        return self._key_id

    @property
    def previous_key_ids(self) -> tuple[str, ...]:
        return (self.arn,)

    def sign(self, message: bytes) -> bytes:
        return self.sign_message(hashlib.sha256(message).digest(), "DIGEST")

    def sign_message(self, message: bytes, message_type: str = "RAW") -> bytes:
        """One KMS ``Sign`` call; KMS itself refuses what is outside its limits (``ValidationException``)."""
        resp = self._kms.sign(
            KeyId=self._key_ref, Message=message, MessageType=message_type, SigningAlgorithm=SIGNING_ALGORITHM
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


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
