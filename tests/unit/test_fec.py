"""The FEC: postings of each entry type, the file's text, and each rule the administration's checker
(Test Compta Demat) applies — each rule is shown to catch its own fault in an otherwise valid file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from chalicelib.domain import fec
from chalicelib.domain.entries import Actor
from chalicelib.domain.journal import build_journal_entry
from chalicelib.domain.records import GENESIS_PREV_HASH, seal
from chalicelib.domain.reversals import reversal_of
from chalicelib.domain.sales import build_sale

CUTOFF = time(4, 0)
NOW = datetime(2026, 3, 10, 11, tzinfo=UTC)
CTX = fec.FecContext(siren="732829320", country="FR", time_zone="Europe/Paris", cutoff=CUTOFF,
                     first_day=date(2026, 1, 1), last_day=date(2026, 12, 31))
SELLER = Actor("u-1", "Alice")


def _sale(lines, payments, *, kind="sale", when=NOW):
    request = {"kind": kind, "client_receipt_id": "R1-1", "register_id": "R1",
               "occurred_at": (when - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), "lines": lines,
               "payments": payments}
    return build_sale(request, country="FR", time_zone="Europe/Paris", cutoff=CUTOFF, seller=SELLER, now=when)


def _record(data, *, seq=1, type_="sale", chain="prod.sales.R1", when=NOW, prev=GENESIS_PREV_HASH):
    return seal("t1", chain, seq, type_, when, False, data, prev)


def _balanced(post):
    return sum(line.debit for line in post.lines) == sum(line.credit for line in post.lines)


# ---- postings -------------------------------------------------------------------------------------
def test_a_sale_credits_sales_and_vat_per_rate_and_debits_each_payment_net_of_change():
    data = _sale([{"description": "Pain", "quantity": "2", "unit_price": "1.20", "vat_rate": "5.5"},
                  {"description": "Vin", "quantity": "1", "unit_price": "12.00", "vat_rate": "20"}],
                 [{"method": "card", "amount": "10.00"}, {"method": "cash", "amount": "5.00"}])
    post = fec.posting(_record(data), CTX)
    accounts = {(line.account, line.debit, line.credit) for line in post.lines}
    assert accounts == {("707020", 0, 1000), ("445711", 0, 200), ("707055", 0, 227), ("445713", 0, 13),
                        ("511500", 1000, 0), ("530000", 440, 0)}  # 5.00 cash tendered - 0.60 change
    assert _balanced(post) and post.journal_code == "VE" and post.piece_ref == "R1-1"
    assert post.entry_date == post.valid_date == date(2026, 3, 10)


def test_a_return_is_posted_on_the_other_side():
    data = _sale([{"description": "Pain", "quantity": "-1", "unit_price": "1.20", "vat_rate": "5.5"}],
                 [{"method": "cash", "amount": "-1.20"}], kind="return")
    post = fec.posting(_record(data), CTX)
    assert {(line.account, line.debit, line.credit) for line in post.lines} == {
        ("707055", 114, 0), ("445713", 6, 0), ("530000", 0, 120)}
    assert post.label.startswith("Retour R1")


def test_a_reversal_is_a_counter_entry_referencing_the_original():
    data = _sale([{"description": "Vin", "quantity": "1", "unit_price": "12.00", "vat_rate": "20"}],
                 [{"method": "card", "amount": "12.00"}])
    original = _record(data)
    later = NOW + timedelta(days=1)
    reversal = _record(reversal_of(original, "Erreur", SELLER, later, reversed_seqs=()), seq=2, type_="reversal",
                       when=later, prev=original.hash)
    post, first = fec.posting(reversal, CTX), fec.posting(original, CTX)
    assert {(line.account, line.credit, line.debit) for line in post.lines} == {
        (line.account, line.debit, line.credit) for line in first.lines}
    assert post.entry_date == date(2026, 3, 11) and "Annulation ticket R1 n° 1" in post.label and _balanced(post)


def test_a_journal_entry_is_posted_as_recorded_and_its_reversal_swaps_the_sides():
    data = build_journal_entry({"journal_code": "AC", "piece_ref": "FA-1", "piece_date": "2026-03-09",
                                "label": "Farine", "lines": [
                                    {"account": "601000", "debit": "100.00"},
                                    {"account": "445660", "debit": "5.50"},
                                    {"account": "401000", "aux_account": "MOULIN", "aux_label": "Moulin",
                                     "credit": "105.50"}]},
                               country="FR", today=date(2026, 3, 10), recorded_by=SELLER)
    record = _record(data, chain="prod.journal", type_="journal")
    post = fec.posting(record, CTX)
    assert post.entry_date == date(2026, 3, 9) and post.journal_label == "Achats" and _balanced(post)
    assert post.lines[2].aux_account == "MOULIN" and post.lines[0].account_label.startswith("Compte 601000")
    reversal = _record(reversal_of(record, "Doublon", SELLER, NOW, reversed_seqs=()), seq=2, type_="reversal",
                       chain="prod.journal", prev=record.hash)
    counter = fec.posting(reversal, CTX)
    assert [(ln.debit, ln.credit) for ln in counter.lines] == [(ln.credit, ln.debit) for ln in post.lines]
    assert counter.piece_ref == "FA-1" and counter.label.startswith("Annulation FA-1")


def test_closures_events_and_zero_receipts_post_nothing():
    free = _sale([{"description": "Dégustation", "quantity": "1", "unit_price": "0.00", "vat_rate": "20"}], [])
    assert fec.posting(_record(free), CTX) is None
    assert fec.posting(_record({"kind": "signin"}, type_="event", chain="events"), CTX) is None


def test_an_unmapped_rate_is_refused_with_its_reason():
    data = _sale([{"description": "Vin", "quantity": "1", "unit_price": "12.00", "vat_rate": "20"}],
                 [{"method": "card", "amount": "12.00"}])
    data["vat_totals"][0]["rate"] = 1300  # Corsica: not in the default mapping
    with pytest.raises(fec.FecError, match="1300"):
        fec.posting(_record(data), CTX)


def test_the_file_name_text_and_amounts_follow_a47_a1():
    assert CTX.file_name == "732829320FEC20261231.txt"
    assert fec.header() == "\t".join(fec.COLUMNS) and len(fec.COLUMNS) == 18
    assert fec.amount(123456) == "1234,56" and fec.amount(-5) == "0,05" and fec.amount(0) == "0,00"
    assert fec.fec_text("Pain au chocolat · café\tcrème\n") == "Pain au chocolat . café crème"
    assert fec.fec_text("Œuvre \u2013 5 € \u201cbio\u201d") == "Œuvre - 5 € \"bio\""
    assert fec.fec_text("Ĉu ŝi 😀") == "Cu si ?"
    assert fec.encode_line("é€").endswith(b"\r\n") and fec.encode_line("é€") == "é€\r\n".encode("iso-8859-15")


def test_fec_rows_are_chronological_numbered_per_journal_and_pass_the_checks():
    records = []
    prev = GENESIS_PREV_HASH
    for i in range(3):
        data = _sale([{"description": "Pain", "quantity": "1", "unit_price": "1.20", "vat_rate": "5.5"}],
                     [{"method": "card", "amount": "1.20"}], when=NOW + timedelta(minutes=i))
        record = _record(data, seq=i + 1, when=NOW + timedelta(minutes=i), prev=prev)
        prev = record.hash
        records.append(record)
    journal = build_journal_entry({"journal_code": "BQ", "piece_ref": "REM-1", "piece_date": "2026-03-10",
                                   "label": "Remise", "lines": [{"account": "512000", "debit": "3.60"},
                                                                {"account": "511500", "credit": "3.60"}]},
                                  country="FR", today=date(2026, 3, 10), recorded_by=SELLER)
    jrecord = _record(journal, chain="prod.journal", type_="journal", when=NOW + timedelta(seconds=90))
    rows = list(fec.fec_rows({"prod.sales.R1": records, "prod.journal": [jrecord]}, CTX))
    assert [r.seq for r in rows if r.chain == "prod.journal"] == [1, 1]
    order = [(r.chain, r.seq) for r in rows]
    assert order.index(("prod.journal", 1)) > order.index(("prod.sales.R1", 2))  # 11:01:30 after 11:01
    numbers = [(r.text.split("\t")[0], r.text.split("\t")[2]) for r in rows]
    assert ("VE", "3") in numbers and ("BQ", "1") in numbers
    text = fec.header() + "\r\n" + "".join(r.text + "\r\n" for r in rows)
    assert fec.validate_text(text, name=CTX.file_name, siren=CTX.siren, first_day=CTX.first_day,
                             last_day=CTX.last_day) == []


def test_entries_outside_the_period_are_left_out():
    ctx = fec.FecContext(siren="732829320", country="FR", time_zone="Europe/Paris", cutoff=CUTOFF,
                         first_day=date(2026, 3, 11), last_day=date(2026, 3, 31))
    data = _sale([{"description": "Pain", "quantity": "1", "unit_price": "1.20", "vat_rate": "5.5"}],
                 [{"method": "card", "amount": "1.20"}])
    assert list(fec.fec_rows({"prod.sales.R1": [_record(data)]}, ctx)) == []


# ---- the checks, one fault at a time --------------------------------------------------------------
ROW = ["VE", "Ventes", "1", "20260310", "707020", "Ventes 20 %", "", "", "R1-1", "20260310", "Ticket", "0,00",
       "10,00", "", "", "20260310", "", ""]
ROW2 = ["VE", "Ventes", "1", "20260310", "530000", "Caisse", "", "", "R1-1", "20260310", "Ticket", "10,00",
        "0,00", "", "", "20260310", "", ""]


def _text(*rows):
    return fec.header() + "\r\n" + "".join("\t".join(r) + "\r\n" for r in rows)


def _with(row, **cells):
    out = list(row)
    for name, value in cells.items():
        out[fec.COLUMNS.index(name)] = value
    return out


def _rules(text, **kw):
    return {p.rule for p in fec.validate_text(text, **kw)}


def test_a_valid_minimal_file_passes():
    assert fec.validate_text(_text(ROW, ROW2), name="732829320FEC20261231.txt", siren="732829320",
                             first_day=date(2026, 1, 1), last_day=date(2026, 12, 31)) == []


FAULTS = [
    ("header", lambda: fec.header().replace("EcritureLib", "Libelle") + "\r\n" + "\t".join(ROW) + "\r\n"
     + "\t".join(ROW2) + "\r\n"),
    ("field_count", lambda: _text(ROW[:17], ROW2)),
    ("separator", lambda: _text(ROW2).replace("\t".join(ROW2), "|".join(ROW))),
    ("mandatory", lambda: _text(_with(ROW, CompteLib=""), _with(ROW2))),
    ("mandatory", lambda: _text(_with(ROW, PieceRef=" "), ROW2)),
    ("date", lambda: _text(_with(ROW, PieceDate="2026-03-10"), ROW2)),
    ("date", lambda: _text(_with(ROW, ValidDate="20260230"), ROW2)),
    ("amount", lambda: _text(_with(ROW, Credit="10.00"), ROW2)),
    ("amount", lambda: _text(_with(ROW, Credit="1 000,00"), _with(ROW2, Debit="1000,00"))),
    ("amount", lambda: _text(_with(ROW, Credit="-10,00"), ROW2)),
    ("amount", lambda: _text(_with(ROW, Credit="10,0"), ROW2)),
    ("one_side", lambda: _text(_with(ROW, Credit="0,00"), _with(ROW2, Debit="0,00"))),
    ("one_side", lambda: _text(_with(ROW, Debit="10,00", Credit="10,00"), _with(ROW2, Debit="0,00", Credit="0,00"))),
    ("balance", lambda: _text(ROW, _with(ROW2, Debit="9,99"))),
    ("paired", lambda: _text(_with(ROW, CompAuxNum="DUPONT"), ROW2)),
    ("paired", lambda: _text(_with(ROW, EcritureLet="AA"), ROW2)),
    ("paired", lambda: _text(_with(ROW, Montantdevise="10,00"), ROW2)),
    ("account", lambda: _text(_with(ROW, CompteNum="07"), ROW2)),
    ("period", lambda: _text(_with(ROW, EcritureDate="20250310"), _with(ROW2, EcritureDate="20250310"))),
    ("entry_date", lambda: _text(ROW, _with(ROW2, EcritureDate="20260311"))),
    ("chronology", lambda: _text(_with(ROW, EcritureNum="2"), _with(ROW2, EcritureNum="2"),
                                 _with(ROW, ValidDate="20260309", EcritureNum="3"),
                                 _with(ROW2, ValidDate="20260309", EcritureNum="3"))),
    ("contiguous", lambda: _text(ROW, _with(ROW, EcritureNum="2", Credit="0,00", Debit="10,00"),
                                 _with(ROW2, Debit="0,00", Credit="10,00"))),
    ("sequence", lambda: _text(_with(ROW, EcritureNum="5"), _with(ROW2, EcritureNum="5"),
                               _with(ROW, EcritureNum="4"), _with(ROW2, EcritureNum="4"))),
]


@pytest.mark.parametrize("rule, make", FAULTS, ids=[f"{i}-{f[0]}" for i, f in enumerate(FAULTS)])
def test_each_rule_catches_its_fault(rule, make):
    found = _rules(make(), first_day=date(2026, 1, 1), last_day=date(2026, 12, 31))
    assert rule in found, found


@pytest.mark.parametrize("name, why", [
    ("732829320FEC20261231.csv", "is not"),
    ("732829321FEC20261231.txt", "check digit"),
    ("732829320FEC20261331.txt", "not a valid"),
    ("732829320FEC20261230.txt", "period's end"),
    ("FEC20261231.txt", "is not"),
])
def test_the_file_name_is_checked(name, why):
    problems = fec.validate_text(_text(ROW, ROW2), name=name, siren="732829320", last_day=date(2026, 12, 31))
    assert any(p.rule == "file_name" and why in p.detail for p in problems), problems


def test_problems_name_the_line_and_column():
    problems = fec.validate_text(_text(ROW, _with(ROW2, CompteLib="")))
    assert [(p.line, p.column, p.rule) for p in problems] == [(3, "CompteLib", "mandatory")]
    assert str(problems[0]).startswith("line 3, CompteLib: [mandatory]")


def test_the_default_mappings_cover_every_rate_of_each_country():
    from chalicelib.domain.vat import RATE_TABLE

    for country, mapping in fec.DEFAULT_MAPPINGS.items():
        rates = {row.rate_bp for row in RATE_TABLE if row.country == country}
        assert rates <= set(mapping.sales), country
        assert rates - {0} <= set(mapping.vat), country
        assert set(mapping.payments) == {"cash", "card", "cheque", "voucher", "transfer", "other"}
        for account, _ in [*mapping.sales.values(), *mapping.vat.values(), *mapping.payments.values()]:
            assert account.isdigit() and len(account) == 6
