"""Verifies a chain as stored: streams the raw items (constant memory), checks them against every
signed checkpoint and the published keys, and runs the ledger's extra checks (closure totals).

A range ``first_seq..last_seq`` starts from the newest signed checkpoint before ``first_seq``
(its signature is verified, so the range inherits its proof) rather than from genesis, once the
table's entry at that checkpoint's size is shown to be the one it signed (its content gives its
hash, and its hash rebuilds the signed root through the stored ``last_path``); otherwise, or when
that checkpoint's own signature does not verify, from seq 1, which names what is wrong.
The closures such a range meets are then checked, each kind read again from the signed state
where its first one's range begins (decision 0031): ``ClosureCheck`` needs more than the range.

Ledger chains live in the journal table. A tenant's event journal (the ``events`` chain) lives in
the events table, whose items leave the hot table after 30 days once archived (decision 0006):
it is read from the archive up to the first entry still in the table, then from the table
(``events_records``). Every verification path (this service on demand, the scheduled full
verifier) reads it that way, so an untouched event journal always verifies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal

from chalicelib.domain.checkpoint import CheckpointError, verify_checkpoint
from chalicelib.domain.closures import ClosureCheck, ResumedClosureCheck, closure_runs
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.merkle import ProofError, record_leaf_hash, verify_inclusion
from chalicelib.domain.records import chain_key, is_hash_hex
from chalicelib.domain.tiles import TileError, inclusion_proof_from_tiles, leaf_from_tiles, proof_tiles
from chalicelib.domain.verification import ChainHead, Reason, VerificationReport, verify_chain
from chalicelib.domain.write_proofs import WriteProofCheck
from chalicelib.ports.signatures import signature_verifier_for
from chalicelib.ports.write_proofs import WriteProofs
from chalicelib.services.checkpoints import stored_entry_is_signed
from chalicelib.services.events import EVENTS_CHAIN

MAX_PINPOINT = 10_000  # entries between two signed checkpoints searched for the first rewritten one


def events_records(events_store, archive, key: str, first_seq: int = 1,
                   last_seq: int | None = None) -> Iterator[dict]:
    """An event chain's stored records ``first_seq..last_seq`` in seq order: those that expired
    from the hot table read from the archive (``archive`` may be None: table only), then the
    table. A seq that is in neither is left out, so the verifier reports it (``gap``)."""
    table = events_store.raw_items(key, first_seq, last_seq)
    first = next(table, None)
    if first is None:  # nothing hot in the range: all of it expired (or was never written)
        if archive is not None:
            yield from archive.records(key, first_seq, last_seq)
        return
    first_hot = int(first.get("sk", first.get("seq", first_seq)))
    if first_hot > first_seq and archive is not None:
        yield from archive.records(key, first_seq, first_hot - 1)
    yield first
    yield from table


class VerificationService:
    def __init__(
        self,
        journal,
        checkpoint_store,
        key_registry,
        *,
        extra_checks: Callable[[], list] = list,
        on_failure: Callable[[str, str, VerificationReport], None] | None = None,
        events_store=None,
        archive: Callable[[], object] | None = None,
        proofs: WriteProofs | None = None,
        tiles=None,
    ) -> None:
        """``journal`` holds the ledger chains; ``events_store`` the event-journal chains and
        ``archive`` (a callable, built only when an expired event has to be read) their expired
        entries. Without ``events_store``, verifying an ``events`` chain is refused (it would
        read the wrong table and report a false truncation)."""
        self._journal = journal
        self._checkpoints = checkpoint_store
        self._keys = key_registry
        self._extra_checks = extra_checks
        self._on_failure = on_failure or (lambda tenant, chain, report: None)
        self._events = events_store
        self._archive = archive
        self._proofs = proofs
        self._tiles = tiles  # the signed trees' tiles (decision 0026): name the first rewritten entry

    def _source(self, chain: str):
        """(store, records(key, first, last), extra checks apply) for ``chain``."""
        if chain != EVENTS_CHAIN:
            return self._journal, self._journal.raw_items, True
        if self._events is None:
            raise ValueError("this verification service has no events store: cannot verify an events chain")
        events = self._events

        def records(key: str, first_seq: int, last_seq: int | None) -> Iterator[dict]:
            archive = self._archive() if self._archive is not None else None
            return events_records(events, archive, key, first_seq, last_seq)

        return events, records, False

    def _proof_checks(self, checkpoints) -> list[WriteProofCheck]:
        """Entries after the newest checkpoint must carry a valid write proof (decision 0022);
        the ones before are vouched for by a signer that checked them, whose signature the walk
        verifies. One KMS ``VerifyMac`` per unsigned entry, never one per entry of the chain."""
        if self._proofs is None:
            return []
        covered = max((cp.size for cp in checkpoints), default=0)
        return [WriteProofCheck(self._proofs.problem, after_seq=covered)]

    def _resume_point(self, key: str, store, keys, verifier, at_or_below: int) -> tuple[ChainHead | None, int]:
        """``(head, first seq to read)`` from the newest signed checkpoint at or below seq
        ``at_or_below``; ``(None, 1)``: from seq 1. One read for the anchor: an hourly incremental
        verification of a long chain reads what is new (decision 0028)."""
        anchor = self._checkpoints.latest_at_or_below(key, at_or_below) if at_or_below > 0 else None
        if anchor is not None and anchor.checkpoint.size > 0:
            try:
                verify_checkpoint(anchor.checkpoint, keys, verifier)
            except CheckpointError:
                return None, 1  # from seq 1, where every stored checkpoint is checked and the bad one named
            last = store.get(key, anchor.checkpoint.size)  # None (expired event): from seq 1
            # The table's anchor entry must be the signed one, content and hash: the range
            # links to its hash and never re-reads it. Else the pass starts from seq 1, which
            # names what was changed (a rewrite of that entry alone was left to the weekly pass).
            if last is not None and last.intact and stored_entry_is_signed(anchor, last.hash) is not False:
                return ChainHead(anchor.checkpoint.size, last.hash, tuple(anchor.frontier)), anchor.checkpoint.size + 1
        return None, 1

    def verify(
        self, tenant_id: str, chain: str, *, first_seq: int = 1, last_seq: int | None = None
    ) -> VerificationReport:
        if first_seq < 1 or (last_seq is not None and last_seq < first_seq):
            raise ValidationFailed("the range must satisfy 1 <= first_seq <= last_seq", field="first_seq")
        store, records, ledger_checks = self._source(chain)
        key = chain_key(tenant_id, chain)
        keys = self._keys.published()
        verifier = signature_verifier_for(keys)
        start, scan_from = self._resume_point(key, store, keys, verifier, first_seq - 1)  # (None, 1) from seq 1
        stored = self._checkpoints.list(key, scan_from - 1) if start is not None else self._checkpoints.list(key)
        checkpoints = [
            s.checkpoint for s in stored if last_seq is None or s.checkpoint.size <= last_seq
        ]
        extra = self._extra_checks() if ledger_checks else []
        # Resumed, the closure checks need the chain from seq 1: the closures met are checked
        # after the range, each kind from where its first one met begins (decision 0031).
        resumed_closures = start is not None and any(isinstance(check, ClosureCheck) for check in extra)
        met: list[tuple[int, dict, str]] = []
        items = records(key, scan_from, last_seq)
        report = verify_chain(
            _noting_closures(items, met) if resumed_closures else items,
            tenant_id=tenant_id,
            chain=chain,
            checkpoints=checkpoints,
            keys=keys,
            signature_verifier=verifier,
            extra_checks=[*(extra if start is None else []), *self._proof_checks(checkpoints)],
            start=start,
        )
        if report.ok and met:
            report = self._check_closures_met(key, store, records, keys, verifier, tenant_id, chain, met, scan_from,
                                              report)
        if not report.ok and report.reason == Reason.CHECKPOINT_MISMATCH:
            report = self._first_rewritten(key, records, report)
        if not report.ok:
            self._on_failure(tenant_id, chain, report)
        return report

    def _first_rewritten(self, key: str, records, report: VerificationReport) -> VerificationReport:
        """A signed root that the stored entries no longer rebuild (each still hashing and linking:
        rewritten and rehashed) says only "somewhere up to seq N". The signed tree's leaves, read
        from its stored tiles and each proven against the signed root, name the first entry that is
        not the one signed. Tiles that do not prove (absent, or altered too) leave the report as it is:
        a leaf is blamed only against a leaf the signature vouches for."""
        size = report.first_bad_seq or 0
        stored = self._checkpoints.latest_at_or_below(key, size) if self._tiles is not None and size else None
        if stored is None or stored.checkpoint.size != size or size - report.proven_size > MAX_PINPOINT:
            return report
        signed_root = bytes.fromhex(stored.checkpoint.root)
        cache: dict = {}
        tiles: dict = {}  # each tile of the signed tree read once: neighbouring leaves share most of them
        for item in records(key, report.proven_size + 1, size):
            seq, stated = int(item.get("seq", item.get("sk", 0))), item.get("hash")
            unread = [tid for tid in proof_tiles(seq - 1, size) if tid not in tiles]
            if unread:
                tiles.update(self._tiles.get_many(key, unread))
            try:
                signed_leaf = leaf_from_tiles(seq - 1, size, tiles)
                verify_inclusion(signed_leaf, seq - 1, size, inclusion_proof_from_tiles(seq - 1, size, tiles,
                                                                                         cache=cache), signed_root)
                leaf = record_leaf_hash(stated) if is_hash_hex(stated) else None
            except (TileError, ProofError, ValueError):
                return report  # no leaf the signature vouches for: say only what is known
            if leaf != signed_leaf:
                return replace(report, first_bad_seq=seq, detail=(
                    f"seq {seq}: its hash {stated} is not the entry the checkpoint at size {size} signed (the signed "
                    f"tree's leaf {seq}, from the stored tiles, proves against the signed root {stored.checkpoint.root}"
                    f"): it was rewritten after it was signed, and the entries after it rehashed to link to it"))
        return report

    def _check_closures_met(self, key, store, records, keys, verifier, tenant_id: str, chain: str,
                            met: list[tuple[int, dict, str]], scan_from: int,
                            report: VerificationReport) -> VerificationReport:
        """Each kind's closures met by a resumed range, checked from the signed state at or below
        where the first one's range begins through the last one (``closure_runs``): the entries
        before the range are read again, as the closing job read them. The run must end on the
        record the range verified (same hash): what it read is bound to the signed chain. The
        earliest finding of all runs fails the report (its head and proven size are the range's)."""
        hashes = {seq: stated for seq, _, stated in met}
        findings = []
        for kind, after, through in closure_runs([(seq, data) for seq, data, _ in met]):
            head, read_from = self._resume_point(key, store, keys, verifier, after)
            check = ResumedClosureCheck(kind, check_from=scan_from, from_start=head is None)
            again = verify_chain(records(key, read_from, through), tenant_id=tenant_id, chain=chain,
                                 extra_checks=[check], start=head)
            if not again.ok:
                findings.append(again)
            elif again.size != through or again.head.last_hash != hashes.get(through):
                findings.append(replace(again, ok=False, reason="hash_mismatch", first_bad_seq=through, detail=(
                    f"seq {through}: read again to check its closure, the chain ends at seq {again.size} with hash "
                    f"{again.head.last_hash}, not the verified {hashes.get(through)}: changed while being verified")))
        if not findings:
            return report
        first = min(findings, key=lambda found: found.first_bad_seq or 0)
        return replace(report, ok=False, reason=first.reason, first_bad_seq=first.first_bad_seq, detail=first.detail)


def _noting_closures(items: Iterator[dict], met: list[tuple[int, dict, str]]) -> Iterator[dict]:
    """The items as they are, noting ``(seq, data, hash)`` of each closure (integral numbers of a
    DynamoDB item as ints: ``closure_runs`` reads ``first_seq``)."""
    for item in items:
        if isinstance(item, Mapping) and item.get("type") == "closure":
            data = item.get("data")
            try:
                seq = int(item.get("seq", item.get("sk")))
            except (TypeError, ValueError):
                seq = None
            if seq is not None:
                data = {k: int(v) if isinstance(v, Decimal) and v == v.to_integral_value() else v
                        for k, v in data.items()} if isinstance(data, Mapping) else data
                met.append((seq, data, item.get("hash")))
        yield item
