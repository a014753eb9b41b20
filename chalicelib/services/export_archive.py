"""Build an export archive (``scelle-export/v1``) into any binary sink, streaming.

Memory stays constant whatever the size of the ledger: records are read chain by chain, page by
page, and written straight into the ZIP stream (``records/<chain>.jsonl``); the CSV views are
written as they go to spooled temporary files (in memory up to a few MB, then on disk — /tmp on
Lambda) and copied into the archive afterwards; only the closures (a few per day) and the
checkpoint list are kept. The ZIP itself goes to the sink as it is produced (an S3 multipart
upload in production), so nothing holds the whole archive.

The layout and every CSV row come from ``chalicelib.verify_export.format``: the offline verifier
recomputes them from the same functions.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, Protocol

from chalicelib.domain import fec as fec_rules
from chalicelib.domain.canonical import encode_trusted
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.merkle import CompactRange, record_leaf_hash
from chalicelib.domain.records import GENESIS_PREV_HASH, HASH_VERSION, SealedRecord, utc_timestamp
from chalicelib.domain.tenant import Tenant
from chalicelib.domain.verification import withheld_item
from chalicelib.domain.witness import Cosignature, CosignatureError, verify_cosignature
from chalicelib.ports.signatures import verify_signature
from chalicelib.verify_export import format as fmt

SPOOL_BYTES = 1024 * 1024
COPY_CHUNK = 1024 * 1024
PROGRESS_EVERY = 5000


def software_version() -> str:
    try:
        from importlib.metadata import version

        return version("scelle")
    except Exception:  # not installed as a distribution (a Lambda zip): the source version
        return "0.1.0"


class ChainSource(Protocol):
    """Where the records, checkpoints and keys of one tenant come from."""

    def end(self, chain: str) -> int:
        """How many records of ``chain`` the archive carries: the size of its newest signed
        checkpoint (signing one now if the head is not covered yet), 0 for an empty chain."""
        ...

    def records(self, chain: str, first: int, last: int) -> Iterator[SealedRecord]: ...

    def checkpoints(self, chain: str, end: int) -> list[Checkpoint]:
        """Every signed checkpoint of ``chain`` with a size up to ``end``, ascending."""
        ...

    def keys(self) -> list[PublicKeyInfo]: ...

    # Optional: ``derived_through(chain) -> int``, the seq up to which every entry of ``chain``
    # has its event in the event journal (the derivation cursor). A source without it (a
    # benchmark's) makes a manifest that does not state it.
    #
    # Optional (decision 0024): ``cosignatures(chain, end) -> list[Cosignature]``, the witness's
    # kept cosignatures of ``chain`` up to size ``end``, ascending, and ``witness_keys() ->
    # list[tuple[key_id, public_key_pem]]``, the witness keys that made them. A source without
    # them makes an archive whose ``cosignatures.csv`` is empty.


class Signer(Protocol):
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class ArchiveSpec:
    job_id: str
    kind: str  # "fiscal" | "fec"
    first_day: date
    last_day: date
    chains: tuple[str, ...]  # ledger chains, in archive order; the event journal is added when present
    requested_by: str
    requested_at: str
    include_events: bool = True


@dataclass
class ArchiveResult:
    file_name: str
    manifest_sha256: str
    entries: int
    files: list[dict[str, Any]] = field(default_factory=list)
    fiscal: bool = True


class FecInvalid(ValidationFailed):
    """The FEC would not pass the administration's checks: every reason is listed."""

    code = "fec-invalid"
    title = "The FEC does not pass the checks"

    def __init__(self, problems: Sequence[fec_rules.FecProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s); first: {problems[0]}", field="format",
                         problems=[str(p) for p in problems])
        self.problems = list(problems)


class WitnessMismatch(ValidationFailed):
    """A kept cosignature does not cover the signed checkpoint of its chain and size, or does not
    verify with the witness's key: the ops table and the checkpoints disagree (a fork, or a
    planted item). The archive would fail ``scelle verify``, so it is not built."""

    code = "witness-mismatch"
    title = "The witness's cosignatures do not match the signed checkpoints"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{problems[0]}; the witness's cosignatures are tamper evidence: look into it before "
                         "exporting", field="chains", problems=list(problems))
        self.problems = list(problems)


class EventJournalBehind(ValidationFailed):
    """Entries sealed long ago still have no event in the event journal: the journal stream's
    derivation is stuck. The archive would fail ``scelle verify``, so it is not built."""

    code = "event-journal-behind"
    title = "The event journal is behind the ledger"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{problems[0]}; the journal stream derives each entry's event within seconds: "
                         "once it has caught up, request the export again", field="chains", problems=list(problems))
        self.problems = list(problems)


class ChainTampered(ValidationFailed):
    """A chain is not as it was sealed and signed (tamper evidence; the verifiers alarm): the archive
    would fail ``scelle verify``, so it is not built, and the job says why."""

    def __init__(self, problem: str, **extra: object) -> None:
        super().__init__(f"{problem}; this is tamper evidence: look into it (the tamper alarms name the chain) "
                         "before exporting", field="chains", problems=[problem], **extra)
        self.problems = [problem]


class ChainDoesNotVerify(ChainTampered):
    """A chain's stored entries do not verify as the archive is written (a hash, a link, a seq, or
    the root a signed checkpoint signed): changed after they were sealed. The job names the first
    bad entry."""

    code = "chain-does-not-verify"
    title = "A chain does not verify as stored"

    def __init__(self, chain: str, seq: int, reason: str, detail: str) -> None:
        super().__init__(f"{chain} seq {seq}: {reason}: {detail}", reason=reason, seq=seq)


class ChainNotAsSigned(ChainTampered):
    """A chain holds fewer entries than its newest signed checkpoint covers (the table's, or the
    write-once archive's copy): entries were removed after they were signed (it said "could not be
    built")."""

    code = "chain-not-as-signed"
    title = "A chain no longer holds what its signed checkpoint covers"

    def __init__(self, chain: str, found: int, signed: int) -> None:
        super().__init__(f"{chain}: the table holds {found} entries where the signed checkpoint covers {signed}: "
                         f"entries from seq {found + 1} were removed after they were signed")


def _check_stored(chain: str, record: SealedRecord, expected_seq: int, prev_hash: str) -> None:
    if record.seq != expected_seq:
        raise ChainDoesNotVerify(chain, expected_seq, "gap", f"seq {expected_seq} is missing (found seq {record.seq})")
    if not record.intact:
        raise ChainDoesNotVerify(chain, record.seq, "hash_mismatch", (
            f"its stored hash {record.hash} is not the hash of its content {record.recomputed_hash}: it was changed "
            "after it was sealed"))
    if record.prev_hash != prev_hash:
        raise ChainDoesNotVerify(chain, record.seq, "broken_link", (
            f"prev_hash {record.prev_hash} is not the hash {prev_hash} of the entry before it"))


def archive_name(tenant: Tenant, spec: ArchiveSpec) -> str:
    prefix = "NON-FISCAL-" if tenant.training else ""
    return (f"{prefix}scelle-{spec.kind}-{tenant.tenant_id}-{spec.first_day:%Y%m%d}-{spec.last_day:%Y%m%d}-"
            f"{spec.job_id}.zip")


def member_info(path: str, built: datetime) -> zipfile.ZipInfo:
    """A member's ZIP header (decision 0023, R2): dated the archive's build time in UTC — the DOS
    date-time (2-second steps, no time zone: UTC) and an extended-timestamp field (0x5455, Unix
    time) — deflated, mode 0644. The same for every member: same clock, same bytes."""
    moment = built.astimezone(UTC)
    info = zipfile.ZipInfo(path, date_time=(moment.year, moment.month, moment.day, moment.hour, moment.minute,
                                            moment.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = 6  # type: ignore[attr-defined]  # ZipInfo.compress_level from Python 3.13
    info.external_attr = 0o100644 << 16
    info.extra = struct.pack("<HHBI", 0x5455, 5, 1, int(moment.timestamp()))
    return info


class _Member:
    """Writes one archive member, counting and hashing its bytes."""

    def __init__(self, zf: zipfile.ZipFile, path: str, built: datetime) -> None:
        self.path = path
        self._out = zf.open(member_info(path, built), "w", force_zip64=True)
        self._sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._sha.update(data)
        self.bytes += len(data)
        return len(data)

    def close(self, rows: int | None = None) -> dict[str, Any]:
        self._out.close()
        entry: dict[str, Any] = {"path": self.path, "sha256": self._sha.hexdigest(), "bytes": self.bytes}
        if rows is not None:
            entry["rows"] = rows
        return entry


def _spool():
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")


def _copy(spool, member: _Member) -> None:
    spool.seek(0)
    while chunk := spool.read(COPY_CHUNK):
        member.write(chunk)
    spool.close()


def _withheld_line(record: SealedRecord) -> bytes:
    """A training record's stand-in in a live tenant's archive (decision 0023, R1)."""
    return encode_trusted(withheld_item(record, fmt.WITHHELD_TRAINING)) + b"\n"


def archive_docs() -> dict[str, bytes]:
    """The documents of ``fmt.ARCHIVE_DOCS`` packaged with ``chalicelib.verify_export`` (its
    ``docs/`` folder, package data): ``{archive path: bytes}``, in the list's order. A document
    still in ``fmt.NOT_YET_WRITTEN`` is left out while it is absent; any other missing one is a
    packaging error (the archive's read-me would name a file it does not hold)."""
    folder = resources.files("chalicelib.verify_export").joinpath("docs")
    found: dict[str, bytes] = {}
    for name in fmt.ARCHIVE_DOCS:
        item = folder.joinpath(name)
        if item.is_file():
            found[f"{fmt.DOCS_DIR}{name}"] = item.read_bytes()
        elif name not in fmt.NOT_YET_WRITTEN:
            raise RuntimeError(f"chalicelib/verify_export/docs/{name} is not packaged (run: make archive-docs)")
    return found


def _record_line(record: SealedRecord) -> bytes:
    """The record's canonical JSON (all ten fields) and a line feed. ``data`` was normalised when
    the record was built (``SealedRecord`` validates it), so it is encoded as is."""
    return encode_trusted({
        "chain": record.chain, "data": record.data, "hash": record.hash, "hash_version": record.hash_version,
        "prev_hash": record.prev_hash, "recorded_at": record.recorded_at, "seq": record.seq,
        "tenant_id": record.tenant_id, "training": record.training, "type": record.type,
    }) + b"\n"


def build_archive(
    sink,
    *,
    tenant: Tenant,
    spec: ArchiveSpec,
    source: ChainSource,
    signer: Signer,
    clock: Callable[[], datetime],
    progress: Callable[[int, int], None] | None = None,
    directory: Callable[[], Iterable[str]] | None = None,
) -> ArchiveResult:
    """Write the whole archive to ``sink`` (an object with ``write``; never seeked).

    ``directory`` lists the tenant's chains (the chain directory): the manifest then says of each
    whether the archive carries it or why not, so that a chain left out cannot go unnoticed.

    Raises ``FecInvalid`` for a FEC that fails its checks — before anything is written.
    """
    progress = progress or (lambda done, total: None)
    start, end = _range_utc(tenant, spec)
    scope = fmt.Scope(tenant.country, tenant.time_zone, start, end)
    chains = list(spec.chains)
    # The order of these reads is what lets the verifier be strict (decision 0018): the event
    # derivation cursors first, then the event journal's end, then the directory, then each
    # ledger chain's end. So every entry up to a cursor has its event in the archive's journal,
    # every chain an archived event names was already in the directory, and every entry such an
    # event names is within its chain's archived records.
    derived = _derived_through(source, chains)
    ends: dict[str, int] = {}
    if spec.include_events:
        ends[fmt.EVENTS_CHAIN] = source.end(fmt.EVENTS_CHAIN)
    listed = sorted(set(directory())) if directory is not None else None
    for chain in chains:
        ends[chain] = source.end(chain)
    all_chains = [chain for chain in [*chains, fmt.EVENTS_CHAIN] if ends.get(chain, 0) > 0]
    chains = [chain for chain in chains if chain in all_chains]
    if derived is not None and fmt.EVENTS_CHAIN in all_chains:
        _check_derivation(source, chains, derived, ends, clock())
    total = sum(ends[chain] for chain in all_chains)
    fiscal = spec.kind == "fiscal"
    withhold = not tenant.training  # a live tenant's archive holds no training record (decision 0023, R1)
    built = clock()  # the archive's build time: manifest's generated_at and every member's date

    fec_spool, fec_info = None, None
    if spec.kind == "fec":
        fec_spool, fec_info = _fec(tenant, spec, source, chains, ends)

    zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    files: list[dict[str, Any]] = []
    chain_info: list[dict[str, Any]] = []
    checkpoints: dict[str, list[Checkpoint]] = {}
    spools = {name: _spool() for name in ("entries", "lines", "events")} if fiscal else {}
    writers = {}
    if fiscal:
        writers = {
            "entries": fmt.CsvOut(spools["entries"], fmt.entries_header(scope)),
            "lines": fmt.CsvOut(spools["lines"], fmt.LINES_HEADER),
            "events": fmt.CsvOut(spools["events"], fmt.EVENTS_HEADER),
        }
    closures: list[tuple[SealedRecord, int | None]] = []
    done = 0
    for chain in all_chains:
        events = chain == fmt.EVENTS_CHAIN
        member = _Member(zf, fmt.records_path(chain), built)
        compact, last_hash, count, rows, withheld = CompactRange(), GENESIS_PREV_HASH, 0, 0, 0
        ranges = fmt.ClosureRanges()
        checkpoints[chain] = source.checkpoints(chain, ends[chain])
        signed_roots = {cp.size: cp.root for cp in checkpoints[chain]}
        for record in source.records(chain, 1, ends[chain]):
            # Each entry checked as it is written (the hash is already computed): an archive that
            # would fail scelle verify is refused here, naming the first bad entry.
            _check_stored(chain, record, count + 1, last_hash)
            compact.append(record_leaf_hash(record.hash))
            last_hash, count = record.hash, count + 1
            if count in signed_roots and compact.root().hex() != signed_roots[count]:
                raise ChainDoesNotVerify(chain, count, "checkpoint_mismatch", (
                    f"the entries up to seq {count} have root {compact.root().hex()}, not the root "
                    f"{signed_roots[count]} the checkpoint at size {count} signed: entries were rewritten and "
                    "rehashed"))
            done += 1
            if done % PROGRESS_EVERY == 0:
                progress(done, total)
            if withhold and record.training:
                member.write(_withheld_line(record))
                withheld += 1
                continue
            member.write(_record_line(record))
            if fiscal and not events:
                ranges.see(record)
                if scope.lists_closure(record):
                    closures.append((record, ranges.first_entry(record.data)))
            if fiscal and scope.covers(record):
                rows += 1
                if events:
                    writers["events"].write(fmt.event_row(record, scope))
                else:
                    writers["entries"].write(fmt.entry_row(record, scope))
                    writers["lines"].write_many(fmt.line_rows(record))
        if count != ends[chain]:
            raise ChainNotAsSigned(chain, count, ends[chain])
        files.append(member.close(count))
        info = {
            "chain": chain,
            "records": fmt.records_path(chain),
            "first_seq": 1,
            "last_seq": count,
            "root": compact.root().hex(),
            "last_hash": last_hash,
            "rows": rows,
            "checkpoint_sizes": [cp.size for cp in checkpoints[chain]],
        }
        if withhold:
            info["withheld_training"] = withheld
        if not events and derived is not None:
            info["events_derived_through"] = min(derived[chain], count)
        chain_info.append(info)
    progress(done, total)

    if fiscal:
        for name, path in (("entries", fmt.ENTRIES), ("lines", fmt.LINES), ("events", fmt.EVENTS)):
            member = _Member(zf, path, built)
            _copy(spools[name], member)
            files.append(member.close(writers[name].rows))
        closure_spool = _spool()
        closure_out = fmt.CsvOut(closure_spool, fmt.closures_header(scope))
        for record, first_entry in closures:
            closure_out.write(fmt.closure_row(record, scope, checkpoints[record.chain], first_entry))
        member = _Member(zf, fmt.CLOSURES, built)
        _copy(closure_spool, member)
        files.append(member.close(closure_out.rows))
    if fec_spool is not None and fec_info is not None:
        member = _Member(zf, fec_info["file"], built)
        _copy(fec_spool, member)
        files.append(member.close(fec_info["lines"]))

    cp_spool = _spool()
    cp_out = fmt.CsvOut(cp_spool, fmt.CHECKPOINTS_HEADER)
    for chain in all_chains:
        cp_out.write_many(fmt.checkpoint_row(chain, cp) for cp in checkpoints[chain])
    member = _Member(zf, fmt.CHECKPOINTS, built)
    _copy(cp_spool, member)
    files.append(member.close(cp_out.rows))

    witness_keys = _witness_keys(source)
    cosignatures = _cosignatures(source, all_chains, ends, checkpoints, witness_keys)
    cosig_spool = _spool()
    cosig_out = fmt.CsvOut(cosig_spool, fmt.COSIGNATURES_HEADER)
    for chain in all_chains:
        cosig_out.write_many(fmt.cosignature_row(chain, cosignature) for cosignature in cosignatures[chain])
    member = _Member(zf, fmt.COSIGNATURES, built)
    _copy(cosig_spool, member)
    files.append(member.close(cosig_out.rows))

    keys = source.keys()
    key_entries = []
    for key in keys:
        path = fmt.key_file(key.key_id)
        member = _Member(zf, path, built)
        member.write(key.public_key_pem.encode("ascii"))
        files.append(member.close())
        key_entries.append({"key_id": key.key_id, "not_before": key.not_before, "not_after": key.not_after,
                            "file": path, "role": fmt.ROLE_LOG})
    for key_id, pem in witness_keys.items():
        # The witness publishes no validity range: from its first cosignature this archive carries
        # (the build time if it carries none), with no end.
        times = [c.timestamp for chain in all_chains for c in cosignatures[chain] if c.witness_key_id == key_id]
        path = fmt.key_file(key_id)
        member = _Member(zf, path, built)
        member.write(pem.encode("ascii"))
        files.append(member.close())
        key_entries.append({"key_id": key_id, "not_before": min(times) if times else utc_timestamp(built),
                            "not_after": None, "file": path, "role": fmt.ROLE_WITNESS})
    member = _Member(zf, fmt.KEYS_INDEX, built)
    member.write(_json({"keys": key_entries}))
    files.append(member.close())

    docs = archive_docs()
    for path, body in docs.items():
        member = _Member(zf, path, built)
        member.write(body)
        files.append(member.close())

    generated_at = utc_timestamp(built)
    texts = readme_texts(tenant, spec, scope, generated_at, fec_info, docs=tuple(docs), signing_key=signer.key_id)
    for path, text in texts.items():
        member = _Member(zf, path, built)
        member.write(text.encode("utf-8"))
        files.append(member.close())

    manifest = {
        "format": fmt.FORMAT,
        "hash_format_version": HASH_VERSION,
        "software": {"name": "scelle", "version": software_version()},
        "export": {
            "job_id": spec.job_id,
            "kind": spec.kind,
            "fiscal": not tenant.training,
            "training": tenant.training,
            "first_day": spec.first_day.isoformat(),
            "last_day": spec.last_day.isoformat(),
            "start_utc": start,
            "end_utc": end,
            "requested_by": spec.requested_by,
            "requested_at": spec.requested_at,
            "generated_at": generated_at,
        },
        "tenant": {
            "tenant_id": tenant.tenant_id,
            "company_name": tenant.company_name,
            "country": tenant.country,
            "company_number": tenant.company_number,
            "vat_number": tenant.vat_number,
            "time_zone": tenant.time_zone,
            "business_day_cutoff": tenant.business_day_cutoff.strftime("%H:%M:%S"),
            "mode": tenant.mode,
        },
        "csv": fmt.CSV_DIALECT if fiscal else None,
        "fec": fec_info,
        "chains": chain_info,
        **({"directory": _directory_listing(tenant, spec, listed, all_chains, ends)} if listed is not None else {}),
        "files": files,
        "witness_keys": sorted(witness_keys),
        "signature": {"file": fmt.SIGNATURE, "key_id": signer.key_id,
                      "algorithm": "ECDSA P-256 with SHA-256 over the bytes of manifest.json, DER-encoded"},
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
    zf.writestr(member_info(fmt.MANIFEST, built), manifest_bytes)
    zf.writestr(member_info(fmt.SIGNATURE, built), signer.sign(manifest_bytes))
    zf.comment = (b"NOT FISCAL - training data / NON FISCAL - donnees de formation" if tenant.training
                  else b"Scelle export - verify with: scelle verify " + archive_name(tenant, spec).encode("ascii"))
    zf.close()
    return ArchiveResult(file_name=archive_name(tenant, spec),
                         manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), entries=done, files=files,
                         fiscal=not tenant.training)


def _check_derivation(source: ChainSource, chains: Sequence[str], derived: dict[str, int], ends: dict[str, int],
                      now: datetime) -> None:
    """Refuse an archive whose event journal lags the ledger by more than the verifier allows."""
    stale_before = utc_timestamp(now - timedelta(seconds=fmt.DERIVATION_GRACE_SECONDS))
    problems = []
    for chain in chains:
        if derived[chain] >= ends[chain]:
            continue
        first = next(iter(source.records(chain, derived[chain] + 1, derived[chain] + 1)), None)
        if first is not None and first.recorded_at < stale_before:
            problems.append(f"{chain}: the entries from seq {first.seq} (sealed at {first.recorded_at}) have no event "
                            "in the event journal yet")
    if problems:
        raise EventJournalBehind(problems)


def _witness_keys(source: ChainSource) -> dict[str, str]:
    """``{witness key id: public key PEM}`` of the source's witness (empty without one)."""
    read = getattr(source, "witness_keys", None)
    return dict(read()) if read is not None else {}


def _cosignatures(source: ChainSource, chains: Sequence[str], ends: dict[str, int],
                  checkpoints: dict[str, list[Checkpoint]],
                  witness_keys: dict[str, str]) -> dict[str, list[Cosignature]]:
    """Each chain's kept cosignatures up to its exported end, each checked against the signed
    checkpoint of its size and the witness's key: ``WitnessMismatch`` when one does not match."""
    read = getattr(source, "cosignatures", None)
    found: dict[str, list[Cosignature]] = {chain: [] for chain in chains}
    if read is None:
        return found
    problems = []
    for chain in chains:
        by_size = {cp.size: cp for cp in checkpoints[chain]}
        kept = sorted(read(chain, ends[chain]), key=lambda c: (c.size, c.witness_key_id))
        for cosignature in kept:
            checkpoint = by_size.get(cosignature.size)
            pem = witness_keys.get(cosignature.witness_key_id)
            if checkpoint is None:
                problems.append(f"{chain}: the witness co-signed size {cosignature.size} (root {cosignature.root}), "
                                "which no signed checkpoint of the chain has")
                continue
            if pem is None:
                problems.append(f"{chain}: the cosignature of size {cosignature.size} is by "
                                f"{cosignature.witness_key_id}, not a key of the witness")
                continue
            try:
                verify_cosignature(cosignature, checkpoint,
                                   lambda key_id, message, signature, pem=pem: verify_signature(pem, message,
                                                                                                signature))
            except CosignatureError as exc:
                problems.append(f"{chain}: size {cosignature.size}: {exc.detail} (the signed checkpoint has root "
                                f"{checkpoint.root})")
                continue
            found[chain].append(cosignature)
    if problems:
        raise WitnessMismatch(problems)
    return found


def _derived_through(source: ChainSource, chains: Sequence[str]) -> dict[str, int] | None:
    read = getattr(source, "derived_through", None)
    return {chain: int(read(chain)) for chain in chains} if read is not None else None


def _directory_listing(tenant: Tenant, spec: ArchiveSpec, listed: Sequence[str], archived: Sequence[str],
                       ends: dict[str, int]) -> dict[str, Any]:
    """Every chain of the tenant's directory (and the event journal): in the archive, or why not."""
    mode = f"{tenant.chain_mode}."
    requested = ", ".join(spec.chains) or "no ledger chain"
    entries = []
    for chain in sorted({*listed, *spec.chains, fmt.EVENTS_CHAIN}):
        if chain in archived:
            entries.append({"chain": chain, "status": fmt.INCLUDED})
        elif chain == fmt.EVENTS_CHAIN and not spec.include_events:
            entries.append({"chain": chain, "status": fmt.EXCLUDED, "reason": "the event journal was not requested"})
        elif chain in ends or chain == fmt.EVENTS_CHAIN:
            entries.append({"chain": chain, "status": fmt.EMPTY,
                            "reason": "no entry was sealed in it when the archive was built"})
        elif not chain.startswith(mode):
            why = ("training data (test mode, before going live): never part of a production export"
                   if chain.startswith("test.") else f"not a {mode}* chain: this tenant's exports hold {mode}* only")
            entries.append({"chain": chain, "status": fmt.EXCLUDED, "reason": why})
        else:
            entries.append({"chain": chain, "status": fmt.EXCLUDED,
                            "reason": f"not requested: this export was asked for {requested}"})
    return {"read": "the tenant's chain directory, read when the archive was built", "chains": entries}


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"


def _range_utc(tenant: Tenant, spec: ArchiveSpec) -> tuple[str, str]:
    from chalicelib.domain.calendar import range_bounds_utc

    start, end = range_bounds_utc(spec.first_day, spec.last_day, tenant.time_zone, tenant.business_day_cutoff,
                                  field="to")
    return utc_timestamp(start), utc_timestamp(end)


def fec_context(tenant: Tenant, spec: ArchiveSpec) -> fec_rules.FecContext:
    return fec_rules.FecContext(siren=tenant.company_number, country=tenant.country, time_zone=tenant.time_zone,
                                cutoff=tenant.business_day_cutoff, first_day=spec.first_day, last_day=spec.last_day)


def _fec(tenant: Tenant, spec: ArchiveSpec, source: ChainSource, chains: list[str], ends: dict[str, int]):
    """Generate and check the FEC first (to a spool): a FEC that fails is never exported."""
    ctx = fec_context(tenant, spec)
    name = ctx.file_name  # fixed by law, training or not: the archive's own name and read-me say NON-FISCAL
    validator = fec_rules.FecValidator(first_day=spec.first_day, last_day=spec.last_day)
    validator.check_file_name(name, siren=tenant.company_number, closing=spec.last_day)
    spool = _spool()
    header = fec_rules.header()
    validator.feed(header)
    spool.write(fec_rules.encode_line(header))
    lines = 0
    try:
        rows = fec_rules.fec_rows({chain: source.records(chain, 1, ends[chain]) for chain in chains}, ctx)
        for row in rows:
            validator.feed(row.text)
            spool.write(fec_rules.encode_line(row.text))
            lines += 1
    except fec_rules.FecError as exc:
        spool.close()
        raise FecInvalid([fec_rules.FecProblem(0, "", "posting", str(exc))]) from None
    problems = validator.finish()
    if problems:
        spool.close()
        raise FecInvalid(problems)
    info = {
        "file": name,
        "lines": lines,
        "entries": validator.entries,
        "total_debit": fec_rules.amount(validator.debit),
        "total_credit": fec_rules.amount(validator.credit),
        "encoding": "ISO-8859-15",
        "separator": "tab",
        "line_end": "CRLF",
        "account_mapping": f"default {tenant.country}",
    }
    return spool, info


# ---- the auditor's read-me ---------------------------------------------------------------------
_BANNER_FR = ("*** NON FISCAL - DONNÉES DE FORMATION ***\nCette archive provient d'un locataire en mode test : "
              "aucune de ses données n'a de valeur fiscale.\n\n")
_BANNER_EN = ("*** NOT FISCAL - TRAINING DATA ***\nThis archive comes from a tenant in test mode: none of its data "
              "is an official record.\n\n")


_DOC_TITLES = {
    "auditor-guide.fr.md": ("le guide de l'auditeur (français)", "the auditor guide (French)"),
    "auditor-guide.en.md": ("le guide de l'auditeur (anglais)", "the auditor guide (English)"),
    "export-format.md": ("le format de l'archive, colonne par colonne", "the archive's format, column by column"),
    "hash-format.md": ("le format des empreintes et des checkpoints", "how records are hashed and checkpoints signed"),
}


def readme_texts(tenant: Tenant, spec: ArchiveSpec, scope: fmt.Scope, generated_at: str,
                 fec_info: dict[str, Any] | None, docs: Sequence[str] = (), signing_key: str = "") -> dict[str, str]:
    """``LISEZMOI.txt`` / ``README.txt`` (and ``NON-FISCAL.txt``). ``docs``: the archive paths of
    the documents it carries; the texts name no other path than the archive's own members.
    ``signing_key``: the id of the key that signs the manifest, whose file (``keys/…pem``) the
    ``openssl`` command names literally."""
    company = f"{tenant.company_name} ({tenant.country} {tenant.company_number}, TVA/VAT {tenant.vat_number})"
    period = f"{spec.first_day.isoformat()} .. {spec.last_day.isoformat()}"
    archive = archive_name(tenant, spec)
    fec_fr = (f"- {fec_info['file']} : le fichier des écritures comptables (FEC, art. A47 A-1 LPF), tabulations, "
              "ISO 8859-15, montants à virgule décimale.\n") if fec_info else ""
    fec_en = (f"- {fec_info['file']}: the FEC (art. A47 A-1 LPF), tab separated, ISO 8859-15, decimal comma.\n"
              if fec_info else "")
    csv_fr = ("- entries.csv : une ligne par enregistrement scellé pendant la période (ventes, retours, écritures, "
              "annulations, clôtures sans montants) ;\n"
              "- lines.csv : le détail des lignes ; closures.csv : les clôtures scellées pendant la période, et "
              "celles scellées après sa fin dont toute la période (jour, mois ou année) est comprise dans celle de "
              "l'export (scellee_dans_periode = non), chaîne par chaîne dans l'ordre des seq ;\n"
              "- events.csv : le journal des événements (JET) ;\n"
              "  CSV : séparateur « ; », virgule décimale, UTF-8 avec BOM, fin de ligne CRLF.\n"
              if spec.kind == "fiscal" else "")
    csv_en = ("- entries.csv: one row per record sealed in the period (closures without amounts); lines.csv: their "
              "lines; closures.csv: the closures sealed in the period, and those sealed after its end whose whole "
              "period (day, month or year) lies inside the export's period (scellee_dans_periode = non), chain by "
              "chain in seq order; events.csv: the event journal.\n"
              "  CSV: separator ';', decimal comma, UTF-8 with BOM, CRLF line ends.\n" if spec.kind == "fiscal" else "")
    withheld_fr = ("  Les données de formation (mode test, avant la mise en service) n'y figurent pas : la ligne de "
                   "chacune ne garde que six membres, chain, hash, prev_hash, seq, tenant_id et \"withheld\": "
                   "\"training\" (ni contenu, ni horodatage, ni type).\n"
                   if not tenant.training else "")
    withheld_en = ("  Training data (test mode, before going live) is left out: each such record's line keeps only six "
                   "members, chain, hash, prev_hash, seq, tenant_id and \"withheld\": \"training\" (no content, no "
                   "timestamp, no type).\n" if not tenant.training else "")
    docs_fr = "".join(f"- {path} : {_DOC_TITLES.get(path.rsplit('/', 1)[-1], ('', ''))[0]} ;\n" for path in docs)
    docs_en = "".join(f"- {path}: {_DOC_TITLES.get(path.rsplit('/', 1)[-1], ('', ''))[1]};\n" for path in docs)
    guide_fr = f"{fmt.DOCS_DIR}auditor-guide.fr.md"
    guide_en = f"{fmt.DOCS_DIR}auditor-guide.en.md"
    see_fr = f" Guide : {guide_fr}, section 4.\n" if guide_fr in docs else "\n"
    see_en = f" Guide: {guide_en}, section 4.\n" if guide_en in docs else "\n"
    key_file = fmt.key_file(signing_key)
    fr = (
        (_BANNER_FR if tenant.training else "")
        + f"Export Scellé ({spec.kind}) - {company}\nPériode : {period} (jours commerciaux, fuseau {tenant.time_zone}, "
        f"coupure {tenant.business_day_cutoff:%H:%M})\nProduit le {generated_at} (UTC), demande {spec.job_id} par "
        f"{spec.requested_by}.\n\nContenu\n"
        + csv_fr + fec_fr
        + "- records/<chain>.jsonl : un fichier par chaîne (<chain> est son nom), chaque enregistrement scellé, une "
        "ligne JSON canonique par enregistrement, depuis le premier (seq 1) jusqu'au dernier checkpoint signé ;\n"
        + withheld_fr
        + "- checkpoints.csv : les checkpoints signés (racine de Merkle) ;\n"
        "- cosignatures.csv : les cosignatures de ces checkpoints par le témoin indépendant (sa clé est dans keys/, "
        "rôle « witness ») ;\n"
        "- keys/ : les clés publiques et leur validité ;\n"
        + docs_fr
        + "- manifest.json : l'empreinte SHA-256 de chaque fichier ; manifest.sig : sa signature ECDSA P-256.\n\n"
        f"Vérifier (hors ligne, sans compte AWS)\n  scelle verify {archive}\n"
        f"  openssl dgst -sha256 -verify {key_file} -signature manifest.sig manifest.json\n"
        f"Les clés de cette archive ne prouvent rien seules. Le manifeste est signé par la clé {signing_key} "
        f"({key_file}), dont scelle verify affiche l'empreinte SHA-256 : comparez-la avec celle que publie le service "
        "Scellé (GET /v1/keys, que vous récupérez vous-même à l'adresse du service) ou que l'administrateur de "
        "l'entreprise vous communique par écrit, puis relancez scelle verify avec --trusted-key suivi de cette "
        "empreinte, ou du fichier où vous avez enregistré la réponse de GET /v1/keys. La clé du témoin (--witness-key) "
        "s'obtient auprès de qui exploite le témoin. Sans --trusted-key ni --witness-key, scelle verify répond au "
        "mieux UNANCHORED (code 3)." + see_fr
    )
    en = (
        (_BANNER_EN if tenant.training else "")
        + f"Scellé export ({spec.kind}) - {company}\nPeriod: {period} (business days, time zone {tenant.time_zone}, "
        f"cut-off {tenant.business_day_cutoff:%H:%M})\nGenerated {generated_at} (UTC), job {spec.job_id} requested by "
        f"{spec.requested_by}.\n\nContents\n"
        + csv_en + fec_en
        + "- records/<chain>.jsonl: one file per chain (<chain> is its name), every sealed record as one canonical "
        "JSON line, from seq 1 to the latest signed checkpoint;\n"
        + withheld_en
        + "- checkpoints.csv: signed checkpoints (Merkle roots); cosignatures.csv: the independent witness's "
        "cosignatures of them; keys/: public keys (role log or witness) and their validity;\n"
        + docs_en
        + "- manifest.json: the SHA-256 of every file; manifest.sig: its ECDSA P-256 signature.\n\n"
        f"Verify (offline, no AWS account)\n  scelle verify {archive}\n"
        f"  openssl dgst -sha256 -verify {key_file} -signature manifest.sig manifest.json\n"
        f"The keys in this archive prove nothing alone. The manifest is signed by key {signing_key} ({key_file}), "
        "whose SHA-256 fingerprint scelle verify prints: compare it with the one the Scellé service publishes "
        "(GET /v1/keys, fetched yourself from the service's address) or the company's admin gives you in writing, "
        "then run scelle verify again with --trusted-key followed by that fingerprint, or by the file where you saved "
        "the answer of GET /v1/keys. The witness's key (--witness-key) comes from whoever runs the witness. Without "
        "--trusted-key or --witness-key, scelle verify answers UNANCHORED (exit 3) at best." + see_en
    )
    texts = {fmt.README_FR: fr, fmt.README_EN: en}
    if tenant.training:
        texts[fmt.NOT_FISCAL] = _BANNER_FR + _BANNER_EN
    return texts
