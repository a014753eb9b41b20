"""Verify a chain from its stored records: hashes, links, sequence, signed checkpoints.

``verify_chain`` streams the records once, ascending by seq, in constant memory: it keeps the
previous hash and a ``CompactRange`` (O(log n) hashes) to compare the chain's Merkle root with
every signed checkpoint when the stream reaches the checkpoint's size. It never raises for bad
data: it returns a ``VerificationReport`` naming the first failed check, the seq where it
failed, and what was expected and found. Programming errors (checkpoints without a signature
verifier) raise ``ValueError``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from scelle_verify.domain.canonical import CanonicalError, TrustedItem
from scelle_verify.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    PublicKeyInfo,
    SignatureVerifier,
    verify_checkpoint,
)
from scelle_verify.domain.merkle import (
    CompactRange,
    ProofError,
    record_leaf_hash,
    verify_inclusion,
)
from scelle_verify.domain.records import (
    GENESIS_PREV_HASH,
    STORAGE_ATTRIBUTES,
    RecordError,
    SealedRecord,
    chain_key,
    is_hash_hex,
)

LOOKAHEAD = 1024
"""How far past a seq jump the verifier reads to tell ``out_of_order`` from ``gap``."""


class Reason(StrEnum):
    """Stable reason codes of a verification report (a ``str``: compare with plain strings)."""

    OK = "ok"
    HASH_MISMATCH = "hash_mismatch"
    BROKEN_LINK = "broken_link"
    GAP = "gap"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    WRONG_CHAIN = "wrong_chain"
    BAD_VERSION = "bad_version"
    BAD_GENESIS = "bad_genesis"
    NON_CANONICAL = "non_canonical"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    TRUNCATED = "truncated"
    BAD_SIGNATURE = "bad_signature"
    KEY_NOT_VALID = "key_not_valid"
    CHECKPOINT_INCONSISTENT = "checkpoint_inconsistent"
    WITHHELD = "withheld"


class RecordCheck(Protocol):
    """An extra rule run on each record after the built-in checks passed (closure totals...).

    It may keep running state across calls. Return None when the record is fine, or
    ``(reason, detail)``: verification stops there with that reason at the record's seq.
    """

    def check(self, record: SealedRecord) -> tuple[str, str] | None: ...


WITHHELD_FIELDS = frozenset({"chain", "hash", "prev_hash", "seq", "tenant_id", "withheld"})
"""The members of a withheld record's stand-in (an export leaves out training data: decision 0023)."""


@dataclass(frozen=True, slots=True)
class WithheldRecord:
    """A record left out of an export, of which only the chain-binding fields remain: its seq, the
    hash of the previous record and its own hash (``reason`` says why, e.g. ``"training"``). Its
    hash cannot be recomputed (its content is not there), but the next record's ``prev_hash`` and
    every signed checkpoint's Merkle root still bind it."""

    tenant_id: str
    chain: str
    seq: int
    prev_hash: str
    hash: str
    reason: str

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> WithheldRecord:
        """Raises ``ValueError`` naming what is wrong with a stand-in."""
        if set(item) != WITHHELD_FIELDS:
            extra = sorted(set(item) - WITHHELD_FIELDS)
            missing = sorted(WITHHELD_FIELDS - set(item))
            raise ValueError(f"a withheld record has exactly the fields {sorted(WITHHELD_FIELDS)}"
                             + (f"; extra {extra}" if extra else "") + (f"; missing {missing}" if missing else ""))
        seq = item["seq"]
        if type(seq) is not int or seq < 1:
            raise ValueError(f"seq must be an integer >= 1, found {seq!r}")
        for name in ("hash", "prev_hash"):
            if not isinstance(item[name], str) or not is_hash_hex(item[name]):
                raise ValueError(f"{name} must be 64 lowercase hex digits, found {item[name]!r}")
        for name in ("tenant_id", "chain", "withheld"):
            if not isinstance(item[name], str) or not item[name]:
                raise ValueError(f"{name} must be a non-empty string, found {item[name]!r}")
        return cls(item["tenant_id"], item["chain"], seq, item["prev_hash"], item["hash"], item["withheld"])


def withheld_item(record: SealedRecord, reason: str) -> dict[str, Any]:
    """The stand-in of ``record`` in an export that leaves it out (``WithheldRecord``)."""
    return {"chain": record.chain, "hash": record.hash, "prev_hash": record.prev_hash, "seq": record.seq,
            "tenant_id": record.tenant_id, "withheld": reason}


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The state after ``size`` verified records: enough to resume verification after them.

    ``compact`` is the ``CompactRange`` hashes (hex) of the chain's first ``size`` leaves.
    """

    size: int = 0
    last_hash: str = GENESIS_PREV_HASH
    compact: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_hash_hex(self.last_hash):
            raise ValueError(f"last_hash must be 64 lowercase hex digits, got {self.last_hash!r}")
        if (self.size == 0) != (self.last_hash == GENESIS_PREV_HASH):
            raise ValueError("last_hash is 64 zeros exactly when size is 0")
        self.compact_range()  # validates size against the hashes

    def compact_range(self) -> CompactRange:
        return CompactRange.from_state(self.size, self.compact)

    @property
    def root(self) -> str:
        return self.compact_range().root().hex()


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The outcome of ``verify_chain``.

    ``size``/``root``: how many records passed every record check, in order, and the Merkle
    root over them. ``first_bad_seq``: the seq at which verification stopped (see
    docs/hash-format.md, "Verification"), None when ok. ``proven_size``: the largest checkpoint
    size whose signed root matched (entries 1..proven_size are backed by a signature).
    """

    ok: bool
    chain: str
    size: int
    root: str
    first_bad_seq: int | None
    reason: str
    detail: str
    proven_size: int = 0
    checkpoints_verified: int = 0
    head: ChainHead = field(default_factory=ChainHead)
    withheld: int = 0


class _Stop(Exception):
    def __init__(self, reason: Reason | str, seq: int | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.seq = seq
        self.detail = detail


def _seq_hint(item: object) -> int | None:
    if isinstance(item, SealedRecord):
        return item.seq
    if isinstance(item, Mapping):
        value = item.get("seq")
        if type(value) is int:
            return value
        if type(value) is Decimal and value == value.to_integral_value():
            return int(value)
    return None


def _short(value: str) -> str:
    return value[:16] + "…" if len(value) > 16 else value


class _Verifier:
    def __init__(
        self,
        key: str,
        tenant_id: str,
        chain: str,
        checkpoints: Sequence[Checkpoint],
        keys: Sequence[PublicKeyInfo],
        signature_verifier: SignatureVerifier | None,
        extra_checks: Sequence[RecordCheck | Callable[[SealedRecord], tuple[str, str] | None]],
        start: ChainHead,
        storage_attributes: Collection[str],
        withheld: Collection[str] = (),
    ) -> None:
        self.key = key
        self.tenant_id = tenant_id
        self.chain = chain
        self.keys = keys
        self.signature_verifier = signature_verifier
        self.storage_attributes = storage_attributes
        self.withheld_reasons = frozenset(withheld)
        self.withheld = 0
        self.compact = start.compact_range()
        for check in extra_checks:  # a check that keeps the chain's Merkle tree (ClosureCheck) uses this one
            share = getattr(check, "share_tree", None)
            if share is not None:
                share(self.compact)
        self.checks = [getattr(check, "check", check) for check in extra_checks]  # (once shared)
        self.size = start.size
        self.last_hash = start.last_hash
        self.proven = 0
        self.checkpoints_verified = 0
        self.last_proven_root: str | None = None
        # Checkpoints older than the starting head cannot be compared with a root we do not have.
        self.pending = sorted((cp for cp in checkpoints if cp.size >= start.size), key=lambda cp: cp.size)
        self.next_index = 0

    # -- checkpoints ---------------------------------------------------------------------------

    def _authenticate(self, checkpoint: Checkpoint, stop_seq: int | None) -> None:
        assert self.signature_verifier is not None
        try:
            verify_checkpoint(checkpoint, self.keys, self.signature_verifier)
        except CheckpointError as exc:
            raise _Stop(exc.reason, stop_seq, exc.detail) from None

    def _checkpoints_at_current_size(self) -> None:
        size = self.size
        group: list[Checkpoint] = []
        while self.next_index < len(self.pending) and self.pending[self.next_index].size == size:
            group.append(self.pending[self.next_index])
            self.next_index += 1
        if not group:
            return
        stop_seq = size or None
        for checkpoint in group:
            self._authenticate(checkpoint, stop_seq)
        first = group[0]
        for other in group[1:]:
            if other.root != first.root:
                raise _Stop(
                    Reason.CHECKPOINT_INCONSISTENT,
                    stop_seq,
                    f"two signed checkpoints at size {size} have different roots: {first.root} "
                    f"({first.key_id}, {first.timestamp}) and {other.root} "
                    f"({other.key_id}, {other.timestamp})",
                )
        actual = self.compact.root().hex()
        if actual != first.root:
            since = f"after seq {self.proven}" if self.proven else "from seq 1"
            raise _Stop(
                Reason.CHECKPOINT_MISMATCH,
                stop_seq,
                f"checkpoint at size {size} ({first.key_id}, {first.timestamp}) signed root {first.root}, "
                f"but the chain's first {size} entries have root {actual}: entries were altered or "
                f"rewritten {since} up to seq {size}, although each one still hashes and links correctly",
            )
        self.proven = size
        self.checkpoints_verified += len(group)

    def _checkpoints_beyond_end(self) -> None:
        remaining = self.pending[self.next_index :]
        if not remaining:
            return
        missing_seq = self.size + 1
        for checkpoint in remaining:
            self._authenticate(checkpoint, missing_seq)
        largest = remaining[-1]
        raise _Stop(
            Reason.TRUNCATED,
            missing_seq,
            f"signed checkpoint at size {largest.size} ({largest.key_id}, {largest.timestamp}) covers "
            f"{largest.size} entries but the chain ends at seq {self.size}: entries {missing_seq} to "
            f"{largest.size} are missing",
        )

    # -- records -------------------------------------------------------------------------------

    def _load(self, item: object, expected: int) -> SealedRecord | WithheldRecord:
        if isinstance(item, SealedRecord):
            return item
        if type(item) is not TrustedItem and type(item) is not dict and not isinstance(item, Mapping):
            raise _Stop(Reason.NON_CANONICAL, expected, f"entry after seq {expected - 1} is not an object")
        if "withheld" in item:
            return self._withheld(item, expected)
        try:
            return SealedRecord.from_item(item, storage_attributes=self.storage_attributes)
        except RecordError as exc:
            seq = _seq_hint(item)
            where = f"seq {seq}" if seq is not None else f"entry after seq {expected - 1}"
            if exc.field in ("sk", "seq") or seq is None:
                seq = expected
            raise _Stop(exc.reason, seq, f"{where}: {exc.detail}") from None

    def _withheld(self, item: Mapping[str, Any], expected: int) -> WithheldRecord:
        seq = _seq_hint(item)
        where = f"seq {seq}" if seq is not None else f"entry after seq {expected - 1}"
        reason = item.get("withheld")
        if reason not in self.withheld_reasons:
            allowed = (f"only {', '.join(sorted(self.withheld_reasons))} records may be" if self.withheld_reasons
                       else "no record may be")
            raise _Stop(Reason.WITHHELD, seq or expected,
                        f"{where} is withheld ({reason!r}: its content is not there), but {allowed} withheld here")
        try:
            return WithheldRecord.from_item(item)
        except ValueError as exc:
            raise _Stop(Reason.NON_CANONICAL, seq or expected, f"{where}: {exc}") from None

    def _jump(self, record: SealedRecord | WithheldRecord, expected: int, rest: Iterator[object]) -> _Stop:
        for item in itertools.islice(rest, LOOKAHEAD):
            if _seq_hint(item) == expected:
                return _Stop(
                    Reason.OUT_OF_ORDER,
                    expected,
                    f"seq {record.seq} comes where seq {expected} was expected; seq {expected} comes later",
                )
        return _Stop(
            Reason.GAP,
            expected,
            f"seq jumps from {expected - 1} to {record.seq}: seq {expected} is missing",
        )

    def _check_record(self, record: SealedRecord | WithheldRecord, rest: Iterator[object], trusted: bool) -> None:
        expected = self.size + 1
        if record.tenant_id != self.tenant_id or record.chain != self.chain:
            name, want, found = (
                ("tenant_id", self.tenant_id, record.tenant_id)
                if record.tenant_id != self.tenant_id
                else ("chain", self.chain, record.chain)
            )
            raise _Stop(
                Reason.WRONG_CHAIN,
                record.seq,
                f"seq {record.seq} belongs to {chain_key(record.tenant_id, record.chain)}, not {self.key} "
                f"(field {name}: expected {want!r}, found {found!r})",
            )
        if record.seq < expected:
            raise _Stop(
                Reason.DUPLICATE, record.seq, f"seq {record.seq} appears again after seq {expected - 1}"
            )
        if record.seq > expected:
            raise self._jump(record, expected, rest)
        if isinstance(record, WithheldRecord):
            self._link(record)
            self.withheld += 1
            self.compact.append(record_leaf_hash(record.hash))
            self.last_hash = record.hash
            self.size += 1
            return
        try:
            recomputed = record.recomputed_hash if trusted else record.compute_hash()
        except CanonicalError as exc:  # a SealedRecord whose data was mutated after construction
            raise _Stop(Reason.NON_CANONICAL, record.seq, f"seq {record.seq}: {exc.detail}") from None
        if recomputed != record.hash:
            raise _Stop(
                Reason.HASH_MISMATCH,
                record.seq,
                f"seq {record.seq}: field hash is {record.hash} but the record's canonical bytes hash to "
                f"{recomputed}: a hashed field was changed after sealing",
            )
        self._link(record)
        for check in self.checks:
            outcome = check(record)
            if outcome is not None:
                reason, detail = outcome
                raise _Stop(reason, record.seq, f"seq {record.seq}: {detail}")
        self.compact.append(record_leaf_hash(record.hash))
        self.last_hash = record.hash
        self.size += 1

    def _link(self, record: SealedRecord | WithheldRecord) -> None:
        if record.seq == 1:
            if record.prev_hash != GENESIS_PREV_HASH:
                raise _Stop(
                    Reason.BAD_GENESIS,
                    1,
                    f"seq 1: field prev_hash must be {GENESIS_PREV_HASH}, found {record.prev_hash}",
                )
        elif record.prev_hash != self.last_hash:
            raise _Stop(
                Reason.BROKEN_LINK,
                record.seq,
                f"seq {record.seq}: field prev_hash is {record.prev_hash} but seq {record.seq - 1} has hash "
                f"{self.last_hash}: seq {record.seq - 1} or seq {record.seq} was rewritten",
            )

    def run(self, records: Iterable[object]) -> None:
        self._checkpoints_at_current_size()
        iterator = iter(records)
        for item in iterator:
            trusted = not isinstance(item, SealedRecord)
            record = self._load(item, self.size + 1)
            self._check_record(record, iterator, trusted)
            if self.next_index < len(self.pending) and self.pending[self.next_index].size == self.size:
                self._checkpoints_at_current_size()
        self._checkpoints_beyond_end()

    def head(self) -> ChainHead:
        return ChainHead(self.size, self.last_hash, tuple(self.compact.to_state()[1]))

    def report(self, stop: _Stop | None) -> VerificationReport:
        root = self.compact.root().hex()
        if stop is None:
            detail = f"{self.size} entries verified, root {root}"
            if self.checkpoints_verified:
                detail += (
                    f"; {self.checkpoints_verified} signed checkpoint(s) match, "
                    f"the largest at size {self.proven}"
                )
            else:
                detail += "; no signed checkpoint was checked"
            reason: str = Reason.OK
        else:
            reason, detail = stop.reason, stop.detail
        return VerificationReport(
            ok=stop is None,
            chain=self.key,
            size=self.size,
            root=root,
            first_bad_seq=None if stop is None else stop.seq,
            reason=str(reason),
            detail=detail,
            proven_size=self.proven,
            checkpoints_verified=self.checkpoints_verified,
            head=self.head(),
            withheld=self.withheld,
        )


def verify_chain(
    records: Iterable[SealedRecord | Mapping[str, Any]],
    *,
    tenant_id: str,
    chain: str,
    checkpoints: Iterable[Checkpoint] = (),
    keys: Iterable[PublicKeyInfo] = (),
    signature_verifier: SignatureVerifier | None = None,
    extra_checks: Iterable[RecordCheck | Callable[[SealedRecord], tuple[str, str] | None]] = (),
    start: ChainHead | None = None,
    storage_attributes: Collection[str] = STORAGE_ATTRIBUTES,
    withheld: Collection[str] = (),
) -> VerificationReport:
    """Verify one chain's records, streamed ascending by seq, against its signed checkpoints.

    Items of type ``canonical.TrustedItem`` (decoded from JSON text that refuses floats) skip the
    type walk; any other dict is fully checked.

    ``records`` are ``SealedRecord`` objects or stored items (dicts, DynamoDB-deserialised or
    parsed JSON). Checks, in order, for each record: well-formed v1 record (``bad_version``,
    ``non_canonical``, ``wrong_chain`` / ``out_of_order`` for a pk/sk that disagrees), tenant and
    chain (``wrong_chain``), seq (``duplicate``, ``gap``, ``out_of_order``), hash
    (``hash_mismatch``), link (``bad_genesis``, ``broken_link``), then each of ``extra_checks``.
    When the chain reaches a checkpoint's size: key validity (``key_not_valid``), signature
    (``bad_signature``), same-size checkpoints agree (``checkpoint_inconsistent``), root
    (``checkpoint_mismatch``). At the end, a valid checkpoint larger than the chain is
    ``truncated``. ``start`` resumes after an earlier run's ``report.head``; checkpoints smaller
    than ``start.size`` are then skipped. Requires ``signature_verifier`` when checkpoints are
    given.

    ``withheld``: the reasons for which a record may stand withheld (``WithheldRecord``, an item
    with a ``withheld`` member; an export leaves out training data, decision 0023). A stand-in is
    checked for its seq and its link, and its hash enters the Merkle tree (so the next record's
    link and the signed checkpoints bind it); its hash is not recomputed and ``extra_checks`` do
    not see it. Any other withheld item stops verification (``withheld``). Default: none.
    """
    key = chain_key(tenant_id, chain)
    checkpoint_list = list(checkpoints)
    if checkpoint_list and signature_verifier is None:
        raise ValueError("checkpoints given without a signature_verifier")
    verifier = _Verifier(
        key,
        tenant_id,
        chain,
        checkpoint_list,
        list(keys),
        signature_verifier,
        list(extra_checks),
        start or ChainHead(),
        storage_attributes,
        withheld,
    )
    for checkpoint in checkpoint_list:
        if checkpoint.chain_key != key:
            return verifier.report(
                _Stop(
                    Reason.WRONG_CHAIN,
                    None,
                    f"checkpoint at size {checkpoint.size} is for {checkpoint.chain_key}, not {key}",
                )
            )
    try:
        verifier.run(records)
    except _Stop as stop:
        return verifier.report(stop)
    return verifier.report(None)


def verify_record_inclusion(
    record: SealedRecord | Mapping[str, Any], checkpoint: Checkpoint, proof: Sequence[bytes]
) -> None:
    """Raise ``ProofError`` unless ``record`` is entry ``seq`` of the tree signed by ``checkpoint``.

    Also checks that the record is intact (its hash is the hash of its content) and belongs to
    the checkpoint's chain. The checkpoint's own signature is checked with ``verify_checkpoint``.
    """
    if not isinstance(record, SealedRecord):
        try:
            record = SealedRecord.from_item(record)
        except RecordError as exc:
            raise ProofError(f"not a valid sealed record: {exc.detail}") from None
    if record.chain_key != checkpoint.chain_key:
        raise ProofError(f"record of {record.chain_key} cannot be in a checkpoint of {checkpoint.chain_key}")
    if record.compute_hash() != record.hash:
        raise ProofError(f"seq {record.seq}: the stored hash is not the hash of the record's content")
    if not record.seq <= checkpoint.size:
        raise ProofError(f"seq {record.seq} is beyond the checkpoint's size {checkpoint.size}")
    verify_inclusion(
        record_leaf_hash(record.hash), record.seq - 1, checkpoint.size, proof, checkpoint.root_bytes
    )
