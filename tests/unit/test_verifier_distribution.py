"""The slim verifier (verifier/, distribution scelle-verify) as an auditor gets it: the single-file
zipapp of `make verifier` runs on a real export with a plain `python -I scelle-verify.pyz EXPORT.zip`
in a fresh virtual environment that holds nothing but cryptography (and what cryptography itself
needs): no boto3, chalice, pydantic, orjson or chalicelib can be imported there. Without
cryptography it says which package to install, with no traceback.

And the command's output for scripts and people: ``--quiet`` (one RESULT line), ``--json``, the
progress bar (on stderr, only when stderr is a terminal), and the same verdicts with orjson and
with the standard library's JSON parser, on forged archives too."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import pty
import re
import subprocess
import sys
import venv
import zipfile
from datetime import date
from pathlib import Path

import pytest

from chalicelib.commands.export_sample import MemoryStack

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("boto3", "botocore", "chalice", "pydantic", "moto", "chalicelib", "orjson", "aws_lambda_powertools")


def _top_level_of(distribution: str) -> set[str]:
    """The top-level modules and packages a distribution installed (from its RECORD)."""
    dist = importlib.metadata.distribution(distribution)
    tops = set()
    for file in dist.files or ():
        top = file.parts[0]
        if not top.endswith((".dist-info", ".data")) and top != "..":
            tops.add(top)
    return {str(dist.locate_file(top)) for top in tops}


def _requirement_closure(name: str) -> list[str]:
    """``name`` and, recursively, what it requires (extras left out; a requirement that is not
    installed here, such as one for another platform, is skipped)."""
    seen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current.lower().replace("_", "-") in seen:
            continue
        try:
            requires = importlib.metadata.requires(current) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        seen.append(current.lower().replace("_", "-"))
        todo += [re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r]
    return seen


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "scelle-verify.pyz"
    done = subprocess.run([sys.executable, str(ROOT / "verifier" / "build_pyz.py"), str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> dict[str, Path]:
    """A fresh virtual environment (no pip, no system packages) and a folder that holds links to
    cryptography and its own requirements only, put on that environment's path by a .pth file
    only for the runs that want it."""
    base = tmp_path_factory.mktemp("bare")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    crypto = base / "cryptography-only"
    crypto.mkdir()
    for distribution in _requirement_closure("cryptography"):
        for path in _top_level_of(distribution):
            (crypto / Path(path).name).symlink_to(path)
    return {"python": python, "site": site, "crypto": crypto}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict[str, object]:
    keys = tmp_path_factory.mktemp("keys")
    stack = MemoryStack(keys, country="FR")
    stack.trade(days=2, sales_per_day=6)
    job, data = stack.export("fiscal", first_day=date(2026, 2, 1), last_day=date(2026, 2, 28))
    assert job["status"] == "done", job
    folder = tmp_path_factory.mktemp("archives")
    good = folder / "export.zip"
    good.write_bytes(data)
    # a forged copy: one sale's line discount changed in the records (its hash no longer matches)
    files = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            files[name] = zf.read(name)
    chain = next(n for n in files if n.startswith("records/prod.sales"))
    lines = files[chain].split(b"\n")
    forged_line = lines[2].replace(b'"discount":0', b'"discount":1', 1)
    assert forged_line != lines[2]
    lines[2] = forged_line
    files[chain] = b"\n".join(lines)
    forged = folder / "forged.zip"
    with zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    from scelle_verify.verifier import fingerprint

    return {"good": good, "forged": forged, "fingerprint": "sha256:" + fingerprint(stack.signer.public_key_pem())}


def _run(bare, args, *, with_cryptography: bool, timeout: int = 300) -> subprocess.CompletedProcess:
    pth = bare["site"] / "cryptography-only.pth"
    if with_cryptography:
        pth.write_text(str(bare["crypto"]) + "\n")
    elif pth.exists():
        pth.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run([str(bare["python"]), "-I", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_nothing_but_the_standard_library_and_cryptography_is_importable_there(pyz, bare):
    code = ("import importlib.util, sys; sys.path.insert(0, sys.argv[1]); "
            f"print([m for m in {FORBIDDEN!r} if importlib.util.find_spec(m)]); "
            "import scelle_verify.verifier, cryptography; print(scelle_verify.verifier.__file__)")
    done = _run(bare, ["-c", code, pyz], with_cryptography=True)
    assert done.returncode == 0, done.stderr
    found, where = done.stdout.splitlines()
    assert found == "[]"
    assert where.startswith(str(pyz))


def test_the_zipapp_verifies_a_real_export(pyz, bare, export):
    done = _run(bare, [pyz, export["good"], "--trusted-key", export["fingerprint"]], with_cryptography=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RESULT: OK" in done.stdout
    unanchored = _run(bare, [pyz, export["good"]], with_cryptography=True)
    assert unanchored.returncode == 3 and "RESULT: UNANCHORED" in unanchored.stdout


def test_the_zipapp_fails_a_forged_export_and_names_the_record(pyz, bare, export):
    done = _run(bare, [pyz, export["forged"], "--trusted-key", export["fingerprint"], "--json"],
                with_cryptography=True)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["status"] == "failed" and report["first_problem"]["reason"] == "hash_mismatch"
    assert report["first_problem"]["seq"] == 3 and report["first_problem"]["file"].startswith("records/prod.sales")


def test_the_zipapp_runs_its_second_process_from_the_zipapp_too(pyz, bare, export):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from scelle_verify import verifier; "
            "out = verifier._finish_worker(verifier._start_worker(sys.argv[2])); "
            "assert out is not None and out[1] and all(c['ok'] for c in out[1]), out; "
            "verifier.PARALLEL_FROM = 0; r = verifier.verify_archive(sys.argv[2], jobs=2); "
            "print(r.status)")
    done = _run(bare, ["-c", code, pyz, export["good"]], with_cryptography=True)
    assert done.returncode == 0 and done.stdout.strip() == "unanchored", done.stdout + done.stderr


def test_without_cryptography_it_names_the_package_to_install_without_a_traceback(pyz, bare, export):
    done = _run(bare, [pyz, export["good"]], with_cryptography=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "'cryptography'" in done.stderr and "pip install cryptography" in done.stderr
    assert done.stdout == ""


def test_the_zipapp_is_reproducible_from_its_sources(pyz, tmp_path):
    """Anyone can rebuild it and compare its SHA-256 with the one the console shows: the same
    sources give the same bytes, whenever and wherever built (SOURCE_DATE_EPOCH moves the date)."""
    again = tmp_path / "again.pyz"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    done = subprocess.run([sys.executable, str(ROOT / "verifier" / "build_pyz.py"), str(again)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == pyz.read_bytes()
    with zipfile.ZipFile(pyz) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 1, 1, 0, 0, 0)}
        assert [i.filename for i in zf.infolist()] == sorted(i.filename for i in zf.infolist())
    dated = tmp_path / "dated.pyz"
    subprocess.run([sys.executable, str(ROOT / "verifier" / "build_pyz.py"), str(dated)], check=True,
                   capture_output=True, timeout=120, env={**env, "SOURCE_DATE_EPOCH": "1767225600"})  # 2026-01-01
    assert dated.read_bytes() == pyz.read_bytes()


def test_its_help_says_what_it_needs(pyz, bare):
    done = _run(bare, [pyz, "--help"], with_cryptography=False)
    assert done.returncode == 0
    assert "cryptography" in done.stdout and "Python 3.11" in done.stdout
    assert "--quiet" in done.stdout and "--json" in done.stdout


def test_the_main_cli_runs_the_same_command():
    from chalicelib.cli import build_parser
    from scelle_verify import cli

    parser = build_parser()
    args = parser.parse_args(["verify", "x.zip", "--quiet"])
    assert args.func is cli.run and args.quiet


# ---- the command's output ------------------------------------------------------------------------
def _command(args, *, stderr_tty: bool = False, block_orjson: bool = False, timeout: int = 300):
    """``scelle-verify ARGS`` in a child process of this environment; stdout is a pipe, stderr a
    pipe or (``stderr_tty``) a pseudo-terminal. Returns (exit code, stdout, stderr)."""
    code = ("import sys\n"
            + ("sys.modules['orjson'] = None\n" if block_orjson else "")
            + "from scelle_verify.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    command = [sys.executable, "-c", code, *map(str, args)]
    if not stderr_tty:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr
    import threading

    leader, follower = pty.openpty()
    err: list[bytes] = []

    def drain() -> None:  # read the terminal as the child writes (it would block on a full one)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            err.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, text=True)
        os.close(follower)
        reader.start()
        out, _ = child.communicate(timeout=timeout)
        reader.join(timeout=30)
        return child.returncode, out, b"".join(err).decode("utf-8", "replace")
    finally:
        os.close(leader)


def test_quiet_prints_the_result_line_alone_and_keeps_the_exit_status(export):
    anchored = _command([export["good"], "--quiet", "--trusted-key", export["fingerprint"]])
    assert anchored[0] == 0 and anchored[2] == ""
    assert anchored[1].splitlines() == [anchored[1].strip()] and anchored[1].startswith("RESULT: OK")
    unanchored = _command([export["good"], "-q"])
    assert unanchored[0] == 3 and unanchored[1].startswith("RESULT: UNANCHORED")
    assert len(unanchored[1].splitlines()) == 1
    forged = _command([export["forged"], "--quiet", "--trusted-key", export["fingerprint"]])
    assert forged[0] == 1 and len(forged[1].splitlines()) == 1
    assert forged[1].startswith("RESULT: FAILED") and "hash_mismatch" in forged[1] and "seq 3" in forged[1]


def test_quiet_and_json_go_together_with_nothing_else(export):
    done = _command([export["good"], "--quiet", "--json"])
    assert done[0] == 2 and "not allowed with" in done[2]


def test_no_progress_bar_when_stderr_is_not_a_terminal(export):
    code, out, err = _command([export["good"], "--trusted-key", export["fingerprint"]])
    assert code == 0 and err == ""
    assert "\r" not in out and "\033[" not in out and out.startswith("scelle verify ")


def test_the_progress_bar_goes_to_stderr_on_a_terminal_and_never_to_stdout(export):
    code, out, err = _command([export["good"], "--trusted-key", export["fingerprint"]], stderr_tty=True)
    assert code == 0
    assert "scelle verify" in err and "%" in err and err.endswith("\r\x1b[K")  # drawn, then erased
    assert "\r" not in out and "\x1b[" not in out and "RESULT: OK" in out
    for quiet in (["--quiet"], ["--json"]):  # scripts get no bar, even on a terminal
        code, out, err = _command([export["good"], *quiet], stderr_tty=True)
        assert code == 3 and err == "", quiet


def test_the_verifier_reports_progress_in_bytes_read(export):
    from scelle_verify import verify_archive

    seen = []
    report = verify_archive(export["good"], progress=lambda done, total, note: seen.append((done, total, note)))
    assert report.status == "unanchored" and seen
    assert all(0 <= done <= total for done, total, _ in seen) and seen[-1][0] == seen[-1][1]
    assert {"files", "rows"} <= {note.split()[0] for _, _, note in seen}


def _forgeries(export, folder: Path) -> dict[str, Path]:
    """Archives forged in the ways where a JSON parser could make a difference."""
    with zipfile.ZipFile(export["good"]) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    chain = next(n for n in files if n.startswith("records/prod.sales"))

    def forge(name: str, change, index: int = 3) -> Path:  # line 4 (the first process walks even lines' data)
        lines = files[chain].split(b"\n")
        lines[index] = change(lines[index])
        path = folder / f"{name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, body in files.items():
                zf.writestr(member, b"\n".join(lines) if member == chain else body)
        return path

    return {
        "untouched": export["good"],
        "changed amount": forge("amount", lambda line: line.replace(b'"discount":0', b'"discount":7', 1)),
        "a space": forge("space", lambda line: line.replace(b'":', b'": ', 1)),
        "a float": forge("float", lambda line: line.replace(b'"discount":0', b'"discount":0.0', 1)),
        "a duplicate key": forge("duplicate", lambda line: line.replace(b'{"chain"', b'{"chain":"x","chain"', 1)),
        "a big integer": forge("bigint", lambda line: line.replace(b'"discount":0', b'"discount":93' + b"0" * 17, 1)),
        "an integer beyond 64 bits": forge("huge", lambda line: line.replace(b'"discount":0',
                                                                             b'"discount":2' + b"0" * 19, 1)),
        "unsorted keys": forge("unsorted", lambda line: re.sub(rb'"hash_version":1,("prev_hash":"[0-9a-f]{64}")',
                                                                rb'\1,"hash_version":1', line)),
        "not JSON": forge("garbage", lambda line: line[:40]),
        "nesting too deep": forge("deep", lambda line: line.replace(b'"discount":0', b'"discount":' + b"[" * 70 + b"0"
                                                                    + b"]" * 70, 1)),
        # line 5: the second process walks odd lines' data itself
        "a float, odd line": forge("float5", lambda line: line.replace(b'"discount":0', b'"discount":0.0', 1), 4),
        "nesting too deep, odd line": forge("deep5", lambda line: line.replace(
            b'"discount":0', b'"discount":' + b"[" * 70 + b"0" + b"]" * 70, 1), 4),
    }


@pytest.mark.parametrize("jobs", [1, 2])
def test_orjson_and_the_standard_library_give_the_same_report(export, tmp_path, jobs):
    """The verifier parses the records with orjson when installed, else with the standard library:
    the same reports, forged archives included, in one process and with the second one."""
    script = ("import json, sys\n"
              "if sys.argv[3] == 'stdlib':\n    sys.modules['orjson'] = None\n"
              "from scelle_verify import verifier\n"
              "assert (verifier.orjson is None) == (sys.argv[3] == 'stdlib')\n"
              "verifier.PARALLEL_FROM = 0\n"
              "report = verifier.verify_archive(sys.argv[1], jobs=int(sys.argv[2]))\n"
              "print(json.dumps(report.to_dict()))\n")
    seen = {}
    for name, path in _forgeries(export, tmp_path).items():
        reports = {}
        for backend in ("orjson", "stdlib"):
            done = subprocess.run([sys.executable, "-c", script, str(path), str(jobs), backend], capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            reports[backend] = json.loads(done.stdout)
        if name == "an integer beyond 64 bits" and jobs == 2:
            # orjson reads it as a float, the standard library as an integer: the CSV views, which the
            # failed record makes moot, stop at another row (``rows`` of the failed chain); the rest agrees
            for report in reports.values():
                for chain in report["chains"]:
                    chain.pop("rows") if not chain["ok"] else None
        assert reports["orjson"] == reports["stdlib"], name
        seen[name] = (reports["orjson"]["status"], (reports["orjson"]["first_problem"] or {}).get("reason"))
    assert seen["untouched"] == ("unanchored", None)
    assert all(status == "failed" for name, (status, _) in seen.items() if name != "untouched"), seen
    assert seen["changed amount"][1] == "hash_mismatch"
    assert seen["a float"][1] == seen["a big integer"][1] == seen["a space"][1] == "non_canonical"
    assert seen["an integer beyond 64 bits"][1] == seen["nesting too deep"][1] == "non_canonical"
    assert seen["a float, odd line"][1] == seen["nesting too deep, odd line"][1] == "non_canonical"


def test_one_and_two_processes_give_the_same_report_on_forgeries(export, tmp_path, monkeypatch):
    """The second process leaves the walk of each record's data (floats, integers beyond 64 bits,
    nesting) to the first, which checks the chains again itself when a record fails it: the same
    reports either way. (The ``rows`` count of a chain that failed is the one difference: one
    process stops counting at the failure, two count every row the first process compared.)"""
    from scelle_verify import verifier

    monkeypatch.setattr(verifier, "PARALLEL_FROM", 0)
    for name, path in _forgeries(export, tmp_path).items():
        one, two = (verifier.verify_archive(path, jobs=jobs).to_dict() for jobs in (1, 2))
        for report in (one, two):
            for chain in report["chains"]:
                chain.pop("rows") if not chain["ok"] else None
        assert one == two, name


def test_the_row_text_compared_as_bytes_is_what_the_builder_writes():
    """``format.csv_line`` (the CSV views' rows compared as bytes) gives exactly what ``CsvOut``
    writes, for cells that need quoting too: identical bytes then mean identical rows."""
    from scelle_verify import format as fmt

    rows = [["a", "b", ""], ["x;y", "plain"], ['say "hi"', "é€"], ["line\nbreak", "cr\rhere"], ["", ""],
            ["a", ";"], ['"', '";"'], ["12,50", "-3", "Clôture journalière 2026-02-01 (totaux dans closures.csv)"]]
    out = io.BytesIO()
    writer = fmt.CsvOut(out, ["h1", "h2"])
    for row in rows:
        writer.write(row)
    expected = (fmt.BOM + fmt.csv_line(["h1", "h2"]) + "".join(fmt.csv_line(row) for row in rows)).encode("utf-8")
    assert out.getvalue() == expected


@pytest.mark.parametrize("zone", ["Europe/Paris", "Europe/Brussels", "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_local_date_and_time_of_the_csv_views_through_offset_changes(zone):
    """``Scope.local`` (cached per UTC minute and hour) gives what ``astimezone`` gives, across the
    daylight-saving changes of 2026 and in zones whose offset has 30 or 45 minutes."""
    from datetime import UTC, datetime, timedelta

    from scelle_verify.format import Scope

    scope = Scope("FR", zone, "2026-01-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z")
    for first in (datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC),
                  datetime(2026, 4, 3, tzinfo=UTC)):
        for step in range(0, 60 * 24 * 4, 7):
            moment = first + timedelta(minutes=step, seconds=step % 60)
            local = moment.astimezone(scope._zone)
            assert scope.local(moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")) == (
                local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")), moment


def test_plain_json_proves_exactly_what_check_accepts():
    """The verifier hands a record over without its type walk only when ``plain_json`` holds; it
    must never hold where ``check`` refuses (and should where ``check`` accepts)."""
    from scelle_verify.domain import canonical

    deep_ok, deep_bad = 0, 0
    for _ in range(63):
        deep_ok = [deep_ok]
    for _ in range(64):
        deep_bad = [deep_bad]
    values = [{}, [], "x", 1, True, None, {"a": [1, "b", {"c": None}]}, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1,
              1.5, {"a": [0.0]}, {"a": {"b": [2**64]}}, deep_ok, deep_bad, {"x": deep_bad}, [[[[1e16]]]]]
    for value in values:
        try:
            canonical.check(value)
            accepted = True
        except canonical.CanonicalError:
            accepted = False
        assert canonical.plain_json(value) == accepted, value
