"""`scelle verify` speed on a big archive (aim: 1,000,000 entries in under 60 s on one core).

Builds (once; ``--archive`` keeps it for the next run) the fiscal export of a register chain of N
entries with the production builder — sales every 15 s, a closure each day, a signed checkpoint
every 1,000 entries — then times ``verify_archive`` on it: every hash, link, closure total, Merkle
root and checkpoint signature recomputed, and every row of entries.csv / lines.csv / closures.csv
recomputed from its record and compared. Baseline, measured in the same run: a bare loop that
reads the same records file, parses each line and hashes its canonical bytes.

``python -m bench.bench_verify_export [--entries 1000000] [--archive PATH]``; ``python -m bench``
(which calls ``main([])``) runs it briefly, with 100,000 entries.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import tempfile
import time
import zipfile
from pathlib import Path

from bench.bench_export import CHAIN, ListSource, SyntheticChain, build, signer
from bench.common import report


def _build(path: Path, entries: int, key_dir: Path) -> float:
    chain = SyntheticChain(entries, signer(key_dir))
    started = time.perf_counter()
    with path.open("wb") as out:
        build(out, ListSource(chain))
    return time.perf_counter() - started


def baseline(path: Path) -> tuple[float, int]:
    from chalicelib.domain.canonical import canonical_bytes

    count = 0
    started = time.perf_counter()
    with zipfile.ZipFile(path) as zf, zf.open(f"records/{CHAIN}.jsonl") as member:
        for line in io.BufferedReader(member, 1 << 20):
            item = json.loads(line)
            item.pop("hash")
            hashlib.sha256(canonical_bytes(item)).digest()
            count += 1
    return time.perf_counter() - started, count


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="sales in the archive (default 1,000,000)")
    parser.add_argument("--archive", type=Path, help="where to keep the archive between runs (reused if present)")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: 2 on a multi-core machine)")
    args = parser.parse_args(argv)
    if argv is not None and not argv:  # `python -m bench`: every benchmark, briefly
        args.entries = 100_000

    from chalicelib.verify_export import verify_archive

    with tempfile.TemporaryDirectory() as tmp:
        path = args.archive or Path(tmp) / "bench-export.zip"
        built = None
        if not path.exists():
            print(f"building a {args.entries:,}-sale archive at {path} (once)...", flush=True)
            built = _build(path, args.entries, Path(tmp))
        base, count = baseline(path)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = verify_archive(path, jobs=args.jobs)
        took = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        from chalicelib.verify_export.verifier import _jobs

        used = _jobs(args.jobs)
        other, other_took = (2 if used == 1 else 1), None
        if args.jobs is None and count >= 100_000:  # the other mode, for comparison
            started = time.perf_counter()
            assert verify_archive(path, jobs=other).ok
            other_took = time.perf_counter() - started
        size = path.stat().st_size
    assert result.ok, result.text()
    rows = sum(c.get("rows", 0) for c in result.chains)
    report("scelle verify (fiscal archive)", [
        ("entries", f"{count:,} records, {rows:,} CSV entries rows + their lines and closures compared"),
        ("archive", f"{size / 1e6:.0f} MB" + (f", built in {built:.0f} s" if built else " (reused)")),
        ("baseline parse+canonicalise+SHA-256", f"{base:.1f} s ({count / base:,.0f} entries/s)"),
        (f"scelle verify ({used} process{'es' if used > 1 else ''})", f"{took:.1f} s ({count / took:,.0f} entries/s)"),
        *([(f"scelle verify ({other} process{'es' if other > 1 else ''})",
            f"{other_took:.1f} s ({count / other_took:,.0f} entries/s)")] if other_took else []),
        ("verify / baseline", f"{took / base:.2f}x"),
        ("aim", "1,000,000 entries in < 60 s: " + ("met" if count < 1_000_000 or took < 60 else "NOT met")),
        ("max RSS (process)", f"{rss_after / 1024:.0f} MB (before verify: {rss_before / 1024:.0f} MB)"),
    ])


if __name__ == "__main__":
    main()
