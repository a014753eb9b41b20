"""What the terminal of a real ``scelle local`` shows (issue 16, item 2): one short line per
request (the gateway's own refusals included), no JSON and no metric blob by default, the banner
last after the start-up lines and again on SIGUSR1; ``--log-format json --metrics`` gives the JSON
lines and the EMF blobs of before. Each run is bounded and listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chalicelib.local.moto_server import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BANNER = "Scellé is running locally"
REQUEST = re.compile(r"^\d\d:\d\d:\d\d  (GET|POST) +(/\S*) +(\d{3}) +\d+ ms(  (\S+))?$")


class Run:
    def __init__(self, tmp_path: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SCELLE_") and k != "NO_COLOR"}
        environ.update({"SCELLE_DATA_DIR": str(tmp_path / "data"), "SCELLE_PORT": str(self.port),
                        "SCELLE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **env})
        self.log = open(tmp_path / f"run-{self.port}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "local", *args], cwd=ROOT, env=environ,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        if self.log.closed:
            return self.final
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output().count(text) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"scelle local exited early:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared {count} time(s):\n{self.output()}")

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.final = self.output()
            self.log.close()


def test_the_terminal_shows_one_line_per_request_and_the_banner_again_on_sigusr1(tmp_path):
    run = Run(tmp_path)
    try:
        run.wait_for(BANNER)
        assert run.get("/health") == 200
        assert run.get("/nope") == 404  # answered by the gateway: the app never sees it
        assert run.get("/v1/tenants/t0123456789abcdef/events?limit=5") == 401
        run.wait_for(" 401 ")
        run.proc.send_signal(signal.SIGUSR1)
        run.wait_for(BANNER, count=2)
    finally:
        assert run.stop() == 0
    output = run.output()
    lines = output.splitlines()
    requests = [REQUEST.match(line) for line in lines if REQUEST.match(line)]
    assert [(m.group(1), m.group(2), m.group(3)) for m in requests] == [
        ("GET", "/health", "200"), ("GET", "/nope", "404"), ("GET", "/v1/tenants/t0…/events", "401")]
    assert requests[2].group(5) == "t0123456…"
    assert "\x1b[" not in output  # not a terminal: no colour
    assert not [line for line in lines if line.startswith("{")]  # no JSON line, no metric blob
    assert '"_aws"' not in output
    # The banner comes after the start-up lines (the scheduler's first round, the demo seeding).
    banner_at = next(i for i, line in enumerate(lines) if BANNER in line)
    start_up = [i for i, line in enumerate(lines) if "local mail to" in line or "full verification done" in line]
    assert start_up and max(start_up) < banner_at, output
    assert re.search(r"This banner +press Enter to show it again \(or: kill -USR1 \d+\)", output)
    assert "Stopped cleanly" in output


def test_log_format_json_and_metrics_keep_the_json_lines_and_the_emf_blobs(tmp_path):
    run = Run(tmp_path, "--metrics", SCELLE_LOG_FORMAT="json")
    try:
        run.wait_for(BANNER)
        assert run.get("/health") == 200
        run.wait_for('"path":"/health"')
    finally:
        assert run.stop() == 0
    records = [json.loads(line) for line in run.output().splitlines() if line.startswith("{")]
    assert any(r.get("message") == "request" and r.get("path") == "/health" and r.get("status") == 200
               for r in records)
    assert any("_aws" in r for r in records)  # --metrics: the blobs CloudWatch would read
    assert not [line for line in run.output().splitlines() if REQUEST.match(line)]
