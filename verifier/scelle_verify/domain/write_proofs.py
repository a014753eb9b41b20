"""Write proofs: evidence, stored next to each sealed entry, that the sealing service wrote it
(decision 0022, docs/hash-format.md section 7).

A hash chain proves that nothing changed *after* an entry was sealed; it cannot tell who sealed
it: anyone able to write to the table can compute SHA-256 and append a correctly linked entry.
So every entry also carries an HMAC-SHA-256 of its hash under a key only the sealing roles may
use (a KMS HMAC key on AWS; ``GenerateMac`` for the writers, ``VerifyMac`` for the verifiers):

    message = b"scelle/write-proof/v1\\n" + <the entry's hash, 64 lowercase hex digits>

The hash already covers tenant, chain, seq, link and content, so a proof cannot be moved to
another entry. The proof is not part of the hashed record (it cannot cover itself); it is stored
as two attributes of the entry's item, ``proof_key`` (the id of the key that made it) and
``proof_mac`` (base64). An entry without a valid proof, made by a key of this deployment, is a
forgery, whatever its hash says.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

PROOF_CONTEXT = b"scelle/write-proof/v1\n"
PROOF_KEY_ATTRIBUTE = "proof_key"
PROOF_MAC_ATTRIBUTE = "proof_mac"
PROOF_ATTRIBUTES = frozenset({PROOF_KEY_ATTRIBUTE, PROOF_MAC_ATTRIBUTE})
MAC_BYTES = 32  # HMAC-SHA-256

MISSING_WRITE_PROOF = "missing_write_proof"
BAD_WRITE_PROOF = "bad_write_proof"


class WriteProof(NamedTuple):
    key_id: str
    mac: str  # base64 (standard alphabet, padded) of the 32-byte HMAC

    def mac_bytes(self) -> bytes | None:
        """The MAC's bytes, or None when ``mac`` is not base64 of 32 bytes."""
        try:
            raw = base64.b64decode(self.mac, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw if len(raw) == MAC_BYTES else None


def proof_message(record_hash: str) -> bytes:
    """The bytes a write proof authenticates: a fixed context, then the entry's hash."""
    return PROOF_CONTEXT + record_hash.encode("ascii")


def stored_proof(item: Mapping[str, Any]) -> WriteProof | None:
    """The proof held by a stored item, or None when it has none (or only half of one, or values
    that are not strings: the check then reports it missing or bad)."""
    key_id, mac = item.get(PROOF_KEY_ATTRIBUTE), item.get(PROOF_MAC_ATTRIBUTE)
    if key_id is None and mac is None:
        return None
    return WriteProof(key_id if isinstance(key_id, str) else "", mac if isinstance(mac, str) else "")


def proof_attributes(proof: WriteProof) -> dict[str, str]:
    return {PROOF_KEY_ATTRIBUTE: proof.key_id, PROOF_MAC_ATTRIBUTE: proof.mac}


# Says why a proof does not authenticate ``message`` (None when it does). Implemented by the
# write-proof adapters (chalicelib/ports/write_proofs.py); raises ``Unavailable`` when it cannot
# tell (KMS throttled): that is not tampering and must never be reported as such.
ProofProblem = Callable[[bytes, WriteProof], "str | None"]


class WriteProofCheck:
    """A ``RecordCheck`` (domain/verification.py): every entry after ``after_seq`` must carry a
    valid write proof. Entries up to ``after_seq`` are covered by a signed checkpoint, whose signer
    checked their proofs before signing (decision 0022), so they are not asked again."""

    def __init__(self, problem: ProofProblem, *, after_seq: int = 0) -> None:
        self._problem = problem
        self._after = after_seq

    def check(self, record) -> tuple[str, str] | None:
        if record.seq <= self._after:
            return None
        found = proof_finding(record.seq, record.hash, record.write_proof, self._problem)
        if found is None:
            return None
        reason, detail = found
        return reason, detail.removeprefix(f"seq {record.seq}: ")  # verify_chain names the seq once


def proof_finding(seq: int, record_hash: str, proof: WriteProof | None,
                  problem: ProofProblem) -> tuple[str, str] | None:
    """(reason, detail) when entry ``seq`` is not proven written by the sealing service."""
    if proof is None:
        return (MISSING_WRITE_PROOF,
                f"seq {seq}: no write proof: it was not written by the sealing service "
                "(a correctly hashed entry appended straight to the table)")
    why = problem(proof_message(record_hash), proof)
    if why is None:
        return None
    return BAD_WRITE_PROOF, f"seq {seq}: its write proof does not verify: {why}"
