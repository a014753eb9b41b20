"""What the checkpoint store keeps of a signed checkpoint: shared by the checkpoint service and the
stores (adapters/checkpoint_store.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.checkpoint import Checkpoint


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint: Checkpoint
    frontier: list[str]  # CompactRange hashes (hex) at checkpoint.size
