"""The Lambda zip that `chalice package` wrote for the real app carries the offline verifier's
package (verifier/scelle_verify, which chalicelib reuses) at its root, and the app imports it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.unit.test_packaging import _IMPORTS_FROM_ROOT, AWS_ENV


def test_the_deployment_zip_holds_scelle_verify_and_the_app_imports_it(real, tmp_path):
    deployment = Path(real.stack.functions.chalice._sam_package_dir) / "deployment.zip"
    with zipfile.ZipFile(deployment) as zf:
        names = set(zf.namelist())
        assert {"app.py", "scelle_verify/verifier.py", "scelle_verify/domain/records.py",
                "chalicelib/domain/records.py"} <= names
        zf.extractall(tmp_path / "lambda")
    done = subprocess.run([sys.executable, "-I", "-c", _IMPORTS_FROM_ROOT, str(tmp_path / "lambda")], cwd=tmp_path,
                          env={**os.environ, **AWS_ENV}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout[-2000:] + done.stderr[-3000:]
