"""``scelle-verify EXPORT.zip [--json | --quiet] [--trusted-key FINGERPRINT|FILE]... [--witness-key …]...``

The same command three ways: ``scelle-verify`` (this distribution's console script),
``python3 scelle-verify.pyz`` (the single-file build of ``make verifier``) and ``scelle verify``
(the main CLI, which registers this parser as a subcommand).

Exit statuses:

* 0 — verified and anchored: everything verifies, the export is complete, and every key that
  signs it is one the auditor trusts (``--trusted-key``), or every chain's newest checkpoint is
  co-signed by a witness key the auditor holds (``--witness-key``, decision 0024);
* 1 — failed: the report names the first bad file, row and seq (or the missing chain);
* 2 — the command itself was misused (no such archive, an unreadable trusted key), or
  ``cryptography`` is not installed;
* 3 — internally consistent but unanchored: nothing wrong was found, but neither
  ``--trusted-key`` nor ``--witness-key`` was given, so the keys that sign the archive come from
  the archive itself; the report says which key signs what.

Output: the report on stdout; ``--json`` the whole report as one JSON object instead; ``--quiet``
only its ``RESULT:`` line (one line, always, so that a script can log it; the exit status says the
same). A progress bar is drawn on stderr only when stderr is a terminal and neither ``--json`` nor
``--quiet`` is given: nothing but the report reaches a pipe or a file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_USAGE = 2  # as verifier.EXIT_USAGE (this module must not import the verifier before the check)

DESCRIPTION = (
    "Recompute every hash, link, closure total, Merkle root and signature of a Scellé export archive, every "
    "CSV row from its sealed record, and check that the export is complete (chain directory, event journal). "
    "Without --trusted-key (or --witness-key) the result is at best 'unanchored' (exit 3).")

EPILOG = """exit status: 0 verified and anchored (with --trusted-key, or --witness-key); 1 failed;
2 usage error (or cryptography missing); 3 internally consistent but unanchored (no anchor: the
keys come from the archive itself). Where to get the fingerprint: GET /v1/keys of the Scellé
service, or the company's admin (auditor guide, section 4); the witness's, from whoever runs the
witness.

needs: Python 3.11 or later with the package 'cryptography' (pip install cryptography); 'orjson',
when installed, makes it faster. Nothing else: no AWS account, no network."""

MISSING_CRYPTOGRAPHY = (
    "scelle verify: the Python package 'cryptography' is needed to check signatures, and this Python ({python}) "
    "cannot import it: install it with\n    {python} -m pip install cryptography\n(or your system's package, "
    "e.g. python3-cryptography), then run the same command again.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", type=Path, help="the export archive (.zip)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print the whole report as one JSON object on stdout (for scripts); no progress bar")
    output.add_argument("--quiet", "-q", action="store_true",
                        help="print only the RESULT line (OK, UNANCHORED, or FAILED with the first problem), no "
                             "progress bar; the exit status says the same")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="FINGERPRINT|FILE",
                        help="the trust anchor, obtained out of band: a key's SHA-256 fingerprint (sha256:<64 hex "
                             "digits>, or a prefix of at least 32), a PEM public key file, or the JSON of GET /v1/keys "
                             "(the published key list). Every key that signs something in the archive must be among "
                             "them (repeatable)")
    parser.add_argument("--witness-key", action="append", default=[], metavar="FINGERPRINT|FILE",
                        help="a key of the independent witness (decision 0024), obtained out of band: its SHA-256 "
                             "fingerprint or a PEM public key file (repeatable). Every chain's newest checkpoint must "
                             "then carry a valid cosignature by one of them, which anchors the chain even without "
                             "--trusted-key; a cosignature by another witness key is reported but anchors nothing")


def register(subparsers) -> None:
    """``scelle verify``: this command as a subcommand of the main CLI."""
    parser = subparsers.add_parser(
        "verify", help="verify an export archive offline (no AWS account, no server)", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(func=run)


def build_parser(prog: str = "scelle-verify") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def cryptography_missing() -> str | None:
    """The message to print when ``cryptography`` cannot be imported (None when it can)."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401
    except ImportError:
        return MISSING_CRYPTOGRAPHY.format(python=sys.executable or "python3")
    return None


def run(args: argparse.Namespace) -> int:
    missing = cryptography_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_USAGE
    from scelle_verify.verifier import load_trusted_keys, verify_archive

    if not args.archive.is_file():
        print(f"scelle verify: {args.archive}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        trusted = load_trusted_keys(args.trusted_key) if args.trusted_key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"scelle verify: cannot read the trusted keys: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        witnesses = load_trusted_keys(args.witness_key, role="witness") if args.witness_key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"scelle verify: cannot read the witness keys: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bar = _Bar() if not (args.json or args.quiet) and _is_terminal(sys.stderr) else None
    try:
        report = verify_archive(args.archive, trusted_keys=trusted, witness_keys=witnesses, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
    elif args.quiet:
        print(report.result_line())
    else:
        print(report.text())
    return report.exit_code


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class _Bar:
    """The progress bar on stderr (drawn only on a terminal: ``run`` creates none otherwise), made
    when the verifier first says how much it will read."""

    def __init__(self) -> None:
        self.progress = None

    def __call__(self, done: int, total: int, note: str) -> None:
        if self.progress is None:
            from scelle_verify.progress import Progress

            self.progress = Progress("scelle verify", total, stream=sys.stderr, enabled=True)
        self.progress.total = max(total, 1)
        self.progress.update(done, note)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


def main(argv: list[str] | None = None, prog: str = "scelle-verify") -> int:
    """The ``scelle-verify`` console script and the zipapp's entry point."""
    args = build_parser(prog).parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
