"""``scelle export-sample OUT.zip``: a demo tenant's real production export, for auditors to practise.

On a fresh embedded stack (moto on loopback, nothing kept), a French demo company signs up, goes
live, and trades for a few days on two registers with a moving clock: a few hundred sales, some
returns, reversals of mistakes, journal entries, and the automatic daily and monthly closures.
Then the export goes through the same service, builder and bucket as ``POST .../exports``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.local.clock import MovingClock

SAMPLE_START = date(2026, 2, 25)  # crosses the end of February: a monthly closure too
DEMO_SIREN = "732829320"  # a made-up SIREN with a valid Luhn key (not a real company)

_CATALOGUE = [
    ("Baguette tradition", "1.30", "5.5"),
    ("Croissant au beurre", "1.40", "5.5"),
    ("Pain aux céréales 400 g", "3.90", "5.5"),
    ("Tarte aux pommes (part)", "3.20", "5.5"),
    ("Café expresso", "1.80", "10"),
    ("Sandwich jambon-beurre", "5.50", "10"),
    ("Jus d'orange pressé", "3.50", "10"),
    ("Limonade artisanale 33 cl", "2.90", "5.5"),
    ("Vin rouge AOP 75 cl", "12.90", "20"),
    ("Sac cabas réutilisable", "2.00", "20"),
]


def _vat_number(siren: str) -> str:
    from chalicelib.domain.identifiers import fr_vat_key

    return f"FR{fr_vat_key(siren)}{siren}"


_BELGIAN_RATE = {"5.5": "6", "10": "12", "20": "21"}


def _sale(rng: random.Random, clock: MovingClock, register: str, *, kind: str = "sale", country: str = "FR"
          ) -> dict[str, Any]:
    lines = []
    for name, price, french_rate in rng.sample(_CATALOGUE, rng.randint(1, 4)):
        rate = french_rate if country == "FR" else _BELGIAN_RATE[french_rate]
        quantity = rng.choice(["1", "1", "2", "3"])
        if kind == "return":
            quantity = f"-{quantity}"
        lines.append({"description": name, "quantity": quantity, "unit_price": price, "vat_rate": rate})
    return {
        "kind": kind,
        "client_receipt_id": f"{register}-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
        "register_id": register,
        "occurred_at": (clock.now - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": lines,
    }


def _pay(request: dict[str, Any], total_cents: int, rng: random.Random) -> dict[str, Any]:
    sign, magnitude = ("-" if total_cents < 0 else ""), abs(total_cents)
    euros = f"{sign}{magnitude // 100}.{magnitude % 100:02d}"
    if total_cents > 0 and rng.random() < 0.4:  # cash, rounded up to the next 5 euros: change given back
        tendered = (total_cents // 500 + 1) * 500
        request["payments"] = [{"method": "cash", "amount": f"{tendered // 100}.{tendered % 100:02d}"}]
    elif total_cents != 0:
        request["payments"] = [{"method": rng.choice(["card", "card", "cash"]), "amount": euros}]
    return request


def _lines_total(request: dict[str, Any]) -> int:
    from decimal import Decimal

    total = Decimal(0)
    for line in request["lines"]:
        total += (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(Decimal("0.01"))
    return int(total * 100)


def simulate(ledger, clock: MovingClock, caller, directory, *, days: int, sales_per_day: int, start: date,
             rng: random.Random, say=lambda *a: None, country: str = "FR", deriver=None,
             progress=None) -> None:
    """Trade for ``days`` business days on two registers, then let the scheduled job close them.
    ``deriver`` seals the entries' events, as the journal stream does where one runs.
    ``progress`` (a ``terminal.Progress``) advances by one per receipt and one per day closed."""
    tenant_id = caller.tenant_id
    registers = ("R1", "R2")
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=7))
        recorded: list[tuple[str, int]] = []
        for number in range(sales_per_day):
            clock.advance(rng.uniform(60, 540))
            register = registers[number % 2]
            sale_kind = "return" if number % 29 == 17 else "sale"
            request = _sale(rng, clock, register, kind=sale_kind, country=country)
            _pay(request, _lines_total(request), rng)
            accepted = ledger.record_sale(caller, request, None)
            if deriver is not None:
                deriver.catch_up(tenant_id, [accepted["chain"]])
            if sale_kind == "sale":
                recorded.append((accepted["chain"], accepted["seq"]))
            if progress is not None:
                progress.advance(1, f"{day}: receipt {number + 1}/{sales_per_day}")
        for chain, seq in rng.sample(recorded, min(2, len(recorded))):
            clock.advance(30)
            ledger.reverse(caller, chain, seq, "Erreur de saisie : article compté deux fois", None)
            if deriver is not None:
                deriver.catch_up(tenant_id, [chain])
        clock.advance(600)
        cash = rng.randint(150, 450)
        ledger.record_journal(caller, [
            {"journal_code": "BQ", "journal_label": "Banque", "piece_ref": f"REM-{day:%Y%m%d}",
             "piece_date": day.isoformat(), "label": "Remise d'espèces en banque",
             "lines": [{"account": "512000", "account_label": "Banque", "debit": f"{cash}.00"},
                       {"account": "530000", "account_label": "Caisse", "credit": f"{cash}.00"}]},
            {"journal_code": "AC", "journal_label": "Achats", "piece_ref": f"FA-MOULIN-{day:%m%d}",
             "piece_date": day.isoformat(), "label": "Farine - Moulin de la Vallée",
             "lines": [{"account": "601000", "account_label": "Achats de matières premières", "debit": "250.00"},
                       {"account": "445660", "account_label": "TVA déductible", "debit": "13.75"},
                       {"account": "401000", "account_label": "Fournisseurs", "aux_account": "MOULIN",
                        "aux_label": "Moulin de la Vallée", "credit": "263.75"}]},
        ], None)
        # The next morning, after the 04:00 cut-off, the scheduled job closes the day (and the month).
        clock.set(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=5))
        for chain in directory.chains(tenant_id):
            if chain != "events":
                ledger.close_due_periods(tenant_id, chain)
        if deriver is not None:
            deriver.catch_up(tenant_id, directory.chains(tenant_id))
        if progress is not None:
            progress.advance(1, f"{day}: closed")
        say(f"export-sample: {day} recorded and closed")


class MemoryStack:
    """The real ledger, checkpoint and export services on in-memory adapters, with a moving clock
    and a local signing key: real exports in a second, for unit tests and benchmarks."""

    def __init__(self, key_dir: Path, *, country: str = "FR", mode: str = "production",
                 start: date = SAMPLE_START, checkpoint_every: int = 100) -> None:
        from chalicelib.adapters.chain_directory import InMemoryChainDirectory
        from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
        from chalicelib.adapters.exports import InMemoryExportJobs, InMemoryExportObjects
        from chalicelib.adapters.ledger_index import InMemoryLedgerIndex
        from chalicelib.adapters.memory_chain_store import InMemoryChainStore
        from chalicelib.adapters.signing import LocalSigner
        from chalicelib.domain.identity import Caller, Principal
        from chalicelib.domain.permissions import Role
        from chalicelib.domain.tenant import Address, Tenant
        from chalicelib.services.checkpoints import CheckpointService, KeyRegistry
        from chalicelib.services.events import EventDeriver, EventJournal, event_writer
        from chalicelib.services.exports import ExportService, InlineDispatcher, StoreSource
        from chalicelib.services.ledger import LedgerService
        from chalicelib.services.sealing import ChainWriter

        if country == "FR":
            number, vat, city = DEMO_SIREN, _vat_number(DEMO_SIREN), ("12 rue de l'Exemple", "75011", "Paris")
        else:
            number, vat, city = "0403170701", "BE0403170701", ("Rue de la Loi 16", "1000", "Bruxelles")
        self.tenant = Tenant(tenant_id=f"t{uuid.uuid4().hex[:12]}", company_name="Boulangerie Démo", country=country,
                             company_number=number, vat_number=vat, address=Address(*city, country=country),
                             mode=mode,
                             created_at=datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC))
        self.clock = MovingClock(self.tenant.created_at)
        self.journal, self.events_store = InMemoryChainStore(), InMemoryChainStore()
        self.directory, self.index = InMemoryChainDirectory(), InMemoryLedgerIndex(self.journal)
        self.checkpoint_store = InMemoryCheckpointStore()
        self.signer = LocalSigner(key_dir, f"sample-{self.tenant.tenant_id}")
        self.keys = KeyRegistry(self.checkpoint_store, self.signer, clock=self.clock)
        self.keys.ensure_current()
        self.checkpoints = CheckpointService(self.journal, self.checkpoint_store, self.signer, self.keys,
                                             clock=self.clock)
        self.events_checkpoints = CheckpointService(self.events_store, self.checkpoint_store, self.signer, self.keys,
                                                    clock=self.clock)
        self.events = EventJournal(event_writer(self.events_store, clock=self.clock))
        self.deriver = EventDeriver(self.journal, self.events_store, self.events.writer)
        tenants = _OneTenant(self.tenant)
        self.ledger = LedgerService(
            writer=ChainWriter(self.journal, clock=self.clock), directory=self.directory, index=self.index,
            checkpoints=self.checkpoints, tenants=tenants, checkpoint_every=checkpoint_every,
            clock_skew=timedelta(minutes=5), clock=self.clock)
        self.caller = Caller(Principal("u-gerant", "gerant@boulangerie-demo.example"), self.tenant.tenant_id,
                             Role.ADMIN)
        self.exports = ExportService(
            jobs=InMemoryExportJobs(), objects=InMemoryExportObjects(), tenants=tenants, directory=self.directory,
            source_for=lambda tenant_id: StoreSource(
                tenant_id, journal_store=self.journal, events_store=self.events_store, checkpoints=self.checkpoints,
                events_checkpoints=self.events_checkpoints, key_registry=self.keys),
            signer=lambda: self.signer, events=self.events, dispatcher=InlineDispatcher(), clock=self.clock)

    def trade(self, *, days: int = 2, sales_per_day: int = 20, seed: int = 7, start: date = SAMPLE_START) -> None:
        simulate(self.ledger, self.clock, self.caller, self.directory, days=days, sales_per_day=sales_per_day,
                 start=start, rng=random.Random(seed), country=self.tenant.country, deriver=self.deriver)

    def export(self, kind: str = "fiscal", first_day: date = SAMPLE_START, last_day: date | None = None,
               chains: list[str] | None = None) -> tuple[dict[str, Any], bytes]:
        """Request an export (built inline) and return ``(job, archive bytes)``."""
        from chalicelib.services.exports import ExportRequest

        self.clock.advance(3600)
        last = last_day or first_day + timedelta(days=1)
        job = self.exports.request(self.caller, ExportRequest(kind, first_day, last, chains))
        stored = self.exports._jobs.get(self.tenant.tenant_id, job["job_id"])
        if stored["status"] != "done":
            return stored, b""
        return stored, self.exports._objects.read(stored["object_key"])


class _OneTenant:
    def __init__(self, tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str):
        return self.tenant


def build_sample(out: Path, *, kind: str = "fiscal", days: int = 6, sales_per_day: int = 60, seed: int = 7,
                 start: date = SAMPLE_START, quiet: bool = False, progress=None,
                 keys_out: Path | None = None) -> dict[str, Any]:
    """Run the demo on a fresh embedded stack and write its export to ``out``; return the job.
    ``progress``: a ``terminal.Progress`` of ``sample_steps(days, sales_per_day)`` steps; without
    it, the steps are said on stderr unless ``quiet``."""
    from chalicelib import bootstrap
    from chalicelib.config import load_settings
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from chalicelib.local.moto_server import EmbeddedMoto
    from chalicelib.local.provision import provision
    from chalicelib.services.accounts import SignUp
    from chalicelib.services.exports import ExportRequest, InlineDispatcher

    say = (lambda *a: None) if quiet or progress is not None else (lambda *a: print(*a, file=sys.stderr))

    def step(note: str) -> None:
        if progress is not None:
            progress.advance(1, note)

    rng = random.Random(seed)
    previous = bootstrap._container
    with tempfile.TemporaryDirectory(prefix="scelle-sample-") as tmp:
        if progress is not None:
            progress.update(0, "starting the embedded AWS emulator")
        moto = EmbeddedMoto().start()
        try:
            settings = load_settings({
                "SCELLE_MODE": "local",
                "SCELLE_AWS_ENDPOINT_URL": moto.endpoint,
                "SCELLE_RESOURCE_PREFIX": f"sample{uuid.uuid4().hex[:8]}",
                "SCELLE_LOCAL_KEY_DIR": str(Path(tmp) / "keys"),
                "SCELLE_SIGNING_KEY_ID": "local:signing",
                "SCELLE_DATA_KEY_ID": "local:data",
                "SCELLE_DATA_DIR": str(Path(tmp) / "data"),
                "SCELLE_CHECKPOINT_EVERY": "50",
            })
            provisioned = provision(bootstrap.Container(settings).client, settings)
            settings = settings.model_copy(update={"user_pool_id": provisioned.user_pool_id,
                                                   "user_pool_client_id": provisioned.user_pool_client_id})
            clock = MovingClock(datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
                           .replace(hour=9))
            c = bootstrap.configure(settings, clock=clock)
            say(f"export-sample: embedded stack at {moto.endpoint}; signing up the demo company")
            step("signing up the demo company")
            signup = c.accounts.signup(SignUp(
                email="gerant@boulangerie-demo.example", password="Demo-Password-42",  # noqa: S106 - a throwaway demo account
                company_name="Boulangerie Démo SARL", country="FR", company_number=DEMO_SIREN,
                vat_number=_vat_number(DEMO_SIREN), address_line1="12 rue de l'Exemple", address_postal_code="75011",
                address_city="Paris"))
            c.accounts.verify_email(signup.verification_token)
            caller = Caller(Principal(signup.user.user_id, "gerant@boulangerie-demo.example"),
                            signup.tenant.tenant_id, Role.ADMIN)
            tenant = c.tenants.go_live(caller)
            tenant_id = tenant.tenant_id
            simulate(c.ledger, clock, caller, c.chain_directory, days=days, sales_per_day=sales_per_day, start=start,
                     rng=rng, say=say, deriver=c.event_deriver, progress=progress)
            if progress is not None:
                progress.update(progress.done, "building the export archive")
            exports = c.exports
            exports.dispatcher = InlineDispatcher()
            clock.advance(3600)
            last_day = start + timedelta(days=days - 1)
            job = exports.request(caller, ExportRequest(kind, start, last_day))
            job = exports._jobs.get(tenant_id, job["job_id"])
            if job is None or job["status"] != "done":
                raise RuntimeError(f"the export did not complete: {job and job.get('error')}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(exports._objects.read(job["object_key"]))
            if keys_out is not None:  # the demo platform's GET /v1/keys: the sample's trust anchor
                keys_out.parent.mkdir(parents=True, exist_ok=True)
                keys_out.write_text(json.dumps({"keys": [
                    {"key_id": k.key_id, "not_before": k.not_before, "not_after": k.not_after,
                     "public_key_pem": k.public_key_pem} for k in c.key_registry.published()]}, indent=1) + "\n")
            step("written")
            say(f"export-sample: wrote {out} ({job['bytes']} bytes, sha256 {job['sha256']}, "
                f"{job['progress']['entries_done']} sealed records)")
            return job
        finally:
            moto.stop()
            bootstrap._container = previous


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-sample",
        help="build a demo tenant's real production export (to practise with scelle verify)",
        description="Runs a demo French bakery for a few days on a fresh embedded stack (no AWS account) and writes "
                    "its export archive, built by the same code as POST /v1/tenants/{id}/exports.",
    )
    parser.add_argument("out", type=Path, help="where to write the archive (.zip)")
    parser.add_argument("--format", choices=("fiscal", "fec"), default="fiscal")
    parser.add_argument("--days", type=int, default=6, help="business days to simulate (default 6)")
    parser.add_argument("--sales-per-day", type=int, default=60, help="receipts per day (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same ledger content)")
    parser.add_argument("--keys", type=Path, metavar="FILE",
                        help="also write the demo platform's published keys (as GET /v1/keys answers) to FILE: the "
                             "sample's trust anchor, for scelle verify --trusted-key FILE")
    parser.set_defaults(func=_run)


def sample_steps(days: int, sales_per_day: int) -> int:
    """The steps of ``build_sample``: the sign-up, each receipt, each day's closing, the export."""
    return 1 + days * (sales_per_day + 1) + 1


def _run(args: argparse.Namespace) -> int:
    from chalicelib.local.terminal import Progress, command_terminal

    if args.days < 1 or args.sales_per_day < 1:
        print("scelle export-sample: --days and --sales-per-day must be at least 1", file=sys.stderr)
        return 2
    # stdout holds the answer only: log records (mail tokens...) and no metric blobs on it; a
    # progress bar on stderr when it is a terminal, nothing otherwise.
    progress = Progress("export-sample", sample_steps(args.days, args.sales_per_day))
    with command_terminal():
        try:
            job = build_sample(args.out, kind=args.format, days=args.days, sales_per_day=args.sales_per_day,
                               seed=args.seed, progress=progress, keys_out=args.keys)
        finally:
            progress.close()
    print(f"export-sample: wrote {args.out} ({job['progress']['entries_done']} sealed records, {job['bytes']} bytes);"
          f" check it with: scelle verify {args.out}")
    return 0
