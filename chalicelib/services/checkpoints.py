"""Signed checkpoints: the Merkle root of a chain at a size, signed by the current key.

The key registry publishes every signing key with its validity range; when the configured
signer changes (rotation), the previous key is closed at that instant and stays published, so
old checkpoints keep verifying.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import Conflict
from chalicelib.domain.merkle import CompactRange, inclusion_proof, record_leaf_hash
from chalicelib.domain.records import chain_key, utc_timestamp
from chalicelib.ports.stores import ChainStore, Signer


def _utcnow() -> datetime:
    return datetime.now(UTC)


class KeyRegistry:
    def __init__(self, store, signer: Signer, clock: Callable[[], datetime] = _utcnow) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock
        self._registered = False

    def published(self) -> list[PublicKeyInfo]:
        self.ensure_current()
        return self._store.keys()

    def ensure_current(self) -> PublicKeyInfo:
        """Publish the signer's key if new, closing the validity of the key it replaces."""
        keys = self._store.keys()
        for key in keys:
            if key.key_id == self._signer.key_id:
                if key.not_after is None:
                    return key
                # Re-opening a retired key would rewrite its published validity: refuse loudly.
                from chalicelib.config import ConfigError

                raise ConfigError(
                    f"signing key {key.key_id} was retired at {key.not_after}; configure a new key "
                    "(SCELLE_SIGNING_KEY_ID) instead of bringing an old one back"
                )
        now = utc_timestamp(self._clock())
        current = PublicKeyInfo(self._signer.key_id, now, None, self._signer.public_key_pem())
        try:
            self._store.put_key(current, if_absent=True)
        except Conflict:
            # Another process published it first: its not_before stands, whatever ours was.
            return next(k for k in self._store.keys() if k.key_id == self._signer.key_id)
        for key in keys:
            if key.not_after is None and key.key_id != self._signer.key_id:
                self._store.put_key(PublicKeyInfo(key.key_id, key.not_before, now, key.public_key_pem))
        return current


class CheckpointService:
    def __init__(
        self,
        journal: ChainStore,
        checkpoints,
        signer: Signer,
        keys: KeyRegistry,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_signed: Callable[[], None] | None = None,
    ) -> None:
        self._journal = journal
        self._checkpoints = checkpoints
        self._signer = signer
        self._keys = keys
        self._clock = clock
        self._on_signed = on_signed or (lambda: None)

    def latest(self, tenant_id: str, chain: str):
        return self._checkpoints.latest(chain_key(tenant_id, chain))

    def list(self, tenant_id: str, chain: str):
        return self._checkpoints.list(chain_key(tenant_id, chain))

    def checkpoint(self, tenant_id: str, chain: str) -> Checkpoint | None:
        """Sign the chain's current head, extending the previous checkpoint. None if the chain is
        empty; the latest checkpoint if nothing was appended since."""
        key = chain_key(tenant_id, chain)
        head = self._journal.head(key)
        previous = self._checkpoints.latest(key)
        if head is None:
            return None
        if previous is not None and previous.checkpoint.size >= head.seq:
            return previous.checkpoint
        compact = (
            CompactRange.from_state(previous.checkpoint.size, previous.frontier) if previous else CompactRange()
        )
        for record in self._journal.scan(key, compact.size + 1, head.seq):
            compact.append(record_leaf_hash(record.hash))
        self._keys.ensure_current()
        unsigned = Checkpoint(
            chain_key=key,
            size=compact.size,
            root=compact.root().hex(),
            timestamp=utc_timestamp(self._clock()),
            key_id=self._signer.key_id,
        )
        signed = unsigned.with_signature(self._signer.sign(unsigned.signed_message()))
        from chalicelib.ports.checkpoints import StoredCheckpoint

        try:
            self._checkpoints.put(StoredCheckpoint(signed, [h.hex() for h in compact.hashes]))
        except Conflict:
            # Another worker signed this size first: theirs is as good as ours.
            return self._checkpoints.latest(key).checkpoint
        self._on_signed()
        return signed

    def root_at(self, tenant_id: str, chain: str, size: int) -> str:
        return self.compact_at(tenant_id, chain, size).root().hex()

    def compact_at(self, tenant_id: str, chain: str, size: int) -> CompactRange:
        """The chain's compact Merkle range at ``size``, continued from the newest stored
        checkpoint at or below it (so a closure reads only the entries since that checkpoint)."""
        key = chain_key(tenant_id, chain)
        base = self._checkpoints.latest_at_or_below(key, size)  # one read, not the chain's every checkpoint
        compact = CompactRange.from_state(base.checkpoint.size, base.frontier) if base else CompactRange()
        if compact.size < size:
            for record in self._journal.scan(key, compact.size + 1, size):
                compact.append(record_leaf_hash(record.hash))
        return compact

    def inclusion(self, tenant_id: str, chain: str, seq: int) -> dict | None:
        """Proof that entry ``seq`` is in the latest signed checkpoint covering it, or None."""
        latest = self._checkpoints.latest(chain_key(tenant_id, chain))
        if latest is None or latest.checkpoint.size < seq:
            return None
        cp = latest.checkpoint
        leaves = [record_leaf_hash(r.hash) for r in self._journal.scan(chain_key(tenant_id, chain), 1, cp.size)]
        proof = inclusion_proof(leaves, seq - 1)
        return {
            "leaf_index": seq - 1,
            "tree_size": cp.size,
            "root": cp.root,
            "hashes": [h.hex() for h in proof],
            "checkpoint": cp.to_text(),
        }
