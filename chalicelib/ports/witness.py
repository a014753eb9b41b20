"""What the checkpoint signer and the witness agree on (decision 0024)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.witness import Cosignature


class WitnessView(Protocol):
    """The witness's own record of what it co-signed, in write-once storage."""

    def latest(self, chain_key: str) -> str | None:
        """The text of the newest cosignature of the chain, or None."""
        ...

    def put(self, cosignature: Cosignature) -> bool:
        """Keep it; False if one was kept for that chain and size already."""
        ...


class WitnessClient(Protocol):
    """The witness as the signer reaches it: in process locally, a Lambda function on AWS."""

    key_id: str

    def latest(self, chain_key: str) -> Cosignature | None: ...

    def add_checkpoint(self, checkpoint: Checkpoint, old_size: int, proof: Sequence[bytes]) -> Cosignature: ...

    def public_key_pem(self) -> str: ...
