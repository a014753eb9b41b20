"""``scelle verify EXPORT.zip``: check a Scellé export archive offline, trusting nothing in it.

What is checked, in this order (the report lists every problem; the *first* one names the bad
file, row and seq):

1. the archive opens, ``manifest.json`` and ``manifest.sig`` are present, the manifest is strict
   JSON (no duplicate keys) in the ``scelle-export/v1`` format;
2. every key file matches the manifest, a key id that carries a fingerprint prefix
   (``local:signing:3f2a…``) matches its key, the manifest's signature verifies with the key it
   names (valid at the export's time) and, with ``trusted_keys``, every key is one the auditor
   obtained elsewhere (``GET /v1/keys``, the company's admin): the **trust anchor**. Without one
   the archive can only be found *internally consistent*: anyone can build a consistent archive
   with a key of their own, so the result is ``unanchored`` (exit 3), never a bare OK.
   ``keys/keys.json`` gives each key its role: ``log`` keys sign the checkpoints and the manifest,
   ``witness`` keys (decision 0024) only co-sign, and are the ones the manifest's ``witness_keys``
   names;
2b. every row of ``cosignatures.csv`` (``witness.py``): a cosignature of the checkpoint of the
   same chain and size in ``checkpoints.csv``, with its root, signed by a witness key of ``keys/``.
   With ``witness_keys`` (``--witness-key``), every chain's newest checkpoint must carry a valid
   cosignature by one of them, and is then anchored by it (exit 0 even without ``--trusted-key``);
3. the archive holds exactly the files the manifest lists (none missing, none added, no
   duplicate member) and each one has the SHA-256 the manifest states;
4. each chain's ``records/<chain>.jsonl`` (one canonical JSON record per line): every hash is
   recomputed, every link, seq, closure total and perpetual grand total (``ClosureCheck``), the
   Merkle root at every signed checkpoint of ``checkpoints.csv`` and each checkpoint's signature
   by a key valid at its time (``domain.verification.verify_chain``), and the chain's size, root
   and last hash against the signed manifest. In a live tenant's archive the event journal's
   training events stand withheld (decision 0023): seq, link and hash as a Merkle leaf are
   checked, and their count against the manifest's ``withheld_training``; anywhere else a
   withheld record fails;
5. every row of ``entries.csv``, ``lines.csv``, ``closures.csv`` and ``events.csv`` is recomputed
   from its record and compared cell by cell (a changed, removed, added or reordered row is
   named with its row number, seq, column, expected and found values); which records have rows
   is ``Scope.covers`` / ``Scope.lists_closure``. The FEC file is regenerated from the records,
   compared column by column, and checked against the rules of the administration's checker.
   Rows of CSV files and of the FEC are spreadsheet rows: row 1 is the header;
6. completeness (``completeness.py``): the chains against the tenant's chain directory the
   manifest lists, and every ledger chain against the event journal (each sealed entry has its
   derived event, each derived event names an entry the archive carries).

Exit statuses of ``scelle verify`` (``Report.exit_code``): 0 verified and anchored (by
``--trusted-key``, or every chain by ``--witness-key``), 1 failed, 2 usage error (``cli.py``), 3
internally consistent but unanchored.

Imports: standard library, ``cryptography`` and ``scelle_verify`` only (never boto3, Chalice or the rest of
Scellé: ``tests/unit/test_architecture.py``); ``orjson`` when installed, as a speed-up.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import io
import json
import os
import sys
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scelle_verify import format as fmt
from scelle_verify import witness as wit
from scelle_verify.completeness import EVENTS_FILE, Completeness
from scelle_verify.domain import fec as fec_rules
from scelle_verify.domain.canonical import TrustedItem, encode_stdlib, plain_json
from scelle_verify.domain.checkpoint import Checkpoint, CheckpointError, PublicKeyInfo, find_key, key_valid_at
from scelle_verify.domain.closures import ClosureCheck
from scelle_verify.domain.records import RECORD_FIELDS, RecordError, SealedRecord, chain_key
from scelle_verify.domain.verification import verify_chain
from scelle_verify.witness import sizes_text

try:  # the same optional accelerator as scelle_verify.domain.canonical
    import orjson
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]

_CHUNK = 1 << 20
PARALLEL_FROM = 20_000  # records: below this, starting a second process costs more than it saves
# With two processes, the first walks the ``data`` of the record lines whose number modulo 4 is
# below this (two in four), the second the others: the walk is what the two share out so that
# they take about as long (bench/bench_verify_export.py)
_FIRST_WALKS = 2

# Exit statuses of `scelle verify` (docs/auditor-guide.en.md, section 4)
EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE, EXIT_UNANCHORED = 0, 1, 2, 3
MIN_FINGERPRINT_DIGITS = 32  # a trusted fingerprint (prefix) of at least 128 bits


# ---- report --------------------------------------------------------------------------------------
ROW_NUMBERING = ("rows of the CSV files and of the FEC are numbered as a spreadsheet shows them: row 1 is the "
                 "header, the first data row is row 2; records/*.jsonl are numbered by line")


def _is_table(file: str) -> bool:
    """A CSV view or the FEC: numbered in spreadsheet rows (row 1 = the header)."""
    return file.endswith(".csv") or (file.endswith(".txt") and "FEC" in file)


@dataclass
class Finding:
    """One problem. ``row``: in a CSV file or the FEC, the spreadsheet row (1 = the header, 2 =
    the first data row); in ``records/*.jsonl``, the line. ``seq`` the sealed record it concerns;
    ``column`` the cell's column; ``expected`` (recomputed from the sealed records) and ``found``
    (in the file) the values that differ, when there are such values."""

    file: str
    reason: str
    detail: str
    row: int | None = None
    seq: int | None = None
    chain: str | None = None
    column: str | None = None
    expected: str | None = None
    found: str | None = None
    rank: int = field(default=5, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rank")
        return data

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}" if _is_table(self.file) else f"line {self.row}")
        if self.chain is not None or self.seq is not None:
            where.append(f"({self.chain or '?'} seq {self.seq if self.seq is not None else '?'})")
        if self.column:
            where.append(f"column {self.column}")
        return f"{' '.join(where)}: [{self.reason}] {self.detail}"


@dataclass
class Report:
    archive: str
    findings: list[Finding] = field(default_factory=list)
    chains: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    export: dict[str, Any] = field(default_factory=dict)
    anchored: bool = False  # every key that signs something is trusted, or every chain is witnessed (decision 0024)
    signing: list[dict[str, Any]] = field(default_factory=list)  # which key signs what
    completeness: dict[str, Any] = field(default_factory=dict)
    witness: dict[str, Any] = field(default_factory=dict)  # the witness's cosignatures (decision 0024)

    @property
    def ok(self) -> bool:
        """Nothing wrong was found (the archive is at least internally consistent)."""
        return not self.findings

    @property
    def status(self) -> str:
        """``verified`` (and anchored), ``unanchored`` (consistent, but signed by keys taken from
        the archive itself) or ``failed``."""
        if self.findings:
            return "failed"
        return "verified" if self.anchored else "unanchored"

    @property
    def exit_code(self) -> int:
        return {"verified": EXIT_VERIFIED, "unanchored": EXIT_UNANCHORED}.get(self.status, EXIT_FAILED)

    def unanchored(self) -> list[str]:
        """What nothing outside the archive vouches for (empty once anchored)."""
        if self.anchored:
            return []
        found = []
        for key in self.signing:
            what = [w for w in (("the manifest" if key["manifest"] else ""),
                                (f"{key['checkpoints']} signed checkpoint(s) of {', '.join(key['chains'])}"
                                 if key["checkpoints"] else "")) if w]
            found.append(f"key {key['key_id']} (sha256:{key['fingerprint']}), which signs {' and '.join(what)}, "
                         "comes from the archive itself")
        for key in self.witness.get("keys") or ():
            chains = [c["chain"] for c in self.chains if key["key_id"] in (c.get("witness") or {}).get(
                "newest_cosigned_by", ())]
            if chains:
                found.append(f"witness key {key['key_id']} (sha256:{key['fingerprint']}), which co-signs the newest "
                             f"checkpoint of {', '.join(chains)}, comes from the archive itself")
        return found

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.rank) if self.findings else None

    def ordered(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: f.rank)  # stable: discovery order within a rank

    def to_dict(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "status": self.status,
            "exit_code": self.exit_code,
            "anchored": self.anchored,
            "unanchored": self.unanchored() if self.ok else [],
            "archive": self.archive,
            "export": self.export,
            "first_problem": first.to_dict() if first else None,
            "problems": [f.to_dict() for f in self.ordered()],
            "chains": self.chains,
            "files": self.files,
            "keys": self.keys,
            "signing": self.signing,
            "completeness": self.completeness,
            "witness": self.witness,
        }

    def result_line(self) -> str:
        """The one line that says the outcome (``RESULT: OK …``, ``RESULT: UNANCHORED (exit 3) …``
        or ``RESULT: FAILED - N problem(s). First: …``): what ``--quiet`` prints."""
        if self.ok and self.anchored:
            anchors = []
            if self.witness.get("anchored_by_trusted_keys"):
                anchors.append("every key is a trusted one")
            if self.witness.get("anchored_by_witness"):
                anchors.append("every chain's newest checkpoint is co-signed by a witness key you gave")
            return ("RESULT: OK - every hash, link, closure, Merkle root, signature and row verifies, the chains "
                    "are complete against the chain directory and the event journal, and "
                    f"{' and '.join(anchors) or 'every key is a trusted one'}.")
        if self.ok:
            return ("RESULT: UNANCHORED (exit 3) - internally consistent, but not anchored: anyone can build a "
                    "consistent archive with a key of their own, and nothing outside this archive says that its "
                    "keys are Scellé's.")
        return f"RESULT: FAILED - {len(self.findings)} problem(s). First: {self.first}"

    def text(self) -> str:
        out = [f"scelle verify {self.archive}"]
        exp = self.export
        if exp:
            tenant = exp.get("tenant", {})
            marker = "FISCAL" if exp.get("fiscal") else "NOT FISCAL (training data / données de formation)"
            out.append(f"  export    {exp.get('kind')} {exp.get('first_day')} .. {exp.get('last_day')}  {marker}")
            out.append(f"  tenant    {tenant.get('company_name')} ({tenant.get('tenant_id')}, {tenant.get('country')} "
                       f"{tenant.get('company_number')})")
        for key in self.keys:
            role = ""
            if key.get("role") == fmt.ROLE_WITNESS:
                given = key.get("given")
                role = "  witness" + ("" if given is None else (", given with --witness-key" if given else
                                                                ", not among the --witness-key keys"))
            out.append(f"  key       {key['key_id']}  sha256:{key['fingerprint']}  valid {key['not_before']} .. "
                       f"{key['not_after'] or 'now'}{role}")
        events = (self.completeness.get("chains") or {}) if self.completeness.get("event_journal") else {}
        for chain in self.chains:
            status = "ok" if chain.get("ok") else f"FAILED ({chain.get('reason')})"
            cross = events.get(chain["chain"])
            journal = f", events 1..{cross['events_through']}" if cross else ""
            if chain.get("withheld"):
                journal += f", {chain['withheld']} training record(s) withheld (hash only)"
            out.append(f"  chain     {chain['chain']}: {chain.get('entries', 0)} entries, "
                       f"{chain.get('checkpoints_verified', 0)} signed checkpoint(s) verified, "
                       f"rows {chain.get('rows', 0)}{journal}, {status}")
        for chain in self.chains if self.witness.get("present") else ():
            seen = chain.get("witness") or {}
            sizes = seen.get("sizes") or []
            newest = seen.get("newest_size")
            line = f"co-signed at {sizes_text(sizes)}" if sizes else "no valid cosignature"
            if seen.get("newest_cosigned"):
                line += f"; newest checkpoint (size {newest}) co-signed by {', '.join(seen['newest_cosigned_by'])}"
                if seen.get("anchored"):
                    line += " (anchors it)"
            elif newest is not None:
                line += f"; newest checkpoint (size {newest}) NOT co-signed"
            out.append(f"  witness   {chain['chain']}: {line}")
        for chain, why in (self.completeness.get("excluded") or {}).items():
            out.append(f"  left out  {chain}: {why['status']} ({why['reason']})")
        out.append(f"  files     {len(self.files)} listed in the signed manifest")
        for note in [*(self.completeness.get("notes") or ()), *(self.witness.get("notes") or ())]:
            out.append(f"  note      {note}")
        out.append(self.result_line())
        if self.ok and not self.anchored:
            for line in self.unanchored():
                out.append(f"  unanchored: {line}")
            out.append("Anchor it with the fingerprint obtained out of band (GET /v1/keys, the company's admin): "
                       "scelle verify --trusted-key sha256:<fingerprint> (or a PEM file, or the JSON of GET /v1/keys) "
                       "ARCHIVE, or with the independent witness's key: --witness-key sha256:<fingerprint> (or its "
                       "PEM file). See the auditor guide, section 4.")
        elif not self.ok:
            for finding in self.ordered()[1:20]:
                out.append(f"  also: {finding}")
            if len(self.findings) > 20:
                out.append(f"  ... and {len(self.findings) - 20} more (use --json for all)")
            if any(f.row is not None for f in self.findings):
                out.append(f"  ({ROW_NUMBERING})")
        return "\n".join(out)


# ranks: the smaller, the more fundamental (the first problem reported)
# (a broken chain of records comes before the CSV rows that disagree with it: the records are authoritative)
# (a chain left out of the export comes after its records' own checks, before the CSV views)
_R_ARCHIVE, _R_KEY, _R_SIGNATURE, _R_FILES, _R_RECORDS, _R_COMPLETE, _R_CONTENT, _R_HASH, _R_SECONDARY = range(9)
# a cosignature row that disagrees comes after the records' own checks (a changed checkpoint row
# fails there first; its cosignature's mismatch is its consequence); a missing or untrusted witness
# key ranks with the keys
_R_WITNESS = _R_COMPLETE


class _Abort(Exception):
    pass


# ---- crypto --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _public_key(pem: str):
    """The P-256 public key of a PEM (loaded once: a chain's checkpoints are signed by one key)."""
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def fingerprint(pem: str) -> str:
    """SHA-256 (hex) of the key's DER SubjectPublicKeyInfo: ``openssl pkey -pubin -outform DER | sha256sum``."""
    der = _public_key(pem).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _verify(pem: str, message: bytes, signature: bytes) -> bool:
    try:
        _public_key(pem).verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def parse_fingerprint(text: str) -> str | None:
    """A SHA-256 key fingerprint as people copy it: ``sha256:3f2a…``, ``3F:2A:…``, the output of
    ``sha256sum`` (``3f2a…  -``) or ``openssl dgst`` (``SHA2-256(stdin)= 3f2a…``). At least
    ``MIN_FINGERPRINT_DIGITS`` hex digits, whole bytes (a prefix of the full 64 is accepted; an odd
    count is a digit lost or added in the copy, refused as the browser's check refuses it: trusted as a
    prefix it would anchor nothing, and the verdict would blame the archive); None if it is not one."""
    value = text.strip()
    if "= " in value:
        value = value.rsplit("= ", 1)[1]
    value = value.split()[0] if value.split() else ""
    if value.lower().startswith("sha256:"):
        value = value[7:]
    value = value.replace(":", "").lower()
    if MIN_FINGERPRINT_DIGITS <= len(value) <= 64 and len(value) % 2 == 0 \
            and all(c in "0123456789abcdef" for c in value):
        return value
    return None


def load_trusted_keys(values: Sequence[str | Path], *, role: str = "log") -> set[str]:
    """Fingerprints (or prefixes of at least 32 hex digits) of trusted keys: each value is a
    fingerprint, or a PEM file, or a JSON file shaped like ``GET /v1/keys`` (the published key list),
    of which only the keys of ``role`` are taken (``log``: the signing keys, for ``--trusted-key``;
    ``witness``: for ``--witness-key``; an entry without a role is a log key).
    Raises ``ValueError`` for a value that is none of these or holds no key."""
    found: set[str] = set()
    for value in values:
        path = Path(value)
        if not path.is_file():
            digits = parse_fingerprint(str(value))
            if digits is None:
                hexadecimal = str(value).lower().removeprefix("sha256:").replace(":", "")
                digits_only = bool(hexadecimal) and all(c in "0123456789abcdef" for c in hexadecimal)
                if digits_only and MIN_FINGERPRINT_DIGITS <= len(hexadecimal) <= 64:
                    raise ValueError(
                        f"{value!s:.80}: {len(hexadecimal)} hex digits, an odd number: a digit is missing or "
                        "extra (a fingerprint has 64; a prefix is whole bytes)")
                raise ValueError(
                    f"{value!s:.80}: no such file, and not a SHA-256 fingerprint"
                    + (f" of at least {MIN_FINGERPRINT_DIGITS} hex digits (a key id's 16-digit prefix is too short "
                       "to trust: use the full fingerprint)" if digits_only else ""))
            found.add(digits)
            continue
        text = path.read_text(encoding="utf-8")
        before = len(found)
        if text.lstrip().startswith("{"):
            for key in json.loads(text).get("keys", []):
                if key.get("role", "log") == role:
                    found.add(fingerprint(key["public_key_pem"]))
        else:
            for block in text.split("-----END PUBLIC KEY-----"):
                if "-----BEGIN PUBLIC KEY-----" in block:
                    found.add(fingerprint(block.strip() + "\n-----END PUBLIC KEY-----\n"))
            if len(found) == before and parse_fingerprint(text) is not None:
                found.add(parse_fingerprint(text))  # a file holding a fingerprint
        if len(found) == before:
            raise ValueError(f"{value}: no {role} public key or fingerprint in this file")
    return found


def is_trusted(print_: str, trusted: set[str]) -> bool:
    return any(print_.startswith(t) for t in trusted)


# ---- reading -------------------------------------------------------------------------------------
class _Meter:
    """How far the verification is, in bytes of the archive's members read (uncompressed), for a
    ``progress(done, total, note)`` callback (the command's progress bar); no callback, no cost."""

    __slots__ = ("callback", "done", "note", "total")

    def __init__(self, callback: Callable[[int, int, str], None] | None) -> None:
        self.callback, self.done, self.total, self.note = callback, 0, 0, ""

    def stage(self, note: str) -> None:
        self.note = note
        if self.callback is not None:
            self.callback(self.done, self.total, note)

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total, self.note)

    def finish(self) -> None:
        """All read (a member read twice, after its bytes differed, may have counted twice)."""
        self.done = self.total
        self.stage("done")


class _Lines:
    """The lines of a member, without their line feed, read in large blocks (a ZIP member's own
    ``readline`` is several times slower). ``unterminated`` turns True just before the last line
    is given when that line has no line feed. ``digest``, when given, is fed every byte read (the
    member's SHA-256 for the manifest check, at no extra read)."""

    __slots__ = ("_member", "digest", "meter", "size", "unterminated")

    def __init__(self, member, digest=None, meter: _Meter | None = None) -> None:
        self._member, self.digest, self.meter, self.unterminated, self.size = member, digest, meter, False, 0

    def __iter__(self) -> Iterator[bytes]:
        read, update = self._member.read, (self.digest.update if self.digest is not None else None)
        advance = self.meter.advance if self.meter is not None else None
        rest = b""
        while chunk := read(_CHUNK):
            self.size += len(chunk)
            if update is not None:
                update(chunk)
            if advance is not None:
                advance(len(chunk))
            lines = (rest + chunk if rest else chunk).split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            self.unterminated = True
            yield rest


_SORTED = orjson.OPT_SORT_KEYS if orjson is not None else 0
_HASH_MEMBER = b',"hash":"'
_RECORD_KEYS = frozenset(RECORD_FIELDS)


def _decode(body: bytes) -> Any:
    """The fast parse, None when it refuses: orjson when installed, else (or when orjson refuses,
    e.g. an integer beyond 64 bits) the standard library, so both read the same lines alike."""
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except ValueError:
        return None


def _canonical(obj: dict) -> bytes | None:
    """The canonical bytes of a decoded object, None when it has none (a NaN, a lone surrogate)."""
    if orjson is None:
        return _stdlib_canonical(obj)
    try:
        return orjson.dumps(obj, option=_SORTED)
    except orjson.JSONEncodeError:  # not canonical
        return None


def _proven(obj: dict, body: bytes, scan: bool = True) -> dict:
    """A record decoded from ``body``, which is its canonical JSON, handed over so that it is not
    walked nor encoded again: a ``TrustedItem`` carrying the SHA-256 of its canonical bytes without
    ``hash``, which are ``body`` less its top-level ``,"hash":"…"`` member (keys are sorted and
    every member after ``hash`` is a scalar, so the last such text in the line is that member).
    Only when ``data`` holds no float, out-of-range integer nor too deep nesting (``plain_json``)
    and the object holds exactly the record's fields; anything else is returned
    as it is, for ``SealedRecord`` to check in full and name the problem. ``scan=False`` leaves out
    the ``plain_json`` walk: only in the second process, for the lines the first walks
    (``_FIRST_WALKS``), which its caller checks itself (``_plain_line``) before relying on it, and checks the chains
    again, in full, if any line fails (``_ArchiveVerifier.run``)."""
    if obj.keys() != _RECORD_KEYS:
        return obj
    at = body.rfind(_HASH_MEMBER)
    stated = obj["hash"]
    if type(stated) is not str or len(stated) != 64 or body[at + 73:at + 75] != b'",' \
            or (scan and not _plain_line(obj["data"])):
        return obj
    item = TrustedItem(obj)
    digest = hashlib.sha256(body[:at])
    digest.update(body[at + 74:])
    item.canonical_hash = digest.hexdigest()
    return item


def _plain_line(data: Any) -> bool:
    """Whether a record's ``data`` is proven free of what canonical JSON refuses besides the text's
    form (``plain_json``: floats, integers beyond 64 bits, nesting); False: checked in full then."""
    return type(data) is dict and plain_json(data)


def _parse_record_line(body: bytes, scan: bool = True) -> tuple[dict | None, str | None, bool]:
    """``(object, problem, fatal)``: a line is accepted only when it is byte for byte the canonical
    encoding of what it parses to (which also rules out duplicate keys: a duplicate would be lost
    in the re-encoding). orjson when installed, else the standard library: the same verdicts."""
    if orjson is not None:  # the common case, as ``_decode`` and ``_canonical`` do it (without their calls)
        try:
            obj = orjson.loads(body)
            if type(obj) is dict and orjson.dumps(obj, option=_SORTED) == body:
                return _proven(obj, body, scan), None, False
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            pass
    obj = _decode(body)
    if type(obj) is dict and _canonical(obj) == body:
        return _proven(obj, body, scan), None, False
    try:
        obj = fmt.strict_json(body.decode("utf-8"))
    except fmt.DuplicateKey as exc:
        return None, f"the record has a {exc}: JSON with duplicate keys is refused", True
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"the line is not JSON: {exc}", True
    if type(obj) is not dict:
        return None, "the line is not a JSON object", True
    if orjson is not None and _stdlib_canonical(obj) == body:
        # what orjson cannot read (an integer beyond 64 bits) is judged as without orjson: the
        # line is canonical text, and SealedRecord names what is wrong with its values
        return _proven(obj, body, scan), None, False
    return obj, "the line is not the record's canonical JSON (sorted keys, no spaces, integers only)", False


def _stdlib_canonical(obj: dict) -> bytes | None:
    try:
        return encode_stdlib(obj)
    except Exception:  # ValueError, CanonicalError: no canonical bytes
        return None


class _View:
    """A record as parsed from its line, without the checks (the chain verification does them):
    what the CSV views need, fast."""

    __slots__ = ("chain", "data", "hash", "prev_hash", "recorded_at", "seq", "training", "type", "withheld")

    @classmethod
    def parse(cls, line: bytes) -> _View | None:
        """The record, or None when the line is not one. A withheld record's stand-in (decision
        0023) is a view with ``withheld`` set and no content: it has no row anywhere."""
        obj = _decode(line)
        if type(obj) is not dict:
            return None
        try:
            view = cls()
            view.withheld = obj.get(fmt.WITHHELD)
            if view.withheld is not None:
                view.chain, view.hash, view.prev_hash = obj["chain"], obj["hash"], obj["prev_hash"]
                view.seq, view.data, view.recorded_at, view.training, view.type = obj["seq"], {}, "", None, None
                return view if type(view.seq) is int else None
            view.chain, view.data, view.hash = obj["chain"], obj["data"], obj["hash"]
            view.prev_hash, view.recorded_at, view.seq = obj["prev_hash"], obj["recorded_at"], obj["seq"]
            view.training, view.type = obj["training"], obj["type"]
        except (ValueError, KeyError, TypeError):
            return None
        if type(view.seq) is not int or type(view.data) is not dict or type(view.recorded_at) is not str:
            return None
        return view


class _Rows:
    """A CSV member read row by row, compared with the rows recomputed from the records.

    ``fast``: the rows are first compared as bytes, the expected row's text (``fmt.csv_line``, what
    the builder writes) against the file's, without parsing the file; at the first row that differs
    (or a skip, or the end) the file is read again as CSV up to that row and every comparison from
    there is the row-by-row one, which alone decides what is reported. Identical bytes parse to
    identical rows, so the result is the same, only faster."""

    def __init__(self, report: Report, zf: zipfile.ZipFile, name: str, header: list[str], present: bool,
                 fast: bool = False, digest: tuple[Any, dict[str, Any], Any] | None = None,
                 meter: _Meter | None = None) -> None:
        self.report, self.name, self.header, self.meter = report, name, header, meter
        self.failed = not present
        self.row = 0
        self.compared = 0
        self._peeked: list[str] | None = None
        self._reader: Iterator[list[str]] | None = None
        self._zf, self._raw, self._buffer, self._at = zf, None, b"", 0
        # with ``fast``: the member's SHA-256 (``_check_files`` left it to this reading), complete
        # only if the bytes are read to the end here; else ``_finish_digests`` reads the member again
        self._digest, self._size = digest, 0
        if present:
            raw = zf.open(name)
            head = raw.read(3)
            if head != fmt.BOM.encode("utf-8"):
                self._fail(0, None, None, "encoding", "the file does not start with the UTF-8 byte-order mark",
                           column=None)
                return
            if fast:
                want = fmt.csv_line(header).encode("utf-8")
                buffer = raw.read(max(len(want), _CHUNK))
                if buffer.startswith(want):
                    self._raw, self._buffer, self._at = raw, buffer, len(want)
                    self._hash(head)
                    self._hash(buffer)
                    return
                raw.close()
                raw = zf.open(name)
                raw.read(3)
            self._read_rows(raw)

    def _hash(self, chunk: bytes) -> None:
        if self.meter is not None:
            self.meter.advance(len(chunk))
        if self._digest is not None:
            self._digest[0].update(chunk)
            self._size += len(chunk)

    def _read_rows(self, raw) -> None:
        """Parse ``raw`` (after the byte-order mark) as CSV, from its header."""
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        self._reader = fmt.csv_reader(text)
        try:
            first = next(self._reader, None)
        except Exception as exc:  # csv.Error, UnicodeDecodeError
            self._fail(0, None, None, "csv", f"unreadable header: {exc}")
            return
        if first != self.header:
            self._fail(0, None, None, "header", f"the header is not the {self.name} header of {fmt.FORMAT}")

    def _parse_from_here(self) -> None:
        """Leave the byte comparison: read the file again as CSV, past the rows already matched."""
        if self._raw is None:
            return
        self._raw.close()
        self._raw, self._buffer, self._digest = None, b"", None  # the digest is taken again later
        raw = self._zf.open(self.name)
        raw.read(3)
        self._read_rows(raw)
        assert self._reader is not None
        for _ in range(self.row):  # identical bytes: these rows parse to what was expected
            next(self._reader)

    def _same_bytes(self, expected: list[str]) -> bool:
        try:
            data = fmt.csv_line(expected).encode("utf-8")
        except (TypeError, UnicodeError):  # a cell that is not text: the row-by-row comparison says what
            return False
        return self._same(data)

    def _same(self, data: bytes) -> bool:
        """Whether the file's next bytes are ``data`` (then read past them)."""
        end = self._at + len(data)
        if end > len(self._buffer):
            assert self._raw is not None
            chunk = self._raw.read(max(len(data), _CHUNK))
            self._hash(chunk)
            self._buffer = self._buffer[self._at:] + chunk
            self._at, end = 0, len(data)
        if self._buffer.startswith(data, self._at):
            self._at = end
            return True
        return False

    def _fail(self, row: int, chain: str | None, seq: int | None, reason: str, detail: str,
              column: str | None = None, expected: str | None = None, found: str | None = None) -> None:
        """``row``: the data row (0 = the header); reported as the spreadsheet row (+1)."""
        self.failed = True
        self.report.findings.append(Finding(self.name, reason, detail, row=row + 1, seq=seq, chain=chain,
                                            column=column, expected=expected, found=found, rank=_R_CONTENT))

    def _next(self) -> list[str] | None:
        if self._peeked is not None:
            row, self._peeked = self._peeked, None
            return row
        assert self._reader is not None
        try:
            return next(self._reader, None)
        except Exception as exc:  # csv.Error, UnicodeDecodeError
            self._fail(self.row + 1, None, None, "csv", f"unreadable row: {exc}")
            return None

    def _peek(self) -> list[str] | None:
        if self._peeked is None:
            self._peeked = self._next()
        return self._peeked

    def expect(self, chain: str, seq: int, rows: Sequence[list[str]], seq_column: int) -> None:
        """The next ``len(rows)`` rows must be ``rows`` (the rows of record ``chain``/``seq``)."""
        if self._raw is not None:
            # all the rows' bytes at once (the same verdict as row by row: a concatenation of
            # lines matches exactly when each line does); else row by row, to find the one
            try:
                data = (fmt.csv_line(rows[0]) if len(rows) == 1 else "".join([fmt.csv_line(r) for r in rows])
                        ).encode("utf-8")
            except (TypeError, UnicodeError):
                data = None
            if data is not None and self._same(data):
                self.row += len(rows)
                self.compared += len(rows)
                return
            for index, expected in enumerate(rows):
                if not self._same_bytes(expected):
                    self._parse_from_here()
                    rows = rows[index:]
                    break
                self.row += 1
                self.compared += 1
            else:
                return
        for expected in rows:
            if self.failed:
                return
            found = self._next()
            if self.failed:
                return
            self.row += 1
            if found is None:
                self._fail(self.row, chain, seq, "row_missing",
                           f"the file ends before the row of {chain} seq {seq}: rows were removed or the tail was cut",
                           expected=_cells(expected), found="(end of file)")
                return
            if found == expected:
                self.compared += 1
                continue
            self._mismatch(chain, seq, expected, found, seq_column)
            return

    def _mismatch(self, chain: str, seq: int, expected: list[str], found: list[str], seq_column: int) -> None:
        header = self.header
        found_seq = found[seq_column] if len(found) > seq_column else "?"
        found_chain = found[0] if seq_column == 1 and found else chain
        if len(found) != len(expected):
            self._fail(self.row, chain, seq, "row_changed",
                       f"{len(found)} cells where the record gives {len(expected)}: expected {_cells(expected)!r}, "
                       f"found {_cells(found)!r}", expected=_cells(expected), found=_cells(found))
            return
        if (found_chain, found_seq) != ((chain if seq_column == 1 else found_chain), str(seq)):
            want_where = f"{chain} seq {seq}" if seq_column == 1 else f"seq {seq}"
            found_where = f"{found_chain} seq {found_seq}" if seq_column == 1 else f"seq {found_seq}"
            self._fail(self.row, chain, seq, "row_order",
                       f"expected the row of {want_where}, found the row of {found_where}: "
                       "a row was removed, added or moved", column=header[seq_column], expected=want_where,
                       found=found_where)
            return
        for index, (want, got) in enumerate(zip(expected, found, strict=True)):
            if want != got:
                self._fail(self.row, chain, seq, "cell_changed",
                           f"expected {want!r} (from the sealed record), found {got!r}", column=header[index],
                           expected=want, found=got)
                return

    def skip_chain(self, chain: str) -> None:
        """Skip the remaining rows of a chain whose records failed (they cannot be recomputed)."""
        self._parse_from_here()
        while not self.failed:
            row = self._peek()
            if row is None or not row or row[0] != chain:
                return
            self._next()
            self.row += 1

    def skip_all(self) -> None:
        self._parse_from_here()
        while not self.failed and self._next() is not None:
            self.row += 1

    def finish(self) -> None:
        if self.failed:
            return
        if self._raw is not None:
            if self._at == len(self._buffer) and not self._raw.read(1):
                self._raw.close()
                self._raw = None
                if self._digest is not None:  # read to the end: the member's digest is complete
                    self._digest[1]["bytes"] = self._size
                return  # every byte was a row expected
            self._parse_from_here()
        extra = self._next()
        if extra is not None and not self.failed:
            self.row += 1
            self._fail(self.row, None, None, "row_added",
                       f"row {self.row + 1} ({';'.join(extra[:2])}) matches no sealed record in the export's period: "
                       "the file should end before it", expected="(end of file)", found=_cells(extra))


def _cells(row: Sequence[str], limit: int = 6) -> str:
    """The first cells of a row, for a report."""
    text = ";".join(row[:limit])
    return text + (";…" if len(row) > limit else "")


# ---- the verifier ----------------------------------------------------------------------------------
class _Views:
    """The four CSV views, compared row by row with the records fed in archive order."""

    def __init__(self, verifier: _ArchiveVerifier, checkpoints: dict[str, list[Checkpoint]], *, enabled: bool) -> None:
        self.verifier, self.checkpoints, self.enabled = verifier, checkpoints, enabled
        self.scope = verifier.scope
        self.rows_of: dict[str, int] = {}
        self.broken: set[str] = set()
        zf, files, names = verifier.zf, verifier.files, verifier.names

        def rows(name: str, header: list[str]) -> _Rows:
            present = enabled and name in files and name in names
            return _Rows(verifier.report, zf, name, header, present, fast=True, digest=verifier.digests.get(name),
                         meter=verifier.meter)

        self.entries = rows(fmt.ENTRIES, fmt.entries_header(self.scope))
        self.lines = rows(fmt.LINES, fmt.LINES_HEADER)
        self.closures = rows(fmt.CLOSURES, fmt.closures_header(self.scope))
        self.events = rows(fmt.EVENTS, fmt.EVENTS_HEADER)
        self.all = (self.entries, self.lines, self.closures, self.events)
        self.ranges: dict[str, fmt.ClosureRanges] = {}

    def feed(self, chain: str, record: Any) -> None:
        """One record (in archive order): its rows in ``entries.csv`` / ``lines.csv`` /
        ``events.csv`` if sealed in the period, in ``closures.csv`` if ``Scope.lists_closure``
        (decision 0023); a withheld record has none."""
        if record.withheld is not None:
            return None
        if not self.enabled or chain in self.broken:
            return None
        scope = self.scope
        try:
            listed = False
            if chain != fmt.EVENTS_CHAIN:
                ranges = self.ranges.get(chain)
                if ranges is None:
                    ranges = self.ranges[chain] = fmt.ClosureRanges()
                ranges.see(record)
                listed = scope.lists_closure(record)
            covered = scope.covers(record)
            if not covered and not listed:
                return None
            if chain == fmt.EVENTS_CHAIN:
                self.rows_of[chain] = self.rows_of.get(chain, 0) + 1
                self.events.expect(chain, record.seq, [fmt.event_row(record, scope)], 0)
                return None
            if covered:
                self.rows_of[chain] = self.rows_of.get(chain, 0) + 1
                self.entries.expect(chain, record.seq, [fmt.entry_row(record, scope)], 1)
                self.lines.expect(chain, record.seq, fmt.line_rows(record), 1)
            if listed:
                row = fmt.closure_row(record, scope, self.checkpoints.get(chain, []), ranges.first_entry(record.data))
                self.closures.expect(chain, record.seq, [row], 1)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.verifier.add(fmt.records_path(chain), "entry_payload",
                              f"the record cannot be shown in the CSV views: {exc!r}", _R_RECORDS, seq=record.seq,
                              chain=chain)
            self.verifier.view_failures.append(self.verifier.report.findings[-1])
            self.skip_chain(chain)
        return None

    def skip_chain(self, chain: str) -> None:
        """The rest of a chain cannot be recomputed (its records failed): skip its rows."""
        if chain in self.broken:
            return
        self.broken.add(chain)
        for view in self.all:
            view.skip_chain(chain)

    def finish(self) -> None:
        for view in self.all:
            view.finish()


class _ArchiveVerifier:
    def __init__(self, path: str | Path, trusted: set[str] | None, witness_given: set[str] | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> None:
        self.path = str(path)
        self.trusted = trusted
        self.witness_given = witness_given
        self.report = Report(self.path)
        self.zf: zipfile.ZipFile | None = None
        self.completeness: Completeness | None = None
        self.keys: list[PublicKeyInfo] = []
        self.witness_keys: dict[str, PublicKeyInfo] = {}
        self.unbound: set[str] = set()  # key ids whose key does not match the fingerprint the id carries
        self.witnessed: dict[str, wit.ChainWitness] = {}
        self.view_failures: list[Finding] = []  # records the CSV views could not show (entry_payload)
        # False only in the second process, which walks the data of the lines the first does not
        # (``_FIRST_WALKS``, ``_plain_line``): the first walks those (``scanning``, ``plain``), and
        # checks the chains again itself, in full, if any of those is not plain; the walk shared out
        # so that both processes take about as long, the same verdicts
        self.scan = True
        self.plain = True
        self.scanning = False  # the CSV pass walks each record (``_plain_line``) for the second process
        # members whose SHA-256 the CSV pass takes as it reads them: name -> (digest, report entry, manifest entry)
        self.digests: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {}
        self.meter = _Meter(progress)
        # Two processes found a chain failing: to be verified again in one (``run``, ``verify_archive``)
        self.again = False
        self.again_chains: tuple[list[Finding], list[dict[str, Any]]] | None = None

    def add(self, file: str, reason: str, detail: str, rank: int, **kw: Any) -> None:
        self.report.findings.append(Finding(file, reason, detail, rank=rank, **kw))

    # -- structure ---------------------------------------------------------------------------
    def _open(self) -> zipfile.ZipFile:
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.add(Path(self.path).name, "unreadable", f"not a readable ZIP archive: {exc}", _R_ARCHIVE)
            raise _Abort from None
        names = zf.namelist()
        seen: set[str] = set()
        for name in names:
            if name in seen:
                self.add(name, "duplicate_member", "the archive holds two files with this name", _R_FILES)
            seen.add(name)
        self.names = seen
        return zf

    def _read(self, name: str, rank: int = _R_ARCHIVE) -> bytes | None:
        assert self.zf is not None
        if name not in self.names:
            self.add(name, "file_missing", "required file is missing from the archive", rank)
            return None
        return self.zf.read(name)

    def _manifest(self) -> tuple[dict[str, Any], bytes, bytes | None]:
        raw = self._read(fmt.MANIFEST)
        signature = self._read(fmt.SIGNATURE, _R_SIGNATURE)
        if raw is None:
            raise _Abort
        try:
            manifest = fmt.strict_json(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            self.add(fmt.MANIFEST, "bad_manifest", f"not strict JSON: {exc}", _R_ARCHIVE)
            raise _Abort from None
        if not isinstance(manifest, dict) or manifest.get("format") != fmt.FORMAT:
            self.add(fmt.MANIFEST, "bad_manifest", f"not a {fmt.FORMAT} manifest", _R_ARCHIVE)
            raise _Abort
        try:
            export, tenant = manifest["export"], manifest["tenant"]
            self.tenant_id = tenant["tenant_id"]
            self.scope = fmt.Scope(tenant["country"], tenant["time_zone"], export["start_utc"], export["end_utc"])
            self.files = {entry["path"]: entry for entry in manifest["files"]}
            self.chains = list(manifest["chains"])
            self.directory = manifest.get("directory")
        except (KeyError, TypeError, ValueError) as exc:
            self.add(fmt.MANIFEST, "bad_manifest", f"missing or malformed field: {exc}", _R_ARCHIVE)
            raise _Abort from None
        self.report.export = {**export, "tenant": tenant}
        return manifest, raw, signature

    def _sha256(self, name: str) -> tuple[str, int]:
        assert self.zf is not None
        digest, size, advance = hashlib.sha256(), 0, self.meter.advance
        with self.zf.open(name) as member:
            while chunk := member.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                advance(len(chunk))
        return digest.hexdigest(), size

    def _read_whole_later(self) -> set[str]:
        """The members the CSV pass reads whole: the records (``_views``) and the CSV views
        (``_Rows``, as long as their bytes are those expected); their SHA-256 is taken there, or
        after it (``_finish_digests``) for a member it did not read to the end."""
        later = {fmt.records_path(c["chain"]) for c in self.chains}
        if self.report.export.get("kind") != "fec":  # the views compared (``_new_views``)
            later |= {fmt.ENTRIES, fmt.LINES, fmt.CLOSURES, fmt.EVENTS}
        return {name for name in later if name in self.names and name in self.files}

    def _check_files(self) -> dict[str, Finding]:
        """Every listed file is present and has the SHA-256 the manifest states (the records
        members' are taken while the CSV pass reads them: ``_finish_digests``), nothing is added."""
        bad: dict[str, Finding] = {}
        later = self._read_whole_later()
        for name, entry in self.files.items():
            if name not in self.names:
                self.add(name, "file_missing", "listed in the signed manifest but missing from the archive", _R_FILES)
                continue
            if name in later:
                place = {"path": name, "sha256": None, "bytes": None}
                self.report.files.append(place)
                self.digests[name] = (hashlib.sha256(), place, entry)
                continue
            try:
                digest, size = self._sha256(name)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupt member (CRC error...)
                self.add(name, "unreadable", f"the member cannot be read: {exc}", _R_FILES)
                continue
            self.report.files.append({"path": name, "sha256": digest, "bytes": size})
            self._compare_digest(name, digest, entry, bad)
        for name in sorted(self.names - set(self.files) - {fmt.MANIFEST, fmt.SIGNATURE}):
            self.add(name, "file_added", "not listed in the signed manifest: a file was added", _R_FILES)
        return bad

    @staticmethod
    def _compare_digest(name: str, digest: str, entry: dict[str, Any], bad: dict[str, Finding]) -> None:
        if digest != entry.get("sha256"):
            bad[name] = Finding(name, "sha256_mismatch",
                                f"SHA-256 {digest} differs from the signed manifest's {entry.get('sha256')}: "
                                "the file was changed", rank=_R_HASH)

    def _finish_digests(self, bad: dict[str, Finding]) -> None:
        """The SHA-256 of the members ``_check_files`` left to the CSV pass: taken as it read them
        (``bytes`` set), else read again now."""
        for name, (digest, place, entry) in self.digests.items():
            if place["sha256"] is not None or place.get("unreadable"):
                continue
            if place["bytes"] is not None:
                place["sha256"] = digest.hexdigest()
            else:
                try:
                    place["sha256"], place["bytes"] = self._sha256(name)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupt member (CRC error...)
                    self.add(name, "unreadable", f"the member cannot be read: {exc}", _R_FILES)
                    continue
            self._compare_digest(name, place["sha256"], entry, bad)
        self.report.files = [f for f in self.report.files if f["sha256"] is not None]

    # -- keys and signature ----------------------------------------------------------------------
    def _keys(self, manifest: dict[str, Any], raw: bytes, signature: bytes | None, bad: dict[str, Finding]) -> None:
        """The keys of ``keys/``: the log's (``role`` ``log``, or none in older archives), which sign
        the checkpoints and the manifest, and the witness's (decision 0024), which only co-sign."""
        self.keys, self.witness_keys = [], {}
        index_raw = self._read(fmt.KEYS_INDEX, _R_KEY)
        entries: list[dict[str, Any]] = []
        if index_raw is not None:
            try:
                entries = list(fmt.strict_json(index_raw.decode("utf-8"))["keys"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                self.add(fmt.KEYS_INDEX, "bad_keys", f"not a key list: {exc}", _R_KEY)
        for entry in entries:
            try:
                name = entry["file"]
                pem_raw = self._read(name, _R_KEY)
                if pem_raw is None:
                    continue
                if name in bad:
                    self.add(name, "key_replaced", "the key file differs from the one the manifest lists: a key was "
                                                   "replaced", _R_KEY)
                    bad.pop(name)
                pem = pem_raw.decode("ascii")
                key = PublicKeyInfo(entry["key_id"], entry["not_before"], entry["not_after"], pem)
                print_ = fingerprint(pem)
                role = entry.get("role", fmt.ROLE_LOG)
                if role not in fmt.KEY_ROLES:
                    raise ValueError(f"role must be one of {', '.join(fmt.KEY_ROLES)}, not {role!r}")
            except (KeyError, TypeError, ValueError, CheckpointError) as exc:
                self.add(fmt.KEYS_INDEX, "bad_keys", f"key entry {entry!r:.80}: {exc}", _R_KEY)
                continue
            if role == fmt.ROLE_WITNESS:
                self.witness_keys[key.key_id] = key
            else:
                self.keys.append(key)
            self.report.keys.append({"key_id": key.key_id, "fingerprint": print_, "not_before": key.not_before,
                                     "not_after": key.not_after, "file": name, "role": role})
            claimed = fmt.claimed_fingerprint(key.key_id)
            if claimed is not None and not print_.startswith(claimed):
                self.unbound.add(key.key_id)
                what = "witness key" if role == fmt.ROLE_WITNESS else "key"
                self.add(name, "key_id_mismatch",
                         f"{what} id {key.key_id} carries the fingerprint prefix {claimed}, but this key's fingerprint "
                         f"is sha256:{print_}: the key was replaced under the same id", _R_KEY)
        self._named_witness_keys(manifest)
        sig_info = manifest.get("signature") or {}
        key = find_key(self.keys, str(sig_info.get("key_id")))
        if signature is None:
            return
        if key is None:
            self.add(fmt.MANIFEST, "key_not_valid", f"the manifest is signed by unknown key {sig_info.get('key_id')!r}",
                     _R_SIGNATURE)
            return
        if not _verify(key.public_key_pem, raw, signature):
            self.add(fmt.MANIFEST, "bad_signature",
                     f"manifest.sig does not verify manifest.json with key {key.key_id}: the manifest or its "
                     "signature was altered", _R_SIGNATURE)
            return
        generated = manifest["export"].get("generated_at", "")
        try:
            valid = key_valid_at(key, generated)
        except ValueError:
            valid = False
        if not valid:
            self.add(fmt.MANIFEST, "key_not_valid",
                     f"the manifest is dated {generated}, outside the validity of key {key.key_id}", _R_SIGNATURE)

    def _named_witness_keys(self, manifest: dict[str, Any]) -> None:
        """The witness keys the signed manifest names are exactly the witness keys of
        ``keys/keys.json`` (an archive built before decision 0024 names none and has none)."""
        named = manifest.get("witness_keys")
        if named is None:
            return
        if not isinstance(named, list) or not all(isinstance(k, str) for k in named):
            self.add(fmt.MANIFEST, "bad_manifest", "witness_keys is not a list of key ids", _R_ARCHIVE)
            return
        for key_id in sorted(set(named) - set(self.witness_keys)):
            self.add(fmt.KEYS_INDEX, "witness_key_missing",
                     f"the signed manifest names witness key {key_id}, which {fmt.KEYS_INDEX} does not list as a "
                     "witness key: the key was removed", _R_KEY, expected=key_id, found="(absent)")
        for key_id in sorted(set(self.witness_keys) - set(named)):
            self.add(fmt.KEYS_INDEX, "witness_key_unlisted",
                     f"{fmt.KEYS_INDEX} lists witness key {key_id}, which the signed manifest does not name: a key "
                     "was added", _R_KEY, expected="(absent)", found=key_id)

    def _signature_verifier(self) -> Callable[[str, bytes, bytes], bool]:
        by_id = {k.key_id: k.public_key_pem for k in self.keys}

        def verify(key_id: str, message: bytes, signature: bytes) -> bool:
            pem = by_id.get(key_id)
            return pem is not None and _verify(pem, message, signature)

        return verify

    # -- checkpoints -----------------------------------------------------------------------------
    def _checkpoints(self) -> dict[str, list[Checkpoint]]:
        found: dict[str, list[Checkpoint]] = {c["chain"]: [] for c in self.chains}
        expected = [(c["chain"], size) for c in self.chains for size in c.get("checkpoint_sizes", [])]
        if fmt.CHECKPOINTS not in self.names:
            return found
        assert self.zf is not None
        rows = _Rows(self.report, self.zf, fmt.CHECKPOINTS, fmt.CHECKPOINTS_HEADER, True)
        if rows.failed:
            return found
        position = 0
        while True:
            row = rows._next()
            if row is None or rows.failed:
                break
            rows.row += 1
            chain = row[0] if row else ""
            if chain not in found or len(row) != len(fmt.CHECKPOINTS_HEADER):
                rows._fail(rows.row, None, None, "row_added", f"row for unknown chain {chain!r}")
                break
            try:
                checkpoint = fmt.checkpoint_from_row(chain_key(self.tenant_id, chain), row)
            except (ValueError, CheckpointError, RecordError) as exc:
                rows._fail(rows.row, chain, None, "cell_changed", f"malformed checkpoint: {exc}")
                break
            want = expected[position] if position < len(expected) else None
            if want != (chain, checkpoint.size):
                detail = (f"expected the checkpoint of {want[0]} at size {want[1]}" if want else
                          "the signed manifest lists no more checkpoints")
                rows._fail(rows.row, chain, checkpoint.size, "row_order",
                           f"{detail}, found {chain} at size {checkpoint.size}: a row was removed, added or moved")
                break
            position += 1
            found[chain].append(checkpoint)
        if not rows.failed and position < len(expected):
            chain, size = expected[position]
            rows._fail(rows.row + 1, chain, size, "row_missing",
                       f"the checkpoint of {chain} at size {size} is missing: rows were removed or the tail was cut")
        return found

    # -- the witness's cosignatures (decision 0024) --------------------------------------------------
    def _cosignatures(self, checkpoints: dict[str, list[Checkpoint]]) -> None:
        """Each row of ``cosignatures.csv`` rebuilt into its cosignature and checked (``witness.py``):
        its shape, its order (chain, then size), the checkpoint of the same chain and size with the
        same root, the witness key of ``keys/`` and its signature. Rows are spreadsheet rows."""
        name = fmt.COSIGNATURES
        chains = [c["chain"] for c in self.chains]
        self.witnessed = {c["chain"]: wit.ChainWitness(c["chain"], max((cp.size for cp in checkpoints.get(
            c["chain"], [])), default=None), int(c.get("last_seq") or 0)) for c in self.chains}
        self.report.witness = {"present": False, "rows": 0, "cosignatures": 0}
        if name not in self.names or name not in self.files:
            return  # an archive built before decision 0024 (a listed file that is missing is reported)
        assert self.zf is not None
        self.report.witness["present"] = True
        rows = _Rows(self.report, self.zf, name, fmt.COSIGNATURES_HEADER, True)
        if rows.failed:
            return
        pems = {key_id: key.public_key_pem for key_id, key in self.witness_keys.items()}

        def verify(key_id: str, message: bytes, signature: bytes) -> bool:
            pem = pems.get(key_id)
            return pem is not None and _verify(pem, message, signature)

        order = {chain: index for index, chain in enumerate(chains)}
        by_size = {chain: {cp.size: cp for cp in checkpoints.get(chain, [])} for chain in chains}
        previous: tuple[int, int, str] | None = None
        while True:
            row = rows._next()
            if row is None or rows.failed:
                break
            rows.row += 1
            spreadsheet_row = rows.row + 1
            parsed = wit.parse_row(row, chains)
            if isinstance(parsed, wit.RowProblem):
                known = len(row) == len(fmt.COSIGNATURES_HEADER) and row[0] in order
                size = int(row[1]) if known and row[1].isdigit() else None
                self._cosignature_problem(spreadsheet_row, row[0] if known else None, size, parsed)
                continue
            place = (order[parsed.chain], parsed.size, parsed.witness_key_id)
            if previous is not None and place <= previous:
                self.add(name, "row_order",
                         f"{parsed.chain} at size {parsed.size} by {parsed.witness_key_id} comes after "
                         f"{chains[previous[0]]} at size {previous[1]} by {previous[2]}: the rows are in the archive's "
                         f"chain order ({', '.join(chains)}), then size, then witness key, each once", _R_WITNESS,
                         row=spreadsheet_row, seq=parsed.size, chain=parsed.chain, column="taille")
            previous = max(previous or place, place)
            self.report.witness["rows"] += 1
            checked = wit.check_row(parsed, by_size[parsed.chain], self.witness_keys, verify)
            if isinstance(checked, wit.RowProblem):
                self._cosignature_problem(spreadsheet_row, parsed.chain, parsed.size, checked)
                continue
            if parsed.witness_key_id in self.unbound:
                continue  # verifies, but with a key that is not the one its id names (reported with the key)
            self.report.witness["cosignatures"] += 1
            seen = self.witnessed[parsed.chain]
            seen.sizes.add(parsed.size)
            seen.by_key.setdefault(parsed.size, []).append(parsed.witness_key_id)

    def _cosignature_problem(self, row: int, chain: str | None, size: int | None, problem: wit.RowProblem) -> None:
        self.add(fmt.COSIGNATURES, problem.reason, problem.detail, _R_KEY if problem.key else _R_WITNESS, row=row,
                 seq=size, chain=chain, column=problem.column, expected=problem.expected, found=problem.found)

    def _witness_anchors(self) -> None:
        """Per chain: the witnessed sizes, whether the newest checkpoint is co-signed and by whom,
        and, with ``--witness-key``, whether a given witness key anchors it; a chain it does not
        anchor then fails (the auditor said which witness they trust: a history that witness has
        not co-signed is not the one it saw)."""
        if not self.witnessed:
            return
        given = self.witness_given
        prints = {k["key_id"]: k["fingerprint"] for k in self.report.keys if k.get("role") == fmt.ROLE_WITNESS}
        for key in self.report.keys:
            if key.get("role") == fmt.ROLE_WITNESS:
                key["given"] = None if given is None else is_trusted(key["fingerprint"], given)
        summaries = {c["chain"]: c for c in self.report.chains}
        notes: list[str] = []
        anchored_all = given is not None
        for chain, seen in self.witnessed.items():
            info = seen.summary(given, prints)
            if chain in summaries:
                summaries[chain]["witness"] = info
            if given is None or info["anchored"]:
                continue
            anchored_all = False
            newest = seen.newest_size
            if newest is None:
                detail = f"{chain} has no signed checkpoint, so nothing of it is co-signed"
            elif not seen.covers_every_record:
                detail = (f"the newest checkpoint of {chain} (size {newest}) does not cover its {seen.entries} "
                          "records: the records after it are co-signed by no witness")
            elif info["newest_cosigned_by"]:
                others = ", ".join(f"{k} (sha256:{prints.get(k, '?')})" for k in info["newest_cosigned_by"])
                detail = (f"the newest checkpoint of {chain} (size {newest}) is co-signed only by {others}, which "
                          "is not among the --witness-key keys")
            else:
                detail = (f"the newest checkpoint of {chain} (size {newest}) carries no valid cosignature in "
                          f"{fmt.COSIGNATURES}: the witness you trust did not co-sign this history")
            self.add(fmt.COSIGNATURES, "not_witnessed", detail, _R_KEY, seq=newest, chain=chain)
        for key_id, print_ in prints.items():
            used = any(key_id in ids for seen in self.witnessed.values() for ids in seen.by_key.values())
            if used and given is not None and not is_trusted(print_, given):
                notes.append(f"the cosignatures by witness key {key_id} (sha256:{print_}) verify, but it is not among "
                             "the --witness-key keys: they anchor nothing")
        if given is not None and self.trusted is None and anchored_all:
            for key in self.report.signing:
                if key["manifest"]:
                    notes.append(f"the log's key {key['key_id']} (sha256:{key['fingerprint']}) is not pinned (no "
                                 "--trusted-key): each chain is anchored by the witness's cosignature of its newest "
                                 "checkpoint, while the manifest (period, chain directory) rests on the log's key "
                                 "alone")
        if self.report.witness.get("present") and not self.report.witness.get("rows"):
            notes.append(f"{fmt.COSIGNATURES} holds no cosignature: no chain of this archive is witnessed")
        elif not self.report.witness.get("present"):
            notes.append(f"this archive has no {fmt.COSIGNATURES} (built before the witness, decision 0024): no chain "
                         "is witnessed")
        self.report.witness.update(
            given=given is not None,
            keys=[{k: key[k] for k in ("key_id", "fingerprint", "file", "given")}
                  for key in self.report.keys if key.get("role") == fmt.ROLE_WITNESS],
            anchored_by_witness=anchored_all and bool(self.witnessed), notes=notes)

    # -- chains and CSV rows -----------------------------------------------------------------------
    def _records(self, name: str, chain: str, lines: deque[tuple[int, int]], stop: list[Finding]) -> Iterator[dict]:
        """The records of a member, parsed (``_parse_record_line``); ``lines`` gets ``(seq, line)``
        of the latest ones (the line of the seq where verification stopped, for the report)."""
        assert self.zf is not None
        with self.zf.open(name) as member:
            reader = _Lines(member, meter=self.meter)
            for number, body in enumerate(reader, start=1):
                if reader.unterminated:
                    self.add(name, "non_canonical", "the last line has no line feed", _R_RECORDS, row=number,
                             chain=chain)
                obj, problem, fatal = _parse_record_line(body, self.scan or number & 3 >= _FIRST_WALKS)
                seq = obj.get("seq") if isinstance(obj, dict) else None
                if problem is not None:
                    finding = Finding(name, "non_canonical", problem, row=number, seq=seq if type(seq) is int else None,
                                      chain=chain, rank=_R_RECORDS)
                    if fatal:
                        stop.append(finding)
                        return
                    self.report.findings.append(finding)
                if type(seq) is int:
                    lines.append((seq, number))
                yield obj  # type: ignore[misc]

    def _verify_chains(self, checkpoints: dict[str, list[Checkpoint]]) -> None:
        """Each chain's records: hashes, links, closures, Merkle roots, signatures, the manifest."""
        keys, verifier = self.keys, self._signature_verifier()
        for info in self.chains:
            chain = info["chain"]
            name = fmt.records_path(chain)
            summary: dict[str, Any] = {"chain": chain, "ok": False, "entries": 0, "rows": 0}
            self.report.chains.append(summary)
            if name not in self.names or name not in self.files:
                summary["reason"] = "file_missing"
                if name not in self.names and name not in self.files:
                    # neither in the archive nor among the manifest's files (the other cases are
                    # reported with the files): the chain's signed numbers stand on no record
                    self.add(name, "file_missing", f"the manifest lists chain {chain} but its records file is "
                             "neither in the archive nor among the manifest's files: none of its records can "
                             "be checked", _R_FILES, chain=chain, seq=1)
                continue
            lines: deque[tuple[int, int]] = deque(maxlen=4096)
            stop: list[Finding] = []
            extra = [] if chain == fmt.EVENTS_CHAIN else [ClosureCheck()]
            report = verify_chain(self._records(name, chain, lines, stop), tenant_id=self.tenant_id, chain=chain,
                                  checkpoints=checkpoints.get(chain, []), keys=keys, signature_verifier=verifier,
                                  extra_checks=extra, withheld=self._may_withhold(chain),
                                  # an export line is exactly the ten fields: no table attribute
                                  # (pk, sk, ttl) and no write proof (export-format.md section 8.1)
                                  storage_attributes=())
            summary.update(entries=report.size, root=report.root, reason=report.reason,
                           checkpoints_verified=report.checkpoints_verified, proven_size=report.proven_size,
                           withheld=report.withheld)
            if stop:
                self.report.findings.append(stop[0])
                summary.update(reason=stop[0].reason, first_bad_seq=stop[0].seq or report.size + 1)
            elif not report.ok:
                seq = report.first_bad_seq
                numbers = dict(lines)
                row = numbers.get(seq) if seq is not None else None
                if row is None and seq is not None:
                    row = numbers.get(seq - 1, seq - 1) + 1
                self.add(name, report.reason, report.detail, _R_RECORDS, row=row, seq=seq, chain=chain)
                summary["first_bad_seq"] = seq if seq is not None else 1
            else:
                for field_name, want, got in (("last_seq", info.get("last_seq"), report.size),
                                              ("root", info.get("root"), report.root),
                                              ("last_hash", info.get("last_hash"), report.head.last_hash)):
                    if want != got:
                        self.add(name, "manifest_mismatch",
                                 f"the signed manifest states {field_name} {want}, the records give {got}: entries "
                                 "were removed or added", _R_RECORDS, seq=report.size + 1 if field_name == "last_seq"
                                 else None, chain=chain, row=report.size + 1 if field_name == "last_seq" else None,
                                 column=field_name, expected=str(want), found=str(got))
                        summary.update(reason="manifest_mismatch", first_bad_seq=report.size + 1)
                        break
                else:
                    stated = info.get("withheld_training", 0)
                    if stated != report.withheld:
                        self.add(name, "manifest_mismatch",
                                 f"the signed manifest states that {stated} training record(s) are withheld, the "
                                 f"records hold {report.withheld} stand-in(s)", _R_RECORDS, chain=chain,
                                 column="withheld_training", expected=str(stated), found=str(report.withheld))
                        summary.update(reason="manifest_mismatch", first_bad_seq=1)
                    elif max(info.get("checkpoint_sizes") or [0]) < report.size:
                        # Offline, a record's write proof is vouched for by the signed checkpoint
                        # that covers it (decision 0022): an uncovered record is vouched for by none.
                        # (The signed manifest's sizes: checkpoints.csv is compared with them.)
                        unsigned = max(info.get("checkpoint_sizes") or [0]) + 1
                        self.add(name, "not_signed",
                                 f"seq {unsigned} to {report.size} are covered by no signed checkpoint: nothing "
                                 "vouches that the sealing service wrote them (an export ends at a signed "
                                 "checkpoint)", _R_RECORDS, seq=unsigned, chain=chain, row=dict(lines).get(unsigned))
                        summary.update(reason="not_signed", first_bad_seq=unsigned)
                    else:
                        summary["ok"] = True

    def _may_withhold(self, chain: str) -> tuple[str, ...]:
        """Why a record of ``chain`` may stand withheld in this archive (decision 0023, R1): only the
        event journal's training events, only in a live tenant's archive. A ledger chain of a live
        tenant never holds training data, and a test-mode archive withholds nothing."""
        if chain == fmt.EVENTS_CHAIN and self.report.export.get("fiscal") is True:
            return (fmt.WITHHELD_TRAINING,)
        return ()

    def _views(self) -> Iterator[tuple[str, _View | None]]:
        """The records again, parsed lightly (the chain check above is what validates them). The
        event journal first: the completeness check reads it before the ledger chains (each CSV
        view is a file of its own, so the order of chains between them does not matter)."""
        assert self.zf is not None
        ordered = sorted(self.chains, key=lambda info: info["chain"] != fmt.EVENTS_CHAIN)
        for info in ordered:
            chain = info["chain"]
            name = fmt.records_path(chain)
            if name not in self.names or name not in self.files:
                continue
            digest = self.digests.get(name)
            first = digest is not None and digest[1]["bytes"] is None
            with self.zf.open(name) as member:
                lines = _Lines(member, digest=digest[0] if first else None, meter=self.meter)
                try:
                    for number, line in enumerate(lines, start=1):
                        view = _View.parse(line)
                        if self.scanning and self.plain and (view is None or (
                                number & 3 < _FIRST_WALKS and view.withheld is None and not _plain_line(view.data))):
                            self.plain = False
                        yield chain, view
                except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupt member (CRC error...)
                    self.add(name, "unreadable", f"the member cannot be read: {exc}", _R_FILES)
                    self.plain = False  # not every line was seen here: the second process is not relied on
                    if first:
                        digest[1]["unreadable"] = True
                    continue
            if first:
                digest[1]["bytes"] = lines.size

    def _new_views(self, checkpoints: dict[str, list[Checkpoint]]) -> _Views:
        assert self.zf is not None
        return _Views(self, checkpoints, enabled=self.report.export.get("kind") != "fec")

    def _compare_views(self, views: _Views, failed: dict[str, int] | None = None, *, scan: bool = False) -> None:
        """Every CSV row recomputed from its record, parsed again here: a second pass is faster
        than interleaving with the chain checks (measured), and lets another process do those.
        ``failed``: the chains already known to fail, and from which seq (their later rows are
        consequences, not compared). ``scan``: check some of the record lines (``_FIRST_WALKS``) for
        what canonical JSON refuses (``_plain_line``, for the second process, which checks the
        others only); ``plain`` says whether all passed."""
        failed = failed or {}
        complete = self.completeness
        self.scanning = scan
        for chain, record in self._views():
            if record is not None and record.withheld is not None:
                continue  # no content, no row, no event to cross-check (the chain check binds its hash)
            if complete is not None and record is not None:
                if chain == fmt.EVENTS_CHAIN:
                    complete.event(record)
                else:
                    complete.entry(chain, record)
            if record is None or (chain in failed and record.seq >= failed[chain]):
                views.skip_chain(chain)
            else:
                views.feed(chain, record)

    # -- FEC ---------------------------------------------------------------------------------------
    def _fec(self, manifest: dict[str, Any]) -> None:
        info = manifest.get("fec")
        if not info:
            return
        assert self.zf is not None
        name = info["file"]
        if name not in self.names or name not in self.files:
            return
        export, tenant = manifest["export"], manifest["tenant"]
        first_day, last_day = date.fromisoformat(export["first_day"]), date.fromisoformat(export["last_day"])
        cutoff = time.fromisoformat(tenant["business_day_cutoff"])
        ctx = fec_rules.FecContext(siren=tenant["company_number"], country=tenant["country"],
                                   time_zone=tenant["time_zone"], cutoff=cutoff, first_day=first_day, last_day=last_day)
        validator = fec_rules.FecValidator(first_day=first_day, last_day=last_day)
        validator.check_file_name(name, siren=ctx.siren, closing=last_day)

        def records(chain: str) -> Iterator[SealedRecord]:
            for obj in self._records(fmt.records_path(chain), chain, deque(maxlen=1), []):
                yield SealedRecord.from_item(obj)

        ledger = {c["chain"]: records(c["chain"]) for c in self.chains if c["chain"] != fmt.EVENTS_CHAIN}
        expected = fec_rules.fec_rows(ledger, ctx)
        with self.zf.open(name) as member:
            data = io.TextIOWrapper(member, encoding=fec_rules.ENCODING, newline="")
            compared = False
            for number, line in enumerate(data, start=1):
                text = line[:-2] if line.endswith("\r\n") else line.rstrip("\n")
                validator.feed(text)
                if compared:
                    continue
                if number == 1:
                    continue
                try:
                    want = next(expected, None)
                except (fec_rules.FecError, RecordError, KeyError, TypeError, ValueError) as exc:
                    self.add(name, "fec_regeneration", f"the records cannot be posted: {exc}", _R_CONTENT, row=number)
                    compared = True
                    continue
                if want is None:
                    self.add(name, "row_added", "no sealed record gives this row: the file should end before it",
                             _R_CONTENT, row=number, expected="(end of file)", found=text)
                    compared = True
                elif want.text != text:
                    self._fec_mismatch(name, number, want, text)
                    compared = True
            if not compared:
                missing = next(expected, None)
                if missing is not None:
                    self.add(name, "row_missing", "the file ends before the rows of this record", _R_CONTENT,
                             row=number + 1, seq=missing.seq, chain=missing.chain, expected=missing.text,
                             found="(end of file)")
        for problem in validator.finish():
            self.add(name, f"fec_{problem.rule}", problem.detail, _R_SECONDARY, row=problem.line or None,
                     column=problem.column or None)

    def _fec_mismatch(self, name: str, row: int, want: fec_rules.FecRow, text: str) -> None:
        """A FEC row that differs from the one regenerated from the records: the first column that
        differs, with the expected and found values."""
        wanted, found = want.text.split(fec_rules.SEPARATOR), text.split(fec_rules.SEPARATOR)
        if len(wanted) != len(found):
            self.add(name, "row_changed", f"{len(found)} fields where the sealed records give {len(wanted)}: expected "
                     f"{want.text!r}, found {text!r}", _R_CONTENT, row=row, seq=want.seq, chain=want.chain,
                     expected=want.text, found=text)
            return
        for column, expected, got in zip(fec_rules.COLUMNS, wanted, found, strict=True):
            if expected != got:
                self.add(name, "cell_changed", f"expected {expected!r} (from the sealed records), found {got!r}",
                         _R_CONTENT, row=row, seq=want.seq, chain=want.chain, column=column, expected=expected,
                         found=got)
                return

    # -- run ------------------------------------------------------------------------------------------
    def run(self, jobs: int = 1, chains: tuple[list[Finding], list[dict[str, Any]]] | None = None) -> Report:
        """``chains``: the chains' findings and summaries the second process gave for this archive
        (``again``), not verified a second time."""
        worker = None
        try:
            self.zf = self._open()
            manifest, raw, signature = self._manifest()
            total = sum(int(c.get("last_seq") or 0) for c in self.chains)
            worker = None
            if jobs > 1 and total >= PARALLEL_FROM and chains is None:  # the chains in a second process
                worker = _start_worker(self.path)
            self.meter.total = self._work(manifest, chains_here=worker is None and chains is None)
            self.meter.stage("files")
            bad = self._check_files()
            self._keys(manifest, raw, signature, bad)
            checkpoints = self._checkpoints()
            self._cosignatures(checkpoints)
            self._signing(manifest, checkpoints)
            self.completeness = Completeness(
                lambda file, reason, detail, **kw: self.add(file, reason, detail, _R_COMPLETE, **kw),
                chains=self.chains, directory=self.directory, scope=self.scope,
                generated_at=manifest["export"].get("generated_at"), locate=self._first_event_mismatch)
            self.completeness.check_directory()
            views = self._new_views(checkpoints)
            if worker is None:
                self.meter.stage("chains")
                if chains is None:
                    self._verify_chains(checkpoints)
                else:
                    self.report.findings.extend(chains[0])
                    self.report.chains = chains[1]
                self.meter.stage("rows" if chains is None else "rows again, in one process (a chain failed)")
                self._compare_views(views, {c["chain"]: c.get("first_bad_seq", 1)
                                            for c in self.report.chains if not c["ok"]})
            else:
                self.meter.stage("rows (chains in a second process)")
                self._compare_views(views, scan=True)
                self.meter.stage("chains (second process)")
                result = _finish_worker(worker)
                if result is None or not self.plain:
                    # the worker could not run, or it took a record's data as plain JSON that is not
                    # (a float, an integer beyond 64 bits: forged): the chains in full, here
                    self.meter.stage("chains")
                    self._verify_chains(checkpoints)
                    result = None
                else:
                    self.report.findings.extend(result[0])
                    self.report.chains = result[1]
                if any(not c["ok"] for c in self.report.chains):
                    # One process compares a failing chain's CSV rows only up to its first bad
                    # record (the rest are consequences): this process compared them all. So that
                    # two processes report exactly what one does, the caller compares the rows
                    # again that way (``again``), with the chains' verdicts the second process gave.
                    self.again, self.again_chains = True, result
                    raise _Abort
            views.finish()
            self._finish_digests(bad)
            self.completeness.finish()
            self._drop_consequences()
            self.report.completeness = self.completeness.summary()
            for summary in self.report.chains:
                summary["rows"] = views.rows_of.get(summary["chain"], 0)
            self.meter.stage("FEC")
            self._fec(manifest)
            self.meter.finish()
            self._witness_anchors()
            # A file whose hash differs but whose rows all matched (a README, a reformatted cell...)
            covered = {f.file for f in self.report.findings}
            for name, finding in bad.items():
                if name in covered:
                    for other in self.report.findings:
                        if other.file == name and (other.rank in (_R_RECORDS, _R_CONTENT)
                                                   or other.file == fmt.COSIGNATURES):
                            other.detail += " (the file's SHA-256 also differs from the signed manifest)"
                            break
                else:
                    self.report.findings.append(finding)
        except _Abort:
            pass
        finally:
            self.report.files = [f for f in self.report.files if f["sha256"] is not None]  # a member never read
            if self.zf is not None:
                self.zf.close()
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()
        # Anchored (decision 0018): every key that signs something is a --trusted-key, or (decision
        # 0024) every chain's newest checkpoint is co-signed by a --witness-key; a chain that neither
        # anchors is a finding by then (key_not_trusted, not_witnessed).
        anchors = self.trusted is not None or self.witness_given is not None
        self.report.anchored = bool(anchors and self.report.signing and not self.report.findings)
        self.report.witness["anchored_by_trusted_keys"] = bool(self.report.anchored and self.trusted is not None)
        return self.report

    def _work(self, manifest: dict[str, Any], *, chains_here: bool) -> int:
        """The bytes this process will read (the progress bar's 100 %): every listed file once (for
        its SHA-256; the records members' with the CSV rows), the records again for the chains when
        no second process checks them, and the ledger's records once more for the FEC."""
        assert self.zf is not None
        sizes = {info.filename: info.file_size for info in self.zf.infolist()}
        records = {c["chain"]: sizes.get(fmt.records_path(c["chain"]), 0) for c in self.chains}
        fec = sum(size for chain, size in records.items() if chain != fmt.EVENTS_CHAIN) if manifest.get("fec") else 0
        return sum(sizes.get(name, 0) for name in self.files) + (sum(records.values()) if chains_here else 0) + fec

    def _signing(self, manifest: dict[str, Any], checkpoints: dict[str, list[Checkpoint]]) -> None:
        """Which key signs what (what is unanchored without a trusted key) and, with trusted keys,
        that every key signing something is one of them. A key of ``keys.json`` that signs nothing
        here (a retired one, say) needs no anchor: nothing in the archive rests on it."""
        manifest_key = str((manifest.get("signature") or {}).get("key_id"))
        for key in self.report.keys:
            key_id = key["key_id"]
            chains = sorted({chain for chain, cps in checkpoints.items() for cp in cps if cp.key_id == key_id})
            count = sum(1 for cps in checkpoints.values() for cp in cps if cp.key_id == key_id)
            signs = key_id == manifest_key or count > 0
            if signs:
                self.report.signing.append({"key_id": key_id, "fingerprint": key["fingerprint"], "file": key["file"],
                                            "manifest": key_id == manifest_key, "checkpoints": count,
                                            "chains": chains})
            if signs and self.trusted is not None and not is_trusted(key["fingerprint"], self.trusted):
                self.add(key["file"], "key_not_trusted",
                         f"key {key_id} (sha256:{key['fingerprint']}), which signs "
                         f"{'the manifest' if key_id == manifest_key else f'{count} checkpoint(s)'}, is not among the "
                         "trusted keys", _R_KEY)

    def _first_event_mismatch(self, chain: str, through: int) -> tuple[int, str] | None:
        """The first entry of ``chain`` (up to ``through``) whose event in the journal differs from
        it (hash or kind): the chain's records and the journal's events read side by side."""
        assert self.zf is not None
        name = fmt.records_path(chain)
        if name not in self.names or EVENTS_FILE not in self.names:
            return None
        with self.zf.open(EVENTS_FILE) as events, self.zf.open(name) as records:
            entries = (_View.parse(line) for line in records)
            for line in events:
                event = _View.parse(line)
                if event is None:
                    continue
                details = event.data.get("details")
                if (event.data.get("kind") not in fmt.DERIVED_EVENTS or not isinstance(details, dict)
                        or details.get("chain") != chain):
                    continue
                entry = next(entries, None)
                if entry is None or entry.seq > through:
                    return None
                kind = fmt.derived_event_kind(entry.type)
                if details.get("hash") != entry.hash or event.data.get("kind") != kind:
                    return entry.seq, (f"event {event.seq} ({event.data.get('kind')}, hash {details.get('hash')}) "
                                       f"records {chain} seq {entry.seq}, whose record is a {entry.type} with hash "
                                       f"{entry.hash} (its event is {kind}): the event journal and the chain disagree")
        return None

    def _drop_consequences(self) -> None:
        """A CSV row that disagrees with a record at or after the point where its chain failed is a
        consequence of that failure, already reported; rows before it are kept (they point at
        what a careful forger rewrote)."""
        failed = {c["chain"]: c.get("first_bad_seq", 1) for c in self.report.chains if not c.get("ok")}
        if not failed:
            return
        # (a record the views could not show, at or after that point, likewise: one process never
        # shows those records, and two processes must report the same)
        moot = {id(f) for f in self.view_failures if f.chain in failed and f.seq >= failed[f.chain]}
        self.report.findings = [
            f for f in self.report.findings
            if not (f.rank == _R_CONTENT and f.chain in failed and (f.seq is None or f.seq >= failed[f.chain]))
            and id(f) not in moot
        ]
        # The event journal against the chains: pointless where either already failed its own checks.
        events_failed = fmt.EVENTS_CHAIN in failed
        kept = []
        for f in self.report.findings:
            if f.rank == _R_COMPLETE and f.file == EVENTS_FILE and (
                    events_failed or (f.chain in failed and (f.seq is None or f.seq >= failed[f.chain]))):
                continue
            kept.append(f)
        if events_failed and self.completeness is not None:
            self.completeness.notes.append("the event journal failed its own checks: the chains are not "
                                           "cross-checked against it")
        self.report.findings = kept


def _chain_worker(path: str) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The chains of an archive, verified in a worker process (``verify_archive(jobs=2)``)."""
    gc.disable()
    verifier = _ArchiveVerifier(path, None)
    verifier.scan = False  # the first process walks some of the lines (``_FIRST_WALKS``, ``_compare_views``)
    try:
        verifier.zf = verifier._open()
        manifest, raw, signature = verifier._manifest()
        verifier._keys(manifest, raw, signature, {})
        checkpoints = verifier._checkpoints()
        verifier.report.findings.clear()
        verifier._verify_chains(checkpoints)
        return verifier.report.findings, verifier.report.chains
    except _Abort:
        return [], []
    finally:
        if verifier.zf is not None:
            verifier.zf.close()


def _worker_command(path: str) -> list[str]:
    """The command of the second process: this interpreter (with the same isolation flags) running
    ``scelle_verify.worker`` from wherever this package was loaded, an installed package, a vendored
    copy or the single-file ``scelle-verify.pyz`` alike (the child is given this process's
    ``sys.path`` and the package's root in front of it)."""
    root = str(Path(__file__).resolve().parent.parent)
    flags = [flag for flag, on in (("-I", sys.flags.isolated), ("-E", sys.flags.ignore_environment),
                                   ("-s", sys.flags.no_user_site), ("-S", sys.flags.no_site)) if on]
    # without orjson here (not installed, or blocked to compare), none there either: the same parser
    block = "sys.modules['orjson'] = None; " if orjson is None else ""
    code = (f"import json, sys; {block}sys.path[:0] = json.loads(sys.argv[1]); from scelle_verify.worker import main; "
            "sys.exit(main(sys.argv[2:]))")
    return [sys.executable, *flags, "-c", code, json.dumps([root, *sys.path]), path]


def _start_worker(path: str):
    """The second process (``_worker_command``): a plain child process, not multiprocessing, so
    nothing of the caller's main module runs again."""
    import subprocess

    try:
        return subprocess.Popen(_worker_command(path), stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _finish_worker(worker) -> tuple[list[Finding], list[dict[str, Any]]] | None:
    out, _ = worker.communicate()
    if worker.returncode != 0:
        return None
    try:
        data = json.loads(out)
        return [Finding(**f) for f in data["findings"]], data["chains"]
    except (ValueError, KeyError, TypeError):
        return None


def _jobs(jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    # Two processes whenever there are two cores: the chains in one, the files and the CSV rows in
    # the other, about even since a record's line is parsed once and not encoded again
    # (bench/bench_verify_export.py).
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def verify_archive(path: str | Path, *, trusted_keys: set[str] | None = None, witness_keys: set[str] | None = None,
                   jobs: int | None = None, progress: Callable[[int, int, str], None] | None = None) -> Report:
    """Verify an export archive; ``trusted_keys`` are key fingerprints (``fingerprint``) that every
    key of the archive must be among; ``witness_keys`` fingerprints of witness keys the auditor
    holds (decision 0024): every chain's newest checkpoint must then carry a valid cosignature by
    one of them, and that anchors it. Never raises for bad content: it is in the report.

    ``jobs`` (default: 2 on a machine with 2 cores or more, else 1) lets a big archive's chains be
    verified in a second process while this one checks the files and the CSV rows.
    ``progress(done, total, note)``, when given, is called as the members are read (bytes,
    uncompressed; ``note`` names the stage): the command's progress bar. The cyclic
    garbage collector is paused meanwhile: verification streams millions of small
    acyclic objects that reference counting frees at once, and the collector's repeated passes
    over them would cost about 40 % of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        verifier = _ArchiveVerifier(path, trusted_keys, witness_keys, progress)
        report = verifier.run(jobs=_jobs(jobs))
        if verifier.again:  # a chain fails: its CSV rows compared as one process does (``run``)
            report = _ArchiveVerifier(path, trusted_keys, witness_keys, progress).run(
                jobs=1, chains=verifier.again_chains)
        return report
    finally:
        if enabled:
            gc.enable()
