"""Write-proof keys (decision 0022): a KMS HMAC key on AWS, a key file in local mode.

Both compute the same thing, HMAC-SHA-256 over ``domain.write_proofs.proof_message``, and share
one contract test (tests/unit/test_write_proofs.py). A proof names its key; only keys configured
for this deployment are accepted, so a forger's own key (even a real KMS key in another account)
proves nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.signing import check_kms_message
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.write_proofs import WriteProof

MAC_ALGORITHM = "HMAC_SHA_256"
LOCAL_KEY_BYTES = 32


def _unknown_key(proof: WriteProof, accepted: Iterable[str]) -> str:
    return (f"it names key {proof.key_id!r:.120}, which is not a write-proof key of this deployment "
            f"(accepted: {', '.join(sorted(accepted))})")


class LocalWriteProofs:
    """A 32-byte HMAC key kept in ``<key_dir>/<name>.hmac`` (created on first use, mode 0600).
    Its id is ``local:<name>:<16 hex>``, the hex naming the key (an HMAC of a fixed label, which
    says nothing about the key), so a replaced key file is told apart from the one that proved."""

    def __init__(self, key_dir: Path, name: str = "write-proof") -> None:
        path = Path(key_dir) / f"{name}.hmac"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process of the same stack made it first
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(LOCAL_KEY_BYTES))
        self._key = path.read_bytes()
        if len(self._key) != LOCAL_KEY_BYTES:
            raise ValueError(f"{path} must hold exactly {LOCAL_KEY_BYTES} bytes (a write-proof key)")
        label = hmac.new(self._key, b"scelle/write-proof-key-id", hashlib.sha256).hexdigest()[:16]
        self.key_id = f"local:{name}:{label}"

    def prove(self, message: bytes) -> WriteProof:
        check_kms_message(message, None, None)  # GenerateMac's limits: 1 to 4096 bytes
        mac = hmac.new(self._key, message, hashlib.sha256).digest()
        return WriteProof(self.key_id, base64.b64encode(mac).decode("ascii"))

    def problem(self, message: bytes, proof: WriteProof) -> str | None:
        if proof.key_id != self.key_id:
            return _unknown_key(proof, [self.key_id])
        given = proof.mac_bytes()
        if given is None:
            return "its MAC is not base64 of 32 bytes"
        if not hmac.compare_digest(given, hmac.new(self._key, message, hashlib.sha256).digest()):
            return f"the HMAC of key {proof.key_id} over the entry's hash differs: the entry or its proof was changed"
        return None


class KmsWriteProofs:
    """A KMS key of spec ``HMAC_256`` and usage ``GENERATE_VERIFY_MAC``. Proofs name the key by
    its ARN. ``accepted``: the ARNs of retired keys whose proofs still verify (HMAC keys have no
    automatic rotation: a new key is a new ARN, the old one stays enabled for ``VerifyMac``).

    One ``GenerateMac`` per sealed record and one ``VerifyMac`` per check; both count against
    the account's shared HMAC request quota (docs/scaling.md)."""

    def __init__(self, client, key_arn: str, *, accepted: Iterable[str] = ()) -> None:
        if not key_arn.startswith("arn:"):
            raise ValueError("the write-proof key must be named by its ARN (SCELLE_WRITE_PROOF_KEY_ID)")
        self._client = client
        self.key_id = key_arn
        self._accepted = frozenset({key_arn, *accepted})

    def prove(self, message: bytes) -> WriteProof:
        check_kms_message(message, None, None)
        try:
            resp = self._client.generate_mac(KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"write proof not made: KMS GenerateMac failed ({_code(exc)})") from exc
        return WriteProof(self.key_id, base64.b64encode(resp["Mac"]).decode("ascii"))

    def problem(self, message: bytes, proof: WriteProof) -> str | None:
        if proof.key_id not in self._accepted:
            return _unknown_key(proof, self._accepted)
        given = proof.mac_bytes()
        if given is None:
            return "its MAC is not base64 of 32 bytes"
        try:
            resp = self._client.verify_mac(KeyId=proof.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message, Mac=given)
        except ClientError as exc:
            if _code(exc) == "KMSInvalidMacException":
                return (f"KMS VerifyMac with key {proof.key_id} refuses it: the entry or its proof was changed")
            raise Unavailable(f"write proof not checked: KMS VerifyMac failed ({_code(exc)})") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"write proof not checked: KMS VerifyMac failed ({exc})") from exc
        if not resp.get("MacValid"):
            return f"KMS VerifyMac with key {proof.key_id} says it is not valid"
        return None


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "error")
    return type(exc).__name__


def write_proofs_for(key_id: str, *, key_dir: Path | None, kms, retired: Iterable[str] = ()):
    """The adapter a configured key id names: ``local:<name>`` (a key file) or a KMS key ARN."""
    if key_id.startswith("local:"):
        if key_dir is None:
            raise ValueError("a local write-proof key needs SCELLE_LOCAL_KEY_DIR")
        return LocalWriteProofs(key_dir, key_id.split(":")[1])
    return KmsWriteProofs(kms(), key_id, accepted=retired)
