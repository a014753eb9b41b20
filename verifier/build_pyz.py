"""Build the offline verifier as one file: ``python3 verifier/build_pyz.py [OUT]`` (``make verifier``;
default ``dist/scelle-verify.pyz``).

A zipapp (PEP 441) of the ``scelle_verify`` package and nothing else, compressed, with a
``#!/usr/bin/env python3`` line: ``python3 scelle-verify.pyz EXPORT.zip`` (or ``./scelle-verify.pyz``)
runs it with any Python 3.11+ that can import ``cryptography`` (``orjson``, when that Python has
it, is used as a speed-up). It needs the standard library only to build.
"""

from __future__ import annotations

import os
import sys
import time
import zipfile
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


# Reproducible: the same sources give the same bytes on any machine (sorted members, one fixed
# date, fixed permissions), so that anyone can rebuild the file and compare its SHA-256 with the
# one the console shows. SOURCE_DATE_EPOCH, when set, gives the date (the reproducible-builds
# convention); else 2026-01-01 00:00:00 UTC.
DEFAULT_DATE = (2026, 1, 1, 0, 0, 0)


def _member_date() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return DEFAULT_DATE
    when = time.gmtime(max(int(epoch), 315532800))  # a ZIP date starts in 1980
    return when.tm_year, when.tm_mon, when.tm_mday, when.tm_hour, when.tm_min, when.tm_sec - when.tm_sec % 2


def build(out: Path = DEFAULT) -> Path:
    out = Path(out)
    package = HERE / "scelle_verify"
    members = {"__main__.py": MAIN.encode("utf-8")}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" not in path.parts:
            members[path.relative_to(HERE).as_posix()] = path.read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    date = _member_date()
    with staged.open("wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=date)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.create_system = 3  # Unix, whatever the building system
                zf.writestr(info, members[name])
    staged.chmod(0o755)
    staged.replace(out)
    return out


if __name__ == "__main__":
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    print(f"verifier: {built} ({built.stat().st_size / 1024:.0f} KiB): python3 {built} EXPORT.zip "
          "(needs Python 3.11+ with the package cryptography)")
