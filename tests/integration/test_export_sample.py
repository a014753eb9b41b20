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
    out = tmp_path / "sample.zip"
    assert scelle(["export-sample", str(out), "--days", "2", "--sales-per-day", "12"]) == 0
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
    capsys.readouterr()
    assert scelle(["verify", str(out)]) == 0
    assert "RESULT: OK" in capsys.readouterr().out
