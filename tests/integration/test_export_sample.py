"""`scelle export-sample` builds a demo tenant's real production export on a fresh embedded stack
(its own moto server), through the same export service and bucket as the API, and the archive
verifies offline with `scelle verify`."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from chalicelib.cli import main as scelle

pytestmark = pytest.mark.integration


def test_export_sample_writes_a_production_export_that_verifies(tmp_path, capsys):
    out, keys = tmp_path / "sample.zip", tmp_path / "sample-keys.json"
    assert scelle(["export-sample", str(out), "--days", "2", "--sales-per-day", "12", "--keys", str(keys)]) == 0
    data = out.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        closures = zf.read("closures.csv").decode("utf-8-sig").splitlines()
    assert manifest["export"]["fiscal"] is True and manifest["tenant"]["mode"] == "production"
    assert manifest["tenant"]["country"] == "FR"
    chains = {c["chain"]: c for c in manifest["chains"]}
    assert {"prod.sales.R1", "prod.sales.R2", "prod.journal", "events"} <= set(chains)
    assert sum(c["last_seq"] for name, c in chains.items() if name.startswith("prod.sales.")) >= 24
    assert len(closures) > 1 + 2  # daily closures of each chain
    directory = {e["chain"]: e["status"] for e in manifest["directory"]["chains"]}
    assert all(directory[c] == "included" for c in chains)
    # the command it prints anchors the archive with the keys it wrote (exit 0 below)
    assert capsys.readouterr().out.rstrip().endswith(f"check it with: scelle verify --trusted-key {keys} {out}")
    # without a trust anchor: internally consistent, unanchored (exit 3); with the demo platform's
    # published keys (what GET /v1/keys answers there): verified and anchored (exit 0)
    assert scelle(["verify", str(out)]) == 3
    assert "RESULT: UNANCHORED" in capsys.readouterr().out
    assert json.loads(keys.read_text())["keys"][0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert scelle(["verify", "--trusted-key", str(keys), str(out)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out
    # decision 0023: the demo signed up in test mode, and those events are training data: withheld
    # (hash only) from this production export, nowhere else in it
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        files = {info.filename: zf.read(info) for info in infos}
    assert chains["events"]["withheld_training"] >= 1
    assert json.loads(files["records/events.jsonl"].splitlines()[0])["withheld"] == "training"
    assert not [name for name, body in files.items() if b'"training":true' in body or b"formation;oui" in body]
    events = list(csv.reader(io.StringIO(files["events.csv"].decode("utf-8-sig"), newline=""), delimiter=";"))
    assert {row[events[0].index("formation")] for row in events[1:]} == {"non"}
    # every member dated the build time (UTC), none 1980; the read-me's guide is in the archive
    generated = manifest["export"]["generated_at"]
    stamp = tuple(int(x) for x in (generated[:4], generated[5:7], generated[8:10], generated[11:13], generated[14:16]))
    assert {info.date_time[:5] for info in infos} == {stamp}
    assert b"docs/auditor-guide.en.md" in files["README.txt"] and "docs/auditor-guide.en.md" in files
    assert b"docs/auditor-guide.fr.md" in files["LISEZMOI.txt"] and "docs/auditor-guide.fr.md" in files


def test_export_sample_prints_only_where_the_file_is_no_metric_blob_and_no_mail_token(tmp_path):
    """Enough sealed records for Powertools' 100-value overflow, which used to print an EMF blob
    on stdout; the demo sign-up's verification mail, whose token used to be logged there. With
    stderr no terminal, no progress bar either."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "sample.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCELLE_")}
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "export-sample", str(out), "--days", "2", "--sales-per-day", "50"],
        cwd=Path(__file__).resolve().parents[2], env={**env, "PYTHONUNBUFFERED": "1"}, capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.exists()
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith(f"export-sample: wrote {out} (")
    # no --keys: no trust anchor, and the line says how to get one rather than a command that exits 3
    assert f"--keys FILE, then check it with: scelle verify --trusted-key FILE {out} " in lines[0], lines[0]
    assert "_aws" not in done.stdout + done.stderr and "token" not in done.stdout + done.stderr
    assert done.stderr == ""


# -- every record kind and option, FR and BE ----------------------------------------------------------


def _ledger_records(files: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for name, body in sorted(files.items())
            if name.startswith("records/") and name != "records/events.jsonl" for line in body.splitlines()]


def _features(records: list[dict]) -> set[str]:
    """What the sealed ledger records of a sample exercise (docs/entry-types.md)."""
    found = set()
    for record in records:
        data = record["data"]
        if record["type"] == "sale":
            found.add(f"sale {data['kind']}")
            found |= {"excl. VAT prices"} if not data["prices_include_vat"] else {"incl. VAT prices"}
            found.add(f"rounding {data['rounding_policy']}")
            if any(line["discount"] for line in data["lines"]):
                found.add("discount")
            if any(line["quantity"] % 1000 for line in data["lines"]):
                found.add("weighed quantity")
            if len(data["payments"]) > 1 and data["change"] > 0:
                found.add("several payments with change")
            found |= {f"paid by {p['method']}" for p in data["payments"]}
        elif record["type"] == "journal" and any(line["aux_account"] for line in data["lines"]):
            found.add("journal entry with auxiliary accounts")
        elif record["type"] == "reversal":
            found.add(f"reversal of a {data['negated'].get('kind', 'journal entry')}")
        elif record["type"] == "closure":
            found.add(f"{data['kind']} closure")
    return found


EVERY_KIND = {
    "sale sale", "sale return", "incl. VAT prices", "excl. VAT prices", "rounding document", "rounding line",
    "discount", "weighed quantity", "several payments with change", "paid by cash", "paid by card",
    "paid by voucher", "paid by transfer", "journal entry with auxiliary accounts", "reversal of a sale",
    "reversal of a return", "reversal of a journal entry", "day closure", "month closure", "year closure",
}


@pytest.mark.parametrize(("country", "options", "day_hours"), [
    # 30 December to 1 January: the days, December and the year 2026 close by themselves
    ("BE", ["--format", "fiscal", "--start", "2026-12-30", "--days", "3"], {24}),
    # 27 and 28 March (the clocks go forward on the night of the 28th: a 23-hour business day),
    # then --close-year: March and the year 2026, and an FEC of the whole year
    ("FR", ["--format", "fec", "--start", "2026-03-27", "--days", "2", "--close-year"], {24, 23}),
])
def test_export_sample_exercises_every_record_kind_and_option_and_verifies(country, options, day_hours, tmp_path,
                                                                          capsys):
    from datetime import datetime

    out, keys = tmp_path / "sample.zip", tmp_path / "keys.json"
    # In a process of its own: the command points the process's log handler at its stderr, which a
    # second in-process run under pytest's capture would find closed.
    done = _run_cli(["export-sample", str(out), "--country", country, "--sales-per-day", "8", *options,
                     "--keys", str(keys)])
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    records = _ledger_records(files)

    assert manifest["tenant"]["country"] == country and manifest["tenant"]["mode"] == "production"
    assert manifest["tenant"]["vat_number"] == {"FR": "FR44732829320", "BE": "BE0999999922"}[country]
    assert EVERY_KIND <= _features(records), EVERY_KIND - _features(records)
    days = [r["data"] for r in records if r["type"] == "closure" and r["data"]["kind"] == "day"]
    hours = {(datetime.fromisoformat(d["period_end"][:19]) - datetime.fromisoformat(d["period_start"][:19]))
             .total_seconds() / 3600 for d in days}
    assert hours == day_hours
    if "fec" in options:
        fec = [name for name in files if name.endswith(".txt") and "FEC" in name]
        assert fec == ["732829320FEC20261231.txt"]
        assert "MOULIN" in files[fec[0]].decode("iso-8859-15")  # a supplier's sub-ledger account
    capsys.readouterr()
    assert scelle(["verify", "--trusted-key", str(keys), str(out)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out


def test_export_sample_refuses_a_belgian_fec_before_building_anything(tmp_path):
    done = _run_cli(["export-sample", str(tmp_path / "x.zip"), "--country", "BE", "--format", "fec"])
    assert done.returncode == 2 and "the FEC is French" in done.stderr
    assert not (tmp_path / "x.zip").exists()


def _run_cli(args: list[str]):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCELLE_")}
    return subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], cwd=Path(__file__).resolve().parents[2],
                          env=env, capture_output=True, text=True, timeout=300)
