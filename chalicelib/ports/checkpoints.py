"""What the checkpoint store keeps of a signed checkpoint: shared by the checkpoint service and the
stores (adapters/checkpoint_store.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.checkpoint import Checkpoint


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint and the unsigned state stored with it to resume from its size.

    None of ``frontier``, ``last_hash`` or ``last_path`` is signed: the signer accepts them only
    when they rebuild the signed root (services/checkpoints.py, docs/hash-format.md section 4).
    ``last_hash`` and ``last_path`` are None on items written before the signer stored them.
    """

    checkpoint: Checkpoint
    frontier: list[str]  # CompactRange hashes (hex) at checkpoint.size
    last_hash: str | None = None  # the hash of entry ``checkpoint.size`` (the next entry's prev_hash)
    last_path: list[str] | None = None  # CompactRange(size - 1).hashes == frontier[:-1] + last_path
