"""Ledger routes: sales, journal entries, reversals, entries with proofs, closures."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import AfterValidator, BaseModel, Field, StrictBool, WithJsonSchema

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import (
    DATE_SCHEMA,
    INSTANT_SCHEMA,
    Amount,
    ChainName,
    Percent,
    Quantity,
    StrictModel,
    TimeBound,
    date_text,
    domain_rule,
    instant_text,
    ledger_text,
)
from chalicelib.domain import journal, sales
from chalicelib.domain.entries import calendar_date, instant, text
from chalicelib.domain.errors import Forbidden
from chalicelib.domain.identity import Caller
from chalicelib.domain.permissions import Permission, allows
from chalicelib.domain.reversals import MAX_REASON
from chalicelib.wiring import Service

ledger_bp = Blueprint(__name__)
TAGS = ("ledger",)
IDEMPOTENCY_HEADER = "idempotency-key"


# ---- request schemas (types and shapes; the domain checks every business rule) ----------------
# Each field's own rule is the domain's (``domain_rule``): pydantic then lists every field at fault
# in one answer, in the domain's words. Rules across fields (a return's negative line, the VAT rate
# on the sale's date, totals, payments, balance) stay with the domain, once the fields are right.
def _checked(check) -> AfterValidator:
    return AfterValidator(domain_rule(lambda value: check(value, "")))


def _label(max_length: int, what: str) -> AfterValidator:
    return _checked(lambda value, field: text(value, field, what=what, max_length=max_length, required=False))


def _id(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": f"^{pattern}$"})


OptionalLabel = Annotated[str, Field(max_length=journal.MAX_LABEL), ledger_text(journal.MAX_LABEL, required=False)]


class SaleLine(StrictModel):
    description: Annotated[str, _checked(sales.check_description), ledger_text(sales.MAX_DESCRIPTION)] = Field(
        max_length=sales.MAX_DESCRIPTION)
    quantity: Quantity = Field(description="up to 3 decimals; negative only in a return")
    unit_price: Amount
    vat_rate: Percent = Field(description='percent, e.g. "21" or "5.5"; must be legal on the sale date')
    discount: Amount | None = None


class Payment(StrictModel):
    method: Literal["cash", "card", "cheque", "voucher", "transfer", "other"]
    amount: Amount
    reference: Annotated[str, _checked(sales.check_reference), ledger_text(sales.MAX_REFERENCE, required=False)
                         ] | None = Field(None, max_length=sales.MAX_REFERENCE)


class SaleIn(StrictModel):
    kind: Literal["sale", "return"] = "sale"
    client_receipt_id: Annotated[str, _checked(sales.check_client_receipt_id),
                                 _id(sales.CLIENT_RECEIPT_ID.pattern)] = Field(
        description="the till's own receipt id: a re-sent receipt is recorded once")
    register_id: Annotated[str, _checked(sales.check_register_id), _id(sales.REGISTER_ID.pattern)] = Field(
        description="1-32 letters, digits, '-' or '_'; each register has its own chain")
    occurred_at: Annotated[str, AfterValidator(instant_text), _checked(lambda v, f: instant(v, f, what="occurred_at")),
                           WithJsonSchema(INSTANT_SCHEMA)] = Field(description="RFC 3339 time of the sale on the till")
    # strict: "false" was read as false, 0 and "no" too (pydantic's lax booleans)
    prices_include_vat: StrictBool = True
    rounding_policy: Literal["document", "line"] = "document"
    lines: list[SaleLine] = Field(min_length=1, max_length=500)
    payments: list[Payment] = Field(default_factory=list, max_length=20)
    expected_total: Amount | None = Field(None, description="if sent, must equal the computed total incl. VAT")


class JournalLine(StrictModel):
    account: Annotated[str, _checked(journal.check_account), _id(journal.ACCOUNT.pattern)]
    account_label: Annotated[OptionalLabel, _label(journal.MAX_LABEL, "Account label")] | None = None
    aux_account: Annotated[str, _checked(journal.check_aux_account), _id(journal.AUX_ACCOUNT.pattern)] | None = None
    aux_label: Annotated[OptionalLabel, _label(journal.MAX_LABEL, "Auxiliary account label")] | None = None
    label: Annotated[OptionalLabel, _label(journal.MAX_LABEL, "Line label")] | None = None
    debit: Amount | None = None
    credit: Amount | None = None
    vat_rate: Percent | None = None


class JournalEntryIn(StrictModel):
    journal_code: Annotated[str, _checked(journal.check_journal_code), _id(journal.JOURNAL_CODE.pattern)]
    journal_label: Annotated[OptionalLabel, _label(journal.MAX_LABEL, "Journal label")] | None = None
    piece_ref: Annotated[str, Field(max_length=journal.MAX_PIECE_REF), _checked(journal.check_piece_ref),
                         ledger_text(journal.MAX_PIECE_REF)]
    piece_date: Annotated[str, AfterValidator(date_text), _checked(lambda v, f: calendar_date(v, f, what="Piece date")),
                          WithJsonSchema(DATE_SCHEMA)] = Field(description="YYYY-MM-DD, not in the future")
    label: Annotated[str, Field(max_length=journal.MAX_LABEL), _checked(journal.check_label),
                     ledger_text(journal.MAX_LABEL)]
    lines: list[JournalLine] = Field(min_length=2, max_length=journal.MAX_LINES)


class JournalBatchIn(StrictModel):
    entries: list[JournalEntryIn] = Field(min_length=1, max_length=99,
                                          description="1 to 99 entries, sealed together or not at all")


class ReversalIn(StrictModel):
    reason: Annotated[str, ledger_text(MAX_REASON, multiline=True)] = Field(min_length=1, max_length=MAX_REASON)


class ClosureIn(StrictModel):
    chain: ChainName
    kind: Literal["day", "month", "year"]
    period: str = Field(description="2026-11-23 (day), 2026-11 (month) or 2026 (year)")


class EntriesQuery(StrictModel):
    chain: ChainName
    from_: TimeBound | None = Field(None, alias="from", description="lower bound of recorded_at (inclusive): "
                                    "YYYY-MM-DD (00:00 UTC) or RFC 3339 with an offset; default: none")
    to: TimeBound | None = Field(None, description="upper bound of recorded_at (exclusive): YYYY-MM-DD (00:00 UTC) "
                                 "or RFC 3339 with an offset; default: none")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = None
    order: Literal["asc", "desc"] = Field("asc", description="asc: oldest first; desc: newest first (a till's "
                                                             "recent sales); a cursor continues in its own order")


class ChainQuery(StrictModel):
    chain: ChainName


SALE_RULES = {
    "lines": "each VAT rate legal in the tenant's country on the sale's business day; negative quantities in a "
             "return only (every line of a return); a discount within its line; amounts within 100000000000.00; "
             "the sale at most 350,000 bytes once sealed",
    "payments": "add up to the total incl. VAT (cash may exceed it: the change)",
    "expected_total": "equals the computed total incl. VAT",
    "occurred_at": "not more than 5 minutes ahead of the server's clock",
}
JOURNAL_RULES = {
    "entries": "at most 3,800,000 bytes together once sealed",
    "entries.*.lines": "each line a debit or a credit (not both, not zero); debits equal credits; each entry at most "
                       "350,000 bytes once sealed",
    "entries.*.piece_date": "not in the future",
}


# ---- response schemas ------------------------------------------------------------------------
class CheckpointCover(BaseModel):
    covered: bool
    size: int = Field(description="the checkpoint size that covers (or will cover) this entry")
    signed_within_seconds: int


class Entry(BaseModel):
    chain: str
    seq: int
    type: str
    recorded_at: str
    training: bool = Field(description="true for test-mode data: never an official document")
    hash: str
    prev_hash: str
    hash_version: int
    data: dict[str, Any]


class ReceiptProof(BaseModel):
    code: str = Field(description="short verification code printed on the receipt")
    qr: str = Field(description="URL to encode as the receipt's QR code and to print as its check URL: the web "
                                "console's public check page, <public_base_url>/check?t=&c=&s=&h= (for people)")
    verify_url: str = Field(description="the same check as JSON, GET <public_base_url>/v1/verify/receipt?t=&c=&s=&h= "
                                        "(for programs)")


class Accepted(Entry):
    checkpoint: CheckpointCover
    receipt_proof: ReceiptProof | None = Field(None, description="sales only")


class AcceptedBatch(BaseModel):
    entries: list[Accepted]


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    root: str
    hashes: list[str]
    checkpoint: str


class ListedEntry(Entry):
    receipt_proof: ReceiptProof | None = Field(None, description="sales only: the receipt's code and QR payload, "
                                                                 "as recording it answered them (to print it again)")


class EntryWithProof(ListedEntry):
    proof: InclusionProof | None = Field(description="null until a signed checkpoint covers the entry")
    integrity: Literal["verified", "pending", "altered"] = Field(
        description="verified: a signed checkpoint's root includes the entry and the stream verifier has checked "
                    "it; pending: not verified yet; altered: a tamper alarm names this chain at or before this "
                    "entry, or the proof does not reach the signed root")


class EntryPage(BaseModel):
    entries: list[ListedEntry]
    next_cursor: str | None


class ClosureList(BaseModel):
    closures: list[Entry]


def _idempotency_key() -> str | None:
    return (ledger_bp.current_request.headers or {}).get(IDEMPOTENCY_HEADER)


@endpoint(ledger_bp, "POST", "/v1/tenants/{tenant_id}/sales", summary="Record a sale receipt (sealed)",
          tags=TAGS, body=SaleIn, response=Accepted, status=201, permission=Permission.SALE_RECORD,
          idempotent=True, errors=(409,), rules=SALE_RULES)
def record_sale(tenant_id: str, caller: Caller, body: SaleIn, *, ledger=Service("ledger")):
    return ledger.record_sale(caller, body.model_dump(exclude_none=True), _idempotency_key())


@endpoint(ledger_bp, "POST", "/v1/tenants/{tenant_id}/journal-entries",
          summary="Record 1 to 99 balanced journal entries in one transaction", tags=TAGS, body=JournalBatchIn,
          response=AcceptedBatch, status=201, permission=Permission.JOURNAL_RECORD, idempotent=True, errors=(409,),
          rules=JOURNAL_RULES)
def record_journal(tenant_id: str, caller: Caller, body: JournalBatchIn, *, ledger=Service("ledger")):
    entries = [e.model_dump(exclude_none=True) for e in body.entries]
    return ledger.record_journal(caller, entries, _idempotency_key())


@endpoint(ledger_bp, "POST", "/v1/tenants/{tenant_id}/entries/{chain}/{seq}/reversal",
          summary="Reverse an entry with a counter-entry (the only way to correct)", tags=TAGS, body=ReversalIn,
          response=Accepted, status=201, permission=Permission.ENTRY_REVERSE, idempotent=True, errors=(409,))
def reverse(tenant_id: str, chain: str, seq: int, caller: Caller, body: ReversalIn, *, ledger=Service("ledger")):
    return ledger.reverse(caller, chain, seq, body.reason, _idempotency_key())


@endpoint(ledger_bp, "GET", "/v1/tenants/{tenant_id}/entries", summary="List a chain's entries by time",
          tags=TAGS, query=EntriesQuery, response=EntryPage, permission=Permission.SALE_READ_OWN,
          rules={"cursor": "a next_cursor this route returned (else 422)"})
def list_entries(tenant_id: str, caller: Caller, query: EntriesQuery, *, ledger=Service("ledger")):
    # Bounds are fixed-width UTC text like recorded_at; "0000" and "9999" sort before and after any.
    start, end = query.from_ or "0000", query.to or "9999"
    page = ledger.list_entries(caller, query.chain, start, end, query.limit, query.cursor,
                               newest_first=query.order == "desc")
    return {"entries": [ledger.read_view(r) for r in page.records], "next_cursor": page.next_cursor}


@endpoint(ledger_bp, "GET", "/v1/tenants/{tenant_id}/entries/{chain}/{seq}",
          summary="Read one entry with its inclusion proof against the latest signed checkpoint", tags=TAGS,
          response=EntryWithProof, permission=Permission.SALE_READ_OWN)
def get_entry(tenant_id: str, chain: str, seq: int, caller: Caller, *, ledger=Service("ledger")):
    record, proof, integrity = ledger.get_entry(caller, chain, seq)
    return {**ledger.read_view(record), "proof": proof, "integrity": integrity}


@endpoint(ledger_bp, "POST", "/v1/tenants/{tenant_id}/closures",
          summary="Close a day (manager+) or a month/year (accountant, admin)", tags=TAGS, body=ClosureIn,
          response=Accepted, status=201, permission=Permission.CLOSE_DAY, errors=(409,),
          rules={"period": "written as kind says (day 2026-11-23, month 2026-11, year 2026), and ended in the tenant's "
                           "time zone",
                 "chain": "a chain of this tenant (else 404); a chain other than a register's sales chain also needs "
                          "ledger.read (else 403)"})
def close_period(tenant_id: str, caller: Caller, body: ClosureIn, *, ledger=Service("ledger")):
    if body.kind != "day" and not allows(caller.role, Permission.CLOSE_PERIOD):
        raise Forbidden(f"your role ({caller.role}) may close days, not a {body.kind}", field="kind")
    record = ledger.close_period(caller, tenant_id, body.chain, body.kind, body.period)
    return ledger.accepted(record)


@endpoint(ledger_bp, "GET", "/v1/tenants/{tenant_id}/closures", summary="List a chain's closures", tags=TAGS,
          query=ChainQuery, response=ClosureList, permission=Permission.CLOSURE_READ,
          rules={"chain": "a chain of this tenant (else 404); a chain other than a register's sales chain also needs "
                          "ledger.read (else 403)"})
def list_closures(tenant_id: str, caller: Caller, query: ChainQuery, *, ledger=Service("ledger")):
    from chalicelib.services.ledger import entry_view

    return {"closures": [entry_view(r) for r in ledger.closures(caller, query.chain)]}

