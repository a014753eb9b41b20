"""Checking a signature against published public keys (ECDSA P-256 over SHA-256, DER): what the
verification service, the archive and the offline verifier share with the signers. Pure
computation: no key store, no AWS."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


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
