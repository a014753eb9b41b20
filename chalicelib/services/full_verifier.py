"""The full verifier (``verify_chains``): re-verifies every production chain from the table, then
compares the table's head with three witnesses the table cannot roll back with it:

* the WORM archive (manifest head and archived signed checkpoints, in S3 under Object Lock),
* the latest signed checkpoint of the checkpoints table,
* the head the stream verifier saw (ops table).

A witness that has seen more than the table holds means entries were cut off or the table was
restored from an older copy (``rollback``); an archived entry whose hash differs from the
table's at the same seq means a rewrite (``archive_mismatch``). Every finding names the chain
and the first bad seq and becomes a tamper alarm (deduplicated: the same state reported every
hour is one alarm).

The event journal's oldest entries leave the hot table after 30 days: its chain is verified from
the archive up to the first entry still in the table, then from the table (by the verification
service, the same code that answers ``POST /verifications``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from chalicelib.domain.records import RecordError, chain_key
from chalicelib.domain.verification import VerificationReport
from chalicelib.observability import logger
from chalicelib.services.events import EVENTS_CHAIN
from chalicelib.services.tamper_alarms import TamperAlarm


def is_production_chain(chain: str) -> bool:
    return chain.startswith("prod.") or chain == EVENTS_CHAIN


@dataclass(frozen=True)
class ChainFinding:
    tenant_id: str
    chain: str
    ok: bool
    reason: str
    seq: int | None
    detail: str
    table_size: int
    archived_through: int = 0
    checkpoint_size: int = 0
    archived_checkpoint_size: int = 0
    stream_seq: int = 0
    evidence: tuple[str, ...] = ()
    proven_size: int = 0  # the largest checkpoint size whose signed root this pass matched


@dataclass
class FullReport:
    findings: list[ChainFinding] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (tenant, chain, error)

    @property
    def failures(self) -> list[ChainFinding]:
        return [f for f in self.findings if not f.ok]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors


class FullVerifier:
    def __init__(
        self,
        *,
        directory,
        verification,
        journal_store,
        events_store,
        checkpoint_store,
        key_registry,
        archive,
        ops,
        alarms,
        on_failure: Callable[[str, str, VerificationReport], None] | None = None,
        on_chain_failed: Callable[[], None] | None = None,
        scope: Callable[[str], bool] = is_production_chain,
    ) -> None:
        self._directory = directory
        self._verification = verification
        self._journal = journal_store
        self._events = events_store
        self._checkpoints = checkpoint_store
        self._keys = key_registry
        self._archive = archive
        self._ops = ops
        self._alarms = alarms
        # Unused since the verification service verifies every chain kind (and reports its failures);
        # kept so that existing wiring keeps working.
        self._on_failure = on_failure or (lambda tenant, chain, report: None)
        self._on_chain_failed = on_chain_failed or (lambda: None)
        self._scope = scope

    def chains(self, tenants: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
        wanted = set(tenants) if tenants is not None else None
        source = (
            ((t, c) for t in sorted(wanted) for c in self._directory.chains(t)) if wanted is not None
            else self._directory.all_chains()
        )
        for tenant_id, chain in source:
            if self._scope(chain):
                yield tenant_id, chain

    def run(self, *, tenants: Iterable[str] | None = None) -> FullReport:
        report = FullReport()
        for tenant_id, chain in self.chains(tenants):
            try:
                report.findings.append(self.verify(tenant_id, chain))
            except Exception as exc:  # one chain's trouble never stops the others
                logger.exception("full verification of a chain failed", extra={"tenant_id": tenant_id, "chain": chain})
                report.errors.append((tenant_id, chain, str(exc)))
        logger.info("full verification done", extra={"chains": len(report.findings), "failures": len(report.failures),
                                                       "errors": len(report.errors)})
        return report

    # -- one chain ------------------------------------------------------------------------------------
    def _verify_table(self, tenant_id: str, chain: str, first_seq: int = 1,
                      last_seq: int | None = None) -> VerificationReport:
        """The chain as stored; an event chain from the archive then the table (the verification
        service reads it that way: ``verification.events_records``). A failed report was already
        counted and journaled by the service. From ``first_seq`` > 1, the service resumes from the
        signed checkpoint just before it."""
        return self._verification.verify(tenant_id, chain, first_seq=first_seq, last_seq=last_seq)

    def _table_size(self, store, key: str, report: VerificationReport) -> int:
        try:
            head = store.head(key)
        except RecordError:
            return report.size
        return head.seq if head is not None else 0

    def verify(self, tenant_id: str, chain: str, *, first_seq: int = 1, last_seq: int | None = None,
               report: VerificationReport | None = None) -> ChainFinding:
        """The chain from ``first_seq`` (a slice of ``verify-work``, decision 0028) to ``last_seq``
        or, when None, to the head, which is then compared with the chain's witnesses. ``report``:
        the stored chain already verified that far (an on-demand verification, ``POST
        …/verifications``), so that only the comparison with the witnesses is left to do."""
        key = chain_key(tenant_id, chain)
        store = self._events if chain == EVENTS_CHAIN else self._journal
        if report is None:
            report = self._verify_table(tenant_id, chain, first_seq, last_seq)
        if last_seq is not None:
            return self._slice_finding(tenant_id, chain, report)
        # Every witness is read before the table's head: each saw only entries the table already
        # held, so an entry sealed meanwhile (a shop selling during the verification) can make the
        # table longer than a witness, never shorter: no false rollback by a race.
        state = self._ops.chain_state(key)
        stream_seq = state.seq
        archived_through, archived_hash = self._archive.head(key)
        # listed before the table's latest checkpoint is read: a checkpoint signed meanwhile reaches
        # the table before the archive, so the archive never looks ahead of the table by a race
        archived_cp = self._archive.newest_checkpoint_size(key, at_least=report.proven_size)
        latest = self._checkpoints.latest(key)
        checkpoint_size = latest.checkpoint.size if latest else 0
        size = self._table_size(store, key, report)

        problems: list[tuple[str, int | None, str]] = []
        if not report.ok:
            problems.append((report.reason, report.first_bad_seq, report.detail))
        witnesses = [
            (archived_through, f"the archive holds entries up to seq {archived_through}"),
            (archived_cp, f"a signed checkpoint in the archive covers {archived_cp} entries"),
            (checkpoint_size, f"the latest signed checkpoint covers {checkpoint_size} entries"),
            (stream_seq, f"the stream verifier saw the chain reach seq {stream_seq}"),
        ]
        longer = [text for seen, text in witnesses if seen > size]
        if longer:
            problems.append(("rollback", size + 1,
                             f"the table ends at seq {size} but " + "; ".join(longer)
                             + f": entries from seq {size + 1} were removed or the table was restored from an "
                             "older copy"))
        if archived_cp > checkpoint_size:
            problems.append(("checkpoint_rollback", archived_cp,
                             f"the archive holds a signed checkpoint at size {archived_cp} but the checkpoints "
                             f"table's latest is at size {checkpoint_size}: checkpoints were removed or restored "
                             "from an older copy"))
        mismatch = self._archive_mismatch(store, key, size, archived_through, archived_hash)
        if mismatch:
            problems.append(mismatch)

        if not problems:
            return ChainFinding(tenant_id, chain, True, "ok", None, report.detail, size, archived_through,
                                checkpoint_size, archived_cp, stream_seq, proven_size=report.proven_size)
        reason, seq, _ = problems[0]
        evidence = tuple(f"{r}@{s}" for r, s, _ in problems)
        finding = ChainFinding(tenant_id, chain, False, reason, seq, " | ".join(d for _, _, d in problems), size,
                               archived_through, checkpoint_size, archived_cp, stream_seq, evidence)
        if report.ok:
            self._on_chain_failed()  # a failed report was counted by the verification service already
        self._alarms.raise_alarm(TamperAlarm(
            tenant_id, chain, seq, reason, finding.detail, "full",
            evidence=f"size={size};" + ",".join(evidence),
        ))
        return finding

    def _slice_finding(self, tenant_id: str, chain: str, report: VerificationReport) -> ChainFinding:
        if report.ok:
            return ChainFinding(tenant_id, chain, True, "ok", None, report.detail, report.size,
                                proven_size=report.proven_size)
        finding = ChainFinding(tenant_id, chain, False, report.reason, report.first_bad_seq, report.detail,
                               report.size, evidence=(f"{report.reason}@{report.first_bad_seq}",))
        self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, report.first_bad_seq, report.reason, report.detail,
                                             "full", evidence=f"slice;{report.reason}@{report.first_bad_seq}"))
        return finding

    def _archive_mismatch(self, store, key: str, size: int, archived_through: int, archived_hash: str):
        """Compare the archive with the table where both have entries: first differing seq."""
        if archived_through == 0:
            return None
        upto = min(size, archived_through)
        if upto == 0:
            return None
        probe = _safe_get(store, key, upto) if upto == archived_through else None
        if probe is not None and probe.hash == archived_hash:
            return None
        manifest = self._archive.synced_manifest(key)
        for info in manifest.segments:
            if info.first_seq > upto:
                break
            last = min(info.last_seq, upto)
            table_last = _safe_get(store, key, last)
            if info.last_seq <= upto and table_last is not None and table_last.hash == info.last_hash:
                continue
            archived = {r["seq"]: r["hash"] for r in self._archive.read_segment(info, key)}
            table = {item.get("seq"): item.get("hash") for item in store.raw_items(key, info.first_seq, last)}
            for seq in range(info.first_seq, last + 1):
                if seq in archived and archived.get(seq) != table.get(seq):
                    found = table.get(seq)
                    return ("archive_mismatch", seq,
                            f"seq {seq}: the archive holds hash {archived[seq]} but the table "
                            + (f"holds {found}" if found else "has no entry") + ": the entry was rewritten "
                            "after it was archived")
        return None


def _safe_get(store, key: str, seq: int):
    try:
        return store.get(key, seq)
    except RecordError:
        return None
