"""``scelle verify EXPORT.zip [--json] [--trusted-key FINGERPRINT|FILE]...``

Exit statuses:

* 0 — verified and anchored: everything verifies, the export is complete, and every key that
  signs it is one the auditor trusts (``--trusted-key``);
* 1 — failed: the report names the first bad file, row and seq (or the missing chain);
* 2 — the command itself was misused (no such archive, an unreadable trusted key);
* 3 — internally consistent but unanchored: nothing wrong was found, but no ``--trusted-key``
  was given, so the keys that sign the archive come from the archive itself; the report says
  which key signs what.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EPILOG = """exit status: 0 verified and anchored (with --trusted-key); 1 failed; 2 usage error;
3 internally consistent but unanchored (no --trusted-key: the keys come from the archive itself).
Where to get the fingerprint: GET /v1/keys of the Scellé service, or the company's admin
(auditor guide, section 4)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify an export archive offline (no AWS account, no server)",
        description="Recompute every hash, link, closure total, Merkle root and signature of a Scellé export "
                    "archive, every CSV row from its sealed record, and check that the export is complete (chain "
                    "directory, event journal). Without --trusted-key the result is at best 'unanchored' (exit 3).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("archive", type=Path, help="the export archive (.zip)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="FINGERPRINT|FILE",
                        help="the trust anchor, obtained out of band: a key's SHA-256 fingerprint (sha256:<64 hex "
                             "digits>, or a prefix of at least 32), a PEM public key file, or the JSON of GET /v1/keys "
                             "(the published key list). Every key that signs something in the archive must be among "
                             "them (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chalicelib.verify_export.verifier import EXIT_USAGE, load_trusted_keys, verify_archive

    if not args.archive.is_file():
        print(f"scelle verify: {args.archive}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        trusted = load_trusted_keys(args.trusted_key) if args.trusted_key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"scelle verify: cannot read the trusted keys: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report = verify_archive(args.archive, trusted_keys=trusted)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(report.text())
    return report.exit_code
