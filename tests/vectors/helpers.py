"""Shared by the vector generator and the tests: the test-only keys and a signature verifier.

Everything here is TEST-ONLY (see test-signing-key.README.txt). It uses ``cryptography``, which
the pure domain never imports: the domain receives ``make_signature_verifier(...)`` as its port.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain.checkpoint import PublicKeyInfo, SignatureVerifier

VECTORS_DIR = Path(__file__).resolve().parent
TEST_KEY_ID = "scelle-test-2026"
ATTACKER_KEY_ID = "scelle-attacker"
_ATTACKER_SEED = b"scelle test vectors: attacker key (public, test-only)"


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))


def vector_signing_key() -> ec.EllipticCurvePrivateKey:
    """The committed test-only P-256 key (tests/vectors/test-signing-key.pem)."""
    pem = (VECTORS_DIR / "test-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def attacker_signing_key() -> ec.EllipticCurvePrivateKey:
    """A second P-256 key derived from a fixed public seed: plays the forger in tamper vectors."""
    scalar = int.from_bytes(hashlib.sha256(_ATTACKER_SEED).digest(), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """DER ECDSA P-256 / SHA-256 signature, deterministic (RFC 6979) so vectors regenerate exactly."""
    return key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))


def make_signature_verifier(keys: Iterable[PublicKeyInfo]) -> SignatureVerifier:
    """A ``(key_id, message, signature) -> bool`` port over the given published keys."""
    loaded = {}
    for info in keys:
        public = serialization.load_pem_public_key(info.public_key_pem.encode("ascii"))
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
            raise ValueError(f"key {info.key_id} is not an ECDSA P-256 public key")
        loaded[info.key_id] = public

    def verify(key_id: str, message: bytes, signature: bytes) -> bool:
        public = loaded.get(key_id)
        if public is None:
            return False
        try:
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    return verify


def keys_from_json(entries: Iterable[dict[str, Any]]) -> list[PublicKeyInfo]:
    return [
        PublicKeyInfo(entry["key_id"], entry["not_before"], entry.get("not_after"), entry["public_key_pem"])
        for entry in entries
    ]
