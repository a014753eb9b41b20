"""`scelle verify` on real generated exports: an untouched archive verifies (exit 0 with the
published key as trust anchor, 3 "unanchored" without), and every kind of tampering (a cell
changed, a row removed / added / moved, the tail cut, a file missing or added, the manifest or its
signature altered, a key replaced) fails with exit 1 and a report naming the first bad file, row
and seq. Forged archives that are internally consistent: tests/unit/test_verify_export_forgeries.py.

The exports are real: the ledger, checkpoint and export services on in-memory adapters trade for
four days with a moving clock (sales, returns, reversals, journal entries, daily and monthly
closures), and the archive comes from the same builder as the API's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import date

import pytest

from chalicelib.cli import main as scelle
from chalicelib.commands.export_sample import MemoryStack
from chalicelib.domain.records import SealedRecord
from chalicelib.verify_export import verify_archive
from tests.support.archives import csv_bytes, csv_rows, members

FIRST_DAY, LAST_DAY = date(2026, 2, 1), date(2026, 2, 28)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR")
    stack.trade(days=4, sales_per_day=20)  # 25-28 February
    archives = {}
    for kind in ("fiscal", "fec"):
        job, data = stack.export(kind, first_day=FIRST_DAY, last_day=LAST_DAY)
        assert job["status"] == "done", job
        archives[kind] = data
    stack.archives = archives
    return stack


def rezip(data: bytes, change=None, *, drop=(), add=None) -> bytes:
    files = members(data)
    if change:
        for name, fn in change.items():
            files[name] = fn(files[name])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            if name not in drop:
                zf.writestr(name, body)
        for name, body in (add or {}).items():
            zf.writestr(name, body)
    return out.getvalue()


def edit_csv(fn):
    def change(body: bytes) -> bytes:
        rows = csv_rows(body)
        fn(rows)
        return csv_bytes(rows)

    return change


def edit_lines(fn):
    def change(body: bytes) -> bytes:
        lines = body.split(b"\n")[:-1]
        fn(lines)
        return b"".join(line + b"\n" for line in lines)

    return change


def check(tmp_path, data: bytes, name: str = "export.zip"):
    path = tmp_path / name
    path.write_bytes(data)
    return verify_archive(path), path


def real_fingerprint(world) -> str:
    from chalicelib.verify_export.verifier import fingerprint

    return "sha256:" + fingerprint(world.signer.public_key_pem())


def first_sale_row(rows: list[list[str]], chain: str = "prod.sales.R1", nth: int = 3) -> int:
    """Index (in ``rows``, header = 0) of the nth sale row of ``chain``."""
    found = [i for i, row in enumerate(rows) if row[0] == chain and row[2] == "sale"]
    return found[nth]


# ---- the untouched archives ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["fiscal", "fec"])
def test_an_untouched_export_verifies_anchored_exit_0_and_unanchored_exit_3_without_a_trusted_key(
        world, tmp_path, kind, capsys):
    report, path = check(tmp_path, world.archives[kind])
    assert report.ok, report.text()
    chains = {c["chain"]: c for c in report.chains}
    assert set(chains) == {"prod.journal", "prod.sales.R1", "prod.sales.R2", "events"}
    assert all(c["ok"] and c["checkpoints_verified"] >= 1 for c in chains.values())
    # complete: every entry of every chain has its event, every chain of the directory is in
    cross = report.completeness["chains"]
    assert {c: (v["events_through"], v["without_event"]) for c, v in cross.items()} == {
        c: (chains[c]["entries"], 0) for c in ("prod.journal", "prod.sales.R1", "prod.sales.R2")}
    assert report.completeness["directory_listed"] and report.completeness["notes"] == []

    assert report.status == "unanchored" and report.exit_code == 3
    assert scelle(["verify", str(path)]) == 3
    out = capsys.readouterr().out
    assert "RESULT: UNANCHORED" in out and "RESULT: OK" not in out
    assert f"unanchored: key {world.signer.key_id}" in out and "which signs the manifest and" in out

    assert scelle(["verify", "--trusted-key", real_fingerprint(world), str(path)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out


def test_the_fiscal_archive_holds_the_csv_views_the_records_and_a_signed_manifest(world):
    files = members(world.archives["fiscal"])
    assert {"entries.csv", "lines.csv", "closures.csv", "events.csv", "checkpoints.csv", "manifest.json",
            "manifest.sig", "keys/keys.json", "LISEZMOI.txt", "README.txt"} <= set(files)
    assert {"records/prod.sales.R1.jsonl", "records/prod.sales.R2.jsonl", "records/prod.journal.jsonl",
            "records/events.jsonl"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["export"]["fiscal"] is True and manifest["hash_format_version"] == 1
    assert manifest["csv"]["separator"] == ";" and manifest["csv"]["decimal_mark"] == ","
    assert all(entry["sha256"] and entry["path"] in files for entry in manifest["files"])
    assert files["entries.csv"].startswith("\ufeff".encode()) and b"\r\n" in files["entries.csv"]
    # every records line is the record's canonical JSON: hashing it without "hash" gives "hash"
    line = files["records/prod.sales.R1.jsonl"].split(b"\n")[4]
    record = SealedRecord.from_item(json.loads(line))
    assert record.intact and line == record.canonical_bytes().replace(
        b',"hash_version"', f',"hash":"{record.hash}","hash_version"'.encode(), 1)
    closures = csv_rows(files["closures.csv"])
    kinds = {row[2] for row in closures[1:]}
    assert kinds == {"day", "month"}  # 25-28 February, and February (closed on 1 March)
    sale = csv_rows(files["entries.csv"])[first_sale_row(csv_rows(files["entries.csv"]))]
    header = csv_rows(files["entries.csv"])[0]
    assert "," in sale[header.index("total_ttc")]


def test_the_json_report_is_for_machines(world, tmp_path, capsys):
    _, path = check(tmp_path, world.archives["fiscal"])
    assert scelle(["verify", "--json", str(path)]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["first_problem"] is None and report["keys"][0]["fingerprint"]
    assert (report["status"], report["exit_code"], report["anchored"]) == ("unanchored", 3, False)
    assert report["unanchored"] and report["signing"][0]["manifest"] is True
    assert scelle(["verify", "--json", "--trusted-key", real_fingerprint(world), str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["exit_code"], report["anchored"], report["unanchored"]) == (
        "verified", 0, True, [])


def test_a_missing_archive_is_a_usage_error(tmp_path, capsys):
    assert scelle(["verify", str(tmp_path / "nope.zip")]) == 2


def test_a_file_that_is_not_a_zip_fails(tmp_path):
    report, path = check(tmp_path, b"not a zip at all")
    assert not report.ok and report.first.reason == "unreadable"
    assert scelle(["verify", str(path)]) == 1


# ---- tampering: the CSV views ----------------------------------------------------------------------
def _cell(rows, index, column, value):
    rows[index][rows[0].index(column)] = value


def test_a_changed_cell_in_entries_names_the_file_spreadsheet_row_seq_column_expected_and_found(
        world, tmp_path, capsys):
    rows = csv_rows(members(world.archives["fiscal"])["entries.csv"])
    index = first_sale_row(rows)  # index in rows, the header being rows[0]: spreadsheet row index + 1
    seq, total = int(rows[index][1]), rows[index][rows[0].index("total_ttc")]
    data = rezip(world.archives["fiscal"], {"entries.csv": edit_csv(lambda r: _cell(r, index, "total_ttc", "0,01"))})
    report, path = check(tmp_path, data)
    first = report.first
    assert (first.file, first.row, first.seq, first.chain, first.column, first.expected, first.found) == (
        "entries.csv", index + 1, seq, "prod.sales.R1", "total_ttc", total, "0,01")
    assert first.reason == "cell_changed" and "0,01" in first.detail
    assert scelle(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "RESULT: FAILED" in out and f"entries.csv row {index + 1}" in out and f"seq {seq}" in out
    assert "row 1 is the header, the first data row is row 2" in out
    assert scelle(["verify", "--json", str(path)]) == 1
    problem = json.loads(capsys.readouterr().out)["first_problem"]
    assert (problem["row"], problem["column"], problem["expected"], problem["found"]) == (
        index + 1, "total_ttc", total, "0,01")


@pytest.mark.parametrize("name, column", [
    ("lines.csv", "montant"),
    ("closures.csv", "grand_total_perpetuel"),
    ("events.csv", "evenement"),
])
def test_a_changed_cell_in_any_csv_view_is_found(world, tmp_path, name, column):
    rows = csv_rows(members(world.archives["fiscal"])[name])
    index = 2
    data = rezip(world.archives["fiscal"], {name: edit_csv(lambda r: _cell(r, index, column, "9999"))})
    report, _ = check(tmp_path, data)
    first = report.first
    assert (first.file, first.row, first.column, first.reason) == (name, index + 1, column, "cell_changed")
    assert (first.expected, first.found) == (rows[index][rows[0].index(column)], "9999")
    seq_column = 0 if name == "events.csv" else 1
    assert first.seq == int(rows[index][seq_column])


def test_a_removed_row_is_found_where_it_is_missing(world, tmp_path):
    rows = csv_rows(members(world.archives["fiscal"])["entries.csv"])
    index = first_sale_row(rows)
    data = rezip(world.archives["fiscal"], {"entries.csv": edit_csv(lambda r: r.pop(index))})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.row, first.seq, first.reason) == (
        "entries.csv", index + 1, int(rows[index][1]), "row_order")
    assert (first.column, first.expected, first.found) == (
        "seq", f"prod.sales.R1 seq {rows[index][1]}", f"{rows[index + 1][0]} seq {rows[index + 1][1]}")
    assert "removed, added or moved" in first.detail


def test_an_added_row_is_found(world, tmp_path):
    rows = csv_rows(members(world.archives["fiscal"])["entries.csv"])
    index = first_sale_row(rows)
    data = rezip(world.archives["fiscal"], {"entries.csv": edit_csv(lambda r: r.insert(index, list(r[index + 1])))})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.row, first.seq, first.reason) == (
        "entries.csv", index + 1, int(rows[index][1]), "row_order")


def test_an_extra_row_at_the_end_is_found(world, tmp_path):
    data = rezip(world.archives["fiscal"], {"entries.csv": edit_csv(lambda r: r.append(list(r[-1])))})
    rows = csv_rows(members(world.archives["fiscal"])["entries.csv"])
    first = check(tmp_path, data)[0].first
    assert (first.file, first.row, first.reason) == ("entries.csv", len(rows) + 1, "row_added")
    assert first.expected == "(end of file)" and first.found.startswith(";".join(rows[-1][:2]))


def test_reordered_rows_are_found_at_the_first_moved_one(world, tmp_path):
    rows = csv_rows(members(world.archives["fiscal"])["entries.csv"])
    index = first_sale_row(rows)

    def swap(r):
        r[index], r[index + 1] = r[index + 1], r[index]

    first = check(tmp_path, rezip(world.archives["fiscal"], {"entries.csv": edit_csv(swap)}))[0].first
    assert (first.file, first.row, first.seq, first.reason) == (
        "entries.csv", index + 1, int(rows[index][1]), "row_order")


def test_a_cut_tail_in_a_csv_is_found(world, tmp_path):
    rows = csv_rows(members(world.archives["fiscal"])["lines.csv"])
    data = rezip(world.archives["fiscal"], {"lines.csv": edit_csv(lambda r: r.pop())})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.row, first.reason) == ("lines.csv", len(rows), "row_missing")
    assert first.found == "(end of file)"
    assert first.seq == int(rows[-1][1])


# ---- tampering: the sealed records ------------------------------------------------------------------
def _records(world):
    return members(world.archives["fiscal"])["records/prod.sales.R1.jsonl"].split(b"\n")[:-1]


def test_a_changed_record_is_a_hash_mismatch_at_its_seq_and_line(world, tmp_path):
    def change(lines):
        lines[6] = lines[6].replace(b'"client_receipt_id":"', b'"client_receipt_id":"X', 1)

    data = rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(change)})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.row, first.seq, first.reason) == ("records/prod.sales.R1.jsonl", 7, 7, "hash_mismatch")


def test_a_changed_and_rehashed_record_is_caught_by_its_closure_or_signed_checkpoint(world, tmp_path):
    from chalicelib.domain.records import seal

    def forge(lines):
        prev = None
        for index in range(2, len(lines)):  # rewrite seq 3 and relink everything after it
            item = json.loads(lines[index])
            if index == 2:
                item["data"]["client_receipt_id"] = "FORGED"
            if prev is not None:
                item["prev_hash"] = prev
            record = seal(item["tenant_id"], item["chain"], item["seq"], item["type"], item["recorded_at"],
                          item["training"], item["data"], item["prev_hash"])
            prev = record.hash
            lines[index] = json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"),
                                      ensure_ascii=False).encode()

    data = rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(forge)})
    report = check(tmp_path, data)[0]
    first = report.first
    assert first.file == "records/prod.sales.R1.jsonl"
    assert first.reason in ("closure_merkle", "closure_totals", "checkpoint_mismatch") and first.seq > 3
    # the CSV view, which the forger did not rewrite, points at the forged record itself
    assert any(f.file == "entries.csv" and f.seq == 3 and f.column == "reference" for f in report.findings)


def test_a_removed_record_is_a_gap(world, tmp_path):
    data = rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(lambda lines: lines.pop(4))})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.seq, first.reason, first.row) == ("records/prod.sales.R1.jsonl", 5, "gap", 5)


def test_reordered_records_are_found(world, tmp_path):
    def swap(lines):
        lines[4], lines[5] = lines[5], lines[4]

    first = check(tmp_path, rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(swap)}))[0].first
    assert (first.file, first.seq, first.reason) == ("records/prod.sales.R1.jsonl", 5, "out_of_order")


def test_a_cut_tail_of_records_is_a_truncation_against_the_signed_checkpoint(world, tmp_path):
    count = len(_records(world))

    def cut(lines):
        del lines[-3:]

    first = check(tmp_path, rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(cut)}))[0].first
    assert (first.file, first.seq, first.reason) == ("records/prod.sales.R1.jsonl", count - 2, "truncated")


def test_a_record_with_a_duplicate_json_key_is_refused(world, tmp_path):
    def duplicate(lines):
        lines[3] = lines[3].replace(b'"chain":', b'"chain":"prod.sales.R1","chain":', 1)

    first = check(tmp_path, rezip(world.archives["fiscal"],
                                  {"records/prod.sales.R1.jsonl": edit_lines(duplicate)}))[0].first
    assert (first.file, first.row, first.reason) == ("records/prod.sales.R1.jsonl", 4, "non_canonical")
    assert "duplicate key" in first.detail


def test_a_changed_checkpoint_row_is_found(world, tmp_path):
    data = rezip(world.archives["fiscal"], {"checkpoints.csv": edit_csv(lambda r: _cell(r, 2, "racine", "0" * 64))})
    first = check(tmp_path, data)[0].first
    assert first.reason in ("checkpoint_mismatch", "bad_signature")
    assert first.file.startswith("records/")


# ---- tampering: files, manifest, signature, keys ----------------------------------------------------
def test_a_missing_file_is_named(world, tmp_path):
    first = check(tmp_path, rezip(world.archives["fiscal"], drop=("lines.csv",)))[0].first
    assert (first.file, first.reason) == ("lines.csv", "file_missing")


def test_an_added_file_is_named(world, tmp_path):
    first = check(tmp_path, rezip(world.archives["fiscal"], add={"notes.txt": b"hello"}))[0].first
    assert (first.file, first.reason) == ("notes.txt", "file_added")


def test_an_altered_manifest_fails_its_signature(world, tmp_path):
    change = {"manifest.json": lambda body: body.replace(b"Boulangerie", b"Boulangeries", 1)}
    first = check(tmp_path, rezip(world.archives["fiscal"], change))[0].first
    assert (first.file, first.reason) == ("manifest.json", "bad_signature")


def test_an_altered_signature_fails(world, tmp_path):
    change = {"manifest.sig": lambda body: body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]}
    first = check(tmp_path, rezip(world.archives["fiscal"], change))[0].first
    assert (first.file, first.reason) == ("manifest.json", "bad_signature")


def test_a_manifest_with_duplicate_keys_is_refused(world, tmp_path):
    change = {"manifest.json": lambda body: body.replace(b'{\n "chains"', b'{\n "format": "x",\n "chains"', 1)}
    first = check(tmp_path, rezip(world.archives["fiscal"], change))[0].first
    assert (first.file, first.reason) == ("manifest.json", "bad_manifest") and "duplicate key" in first.detail


def _attacker_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem


def test_a_replaced_key_is_named(world, tmp_path):
    _, pem = _attacker_key()
    name = next(n for n in members(world.archives["fiscal"]) if n.endswith(".pem"))
    first = check(tmp_path, rezip(world.archives["fiscal"], {name: lambda body: pem}))[0].first
    assert (first.file, first.reason) == (name, "key_replaced")


def test_a_replaced_key_with_a_re_signed_manifest_is_caught_by_the_checkpoints_and_by_pinning(world, tmp_path):
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key, pem = _attacker_key()
    files = members(world.archives["fiscal"])
    name = next(n for n in files if n.endswith(".pem"))
    original_pem = files[name]
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry["sha256"] = hashlib.sha256(pem).hexdigest()
    body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
    data = rezip(world.archives["fiscal"], {name: lambda _: pem, "manifest.json": lambda _: body,
                                            "manifest.sig": lambda _: key.sign(body, ec.ECDSA(hashes.SHA256()))})
    report, path = check(tmp_path, data)
    # the key id carries the real key's fingerprint prefix: the swap is named with the key file
    assert (report.first.file, report.first.reason) == (name, "key_id_mismatch")
    assert any(f.reason == "bad_signature" and f.file.startswith("records/") for f in report.findings)  # checkpoints
    trusted = tmp_path / "published.pem"
    trusted.write_bytes(original_pem)
    assert scelle(["verify", "--trusted-key", str(trusted), str(path)]) == 1
    from chalicelib.verify_export.verifier import load_trusted_keys

    pinned = verify_archive(path, trusted_keys=load_trusted_keys([trusted]))
    assert {(f.file, f.reason) for f in pinned.findings if f.file == name} == {
        (name, "key_id_mismatch"), (name, "key_not_trusted")}


def test_pinning_the_published_key_accepts_the_untouched_archive(world, tmp_path):
    files = members(world.archives["fiscal"])
    name = next(n for n in files if n.endswith(".pem"))
    trusted = tmp_path / "keys.json"
    trusted.write_text(json.dumps({"keys": [{"key_id": "k", "public_key_pem": files[name].decode()}]}))
    _, path = check(tmp_path, world.archives["fiscal"])
    assert scelle(["verify", "--trusted-key", str(trusted), str(path)]) == 0


# ---- the FEC -----------------------------------------------------------------------------------------
def test_a_changed_fec_line_is_found_with_its_record(world, tmp_path):
    files = members(world.archives["fec"])
    name = next(n for n in files if "FEC" in n)

    def change(body: bytes) -> bytes:
        lines = body.split(b"\r\n")
        lines[5] = lines[5].replace(b"\t0,00\t", b"\t0,01\t", 1)
        return b"\r\n".join(lines)

    first = check(tmp_path, rezip(world.archives["fec"], {name: change}))[0].first
    assert (first.file, first.row, first.reason) == (name, 6, "cell_changed")
    assert first.chain.startswith("prod.sales.") and first.seq >= 1


def test_the_fec_in_the_archive_passes_the_administrations_checks(world):
    from chalicelib.domain.fec import validate_text

    files = members(world.archives["fec"])
    name = next(n for n in files if "FEC" in n)
    assert name == "732829320FEC20260228.txt"
    text = files[name].decode("iso-8859-15")
    assert validate_text(text, name=name, siren="732829320", first_day=FIRST_DAY, last_day=LAST_DAY) == []


# ---- training data and isolation ------------------------------------------------------------------------
def test_a_test_mode_export_is_marked_not_fiscal_everywhere(tmp_path):
    stack = MemoryStack(tmp_path, country="BE", mode="test")
    stack.trade(days=1, sales_per_day=6)
    job, data = stack.export("fiscal", last_day=date(2026, 2, 25))
    files = members(data)
    assert job["fiscal"] is False and job["file_name"].startswith("NON-FISCAL-")
    assert "NON-FISCAL.txt" in files
    assert files["LISEZMOI.txt"].startswith(b"*** NON FISCAL") and b"NOT FISCAL" in files["README.txt"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["export"]["fiscal"] is False and manifest["export"]["training"] is True
    rows = csv_rows(files["entries.csv"])
    assert {row[rows[0].index("formation")] for row in rows[1:]} == {"oui"}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert b"NOT FISCAL" in zf.comment
    report, _ = check(tmp_path, data)
    assert report.ok and "NOT FISCAL" in report.text()


def test_the_verifier_imports_neither_boto3_nor_moto_nor_chalice():
    code = ("import sys, chalicelib.verify_export.verifier, chalicelib.verify_export.cli, chalicelib.domain.fec; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto', 'chalice', "
            "'pydantic', 'aws_lambda_powertools')); print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scelle_verify_runs_without_loading_the_aws_stack(world, tmp_path):
    _, path = check(tmp_path, world.archives["fiscal"])
    code = ("import sys; from chalicelib.cli import main; rc = main(['verify', '--trusted-key', sys.argv[2], "
            "sys.argv[1]]); bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto')]; "
            "sys.exit(rc or (9 if bad else 0))")
    result = subprocess.run([sys.executable, "-c", code, str(path), real_fingerprint(world)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_the_two_process_verification_reports_the_same(world, tmp_path, monkeypatch):
    from chalicelib.verify_export import verifier

    monkeypatch.setattr(verifier, "PARALLEL_FROM", 0)  # big archives only, normally
    tampered = rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(lambda lines: lines.pop(4))})
    for data in (world.archives["fiscal"], tampered):
        path = tmp_path / "x.zip"
        path.write_bytes(data)
        one, two = verify_archive(path, jobs=1), verify_archive(path, jobs=2)
        assert two.ok == one.ok and (two.first and two.first.to_dict()) == (one.first and one.first.to_dict())
        summary = [(c["chain"], c["ok"], c["reason"], c["entries"]) for c in one.chains]
        assert [(c["chain"], c["ok"], c["reason"], c["entries"]) for c in two.chains] == summary
        if one.ok:
            assert two.chains == one.chains and two.findings == one.findings == []
    worker = verifier._finish_worker(verifier._start_worker(str(path)))  # the worker really ran
    assert worker is not None and worker[0][0].reason == "gap"


@pytest.mark.parametrize(("before", "extra"), [
    (b'"recorded_at"', b'"proof_key":"local:write-proof:0123456789abcdef","proof_mac":"AAAA",'),
    (b'"type"', b'"ttl":1790000000,'),
])
def test_a_record_line_carrying_a_table_attribute_or_a_write_proof_is_refused(world, tmp_path, before, extra):
    """An export line is exactly the ten fields (export-format.md section 8.1): the members the
    tables keep next to a record are refused, even in canonical order and with the hash intact."""
    def change(lines):
        assert lines[4].count(before) == 1
        lines[4] = lines[4].replace(before, extra + before, 1)

    data = rezip(world.archives["fiscal"], {"records/prod.sales.R1.jsonl": edit_lines(change)})
    first = check(tmp_path, data)[0].first
    assert (first.file, first.seq, first.reason) == ("records/prod.sales.R1.jsonl", 5, "non_canonical")
