"""Tills hammering the HTTP API (issue 12, item 4): 8 tills x 100 sales on ONE register, and 8
tills x 100 sales on 8 registers, through a real HTTP server on 127.0.0.1 (the handler and
problem-aware gateway ``scelle local`` serves with, so the real JWT authorizer and sale handler
run), on private tables, streams and user pool with the local stream pump. The embedded moto of
this module runs in a child process (same code and patches as the session's): in the test
process it would share one interpreter lock with the app and the 8 tills, and the run would take
half as long again.

Each till behaves as docs/user-guide.md tells an integrator: the ``Idempotency-Key`` is the
``client_receipt_id``; a 503 (and a 409 "still being processed") is retried with the same key.
Lost responses are injected: 2 sales in 10 that already got a 201 are sent again, one with the
same key and one with a new key but the same ``client_receipt_id`` and body (a till that lost
its key along with the answer); half of the re-sends go at once, half after the till's last sale.

Afterwards, read back through the API: exactly 800 sales in the chain(s), no client_receipt_id
twice, every 201 answer (seq, hash) in its chain, every re-send answered with the first answer's
seq and hash; after draining the streams, one ``sale_recorded`` event per sealed sale (matched on
details.chain + details.seq); and across different registers, not a single 503.

Every finding is collected and reported together, so a failure shows all the numbers at once.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from tests.support.bodies import till_receipt
from tests.support.continuous import ContinuousStack
from tests.support.http_server import Http, HttpServer, MotoProcess

pytestmark = [
    pytest.mark.functional,
    # Powertools' idempotency warns on every sale that no Lambda context is registered (known, see
    # chalicelib/services/idempotency.py); 1,000 copies would drown the report.
    pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left"),
]

TILLS = 8
# The size is 8 x 100 (about 2 minutes per test on today's code); a smaller number here
# gives a quicker run while iterating, e.g. SCELLE_TILLS_SALES=25.
SALES_PER_TILL = int(os.environ.get("SCELLE_TILLS_SALES", "100"))
PASSWORD = "Correct-Horse-42"


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    """Private tables, streams and user pool (as tests/support/continuous.py makes them), on a moto
    of this module's own."""
    from chalicelib import bootstrap
    from chalicelib.local.provision import provision

    moto = MotoProcess()
    data_dir = tmp_path_factory.mktemp("cv-tills")
    try:
        settings = stack.settings.model_copy(update={"aws_endpoint_url": moto.endpoint, "data_dir": data_dir,
                                                     "resource_prefix": f"tl{uuid.uuid4().hex[:10]}"})
        provisioned = provision(bootstrap.Container(settings).client, settings)
        settings = settings.model_copy(update={"user_pool_id": provisioned.user_pool_id,
                                               "user_pool_client_id": provisioned.user_pool_client_id})
        yield ContinuousStack(settings, provisioned, data_dir)
    finally:
        bootstrap.configure(stack.settings)
        moto.stop()


@pytest.fixture(scope="module")
def server(cv):
    from app import app

    cv.container()  # the app (and the pump's handlers) now use the private tables
    srv = HttpServer(app, name="tills-http")
    yield srv
    srv.stop()


@dataclass(frozen=True)
class Shop:
    tenant_id: str
    admin: str
    seller: str


def _shop(port: int) -> Shop:
    """A new test-mode tenant with a verified admin and a seller (the demo seeding's path), both
    signed in over HTTP."""
    from chalicelib import bootstrap
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from chalicelib.services.accounts import SignUp
    from tests.support.users import be_enterprise_number

    accounts = bootstrap.container().accounts
    number = be_enterprise_number()
    admin_email = f"admin-{uuid.uuid4().hex[:10]}@tills.example"
    seller_email = f"till-{uuid.uuid4().hex[:10]}@tills.example"
    result = accounts.signup(SignUp(email=admin_email, password=PASSWORD, company_name="Boulangerie Tills",
                                    country="BE", company_number=number, vat_number="BE" + number,
                                    address_line1="Rue de la Loi 16", address_postal_code="1000",
                                    address_city="Bruxelles"))
    accounts.verify_email(result.verification_token)
    admin = Caller(Principal(result.user.user_id, admin_email), result.tenant.tenant_id, Role.ADMIN)
    accounts.accept_invitation(accounts.invite(admin, seller_email, Role.SELLER).token, PASSWORD)

    def sign_in(email: str) -> str:
        status, _, body = Http(port).request("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})
        assert status == 200, body
        return body["id_token"]

    shop = Shop(result.tenant.tenant_id, sign_in(admin_email), sign_in(seller_email))
    # Open around the clock: a run after 22:00 must not turn every sale into an after-hours anomaly.
    always = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    status, _, body = Http(port, shop.admin).request("PUT", f"/v1/tenants/{shop.tenant_id}/settings",
                                                     {"opening_hours": always})
    assert status == 200, body
    return shop


# ---- the tills -----------------------------------------------------------------------------------
@dataclass
class TillLog:
    first: dict[str, dict] = field(default_factory=dict)  # receipt -> first 201 answer
    resends: list[tuple[str, str, int, dict | None]] = field(default_factory=list)  # receipt, how, status, body
    busy_503: int = 0
    in_progress_409: int = 0
    refused: list[str] = field(default_factory=list)  # sales never accepted, with the last answer


def _send(conn: Http, path: str, body: dict, key: str, log: TillLog, attempts: int = 60):
    """A till's send: retried with the same key on 503 and on 409 "still being processed"."""
    status, answer = 0, None
    for _ in range(attempts):
        status, headers, answer = conn.request("POST", path, body, {"Idempotency-Key": key})
        if status == 503:
            log.busy_503 += 1
        elif status == 409 and "still being processed" in str((answer or {}).get("detail", "")):
            log.in_progress_409 += 1
        else:
            return status, answer
        # Retry-After says 1 s; a shorter jittered wait keeps the test bounded (same key, as told).
        retry_after = float(headers.get("Retry-After") or 1)
        time.sleep(random.uniform(0.05, 0.2) * min(retry_after, 1.0))
    return status, answer


def _till(port: int, token: str, tenant: str, till: int, register: str, log: TillLog) -> None:
    conn, path = Http(port, token), f"/v1/tenants/{tenant}/sales"
    later: list[tuple[str, dict, str]] = []
    try:
        for n in range(SALES_PER_TILL):
            receipt = f"T{till}-{n:03d}"
            body = till_receipt(register, receipt)
            status, answer = _send(conn, path, body, receipt, log)
            if status != 201:
                log.refused.append(f"{receipt}: {status} {answer}")
                continue
            log.first[receipt] = answer
            if n % 10 in (4, 9):  # the answer was "lost": send the same receipt again
                # Each ten sales: one re-send with the same key, one with a new key; which one goes
                # at once and which after the till's last sale alternates from ten to ten.
                new_key = (n % 10 == 4) == ((n // 10) % 2 == 1)
                how = "new-key" if new_key else "same-key"
                key = f"{receipt}-again" if new_key else receipt
                if n % 10 == 4:
                    status, again = _send(conn, path, body, key, log)
                    log.resends.append((receipt, f"{how}, at once", status, again))
                else:
                    later.append((receipt, body, key))
        for receipt, body, key in later:
            how = "same-key" if key == receipt else "new-key"
            status, again = _send(conn, path, body, key, log)
            log.resends.append((receipt, f"{how}, after the till's last sale", status, again))
    finally:
        conn.close()


def _run_tills(server: HttpServer, shop: Shop, registers: list[str]) -> tuple[list[TillLog], float]:
    logs = [TillLog() for _ in range(TILLS)]
    errors: list[str] = []
    started = time.perf_counter()

    def run(i: int) -> None:
        try:
            _till(server.port, shop.seller, shop.tenant_id, i, registers[i], logs[i])
        except Exception as exc:  # a crashed till is a finding, not a hang
            errors.append(f"till {i}: {exc!r}")

    threads = [threading.Thread(target=run, args=(i,), name=f"till-{i}") for i in range(TILLS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == [], errors
    return logs, time.perf_counter() - started


# ---- what the ledger holds afterwards ------------------------------------------------------------
def _findings(cv, server: HttpServer, shop: Shop, logs: list[TillLog], tills_seconds: float) -> dict[str, object]:
    started = time.perf_counter()
    admin = Http(server.port, shop.admin)
    tenant = shop.tenant_id
    status, _, listed = admin.request("GET", f"/v1/tenants/{tenant}/chains")
    assert status == 200, listed
    chains = sorted(c for c in listed["chains"] if ".sales." in c)
    entries = []
    for chain in chains:
        entries += admin.get_all(f"/v1/tenants/{tenant}/entries?chain={quote(chain, safe='')}", "entries", 500)
    sales = [e for e in entries if e["type"] == "sale"]
    sealed = {(e["chain"], e["seq"]): e["hash"] for e in sales}

    receipts = Counter(e["data"]["client_receipt_id"] for e in sales)
    duplicated = {r: c for r, c in receipts.items() if c > 1}
    expected = {f"T{t}-{n:03d}" for t in range(TILLS) for n in range(SALES_PER_TILL)}

    answers = [a for log in logs for a in log.first.values()]
    answers += [again for log in logs for _, _, status, again in log.resends if status in (200, 201)]
    lost = [(a["chain"], a["seq"]) for a in answers if sealed.get((a["chain"], a["seq"])) != a["hash"]]

    mismatched = []
    for log in logs:
        for receipt, how, status, again in log.resends:
            first = log.first[receipt]
            got = (again or {}).get("seq"), (again or {}).get("hash")
            if status not in (200, 201) or got != (first["seq"], first["hash"]):
                mismatched.append(f"{receipt} ({how}): first seq {first['seq']}, re-send answered {status} "
                                  f"seq {got[0]}")

    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cv.drain()  # stream handlers (verifier, archiver, anomalies, and whatever derives events) run now
    drain_seconds = time.perf_counter() - started
    events = admin.get_all(f"/v1/tenants/{tenant}/events", "events", 1000)
    recorded = Counter((e["details"].get("chain"), e["details"].get("seq"))
                       for e in events if e["kind"] == "sale_recorded")
    without_event = [k for k in sealed if recorded[k] == 0]
    repeated_event = {k: c for k, c in recorded.items() if c > 1}
    orphan_events = [k for k in recorded if k not in sealed]
    admin.close()

    busy = sum(log.busy_503 for log in logs)
    return {
        "chains": chains,
        f"sales sealed (expected {TILLS * SALES_PER_TILL})": len(sales),
        "client_receipt_ids sealed more than once": len(duplicated),
        "extra entries from duplicates": sum(c - 1 for c in duplicated.values()),
        "receipts missing from the chains": len(expected - set(receipts)),
        "sales never accepted (no 201 after retries)": sum(len(log.refused) for log in logs),
        "201 answers whose seq/hash is not in the chain (lost)": len(lost),
        "re-sends": sum(len(log.resends) for log in logs),
        "re-sends answered differently from the first answer": len(mismatched),
        "sealed sales without a sale_recorded event": len(without_event),
        "sealed sales with more than one sale_recorded event": len(repeated_event),
        "sale_recorded events naming no sealed sale": len(orphan_events),
        "503 answers (retried)": busy,
        "409 still-in-progress answers (retried)": sum(log.in_progress_409 for log in logs),
        "_seconds": {"tills": round(tills_seconds, 1), "reading the chains": round(read_seconds, 1),
                     "draining the streams": round(drain_seconds, 1)},
        "_examples": {
            "duplicates": sorted(duplicated.items())[:5],
            "mismatched re-sends": mismatched[:5],
            "refused": [r for log in logs for r in log.refused][:3],
            "without event": sorted(without_event)[:5],
            "lost": lost[:5],
        },
    }


def _check(found: dict[str, object], *, zero_503: bool) -> None:
    must_be_zero = [
        "client_receipt_ids sealed more than once",
        "extra entries from duplicates",
        "receipts missing from the chains",
        "sales never accepted (no 201 after retries)",
        "201 answers whose seq/hash is not in the chain (lost)",
        "re-sends answered differently from the first answer",
        "sealed sales without a sale_recorded event",
        "sealed sales with more than one sale_recorded event",
        "sale_recorded events naming no sealed sale",
    ]
    if zero_503:
        must_be_zero.append("503 answers (retried)")
    wrong = [k for k in must_be_zero if found[k]]
    sealed_key = f"sales sealed (expected {TILLS * SALES_PER_TILL})"
    if found[sealed_key] != TILLS * SALES_PER_TILL:
        wrong.insert(0, sealed_key)
    summary = "\n".join(f"  {'!!' if k in wrong else '  '} {k}: {v}" for k, v in found.items())
    assert not wrong, f"{len(wrong)} checks failed:\n{summary}"


# ---- the tests -----------------------------------------------------------------------------------
def test_eight_tills_on_one_register_record_each_sale_exactly_once(cv, server):
    shop = _shop(server.port)
    registers = ["R1"] * TILLS
    logs, seconds = _run_tills(server, shop, registers)
    found = _findings(cv, server, shop, logs, seconds)
    assert found["chains"] == ["test.sales.R1"]
    _check(found, zero_503=False)  # one chain: contention may answer 503, retried safely


def test_eight_tills_on_eight_registers_record_each_sale_exactly_once_without_503(cv, server):
    shop = _shop(server.port)
    registers = [f"R{i + 1}" for i in range(TILLS)]
    logs, seconds = _run_tills(server, shop, registers)
    found = _findings(cv, server, shop, logs, seconds)
    assert found["chains"] == sorted(f"test.sales.{r}" for r in registers)
    _check(found, zero_503=True)  # different registers share no chain: nothing to be busy about
