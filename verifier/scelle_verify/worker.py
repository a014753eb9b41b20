"""The second process of ``verify_archive(jobs=2)``: verifies an archive's chains and prints the
findings and chain summaries as JSON. ``python -m scelle_verify.worker ARCHIVE``.

Not a verifier on its own: it leaves the walk of some record lines' ``data`` (floats,
integers beyond 64 bits, nesting: ``verifier._FIRST_WALKS``) to the process that started it,
which walks them while comparing the CSV rows and verifies the chains again itself if any fails
(``verifier._ArchiveVerifier.run``); and when a chain fails, the rows are compared again in one
process, with the verdicts given here (``verifier.verify_archive``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict


def main(argv: list[str]) -> int:
    from scelle_verify.verifier import _chain_worker

    if len(argv) != 1:
        print("usage: python -m scelle_verify.worker ARCHIVE", file=sys.stderr)
        return 2
    findings, chains = _chain_worker(argv[0])
    json.dump({"findings": [asdict(f) for f in findings], "chains": chains}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
