"""`scelle local` killed with SIGKILL while 4 tills record sales, then started again (issue 13).

Invariant (decision 0014): whatever the embedded stack answered with a 2xx before the kill is there
after the restart, exactly once, with the seq and hash of its answer; nothing that was not answered
shows up twice; every chain verifies. A sale whose answer the kill swallowed is sent again with the
same key after the restart, as a till does: it is then recorded exactly once.

The kill points are drawn from a seed (``SCELLE_CRASH_SEED``, printed on failure) so that a failing
run can be replayed; ``SCELLE_CRASH_ROUNDS`` sets how many kills (default 3). Snapshots run every
2 s so that kills also land during and between snapshots. Everything talks to 127.0.0.1 only, and
each round is bounded in time.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from chalicelib.local.moto_server import free_port
from tests.integration.test_local_run import ROOT, LocalRun, _call
from tests.support.demo import local_demo_login

pytestmark = pytest.mark.integration

WRITERS = 4
ROUNDS = int(os.environ.get("SCELLE_CRASH_ROUNDS", "3"))
SEED = int(os.environ.get("SCELLE_CRASH_SEED", str(random.randrange(1, 10**6))))


class CrashableRun(LocalRun):
    """LocalRun with frequent snapshots, that can be killed with SIGKILL."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SCELLE_") or k in ("SCELLE_DATA_DIR", "SCELLE_PORT")}
        env.update({"SCELLE_DATA_DIR": str(data_dir), "SCELLE_PORT": str(port), "SCELLE_LOG_LEVEL": "WARNING",
                    "PYTHONUNBUFFERED": "1"})
        self.log = open(data_dir.parent / f"crash-{port}-{time.monotonic_ns()}.log", "w+")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "local", "--snapshot-seconds", "2"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def _sale(register: str, receipt: str) -> dict:
    from datetime import UTC, datetime

    return {"client_receipt_id": receipt, "register_id": register,
            "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lines": [{"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21"}],
            "payments": [{"method": "card", "amount": "5.00"}]}


class Tills:
    """4 tills on registers R1..R4; what each got acknowledged, and what was in flight."""

    def __init__(self) -> None:
        self.acked: dict[str, tuple[str, int, str]] = {}  # receipt -> (chain, seq, hash)
        self.in_flight: dict[str, dict] = {}  # receipt -> body (sent, no answer)
        self.lock = threading.Lock()
        self.next = Counter()

    def run(self, base: str, token: str, tenant: str, stop: threading.Event) -> list[threading.Thread]:
        def till(w: int) -> None:
            register = f"R{w + 1}"
            while not stop.is_set():
                with self.lock:
                    n = self.next[register]
                    self.next[register] += 1
                receipt = f"{register}-{n:05d}"
                body = _sale(register, receipt)
                with self.lock:
                    self.in_flight[receipt] = body
                try:
                    status, answer = _send(base, token, tenant, body)
                except (OSError, http.client.HTTPException):
                    # The stack is gone (killed before, or in the middle of, its answer: an
                    # IncompleteRead): the answer was lost, the sale stays in flight.
                    return
                with self.lock:
                    if status == 201:
                        self.acked[receipt] = (answer["chain"], answer["seq"], answer["hash"])
                        del self.in_flight[receipt]

        threads = [threading.Thread(target=till, args=(w,), daemon=True) for w in range(WRITERS)]
        for t in threads:
            t.start()
        return threads


def _send(base: str, token: str, tenant: str, body: dict) -> tuple[int, dict]:
    for _ in range(30):
        status, answer = _call_with_key(base, f"/v1/tenants/{tenant}/sales", body, token, body["client_receipt_id"])
        if status != 503:
            return status, answer
        time.sleep(0.1)
    return status, answer


def _call_with_key(base: str, path: str, body: dict, token: str, key: str):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _check(base: str, token: str, tenant: str, tills: Tills, seed: int) -> int:
    """Every acknowledged sale present once with its answer's seq and hash; chains verify."""
    found: dict[str, tuple[str, int, str]] = {}
    counts: Counter = Counter()
    for w in range(WRITERS):
        chain = f"test.sales.R{w + 1}"
        cursor = None
        while True:
            path = f"/v1/tenants/{tenant}/entries?chain={chain}&limit=500" + (f"&cursor={cursor}" if cursor else "")
            status, page = _call(base, "GET", path, token=token)
            if status == 404:
                break
            assert status == 200, (seed, page)
            for entry in page["entries"]:
                if entry["type"] == "sale":
                    receipt = entry["data"]["client_receipt_id"]
                    counts[receipt] += 1
                    found[receipt] = (entry["chain"], entry["seq"], entry["hash"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if any(r.startswith(f"R{w + 1}-") for r in tills.acked):
            status, report = _call(base, "POST", f"/v1/tenants/{tenant}/verifications", {"chain": chain}, token)
            assert status == 200 and report["ok"], (f"seed {seed}", chain, report)
    lost = {r: a for r, a in tills.acked.items() if found.get(r) != a}
    twice = {r: c for r, c in counts.items() if c > 1}
    assert not lost, f"seed {seed}: {len(lost)} acknowledged sales lost or changed, e.g. {list(lost.items())[:3]}"
    assert not twice, f"seed {seed}: sealed more than once: {list(twice.items())[:5]}"
    return len(found)


def _check_events(base: str, token: str, tenant: str, tills: Tills, seed: int, timeout: float = 60) -> None:
    """Each sealed sale has exactly one sale_recorded event, those whose stream records died with
    the killed process included (derived again after the recovery)."""
    wanted = {(chain, seq) for chain, seq, _ in tills.acked.values()}
    deadline = time.monotonic() + timeout
    while True:
        events, cursor = [], None
        while True:
            path = f"/v1/tenants/{tenant}/events?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            status, page = _call(base, "GET", path, token=token)
            assert status == 200, page
            events += page["events"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        recorded = Counter((e["details"].get("chain"), e["details"].get("seq"))
                           for e in events if e["kind"] == "sale_recorded")
        missing = wanted - set(recorded)
        repeated = {k: c for k, c in recorded.items() if c > 1}
        assert not repeated, f"seed {seed}: sale_recorded more than once: {list(repeated.items())[:5]}"
        if not missing:
            return
        assert time.monotonic() < deadline, (f"seed {seed}: {len(missing)} sales without event, "
                                             f"e.g. {sorted(missing)[:5]}")
        time.sleep(1)


def test_a_kill_9_under_four_tills_loses_no_acknowledged_sale(tmp_path):
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    tills = Tills()
    recoveries: list[str] = []
    for round_ in range(ROUNDS + 1):
        run = CrashableRun(data_dir, port)
        try:
            run.wait_healthy(timeout=120)
            healthy = time.monotonic() - run.started
            token, tenant = local_demo_login(run.base, data_dir)
            sealed = _check(run.base, token, tenant, tills, SEED)
            recovered = re.search(r"Recovered\s+(\d+) changes from the redo log in ([\d.]+) s", run.output())
            if round_:
                assert recovered, f"seed {SEED}: no recovery after a kill:\n{run.output()}"
                recoveries.append(f"{recovered.group(1)} changes in {recovered.group(2)} s "
                                  f"(healthy {healthy:.1f} s after start)")
            # What the kill left unanswered is sent again with the same key: recorded once.
            for receipt, body in sorted(tills.in_flight.items()):
                status, answer = _send(run.base, token, tenant, body)
                assert status == 201, (SEED, receipt, answer)
                tills.acked[receipt] = (answer["chain"], answer["seq"], answer["hash"])
            tills.in_flight.clear()
            _check(run.base, token, tenant, tills, SEED)
            if round_ == ROUNDS:
                _check_events(run.base, token, tenant, tills, SEED)
                break
            stop = threading.Event()
            threads = tills.run(run.base, token, tenant, stop)
            time.sleep(rng.uniform(1.0, 5.0))  # the kill lands anywhere: a sale, a snapshot, a pump batch
            run.kill()
            stop.set()
            for t in threads:
                t.join(timeout=60)
        finally:
            if run.proc.poll() is None:
                run.stop()
    print(f"\ncrash test seed {SEED}: {len(tills.acked)} sales acknowledged, {sealed} sealed before the last "
          f"re-sends; recoveries: {recoveries}")
    assert len(tills.acked) > 20 * ROUNDS, f"seed {SEED}: too few sales to mean anything ({len(tills.acked)})"
