"""The auditor guides run: every shell block of docs/auditor-guide.en.md and docs/auditor-guide.fr.md
runs, in order, as an auditor pastes it, against a fresh sample export (no server: an archive and
the published keys are all an auditor has).

* What runs is decided by the Markdown only (tests/support/doc_blocks.py): ```sh/```bash blocks
  run, unless marked ``<!-- not-run: reason -->`` (installing from the network, fetching the
  service's keys, building the full-size sample); a fence without a language is refused.
* The sample is built once per session with ``scelle export-sample --days 2 --sales-per-day 10``
  (what the guides' practice block does, smaller) and put where the guides expect it:
  ``export.zip`` and ``keys.json`` (the demo service's ``GET /v1/keys``), in a temporary directory
  of its own per guide.
* One bash session per guide (``set -Eeuo pipefail``), so variables and functions carry from
  block to block; ``scelle`` and ``python3`` come from this interpreter's environment (its bin
  directory first on PATH, as the guides' install block does), with no AWS variable set.
* A failure names the guide, the block's line, the failing command's line and its output.
* The guides' file check must also fail: on a copy of the archive with one member added, and
  with one member changed (the manifest and its signature untouched). The guides' spreadsheet
  checks also run on an archive covering a whole month, so that the month check is exercised.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from tests.support.doc_blocks import Block, Script, build_script, extract_blocks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
GUIDES = ("docs/auditor-guide.en.md", "docs/auditor-guide.fr.md")
BIN = Path(sys.executable).parent  # this interpreter's environment: its scelle and python3
TOOLS = ("bash", "unzip", "openssl", "sha256sum", "base64", "awk", "sed", "diff", "tee")
ARCHIVE, KEYS = "export.zip", "keys.json"  # the names the guides' commands use
SAMPLE = ("--days", "2", "--sales-per-day", "10")
SAMPLE_SECONDS = 180
GUIDE_SECONDS = 90  # one guide's whole session (~4 s here: scelle verify twice, then the manual checks)
# per guide: the two installs (single file, package), the fetch of the service's keys, the full-size sample
MAX_NOT_RUN = 4
# An angle-bracket placeholder (`<key>`, `<the key's fingerprint>`): bash reads it as a redirection.
PLACEHOLDER = re.compile(r"<[^\W\d][\w' .:-]*>")


@pytest.fixture(scope="session")
def tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the auditor guides' commands need {', '.join(missing)}, not installed here")
    if not (BIN / "scelle").exists() or not (BIN / "python3").exists():
        pytest.skip(f"no scelle or python3 in {BIN}: install the project there (pip install -e .)")


@pytest.fixture(scope="session")
def sample(tools, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sample")
    archive, keys = folder / ARCHIVE, folder / KEYS
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SCELLE_", "PYTEST_"))}
    done = subprocess.run([str(BIN / "scelle"), "export-sample", str(archive), *SAMPLE, "--keys", str(keys)],
                          cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=SAMPLE_SECONDS)
    assert done.returncode == 0, f"scelle export-sample failed:\n{done.stdout}\n{done.stderr}"
    return {"archive": archive, "keys": keys}


@pytest.mark.parametrize("doc", GUIDES)
def test_every_shell_block_of_the_auditor_guide_runs_as_pasted(doc, sample, tmp_path):
    blocks = _blocks(doc)
    _copy_sample(sample, tmp_path)
    result = _run(doc, blocks, tmp_path)
    assert result.failure is None, result.failure
    # The spreadsheet checks checked something: every receipt, and closures on their operations.
    checks = result.output_of(_only(blocks, "grand_total_periode", doc))
    counts = _counts(checks)
    assert counts["receipts"] > 0 and counts["closures"] > 0, checks


def test_the_guides_give_no_placeholder_and_the_same_commands_in_both_languages():
    shapes = {}
    for doc in GUIDES:
        blocks = [block for block in _blocks(doc) if block.language in ("sh", "bash", "shell")]
        for block in blocks:
            for number, line in enumerate(block.body.split("\n"), start=block.line + 1):
                code = line.split("  #")[0]  # a trailing comment may say <what> freely
                assert not PLACEHOLDER.search(code), f"{doc}:{number}: bash reads this placeholder as a redirection"
        skipped = [block for block in blocks if not block.runs]
        assert len(skipped) <= MAX_NOT_RUN, f"{doc}: {len(skipped)} blocks do not run: " + ", ".join(
            f"{block.where} ({block.reason})" for block in skipped)
        shapes[doc] = [(block.where, block.runs, _commands(block.body)) for block in blocks]
    english, french = (shapes[doc] for doc in GUIDES)
    assert len(english) == len(french), "the two guides have different numbers of shell blocks"
    for (where_en, runs_en, en), (where_fr, runs_fr, fr) in zip(english, french, strict=True):
        assert (runs_en, en) == (runs_fr, fr), f"{where_en} and {where_fr} differ:\n{en}\n---\n{fr}"


@pytest.mark.parametrize("doc", GUIDES)
@pytest.mark.parametrize("tamper", ["added", "changed"])
def test_the_guides_file_check_fails_on_an_added_or_changed_member(doc, tamper, sample, tmp_path):
    """Section 6 from its first block through the file check, on an archive whose manifest and
    signature are genuine but which holds one member more, or one member changed: every block
    before the file check passes (the manifest is genuine), the file check fails and says why."""
    blocks = _blocks(doc)
    runnable = [block for block in blocks if block.runs]
    opening = _only(blocks, 'unzip -q "$ARCHIVE"', doc)
    file_check = _only(blocks, "sha256sum -c", doc)
    section = runnable[runnable.index(opening):runnable.index(file_check) + 1]
    _copy_sample(sample, tmp_path)
    archive = tmp_path / ARCHIVE
    if tamper == "added":
        _rewrite(archive, extra={"records/prod.sales.R3.jsonl": b'{"forged": true}\n'})
    else:  # the last digit of the last hash of entries.csv
        _rewrite(archive, change={"entries.csv": lambda data: data[:-3] + b"X" + data[-2:]})
    # What section 4 leaves in the shell: the fingerprint of the published key.
    prelude = f"FINGERPRINT={_fingerprint(sample['keys'])}"
    result = _run(doc, section, tmp_path, prelude=prelude)
    assert result.failed_block == file_check, result.failure or f"{doc}: the file check passed on a {tamper} member"
    shown = result.output_of(file_check)
    evidence = "records/prod.sales.R3.jsonl" if tamper == "added" else "entries.csv: FAILED"
    assert evidence in shown, shown


@pytest.mark.parametrize("doc", GUIDES)
def test_the_guides_spreadsheet_checks_hold_on_a_whole_month(doc, tools, tmp_path):
    """A month closure whose whole period is in the export (February, exported from the 1st to the
    28th; its closure is sealed on 1 March): its operations, its days and the perpetual totals.
    The in-memory stack builds it in a second with the real export service."""
    from chalicelib.commands.export_sample import MemoryStack

    blocks = _blocks(doc)
    checks = _only(blocks, "grand_total_periode", doc)
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    stack = MemoryStack(tmp_path / "keys", country="FR", start=first)
    stack.trade(days=28, sales_per_day=6, start=first)  # 3 receipts a day per register, 2 of 6 reversed
    job, data = stack.export("fiscal", first, last)
    assert job["status"] == "done", job
    work = tmp_path / "work"
    (tmp_path / "month.zip").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "month.zip") as zf:
        zf.extractall(work / "export")
    with open(work / "export" / "closures.csv", encoding="utf-8-sig", newline="") as f:
        totals = [row["grand_total_periode"] for row in csv.DictReader(f, delimiter=";")
                  if row["periodicite"] == "month"]
    assert any(total not in ("", "0,00") for total in totals), f"months of sales totalling nothing: {totals}"
    result = _run(doc, [checks], work, prelude="cd export")
    assert result.failure is None, result.failure
    counts = _counts(result.output_of(checks))
    # February's closure and its 28 days, on each register and on the journal
    assert counts["months"] == 3 and counts["closures"] == 3 * (28 + 1), result.output_of(checks)


# -- running blocks ------------------------------------------------------------------------------


@dataclass
class Result:
    script: Script
    out_dir: Path
    failed_block: Block | None
    failure: str | None

    def output_of(self, block: Block) -> str:
        runs = [number for number, (each, _) in enumerate(self.script.runs) if each == block]
        assert runs, f"{block.where} did not run"
        return "".join(_read(self.out_dir, number) for number in runs)


def _run(doc: str, blocks: list[Block], work: Path, *, prelude: str = "") -> Result:
    """Run ``blocks`` in one bash session in ``work`` (``scelle`` and ``python3`` from this
    interpreter's environment); say which block failed, at which line of ``doc``, and its output."""
    out_dir = work / "runs"
    out_dir.mkdir()
    script = build_script(blocks, out_dir=out_dir, prelude="\n".join(
        [f"cd {shlex.quote(str(work))}", f'export PATH={shlex.quote(str(BIN))}:"$PATH"', prelude]))
    (out_dir / "script.sh").write_text(script.text)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SCELLE_", "AWS_", "PYTEST_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(TMPDIR=str(work), LC_ALL="C.UTF-8", PAGER="cat")
    with open(out_dir / "shell.log", "w") as log:
        proc = subprocess.Popen(["bash", str(out_dir / "script.sh")], cwd=work, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=GUIDE_SECONDS)
            timed_out = None
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = f"over {GUIDE_SECONDS} s"
    return _verdict(doc, script, out_dir, proc.returncode, timed_out)


def _verdict(doc: str, script: Script, out_dir: Path, code: int, timed_out: str | None) -> Result:
    progress = (out_dir / "progress").read_text().split("\n") if (out_dir / "progress").exists() else []
    if code == 0 and not timed_out and "done" in progress:
        return Result(script, out_dir, None, None)
    begun = [int(line.split()[1]) for line in progress if line.startswith("begin ")]
    ended = {int(line.split()[1]) for line in progress if line.startswith("end ")}
    failed = next((number for number in begun if number not in ended), None)
    if failed is None:
        return Result(script, out_dir, None, f"{doc}: the shell session failed outside any block (exit {code}):\n"
                                             f"{(out_dir / 'shell.log').read_text()[-2000:]}")
    block = script.runs[failed][0]
    after = progress[progress.index(f"begin {failed}") + 1:]
    fails = [line.split() for line in after if line.startswith("fail ")]
    lines = [script.origin[int(line)] for _, _, line in fails if int(line) in script.origin]
    what = timed_out or f"exit {fails[0][1] if fails else code}"
    if lines:
        command = (ROOT / doc).read_text().split("\n")[lines[0] - 1].strip()
        at = f"{doc}:{lines[0]} ({what}): {command}"
    else:
        at = f"{block.where} ({what})"
    return Result(script, out_dir, block, f"the block at {block.where} failed at {at}\n{_read(out_dir, failed)}")


def _read(out_dir: Path, run: int) -> str:
    parts = []
    for kind in ("out", "err"):
        path = out_dir / f"{run}.{kind}"
        text = path.read_text(errors="replace") if path.exists() else ""
        parts.append(f"--- std{kind}\n{text[-3000:]}")
    return "\n".join(parts) + "\n"


# -- the guides and the sample -------------------------------------------------------------------


def _blocks(doc: str) -> list[Block]:
    blocks = extract_blocks((ROOT / doc).read_text(), doc)
    assert any(block.runs for block in blocks), f"{doc}: no shell block runs"
    assert not any(block.mark == "run-twice" for block in blocks), f"{doc}: run-twice means nothing without a server"
    return blocks


def _only(blocks: list[Block], text: str, doc: str) -> Block:
    found = [block for block in blocks if block.runs and text in block.body]
    assert len(found) == 1, f"{doc}: expected one shell block with {text!r}, found {[b.where for b in found]}"
    return found[0]


def _commands(body: str) -> tuple[str, ...]:
    """What a block runs, without what may differ between the languages: comments and quoted text
    (messages, labels); the words and variables that remain must be the same."""
    kept, quote, comment, escaped, previous = [], None, False, False, "\n"
    for char in body:
        if comment:
            comment = char != "\n"
            kept.append(char if not comment else "")
        elif quote is not None:
            if escaped:
                escaped = False
            elif quote == '"' and char == "\\":
                escaped = True
            elif char == quote:
                quote = None
                kept.append(char)
        elif char in "\"'":
            quote = char
            kept.append(char)
        elif char == "#" and previous.isspace():
            comment = True
        else:
            kept.append(char)
        previous = char
    return tuple(line.strip() for line in "".join(kept).split("\n") if line.strip())


def _counts(output: str) -> dict[str, int]:
    """The counts of the spreadsheet checks' OK line, in either language."""
    names = {"receipts": ("receipts", "tickets"), "closures": ("closures", "clôtures"),
             "months": ("months", "mois")}
    counts = {}
    for key, words in names.items():
        match = re.search(rf"(\d+) (?:{'|'.join(words)})\b|\b(?:{'|'.join(words)}) (\d+)", output)
        assert match, f"no count of {key} in the spreadsheet checks' output:\n{output}"
        counts[key] = int(match[1] or match[2])
    return counts


def _copy_sample(sample: dict[str, Path], work: Path) -> None:
    shutil.copyfile(sample["archive"], work / ARCHIVE)
    shutil.copyfile(sample["keys"], work / KEYS)


def _fingerprint(keys: Path) -> str:
    """The current published log key's fingerprint: SHA-256 of its DER SubjectPublicKeyInfo (the
    list also holds the witness's key, role ``witness``)."""
    pem = [k for k in json.loads(keys.read_text())["keys"] if k.get("role", "log") == "log"][-1]["public_key_pem"]
    der = base64.b64decode("".join(line for line in pem.strip().split("\n") if not line.startswith("-----")))
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _rewrite(archive: Path, *, extra: dict[str, bytes] | None = None, change: dict | None = None) -> None:
    """Rewrite ``archive`` with the same members (same names, order and dates), ``change`` applied
    to some, and ``extra`` members appended; the manifest and its signature are left as they are."""
    members = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            if change and info.filename in change:
                changed = change[info.filename](data)
                assert changed != data
                data = changed
            members.append((zipfile.ZipInfo(info.filename, info.date_time), data))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
