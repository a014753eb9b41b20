"""A deterministic fault-injection simulation of the write path (the FoundationDB / Jepsen idea,
at our scale). Invariants I1-I6 are in docs/decisions/0012-exactly-once-sealing.md.

One *schedule* = one seed. From the seed it draws a workload (tills recording sales with
client receipt ids, journal batches with idempotency keys, reversals of acknowledged sales,
manual and scheduled closures racing each other) and a fault plan. The services are the real
ones (``LedgerService``, ``ChainWriter``, ``EventDeriver``, ``CheckpointService``) on the
in-memory adapters, behind fault-injecting wrappers of the storage and signing ports:

* storage (DynamoDB's role): fail before applying, apply then lose the answer, apply then
  *resend* the same request (what botocore does after a timeout: the resend meets our own
  items), throttle, a crash of the simulated Lambda before or after the call, and a rival
  operation run in between (a race: the scheduler interleaves another till's step there);
* signing (KMS's role): fail, crash;
* the journal stream: batches delivered late, twice, out of order, or dropped (the deriver
  must read what it missed from the journal), the deriver crashing mid-way;
* TTL: event items expire at random moments.

Tills retry like the user guide says (same receipt, same key; sometimes a different
``Idempotency-Key`` for the same receipt). After the schedule the stream is drained and the
invariants are checked. A failure carries the seed and the trace; ``shrink`` finds a shorter
failing schedule (fewer operations, fewer faults) for the same seed; the same seed replays
exactly.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.adapters.chain_directory import InMemoryChainDirectory
from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.ledger_index import InMemoryLedgerIndex
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.calendar import business_day_of, parse_period_key, period_bounds_utc
from chalicelib.domain.closures import ClosureCheck
from chalicelib.domain.errors import ChainBusy, Conflict, ScelleError, Unavailable
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Role
from chalicelib.domain.records import chain_key, parse_timestamp
from chalicelib.domain.tenant import Address, Tenant
from chalicelib.domain.verification import verify_chain
from chalicelib.local.clock import MovingClock
from chalicelib.services.checkpoints import CheckpointCadence, CheckpointService, KeyRegistry
from chalicelib.services.events import EVENTS_CHAIN, EventDeriver, EventJournal, event_writer
from chalicelib.services.ledger import LedgerService
from chalicelib.services.sealing import ChainWriter

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
TENANT = "tsim"
_KEY_DIR = Path(tempfile.mkdtemp(prefix="scelle-sim-keys-"))


class SimulatedCrash(BaseException):
    """The simulated Lambda dies here: nothing after this point of the handler runs."""


@dataclass
class Config:
    tills: int = 4
    registers: int = 2
    operations: int = 40
    fault_rate: float = 0.25
    checkpoint_every: int = 7
    disabled_faults: frozenset[int] = frozenset()  # fault numbers switched off (shrinking)


@dataclass
class Violation:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


@dataclass
class Outcome:
    seed: int
    config: Config
    trace: list[str]
    violations: list[Violation]
    faults: int
    stats: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        lines = [f"simulation seed {self.seed} ({self.config.operations} operations, {self.faults} faults): "
                 + ("ok" if self.ok else "FAILED"),
                 *(f"  violated {v}" for v in self.violations),
                 f"  replay: make soak SEEDS={self.seed}  (or tests.simulation.sim.run({self.seed}))",
                 "  trace:", *(f"    {t}" for t in self.trace)]
        return "\n".join(lines)


# ---- the fault plan ----------------------------------------------------------------------------


class FaultPlan:
    """Decides, from its own seeded generator, what happens at each call of a wrapped port.
    Every decision that injects a fault gets a number, so that shrinking can switch it off."""

    def __init__(self, rng: random.Random, config: Config, trace: list[str]) -> None:
        self.rng = rng
        self.config = config
        self.trace = trace
        self.count = 0
        self.interleave = lambda: None  # set by the scheduler: run a rival step now
        self.script: list[tuple[str, str]] = []  # (where prefix, fault): scripted faults for unit tests

    def draw(self, where: str, kinds: tuple[str, ...]) -> str:
        if self.script and where.startswith(self.script[0][0]):
            kind = self.script.pop(0)[1]
            self.trace.append(f"scripted fault: {kind} at {where}")
            return kind
        if self.rng.random() >= self.config.fault_rate:
            return "ok"
        kind = self.rng.choice(kinds)
        self.count += 1
        if self.count in self.config.disabled_faults:
            return "ok"
        self.trace.append(f"fault #{self.count}: {kind} at {where}")
        return kind


class FaultyChainStore:
    """The storage port with DynamoDB's failure modes around ``commit`` (reads fail plainly)."""

    KINDS = ("fail_before", "apply_lose", "resend", "throttle", "crash_before", "crash_after", "race")

    def __init__(self, inner: InMemoryChainStore, plan: FaultPlan, name: str) -> None:
        self.inner = inner
        self.plan = plan
        self.name = name
        self.inserted: list[tuple[str, int, str]] = []  # (chain key, seq, hash), in commit order
        self.stream: list[Any] = []  # records as the journal's stream will deliver them

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def claims(self):
        return self.inner.claims

    def _apply(self, records, claims, ttl) -> None:
        self.inner.commit(records, claims, ttl=ttl)
        for r in records:
            self.inserted.append((r.chain_key, r.seq, r.hash))
            self.stream.append(r)

    def commit(self, records, claims=(), *, ttl=None) -> None:
        fault = self.plan.draw(f"{self.name}.commit {records[0].chain}@{records[0].seq}", self.KINDS)
        if fault == "race":
            self.plan.interleave()
        elif fault == "crash_before":
            raise SimulatedCrash(f"{self.name}.commit")
        elif fault in ("fail_before", "throttle"):
            raise Unavailable(f"{self.name}: {fault}")
        self._apply(records, claims, ttl)
        if fault == "apply_lose":
            raise Unavailable(f"{self.name}: the answer was lost")
        if fault == "crash_after":
            raise SimulatedCrash(f"{self.name}.commit applied")
        if fault == "resend":
            # botocore resent the applied request; moto (and this fake) evaluates it again.
            self._apply(records, claims, ttl)

    def append(self, record, *, ttl=None) -> None:
        self.commit([record], ttl=ttl)

    def append_batch(self, records, *, ttl=None) -> None:
        self.commit(records, ttl=ttl)


class FaultySigner:
    KINDS = ("fail", "crash")

    def __init__(self, inner, plan: FaultPlan) -> None:
        self.inner = inner
        self.plan = plan
        self.key_id = inner.key_id

    def sign(self, message: bytes) -> bytes:
        fault = self.plan.draw("kms.sign", self.KINDS)
        if fault == "fail":
            raise Unavailable("kms: throttled")
        if fault == "crash":
            raise SimulatedCrash("kms.sign")
        return self.inner.sign(message)

    def public_key_pem(self) -> str:
        return self.inner.public_key_pem()


class _OneTenant:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str) -> Tenant:
        return self.tenant


# ---- the world -----------------------------------------------------------------------------------


class World:
    def __init__(self, seed: int, config: Config) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.trace: list[str] = []
        self.plan = FaultPlan(random.Random(seed * 7919 + 1), config, self.trace)
        self.clock = MovingClock(START)
        self.tenant = Tenant(tenant_id=TENANT, company_name="Sim", country="BE", company_number="0403170701",
                             vat_number="BE0403170701", address=Address("Rue 1", "1000", "Bruxelles", country="BE"),
                             mode="production", created_at=START - timedelta(days=1))
        self.journal = FaultyChainStore(InMemoryChainStore(), self.plan, "journal")
        self.events_store = FaultyChainStore(InMemoryChainStore(), self.plan, "events")
        self.directory = InMemoryChainDirectory()
        checkpoint_store = InMemoryCheckpointStore()
        signer = FaultySigner(LocalSigner(_KEY_DIR, "sim"), self.plan)
        keys = KeyRegistry(checkpoint_store, signer.inner, clock=self.clock)
        keys.ensure_current()
        self.checkpoints = CheckpointService(self.journal, checkpoint_store, signer, keys, clock=self.clock)
        self.ledger = LedgerService(
            writer=ChainWriter(self.journal, clock=self.clock, sleep=lambda s: None),
            directory=self.directory, index=InMemoryLedgerIndex(self.journal.inner),
            checkpoints=self.checkpoints, tenants=_OneTenant(self.tenant), checkpoint_every=config.checkpoint_every,
            clock_skew=timedelta(minutes=5), clock=self.clock,
            after_seal=CheckpointCadence(self.checkpoints, config.checkpoint_every).after_entry)
        self.events = EventJournal(event_writer(self.events_store, clock=self.clock, sleep=lambda s: None))
        self.deriver = EventDeriver(self.journal, self.events_store, self.events.writer)
        self.delivered = 0  # how far the stream has been read
        self.acks: list[tuple[str, dict[str, Any]]] = []  # (operation id, answer)
        self.sent: dict[str, dict[str, Any]] = {}  # receipt id -> the sale content first sent
        self.gave_up: set[str] = set()
        self.stats: Counter = Counter()

    def caller(self, till: int) -> Caller:
        return Caller(Principal(f"u-till{till}", f"till{till}@sim.example"), TENANT, Role.ADMIN)


# ---- operations --------------------------------------------------------------------------------


def _sale_request(world: World, till: int, number: int, register: str) -> dict[str, Any]:
    cents = world.rng.randint(50, 5000)
    return {"kind": "sale", "client_receipt_id": f"T{till}-{number:04d}", "register_id": register,
            "occurred_at": world.clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "lines": [{"description": "Pain", "quantity": "1", "unit_price": f"{cents // 100}.{cents % 100:02d}",
                       "vat_rate": "6"}],
            "payments": [{"method": "cash", "amount": f"{cents // 100}.{cents % 100:02d}"}]}


class Till:
    """One till or back office: a queue of operations, each retried until it gets an answer."""

    def __init__(self, world: World, number: int) -> None:
        self.world = world
        self.number = number
        self.count = 0

    def next_operation(self):
        w, rng = self.world, self.world.rng
        self.count += 1
        roll = rng.random()
        if roll < 0.62:
            register = f"R{rng.randrange(w.config.registers) + 1}"
            request = _sale_request(w, self.number, self.count, register)
            return ("sale", request["client_receipt_id"], lambda key: w.ledger.record_sale(
                w.caller(self.number), request, key), request["client_receipt_id"])
        if roll < 0.72:
            amount = rng.randint(1, 900)
            entries = [{"journal_code": "OD", "piece_ref": f"P{self.number}-{self.count}-{i}",
                        "piece_date": w.clock().date().isoformat(), "label": "Op",
                        "lines": [{"account": "512000", "debit": f"{amount}.00"},
                                  {"account": "530000", "credit": f"{amount}.00"}]}
                       for i in range(rng.randint(1, 3))]
            key = f"J{self.number}-{self.count}"
            return ("journal", key, lambda k: w.ledger.record_journal(w.caller(self.number), entries, k), key)
        if roll < 0.82:
            sales = [a for _, a in w.acks if a.get("type") == "sale"]
            if not sales:
                return None
            target = rng.choice(sales)
            reason = rng.choice(["Erreur de saisie", "Client parti"])
            op_id = f"REV-{target['chain']}-{target['seq']}-{self.number}-{self.count}"
            return ("reversal", op_id, lambda k: w.ledger.reverse(w.caller(self.number), target["chain"],
                                                                   target["seq"], reason, k), None)
        if roll < 0.90:
            chains = [c for c in w.directory.chains(TENANT) if c != EVENTS_CHAIN]
            if not chains:
                return None
            chain = rng.choice(chains)
            day = business_day_of(w.clock(), w.tenant.time_zone, w.tenant.business_day_cutoff) - timedelta(days=1)
            op_id = f"CLOSE-{chain}-{day}-{self.number}-{self.count}"
            return ("close", op_id, lambda k: {"closure": w.ledger.close_period(
                w.caller(self.number), TENANT, chain, "day", day.isoformat()).seq}, None)
        if roll < 0.96:
            chains = [c for c in w.directory.chains(TENANT) if c != EVENTS_CHAIN]
            op_id = f"SCHED-{self.number}-{self.count}"
            return ("scheduled", op_id, lambda k: {"closed": sum(len(w.ledger.close_due_periods(TENANT, c))
                                                                 for c in chains)}, None)
        return ("derive", f"DERIVE-{self.number}-{self.count}", lambda k: {"derived": _deliver(w)}, None)


def _deliver(world: World) -> int:
    """Deliver part of the journal stream to the deriver, the way Lambda may: late, twice, out of
    order or not at all (a later batch, or the final drain, has to make up for it)."""
    rng = world.rng
    pending = world.journal.stream[world.delivered:]
    if not pending:
        return 0
    size = rng.randint(1, len(pending))
    batch = list(pending[:size])
    mode = rng.choice(["in_order", "in_order", "reversed", "twice", "drop_first"])
    if mode == "reversed":
        batch.reverse()
    elif mode == "twice":
        batch = batch + batch
    elif mode == "drop_first" and len(batch) > 1:
        batch = batch[1:]
    failed = world.deriver.derive(batch)
    if not failed:
        world.delivered += size
    return len(batch)


def _expire_events(world: World) -> None:
    """TTL: remove the oldest items of the events chain (the head pointer must keep the seq)."""
    key = chain_key(TENANT, EVENTS_CHAIN)
    items = list(world.events_store.inner.raw_items(key))
    if items:
        # Some of the oldest, or all of them: a quiet month empties the hot table.
        count = len(items) if len(items) == 1 or world.rng.random() < 0.4 else world.rng.randint(1, len(items) - 1)
        for item in items[:count]:
            world.events_store.inner.tamper_delete(key, item["seq"])
        world.trace.append(f"ttl: events expired through seq {item['seq']}")


# ---- the scheduler -------------------------------------------------------------------------------


RETRYABLE = (Unavailable, ChainBusy, SimulatedCrash)


class Scheduler:
    def __init__(self, world: World) -> None:
        self.world = world
        self.tills = [Till(world, n + 1) for n in range(world.config.tills)]
        self.queue: list[tuple[Till, tuple]] = []
        self.depth = 0
        world.plan.interleave = self.rival_step

    def rival_step(self) -> None:
        """A race: another till's operation runs to its end right now, in the middle of a call."""
        if self.depth >= 2 or not self.queue:
            return
        till, operation = self.queue.pop(self.world.rng.randrange(len(self.queue)))
        self.world.trace.append(f"race: {operation[1]} runs inside another call")
        self.depth += 1
        try:
            self.perform(till, operation)
        finally:
            self.depth -= 1

    def perform(self, till: Till, operation: tuple) -> None:
        w = self.world
        kind, op_id, call, receipt_key = operation
        key = receipt_key
        for attempt in range(12):
            w.clock.advance(w.rng.uniform(0.5, 40))
            if kind == "sale" and attempt and w.rng.random() < 0.3:
                key = f"{op_id}-retry{attempt}"  # a till that lost its key: a new one, same receipt
            try:
                answer = call(key)
            except RETRYABLE as exc:
                w.trace.append(f"{op_id}: attempt {attempt + 1} -> {type(exc).__name__}")
                w.stats[f"retry:{type(exc).__name__}"] += 1
                continue
            except Conflict as exc:
                w.trace.append(f"{op_id}: 409 {exc.detail[:80]}")
                w.stats["conflict"] += 1
                return
            except ScelleError as exc:
                w.trace.append(f"{op_id}: {exc.code} {exc.detail[:80]}")
                w.stats[exc.code] += 1
                return
            w.trace.append(f"{op_id}: ok {_brief(answer)}")
            w.stats[f"ok:{kind}"] += 1
            for entry in answer.get("entries", [answer]) if isinstance(answer, dict) else []:
                if "seq" in entry and "hash" in entry:
                    w.acks.append((op_id, entry))
            # A lost answer the till did not notice: it sends the same request again later.
            if kind == "sale" and w.rng.random() < 0.15:
                self.queue.append((till, (kind, op_id, call, receipt_key if w.rng.random() < 0.5 else None)))
            return
        w.gave_up.add(op_id)
        w.trace.append(f"{op_id}: gave up")

    def run(self) -> None:
        w = self.world
        for _ in range(w.config.operations):
            till = w.rng.choice(self.tills)
            operation = till.next_operation()
            if operation is not None:
                self.queue.append((till, operation))
            if not self.queue:
                continue
            chosen = self.queue.pop(w.rng.randrange(len(self.queue)))
            self.perform(*chosen)
            if w.rng.random() < 0.08:
                w.clock.advance(w.rng.uniform(3600, 20 * 3600))  # time passes: days end
            if w.rng.random() < 0.05:
                _expire_events(w)
        while self.queue:
            self.perform(*self.queue.pop(0))


def _brief(answer: Any) -> str:
    if isinstance(answer, dict) and "seq" in answer:
        return f"{answer['chain']}@{answer['seq']}"
    if isinstance(answer, dict) and "entries" in answer:
        return ",".join(f"{e['chain']}@{e['seq']}" for e in answer["entries"])
    return str(answer)[:60]


# ---- the invariants ------------------------------------------------------------------------------


def check(world: World) -> list[Violation]:
    found: list[Violation] = []
    journal = world.journal.inner
    chains = [c for c in world.directory.chains(TENANT) if c != EVENTS_CHAIN]
    all_records = {c: list(journal.scan(chain_key(TENANT, c))) for c in chains}

    # I1: a receipt id at most once per register.
    for chain, records in all_records.items():
        ids = Counter(r.data["client_receipt_id"] for r in records if r.type == "sale")
        for receipt, n in ids.items():
            if n > 1:
                found.append(Violation("I1", f"receipt {receipt} sealed {n} times in {chain}"))

    # I2: every answer is in its chain, as answered; every acknowledged operation sealed once.
    for op_id, answer in world.acks:
        stored = journal.get(chain_key(TENANT, answer["chain"]), answer["seq"])
        if stored is None or stored.hash != answer["hash"]:
            found.append(Violation("I2", f"{op_id} was answered {answer['chain']}@{answer['seq']} "
                                         f"{answer['hash'][:12]} but the chain holds {stored and stored.hash[:12]}"))
    reversals = Counter((r.data["original"]["chain"], r.data["original"]["seq"])
                        for rs in all_records.values() for r in rs if r.type == "reversal")
    for original, n in reversals.items():
        if n > 1:
            found.append(Violation("I2", f"entry {original} reversed {n} times"))
    journal_refs = Counter(r.data.get("piece_ref") for rs in all_records.values() for r in rs if r.type == "journal")
    for ref, n in journal_refs.items():
        if n > 1:  # each batch has its own piece refs: a ref twice is a batch sealed twice
            found.append(Violation("I2", f"journal piece {ref} sealed {n} times"))

    # I3: each period closed at most once; nothing sealed into a closed period.
    tz, cutoff = world.tenant.time_zone, world.tenant.business_day_cutoff
    for chain, records in all_records.items():
        closures = Counter((r.data["kind"], r.data["period"]) for r in records if r.type == "closure")
        for period, n in closures.items():
            if n > 1:
                found.append(Violation("I3", f"{chain}: {period} closed {n} times"))
        for closure in (r for r in records if r.type == "closure"):
            _, start = parse_period_key(closure.data["period"])
            _, end = period_bounds_utc(closure.data["kind"], start, tz, cutoff)
            for later in records[closure.seq:]:
                if later.type != "closure" and parse_timestamp(later.recorded_at) < end:
                    found.append(Violation("I3", f"{chain}@{later.seq} sealed into the closed "
                                                 f"{closure.data['kind']} {closure.data['period']}"))
                    break

    # I4: no seq reused, chains contiguous from 1, the events chain never restarted.
    for store in (world.journal, world.events_store):
        hashes = defaultdict(set)
        for key, seq, digest in store.inserted:
            hashes[(key, seq)].add(digest)
        for (key, seq), digests in hashes.items():
            if len(digests) > 1:
                found.append(Violation("I4", f"{key} seq {seq} was written {len(digests)} times with different "
                                             "content (a restart or a fork)"))
    for chain, records in all_records.items():
        if [r.seq for r in records] != list(range(1, len(records) + 1)):
            found.append(Violation("I4", f"{chain} is not contiguous from seq 1"))

    # I5: after the stream is drained, each sealed entry has exactly one event.
    world.deriver.catch_up(TENANT, chains)
    events_key = chain_key(TENANT, EVENTS_CHAIN)
    ever = {}
    for key, seq, _ in world.events_store.inserted:
        if key == events_key:
            ever[seq] = True
    present = {r.seq: r for r in world.events_store.inner.scan(events_key)}
    derived = Counter()
    for record in world.events_store.stream:
        if record.chain_key == events_key:
            details = record.data.get("details") or {}
            if "chain" in details and "seq" in details and record.data["kind"] != "signin_failed":
                derived[(details["chain"], details["seq"])] += 1
    for chain, records in all_records.items():
        for r in records:
            n = derived[(chain, r.seq)]
            if n != 1:
                found.append(Violation("I5", f"{chain}@{r.seq} ({r.type}) has {n} events"))
                break

    # I6: every chain verifies; the events chain from its first unexpired item.
    for chain, records in all_records.items():
        report = verify_chain(records, tenant_id=TENANT, chain=chain, extra_checks=[ClosureCheck()])
        if not report.ok:
            found.append(Violation("I6", f"{chain}: {report.reason} at seq {report.first_bad_seq}: {report.detail}"))
    if present:
        first = min(present)
        if ever and max(present) != max(ever):
            found.append(Violation("I4", f"the events chain head is {max(present)} but seq {max(ever)} was written"))
        expected_prev = None
        for seq in sorted(present):
            r = present[seq]
            if not r.intact or (expected_prev is not None and r.prev_hash != expected_prev):
                found.append(Violation("I6", f"events@{seq} does not verify (from {first})"))
                break
            expected_prev = r.hash
        if [s for s in sorted(present)] != list(range(first, max(present) + 1)):
            found.append(Violation("I6", "the events chain has a gap among its unexpired items"))
    return found


# ---- running, replaying, shrinking -----------------------------------------------------------------


def run(seed: int, config: Config | None = None) -> Outcome:
    import logging

    logging.getLogger("scelle").setLevel(logging.CRITICAL)  # injected faults are logged as errors
    config = config or Config()
    world = World(seed, config)
    try:
        Scheduler(world).run()
        world.plan.config = Config(**{**config.__dict__, "fault_rate": 0.0})  # the drain and checks: no faults
        violations = check(world)
    except Exception as exc:  # an unexpected error is a failure of the schedule too
        import traceback

        world.trace.append(traceback.format_exc())
        violations = [Violation("crash", f"{type(exc).__name__}: {exc}")]
    return Outcome(seed, config, world.trace, violations, world.plan.count, world.stats)


def shrink(outcome: Outcome, budget: int = 60) -> Outcome:
    """A shorter failing schedule for the same seed: fewer operations, then fewer faults."""
    best = outcome
    low, high = 1, outcome.config.operations
    while low < high and budget > 0:
        mid = (low + high) // 2
        trial = run(outcome.seed, Config(**{**best.config.__dict__, "operations": mid}))
        budget -= 1
        if not trial.ok:
            best, high = trial, mid
        else:
            low = mid + 1
    for fault in range(1, best.faults + 1):
        if budget <= 0:
            break
        disabled = best.config.disabled_faults | {fault}
        trial = run(best.seed, Config(**{**best.config.__dict__, "disabled_faults": frozenset(disabled)}))
        budget -= 1
        if not trial.ok:
            best = trial
    return best


def _seeds(text: str) -> range:
    if ":" in text:
        a, b = text.split(":", 1)
        return range(int(a), int(b))
    return range(int(text), int(text) + 1)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0:1000", help="a seed (42) or a range (0:5000)")
    parser.add_argument("--operations", type=int, default=Config.operations)
    parser.add_argument("--max-seconds", type=float, default=600, help="stop after this long (bounded soak)")
    args = parser.parse_args(argv)
    started, done, failed = time.monotonic(), 0, 0
    for seed in _seeds(args.seeds):
        if time.monotonic() - started > args.max_seconds:
            print(f"stopped after {args.max_seconds:.0f} s")
            break
        outcome = run(seed, Config(operations=args.operations))
        done += 1
        if not outcome.ok:
            failed += 1
            print(shrink(outcome).report())
    print(f"{done} schedules, {failed} failed, {time.monotonic() - started:.1f} s")
    return 1 if failed else 0
