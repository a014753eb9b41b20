"""The export archive format (``scelle-export/v1``): file names, CSV dialect, and how each sealed
record becomes CSV rows. The builder writes with these functions and the verifier recomputes
every row with them, so a row that differs from its record is found cell by cell.

CSV dialect (chosen for French and Belgian spreadsheet users, docs/exports.md): separator ``;``,
decimal comma, no thousands separator, UTF-8 **with** a byte-order mark (so that Excel opens
accents correctly), CRLF line ends (RFC 4180), fields quoted with ``"`` only when needed, dates
``YYYY-MM-DD``, times ``HH:MM:SS`` in the tenant's time zone next to the exact UTC instant.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from scelle_verify.domain.canonical import encode_trusted
from scelle_verify.domain.checkpoint import Checkpoint
from scelle_verify.domain.vat import RATE_TABLE

FORMAT = "scelle-export/v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
KEYS_DIR = "keys/"
KEYS_INDEX = "keys/keys.json"
RECORDS_DIR = "records/"
ENTRIES = "entries.csv"
LINES = "lines.csv"
CLOSURES = "closures.csv"
EVENTS = "events.csv"
CHECKPOINTS = "checkpoints.csv"
COSIGNATURES = "cosignatures.csv"
README_FR = "LISEZMOI.txt"
README_EN = "README.txt"
NOT_FISCAL = "NON-FISCAL.txt"
EVENTS_CHAIN = "events"

# The documents every archive carries under ``docs/`` (decision 0023, R7): the read-me files name
# them, and every path a read-me names is a member of the archive. They are copies of the
# repository's ``docs/`` files, packaged with this module (``chalicelib/verify_export/docs/``,
# refreshed by ``make archive-docs``; a unit test fails when a copy differs from ``docs/``).
DOCS_DIR = "docs/"
ARCHIVE_DOCS = ("auditor-guide.fr.md", "auditor-guide.en.md", "export-format.md", "hash-format.md")
# Listed but not written yet: left out of the archive while absent. A unit test fails as soon as
# ``docs/<name>`` exists and is not packaged, so the entry must then be removed from this set.
NOT_YET_WRITTEN: frozenset[str] = frozenset()

# A record an archive leaves out (decision 0023, R1): a live tenant's archive withholds every
# record sealed as training data (in practice the event journal's events from before going live).
# Its line in ``records/<chain>.jsonl`` is the canonical JSON of ``chain``, ``hash``,
# ``prev_hash``, ``seq``, ``tenant_id`` and ``withheld`` (the reason), nothing else.
WITHHELD = "withheld"
WITHHELD_TRAINING = "training"

# The event each sealed ledger entry gets in the event journal (``services.events.derived_event``,
# a test keeps the two equal): its ``details`` name the entry's ``chain``, ``seq`` and ``hash``.
DERIVED_EVENT_KINDS = {"sale": "sale_recorded", "journal": "journal_recorded", "reversal": "entry_reversed",
                       "closure": "period_closed"}
DERIVED_EVENT_OTHER = "entry_recorded"
DERIVED_EVENTS = frozenset([*DERIVED_EVENT_KINDS.values(), DERIVED_EVENT_OTHER])

# The manifest's ``directory``: every chain of the tenant's directory when the archive was built,
# each ``included`` or not (``excluded`` with its reason, or ``empty``: no entry sealed yet).
INCLUDED, EXCLUDED, EMPTY = "included", "excluded", "empty"
DIRECTORY_STATUSES = (INCLUDED, EXCLUDED, EMPTY)
# An entry may lack its event in an archive only if it was sealed after the derivation point the
# manifest states *and* less than this before the archive was built (the journal stream derives
# events within seconds; an hour behind means derivation is broken, and the builder refuses).
DERIVATION_GRACE_SECONDS = 3600

BOM = "\ufeff"
DELIMITER = ";"
LINE_END = "\r\n"
CSV_DIALECT = {
    "separator": DELIMITER,
    "decimal_mark": ",",
    "thousands_separator": None,
    "encoding": "UTF-8 with byte-order mark",
    "line_end": "CRLF",
    "quote": '"',
    "dates": "YYYY-MM-DD (local) and RFC 3339 UTC (horodatage_utc)",
}

PAYMENT_METHODS = ("cash", "card", "cheque", "voucher", "transfer", "other")
_PAYMENT_COLUMN = {
    "cash": "paiement_especes",
    "card": "paiement_carte",
    "cheque": "paiement_cheque",
    "voucher": "paiement_bon",
    "transfer": "paiement_virement",
    "other": "paiement_autre",
}
_NATURE = {"sale": "vente", "return": "retour", "journal": "ecriture", "reversal": "annulation",
           "closure": "cloture"}
CLOSURE_LABEL = {"day": "Clôture journalière", "month": "Clôture mensuelle", "year": "Clôture annuelle"}


def country_rates(country: str) -> tuple[int, ...]:
    """Every VAT rate the country has had (basis points, highest first): one column trio each."""
    return tuple(sorted({row.rate_bp for row in RATE_TABLE if row.country == country}, reverse=True))


_RATE_TEXT: dict[int, str] = {}


def rate_text(rate_bp: int) -> str:
    """``2000`` -> ``"20"``, ``550`` -> ``"5,5"``, ``210`` -> ``"2,1"``."""
    if type(rate_bp) is int:  # cached, integers only (a float equal to one must not share its text)
        text = _RATE_TEXT.get(rate_bp)
        if text is not None:
            return text
    whole, part = divmod(rate_bp, 100)
    text = f"{whole}" if part == 0 else f"{whole},{part:02d}".rstrip("0")
    if type(rate_bp) is int and len(_RATE_TEXT) < 4096:
        _RATE_TEXT[rate_bp] = text
    return text


_MONEY: dict[int, str] = {}


def money(cents: int) -> str:
    """``-1234`` -> ``"-12,34"``: decimal comma, no thousands separator."""
    text = _MONEY.get(cents)
    if text is None:
        sign = "-" if cents < 0 else ""
        whole, part = divmod(abs(cents), 100)
        text = f"{sign}{whole},{part:02d}"
        if len(_MONEY) < 65536:
            _MONEY[cents] = text
    return text


_QUANTITY: dict[int, str] = {}


def quantity(milli: int) -> str:
    """Thousandths of a unit: ``1500`` -> ``"1,5"``, ``-2000`` -> ``"-2"``."""
    if type(milli) is int:  # cached, integers only (a float equal to one must not share its text)
        text = _QUANTITY.get(milli)
        if text is not None:
            return text
    sign = "-" if milli < 0 else ""
    whole, part = divmod(abs(milli), 1000)
    decimals = f"{part:03d}".rstrip("0")
    text = f"{sign}{whole},{decimals}" if decimals else f"{sign}{whole}"
    if type(milli) is int and len(_QUANTITY) < 65536:
        _QUANTITY[milli] = text
    return text


def yes_no(value: bool) -> str:
    return "oui" if value else "non"


def canonical_text(value: Any) -> str:
    return encode_trusted(value).decode("utf-8")


def records_path(chain: str) -> str:
    return f"{RECORDS_DIR}{chain}.jsonl"


def key_file(key_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in key_id)
    return f"{KEYS_DIR}{safe}.pem"


def derived_event_kind(record_type: str) -> str:
    return DERIVED_EVENT_KINDS.get(record_type, DERIVED_EVENT_OTHER)


_HEX = frozenset("0123456789abcdef")


def claimed_fingerprint(key_id: str) -> str | None:
    """The fingerprint prefix a key id carries, if any: its last ``:`` part when that is 16 to 64
    lower-case hex digits (``local:signing:3f2a9c41b7e0d5a6``); a bare KMS key ARN carries none.
    The signers' rule (a test keeps the two equal); ``scelle verify`` fails a key that does not
    match the prefix its id claims."""
    last = key_id.rsplit(":", 1)[-1] if ":" in key_id else ""
    return last if 16 <= len(last) <= 64 and set(last) <= _HEX else None


@dataclass(frozen=True)
class Scope:
    """The tenant and period of an export, as the manifest states them."""

    country: str
    time_zone: str
    start_utc: str  # first instant of the first business day (inclusive)
    end_utc: str  # first instant after the last business day (exclusive)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.time_zone))
        object.__setattr__(self, "_rates", country_rates(self.country))
        object.__setattr__(self, "_minutes", {})
        object.__setattr__(self, "_hours", {})

    @property
    def rates(self) -> tuple[int, ...]:
        return self._rates  # type: ignore[attr-defined]

    def covers(self, record: Any) -> bool:
        """Whether a record has rows in ``entries.csv`` / ``lines.csv`` / ``events.csv``: it was
        sealed in the period, ``start_utc <= recorded_at < end_utc``, whatever its type (closures
        too). ``recorded_at`` never decreases along a chain, so a chain's rows are contiguous seqs."""
        return self.start_utc <= record.recorded_at < self.end_utc

    def period_inside(self, record: Any) -> bool:
        """Whether a closure's whole period lies in the export's period (every entry it covers
        was then sealed in the period: its rows are in ``entries.csv``)."""
        data = record.data
        start, end = data.get("period_start"), data.get("period_end")
        return isinstance(start, str) and isinstance(end, str) and self.start_utc <= start and end <= self.end_utc

    def lists_closure(self, record: Any) -> bool:
        """Whether a closure has a row in ``closures.csv``: sealed in the period (its row is in
        ``entries.csv`` too), or sealed after the period's end for a period that lies wholly in
        it (the closure of the last day, or month: closures are sealed after their period)."""
        if record.type != "closure":
            return False
        if self.covers(record):
            return True
        return record.recorded_at >= self.end_utc and self.period_inside(record)

    def local(self, instant: str) -> tuple[str, str]:
        """``(YYYY-MM-DD, HH:MM:SS)`` of a UTC instant in the tenant's time zone. Time-zone offsets
        are whole minutes: the local date and HH:MM are cached per UTC minute, and computed per UTC
        hour (``_hour``) when the offset holds all that hour and the local hour does not change."""
        minute = instant[:16]
        cache = self._minutes  # type: ignore[attr-defined]
        found = cache.get(minute)
        if found is None:
            hour = self._hour(instant)
            at = hour[2] + int(instant[14:16]) if hour is not None else 60
            if at < 60:
                found = (hour[0], f"{hour[1]}:{at:02d}:")
            else:
                found = self._local_minute(instant, int(instant[14:16]))
            if len(cache) > 10_000:
                cache.clear()
            cache[minute] = found
        return found[0], found[1] + instant[17:19]

    def _local_minute(self, instant: str, minute: int) -> tuple[str, str]:
        moment = datetime(int(instant[:4]), int(instant[5:7]), int(instant[8:10]), int(instant[11:13]), minute,
                          tzinfo=UTC).astimezone(self._zone)  # type: ignore[attr-defined]
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}", f"{moment.hour:02d}:{moment.minute:02d}:"

    def _hour(self, instant: str) -> tuple[str, str, int] | None:
        """``(local date, local HH, local minute)`` of the start of the instant's UTC hour, when the
        zone's offset is the same at its first and last minute (None when it changes in it)."""
        hours = self._hours  # type: ignore[attr-defined]
        key = instant[:13]
        if key not in hours:
            start = datetime(int(instant[:4]), int(instant[5:7]), int(instant[8:10]), int(instant[11:13]), tzinfo=UTC)
            first, last = start.astimezone(self._zone), start.replace(minute=59).astimezone(self._zone)  # type: ignore[attr-defined]
            same = first.utcoffset() == last.utcoffset()
            if len(hours) > 10_000:
                hours.clear()
            hours[key] = (f"{first.year:04d}-{first.month:02d}-{first.day:02d}", f"{first.hour:02d}",
                          first.minute) if same else None
        return hours[key]


# ---- headers -----------------------------------------------------------------------------------
def _rate_columns(rates: Sequence[int]) -> list[str]:
    columns = []
    for rate in rates:
        text = rate_text(rate)
        columns += [f"ht_{text}", f"tva_{text}", f"ttc_{text}"]
    return columns


def entries_header(scope: Scope) -> list[str]:
    return [
        "chaine", "seq", "type", "nature", "numero", "horodatage_utc", "date_locale", "heure_locale",
        "date_operation", "caisse", "operateur_id", "operateur", "reference", "libelle",
        *_rate_columns(scope.rates),
        "total_ht", "total_tva", "total_ttc", "debit", "credit",
        *(_PAYMENT_COLUMN[m] for m in PAYMENT_METHODS), "rendu_monnaie",
        "corrige_chaine", "corrige_seq", "corrige_hash", "formation", "hash_precedent", "hash",
    ]


LINES_HEADER = [
    "chaine", "seq", "ligne", "nature", "libelle", "quantite", "prix_unitaire", "remise", "montant", "taux_tva",
    "compte", "libelle_compte", "compte_auxiliaire", "libelle_auxiliaire", "debit", "credit",
]


def closures_header(scope: Scope) -> list[str]:
    return [
        "chaine", "seq", "periodicite", "periode", "fuseau_horaire", "heure_coupure", "debut_utc", "fin_utc",
        "premier_seq", "dernier_seq", "nb_ecritures", "nb_ventes", "nb_retours", "nb_journal", "nb_annulations",
        *_rate_columns(scope.rates),
        "grand_total_periode", "journal_debit", "journal_credit", "grand_total_perpetuel", "taille_merkle",
        "racine_merkle", "cloture_par", "horodatage_utc", "scellee_dans_periode", "periode_incluse",
        "checkpoint_taille", "checkpoint_signature", "formation", "hash",
    ]


EVENTS_HEADER = [
    "seq", "horodatage_utc", "date_locale", "heure_locale", "evenement", "acteur", "details", "formation",
    "hash_precedent", "hash",
]
CHECKPOINTS_HEADER = ["chaine", "taille", "racine", "horodatage_utc", "cle", "signature"]
# The witness's cosignatures (decision 0024): one row per kept cosignature of every exported chain
# up to its exported end, in chain then size order. ``horodatage_utc`` is the cosignature's time;
# the checkpoint it covers is the ``checkpoints.csv`` row of the same chain and size.
COSIGNATURES_HEADER = ["chaine", "taille", "racine", "cle_temoin", "horodatage_utc", "signature"]

# ``keys/keys.json``: each key's role. ``log`` keys sign the checkpoints and the manifest; a
# ``witness`` key only co-signs checkpoints (decision 0024). An entry without a role (archives
# built before the witness) is a log key.
ROLE_LOG, ROLE_WITNESS = "log", "witness"
KEY_ROLES = (ROLE_LOG, ROLE_WITNESS)


# ---- rows --------------------------------------------------------------------------------------
def _actor(value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return str(value.get("user_id") or ""), str(value.get("name") or "")
    return "", ""


_BLANK3 = ("", "", "")
_ZEROS = (0, 0, 0)


def _rate_cells(parts: Any, rates: Sequence[int]) -> list[str]:
    by_rate: dict[int, tuple[int, int, int]] = {}
    for part in parts or ():
        rate = part["rate"]
        if rate not in rates:
            raise ValueError(f"VAT rate {rate} bp is not a rate of this country")
        excl, vat, incl = by_rate.get(rate, _ZEROS)
        by_rate[rate] = (excl + part["excl"], vat + part["vat"], incl + part["incl"])
    cells: list[str] = []
    for rate in rates:
        sums = by_rate.get(rate)
        if sums is None:
            cells += _BLANK3
        else:
            cells += (money(sums[0]), money(sums[1]), money(sums[2]))
    return cells


_PAYMENT_INDEX = {method: index for index, method in enumerate(PAYMENT_METHODS)}


def _payment_cells(payments: Any, change: int) -> list[str]:
    """A cell per payment method (``PAYMENT_METHODS``, the sum of its payments), then the change."""
    by_method: dict[str, int] = {}
    for payment in payments or ():
        method = payment["method"]
        by_method[method] = by_method.get(method, 0) + payment["amount"]
    cells = [""] * (len(PAYMENT_METHODS) + 1)
    if len(by_method) == 1:  # the common case: one method
        for method, amount in by_method.items():
            index = _PAYMENT_INDEX.get(method)
            if index is not None:
                cells[index] = money(amount)
    elif by_method:
        for index, method in enumerate(PAYMENT_METHODS):
            if method in by_method:
                cells[index] = money(by_method[method])
    cells[-1] = money(change)
    return cells


_REGISTER: dict[str, str] = {}  # chain -> its last dotted part (the register's name in a document number)


def _number(chain: str, seq: int) -> str:
    if type(chain) is str:
        register = _REGISTER.get(chain)
        if register is None:
            register = chain.rsplit(".", 1)[-1]
            if len(_REGISTER) < 1024:
                _REGISTER[chain] = register
        return f"{register}/{seq}"
    return f"{chain.rsplit('.', 1)[-1]}/{seq}"


def entry_row(record: Any, scope: Scope) -> list[str]:
    """The ``entries.csv`` row of a ledger record (sale, journal, reversal or closure)."""
    data, kind = record.data, record.type
    local_date, local_time = scope.local(record.recorded_at)
    if kind == "sale":  # most rows: built in place
        nature = _NATURE.get(data["kind"], data["kind"])
        operation_date, register, reference = data["business_date"], data["register_id"], data["client_receipt_id"]
        operator = _actor(data["seller"])
        row = [record.chain, "", kind, nature, "", record.recorded_at, local_date, local_time, operation_date, register,
               operator[0], operator[1], reference, ""]
        row += _rate_cells(data["vat_totals"], scope.rates)
        totals = data["totals"]
        row += (money(totals["excl"]), money(totals["vat"]), money(totals["incl"]), "", "")
        row += _payment_cells(data["payments"], data["change"])
        row[1], row[4] = str(record.seq), _number(record.chain, record.seq)
        row += ("", "", "", yes_no(record.training), record.prev_hash, record.hash)
        return row
    nature = _NATURE.get(kind, kind)
    operation_date = register = reference = label = ""
    operator = ("", "")
    rates, totals, journal = [""] * (3 * len(scope.rates)), ["", "", ""], ["", ""]
    payments, corrected = [""] * (len(PAYMENT_METHODS) + 1), ["", "", ""]
    if kind == "journal":
        operation_date, reference, label = data["piece_date"], data["piece_ref"], data["label"]
        operator = _actor(data["recorded_by"])
        journal = [money(data["total_debit"]), money(data["total_credit"])]
    elif kind == "reversal":
        original, negated = data["original"], data["negated"]
        operator = _actor(data["recorded_by"])
        label = data["reason"]
        corrected = [original["chain"], str(original["seq"]), original["hash"]]
        reference = _number(original["chain"], original["seq"])
        if original["type"] == "sale":
            operation_date, register = negated["business_date"], negated["register_id"]
            rates = _rate_cells(negated["vat_totals"], scope.rates)
            totals = [money(negated["totals"][k]) for k in ("excl", "vat", "incl")]
            payments = _payment_cells(negated["payments"], negated["change"])
        else:
            operation_date = negated["piece_date"]
            journal = [money(negated["total_debit"]), money(negated["total_credit"])]
    elif kind == "closure":
        # No amounts (decision 0023, R6): a closure is not an operation, and its totals (in
        # closures.csv) would be counted twice by any sum over entries.csv.
        operation_date = data["period"]
        label = f"{CLOSURE_LABEL.get(data['kind'], data['kind'])} {data['period']} (totaux dans closures.csv)"
        operator = _actor(data["closed_by"])
    return [
        record.chain, str(record.seq), kind, nature, _number(record.chain, record.seq), record.recorded_at,
        local_date, local_time, operation_date, register, operator[0], operator[1], reference, label,
        *rates, *totals, *journal, *payments, *corrected, yes_no(record.training), record.prev_hash, record.hash,
    ]


def _sale_line_rows(chain: str, seq: int, nature: str, lines: Any) -> list[list[str]]:
    rows = []
    seq_text, index = str(seq), 0
    for line in lines:
        index += 1
        rows.append([chain, seq_text, str(index), nature, line["description"], quantity(line["quantity"]),
                     money(line["unit_price"]), money(line["discount"]), money(line["amount"]),
                     rate_text(line["vat_rate"]), "", "", "", "", "", ""])
    return rows


def _journal_line_rows(chain: str, seq: int, nature: str, lines: Any) -> list[list[str]]:
    rows = []
    for index, line in enumerate(lines, start=1):
        rate = line.get("vat_rate")
        rows.append([
            chain, str(seq), str(index), nature, line.get("label") or "", "", "", "", "",
            rate_text(rate) if rate is not None else "", line["account"], line.get("account_label") or "",
            line.get("aux_account") or "", line.get("aux_label") or "", money(line["debit"]), money(line["credit"]),
        ])
    return rows


def line_rows(record: Any) -> list[list[str]]:
    """The ``lines.csv`` rows of a record: one per receipt or journal line (none for closures)."""
    data, kind = record.data, record.type
    if kind == "sale":
        return _sale_line_rows(record.chain, record.seq, _NATURE.get(data["kind"], data["kind"]), data["lines"])
    if kind == "journal":
        return _journal_line_rows(record.chain, record.seq, "ecriture", data["lines"])
    if kind == "reversal":
        negated = data["negated"]
        if data["original"]["type"] == "sale":
            return _sale_line_rows(record.chain, record.seq, "annulation", negated["lines"])
        return _journal_line_rows(record.chain, record.seq, "annulation", negated["lines"])
    return []


def covering_checkpoint(checkpoints: Sequence[Checkpoint], seq: int) -> Checkpoint | None:
    """The smallest signed checkpoint that covers ``seq`` (checkpoints sorted by size)."""
    for checkpoint in checkpoints:
        if checkpoint.size >= seq:
            return checkpoint
    return None


class ClosureRanges:
    """``premier_seq`` of a chain's closures (decision 0023, R5): the first *entry* a closure
    covers. The sealed ``first_seq`` is the previous closure's ``last_seq + 1``, which is the seq
    of the previous closure record itself (and of a month closure after it, if any): those are not
    entries. Fed every record of one chain in seq order (``see``); a closure comes after the
    records it covers, so when it is seen every closure inside its range has been seen."""

    __slots__ = ("_closures",)

    def __init__(self) -> None:
        self._closures: set[int] = set()

    def see(self, record: Any) -> None:
        if record.type == "closure":
            self._closures.add(record.seq)

    def first_entry(self, data: Any) -> int | None:
        """The first entry of ``[first_seq, last_seq]``; None when the closure covers none."""
        seq, last = data["first_seq"], data["last_seq"]
        if type(seq) is not int or type(last) is not int:
            raise TypeError("first_seq and last_seq must be integers")
        while seq <= last and seq in self._closures:
            seq += 1
        return seq if seq <= last else None


def closure_row(record: Any, scope: Scope, checkpoints: Sequence[Checkpoint], first_entry: int | None) -> list[str]:
    """The ``closures.csv`` row of a closure, with the signed checkpoint that covers it.
    ``first_entry``: ``ClosureRanges.first_entry`` (``premier_seq``; with ``dernier_seq``, empty
    when the closure covers no entry)."""
    data = record.data
    counts = data["counts"]
    covering = covering_checkpoint(checkpoints, record.seq)
    closed_by = _actor(data["closed_by"])[1] or _actor(data["closed_by"])[0]
    covered = first_entry is not None
    return [
        record.chain, str(record.seq), data["kind"], data["period"], data["time_zone"], data["business_day_cutoff"],
        data["period_start"], data["period_end"], str(first_entry) if covered else "",
        str(data["last_seq"]) if covered else "",
        str(data["entry_count"]), str(counts["sale"]), str(counts["return"]), str(counts["journal"]),
        str(counts["reversal"]), *_rate_cells(data["vat_totals"], scope.rates),
        money(data["period_grand_total"]), money(data["journal_totals"]["debit"]),
        money(data["journal_totals"]["credit"]), money(data["perpetual_grand_total"]),
        str(data["merkle_tree_size"]), data["merkle_root"], closed_by,
        record.recorded_at, yes_no(scope.covers(record)), yes_no(scope.period_inside(record)),
        str(covering.size) if covering else "",
        base64.b64encode(covering.signature).decode("ascii") if covering else "", yes_no(record.training),
        record.hash,
    ]


def event_row(record: Any, scope: Scope) -> list[str]:
    data = record.data
    local_date, local_time = scope.local(record.recorded_at)
    details = data.get("details")
    return [
        str(record.seq), record.recorded_at, local_date, local_time, str(data.get("kind", "")),
        str(data.get("actor") or ""), canonical_text(details) if details is not None else "",
        yes_no(record.training), record.prev_hash, record.hash,
    ]


def checkpoint_row(chain: str, checkpoint: Checkpoint) -> list[str]:
    return [chain, str(checkpoint.size), checkpoint.root, checkpoint.timestamp, checkpoint.key_id,
            base64.b64encode(checkpoint.signature).decode("ascii")]


def checkpoint_from_row(chain_key: str, row: Sequence[str]) -> Checkpoint:
    """Rebuild a signed checkpoint from its ``checkpoints.csv`` row (raises on a malformed row)."""
    _, size, root, timestamp, key_id, signature = row
    if not size.isdigit():
        raise ValueError(f"size {size!r} is not a number")
    return Checkpoint(chain_key, int(size), root, timestamp, key_id, base64.b64decode(signature, validate=True))


def cosignature_row(chain: str, cosignature: Any) -> list[str]:
    """The ``cosignatures.csv`` row of a witness's cosignature (``domain.witness.Cosignature``)."""
    return [chain, str(cosignature.size), cosignature.root, cosignature.witness_key_id, cosignature.timestamp,
            base64.b64encode(cosignature.signature).decode("ascii")]


# ---- writing -----------------------------------------------------------------------------------
class _Utf8:
    """A text sink over a binary stream (``csv.writer`` writes one row per call)."""

    def __init__(self, binary) -> None:
        self._binary = binary

    def write(self, text: str) -> int:
        self._binary.write(text.encode("utf-8"))
        return len(text)


class CsvOut:
    """Writes CSV rows in the export dialect to a binary stream, BOM and header first."""

    def __init__(self, binary, header: Sequence[str]) -> None:
        self._sink = _Utf8(binary)
        self._sink.write(BOM)
        self._writer = csv.writer(self._sink, delimiter=DELIMITER, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow(header)
        self.rows = 0

    def write(self, row: Sequence[str]) -> None:
        self._writer.writerow(row)
        self.rows += 1

    def write_many(self, rows: Iterable[Sequence[str]]) -> None:
        for row in rows:
            self.write(row)


def csv_line(row: Sequence[str]) -> str:
    """The text ``CsvOut.write`` writes for ``row``, line end included: the cells joined by the
    delimiter when none needs quoting (one check on the joined text), else csv.writer's own output."""
    text = DELIMITER.join(row)
    if text.count(DELIMITER) == len(row) - 1 and '"' not in text and "\r" not in text and "\n" not in text:
        return text + LINE_END
    out = io.StringIO()
    csv.writer(out, delimiter=DELIMITER, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL).writerow(row)
    return out.getvalue()


def csv_reader(text_stream):
    """A reader of the export dialect over a text stream opened with ``newline=""``."""
    return csv.reader(text_stream, delimiter=DELIMITER, strict=True)


# ---- strict JSON -------------------------------------------------------------------------------
class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate key {key!r}")
        result[key] = value
    return result


def strict_json(text: str | bytes) -> Any:
    """Parse JSON refusing duplicate object keys (``DuplicateKey``) and NaN / infinities."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not allowed")

    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=refuse)
