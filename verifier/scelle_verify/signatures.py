"""Checking a signature against published public keys (ECDSA P-256 over SHA-256, DER): what the
verification service, the archive and the offline verifier share with the signers. Pure
computation: no key store, no AWS.

A published key is used only if its public key matches the fingerprint its id carries
(``key_binding_problem``): a PEM swapped under an existing id never verifies anything."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scelle_verify.domain.checkpoint import key_id_fingerprint


class KeyRefused(ValueError):
    """A published key whose public key does not match its id (or is not a P-256 public key)."""


def verify_signature(public_key_pem: str, message: bytes, signature: bytes) -> bool:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def public_key_fingerprint(public_key_pem: str) -> str:
    """SHA-256 (64 hex) of the key's DER SubjectPublicKeyInfo, the key that verification loads
    from this PEM (``openssl pkey -pubin -outform DER | sha256sum``). ``ValueError`` if the PEM
    is not a public key."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def same_public_key(pem_a: str, pem_b: str) -> bool:
    """True when both PEMs hold the same public key (compared as DER, whatever the PEM layout)."""
    try:
        return public_key_fingerprint(pem_a) == public_key_fingerprint(pem_b)
    except Exception:  # an unreadable PEM is not the same key
        return False


def key_binding_problem(key) -> str | None:
    """Why a published ``PublicKeyInfo`` must not be used, or None when it may.

    Refused: a PEM that is not an ECDSA P-256 public key, and a key whose id carries a fingerprint
    (``key_id_fingerprint``) that is not the prefix of its public key's SHA-256. An id without a
    fingerprint (written before ids carried one) has nothing to compare here; the key registry
    compares such a key with the signer's own where it is the same key (docs/hash-format.md).
    """
    try:
        loaded = serialization.load_pem_public_key(key.public_key_pem.encode())
        actual = public_key_fingerprint(key.public_key_pem)
    except Exception as exc:  # ValueError, UnsupportedAlgorithm: not a key we can use
        return f"published key {key.key_id!r} is not a readable public key: {exc}"
    if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != "secp256r1":
        return f"published key {key.key_id!r} is not an ECDSA P-256 public key"
    claimed = key_id_fingerprint(key.key_id)
    if claimed is not None and not actual.startswith(claimed):
        return (f"published key {key.key_id!r}: its id carries fingerprint {claimed} but its public key's "
                f"SHA-256 is {actual[:len(claimed)]}…: the public key was replaced under this id")
    return None


def signature_verifier_for(keys):
    """A ``(key_id, message, signature) -> bool`` callable over published PublicKeyInfo objects.

    A key that fails ``key_binding_problem`` raises ``KeyRefused`` instead of verifying (which
    ``verify_checkpoint`` reports as a bad signature naming the problem)."""
    by_id = {k.key_id: k for k in keys}
    refused: dict[str, str | None] = {}

    def verify(key_id: str, message: bytes, signature: bytes) -> bool:
        key = by_id.get(key_id)
        if key is None:
            return False
        if key_id not in refused:
            refused[key_id] = key_binding_problem(key)
        if refused[key_id] is not None:
            raise KeyRefused(refused[key_id])
        return verify_signature(key.public_key_pem, message, signature)

    return verify
