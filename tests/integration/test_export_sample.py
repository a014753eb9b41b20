"""`scelle export-sample` builds a demo tenant's real production export on a fresh embedded stack
(its own moto server), through the same export service and bucket as the API, and the archive
verifies offline with `scelle verify`."""

from __future__ import annotations

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
    capsys.readouterr()
    # without a trust anchor: internally consistent, unanchored (exit 3); with the demo platform's
    # published keys (what GET /v1/keys answers there): verified and anchored (exit 0)
    assert scelle(["verify", str(out)]) == 3
    assert "RESULT: UNANCHORED" in capsys.readouterr().out
    assert json.loads(keys.read_text())["keys"][0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert scelle(["verify", "--trusted-key", str(keys), str(out)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out


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
    assert lines[0].startswith(f"export-sample: wrote {out} (") and lines[0].endswith(f"scelle verify {out}")
    assert "_aws" not in done.stdout + done.stderr and "token" not in done.stdout + done.stderr
    assert done.stderr == ""
