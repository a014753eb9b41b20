"""``scelle verify EXPORT.zip [--json] [--trusted-key FILE]``: exit 0 when everything verifies, 1 with a
report naming the first bad file, row and seq otherwise, 2 when the command itself is misused."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify an export archive offline (no AWS account, no server)",
        description="Recompute every hash, link, closure total, Merkle root and signature of a Scellé export "
                    "archive, and every CSV row from its sealed record.",
    )
    parser.add_argument("archive", type=Path, help="the export archive (.zip)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="FILE",
                        help="a PEM public key, or the JSON of GET /v1/keys, that the archive's keys must be among "
                             "(repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chalicelib.verify_export.verifier import load_trusted_keys, verify_archive

    if not args.archive.is_file():
        print(f"scelle verify: {args.archive}: no such file", file=sys.stderr)
        return 2
    try:
        trusted = load_trusted_keys(args.trusted_key) if args.trusted_key else None
    except (OSError, ValueError, KeyError) as exc:
        print(f"scelle verify: cannot read the trusted keys: {exc}", file=sys.stderr)
        return 2
    report = verify_archive(args.archive, trusted_keys=trusted)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(report.text())
    return 0 if report.ok else 1
