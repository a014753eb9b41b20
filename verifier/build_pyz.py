"""Build the offline verifier as one file: ``python3 verifier/build_pyz.py [OUT]`` (``make verifier``;
default ``dist/scelle-verify.pyz``).

A zipapp (PEP 441) of the ``scelle_verify`` package and nothing else, compressed, with a
``#!/usr/bin/env python3`` line: ``python3 scelle-verify.pyz EXPORT.zip`` (or ``./scelle-verify.pyz``)
runs it with any Python 3.11+ that can import ``cryptography`` (``orjson``, when that Python has
it, is used as a speed-up). It needs the standard library only to build.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent / "dist" / "scelle-verify.pyz"

# The archive's own __main__: checks the Python version before anything else is imported (the
# package's modules need 3.11), then runs the command-line interface.
MAIN = '''import sys

if sys.version_info < (3, 11):
    sys.stderr.write("scelle-verify needs Python 3.11 or later, this is " + sys.version.split()[0] + "\\n")
    sys.exit(2)

from scelle_verify.cli import main

sys.exit(main())
'''


def build(out: Path = DEFAULT) -> Path:
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "scelle-verify"
        shutil.copytree(HERE / "scelle_verify", stage / "scelle_verify",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (stage / "__main__.py").write_text(MAIN, encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(stage, out, interpreter="/usr/bin/env python3", compressed=True)
    return out


if __name__ == "__main__":
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    print(f"verifier: {built} ({built.stat().st_size / 1024:.0f} KiB): python3 {built} EXPORT.zip "
          "(needs Python 3.11+ with the package cryptography)")
