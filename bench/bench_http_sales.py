"""Sales through the HTTP API vs raw conditional PutItem, one writer and 8 writers (issue 12, item 7).

What runs, on 127.0.0.1 only: one embedded moto (chalicelib.local.moto_server, patches
included) with Scellé's tables, in a child process by default so that the emulator and the app
do not share one interpreter lock (``--moto-in-process`` runs it in this process, as ``scelle
local`` does); the Chalice app served by a threaded HTTP server in this process with the same
request handler and problem-aware local gateway as ``scelle local`` (so the real JWT authorizer,
routing, access check and sale handler run for every request); a tenant in test mode, open around
the clock, with a seller signed in through ``POST /v1/auth/signin``.

The server sets TCP_NODELAY on its sockets: Chalice's handler writes an answer's headers and body
in two sends, and with Nagle's algorithm the body waits for the client's delayed ACK, ~40 ms per
answer on loopback, whatever the route does (``--nagle`` measures it that way, as ``scelle local``
serves today).

Measured, in interleaved rounds so that machine noise hits every phase alike (the order of the
raw and HTTP phases alternates from round to round):

* raw: conditional ``PutItem`` (``attribute_not_exists(pk)``) of sealed-sale-sized items on a
  table of the journal's shape (keys, index; no stream, so no tamper alarm), by 1 and by 8
  threads, each thread its own boto3 client, like separate Lambdas;
* http: ``POST /v1/tenants/{t}/sales`` with an ``Idempotency-Key``, by 1 till and by 8 tills on 8
  different registers of the one tenant (each thread its own register and keep-alive
  connection). A 503 (or a 409 "still being processed") is retried with the same key, as
  docs/user-guide.md says; the latency of a sale includes its retries.

* floor (one writer): the sale's own two DynamoDB requests sent raw — the access check's
  ``BatchGetItem`` and the seal's ``TransactWriteItems`` of the entry and its receipt claim — so
  the report separates what the emulator charges for those requests from what the app, the local
  gateway and HTTP add.

DynamoDB requests per sale are counted with a botocore event hook (``before-parameter-build``
and ``after-call`` on the default boto3 session, which the app's boto3 clients are built from, and
on each botocore session pynamodb's connections build),
by operation and by table, for the HTTP phases only (conditional failures too). Write units are
*estimated from item sizes* in the request parameters (DynamoDB's size rules: names + values):
PutItem ceil(size / 1 KB); UpdateItem ceil((key + expression values) / 1 KB), a lower bound;
DeleteItem 1; TransactWriteItems twice the same per item; conditional failures are charged like
successes, as on AWS; base tables only (an index projecting the item costs as much again on AWS).
moto's ``ReturnConsumedCapacity`` is not used: it answers a constant 1.0 for every PutItem
whatever the size, and nothing for UpdateItem or TransactWriteItems.

After the timed phases the DynamoDB streams are drained once through the local stream pump (the
handlers Lambda runs); the requests and write units of that asynchronous work are reported per
sale too, separately from the request path.

``python -m bench.bench_http_sales [--seconds 48] [--rounds 3] [--writers 1,8] [--no-stream]
[--moto-in-process] [--nagle]``; ``python -m bench`` runs it with the defaults (about 75 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.common import report
from tests.support.bodies import till_receipt
from tests.support.http_server import Http, HttpServer, MotoProcess

PASSWORD = "Bench-Pass-4242"
AIM_ONE_VS_RAW = 0.25
AIM_EIGHT_VS_ONE = 1.5
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


# ---- DynamoDB accounting -------------------------------------------------------------------------
def attribute_size(value: dict) -> int:
    """Approximate DynamoDB size of one AttributeValue (bytes), per AWS's item-size rules."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS",):
        return sum(len(s.encode("utf-8")) for s in v)
    if kind in ("NS",):
        return sum(attribute_size({"N": n}) for n in v)
    if kind in ("BS",):
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + attribute_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(x) for k, x in v.items())
    return 0


def item_size(item: dict) -> int:
    return sum(len(k.encode("utf-8")) + attribute_size(v) for k, v in (item or {}).items())


def _kb(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def write_units(op: str, params: dict) -> int:
    """Estimated write capacity units of one call (see the module docstring)."""
    if op == "PutItem":
        return _kb(item_size(params.get("Item")))
    if op == "UpdateItem":
        return _kb(item_size(params.get("Key")) + item_size(params.get("ExpressionAttributeValues")))
    if op == "DeleteItem":
        return 1
    if op == "TransactWriteItems":
        total = 0
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                total += 2 * _kb(item_size(entry["Put"].get("Item")))
            elif "Update" in entry:
                u = entry["Update"]
                total += 2 * _kb(item_size(u.get("Key")) + item_size(u.get("ExpressionAttributeValues")))
            else:  # Delete, ConditionCheck
                total += 2
        return total
    if op == "BatchWriteItem":
        total = 0
        for requests in params.get("RequestItems", {}).values():
            for r in requests:
                total += _kb(item_size(r["PutRequest"]["Item"])) if "PutRequest" in r else 1
        return total
    return 0


def _tables_of(params: dict) -> list[str]:
    """The logical tables (``journal``, ``events``, ...) one call touches."""
    names = [params["TableName"]] if "TableName" in params else []
    names += list(params.get("RequestItems", {}))
    for entry in params.get("TransactItems", []):
        names += [part["TableName"] for part in entry.values() if isinstance(part, dict) and "TableName" in part]
    return sorted({n.rsplit("-", 1)[-1] for n in names}) or ["?"]


class DynamoCounter:
    """Counts DynamoDB calls by operation for the phase that is running (phases never overlap)."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.failed: dict[str, Counter] = defaultdict(Counter)  # ConditionalCheckFailed / cancelled
        self.wcu: dict[str, float] = defaultdict(float)
        self.tables: dict[str, Counter] = defaultdict(Counter)  # calls touching each (logical) table
        self._lock = threading.Lock()

    def install(self, session) -> None:
        """On a boto3 session, or a botocore one (``register`` is its own)."""
        register = session.events.register if hasattr(session, "events") else session.register
        register("before-parameter-build.dynamodb", self._before)
        register("after-call.dynamodb", self._after)

    def install_on_pynamodb(self) -> None:
        """pynamodb's connections build their own botocore session (one per thread), not from
        boto3's default one: count their calls too."""
        try:
            from pynamodb.connection import base
        except ImportError:
            return
        original = base.get_session

        def counted_session():
            session = original()
            self.install(session)
            return session

        base.get_session = counted_session

    def _before(self, params, model, context=None, **_):
        phase = self.phase
        if phase is None:
            return
        units = write_units(model.name, params) if model.name in WRITE_OPS else 0
        tables = _tables_of(params)
        if context is not None:
            context["bench_tables"] = tables
        with self._lock:
            self.calls[phase][model.name] += 1
            self.wcu[phase] += units
            for table in tables:
                self.tables[phase][table] += 1

    def _after(self, http_response, parsed, model, context=None, **_):
        phase = self.phase
        if phase is None or http_response.status_code < 400:
            return
        code = (parsed.get("Error") or {}).get("Code", "")
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            tables = "+".join((context or {}).get("bench_tables") or ["?"])
            with self._lock:
                self.failed[phase][f"{model.name} ({tables})"] += 1


# ---- the embedded stack and the HTTP server ------------------------------------------------------
def start_stack(tmp: Path, *, moto_process: bool = False):
    from chalicelib import bootstrap
    from chalicelib.config import load_settings
    from chalicelib.local.moto_server import EmbeddedMoto
    from chalicelib.local.provision import provision

    moto = MotoProcess() if moto_process else EmbeddedMoto().start()
    settings = load_settings({
        "SCELLE_MODE": "local",
        "SCELLE_AWS_ENDPOINT_URL": moto.endpoint,
        "SCELLE_RESOURCE_PREFIX": f"b{uuid.uuid4().hex[:8]}",
        "SCELLE_LOCAL_KEY_DIR": str(tmp / "keys"),
        "SCELLE_SIGNING_KEY_ID": "local:signing",
        "SCELLE_DATA_KEY_ID": "local:data",
        "SCELLE_DATA_DIR": str(tmp / "data"),  # the local mail outbox; never the developer's .scelle
        "SCELLE_LOG_LEVEL": "WARNING",
    })
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    provisioned = provision(bootstrap.Container(settings).client, settings)
    settings = settings.model_copy(update={"user_pool_id": provisioned.user_pool_id,
                                           "user_pool_client_id": provisioned.user_pool_client_id})
    return moto, settings, provisioned, bootstrap.configure(settings)


def be_company_number() -> str:
    first8 = "0" + f"{random.randrange(10**6, 10**7):07d}"
    return first8 + f"{97 - int(first8) % 97:02d}"


def tenant_with_seller(port: int) -> tuple[str, str, str]:
    """A new test-mode tenant, its admin and a seller, through the same services as the API;
    both sign in over HTTP. Returns (tenant_id, admin token, seller token)."""
    from chalicelib import bootstrap
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from chalicelib.services.accounts import SignUp

    accounts = bootstrap.container().accounts
    number = be_company_number()
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@bench.example"
    seller_email = f"seller-{uuid.uuid4().hex[:8]}@bench.example"
    result = accounts.signup(SignUp(email=admin_email, password=PASSWORD, company_name="Bench SRL", country="BE",
                                    company_number=number, vat_number="BE" + number,
                                    address_line1="Rue de la Loi 16", address_postal_code="1000",
                                    address_city="Bruxelles"))
    accounts.verify_email(result.verification_token)
    tenant_id = result.tenant.tenant_id
    admin = Caller(Principal(result.user.user_id, admin_email), tenant_id, Role.ADMIN)
    invitation = accounts.invite(admin, seller_email, Role.SELLER)
    accounts.accept_invitation(invitation.token, PASSWORD)

    def sign_in(email: str) -> str:
        status, _, body = Http(port).request("POST", "/v1/auth/signin", {"email": email, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"sign-in of {email} answered {status}: {body}")
        return body["id_token"]

    admin_token = sign_in(admin_email)
    # Open around the clock: an evening run must not turn every sale into an after-hours anomaly
    # (and the stream figures with it).
    always = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    status, _, body = Http(port, admin_token).request("PUT", f"/v1/tenants/{tenant_id}/settings",
                                                      {"opening_hours": always})
    if status != 200:
        raise RuntimeError(f"tenant settings answered {status}: {body}")
    return tenant_id, admin_token, sign_in(seller_email)


# ---- phases --------------------------------------------------------------------------------------
@dataclass
class Tally:
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    busy_503: int = 0
    in_progress_409: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.ops += other.ops
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.busy_503 += other.busy_503
        self.in_progress_409 += other.in_progress_409
        self.failures += other.failures

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run_threads(writers: int, seconds: float, work) -> Tally:
    """``work(w, deadline, tally)`` in ``writers`` threads started together; wall time to the last."""
    tallies = [Tally() for _ in range(writers)]
    barrier = threading.Barrier(writers + 1)

    def body(w: int) -> None:
        barrier.wait()
        try:
            work(w, time.perf_counter() + seconds, tallies[w])
        except Exception as exc:  # reported, never hidden
            tallies[w].failures.append(f"writer {w}: {exc!r}")

    threads = [threading.Thread(target=body, args=(w,), daemon=True) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    total = Tally(seconds=time.perf_counter() - started)
    for t in tallies:
        total.add(Tally(t.ops, 0.0, t.latencies, t.busy_503, t.in_progress_409, t.failures))
    return total


def raw_phase(clients, table: str, template: dict, label: str, writers: int, seconds: float) -> Tally:
    def work(w: int, deadline: float, tally: Tally) -> None:
        client, pk = clients[w], {"S": f"bench-raw#{label}#{w}#{uuid.uuid4().hex[:8]}"}
        seq = 0
        while time.perf_counter() < deadline:
            seq += 1
            item = {**template, "pk": pk, "sk": {"N": str(seq)}}
            started = time.perf_counter()
            client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            tally.latencies.append(time.perf_counter() - started)
            tally.ops += 1

    return run_threads(writers, seconds, work)


def floor_phase(client, accounts_table: str, access_keys: list[dict], table: str, template: dict, label: str,
                seconds: float) -> Tally:
    """The sale's own DynamoDB requests and nothing else, by one writer: the access check's
    BatchGetItem (user, membership, tenant, session) and a TransactWriteItems of the entry and its
    receipt claim. The best any sale path can do on this emulator, app and HTTP excluded."""
    def work(w: int, deadline: float, tally: Tally) -> None:
        pk = {"S": f"bench-floor#{label}#{uuid.uuid4().hex[:8]}"}
        seq = 0
        while time.perf_counter() < deadline:
            seq += 1
            started = time.perf_counter()
            client.batch_get_item(RequestItems={accounts_table: {"Keys": access_keys, "ConsistentRead": True}})
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": {**template, "pk": pk, "sk": {"N": str(seq)}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"RECEIPT#{pk['S']}"}, "sk": {"N": str(seq)},
                                                      "seq": {"N": str(seq)}, "hash": template.get("hash", {"S": ""})},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            tally.latencies.append(time.perf_counter() - started)
            tally.ops += 1

    return run_threads(1, seconds, work)


def sell(conn: Http, path: str, body: dict, key: str, tally: Tally, attempts: int = 20) -> dict:
    """One sale as a till sends it: retried with the same key on 503 and on 409 "still being processed"."""
    started = time.perf_counter()
    for _ in range(attempts):
        status, headers, answer = conn.request("POST", path, body, {"Idempotency-Key": key})
        if status == 201:
            tally.latencies.append(time.perf_counter() - started)
            tally.ops += 1
            return answer
        if status == 503:
            tally.busy_503 += 1
        elif status == 409 and "still being processed" in str((answer or {}).get("detail", "")):
            tally.in_progress_409 += 1
        else:
            raise RuntimeError(f"sale {key} answered {status}: {answer}")
        retry_after = float((headers.get("Retry-After") or "1").strip() or 1)
        time.sleep(random.uniform(0.5, 1.0) * min(retry_after, 0.25))
    raise RuntimeError(f"sale {key} still refused after {attempts} attempts")


def http_phase(tenant: str, label: str, writers: int, seconds: float, conns: list[Http]) -> Tally:
    path = f"/v1/tenants/{tenant}/sales"

    def work(w: int, deadline: float, tally: Tally) -> None:
        register, n = f"R{w + 1}", 0
        while time.perf_counter() < deadline:
            n += 1
            receipt = f"{label}-{register}-{n}-{uuid.uuid4().hex[:6]}"
            sell(conns[w], path, till_receipt(register, receipt), receipt, tally)

    return run_threads(writers, seconds, work)


@contextlib.contextmanager
def _without_emf_lines():
    """Drop the EMF metric lines Powertools prints on stdout (it prints every 100 values even when
    POWERTOOLS_METRICS_DISABLED is set); everything else goes through."""

    class Filter(io.TextIOBase):
        def __init__(self, out) -> None:
            self.out, self.pending = out, ""

        def write(self, text: str) -> int:
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                if not line.startswith('{"_aws"'):
                    self.out.write(line + "\n")
            return len(text)

        def flush(self) -> None:
            self.out.flush()

    original = sys.stdout
    sys.stdout = Filter(original)
    try:
        yield
    finally:
        if sys.stdout.pending and not sys.stdout.pending.startswith('{"_aws"'):
            original.write(sys.stdout.pending)
        sys.stdout = original


# ---- main ----------------------------------------------------------------------------------------
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=48.0,
                        help="measured time in all, shared by every phase of every round (default 48)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--writers", default="1,8", help="concurrency levels to run (default 1,8)")
    parser.add_argument("--no-stream", action="store_true", help="skip draining the streams after the run")
    parser.add_argument("--moto-in-process", action="store_true",
                        help="run moto in this process, as `scelle local` does (by default it runs in a child "
                             "process, so that the raw baseline can scale past one interpreter lock)")
    parser.add_argument("--nagle", action="store_true",
                        help="leave Nagle's algorithm on the server's sockets, as `scelle local` does (+~40 ms/answer)")
    args = parser.parse_args(argv)
    sizes = sorted({int(x) for x in args.writers.split(",") if x.strip()})
    phase_seconds = args.seconds / (args.rounds * 2 * len(sizes))

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    os.environ.setdefault("SCELLE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF line per request on stdout
    import boto3

    counter = DynamoCounter()
    boto3.setup_default_session()
    counter.install(boto3.DEFAULT_SESSION)
    counter.install_on_pynamodb()

    from app import app
    from bench.common import sale_payload
    from chalicelib import bootstrap
    from chalicelib.adapters.dynamodb_chain_store import to_item
    from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
    from chalicelib.observability import logger

    logger.setLevel("ERROR")  # the after-hours anomaly of a late-evening run is not the bench's business
    wall = time.perf_counter()
    tallies: dict[tuple[str, int], Tally] = defaultdict(Tally)
    conns: list[Http] = []
    with tempfile.TemporaryDirectory() as tmp, _without_emf_lines():
        moto, settings, provisioned, container = start_stack(Path(tmp), moto_process=not args.moto_in_process)
        server = HttpServer(app, nodelay=not args.nagle)
        try:
            tenant, _admin_token, seller_token = tenant_with_seller(server.port)
            # Raw puts go to a table of the journal's shape (keys, index) without a stream: in the
            # journal itself the stream verifier would rightly flag them as forged entries.
            from chalicelib.local.provision import create_table
            from chalicelib.resources import RESOURCES

            table = f"{settings.resource_prefix}-rawbench"
            create_table(container.dynamodb, table, RESOURCES.table("journal"), with_stream=False)
            journal = settings.table_name("journal")
            template = to_item(seal(tenant, "test.sales.R0", 1, "sale", datetime.now(UTC), True,
                                    sale_payload(0), GENESIS_PREV_HASH))
            template.pop("pk"), template.pop("sk")
            raw_clients = [bootstrap.Container(settings).client("dynamodb") for _ in range(max(sizes))]
            conns = [Http(server.port, seller_token) for _ in range(max(sizes))]

            # Warm-up: every register's chain exists, every connection and client is open.
            warm = Tally()
            for w in range(max(sizes)):
                receipt = f"warm-R{w + 1}-{uuid.uuid4().hex[:6]}"
                sell(conns[w], f"/v1/tenants/{tenant}/sales", till_receipt(f"R{w + 1}", receipt), receipt, warm)
                raw_clients[w].put_item(TableName=table, Item={**template, "pk": {"S": f"warm#{w}"},
                                                               "sk": {"N": "1"}})
            stored = container.dynamodb.get_item(TableName=journal, Key={
                "pk": {"S": chain_key(tenant, "test.sales.R1")}, "sk": {"N": "1"}})["Item"]

            access_keys = _access_keys(tenant, seller_token)
            for r in range(args.rounds):
                for writers in sizes:
                    order = ("raw", "http") if r % 2 == 0 else ("http", "raw")
                    if writers == 1:
                        order = (*order, "floor") if r % 2 == 0 else ("floor", *order)
                    for kind in order:
                        counter.phase = f"{kind}-{writers}"
                        if kind == "raw":
                            got = raw_phase(raw_clients, table, template, f"{r}", writers, phase_seconds)
                        elif kind == "floor":
                            got = floor_phase(raw_clients[0], settings.table_name("accounts"), access_keys, table,
                                              template, f"{r}", phase_seconds)
                        else:
                            got = http_phase(tenant, f"r{r}w{writers}", writers, phase_seconds, conns)
                        counter.phase = None
                        tallies[(kind, writers)].add(got)

            stream_seconds = None
            if not args.no_stream:
                from chalicelib.local.pump import StreamPump

                pump = StreamPump(app, bootstrap.Container(settings).client("dynamodbstreams"),
                                  provisioned.stream_arns, Path(tmp) / "pump.json", region=settings.region)
                counter.phase = "stream"
                started = time.perf_counter()
                pump.drain()
                stream_seconds = time.perf_counter() - started
                counter.phase = None
        finally:
            counter.phase = None
            for c in conns:
                c.close()
            server.stop()
            moto.stop()
            bootstrap.configure(settings)

    _print_report(args, sizes, phase_seconds, tallies, counter, item_size(template) + len("pk") + len("sk"),
                  item_size(stored), stream_seconds, time.perf_counter() - wall)


def _access_keys(tenant: str, token: str) -> list[dict]:
    """The keys the access check of the seller's sale reads (adapters/accounts_dynamodb.py)."""
    import jwt

    from chalicelib.adapters.accounts_dynamodb import member_key, session_key, tenant_key, user_key

    claims = jwt.decode(token, options={"verify_signature": False})
    user = claims["sub"]
    keys = [user_key(user), member_key(tenant, user), tenant_key(tenant),
            session_key(claims.get("origin_jti") or claims.get("jti") or "none")]
    # A key is {"pk": ..., "sk": ...} or, from the pynamodb models, the (pk, sk) pair.
    keys = [key if isinstance(key, dict) else dict(zip(("pk", "sk"), key, strict=True)) for key in keys]
    return [{name: {"S": value} for name, value in key.items()} for key in keys]


def _print_report(args, sizes, phase_seconds, tallies, counter, raw_bytes, sale_bytes, stream_seconds, wall):
    rows: list[tuple[str, str]] = [
        ("setup", f"{args.rounds} interleaved rounds, {phase_seconds:.1f} s per phase; writers {sizes}; "
                  f"item sizes: raw {raw_bytes} B, stored sale {sale_bytes} B (DynamoDB size rules); "
                  + ("Nagle on (as scelle local)" if args.nagle else "TCP_NODELAY on the HTTP server")),
    ]
    http_sales = {w: tallies[("http", w)] for w in sizes}
    for w in sizes:
        raw, web = tallies[("raw", w)], http_sales[w]
        label = "1 writer" if w == 1 else f"{w} writers on {w} registers"
        rows += [
            (f"[{label}] raw conditional PutItem", f"{raw.rate:,.1f} /s  p50 {raw.pct(.5):.1f} ms  "
                                                    f"p95 {raw.pct(.95):.1f} ms  ({raw.ops} puts)"),
            (f"[{label}] HTTP sales", f"{web.rate:,.1f} /s  p50 {web.pct(.5):.1f} ms  p95 {web.pct(.95):.1f} ms  "
                                      f"({web.ops} sales)"),
            (f"[{label}] ratio HTTP / raw PutItem", f"{web.rate / raw.rate:.3f}" if raw.rate else "n/a"),
            (f"[{label}] 503 answers (retried)", f"{web.busy_503}" + (f"; 409 in progress {web.in_progress_409}"
                                                                     if web.in_progress_409 else "")),
        ]
        if web.failures:
            rows.append((f"[{label}] FAILED sales", f"{len(web.failures)}: {web.failures[:3]}"))
        calls, failed = counter.calls[f"http-{w}"], counter.failed[f"http-{w}"]
        n = max(web.ops, 1)
        per_op = ", ".join(f"{op} {c / n:.2f}" for op, c in calls.most_common())
        rows.append((f"[{label}] DynamoDB requests / sale", f"{sum(calls.values()) / n:.2f}: {per_op}"))
        by_table = ", ".join(f"{t} {c / n:.2f}" for t, c in counter.tables[f"http-{w}"].most_common())
        rows.append((f"[{label}]   ... touching table", by_table))
        if failed:
            rows.append((f"[{label}] conditional failures / sale",
                         ", ".join(f"{op} {c / n:.2f}" for op, c in failed.most_common())))
        rows.append((f"[{label}] write units / sale (estimated)", f"{counter.wcu[f'http-{w}'] / n:.1f}"))
        floor = tallies[("floor", w)]
        if floor.ops:
            rows += [
                (f"[{label}] floor: the sale's 2 requests, raw", f"{floor.rate:,.1f} /s  p50 {floor.pct(.5):.1f} ms  "
                                                                 "(BatchGetItem + TransactWriteItems of 2 Puts)"),
                (f"[{label}] ratio floor / raw PutItem", f"{floor.rate / raw.rate:.3f} (the best a sale can reach "
                                                         "here: the emulator's cost of those 2 requests)"),
                (f"[{label}] ratio HTTP / floor", f"{web.rate / floor.rate:.3f} (what the app, the local gateway "
                                                  "and HTTP cost on top)"),
            ]
        raw_calls = counter.calls[f"raw-{w}"]
        if raw.ops and sum(raw_calls.values()) != raw.ops:
            rows.append((f"[{label}] raw phase check", f"{sum(raw_calls.values())} calls for {raw.ops} puts"))
    if stream_seconds is not None:
        total_sales = sum(t.ops for t in http_sales.values()) + max(sizes)  # + warm-up sales
        calls = counter.calls["stream"]
        rows.append(("stream handlers, drained once after the run",
                     f"{stream_seconds:.1f} s; per sale: {sum(calls.values()) / total_sales:.2f} DynamoDB requests ("
                     + ", ".join(f"{op} {c / total_sales:.2f}" for op, c in calls.most_common(6))
                     + f"), {counter.wcu['stream'] / total_sales:.1f} write units (estimated)"))

    def aim(text: str, value: float | None, target: float, ran: bool) -> tuple[str, str]:
        if not ran or value is None:
            return (text, "not run (that size was not measured)")
        return (text, f"{value:.3f} -> {'met' if value >= target else 'missed'}")

    one, eight = 1 in sizes, 8 in sizes
    r1 = http_sales[1].rate / tallies[("raw", 1)].rate if one and tallies[("raw", 1)].rate else None
    r8 = http_sales[8].rate / http_sales[1].rate if one and eight and http_sales[1].rate else None
    if one and eight and tallies[("raw", 1)].rate:
        rows.append(("raw PutItem, 8 writers / 1 writer", f"{tallies[('raw', 8)].rate / tallies[('raw', 1)].rate:.2f}x "
                     "(what this machine and emulator allow: the ceiling of the 8-writer aim)"))
    rows.append(aim(f"AIM one writer >= {AIM_ONE_VS_RAW} of raw PutItem", r1, AIM_ONE_VS_RAW, one))
    rows.append(aim(f"AIM 8 writers >= {AIM_EIGHT_VS_ONE}x one writer", r8, AIM_EIGHT_VS_ONE, one and eight))
    if r8 is not None and tallies[("raw", 1)].rate:
        ceiling = tallies[("raw", 8)].rate / tallies[("raw", 1)].rate
        if ceiling < AIM_EIGHT_VS_ONE:
            rows.append(("  note", f"raw PutItem itself scaled only {ceiling:.2f}x here: this run cannot show the "
                                   "8-writer aim met, whatever the sale path does"))
    busy = sum(t.busy_503 for t in http_sales.values())
    rows.append(("AIM zero 503s", f"{busy} in sizes {sizes} -> {'met' if busy == 0 else 'missed'}"))
    rows.append(("wall time", f"{wall:.0f} s"))
    report("sales through the HTTP API vs raw conditional PutItem (embedded moto, 127.0.0.1)", rows)


if __name__ == "__main__":
    main()
