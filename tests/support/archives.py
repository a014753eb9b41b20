"""Reading export archives in tests: their members and their CSV views (the dialect of
docs/export-format.md section 9), written once for the verifier tests."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from chalicelib.verify_export import format as fmt


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def signed(files: dict[str, bytes], manifest: dict, signer) -> bytes:
    """An archive of ``files`` with ``manifest`` written as the builder writes it and signed by
    ``signer`` (what a forger holding a key, or the real one, would produce)."""
    body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
    files = {**files, fmt.MANIFEST: body, fmt.SIGNATURE: signer.sign(body)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return out.getvalue()
