"""Witness cosignatures (decision 0024, docs/hash-format.md section 8).

A witness is a second signer, with its own key, that co-signs a chain's checkpoint only after
checking that it extends — by a Merkle consistency proof — the last checkpoint of that chain it
co-signed. It never co-signs two different roots for one size, nor a size smaller than one it
has seen. So whoever holds the log's signing key still cannot show one history to an auditor
and another to the witness (the idea of C2SP tlog-witness and its cosignature/v1 notes).

Cosignature text (UTF-8, each line ending with LF)::

    scelle-cosignature/v1
    witness <witness key id>
    time <UTC timestamp of the cosignature>
    <the checkpoint's six body lines: exactly what its log signature covers>
    <empty line>
    <base64 DER ECDSA P-256 / SHA-256 signature over all the lines above the empty one>
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from scelle_verify.domain.checkpoint import BODY_LINES, HEADER, Checkpoint, CheckpointError
from scelle_verify.domain.errors import Conflict
from scelle_verify.domain.records import parse_timestamp

COSIGNATURE_HEADER = "scelle-cosignature/v1"


class CosignatureError(CheckpointError):
    """A cosignature text that is malformed, or that does not verify."""

    code = "bad-cosignature"


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A witness's signature over ``checkpoint`` (its body: chain, size, root, time, log key)."""

    witness_key_id: str
    timestamp: str
    checkpoint: Checkpoint
    signature: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.witness_key_id, str) or not self.witness_key_id or any(
                c.isspace() for c in self.witness_key_id):
            raise CosignatureError(f"witness key id must be a non-empty word, got {self.witness_key_id!r}")
        try:
            parse_timestamp(self.timestamp)
        except ValueError as exc:
            raise CosignatureError(f"cosignature time: {exc}") from None
        if self.checkpoint.signature:  # it covers the checkpoint's body, not the log's signature
            object.__setattr__(self, "checkpoint", self.checkpoint.with_signature(b""))

    @property
    def chain_key(self) -> str:
        return self.checkpoint.chain_key

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> str:
        return self.checkpoint.root

    def signed_message(self) -> bytes:
        head = f"{COSIGNATURE_HEADER}\nwitness {self.witness_key_id}\ntime {self.timestamp}\n".encode()
        return head + self.checkpoint.signed_message()

    def with_signature(self, signature: bytes) -> Cosignature:
        return Cosignature(self.witness_key_id, self.timestamp, self.checkpoint, signature)

    def to_text(self) -> str:
        if not self.signature:
            raise CosignatureError("cannot write an unsigned cosignature")
        return self.signed_message().decode() + "\n" + base64.b64encode(self.signature).decode("ascii") + "\n"

    @classmethod
    def from_text(cls, text: str | bytes) -> Cosignature:
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise CosignatureError("a cosignature is UTF-8 text") from None
        lines = text.split("\n")
        # 3 witness lines + 6 checkpoint lines + empty + signature + the final empty string
        if len(lines) != 3 + BODY_LINES + 3 or lines[-1] != "" or lines[3 + BODY_LINES] != "":
            raise CosignatureError("a cosignature has 3 witness lines, 6 checkpoint lines, an empty line and "
                                   "a signature line, each ending with a line feed")
        if lines[0] != COSIGNATURE_HEADER:
            raise CosignatureError(f"first line must be {COSIGNATURE_HEADER!r}, got {lines[0]!r:.80}")
        if not lines[1].startswith("witness ") or not lines[2].startswith("time "):
            raise CosignatureError("lines 2 and 3 must be 'witness <key id>' and 'time <timestamp>'")
        if lines[3] != HEADER:
            raise CosignatureError(f"line 4 must start the checkpoint ({HEADER!r})")
        try:
            signature = base64.b64decode(lines[-2], validate=True)
        except (binascii.Error, ValueError):
            raise CosignatureError("the signature line is not base64") from None
        if not signature:
            raise CosignatureError("the signature line is empty")
        body = lines[3:3 + BODY_LINES]
        checkpoint = Checkpoint(chain_key=body[1], size=_size(body[2]), root=body[3], timestamp=body[4],
                                key_id=body[5])
        if checkpoint.signed_message().decode() != "\n".join(body) + "\n":
            raise CosignatureError("the checkpoint lines are not in canonical form")
        return cls(lines[1][len("witness "):], lines[2][len("time "):], checkpoint, signature)


class WitnessRefused(Conflict):
    """The witness will not co-sign: a rollback, a fork, a bad proof or signature."""

    code = "witness-refused"

    def __init__(self, detail: str, *, reason: str, size: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.size = size


class WitnessBehind(Conflict):
    """The proof was built from another size than the one the witness last co-signed (it moved
    on, or the submitter's view is stale): ask ``latest`` again and rebuild it."""

    code = "witness-size-mismatch"

    def __init__(self, detail: str, *, known_size: int) -> None:
        super().__init__(detail)
        self.known_size = known_size


def _size(text: str) -> int:
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise CosignatureError(f"checkpoint size must be a decimal integer, got {text!r:.40}")
    return int(text)


def verify_cosignature(cosignature: Cosignature, checkpoint: Checkpoint, verify) -> None:
    """Raise ``CosignatureError`` unless ``cosignature`` covers exactly ``checkpoint``'s body and
    ``verify(key_id, message, signature)`` accepts its signature."""
    if cosignature.checkpoint.signed_message() != checkpoint.signed_message():
        raise CosignatureError(f"the cosignature of {cosignature.witness_key_id} covers another checkpoint "
                               f"(size {cosignature.size}, root {cosignature.root})")
    try:
        valid = verify(cosignature.witness_key_id, cosignature.signed_message(), cosignature.signature)
    except Exception as exc:
        raise CosignatureError(f"cosignature by {cosignature.witness_key_id}: {exc}") from exc
    if valid is not True:
        raise CosignatureError(f"cosignature by {cosignature.witness_key_id} does not verify with its key")
