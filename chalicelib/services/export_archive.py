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
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import fec as fec_rules
from chalicelib.domain.canonical import encode_trusted
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.merkle import CompactRange, record_leaf_hash
from chalicelib.domain.records import GENESIS_PREV_HASH, HASH_VERSION, SealedRecord, utc_timestamp
from chalicelib.domain.tenant import Tenant
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


class EventJournalBehind(ValidationFailed):
    """Entries sealed long ago still have no event in the event journal: the journal stream's
    derivation is stuck. The archive would fail ``scelle verify``, so it is not built."""

    code = "event-journal-behind"
    title = "The event journal is behind the ledger"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{problems[0]}; the journal stream derives each entry's event within seconds: "
                         "once it has caught up, request the export again", field="chains", problems=list(problems))
        self.problems = list(problems)


def archive_name(tenant: Tenant, spec: ArchiveSpec) -> str:
    prefix = "NON-FISCAL-" if tenant.training else ""
    return (f"{prefix}scelle-{spec.kind}-{tenant.tenant_id}-{spec.first_day:%Y%m%d}-{spec.last_day:%Y%m%d}-"
            f"{spec.job_id}.zip")


class _Member:
    """Writes one archive member, counting and hashing its bytes."""

    def __init__(self, zf: zipfile.ZipFile, path: str) -> None:
        self.path = path
        self._out = zf.open(path, "w", force_zip64=True)
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
    closures: list[SealedRecord] = []
    done = 0
    for chain in all_chains:
        events = chain == fmt.EVENTS_CHAIN
        member = _Member(zf, fmt.records_path(chain))
        compact, last_hash, count, rows = CompactRange(), GENESIS_PREV_HASH, 0, 0
        for record in source.records(chain, 1, ends[chain]):
            member.write(_record_line(record))
            compact.append(record_leaf_hash(record.hash))
            last_hash, count = record.hash, count + 1
            if fiscal and scope.covers(record):
                rows += 1
                if events:
                    writers["events"].write(fmt.event_row(record, scope))
                else:
                    writers["entries"].write(fmt.entry_row(record, scope))
                    writers["lines"].write_many(fmt.line_rows(record))
                    if record.type == "closure":
                        closures.append(record)
            done += 1
            if done % PROGRESS_EVERY == 0:
                progress(done, total)
        if count != ends[chain]:
            raise RuntimeError(f"{chain}: read {count} records where the signed checkpoint covers {ends[chain]}")
        files.append(member.close(count))
        checkpoints[chain] = source.checkpoints(chain, ends[chain])
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
        if not events and derived is not None:
            info["events_derived_through"] = min(derived[chain], count)
        chain_info.append(info)
    progress(done, total)

    if fiscal:
        for name, path in (("entries", fmt.ENTRIES), ("lines", fmt.LINES), ("events", fmt.EVENTS)):
            member = _Member(zf, path)
            _copy(spools[name], member)
            files.append(member.close(writers[name].rows))
        closure_spool = _spool()
        closure_out = fmt.CsvOut(closure_spool, fmt.closures_header(scope))
        for record in closures:
            closure_out.write(fmt.closure_row(record, scope, checkpoints[record.chain]))
        member = _Member(zf, fmt.CLOSURES)
        _copy(closure_spool, member)
        files.append(member.close(closure_out.rows))
    if fec_spool is not None and fec_info is not None:
        member = _Member(zf, fec_info["file"])
        _copy(fec_spool, member)
        files.append(member.close(fec_info["lines"]))

    cp_spool = _spool()
    cp_out = fmt.CsvOut(cp_spool, fmt.CHECKPOINTS_HEADER)
    for chain in all_chains:
        cp_out.write_many(fmt.checkpoint_row(chain, cp) for cp in checkpoints[chain])
    member = _Member(zf, fmt.CHECKPOINTS)
    _copy(cp_spool, member)
    files.append(member.close(cp_out.rows))

    keys = source.keys()
    key_entries = []
    for key in keys:
        path = fmt.key_file(key.key_id)
        member = _Member(zf, path)
        member.write(key.public_key_pem.encode("ascii"))
        files.append(member.close())
        key_entries.append({"key_id": key.key_id, "not_before": key.not_before, "not_after": key.not_after,
                            "file": path})
    member = _Member(zf, fmt.KEYS_INDEX)
    member.write(_json({"keys": key_entries}))
    files.append(member.close())

    generated_at = utc_timestamp(clock())
    texts = readme_texts(tenant, spec, scope, generated_at, fec_info)
    for path, text in texts.items():
        member = _Member(zf, path)
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
        "signature": {"file": fmt.SIGNATURE, "key_id": signer.key_id,
                      "algorithm": "ECDSA P-256 with SHA-256 over the bytes of manifest.json, DER-encoded"},
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
    zf.writestr(fmt.MANIFEST, manifest_bytes)
    zf.writestr(fmt.SIGNATURE, signer.sign(manifest_bytes))
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


def readme_texts(tenant: Tenant, spec: ArchiveSpec, scope: fmt.Scope, generated_at: str,
                 fec_info: dict[str, Any] | None) -> dict[str, str]:
    company = f"{tenant.company_name} ({tenant.country} {tenant.company_number}, TVA/VAT {tenant.vat_number})"
    period = f"{spec.first_day.isoformat()} .. {spec.last_day.isoformat()}"
    fec_fr = (f"- {fec_info['file']} : le fichier des écritures comptables (FEC, art. A47 A-1 LPF), tabulations, "
              "ISO 8859-15, montants à virgule décimale.\n") if fec_info else ""
    fec_en = (f"- {fec_info['file']}: the FEC (art. A47 A-1 LPF), tab separated, ISO 8859-15, decimal comma.\n"
              if fec_info else "")
    csv_fr = ("- entries.csv : une ligne par écriture scellée (ventes, retours, écritures, annulations, clôtures) ;\n"
              "- lines.csv : le détail des lignes ; closures.csv : les clôtures (totaux, grands totaux, racine de "
              "Merkle, checkpoint signé) ;\n- events.csv : le journal des événements (JET) ;\n"
              "  CSV : séparateur « ; », virgule décimale, UTF-8 avec BOM, fin de ligne CRLF.\n"
              if spec.kind == "fiscal" else "")
    csv_en = ("- entries.csv: one row per sealed entry; lines.csv: their lines; closures.csv: closures (totals, grand "
              "totals, Merkle root, signed checkpoint); events.csv: the event journal.\n"
              "  CSV: separator ';', decimal comma, UTF-8 with BOM, CRLF line ends.\n" if spec.kind == "fiscal" else "")
    fr = (
        (_BANNER_FR if tenant.training else "")
        + f"Export Scellé ({spec.kind}) - {company}\nPériode : {period} (jours commerciaux, fuseau {tenant.time_zone}, "
        f"coupure {tenant.business_day_cutoff:%H:%M})\nProduit le {generated_at} (UTC), demande {spec.job_id} par "
        f"{spec.requested_by}.\n\nContenu\n"
        + csv_fr + fec_fr
        + "- records/<chaîne>.jsonl : chaque enregistrement scellé, une ligne JSON canonique par enregistrement, "
        "depuis le premier (seq 1) jusqu'au dernier checkpoint signé ;\n"
        "- checkpoints.csv : les checkpoints signés (racine de Merkle) ;\n"
        "- keys/ : les clés publiques et leur validité ;\n"
        "- manifest.json : l'empreinte SHA-256 de chaque fichier ; manifest.sig : sa signature ECDSA P-256.\n\n"
        "Vérifier\n  scelle verify --trusted-key <empreinte ou keys.json> CETTE_ARCHIVE.zip   (hors ligne, sans compte "
        "AWS)\n"
        "  openssl dgst -sha256 -verify keys/<clé>.pem -signature manifest.sig manifest.json\n"
        "Les clés de cette archive ne prouvent rien seules : prenez l'empreinte de la clé ailleurs (GET /v1/keys du "
        "service Scellé, l'administrateur de l'entreprise). Sans --trusted-key, scelle verify répond au mieux "
        "UNANCHORED (code 3). Guide : docs/auditor-guide.fr.md, section 4.\n"
    )
    en = (
        (_BANNER_EN if tenant.training else "")
        + f"Scellé export ({spec.kind}) - {company}\nPeriod: {period} (business days, time zone {tenant.time_zone}, "
        f"cut-off {tenant.business_day_cutoff:%H:%M})\nGenerated {generated_at} (UTC), job {spec.job_id} requested by "
        f"{spec.requested_by}.\n\nContents\n"
        + csv_en + fec_en
        + "- records/<chain>.jsonl: every sealed record as one canonical JSON line, from seq 1 to the latest signed "
        "checkpoint;\n- checkpoints.csv: signed checkpoints (Merkle roots); keys/: public keys and their validity;\n"
        "- manifest.json: the SHA-256 of every file; manifest.sig: its ECDSA P-256 signature.\n\n"
        "Verify\n  scelle verify --trusted-key <fingerprint or keys.json> THIS_ARCHIVE.zip   (offline, no AWS "
        "account)\n"
        "  openssl dgst -sha256 -verify keys/<key>.pem -signature manifest.sig manifest.json\n"
        "The keys in this archive prove nothing alone: get the key's fingerprint elsewhere (GET /v1/keys of the "
        "Scellé service, the company's admin). Without --trusted-key, scelle verify answers UNANCHORED (exit 3) at "
        "best. Guide: docs/auditor-guide.en.md, section 4.\n"
    )
    texts = {fmt.README_FR: fr, fmt.README_EN: en}
    if tenant.training:
        texts[fmt.NOT_FISCAL] = _BANNER_FR + _BANNER_EN
    return texts
