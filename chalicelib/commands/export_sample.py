"""``scelle export-sample OUT.zip``: a demo tenant's real production export, for auditors to practise.

On a fresh embedded stack (moto on loopback, nothing kept), a French (or Belgian) demo company
signs up, goes live, and trades for a few days on two registers with a moving clock: a few
hundred receipts — with discounts, prices excluding VAT for business customers, line rounding,
several payments with change given back, vouchers, weighed goods, returns — reversals of a sale,
of a return and of a journal entry, journal entries with sub-ledger (auxiliary) accounts, and
the automatic daily, monthly and yearly closures. The default period crosses the end of March
2026: the business day of 28 March lasts 23 hours (the clocks go forward that night) and March
is closed. Then the export goes through the same service, builder and bucket as
``POST .../exports``.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from chalicelib.domain.money import format_cents
from chalicelib.local.clock import MovingClock

SAMPLE_START = date(2026, 2, 25)  # MemoryStack's default (unit tests): crosses the end of February
DEFAULT_START = date(2026, 3, 26)  # export-sample's: 6 days cross 28 March (23 hours) and the end of March
DEMO_SIREN = "732829320"  # a made-up SIREN with a valid Luhn key (not a real company)
DEMO_BE_NUMBER = "0999999922"  # a made-up enterprise number with valid check digits (97 - 09999999 mod 97)
COUNTRIES = ("FR", "BE")
_DEMO = {
    "FR": {"email": "gerant@boulangerie-demo.example", "company_name": "Boulangerie Démo SARL",
           "company_number": DEMO_SIREN, "address": ("12 rue de l'Exemple", "75011", "Paris")},
    "BE": {"email": "gerant@bakkerij-demo.example", "company_name": "Boulangerie Démo SRL",
           "company_number": DEMO_BE_NUMBER, "address": ("Rue de l'Exemple 12", "1000", "Bruxelles")},
}

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


def demo_vat_number(country: str) -> str:
    """The demo company's VAT number (both pass the sign-up's checks)."""
    return _vat_number(DEMO_SIREN) if country == "FR" else f"BE{DEMO_BE_NUMBER}"


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


def receipt_total(request: dict[str, Any]) -> int:
    """The total incl. VAT, in cents, of a receipt request (``POST .../sales`` body without its
    payments), as the till computes it before asking for payment: the domain's own money rules
    (line amounts less discounts, the VAT breakdown under the receipt's price basis and rounding)."""
    from chalicelib.domain import money

    parts = []
    for line in request["lines"]:
        gross = money.line_total_cents(money.parse_quantity(line["quantity"], "quantity", allow_negative=True),
                                       money.parse_amount(line["unit_price"], "unit_price"))
        discount = money.parse_amount(line.get("discount") or "0", "discount")
        amount = gross - discount if gross >= 0 else gross + discount
        parts.append((money.parse_rate_percent(line["vat_rate"], "vat_rate"), amount))
    breakdown = money.vat_breakdown(parts, request.get("prices_include_vat", True),
                                    request.get("rounding_policy", "document"))
    return sum(part.incl for part in breakdown.values())


def _lines_total(request: dict[str, Any]) -> int:
    from decimal import Decimal

    total = Decimal(0)
    for line in request["lines"]:
        total += (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(Decimal("0.01"))
    return int(total * 100)


#: The receipt shapes, in turn across the whole run (so a small run has them all): what a bakery's
#: till sends, and every option of a receipt.
RECEIPT_SHAPES = ("plain", "discount", "split_payment", "plain", "excl_vat", "line_rounding", "return", "voucher")


def _receipt(rng: random.Random, clock: MovingClock, register: str, index: int, country: str) -> dict[str, Any]:
    """Receipt number ``index`` of the run, of shape ``RECEIPT_SHAPES[index % 8]``, paid."""
    shape = RECEIPT_SHAPES[index % len(RECEIPT_SHAPES)]
    request = _sale(rng, clock, register, kind="return" if shape == "return" else "sale", country=country)
    lines = request["lines"]
    if shape == "discount":  # 10 % off the first line (at least 0.10)
        gross = int((Decimal(lines[0]["quantity"]) * Decimal(lines[0]["unit_price"]) * 100).to_integral_value())
        lines[0]["discount"] = format_cents(max(10, gross // 10))
    elif shape == "excl_vat":  # a business customer's order, on prices excluding VAT
        request["prices_include_vat"] = False
        for line in lines:
            rate = Decimal(line["vat_rate"])
            excl = Decimal(line["unit_price"]) * 100 / (100 + rate)
            line["unit_price"] = str(excl.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            line["quantity"] = rng.choice(["6", "10", "12", "24"])
    elif shape == "line_rounding":
        request["rounding_policy"] = "line"
    elif shape == "voucher":  # weighed bread, paid with a voucher and a card
        rate = "5.5" if country == "FR" else "6"
        lines.append({"description": "Pain de campagne au poids", "quantity": rng.choice(["0.750", "1.250", "1.5"]),
                      "unit_price": "6.60", "vat_rate": rate})
    total = receipt_total(request)
    if shape == "split_payment" and total >= 2:  # the card pays the round part, cash the rest, change back
        cash_due = (total % 1000 or 500) if total > 1000 else total // 2
        tendered = (cash_due // 500 + 1) * 500
        request["payments"] = [{"method": "card", "amount": format_cents(total - cash_due)},
                               {"method": "cash", "amount": format_cents(tendered)}]
    elif shape == "excl_vat":
        request["payments"] = [{"method": "transfer", "amount": format_cents(total),
                                "reference": f"VIR-{request['client_receipt_id'][-8:].upper()}"}]
    elif shape == "voucher":
        voucher = min(500, total)
        request["payments"] = [{"method": "voucher", "amount": format_cents(voucher), "reference": f"BON-{index:05d}"}]
        if total > voucher:
            request["payments"].append({"method": "card", "amount": format_cents(total - voucher)})
    elif shape == "return":  # refunded exactly, in cash or to the card
        request["payments"] = [{"method": rng.choice(["cash", "card"]), "amount": format_cents(total)}]
    else:
        _pay(request, total, rng)
    return request


def _journal_entries(day: date, rng: random.Random, country: str) -> list[dict[str, Any]]:
    """The day's bookkeeping: a cash deposit, a supplier invoice and a customer invoice, both with
    sub-ledger (auxiliary) accounts. French PCG or Belgian PCMN accounts."""
    cash, net = rng.randint(150, 450), rng.randint(80, 400)
    if country == "FR":
        bank, till, purchases, deductible, suppliers = "512000", "530000", "601000", "445660", "401000"
        customers, services, collected, codes, rate = "411000", "706000", "445710", ("BQ", "AC", "VT"), 20
        supplier, supplier_name = "MOULIN", "Moulin de la Vallée"
    else:
        bank, till, purchases, deductible, suppliers = "550000", "570000", "604000", "411000", "440000"
        customers, services, collected, codes, rate = "400000", "700000", "451000", ("BQ", "ACH", "VEN"), 21
        supplier, supplier_name = "F-SENNE", "Meunerie de la Senne"
    customer, customer_name = rng.choice([("C-DUPONT", "Traiteur Dupont"), ("C-MAIRIE", "Mairie - service des fêtes"),
                                          ("C-ECOLE", "École Saint-Exupéry")])
    flour_rate = "5.5" if country == "FR" else "6"
    flour_vat = format_cents(int(Decimal(flour_rate) * 250))
    flour_total = format_cents(25000 + int(Decimal(flour_rate) * 250))
    vat = net * rate  # cents: net euros x rate %
    return [
        {"journal_code": codes[0], "journal_label": "Banque", "piece_ref": f"REM-{day:%Y%m%d}",
         "piece_date": day.isoformat(), "label": "Remise d'espèces en banque",
         "lines": [{"account": bank, "account_label": "Banque", "debit": f"{cash}.00"},
                   {"account": till, "account_label": "Caisse", "credit": f"{cash}.00"}]},
        {"journal_code": codes[1], "journal_label": "Achats", "piece_ref": f"FA-{supplier}-{day:%m%d}",
         "piece_date": day.isoformat(), "label": f"Farine - {supplier_name}",
         "lines": [{"account": purchases, "account_label": "Achats de matières premières", "debit": "250.00",
                    "vat_rate": flour_rate},
                   {"account": deductible, "account_label": "TVA déductible", "debit": flour_vat},
                   {"account": suppliers, "account_label": "Fournisseurs", "aux_account": supplier,
                    "aux_label": supplier_name, "credit": flour_total}]},
        {"journal_code": codes[2], "journal_label": "Ventes", "piece_ref": f"F-{day:%Y%m%d}-{customer[2:]}",
         "piece_date": day.isoformat(), "label": f"Facture {customer_name} - buffet",
         "lines": [{"account": customers, "account_label": "Clients", "aux_account": customer,
                    "aux_label": customer_name, "debit": format_cents(net * 100 + vat)},
                   {"account": services, "account_label": "Prestations de services", "credit": f"{net}.00",
                    "vat_rate": str(rate)},
                   {"account": collected, "account_label": "TVA collectée", "credit": format_cents(vat)}]},
    ]


def _close_due(ledger, directory, tenant_id: str) -> None:
    """What the hourly schedule does: close every period that has ended, on every ledger chain."""
    for chain in directory.chains(tenant_id):
        if chain != "events":
            ledger.close_due_periods(tenant_id, chain)


def simulate(ledger, clock: MovingClock, caller, directory, *, days: int, sales_per_day: int, start: date,
             rng: random.Random, say=lambda *a: None, country: str = "FR", deriver=None,
             progress=None, close_year: bool = False) -> None:
    """Trade for ``days`` business days on two registers, then let the scheduled job close them.

    Receipts take the ``RECEIPT_SHAPES`` in turn; each day two sales are reversed, and every third
    day (the first included) a return and the customer invoice of the day's journal entries too.
    The schedule closes each day the next morning, and a month or a year once it has ended;
    ``close_year``: after the last day, the clock moves to the next 1 January and the schedule
    closes what is left, the year included.
    ``deriver`` seals the entries' events, as the journal stream does where one runs.
    ``progress`` (a ``terminal.Progress``) advances by one per receipt, one per day closed and
    one for the year closure."""
    tenant_id = caller.tenant_id
    registers = ("R1", "R2")
    index = 0

    def derive(chains) -> None:
        if deriver is not None:
            deriver.catch_up(tenant_id, chains)

    for day_index in range(days):
        day = start + timedelta(days=day_index)
        clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=7))
        sales: list[tuple[str, int]] = []
        returns: list[tuple[str, int]] = []
        for number in range(sales_per_day):
            clock.advance(rng.uniform(60, 540))
            request = _receipt(rng, clock, registers[number % 2], index, country)
            index += 1
            accepted = ledger.record_sale(caller, request, None)
            derive([accepted["chain"]])
            (returns if request["kind"] == "return" else sales).append((accepted["chain"], accepted["seq"]))
            if progress is not None:
                progress.advance(1, f"{day}: receipt {number + 1}/{sales_per_day}")
        for chain, seq in rng.sample(sales, min(2, len(sales))):
            clock.advance(30)
            ledger.reverse(caller, chain, seq, "Erreur de saisie : article compté deux fois", None)
            derive([chain])
        if day_index % 3 == 0 and returns:
            clock.advance(30)
            ledger.reverse(caller, *returns[0], "Retour enregistré sur le mauvais ticket", None)
            derive([returns[0][0]])
        clock.advance(600)
        recorded = ledger.record_journal(caller, _journal_entries(day, rng, country), None)["entries"]
        if day_index % 3 == 0:
            clock.advance(120)
            invoice = recorded[-1]
            ledger.reverse(caller, invoice["chain"], invoice["seq"], "Facture client saisie en double", None)
        derive([recorded[-1]["chain"]])
        # The next morning, after the 04:00 cut-off, the scheduled job closes the day (and the month).
        clock.set(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=5))
        _close_due(ledger, directory, tenant_id)
        derive(directory.chains(tenant_id))
        if progress is not None:
            progress.advance(1, f"{day}: closed")
        say(f"export-sample: {day} recorded and closed")
    if close_year:
        year = (start + timedelta(days=days - 1)).year
        clock.set(datetime(year + 1, 1, 1, 5, tzinfo=UTC))
        _close_due(ledger, directory, tenant_id)
        derive(directory.chains(tenant_id))
        if progress is not None:
            progress.advance(1, f"{year}: closed")
        say(f"export-sample: the year {year} closed")


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
        from chalicelib.services.checkpoints import CheckpointCadence, CheckpointService, KeyRegistry
        from chalicelib.services.events import EventDeriver, EventJournal, event_writer
        from chalicelib.services.exports import ExportService, InlineDispatcher, StoreSource
        from chalicelib.services.ledger import LedgerService
        from chalicelib.services.sealing import ChainWriter

        if country == "FR":
            number, vat, city = DEMO_SIREN, _vat_number(DEMO_SIREN), ("12 rue de l'Exemple", "75011", "Paris")
        else:
            number, vat, city = DEMO_BE_NUMBER, demo_vat_number("BE"), _DEMO["BE"]["address"]
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
        self.witness, self.witness_submitter = _memory_witness(key_dir, self.tenant.tenant_id, self.signer,
                                                               self.checkpoint_store, self.clock)
        self.events = EventJournal(event_writer(self.events_store, clock=self.clock))
        self.deriver = EventDeriver(self.journal, self.events_store, self.events.writer)
        tenants = _OneTenant(self.tenant)
        self.ledger = LedgerService(
            writer=ChainWriter(self.journal, clock=self.clock), directory=self.directory, index=self.index,
            checkpoints=self.checkpoints, tenants=tenants, checkpoint_every=checkpoint_every,
            clock_skew=timedelta(minutes=5), clock=self.clock,
            # no stream here: the checkpoint every N entries is signed as each entry is sealed
            after_seal=CheckpointCadence(self.checkpoints, checkpoint_every).after_entry)
        self.caller = Caller(Principal("u-gerant", "gerant@boulangerie-demo.example"), self.tenant.tenant_id,
                             Role.ADMIN)
        self.exports = ExportService(
            jobs=InMemoryExportJobs(), objects=InMemoryExportObjects(), tenants=tenants, directory=self.directory,
            source_for=lambda tenant_id: StoreSource(
                tenant_id, journal_store=self.journal, events_store=self.events_store, checkpoints=self.checkpoints,
                events_checkpoints=self.events_checkpoints, key_registry=self.keys, witness=self.witness_submitter,
                witness_key=lambda: (self.witness.key_id, self.witness.public_key_pem())),
            signer=lambda: self.signer, events=self.events, dispatcher=InlineDispatcher(), clock=self.clock)

    def trade(self, *, days: int = 2, sales_per_day: int = 20, seed: int = 7, start: date = SAMPLE_START,
              close_year: bool = False) -> None:
        simulate(self.ledger, self.clock, self.caller, self.directory, days=days, sales_per_day=sales_per_day,
                 start=start, rng=random.Random(seed), country=self.tenant.country, deriver=self.deriver,
                 close_year=close_year)

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


def _memory_witness(key_dir: Path, tenant_id: str, log_signer, checkpoint_store, clock):
    """An in-process witness (decision 0024) with its own key file, its view in memory and the
    log's key pinned, and the submitter keeping its cosignatures in an in-memory ops table."""
    from chalicelib.adapters.archive_s3 import InMemoryObjectStore
    from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.adapters.witness_view import ObjectWitnessView
    from chalicelib.domain.checkpoint import PublicKeyInfo
    from chalicelib.services.witness import Witness, WitnessSubmitter

    pinned = [PublicKeyInfo(log_signer.key_id, "2000-01-01T00:00:00.000000Z", None, log_signer.public_key_pem())]
    witness = Witness(LocalSigner(key_dir, f"witness-{tenant_id}"),
                      ObjectWitnessView(InMemoryObjectStore(), clock=clock), lambda: pinned, clock=clock)
    return witness, WitnessSubmitter(witness, checkpoint_store=checkpoint_store, ops=InMemoryOpsStore())


class _OneTenant:
    def __init__(self, tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str):
        return self.tenant


def export_period(start: date, days: int, close_year: bool) -> tuple[date, date]:
    """The business days the sample's export covers: the days traded, or with ``close_year`` the
    whole calendar year of the last one (so that the year's closure is in the export's period)."""
    last = start + timedelta(days=days - 1)
    return (date(last.year, 1, 1), date(last.year, 12, 31)) if close_year else (start, last)


def build_sample(out: Path, *, kind: str = "fiscal", days: int = 6, sales_per_day: int = 60, seed: int = 7,
                 start: date = DEFAULT_START, country: str = "FR", close_year: bool = False, quiet: bool = False,
                 progress=None, keys_out: Path | None = None) -> dict[str, Any]:
    """Run the demo on a fresh embedded stack and write its export to ``out``; return the job.
    ``progress``: a ``terminal.Progress`` of ``sample_steps(days, sales_per_day, close_year)`` steps;
    without it, the steps are said on stderr unless ``quiet``."""
    if country not in COUNTRIES:
        raise ValueError(f"country must be one of {COUNTRIES}, not {country!r}")
    if kind == "fec" and country != "FR":
        raise ValueError("the FEC is French: a Belgian sample exports in the fiscal format")
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
            demo = _DEMO[country]
            line1, postal_code, city = demo["address"]
            signup = c.accounts.signup(SignUp(
                email=demo["email"], password="Demo-Password-42",  # noqa: S106 - a throwaway demo account
                company_name=demo["company_name"], country=country, company_number=demo["company_number"],
                vat_number=demo_vat_number(country), address_line1=line1, address_postal_code=postal_code,
                address_city=city))
            c.accounts.verify_email(signup.verification_token)
            caller = Caller(Principal(signup.user.user_id, demo["email"]), signup.tenant.tenant_id, Role.ADMIN)
            tenant = c.tenants.go_live(caller)
            tenant_id = tenant.tenant_id
            simulate(c.ledger, clock, caller, c.chain_directory, days=days, sales_per_day=sales_per_day, start=start,
                     rng=rng, say=say, country=country, deriver=c.event_deriver, progress=progress,
                     close_year=close_year)
            if progress is not None:
                progress.update(progress.done, "building the export archive")
            exports = c.exports
            exports.dispatcher = InlineDispatcher()
            clock.advance(3600)
            job = exports.request(caller, ExportRequest(kind, *export_period(start, days, close_year)))
            job = exports._jobs.get(tenant_id, job["job_id"])
            if job is None or job["status"] != "done":
                raise RuntimeError(f"the export did not complete: {job and job.get('error')}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(exports._objects.read(job["object_key"]))
            if keys_out is not None:  # the demo platform's GET /v1/keys: the sample's trust anchor
                keys_out.parent.mkdir(parents=True, exist_ok=True)
                from chalicelib.services.witness import published_keys_with_roles

                keys_out.write_text(json.dumps({"keys": [
                    {"key_id": k.key_id, "not_before": k.not_before, "not_after": k.not_after,
                     "public_key_pem": k.public_key_pem, "role": role}
                    for k, role in published_keys_with_roles(c.key_registry, c.ops_store)]}, indent=1) + "\n")
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
        description="Runs a demo bakery (French by default) for a few days on a fresh embedded stack (no AWS account) "
                    "and writes its export archive, built by the same code as POST /v1/tenants/{id}/exports.",
    )
    parser.add_argument("out", type=Path, help="where to write the archive (.zip)")
    parser.add_argument("--format", choices=("fiscal", "fec"), default="fiscal",
                        help="fiscal (default) or fec (French tenants only)")
    parser.add_argument("--country", choices=COUNTRIES, default="FR",
                        help="the demo company's country: FR (default, Europe/Paris) or BE (Europe/Brussels)")
    parser.add_argument("--days", type=int, default=6, help="business days to simulate (default 6)")
    parser.add_argument("--sales-per-day", type=int, default=60, help="receipts per day (default 60)")
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, metavar="YYYY-MM-DD",
                        help=f"first business day (default {DEFAULT_START}: the default 6 days cross the 23-hour "
                             "business day of 28 March and the end of March)")
    parser.add_argument("--close-year", action="store_true",
                        help="after the last day, move to the next 1 January and close the year too; the export then "
                             "covers that whole calendar year (a period crossing 31 December closes its year anyway)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same ledger content)")
    parser.add_argument("--keys", type=Path, metavar="FILE",
                        help="also write the demo platform's published keys (as GET /v1/keys answers) to FILE: the "
                             "sample's trust anchor, for scelle verify --trusted-key FILE")
    parser.set_defaults(func=_run)


def sample_steps(days: int, sales_per_day: int, close_year: bool = False) -> int:
    """The steps of ``build_sample``: the sign-up, each receipt, each day's closing, the year's
    closing (``close_year``), the export."""
    return 1 + days * (sales_per_day + 1) + (1 if close_year else 0) + 1


def _run(args: argparse.Namespace) -> int:
    from chalicelib.local.terminal import Progress, command_terminal

    if args.days < 1 or args.sales_per_day < 1:
        print("scelle export-sample: --days and --sales-per-day must be at least 1", file=sys.stderr)
        return 2
    if args.format == "fec" and args.country != "FR":
        print("scelle export-sample: the FEC is French; a Belgian sample exports in the fiscal format "
              "(--format fiscal)", file=sys.stderr)
        return 2
    last = args.start + timedelta(days=args.days - 1)
    if not date(2000, 1, 1) <= args.start or last.year > 2098:
        print("scelle export-sample: the simulated days must lie between 2000 and 2098", file=sys.stderr)
        return 2
    # stdout holds the answer only: log records (mail tokens...) and no metric blobs on it; a
    # progress bar on stderr when it is a terminal, nothing otherwise.
    progress = Progress("export-sample", sample_steps(args.days, args.sales_per_day, args.close_year))
    with command_terminal():
        try:
            job = build_sample(args.out, kind=args.format, days=args.days, sales_per_day=args.sales_per_day,
                               seed=args.seed, start=args.start, country=args.country, close_year=args.close_year,
                               progress=progress, keys_out=args.keys)
        finally:
            progress.close()
    print(f"export-sample: wrote {args.out} ({job['progress']['entries_done']} sealed records, {job['bytes']} bytes);"
          f" {_check_hint(args.out, args.keys)}")
    return 0


def _check_hint(out: Path, keys: Path | None) -> str:
    """How to verify the sample: against its trust anchor, the keys file ``--keys`` wrote. Without
    one, ``scelle verify`` can only answer UNANCHORED (exit 3), and no later file can anchor this
    archive: each run signs with a key of its own."""
    if keys is not None:
        return f"check it with: scelle verify --trusted-key {shlex.quote(str(keys))} {shlex.quote(str(out))}"
    return ("no trust anchor was written: each run signs with a fresh key, so run it again with --keys FILE, then "
            f"check it with: scelle verify --trusted-key FILE {shlex.quote(str(out))} (without --trusted-key, scelle "
            "verify answers UNANCHORED, exit 3)")
