"""What an export archive includes, as docs/exports.md and decision 0023 state it: no training
data in a live tenant's archive, ZIP members dated the build time, one inclusion rule for the CSV
views (contiguous seqs, closures included), closures.csv with its late closures flagged,
``premier_seq`` / ``dernier_seq`` exactly the covered entries (the auditor guide's spreadsheet
sum holds literally), every path the read-me files name in the archive, and `scelle verify`
naming file, spreadsheet row, column, expected and found (CSV and FEC alike).

The archives are real: the ledger, event journal, checkpoint and export services on in-memory
adapters, with a moving clock (``MemoryStack``). The tenant signed up in test mode (two training
events open its event journal) and trades live from 25 to 28 February.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import tomllib
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chalicelib.cli import main as scelle
from chalicelib.commands.export_sample import MemoryStack
from chalicelib.domain.records import chain_key, seal
from chalicelib.verify_export import format as fmt
from chalicelib.verify_export import verify_archive

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = {
    # the whole of February: the closures of 28 February and of February are sealed on 1 March (late)
    "february": (date(2026, 2, 1), date(2026, 2, 28)),
    # 26 February - 1 March: February's closure is sealed in it but covers days before it
    "straddling": (date(2026, 2, 26), date(2026, 3, 1)),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR")
    tenant = stack.tenant.tenant_id
    # Signed up in test mode: the event journal opens with training events (then the tenant went live).
    stack.events.record(tenant, "signup", actor="u-gerant", details={"mode": "test"}, training=True)
    stack.events.record(tenant, "email_verified", actor="u-gerant", details={}, training=True)
    stack.events.record(tenant, "went_live", actor="u-gerant", details={}, training=False)
    stack.trade(days=4, sales_per_day=20)
    stack.archives = {}
    for name, (first, last) in EXPORTS.items():
        job, data = stack.export("fiscal", first_day=first, last_day=last)
        assert job["status"] == "done", job
        stack.archives[name] = data
    job, data = stack.export("fec", first_day=EXPORTS["february"][0], last_day=EXPORTS["february"][1])
    assert job["status"] == "done", job
    stack.archives["fec"] = data
    return stack


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def csv_rows(body: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def records(data: bytes, chain: str) -> list[dict]:
    return [json.loads(line) for line in members(data)[fmt.records_path(chain)].splitlines()]


def manifest(data: bytes) -> dict:
    return json.loads(members(data)[fmt.MANIFEST])


def cents(text: str) -> int:
    return int(text.replace(",", "")) if text else 0


def rezip(data: bytes, change: dict, signer=None) -> bytes:
    """The archive with members changed; with ``signer``, the manifest's hashes and signature redone
    (a forger who holds the key)."""
    import hashlib

    files = members(data)
    for name, fn in change.items():
        if name != "manifest":
            files[name] = fn(files[name])
    if signer is not None:
        body = json.loads(files[fmt.MANIFEST])
        for entry in body["files"]:
            entry["sha256"] = hashlib.sha256(files[entry["path"]]).hexdigest()
            entry["bytes"] = len(files[entry["path"]])
        if "manifest" in change:
            change["manifest"](body)
        files[fmt.MANIFEST] = json.dumps(body, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
        files[fmt.SIGNATURE] = signer.sign(files[fmt.MANIFEST])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return out.getvalue()


def check(tmp_path, data: bytes, name: str = "export.zip", **kw):
    path = tmp_path / name
    path.write_bytes(data)
    return verify_archive(path, **kw), path


# ---- R1: no training data in a live tenant's archive ------------------------------------------------
@pytest.mark.parametrize("archive", ["february", "fec"])
def test_a_live_tenants_archive_holds_no_training_data_only_the_hashes_of_withheld_records(world, archive):
    data = world.archives[archive]
    files = members(data)
    for name, body in files.items():
        assert b'"training":true' not in body and b'"training": true' not in body, name
    events = records(data, fmt.EVENTS_CHAIN)
    assert events[0] == {"chain": "events", "hash": events[0]["hash"], "prev_hash": "0" * 64, "seq": 1,
                         "tenant_id": world.tenant.tenant_id, "withheld": "training"}
    assert events[1]["withheld"] == "training" and events[1]["prev_hash"] == events[0]["hash"]
    assert "withheld" not in events[2] and events[2]["prev_hash"] == events[1]["hash"]
    # the stand-ins keep the sealed hashes: the same as in the event store
    stored = list(world.events_store.raw_items(chain_key(world.tenant.tenant_id, "events"), 1, 2))
    assert [e["hash"] for e in events[:2]] == [item["hash"] for item in stored] and len(stored) == 2
    assert all(item["training"] for item in stored)
    chains = {c["chain"]: c for c in manifest(data)["chains"]}
    assert chains["events"]["withheld_training"] == 2
    assert {c: chains[c]["withheld_training"] for c in chains if c != "events"} == {
        "prod.journal": 0, "prod.sales.R1": 0, "prod.sales.R2": 0}
    if archive != "fec":
        for name in ("entries.csv", "lines.csv", "events.csv", "closures.csv"):
            assert {row.get("formation", "non") for row in csv_rows(files[name])} == {"non"}, name
        assert [int(row["seq"]) for row in csv_rows(files["events.csv"])][:1] != [1]


@pytest.mark.parametrize("archive", ["february", "fec"])
def test_an_archive_with_withheld_records_verifies_and_says_how_many(world, tmp_path, archive):
    report, path = check(tmp_path, world.archives[archive])
    assert report.ok, report.text()
    events = next(c for c in report.chains if c["chain"] == "events")
    assert events["withheld"] == 2 and events["ok"]
    assert "2 training record(s) withheld (hash only)" in report.text()
    assert scelle(["verify", str(path)]) == 3  # consistent, unanchored: exit codes unchanged
    assert verify_archive(path, jobs=2).to_dict() == report.to_dict()


def _edit_line(chain: str, index: int, fn):
    def change(body: bytes) -> bytes:
        lines = body.split(b"\n")
        item = json.loads(lines[index])
        fn(item)
        lines[index] = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return b"\n".join(lines)

    return {fmt.records_path(chain): change}


def test_a_forged_stand_in_hash_is_caught_by_the_next_records_link(world, tmp_path):
    forged = rezip(world.archives["february"],
                   _edit_line("events", 1, lambda item: item.update(hash="ab" * 32)), signer=world.signer)
    report, _ = check(tmp_path, forged)
    assert (report.first.file, report.first.reason, report.first.seq) == ("records/events.jsonl", "broken_link", 3)


def test_a_stand_in_and_its_successor_both_forged_fail_against_the_signed_checkpoint(world, tmp_path):
    def change(body: bytes) -> bytes:
        lines = body.split(b"\n")
        stand_in = json.loads(lines[1])
        stand_in["hash"] = "ab" * 32
        lines[1] = json.dumps(stand_in, sort_keys=True, separators=(",", ":")).encode()
        prev = stand_in["hash"]
        for index in range(2, len(lines) - 1):  # relink and reseal everything after it
            item = json.loads(lines[index])
            record = seal(item["tenant_id"], item["chain"], item["seq"], item["type"], item["recorded_at"],
                          item["training"], item["data"], prev)
            prev = record.hash
            lines[index] = json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"),
                                      ensure_ascii=False).encode()
        return b"\n".join(lines)

    report, _ = check(tmp_path, rezip(world.archives["february"], {"records/events.jsonl": change},
                                      signer=world.signer))
    assert not report.ok
    assert any(f.file == "records/events.jsonl" and f.reason == "checkpoint_mismatch" for f in report.findings)


def test_a_withheld_ledger_record_fails_naming_it(world, tmp_path):
    def withhold(item):
        for key in ("data", "hash_version", "recorded_at", "training", "type"):
            item.pop(key)
        item["withheld"] = "training"

    forged = rezip(world.archives["february"], _edit_line("prod.sales.R1", 4, withhold), signer=world.signer)
    report, _ = check(tmp_path, forged)
    first = report.first
    assert (first.file, first.reason, first.seq) == ("records/prod.sales.R1.jsonl", "withheld", 5)
    assert "no record may be withheld here" in first.detail


def test_more_stand_ins_than_the_manifest_states_fail(world, tmp_path):
    forged = rezip(world.archives["february"], {"manifest": lambda m: next(
        c for c in m["chains"] if c["chain"] == "events").update(withheld_training=1)}, signer=world.signer)
    report, _ = check(tmp_path, forged)
    first = report.first
    assert (first.file, first.reason, first.column, first.expected, first.found) == (
        "records/events.jsonl", "manifest_mismatch", "withheld_training", "1", "2")


def test_verify_chain_accepts_a_stand_in_only_for_an_allowed_reason():
    from chalicelib.domain.verification import verify_chain, withheld_item

    records = []
    prev = "0" * 64
    for seq in (1, 2, 3):
        record = seal("t1", "events", seq, "event", f"2026-02-2{seq}T10:00:00.000000Z", seq == 1,
                      {"kind": "signup" if seq == 1 else "went_live"}, prev)
        records.append(record)
        prev = record.hash
    items = [withheld_item(records[0], "training"), *records[1:]]
    assert verify_chain(items, tenant_id="t1", chain="events", withheld={"training"}).ok
    report = verify_chain(items, tenant_id="t1", chain="events")
    assert (report.ok, report.reason, report.first_bad_seq) == (False, "withheld", 1)
    extra = {**withheld_item(records[0], "training"), "data": {"kind": "signup"}}
    report = verify_chain([extra, *records[1:]], tenant_id="t1", chain="events", withheld={"training"})
    assert (report.reason, report.first_bad_seq) == ("non_canonical", 1) and "extra ['data']" in report.detail
    assert verify_chain(items, tenant_id="t1", chain="events", withheld={"training"}).withheld == 1


def test_a_test_mode_archive_withholds_nothing_and_refuses_stand_ins(tmp_path):
    stack = MemoryStack(tmp_path / "keys", country="BE", mode="test")
    stack.events.record(stack.tenant.tenant_id, "signup", actor="u-gerant", details={}, training=True)
    stack.trade(days=1, sales_per_day=4)
    job, data = stack.export("fiscal", last_day=date(2026, 2, 25))
    assert job["fiscal"] is False
    assert all("withheld" not in line for line in records(data, "events"))
    assert "withheld_training" not in manifest(data)["chains"][0]

    def withhold(item):
        for key in ("data", "hash_version", "recorded_at", "training", "type"):
            item.pop(key)
        item["withheld"] = "training"

    report, _ = check(tmp_path, rezip(data, _edit_line("events", 0, withhold), signer=stack.signer))
    assert (report.first.file, report.first.reason) == ("records/events.jsonl", "withheld")


# ---- R2: ZIP timestamps ------------------------------------------------------------------------------
def test_every_member_is_dated_the_build_time_in_utc(world):
    data = world.archives["february"]
    generated = datetime.fromisoformat(manifest(data)["export"]["generated_at"].replace("Z", "+00:00"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    dos = (generated.year, generated.month, generated.day, generated.hour, generated.minute, generated.second // 2 * 2)
    assert {info.date_time for info in infos} == {dos} and dos[0] == 2026
    for info in infos:
        tag, size, flags, unix = struct.unpack("<HHBI", info.extra[:9])
        assert (tag, size, flags) == (0x5455, 5, 1)
        assert datetime.fromtimestamp(unix, UTC) == generated.replace(microsecond=0)
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.external_attr >> 16 == 0o100644


# ---- R3: one inclusion rule for the CSV views ----------------------------------------------------------
@pytest.mark.parametrize("archive", list(EXPORTS))
def test_entries_csv_is_every_record_sealed_in_the_period_with_contiguous_seqs(world, archive):
    data = world.archives[archive]
    export = manifest(data)["export"]
    start, end = export["start_utc"], export["end_utc"]
    rows = csv_rows(members(data)["entries.csv"])
    for chain in ("prod.journal", "prod.sales.R1", "prod.sales.R2"):
        sealed = [r["seq"] for r in records(data, chain) if start <= r["recorded_at"] < end]
        listed = [int(row["seq"]) for row in rows if row["chaine"] == chain]
        assert listed == sealed and listed == list(range(listed[0], listed[-1] + 1)), chain
        kinds = {r["type"] for r in records(data, chain) if start <= r["recorded_at"] < end}
        assert "closure" in kinds
    events = [r["seq"] for r in records(data, "events")
              if "withheld" not in r and start <= r["recorded_at"] < end]
    assert [int(row["seq"]) for row in csv_rows(members(data)["events.csv"])] == events


def test_a_month_closure_sealed_in_the_period_is_in_entries_csv(world):
    """It was missing before (seq 45 -> 47): its period started before the export's."""
    data = world.archives["straddling"]
    rows = csv_rows(members(data)["entries.csv"])
    months = [row for row in rows if row["type"] == "closure" and row["date_operation"] == "2026-02"]
    assert {row["chaine"] for row in months} == {"prod.journal", "prod.sales.R1", "prod.sales.R2"}


def test_closure_rows_of_entries_csv_carry_no_amounts(world):
    rows = csv_rows(members(world.archives["straddling"])["entries.csv"])
    closures = [row for row in rows if row["type"] == "closure"]
    amounts = [c for c in rows[0] if c.split("_")[0] in ("ht", "tva", "ttc", "total") or c in ("debit", "credit")]
    assert closures and len(amounts) >= 5
    assert all(row[column] == "" for row in closures for column in amounts)
    assert {row["libelle"].split(" ")[0] for row in closures} == {"Clôture"}


# ---- R4 and R5: closures.csv -----------------------------------------------------------------------------
@pytest.mark.parametrize("archive", list(EXPORTS))
def test_closures_csv_is_the_closures_sealed_in_the_period_then_the_late_ones_flagged(world, archive):
    data = world.archives[archive]
    export = manifest(data)["export"]
    start, end = export["start_utc"], export["end_utc"]
    files = members(data)
    entries = csv_rows(files["entries.csv"])
    rows = csv_rows(files["closures.csv"])
    expected = []
    for chain in ("prod.journal", "prod.sales.R1", "prod.sales.R2"):
        for r in records(data, chain):
            if r["type"] != "closure":
                continue
            inside = start <= r["data"]["period_start"] and r["data"]["period_end"] <= end
            in_period = start <= r["recorded_at"] < end
            if in_period or (r["recorded_at"] >= end and inside):
                expected.append((chain, r["seq"], "oui" if in_period else "non", "oui" if inside else "non"))
    assert [(row["chaine"], int(row["seq"]), row["scellee_dans_periode"], row["periode_incluse"])
            for row in rows] == expected
    # sealed in the period = exactly the closure rows of entries.csv
    assert {(row["chaine"], row["seq"]) for row in rows if row["scellee_dans_periode"] == "oui"} == {
        (row["chaine"], row["seq"]) for row in entries if row["type"] == "closure"}
    # a late closure's seq is beyond the last seq of its chain in entries.csv
    for row in rows:
        last = max(int(e["seq"]) for e in entries if e["chaine"] == row["chaine"])
        assert (int(row["seq"]) > last) == (row["scellee_dans_periode"] == "non")
    flags = {(row["scellee_dans_periode"], row["periode_incluse"]) for row in rows}
    if archive == "february":  # the closures of 28 February and of February, sealed on 1 March
        assert ("non", "oui") in flags and {row["periodicite"] for row in rows
                                             if row["scellee_dans_periode"] == "non"} == {"day", "month"}
    else:  # 25 February's and February's, sealed in the period, cover days before it
        assert ("oui", "non") in flags and ("oui", "oui") in flags


@pytest.mark.parametrize("archive", list(EXPORTS))
def test_the_auditor_guides_spreadsheet_sum_holds_on_every_closure_whose_period_is_included(world, archive):
    """"The sum of total_ttc of operations premier_seq..dernier_seq in entries.csv is
    grand_total_periode", literally: every row of the chain with seq in that range."""
    files = members(world.archives[archive])
    entries = csv_rows(files["entries.csv"])
    checked = set()
    for row in csv_rows(files["closures.csv"]):
        if row["periode_incluse"] != "oui":
            continue
        first, last = int(row["premier_seq"]), int(row["dernier_seq"])
        covered = [e for e in entries if e["chaine"] == row["chaine"] and first <= int(e["seq"]) <= last]
        assert sum(cents(e["total_ttc"]) for e in covered) == cents(row["grand_total_periode"]), row
        # premier_seq and dernier_seq are entries, and the operations between them are the closure's count
        assert covered[0]["type"] != "closure" and covered[-1]["type"] != "closure"
        assert len([e for e in covered if e["type"] != "closure"]) == int(row["nb_ecritures"])
        checked.add(row["periodicite"])
    assert checked == ({"day", "month"} if archive == "february" else {"day"})


def test_premier_seq_skips_the_previous_closure_records_and_the_sealed_first_seq_is_unchanged(world):
    data = world.archives["february"]
    rows = {(row["chaine"], int(row["seq"])): row for row in csv_rows(members(data)["closures.csv"])}
    sealed = {r["seq"]: r for r in records(data, "prod.sales.R1")}
    closures = sorted(seq for seq, r in sealed.items() if r["type"] == "closure")
    days = [seq for seq in closures if sealed[seq]["data"]["kind"] == "day"]
    second = sealed[days[1]]["data"]
    assert second["first_seq"] == days[0]  # the sealed range starts at the previous day closure's record
    assert int(rows[("prod.sales.R1", days[1])]["premier_seq"]) == days[0] + 1
    month = next(seq for seq in closures if sealed[seq]["data"]["kind"] == "month")
    assert rows[("prod.sales.R1", month)]["premier_seq"] == "1"
    assert rows[("prod.sales.R1", month)]["dernier_seq"] == str(sealed[month]["data"]["last_seq"])


def test_closure_ranges_give_no_first_entry_to_a_closure_that_covers_none():
    class Record:
        def __init__(self, seq, type_):
            self.seq, self.type = seq, type_

    ranges = fmt.ClosureRanges()
    for seq, kind in ((1, "sale"), (2, "closure"), (3, "closure")):
        ranges.see(Record(seq, kind))
    assert ranges.first_entry({"first_seq": 2, "last_seq": 1}) is None
    assert ranges.first_entry({"first_seq": 2, "last_seq": 4}) == 4
    assert ranges.first_entry({"first_seq": 1, "last_seq": 1}) == 1


# ---- R7: every path a read-me names is in the archive ----------------------------------------------------
_PATH = re.compile(r"(?<![\w/.<>-])((?:[\w.<>-]+/)*[\w<>-][\w.<>-]*\.(?:md|txt|csv|jsonl|json|pem|sig|zip)|[\w-]+/)"
                   r"(?![\w/])")


@pytest.mark.parametrize("archive", ["february", "fec"])
def test_every_path_a_read_me_names_is_a_member_of_the_archive(world, archive):
    data = world.archives[archive]
    files = members(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        own_name = zf.comment.decode().rsplit(" ", 1)[-1]
    for readme in (fmt.README_FR, fmt.README_EN):
        text = files[readme].decode("utf-8")
        named = {m for m in _PATH.findall(text) if not m.startswith("/")}
        assert "docs/auditor-guide.en.md" in named and "docs/auditor-guide.fr.md" in named
        for path in named:
            if path == own_name:
                continue
            pattern = re.escape(path).replace(re.escape("<"), "<").replace(re.escape(">"), ">")
            pattern = re.sub(r"<[^>]*>", r"[^/]+", pattern)
            assert any(re.fullmatch(pattern + ("" if not path.endswith("/") else ".*"), name) for name in files), (
                readme, path)


def test_the_archive_carries_the_documents_byte_for_byte_as_in_docs(world):
    files = members(world.archives["february"])
    for name in fmt.ARCHIVE_DOCS:
        source = ROOT / "docs" / name
        if name in fmt.NOT_YET_WRITTEN and not source.exists():
            assert f"docs/{name}" not in files
            continue
        assert files[f"docs/{name}"] == source.read_bytes(), f"docs/{name} differs: run make archive-docs"
    listed = {entry["path"] for entry in manifest(world.archives["february"])["files"]}
    assert {f"docs/{name}" for name in fmt.ARCHIVE_DOCS if (ROOT / "docs" / name).exists()} <= listed


def test_the_packaged_documents_are_copies_of_docs_and_none_is_forgotten():
    """Fails when a document of ARCHIVE_DOCS changes in docs/ without `make archive-docs`, and when
    a document still listed as not yet written has been written (remove it from NOT_YET_WRITTEN)."""
    packaged = ROOT / "chalicelib" / "verify_export" / "docs"
    for name in fmt.ARCHIVE_DOCS:
        source = ROOT / "docs" / name
        if name in fmt.NOT_YET_WRITTEN:
            assert not source.exists(), (f"docs/{name} exists now: run `make archive-docs` and remove {name!r} from "
                                         "NOT_YET_WRITTEN in chalicelib/verify_export/format.py")
            continue
        assert (packaged / name).read_bytes() == source.read_bytes(), f"run `make archive-docs` ({name} changed)"
    assert sorted(p.name for p in packaged.iterdir()) == sorted(
        name for name in fmt.ARCHIVE_DOCS if name not in fmt.NOT_YET_WRITTEN)
    from chalicelib.services.export_archive import archive_docs

    assert set(archive_docs()) == {f"docs/{n}" for n in fmt.ARCHIVE_DOCS if n not in fmt.NOT_YET_WRITTEN}


def test_the_documents_are_package_data_so_an_installed_scelle_and_the_lambda_have_them():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "docs/*.md" in config["package-data"]["chalicelib.verify_export"]


# ---- R8: scelle verify names file, spreadsheet row, column, expected and found ------------------------
def test_a_changed_fec_cell_names_its_spreadsheet_row_column_expected_and_found(world, tmp_path, capsys):
    files = members(world.archives["fec"])
    name = next(n for n in files if "FEC" in n)
    lines = files[name].decode("iso-8859-15").split("\r\n")
    row = 6  # spreadsheet row: row 1 is the header
    fields = lines[row - 1].split("\t")
    column = "EcritureLib"
    index = fmt_index = ("JournalCode JournalLib EcritureNum EcritureDate CompteNum CompteLib CompAuxNum CompAuxLib "
                         "PieceRef PieceDate EcritureLib").split().index(column)
    assert index == fmt_index
    was = fields[index]
    fields[index] = "Forged"
    lines[row - 1] = "\t".join(fields)
    forged = rezip(world.archives["fec"], {name: lambda _: "\r\n".join(lines).encode("iso-8859-15")})
    report, path = check(tmp_path, forged)
    first = report.first
    assert (first.file, first.row, first.column, first.expected, first.found, first.reason) == (
        name, row, column, was, "Forged", "cell_changed")
    assert scelle(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{name} row {row} " in out and f"column {column}" in out and "row 1 is the header" in out


def test_a_changed_checkpoints_csv_row_is_numbered_as_in_a_spreadsheet(world, tmp_path):
    def change(body: bytes) -> bytes:
        text = body.decode("utf-8-sig").split("\r\n")
        text[2] = text[2].replace(";", ";9", 1)  # the second data row: spreadsheet row 3
        return ("\ufeff" + "\r\n".join(text)).encode()

    report, _ = check(tmp_path, rezip(world.archives["february"], {"checkpoints.csv": change}))
    finding = next(f for f in report.findings if f.file == "checkpoints.csv")
    assert finding.row == 3
