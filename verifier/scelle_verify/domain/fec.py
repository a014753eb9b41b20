"""The FEC (fichier des écritures comptables, art. A47 A-1 LPF): postings, file text and checks.

Pure Python (standard library only), so the export builder and the offline verifier produce
byte-identical files from the same sealed records.

* **Postings.** Journal entries are posted line by line as recorded. A sale receipt becomes one
  entry of the sales journal through the tenant's account mapping: a credit per VAT rate on a
  sales account (70xxxx) for the amount excluding VAT and on a VAT-collected account (44571x)
  for the VAT, a debit per payment method (cash net of the change given back). A return or a
  reversal has negative amounts, which are posted on the other side (a counter-entry); a
  reversal is posted on the date it was recorded and references what it cancels.
* **File.** The 18 columns in the official order, tab separated, one line per posting line,
  CRLF line ends, ISO 8859-15 (the A47 A-1 character sets are ASCII, ISO 8859-15 and EBCDIC;
  characters outside it are transliterated, see ``fec_text``), dates ``AAAAMMJJ``, amounts with
  a decimal comma and no thousands separator, never negative (the side carries the sign).
  ``EcritureNum`` is a continuous sequence per journal in chronological order of validation.
* **Checks.** ``FecValidator`` applies, line by line, the rules that the administration's own
  checker (Test Compta Demat) applies; an export is refused with every reason when one fails.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from scelle_verify.domain.calendar import business_day_of
from scelle_verify.domain.identifiers import is_monaco_number, luhn_valid
from scelle_verify.domain.records import parse_timestamp

COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
SEPARATOR = "\t"
LINE_END = "\r\n"
ENCODING = "iso-8859-15"
MANDATORY = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "ValidDate",
)
DATE_COLUMNS = ("EcritureDate", "PieceDate", "DateLet", "ValidDate")
_AMOUNT = re.compile(r"[0-9]+,[0-9]{2}")
_DATE = re.compile(r"[0-9]{8}")
_ACCOUNT = re.compile(r"[1-9][0-9A-Za-z]{2,19}")
_FILE_NAME = re.compile(r"([0-9]{9})FEC([0-9]{8})")
_COL = {name: index for index, name in enumerate(COLUMNS)}


# ---- account mapping -------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountMapping:
    """Where a sale receipt is posted. ``sales`` and ``vat`` map a VAT rate (basis points) to
    ``(account, label)``; ``payments`` a payment method. A rate of 0 has no VAT account."""

    country: str
    sales_journal: tuple[str, str]
    sales: Mapping[int, tuple[str, str]]
    vat: Mapping[int, tuple[str, str]]
    payments: Mapping[str, tuple[str, str]]

    def labels(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for table in (self.sales, self.vat, self.payments):
            for account, label in table.values():
                found.setdefault(account, label)
        return found


DEFAULT_MAPPINGS: dict[str, AccountMapping] = {
    # French PCG. One sales and one VAT-collected account per rate, so that the FEC gives the
    # VAT return's bases directly; historic rates keep their own accounts.
    "FR": AccountMapping(
        country="FR",
        sales_journal=("VE", "Ventes caisse"),
        sales={
            2000: ("707020", "Ventes de marchandises TVA 20 %"),
            1960: ("707196", "Ventes de marchandises TVA 19,6 %"),
            1000: ("707010", "Ventes de marchandises TVA 10 %"),
            700: ("707070", "Ventes de marchandises TVA 7 %"),
            550: ("707055", "Ventes de marchandises TVA 5,5 %"),
            210: ("707021", "Ventes de marchandises TVA 2,1 %"),
            0: ("707000", "Ventes de marchandises exonérées"),
        },
        vat={
            2000: ("445711", "TVA collectée 20 %"),
            1960: ("445716", "TVA collectée 19,6 %"),
            1000: ("445712", "TVA collectée 10 %"),
            700: ("445717", "TVA collectée 7 %"),
            550: ("445713", "TVA collectée 5,5 %"),
            210: ("445714", "TVA collectée 2,1 %"),
        },
        payments={
            "cash": ("530000", "Caisse"),
            "card": ("511500", "Cartes bancaires à l'encaissement"),
            "cheque": ("511200", "Chèques à l'encaissement"),
            "voucher": ("419100", "Bons d'achat et avoirs clients"),
            "transfer": ("512000", "Banque"),
            "other": ("471000", "Compte d'attente"),
        },
    ),
    # Belgian PCMN/MAR (used by the Belgian CSV views and ready for an accounting export).
    "BE": AccountMapping(
        country="BE",
        sales_journal=("VE", "Ventes caisse"),
        sales={
            2100: ("700021", "Ventes TVA 21 %"),
            1200: ("700012", "Ventes TVA 12 %"),
            600: ("700006", "Ventes TVA 6 %"),
            0: ("700000", "Ventes à 0 % ou exemptées"),
        },
        vat={
            2100: ("451021", "TVA due 21 %"),
            1200: ("451012", "TVA due 12 %"),
            600: ("451006", "TVA due 6 %"),
        },
        payments={
            "cash": ("570000", "Caisse"),
            "card": ("580000", "Virements internes (cartes)"),
            "cheque": ("580000", "Virements internes (chèques)"),
            "voucher": ("489000", "Bons d'achat émis"),
            "transfer": ("550000", "Banque"),
            "other": ("499000", "Compte d'attente"),
        },
    ),
}

JOURNAL_LABELS = {
    "VE": "Ventes",
    "VT": "Ventes",
    "AC": "Achats",
    "HA": "Achats",
    "BQ": "Banque",
    "CA": "Caisse",
    "OD": "Opérations diverses",
    "AN": "À-nouveaux",
    "SA": "Salaires",
}
_CLASS_LABELS = {
    "1": "capitaux",
    "2": "immobilisations",
    "3": "stocks",
    "4": "tiers",
    "5": "financier",
    "6": "charges",
    "7": "produits",
    "8": "comptes spéciaux",
}


def mapping_for(country: str) -> AccountMapping:
    """The tenant's account mapping: the country default (per-tenant overrides come later)."""
    try:
        return DEFAULT_MAPPINGS[country]
    except KeyError:
        raise ValueError(f"no default account mapping for country {country!r}") from None


# ---- postings ----------------------------------------------------------------------------------
class FecError(ValueError):
    """A record cannot be posted (its payload lacks what the posting needs)."""


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    account_label: str
    aux_account: str
    aux_label: str
    label: str
    debit: int
    credit: int


@dataclass(frozen=True, slots=True)
class Posting:
    """One accounting entry (écriture): what one sealed record posts."""

    chain: str
    seq: int
    journal_code: str
    journal_label: str
    entry_date: date
    piece_ref: str
    piece_date: date
    label: str
    valid_date: date
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class FecContext:
    """The tenant and period a FEC is made for. Entries are in scope when their ``EcritureDate``
    is in ``[first_day, last_day]``; ``last_day`` is the closing date of the file name."""

    siren: str
    country: str
    time_zone: str
    cutoff: time
    first_day: date
    last_day: date
    mapping: AccountMapping = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.mapping is None:
            object.__setattr__(self, "mapping", mapping_for(self.country))

    @property
    def file_name(self) -> str:
        return file_name(self.siren, self.last_day)


def file_name(siren: str, closing: date) -> str:
    """``<SIREN>FEC<AAAAMMJJ>.txt`` (the closing date of the period)."""
    return f"{siren}FEC{closing:%Y%m%d}.txt"


def business_day(recorded_at: str, time_zone: str, cutoff: time) -> date:
    """The business day of a ``recorded_at`` instant in the tenant's zone with its cut-off."""
    return business_day_of(parse_timestamp(recorded_at), time_zone, cutoff)


def _get(data: Any, key: str, path: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise FecError(f"{path}.{key} is missing")
    return data[key]


def _int(data: Any, key: str, path: str) -> int:
    value = _get(data, key, path)
    if type(value) is not int:
        raise FecError(f"{path}.{key} must be an integer")
    return value


def _day(text: Any, path: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise FecError(f"{path} is not a date") from None


def _signed(account: str, label: str, amount: int, text: str, *, credit_side: bool) -> Line | None:
    """A line for ``amount`` on its natural side (credit when ``credit_side``); a negative amount
    goes to the other side; zero gives no line."""
    if amount == 0:
        return None
    if (amount > 0) == credit_side:
        return Line(account, label, "", "", text, 0, abs(amount))
    return Line(account, label, "", "", text, abs(amount), 0)


def _sale_lines(data: Any, mapping: AccountMapping, path: str, text: str) -> list[Line]:
    lines: list[Line] = []
    parts = _get(data, "vat_totals", path)
    if not isinstance(parts, list):
        raise FecError(f"{path}.vat_totals must be a list")
    for index, part in enumerate(parts):
        where = f"{path}.vat_totals.{index}"
        rate = _int(part, "rate", where)
        if rate not in mapping.sales:
            raise FecError(f"no sales account is mapped for VAT rate {rate} bp ({mapping.country})")
        sales = _signed(*mapping.sales[rate], _int(part, "excl", where), text, credit_side=True)
        vat_amount = _int(part, "vat", where)
        if vat_amount and rate not in mapping.vat:
            raise FecError(f"no VAT account is mapped for VAT rate {rate} bp ({mapping.country})")
        vat = _signed(*mapping.vat[rate], vat_amount, text, credit_side=True) if vat_amount else None
        lines += [line for line in (sales, vat) if line is not None]
    by_method: dict[str, int] = {}
    payments = _get(data, "payments", path)
    if not isinstance(payments, list):
        raise FecError(f"{path}.payments must be a list")
    for index, payment in enumerate(payments):
        method = _get(payment, "method", f"{path}.payments.{index}")
        by_method[method] = by_method.get(method, 0) + _int(payment, "amount", f"{path}.payments.{index}")
    change = _int(data, "change", path)
    if change:
        by_method["cash"] = by_method.get("cash", 0) - change
    for method in sorted(by_method):
        if method not in mapping.payments:
            raise FecError(f"no account is mapped for payment method {method!r}")
        line = _signed(*mapping.payments[method], by_method[method], text, credit_side=False)
        if line is not None:
            lines.append(line)
    return lines


def _account_label(account: str, given: Any, mapping: AccountMapping) -> str:
    if isinstance(given, str) and given.strip():
        return given
    known = mapping.labels().get(account)
    if known:
        return known
    return f"Compte {account} ({_CLASS_LABELS.get(account[:1], 'divers')})"


def _journal_lines(data: Any, mapping: AccountMapping, path: str, default_label: str) -> list[Line]:
    raw = _get(data, "lines", path)
    if not isinstance(raw, list):
        raise FecError(f"{path}.lines must be a list")
    lines = []
    for index, line in enumerate(raw):
        where = f"{path}.lines.{index}"
        account = _get(line, "account", where)
        if not isinstance(account, str):
            raise FecError(f"{where}.account must be a string")
        debit, credit = _int(line, "debit", where), _int(line, "credit", where)
        if debit == 0 and credit == 0:
            continue
        aux = line.get("aux_account") or ""
        lines.append(
            Line(
                account,
                _account_label(account, line.get("account_label"), mapping),
                aux,
                (line.get("aux_label") or "") if aux else "",
                line.get("label") or default_label,
                debit,
                credit,
            )
        )
    return lines


def _journal_label(code: str, given: Any) -> str:
    if isinstance(given, str) and given.strip():
        return given
    return JOURNAL_LABELS.get(code, f"Journal {code}")


def _register(chain: str) -> str:
    return chain.rsplit(".", 1)[-1]


def posting(record: Any, ctx: FecContext) -> Posting | None:
    """What a sealed record posts to the FEC, or None (closures, events, zero receipts).

    ``record`` is a ``SealedRecord`` (or anything with its attributes). Raises ``FecError`` when
    the payload cannot be posted.
    """
    mapping, kind, data = ctx.mapping, record.type, record.data
    valid = business_day(record.recorded_at, ctx.time_zone, ctx.cutoff)
    if kind == "sale":
        register = _register(record.chain)
        what = "Retour" if data.get("kind") == "return" else "Ticket"
        text = f"{what} {register} n° {record.seq}"
        lines = _sale_lines(data, mapping, "data", text)
        journal_code, journal_label = mapping.sales_journal
        return _posting(record, journal_code, journal_label, valid, f"{register}-{record.seq}",
                        _day(_get(data, "business_date", "data"), "data.business_date"), text, valid, lines)
    if kind == "journal":
        code = _get(data, "journal_code", "data")
        label = _get(data, "label", "data")
        piece_date = _day(_get(data, "piece_date", "data"), "data.piece_date")
        lines = _journal_lines(data, mapping, "data", label)
        return _posting(record, code, _journal_label(code, data.get("journal_label")), piece_date,
                        _get(data, "piece_ref", "data"), piece_date, label, valid, lines)
    if kind == "reversal":
        original = _get(data, "original", "data")
        negated = _get(data, "negated", "data")
        reason = " ".join(str(_get(data, "reason", "data")).split())
        original_type = _get(original, "type", "data.original")
        original_seq = _get(original, "seq", "data.original")
        if original_type == "sale":
            register = _register(record.chain)
            text = f"Annulation ticket {register} n° {original_seq} : {reason}"
            lines = _sale_lines(negated, mapping, "data.negated", text)
            journal_code, journal_label = mapping.sales_journal
            return _posting(record, journal_code, journal_label, valid, f"{register}-{record.seq}", valid, text,
                            valid, lines)
        if original_type == "journal":
            code = _get(negated, "journal_code", "data.negated")
            piece_ref = _get(negated, "piece_ref", "data.negated")
            text = f"Annulation {piece_ref} : {reason}"
            lines = _journal_lines(negated, mapping, "data.negated", text)
            lines = [Line(ln.account, ln.account_label, ln.aux_account, ln.aux_label, text, ln.debit, ln.credit)
                     for ln in lines]
            return _posting(record, code, _journal_label(code, negated.get("journal_label")), valid, piece_ref,
                            valid, text, valid, lines)
        raise FecError(f"data.original.type {original_type!r} cannot be posted")
    return None


def _posting(record, code, journal_label, entry_date, piece_ref, piece_date, label, valid, lines) -> Posting | None:
    if not lines:
        return None
    return Posting(record.chain, record.seq, code, journal_label, entry_date, str(piece_ref), piece_date, label,
                   valid, tuple(lines))


def in_scope(post: Posting, ctx: FecContext) -> bool:
    return ctx.first_day <= post.entry_date <= ctx.last_day


# ---- text ------------------------------------------------------------------------------------
_REPLACEMENTS = str.maketrans({
    "\t": " ", "\r": " ", "\n": " ", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "-", "\u00b7": ".", "\u2026": "...", "\u00a0": " ", "\u202f": " ",
})


def fec_text(value: str) -> str:
    """A label as the FEC can carry it: no tab or line break (they would break the format),
    characters outside ISO 8859-15 transliterated (accents kept when the character set has
    them, else the base letter), anything else as ``?``. The CSV views keep the exact text."""
    value = value.translate(_REPLACEMENTS).strip()
    try:
        value.encode(ENCODING)
        return value
    except UnicodeEncodeError:
        pass
    out = []
    for char in value:
        try:
            char.encode(ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            try:
                base.encode(ENCODING)
                out.append(base or "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


def amount(cents: int) -> str:
    """``123456`` -> ``"1234,56"``: decimal comma, no thousands separator, never negative."""
    whole, part = divmod(abs(cents), 100)
    return f"{whole},{part:02d}"


def header() -> str:
    return SEPARATOR.join(COLUMNS)


def posting_rows(post: Posting, number: int) -> list[list[str]]:
    """The FEC rows (18 fields each) of a posting numbered ``number`` in its journal."""
    rows = []
    for line in post.lines:
        rows.append([
            fec_text(post.journal_code),
            fec_text(post.journal_label),
            str(number),
            f"{post.entry_date:%Y%m%d}",
            line.account,
            fec_text(line.account_label),
            fec_text(line.aux_account),
            fec_text(line.aux_label),
            fec_text(post.piece_ref),
            f"{post.piece_date:%Y%m%d}",
            fec_text(line.label or post.label),
            amount(line.debit),
            amount(line.credit),
            "",
            "",
            f"{post.valid_date:%Y%m%d}",
            "",
            "",
        ])
    return rows


@dataclass(frozen=True, slots=True)
class FecRow:
    """One line of the FEC file with the record it comes from (for reports)."""

    chain: str
    seq: int
    text: str


def fec_rows(chains: Mapping[str, Iterable[Any]], ctx: FecContext) -> Iterator[FecRow]:
    """The FEC's data lines (without the header), from each ledger chain's records in seq order.

    Records are merged across chains in chronological order of validation (``recorded_at``,
    then chain name, then seq), so the output is deterministic and streams in constant memory
    (one record per chain at a time). Postings outside ``[first_day, last_day]`` are left out.
    """
    numbers: dict[str, int] = {}

    def keyed(name: str, records: Iterable[Any]) -> Iterator[tuple[str, str, int, Any]]:
        for record in records:
            yield record.recorded_at, name, record.seq, record

    merged = heapq.merge(*(keyed(name, records) for name, records in sorted(chains.items())))
    for _, _, _, record in merged:
        post = posting(record, ctx)
        if post is None or not in_scope(post, ctx):
            continue
        number = numbers[post.journal_code] = numbers.get(post.journal_code, 0) + 1
        for row in posting_rows(post, number):
            yield FecRow(record.chain, record.seq, SEPARATOR.join(row))


def encode_line(text: str) -> bytes:
    return (text + LINE_END).encode(ENCODING)


# ---- checks (what Test Compta Demat checks) -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class FecProblem:
    line: int  # 1-based line of the file (the header is line 1); 0 for the file itself
    column: str
    rule: str
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        column = f", {self.column}" if self.column else ""
        return f"{where}{column}: [{self.rule}] {self.detail}"


def _valid_date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _cents(text: str) -> int:
    whole, part = text.split(",")
    return int(whole) * 100 + int(part)


class FecValidator:
    """Feed the file's lines in order (``feed``), then ``finish()``: every problem found.

    Rules: the file name (``<SIREN>FEC<AAAAMMJJ>``, SIREN with a valid key, the closing date);
    the header (18 names in order); each line has 18 fields separated by tabs; mandatory fields
    are never empty; dates are real ``AAAAMMJJ`` dates; amounts have a decimal comma, two
    decimals, no sign or thousands separator; exactly one of Debit / Credit is non-zero (no
    zero line); an entry's lines are contiguous and share their date; each entry balances,
    and so does the file; paired fields (CompAuxNum/CompAuxLib, EcritureLet/DateLet,
    Montantdevise/Idevise) are both filled or both empty; account numbers start with a class
    digit 1 to 9 and have 3 to 20 characters; entry dates lie in the period; validation dates
    never go backwards (chronological order); entry numbers never go backwards within a journal.
    Stops collecting after ``limit`` problems.
    """

    def __init__(self, *, first_day: date | None = None, last_day: date | None = None, limit: int = 100) -> None:
        self.first_day, self.last_day, self.limit = first_day, last_day, limit
        self.problems: list[FecProblem] = []
        self.lines = 0
        self.entries = 0
        self.debit = 0
        self.credit = 0
        self._current: tuple[str, str] | None = None
        self._current_start = 0
        self._current_date = ""
        self._balance = [0, 0]
        self._seen: set[tuple[str, str]] = set()
        self._last_number: dict[str, int] = {}
        self._last_valid = ""

    def _add(self, line: int, column: str, rule: str, detail: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(FecProblem(line, column, rule, detail))

    def check_file_name(self, name: str, *, siren: str | None = None, closing: date | None = None) -> None:
        stem = name[:-4] if name.lower().endswith(".txt") else name
        match = _FILE_NAME.fullmatch(stem)
        if match is None:
            self._add(0, "", "file_name", f"{name!r} is not <SIREN>FEC<AAAAMMJJ>.txt")
            return
        if not (luhn_valid(match.group(1)) or is_monaco_number(match.group(1))):  # Monaco: no check digit
            self._add(0, "", "file_name", f"SIREN {match.group(1)} has an invalid check digit")
        if siren is not None and match.group(1) != siren:
            self._add(0, "", "file_name", f"SIREN {match.group(1)} is not the company's ({siren})")
        if _valid_date(match.group(2)) is None:
            self._add(0, "", "file_name", f"closing date {match.group(2)} is not a valid AAAAMMJJ date")
        elif closing is not None and match.group(2) != f"{closing:%Y%m%d}":
            self._add(0, "", "file_name", f"closing date {match.group(2)} is not the period's end {closing:%Y%m%d}")

    def feed(self, text: str) -> None:
        self.lines += 1
        number = self.lines
        if number == 1:
            if text != header():
                self._add(1, "", "header", "the first line must be the 18 column names, in order, tab separated")
            return
        if "|" in text and SEPARATOR not in text:
            self._add(number, "", "separator", "fields are separated by '|'; this file uses tabs")
            return
        fields = text.split(SEPARATOR)
        if len(fields) != len(COLUMNS):
            self._add(number, "", "field_count", f"{len(fields)} fields, the FEC has {len(COLUMNS)}")
            return
        row = dict(zip(COLUMNS, fields, strict=True))
        for name in MANDATORY:
            if not row[name].strip():
                self._add(number, name, "mandatory", f"{name} is empty")
        for name in DATE_COLUMNS:
            if row[name] and _valid_date(row[name]) is None:
                self._add(number, name, "date", f"{row[name]!r} is not a valid AAAAMMJJ date")
        amounts_ok = True
        for name in ("Debit", "Credit", "Montantdevise"):
            if row[name] and not _AMOUNT.fullmatch(row[name]):
                amounts_ok = False
                self._add(number, name, "amount", f"{row[name]!r} is not an amount like 1234,56 (decimal comma, "
                                                  "no sign, no thousands separator)")
        debit = _cents(row["Debit"]) if amounts_ok and row["Debit"] else 0
        credit = _cents(row["Credit"]) if amounts_ok and row["Credit"] else 0
        if amounts_ok and (debit == 0) == (credit == 0):
            what = "both Debit and Credit are zero (a zero line)" if debit == 0 else "both Debit and Credit are set"
            self._add(number, "Debit", "one_side", what)
        for a, b in (("CompAuxNum", "CompAuxLib"), ("EcritureLet", "DateLet"), ("Montantdevise", "Idevise")):
            if bool(row[a].strip()) != bool(row[b].strip()):
                self._add(number, a if not row[a].strip() else b, "paired", f"{a} and {b} go together")
        if row["CompteNum"] and not _ACCOUNT.fullmatch(row["CompteNum"]):
            self._add(number, "CompteNum", "account", f"{row['CompteNum']!r} is not an account number "
                                                      "(3 to 20 characters, starting with a class digit)")
        entry_date = _valid_date(row["EcritureDate"])
        if entry_date is not None:
            if self.first_day is not None and entry_date < self.first_day:
                self._add(number, "EcritureDate", "period", f"{row['EcritureDate']} is before the period")
            if self.last_day is not None and entry_date > self.last_day:
                self._add(number, "EcritureDate", "period", f"{row['EcritureDate']} is after the closing date")
        if row["ValidDate"] and _valid_date(row["ValidDate"]) is not None:
            if row["ValidDate"] < self._last_valid:
                self._add(number, "ValidDate", "chronology", f"{row['ValidDate']} comes after {self._last_valid}: "
                                                             "entries are in chronological order of validation")
            self._last_valid = max(self._last_valid, row["ValidDate"])
        key = (row["JournalCode"], row["EcritureNum"])
        if key != self._current:
            self._close_entry()
            if key in self._seen:
                self._add(number, "EcritureNum", "contiguous",
                          f"entry {key[1]} of journal {key[0]} appears again after other entries")
            self._seen.add(key)
            if row["EcritureNum"].isdigit():
                value = int(row["EcritureNum"])
                last = self._last_number.get(key[0], 0)
                if value <= last:
                    self._add(number, "EcritureNum", "sequence",
                              f"entry number {value} of journal {key[0]} comes after {last}")
                self._last_number[key[0]] = value
            self._current, self._current_start, self._current_date = key, number, row["EcritureDate"]
            self.entries += 1
        elif row["EcritureDate"] != self._current_date:
            self._add(number, "EcritureDate", "entry_date",
                      f"entry {key[1]} has lines dated {self._current_date} and {row['EcritureDate']}")
        self._balance[0] += debit
        self._balance[1] += credit
        self.debit += debit
        self.credit += credit

    def _close_entry(self) -> None:
        if self._current is not None and self._balance[0] != self._balance[1]:
            code, num = self._current
            self._add(self._current_start, "Debit", "balance",
                      f"entry {num} of journal {code} does not balance: debit {amount(self._balance[0])}, "
                      f"credit {amount(self._balance[1])}")
        self._balance = [0, 0]

    def finish(self) -> list[FecProblem]:
        self._close_entry()
        self._current = None
        if self.lines == 0:
            self._add(0, "", "header", "the file is empty")
        if self.debit != self.credit:
            self._add(0, "", "balance", f"the file does not balance: debit {amount(self.debit)}, "
                                        f"credit {amount(self.credit)}")
        return self.problems


def validate_text(text: str, *, name: str | None = None, siren: str | None = None,
                  first_day: date | None = None, last_day: date | None = None) -> list[FecProblem]:
    """Every problem of a whole FEC given as text (CRLF or LF line ends); for tests and tools."""
    validator = FecValidator(first_day=first_day, last_day=last_day)
    if name is not None:
        validator.check_file_name(name, siren=siren, closing=last_day)
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    for line in body.replace("\r\n", "\n").split("\n") if body else []:
        validator.feed(line)
    return validator.finish()
