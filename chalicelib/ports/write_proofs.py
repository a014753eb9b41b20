"""What the sealing service and the verifiers agree on about write proofs (decision 0022)."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.write_proofs import WriteProof


class WriteProofs(Protocol):
    """Makes and checks write proofs (HMAC-SHA-256 of ``proof_message(hash)``).

    ``key_id`` names the key new proofs are made with; ``problem`` accepts proofs of that key and
    of the deployment's retired keys only, never a key a record merely names. Both raise
    ``Unavailable`` when the key service cannot answer: that is never evidence of tampering.
    """

    key_id: str

    def prove(self, message: bytes) -> WriteProof: ...

    def problem(self, message: bytes, proof: WriteProof) -> str | None:
        """None when ``proof`` authenticates ``message``, else why not (one sentence)."""
        ...
