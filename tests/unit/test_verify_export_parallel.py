"""`scelle verify` in two processes (issue 15, item 5): the chains verified in a second process while
the first compares the CSV rows, on a big archive (``verifier.PARALLEL_FROM`` records or more; forced
here on a small one). Whatever the tamper and wherever it lies, the report is exactly the one a
single process gives: the same first problem (file, row, seq, column, expected, found), the same
list, the same chain summaries."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

import pytest

from chalicelib.commands.export_sample import MemoryStack
from chalicelib.domain.canonical import canonical_bytes
from chalicelib.verify_export import format as fmt
from chalicelib.verify_export import verifier, verify_archive
from tests.support.archives import csv_bytes, csv_rows, members

FIRST_DAY, LAST_DAY = date(2026, 2, 1), date(2026, 2, 28)
R1 = "prod.sales.R1"
RECORDS = fmt.records_path(R1)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR")
    stack.trade(days=3, sales_per_day=20)
    job, data = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "done", job
    return data


@pytest.fixture
def spy(monkeypatch):
    """Two processes from the first record on; the second processes started, to check they ran."""
    started = []
    real = verifier._start_worker

    def start(path):
        worker = real(path)
        started.append(worker)
        return worker

    monkeypatch.setattr(verifier, "PARALLEL_FROM", 0)
    monkeypatch.setattr(verifier, "_start_worker", start)
    return started


def rezip(data: bytes, changes: dict) -> bytes:
    files = members(data)
    for name, change in changes.items():
        files[name] = change(files[name])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return out.getvalue()


def record_lines(change):
    """Apply ``change(records)`` to the chain's records (dicts, in line order), written back as
    canonical lines; a record whose ``reseal`` key is set gets its hash recomputed (a forger's)."""
    def apply(body: bytes) -> bytes:
        records = [json.loads(line) for line in body.split(b"\n")[:-1]]
        change(records)
        for record in records:
            if record.pop("reseal", False):
                record["hash"] = hashlib.sha256(canonical_bytes({k: v for k, v in record.items()
                                                                 if k != "hash"})).hexdigest()
        return b"".join(canonical_bytes(record) + b"\n" for record in records)

    return apply


def both(tmp_path, data: bytes, started: list) -> dict:
    """The report of one process and of two, which must be the same; the two-process one."""
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    one = verify_archive(path, jobs=1).to_dict()
    assert not started  # one process: no second one
    two = verify_archive(path, jobs=2).to_dict()
    assert len(started) == 1 and started[0] is not None and started[0].returncode == 0  # it ran, and answered
    assert two == one
    return two


def chain_size(data: bytes) -> int:
    return members(data)[RECORDS].count(b"\n")


def sale_seq(data: bytes, fraction: float) -> int:
    """The seq of the first sale at or after ``fraction`` of the chain."""
    records = [json.loads(line) for line in members(data)[RECORDS].split(b"\n")[:-1]]
    return next(r["seq"] for r in records[int(len(records) * fraction):] if r["type"] == "sale")


def test_an_intact_archive_is_reported_alike(archive, tmp_path, spy):
    report = both(tmp_path, archive, spy)
    assert report["ok"] and report["problems"] == []
    assert chain_size(archive) > 20


def test_a_record_changed_in_the_second_half_is_named_as_one_process_names_it(archive, tmp_path, spy):
    late = sale_seq(archive, 0.75)

    def change(records):
        records[late - 1]["data"]["client_receipt_id"] += "x"

    report = both(tmp_path, rezip(archive, {RECORDS: record_lines(change)}), spy)
    first = report["first_problem"]
    assert (first["file"], first["reason"], first["row"], first["seq"], first["chain"]) == (
        RECORDS, "hash_mismatch", late, late, R1)


def test_tampers_in_both_halves_report_the_first(archive, tmp_path, spy):
    early, late = sale_seq(archive, 0.25), sale_seq(archive, 0.75)

    def change(records):
        records[early - 1]["data"]["client_receipt_id"] += "x"
        records[late - 1]["data"]["client_receipt_id"] += "x"

    report = both(tmp_path, rezip(archive, {RECORDS: record_lines(change)}), spy)
    first = report["first_problem"]
    assert (first["reason"], first["seq"], first["row"]) == ("hash_mismatch", early, early)
    summary = next(c for c in report["chains"] if c["chain"] == R1)
    assert summary["first_bad_seq"] == early and not summary["ok"]


def test_the_link_into_the_second_half_is_checked(archive, tmp_path, spy):
    """The first record of the second half re-sealed by a forger on another previous hash: its own
    hash is right, its link to the record before it is not."""
    middle = chain_size(archive) // 2 + 1

    def change(records):
        records[middle - 1]["prev_hash"] = hashlib.sha256(b"another past").hexdigest()
        records[middle - 1]["reseal"] = True

    report = both(tmp_path, rezip(archive, {RECORDS: record_lines(change)}), spy)
    first = report["first_problem"]
    assert (first["file"], first["reason"], first["row"], first["seq"]) == (RECORDS, "broken_link", middle, middle)
    assert f"seq {middle}: field prev_hash is" in first["detail"]


def test_a_csv_cell_changed_in_the_second_half_is_named_alike(archive, tmp_path, spy):
    def change(body: bytes) -> bytes:
        rows = csv_rows(body)
        row = len(rows) * 3 // 4
        rows[row][rows[0].index("operateur")] += "1"
        return csv_bytes(rows)

    report = both(tmp_path, rezip(archive, {fmt.ENTRIES: change}), spy)
    first = report["first_problem"]
    assert first["file"] == fmt.ENTRIES and first["reason"] == "cell_changed"
    assert first["row"] > len(csv_rows(members(archive)[fmt.ENTRIES])) // 2
    assert first["expected"] + "1" == first["found"]


def test_a_record_in_the_second_half_and_a_row_in_the_first(archive, tmp_path, spy):
    late = sale_seq(archive, 0.75)

    def change_records(records):
        records[late - 1]["data"]["client_receipt_id"] += "x"

    def change_rows(body: bytes) -> bytes:
        rows = csv_rows(body)
        rows[3][rows[0].index("operateur")] += "1"
        return csv_bytes(rows)

    report = both(tmp_path, rezip(archive, {RECORDS: record_lines(change_records), fmt.ENTRIES: change_rows}), spy)
    reasons = [(p["file"], p["reason"]) for p in report["problems"]]
    assert (RECORDS, "hash_mismatch") in reasons and (fmt.ENTRIES, "cell_changed") in reasons


def test_a_small_archive_is_verified_in_one_process(archive, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(verifier, "_start_worker", lambda path: started.append(path))
    path = tmp_path / "export.zip"
    path.write_bytes(archive)
    assert chain_size(archive) < verifier.PARALLEL_FROM
    assert verify_archive(path, jobs=2).ok and started == []


# ---- the record built without the dataclass machinery (``SealedRecord._from_proven``) --------------
def proven_items(data: bytes) -> list:
    return [verifier._parse_record_line(line)[0] for line in members(data)[RECORDS].split(b"\n")[:-1]]


def test_a_proven_line_gives_the_record_the_full_path_gives(archive):
    from chalicelib.domain.canonical import TrustedItem
    from chalicelib.domain.records import SealedRecord

    items = proven_items(archive)
    assert all(type(item) is TrustedItem and item.canonical_hash for item in items)
    for item in items:
        fast = SealedRecord.from_item(item, storage_attributes=())
        full = SealedRecord.from_item(dict(item), storage_attributes=())
        assert fast == full and fast.recomputed_hash == full.recomputed_hash == fast.hash
        assert fast.write_proof is None and fast.intact


@pytest.mark.parametrize(("name", "value"), [
    ("hash", "AB" * 32), ("prev_hash", "g" * 64), ("recorded_at", "2026-02-30T10:00:00.000000Z"),
    ("recorded_at", "2026-02-25T10:00:00Z"), ("seq", 0), ("training", 0), ("type", "sale#x"), ("data", []),
    ("tenant_id", ""), ("hash_version", 2),
])
def test_a_proven_line_with_a_bad_field_is_refused_as_the_full_path_refuses_it(archive, name, value):
    from chalicelib.domain.records import RecordError, SealedRecord

    item = proven_items(archive)[5]
    item[name] = value
    errors = []
    for candidate in (item, dict(item)):
        with pytest.raises(RecordError) as caught:
            SealedRecord.from_item(candidate, storage_attributes=())
        errors.append((caught.value.reason, caught.value.field, caught.value.detail))
    assert errors[0] == errors[1]
