"""Docs that cannot drift: every shell block of README.md and docs/user-guide.md runs, in order, as
a reader pastes it, against a real `scelle local` (free ports, a temporary data directory).

* What runs is decided by the Markdown only (tests/support/doc_blocks.py): ```sh/```bash blocks
  run, unless marked ``<!-- not-run: reason -->``; ``<!-- run-twice: reason -->`` blocks run twice
  and must answer the same both times; a fence without a language is refused.
* One bash session per document (``set -Eeuo pipefail``), so variables and functions carry from
  block to block; the session's working directory is a temporary one holding ``.scelle`` (the
  stack's data directory: demo.json, local-operator.token) and ``.venv`` (this interpreter's), as
  the repository's root does for a reader; files the examples write stay there.
* The documented address ``http://127.0.0.1:8000`` is replaced by the test stack's; ``curl`` is
  wrapped to fail on any HTTP error (``--fail-with-body``: a 409 is a failure, not a printed
  problem), to log each answer's status, to time out, and to connect to 127.0.0.1 only.
* A failure names the document, the block's line, the failing command's line and its output.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chalicelib.local.moto_server import free_port
from tests.integration.test_local_run import LocalRun
from tests.support.doc_blocks import Block, Script, build_script, extract_blocks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/user-guide.md")  # run in this order on one stack, as a newcomer reads them
DOCUMENTED_BASE = "http://127.0.0.1:8000"
BLOCK_SECONDS = 40  # one run of one block
DOC_SECONDS = 55  # one document's whole session (README ~12 s, the user guide ~5 s here)
CURL_SECONDS = 20  # one HTTP call


def _curl_wrapper() -> str:
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    if tuple(int(part) for part in re.findall(r"\d+", version)[:2]) < (7, 76):
        pytest.skip(f"curl {version} lacks --fail-with-body (7.76+)")
    # `--connect-to ::127.0.0.1:` sends every connection to loopback, whatever the URL names.
    options = (f"--fail-with-body --max-time {CURL_SECONDS} --noproxy '*' --connect-to ::127.0.0.1: "
               "-w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n'")
    # A block's own -w (e.g. `-w '%{http_code}'`) replaces ours: curl keeps the last one.
    # `|| return` hands curl's status to the caller, so that the failure is reported at the
    # document's line that called curl, not inside this wrapper.
    return f'curl() {{ command curl {options} "$@" || return; }}'


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the docs' examples need {', '.join(missing)}, not installed here")
    wrapper = _curl_wrapper()
    work = tmp_path_factory.mktemp("reader")
    data_dir = work / ".scelle"
    data_dir.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (work / "tmp").mkdir()
    run = LocalRun(data_dir, free_port())
    try:
        run.wait_healthy()
        yield run, work, wrapper
    finally:
        run.stop()


def test_every_shell_block_of_the_docs_runs_as_pasted(local_stack):
    run, work, wrapper = local_stack
    failures = []
    for doc in DOCS:
        failure = _run_document(doc, run, work, wrapper)
        if failure:
            failures.append(failure)
    assert not failures, "\n\n".join(failures) + f"\n\n(scelle local's log, last lines)\n{run.output()[-3000:]}"


def _run_document(doc: str, run: LocalRun, work: Path, wrapper: str) -> str | None:
    blocks = [_at(block, run.base) for block in extract_blocks((ROOT / doc).read_text(), doc)]
    assert any(block.runs for block in blocks), f"{doc}: no shell block runs"
    out_dir = work / "runs" / doc.replace("/", "_")
    out_dir.mkdir(parents=True)
    prelude = f"cd {shlex.quote(str(work))}\n{wrapper}"
    script = build_script(blocks, prelude=prelude, out_dir=out_dir)
    (out_dir / "script.sh").write_text(script.text)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SCELLE_", "AWS_", "PYTEST_")) and name.lower() not in ("http_proxy", "https_proxy")}
    env.update(TMPDIR=str(work / "tmp"), LC_ALL="C.UTF-8", PAGER="cat", LESS="-FRX")
    with open(out_dir / "shell.log", "w") as log:
        proc = subprocess.Popen(["bash", str(out_dir / "script.sh")], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = _wait(proc, out_dir / "progress")
    return _verdict(doc, script, out_dir, proc.returncode, timed_out)


def _at(block: Block, base: str) -> Block:
    body = block.body.replace(DOCUMENTED_BASE, base)
    assert "127.0.0.1:8000" not in body and "localhost" not in body, f"{block.where}: an address left unreplaced"
    return dataclasses.replace(block, body=body)


def _wait(proc: subprocess.Popen, progress: Path) -> str | None:
    """Wait for the session; kill it (its whole process group) when a block or the document runs
    too long, and say which limit it hit."""
    doc_deadline = time.monotonic() + DOC_SECONDS
    current, block_started = None, time.monotonic()
    while proc.poll() is None:
        lines = progress.read_text().split("\n") if progress.exists() else []
        begun = [line for line in lines if line.startswith("begin ")]
        if begun and begun[-1] != current:
            current, block_started = begun[-1], time.monotonic()
        now = time.monotonic()
        if now > doc_deadline or now - block_started > BLOCK_SECONDS:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return f"a block ran over {BLOCK_SECONDS} s" if now <= doc_deadline else f"over {DOC_SECONDS} s in all"
        time.sleep(0.1)
    return None


def _verdict(doc: str, script: Script, out_dir: Path, code: int, timed_out: str | None) -> str | None:
    progress = (out_dir / "progress").read_text().split("\n") if (out_dir / "progress").exists() else []
    begun = [int(line.split()[1]) for line in progress if line.startswith("begin ")]
    ended = {int(line.split()[1]) for line in progress if line.startswith("end ")}
    problems = []
    # A run-twice block: the second run answers as the first did, status by status, and prints the
    # same (the same JSON values, when it prints JSON: the order of an object's keys is no difference).
    for number, (block, attempt) in enumerate(script.runs):
        if attempt == 2 and number in ended:
            first, second = (_read(out_dir, n) for n in (number - 1, number))
            if (first["statuses"], _values(first["out"])) != (second["statuses"], _values(second["out"])):
                problems.append(f"{block.where}: sent again, it answered differently ({block.reason}):\n"
                                f"first:\n{_show(first)}\nagain:\n{_show(second)}")
    if code == 0 and not timed_out and "done" in progress:
        return "\n".join(problems) or None
    failed = next((n for n in begun if n not in ended), None)
    if failed is None:
        problems.append(f"{doc}: the shell session failed outside any block (exit {code}):\n"
                        f"{(out_dir / 'shell.log').read_text()[-2000:]}")
        return "\n".join(problems)
    block, attempt = script.runs[failed]
    # The first command that failed in that run (a failure inside $(...) is reported there first).
    after = progress[progress.index(f"begin {failed}") + 1:]
    fails = [line.split() for line in after if line.startswith("fail ")]
    doc_lines = [script.origin[int(line)] for _, _, line in fails if int(line) in script.origin]
    what = timed_out or f"exit {fails[0][1] if fails else code}"
    if doc_lines:
        command = (ROOT / doc).read_text().split("\n")[doc_lines[0] - 1].strip()
        at = f"{doc}:{doc_lines[0]} ({what}): {command}"
    else:
        at = f"{block.where} ({what})"
    again = ", pasted a second time as the text says," if attempt == 2 else ""
    problems.append(f"the block at {block.where}{again} failed at {at}\n{_show(_read(out_dir, failed))}")
    return "\n".join(problems)


def _read(out_dir: Path, run: int) -> dict:
    out = (out_dir / f"{run}.out").read_text(errors="replace") if (out_dir / f"{run}.out").exists() else ""
    err = (out_dir / f"{run}.err").read_text(errors="replace") if (out_dir / f"{run}.err").exists() else ""
    statuses = [line.split(" ", 3)[1:3] for line in err.split("\n") if line.startswith("HTTP ")]
    return {"out": out, "err": err, "statuses": statuses}


def _values(text: str) -> list | str:
    """The JSON values ``text`` holds one after the other, or the text itself if it is not JSON."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError:
            return text
        values.append(value)
    return values


def _show(result: dict) -> str:
    return f"--- stdout\n{result['out'][-2500:]}\n--- stderr\n{result['err'][-2500:]}"
