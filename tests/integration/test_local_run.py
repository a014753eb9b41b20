"""`scelle local` end to end, as a newcomer runs it: start, serve, write, stop with Ctrl-C,
start again, and everything written before is still there and still verifies, with the AWS
emulator on the same port (pre-signed URLs handed out before the restart still work)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chalicelib.local.moto_server import free_port
from tests.support.bodies import business_today

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _call(base: str, method: str, path: str, body=None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


class LocalRun:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "SCELLE_DATA_DIR": str(data_dir), "SCELLE_PORT": str(port),
               "SCELLE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
        for name in list(env):
            if name.startswith("SCELLE_") and name not in ("SCELLE_DATA_DIR", "SCELLE_PORT", "SCELLE_LOG_LEVEL"):
                env.pop(name)
        self.log = open(data_dir.parent / f"run-{port}-{time.monotonic_ns()}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "local"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"scelle local exited early:\n{self.output()}")
            try:
                status, _ = _call(self.base, "GET", "/health")
                # The banner is printed once everything (pump, scheduler) runs, just after serving starts.
                if status == 200 and "Scellé is running" in self.output():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/health never answered 200:\n{self.output()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def test_scelle_local_serves_stops_cleanly_and_keeps_data_across_restarts(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    run = LocalRun(data_dir, port)
    try:
        run.wait_healthy()
        banner = run.output()
        assert f"http://127.0.0.1:{port}" in banner
        assert str(data_dir) in banner

        # A second instance on the same port fails with a clear message, not a stack trace.
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        clash = subprocess.run(
            [sys.executable, "-m", "chalicelib.cli", "local"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "SCELLE_DATA_DIR": str(other_dir), "SCELLE_PORT": str(port)},
        )
        assert clash.returncode == 2
        assert "already in use" in clash.stderr
        assert "Traceback" not in clash.stderr

        written = write_something(run.base, data_dir)
        before = check_shared_machine_protections(run.base, data_dir, banner)
        download = export_download(run.base, data_dir)
    finally:
        code = run.stop()
    assert code == 0, run.output()
    assert "Stopped cleanly" in run.output()
    emulator = emulator_endpoint(banner)
    assert json.loads((data_dir / "local-state.json").read_text())["moto_port"] == int(emulator.rsplit(":", 1)[1])

    again = LocalRun(data_dir, port)
    try:
        again.wait_healthy()
        assert "restored" in again.output()
        check_still_there(again.base, data_dir, written)
        after = check_shared_machine_protections(again.base, data_dir, again.output())
        # The operator token is new at each start; the Cognito key is the data directory's, so a
        # token signed in before the restart is still valid after it.
        assert after["operator_token"] != before["operator_token"]
        status, _ = _call(again.base, "GET", "/v1/local/outbox", token=before["operator_token"])
        assert status == 401
        status, me = _call(again.base, "GET", "/v1/me", token=before["id_token"])
        assert status == 200, me
        # The emulator listens on the same port as before the restart: a pre-signed URL handed out
        # before it still downloads the same archive.
        assert emulator_endpoint(again.output()) == emulator
        assert "Warning        the AWS emulator" not in again.output()
        with urllib.request.urlopen(download["url"], timeout=30) as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == download["sha256"]
    finally:
        assert again.stop() == 0

    # Another program holds that port: the next start takes a free one and the banner says so.
    emulator_port = int(emulator.rsplit(":", 1)[1])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the last run's TIME_WAIT
        holder.bind(("127.0.0.1", emulator_port))
        holder.listen()
        third = LocalRun(data_dir, port)
        try:
            third.wait_healthy()
            output = third.output()
            assert f"Warning        the AWS emulator's port {emulator_port} " in output
            assert "pre-signed URLs handed out before" in output
            moved = emulator_endpoint(output)
            assert moved != emulator
            assert json.loads((data_dir / "local-state.json").read_text())["moto_port"] == int(moved.rsplit(":", 1)[1])
        finally:
            assert third.stop() == 0


def emulator_endpoint(banner: str) -> str:
    found = re.findall(r"AWS emulator +(http://127\.0\.0\.1:\d+)", banner)
    assert found, banner
    return found[-1]


def export_download(base: str, data_dir: Path, timeout: float = 60) -> dict:
    """Export today's data of the demo tenant; return the job's ``download`` (pre-signed URL, sha256)."""

    from tests.support.demo import local_demo_login

    token, tenant_id = local_demo_login(base, data_dir)
    today = business_today()
    status, job = _call(base, "POST", f"/v1/tenants/{tenant_id}/exports",
                        {"format": "fiscal", "from": today, "to": today}, token)
    assert status == 202, job
    deadline = time.monotonic() + timeout
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status, job = _call(base, "GET", f"/v1/tenants/{tenant_id}/exports/{job['job_id']}", token=token)
        assert status == 200, job
    assert job["status"] == "done", job
    with urllib.request.urlopen(job["download"]["url"], timeout=30) as resp:
        assert hashlib.sha256(resp.read()).hexdigest() == job["download"]["sha256"]
    return job["download"]


def check_shared_machine_protections(base: str, data_dir: Path, banner: str) -> dict:
    """What another account on the machine cannot do: read the data directory, read the outbox
    without the local operator token, or forge a Cognito token with moto's bundled key."""
    import stat
    import time

    import jwt
    from joserfc import jwk
    from joserfc import jwt as jose_jwt
    from moto.utilities.utils import load_resource

    from tests.support.demo import local_demo_login

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    token_file = data_dir / "local-operator.token"
    key_file = data_dir / "keys" / "cognito-signing.jwk.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == stat.S_IMODE(key_file.stat().st_mode) == 0o600
    operator_token = token_file.read_text().strip()
    assert f"Local operator {operator_token}" in banner

    assert _call(base, "GET", "/v1/local/outbox")[0] == 401
    status, outbox = _call(base, "GET", "/v1/local/outbox", token=operator_token)
    assert status == 200 and isinstance(outbox["messages"], list), outbox
    status, problem = _call(base, "TRACE", "/health")
    assert status == 405 and problem["type"].endswith("/method-not-allowed"), problem

    id_token, _ = local_demo_login(base, data_dir)
    assert _call(base, "GET", "/v1/me", token=id_token)[0] == 200
    bundled = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    claims = {**jwt.decode(id_token, options={"verify_signature": False}), "iat": int(time.time())}
    forged = jose_jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, bundled)
    status, problem = _call(base, "GET", "/v1/me", token=forged)
    assert status == 401 and problem["type"].endswith("/unauthenticated"), problem
    return {"operator_token": operator_token, "id_token": id_token}


def write_something(base: str, data_dir: Path) -> dict:
    """Sign up, sign in with the demo account and record a sale; return what to look for later."""
    from tests.support.demo import local_demo_login

    token, tenant_id = local_demo_login(base, data_dir)
    status, sale = _call(base, "POST", f"/v1/tenants/{tenant_id}/sales", _sale_body(), token)
    assert status == 201, sale
    return {"tenant_id": tenant_id, "chain": sale["chain"], "seq": sale["seq"], "hash": sale["hash"]}


def check_still_there(base: str, data_dir: Path, written: dict) -> None:
    from tests.support.demo import local_demo_login

    token, tenant_id = local_demo_login(base, data_dir)
    assert tenant_id == written["tenant_id"]
    status, entry = _call(base, "GET", f"/v1/tenants/{tenant_id}/entries/{written['chain']}/{written['seq']}",
                          token=token)
    assert status == 200, entry
    assert entry["hash"] == written["hash"]
    status, report = _call(base, "POST", f"/v1/tenants/{tenant_id}/verifications", {"chain": written["chain"]},
                           token)
    assert status == 200 and report["ok"], report


def _sale_body() -> dict:
    from datetime import UTC, datetime

    return {
        "client_receipt_id": "e2e-1",
        "register_id": "R1",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21"}],
        "payments": [{"method": "card", "amount": "5.00"}],
    }
