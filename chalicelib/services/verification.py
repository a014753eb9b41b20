"""Verifies a chain as stored: streams the raw items (constant memory), checks them against every
signed checkpoint and the published keys, and runs the ledger's extra checks (closure totals).

A range ``first_seq..last_seq`` starts from the newest signed checkpoint before ``first_seq``
(its signature is verified, so the range inherits its proof) rather than from genesis.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.signing import signature_verifier_for
from chalicelib.domain.checkpoint import verify_checkpoint
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.records import chain_key
from chalicelib.domain.verification import ChainHead, VerificationReport, verify_chain


class VerificationService:
    def __init__(
        self,
        journal,
        checkpoint_store,
        key_registry,
        *,
        extra_checks: Callable[[], list] = list,
        on_failure: Callable[[str, str, VerificationReport], None] | None = None,
    ) -> None:
        self._journal = journal
        self._checkpoints = checkpoint_store
        self._keys = key_registry
        self._extra_checks = extra_checks
        self._on_failure = on_failure or (lambda tenant, chain, report: None)

    def verify(
        self, tenant_id: str, chain: str, *, first_seq: int = 1, last_seq: int | None = None
    ) -> VerificationReport:
        if first_seq < 1 or (last_seq is not None and last_seq < first_seq):
            raise ValidationFailed("the range must satisfy 1 <= first_seq <= last_seq", field="first_seq")
        key = chain_key(tenant_id, chain)
        keys = self._keys.published()
        verifier = signature_verifier_for(keys)
        stored = self._checkpoints.list(key)
        start, scan_from = None, 1
        if first_seq > 1:
            anchor = next((s for s in reversed(stored) if s.checkpoint.size < first_seq), None)
            if anchor is not None and anchor.checkpoint.size > 0:
                verify_checkpoint(anchor.checkpoint, keys, verifier)
                last = self._journal.get(key, anchor.checkpoint.size)
                if last is not None:
                    start = ChainHead(anchor.checkpoint.size, last.hash, tuple(anchor.frontier))
                    scan_from = anchor.checkpoint.size + 1
        checkpoints = [
            s.checkpoint for s in stored if last_seq is None or s.checkpoint.size <= last_seq
        ]
        report = verify_chain(
            self._journal.raw_items(key, scan_from, last_seq),
            tenant_id=tenant_id,
            chain=chain,
            checkpoints=checkpoints,
            keys=keys,
            signature_verifier=verifier,
            extra_checks=self._extra_checks() if start is None else [],
            start=start,
        )
        if not report.ok:
            self._on_failure(tenant_id, chain, report)
        return report
