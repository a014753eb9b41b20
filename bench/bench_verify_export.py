"""`scelle verify` speed and memory on a big archive (aim, issue 15: 1,000,000 entries in under 15 s on
a 2-core machine, at least 0.5x the speed of a bare orjson canonicalise + SHA-256 loop over the same
records, and under 200 MB peak RSS for all its processes together).

Builds (once; ``--archive`` keeps it for the next run) the fiscal export of a register chain of N
entries with the production builder — sales every 15 s, a closure each day, a signed checkpoint
every 1,000 entries — then runs the command as an auditor does, ``python -m scelle_verify ARCHIVE
--quiet`` in a child process (interpreter start and imports included): every hash, link, closure
total, Merkle root and checkpoint signature recomputed, and every row of entries.csv / lines.csv /
closures.csv recomputed from its record and compared. Its peak memory is the sum of the peak RSS of
the command and of its second process.

Baseline, measured in the same run: a bare loop over the same records file that reads each line,
parses it with orjson, drops ``hash`` and hashes the canonical bytes (orjson, sorted keys) with
SHA-256 — the least any verifier must do. The figures are printed as ratios against it ("speed vs
baseline" = baseline time / verify time: 0.5 means half as fast) and as absolute seconds and MB.
The aim is judged ("met" / "not met") only for the size the run actually verified: at 1,000,000
entries or more; a smaller run says so and judges nothing.

``python -m bench.bench_verify_export [--entries 1000000] [--archive PATH] [--jobs N] [--compare]
[--stdlib]``: ``--compare`` also times the other process count, ``--stdlib`` also the standard
library's JSON (orjson blocked). ``python -m bench`` (which calls ``main([])``) runs it briefly,
with 100,000 entries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.bench_export import CHAIN, ListSource, SyntheticChain, build, signer
from bench.common import report

AIM_ENTRIES = 1_000_000
AIM_SECONDS = 15.0
AIM_SPEED_VS_BASELINE = 0.5
AIM_MEMORY_MB = 200

# The command in a child process: the whole command's time, then its own peak RSS and that of its
# second process (the largest child it waited for), in kB.
_VERIFY = """
import json, resource, sys, time
if sys.argv[3] == "stdlib":
    sys.modules["orjson"] = None  # the standard library's JSON, as without orjson installed
started = time.perf_counter()
from scelle_verify import verifier
from scelle_verify.cli import main
jobs = None if sys.argv[2] == "auto" else int(sys.argv[2])
if jobs is not None:
    verifier._jobs = lambda _ignored, jobs=jobs: jobs
code = main([sys.argv[1], "--quiet"])
took = time.perf_counter() - started
me, child = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "seconds": took, "jobs": verifier._jobs(None),
                  "self_kb": me.ru_maxrss, "worker_kb": child.ru_maxrss,
                  "self_cpu": me.ru_utime + me.ru_stime, "worker_cpu": child.ru_utime + child.ru_stime}))
"""


def _build(path: Path, entries: int, key_dir: Path) -> float:
    chain = SyntheticChain(entries, signer(key_dir))
    started = time.perf_counter()
    with path.open("wb") as out:
        build(out, ListSource(chain))
    return time.perf_counter() - started


def baseline(path: Path) -> tuple[float, int]:
    """The bare loop: read each line of the records file, orjson-parse it, drop ``hash``, encode
    it canonically (orjson, sorted keys) and SHA-256 it."""
    import orjson

    count = 0
    started = time.perf_counter()
    with zipfile.ZipFile(path) as zf, zf.open(f"records/{CHAIN}.jsonl") as member:
        rest = b""
        while chunk := member.read(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                item = orjson.loads(line)
                item.pop("hash")
                hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).digest()
                count += 1
    return time.perf_counter() - started, count


def verify(path: Path, jobs: int | None, json_backend: str = "orjson") -> dict:
    """``scelle verify --quiet`` in a child process: its figures (``seconds``: the whole command)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _VERIFY, str(path), "auto" if jobs is None else str(jobs),
                           json_backend], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"scelle verify failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update(wall=wall, result=done.stdout.strip().splitlines()[0][:60],
                   peak_mb=(figures["self_kb"] + figures["worker_kb"]) / 1024)
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=AIM_ENTRIES, help="sales in the archive (default 1,000,000)")
    parser.add_argument("--archive", type=Path, help="where to keep the archive between runs (reused if present)")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: the command's own choice)")
    parser.add_argument("--compare", action="store_true", help="also time the other process count")
    parser.add_argument("--stdlib", action="store_true", help="also time it with the standard library's JSON")
    args = parser.parse_args(argv)
    if argv is not None and not argv:  # `python -m bench`: every benchmark, briefly
        args.entries = 100_000

    with tempfile.TemporaryDirectory() as tmp:
        path = args.archive or Path(tmp) / "bench-export.zip"
        built = None
        if not path.exists():
            print(f"building a {args.entries:,}-sale archive at {path} (once)...", flush=True)
            built = _build(path, args.entries, Path(tmp))
        base, count = baseline(path)
        main_run = verify(path, args.jobs)
        runs = [("scelle verify", main_run)]
        if args.compare:
            other = 1 if main_run["jobs"] > 1 else 2
            runs.append((f"scelle verify, {other} process{'es' if other > 1 else ''}", verify(path, other)))
        if args.stdlib:
            runs.append(("scelle verify, standard library JSON", verify(path, args.jobs, "stdlib")))
        size = path.stat().st_size
    rows = [
        ("entries", f"{count:,} records (+ every CSV row and FEC line they give)"),
        ("archive", f"{size / 1e6:.0f} MB" + (f", built in {built:.0f} s" if built else " (reused)")),
        ("baseline (orjson parse + canonical encode + SHA-256)", f"{base:.1f} s ({count / base:,.0f} entries/s)"),
    ]
    for label, run in runs:
        processes = f"{run['jobs']} process{'es' if run['jobs'] > 1 else ''}"
        rows += [
            (f"{label} ({processes})", f"{run['seconds']:.1f} s ({count / run['seconds']:,.0f} entries/s); "
                                       f"{run['result'].split(' - ')[0]}"),
            ("  speed vs baseline", f"{base / run['seconds']:.2f}x (time {run['seconds'] / base:.2f}x the baseline's)"),
            ("  peak RSS, all processes", f"{run['peak_mb']:.0f} MB (command {run['self_kb'] / 1024:.0f} MB + second "
                                          f"process {run['worker_kb'] / 1024:.0f} MB)"),
            # CPU seconds say what the wall time would be on two free cores (the longer of the two),
            # when other work shares the machine
            ("  CPU seconds", f"command {run['self_cpu']:.1f} s, second process {run['worker_cpu']:.1f} s"),
        ]
    if count >= AIM_ENTRIES:
        verdicts = [run["seconds"] < AIM_SECONDS, base / run["seconds"] >= AIM_SPEED_VS_BASELINE,
                    run["peak_mb"] < AIM_MEMORY_MB]
        rows.append((f"aim at {count:,} entries", ", ".join(
            f"{what}: {'met' if ok else 'NOT met'}" for what, ok in zip(
                (f"< {AIM_SECONDS:.0f} s", f">= {AIM_SPEED_VS_BASELINE}x baseline", f"< {AIM_MEMORY_MB} MB"),
                verdicts, strict=True))))
    else:
        rows.append(("aim", f"judged at {AIM_ENTRIES:,} entries only; this run verified {count:,} (not judged)"))
    report("scelle verify (fiscal archive)", rows)


if __name__ == "__main__":
    main()
