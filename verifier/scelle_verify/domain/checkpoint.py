"""Signed checkpoints: a chain's size and Merkle root at a moment, signed by a published key.

Text form (every line ends with ``\\n``; the first six lines are the signed message)::

    scelle-checkpoint/v1
    TENANT#<tenant_id>#CHAIN#<chain>
    <size>
    <root: 64 lowercase hex>
    <timestamp: 2026-11-23T17:30:00.123456Z>
    <key id>

    <signature: base64 of the DER ECDSA P-256 / SHA-256 signature>

The signature is checked through an injected ``SignatureVerifier`` (the domain has no crypto).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from scelle_verify.domain.canonical import INT_MAX
from scelle_verify.domain.errors import Conflict, ScelleError
from scelle_verify.domain.merkle import ProofError, verify_consistency
from scelle_verify.domain.records import RecordError, is_hash_hex, parse_chain_key, parse_timestamp

HEADER = "scelle-checkpoint/v1"
BODY_LINES = 6

SignatureVerifier = Callable[[str, bytes, bytes], bool]
"""``(key_id, message, der_signature) -> bool``: True only for a valid signature by that key."""

_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,256}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")  # a key id's fingerprint: at least 64 bits of SHA-256


class CheckpointError(ScelleError):
    """A checkpoint is malformed, badly signed, or signed by a key not valid at its time.

    ``reason`` is the verification reason code: ``bad_signature``, ``key_not_valid``,
    ``checkpoint_inconsistent`` or ``malformed`` for a text that does not parse.
    """

    code = "checkpoint-invalid"
    title = "Invalid checkpoint"
    reason = "malformed"


class BadSignature(CheckpointError):
    reason = "bad_signature"


class KeyNotValid(CheckpointError):
    reason = "key_not_valid"


class CheckpointsInconsistent(CheckpointError):
    reason = "checkpoint_inconsistent"


class SigningRefused(Conflict):
    """The signer would not sign: what it was asked to sign does not verify.

    ``reason`` is a verification reason code (``hash_mismatch``, ``broken_link``, ``gap``,
    ``checkpoint_mismatch``, ``bad_signature``...), or ``frontier_mismatch`` / ``key_mismatch``
    for the checkpoint item's unsigned attributes and the published keys; ``first_bad_seq`` the
    first seq at fault (None when no entry is: a key). Nothing was signed.
    """

    code = "signing-refused"
    title = "Checkpoint not signed: the chain does not verify"

    def __init__(self, detail: str, *, reason: str, first_bad_seq: int | None) -> None:
        super().__init__(detail, reason=reason, first_bad_seq=first_bad_seq)
        self.reason = reason
        self.first_bad_seq = first_bad_seq


def key_id_fingerprint(key_id: str) -> str | None:
    """The public-key fingerprint a key id carries, or None for an id that carries none.

    The fingerprint is the id's last ``:``-separated part when that part is 16 to 64 lowercase
    hex digits: a prefix of SHA-256 of the key's DER SubjectPublicKeyInfo
    (``local:signing:3f2a9c41b7e0d5a6``, ``kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-…:
    <32 hex>``). Ids written before key ids carried one (a bare KMS key ARN, whose last part is
    ``key/<uuid>``) and the test vectors' ``scelle-test-2026`` carry none (docs/hash-format.md).
    """
    if type(key_id) is not str or ":" not in key_id:
        return None
    last = key_id.rsplit(":", 1)[1]
    return last if _FINGERPRINT.fullmatch(last) else None


def _check_key_id(value: object, where: str) -> None:
    if type(value) is not str or not value:
        raise CheckpointError(f"{where}: key id is empty")
    if _KEY_ID.fullmatch(value) is None:
        raise CheckpointError(
            f"{where}: key id {value!r} must be 1-256 printable ASCII characters without spaces"
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain's ``size`` and Merkle ``root`` (hex) at ``timestamp``, signed with ``key_id``.

    ``signature`` is the DER-encoded ECDSA signature over ``signed_message()``; empty means
    unsigned (``to_text`` refuses it). ``size`` may be 0 (root = SHA-256 of nothing).
    """

    chain_key: str
    size: int
    root: str
    timestamp: str
    key_id: str
    signature: bytes = b""

    def __post_init__(self) -> None:
        try:
            parse_chain_key(self.chain_key)
        except RecordError:
            raise CheckpointError(
                f"chain key {self.chain_key!r} is not TENANT#<tenant_id>#CHAIN#<chain>"
            ) from None
        if type(self.size) is not int or not 0 <= self.size <= INT_MAX:
            raise CheckpointError(f"size must be an integer >= 0, got {self.size!r}")
        if not is_hash_hex(self.root):
            raise CheckpointError(f"root must be 64 lowercase hex digits, got {self.root!r}")
        try:
            parse_timestamp(self.timestamp)
        except ValueError as exc:
            raise CheckpointError(f"timestamp: {exc}") from None
        _check_key_id(self.key_id, "key_id")
        if type(self.signature) is not bytes:
            raise CheckpointError(f"signature must be bytes, got {type(self.signature).__name__}")

    @property
    def root_bytes(self) -> bytes:
        return bytes.fromhex(self.root)

    def signed_message(self) -> bytes:
        """The exact UTF-8 bytes that are signed: the six body lines, each ending with ``\\n``."""
        lines = (HEADER, self.chain_key, str(self.size), self.root, self.timestamp, self.key_id)
        return "".join(line + "\n" for line in lines).encode("utf-8")

    def with_signature(self, signature: bytes) -> Checkpoint:
        return replace(self, signature=signature)

    def to_text(self) -> str:
        """Body, one blank line, the base64 signature line. Requires a signature."""
        if not self.signature:
            raise CheckpointError("cannot write an unsigned checkpoint")
        return (
            self.signed_message().decode("utf-8")
            + "\n"
            + base64.b64encode(self.signature).decode("ascii")
            + "\n"
        )

    @classmethod
    def from_text(cls, text: str | bytes) -> Checkpoint:
        """Parse ``to_text()`` output exactly; each malformed case has its own message."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise CheckpointError("checkpoint is not valid UTF-8") from None
        if not isinstance(text, str):
            raise CheckpointError(f"checkpoint must be text, got {type(text).__name__}")
        if not text:
            raise CheckpointError("checkpoint is empty")
        if "\r" in text:
            raise CheckpointError("checkpoint contains a carriage return: lines end with LF only")
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint does not end with a newline")
        lines = text[:-1].split("\n")
        if lines[0] != HEADER:
            raise CheckpointError(f"line 1: unknown checkpoint header {lines[0]!r}, want {HEADER!r}")
        if len(lines) < BODY_LINES:
            raise CheckpointError(f"checkpoint has {len(lines)} lines, the body alone needs {BODY_LINES}")
        key_line, size_line, root_line, time_line, key_id = lines[1:BODY_LINES]
        try:
            parse_chain_key(key_line)
        except RecordError:
            raise CheckpointError(
                f"line 2: chain key {key_line!r} is not TENANT#<tenant_id>#CHAIN#<chain>"
            ) from None
        if _SIZE.fullmatch(size_line) is None:
            raise CheckpointError(
                f"line 3: size {size_line!r} is not a decimal integer without leading zeros"
            )
        size = int(size_line)
        if size > INT_MAX:
            raise CheckpointError(f"line 3: size {size_line} does not fit in signed 64 bits")
        if not is_hash_hex(root_line):
            raise CheckpointError(f"line 4: root {root_line!r} is not 64 lowercase hex digits")
        try:
            parse_timestamp(time_line)
        except ValueError as exc:
            raise CheckpointError(f"line 5: {exc}") from None
        _check_key_id(key_id, "line 6")
        if len(lines) == BODY_LINES or lines[BODY_LINES] != "":
            raise CheckpointError("line 7: the body must be followed by one blank line, then the signature")
        if len(lines) == BODY_LINES + 1 or not lines[BODY_LINES + 1]:
            raise CheckpointError("line 8: missing signature")
        if len(lines) > BODY_LINES + 2:
            raise CheckpointError(f"line {BODY_LINES + 3}: unexpected text after the signature line")
        encoded = lines[BODY_LINES + 1]
        if _BASE64.fullmatch(encoded) is None:
            raise CheckpointError("line 8: signature is not base64")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError("line 8: signature is not base64 (bad length or padding)") from None
        if base64.b64encode(signature).decode("ascii") != encoded:
            raise CheckpointError("line 8: signature is not in canonical base64 (stray bits in the padding)")
        return cls(key_line, size, root_line, time_line, key_id, signature)


@dataclass(frozen=True, slots=True)
class PublicKeyInfo:
    """A published checkpoint key and the half-open time range [not_before, not_after) it signs in.

    ``not_after`` is None while the key is current. ``public_key_pem`` is the SubjectPublicKeyInfo
    PEM (``-----BEGIN PUBLIC KEY-----``) of an ECDSA P-256 key.
    """

    key_id: str
    not_before: str
    not_after: str | None
    public_key_pem: str

    def __post_init__(self) -> None:
        _check_key_id(self.key_id, "key_id")
        try:
            start = parse_timestamp(self.not_before)
            if self.not_after is not None and parse_timestamp(self.not_after) <= start:
                raise CheckpointError(f"key {self.key_id}: not_after must be later than not_before")
        except ValueError as exc:
            raise CheckpointError(f"key {self.key_id}: {exc}") from None
        if type(self.public_key_pem) is not str or "-----BEGIN PUBLIC KEY-----" not in self.public_key_pem:
            raise CheckpointError(f"key {self.key_id}: public_key_pem is not a PEM public key")


def key_valid_at(key: PublicKeyInfo, timestamp: str) -> bool:
    """True when ``not_before <= timestamp < not_after`` (no upper bound when not_after is None)."""
    moment = parse_timestamp(timestamp)
    if moment < parse_timestamp(key.not_before):
        return False
    return key.not_after is None or moment < parse_timestamp(key.not_after)


def find_key(keys: Iterable[PublicKeyInfo], key_id: str) -> PublicKeyInfo | None:
    """The published key with this id, or None."""
    for key in keys:
        if key.key_id == key_id:
            return key
    return None


def verify_checkpoint(
    checkpoint: Checkpoint, keys: Iterable[PublicKeyInfo], signature_verifier: SignatureVerifier
) -> PublicKeyInfo:
    """Check that a published key valid at the checkpoint's time signed it; return that key.

    Raises ``KeyNotValid`` (unknown key id, or time outside the key's range) or ``BadSignature``
    (empty signature, verifier says no, or the verifier itself fails).
    """
    key = find_key(keys, checkpoint.key_id)
    if key is None:
        raise KeyNotValid(
            f"checkpoint at size {checkpoint.size} is signed by unknown key {checkpoint.key_id!r} (not published, "
            "or its published public key was refused: it does not match the key id)"
        )
    if not key_valid_at(key, checkpoint.timestamp):
        until = key.not_after or "now"
        raise KeyNotValid(
            f"checkpoint at size {checkpoint.size} is dated {checkpoint.timestamp}, outside the validity "
            f"of key {key.key_id!r} ({key.not_before} to {until})"
        )
    if not checkpoint.signature:
        raise BadSignature(f"checkpoint at size {checkpoint.size} has no signature")
    try:
        valid = signature_verifier(key.key_id, checkpoint.signed_message(), checkpoint.signature)
    except Exception as exc:  # a verifier that raises is a signature that did not verify
        raise BadSignature(
            f"checkpoint at size {checkpoint.size}: signature check by key {key.key_id!r} failed: {exc}"
        ) from exc
    if valid is not True:
        raise BadSignature(
            f"checkpoint at size {checkpoint.size}: signature does not verify with key {key.key_id!r}"
        )
    return key


def verify_checkpoint_consistency(older: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise ``CheckpointsInconsistent`` unless ``older`` is a prefix of ``newer`` by ``proof``.

    Requires both for the same chain and 0 < older.size <= newer.size (signatures are not
    checked here: call ``verify_checkpoint`` on each first).
    """
    if older.chain_key != newer.chain_key:
        raise CheckpointsInconsistent(
            f"checkpoints are for different chains: {older.chain_key} and {newer.chain_key}"
        )
    try:
        verify_consistency(older.size, newer.size, older.root_bytes, newer.root_bytes, proof)
    except ProofError as exc:
        raise CheckpointsInconsistent(
            f"checkpoint at size {older.size} is not a prefix of checkpoint at size {newer.size}: "
            f"{exc.detail}"
        ) from exc
