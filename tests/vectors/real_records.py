"""Record vectors made by the product's own builders: ``tests/vectors/records.json``.

Two demo tenants, a French bakery (Europe/Paris) and a Belgian one (Europe/Brussels), are run
through the real services — ``LedgerService`` (sales, journal entries, reversals, the scheduled
closures), ``EventDeriver`` (the event of each sealed entry), ``AccountsService``,
``SignInService``, ``SignInFailures``, ``TenantService``, ``ExportService``, ``AlarmService``,
``AnomalyService`` and the verification-failure report — on in-memory adapters, with a clock set
by hand and fixed ids. Sales, journal entries and reversals go in as the API request bodies,
validated by the API's own request models, exactly as ``POST /v1/tenants/{id}/sales`` (and
``/journal-entries``, ``/entries/{chain}/{seq}/reversal``) hand them to the service.

Every step records its input and every record it sealed, on any chain, in sealing order, with
the record's canonical bytes and hash; a closure also carries its Merkle tree size and root
(recomputed here from the chain's record hashes) and its totals. ``tests/unit/test_vectors.py``
regenerates the file and compares it byte for byte: a change to a builder that alters sealed
bytes fails until the vectors are regenerated on purpose (``python -m tests.vectors.generate``).

Nothing here is hand-written record data: the inputs are, the records are what the code sealed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

from chalicelib.domain import merkle
from chalicelib.domain.records import SealedRecord, chain_key, parse_timestamp

FR_SIREN = "732829320"  # made up, with a valid Luhn key (the export-sample's demo company)
BE_NUMBER = "0999999922"  # made up, with valid check digits (97 - 09999999 mod 97 = 22)
PASSWORD = "Demo-Password-42"  # the demo accounts' throwaway password
RESERVED_KINDS = {
    "checkpoint_signed": "accepted by the event journal, but no code path writes it (a signed checkpoint is not "
                         "journaled)",
    "key_rotated": "accepted by the event journal, but no code path writes it (a key rotation is not journaled)",
    "entry_recorded": "the fallback kind of a derived event for a record type other than sale, journal, reversal "
                      "and closure; the ledger chains hold no other type, so it is never written",
}

#: What these vectors show that the builders should not do (reported; the vectors record what the
#: code seals today, so that fixing it is a deliberate change of the vectors).
KNOWN_ISSUES: list[str] = []  # builder bugs the vectors show, until fixed (none now)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Clock:
    """The world's clock: it says what it was set to, never moves by itself."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment < self.now:
            raise ValueError(f"the scenario's clock goes backwards: {text} < {_ts(self.now)}")
        self.now = moment


def _logged_store(log: list[SealedRecord]):
    from chalicelib.adapters.memory_chain_store import InMemoryChainStore

    class LoggedChainStore(InMemoryChainStore):
        """An in-memory chain store that also logs what it committed, in commit order."""

        def commit(self, records, claims=(), *, ttl=None) -> None:
            super().commit(records, claims, ttl=ttl)
            log.extend(records)

    return LoggedChainStore()


@contextmanager
def _fixed_ids_and_quiet() -> Iterator[None]:
    """Fixed ids where the services draw random ones, no log lines, no metrics."""
    from chalicelib import observability
    from chalicelib.services import accounts as accounts_service
    from chalicelib.services import exports as exports_service
    from chalicelib.services import signin as signin_service

    counters: dict[str, int] = {}

    def new_id(kind: str) -> str:
        counters[kind] = counters.get(kind, 0) + 1
        return f"{kind}{counters[kind]:020x}"

    jobs = itertools.count(1)  # an export job id is the first 20 hex digits of a uuid4
    fake_uuid = SimpleNamespace(uuid4=lambda: uuid.UUID(hex=f"{next(jobs):020x}".ljust(32, "0")))
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with ExitStack() as stack:
            stack.enter_context(mock.patch.object(accounts_service, "new_id", new_id))
            stack.enter_context(mock.patch.object(exports_service, "uuid", fake_uuid))
            stack.enter_context(mock.patch.object(signin_service, "count", lambda *a, **k: None))
            stack.enter_context(mock.patch.object(observability, "count", lambda *a, **k: None))
            yield
    finally:
        logging.disable(previous)


class VectorSigner:
    """The test-only key of the vectors (``test-signing-key.pem``), published as the signing key.
    No checkpoint is signed here; the key registry needs a signer all the same."""

    key_id = "scelle-test-2026"

    def sign(self, message: bytes) -> bytes:
        from tests.vectors.helpers import sign, vector_signing_key

        return sign(vector_signing_key(), message)

    def public_key_pem(self) -> str:
        from tests.vectors.helpers import public_pem, vector_signing_key

        return public_pem(vector_signing_key())


class World:
    """The real services on in-memory adapters, sharing one clock and one log of sealed records."""

    def __init__(self, user_numbers: Iterator[int]) -> None:
        from chalicelib.adapters.accounts_memory import InMemoryAccountsStore, InMemoryIdentity, InMemoryMailer
        from chalicelib.adapters.chain_directory import InMemoryChainDirectory
        from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
        from chalicelib.adapters.exports import InMemoryExportJobs, InMemoryExportObjects
        from chalicelib.adapters.ledger_index import InMemoryLedgerIndex
        from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
        from chalicelib.services.access import AccessService
        from chalicelib.services.accounts import AccountsService
        from chalicelib.services.anomalies import AnomalyService
        from chalicelib.services.checkpoints import CheckpointService, KeyRegistry
        from chalicelib.services.events import EventDeriver, EventJournal, event_writer
        from chalicelib.services.exports import ExportService
        from chalicelib.services.ledger import LedgerService
        from chalicelib.services.password_reset import PasswordResetService
        from chalicelib.services.sealing import ChainWriter
        from chalicelib.services.signin import SignInService
        from chalicelib.services.signin_failures import SignInFailures
        from chalicelib.services.tamper_alarms import AlarmService
        from chalicelib.services.tenants import TenantService

        self.clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        self.log: list[SealedRecord] = []
        self.journal_store = _logged_store(self.log)
        self.events_store = _logged_store(self.log)
        self.events = EventJournal(event_writer(self.events_store, clock=self.clock))
        self.deriver = EventDeriver(self.journal_store, self.events_store, self.events.writer)
        self.accounts_store = InMemoryAccountsStore()
        self.identity = InMemoryIdentity(self.clock)
        self.identity._ids = user_numbers  # user ids (and session ids) unique across the worlds
        self.mailer = InMemoryMailer()
        self.ops = InMemoryOpsStore()
        journal = lambda: self.events  # noqa: E731 - the services take a journal factory
        self.failures = SignInFailures(self.ops, journal, clock=self.clock)
        self.accounts = AccountsService(self.accounts_store, self.identity, self.mailer, journal, clock=self.clock)
        self.tenants = TenantService(self.accounts_store, journal, clock=self.clock)
        self.signin = SignInService(self.accounts_store, self.identity, journal, None, clock=self.clock,
                                    failures=self.failures)
        self.password_reset = PasswordResetService(self.accounts_store, self.identity, self.mailer, journal,
                                                   clock=self.clock)
        self.access = AccessService(self.accounts_store, self.clock)
        self.directory = InMemoryChainDirectory()
        checkpoint_store = InMemoryCheckpointStore()
        keys = KeyRegistry(checkpoint_store, VectorSigner(), clock=self.clock)
        # No checkpoint is signed here (checkpoint_every is out of reach): signatures are not
        # deterministic, and a closure's Merkle root does not need one.
        checkpoints = CheckpointService(self.journal_store, checkpoint_store, VectorSigner(), keys, clock=self.clock)
        self.ledger = LedgerService(
            writer=ChainWriter(self.journal_store, clock=self.clock), directory=self.directory,
            index=InMemoryLedgerIndex(self.journal_store), checkpoints=checkpoints, tenants=self.tenants,
            checkpoint_every=10**9, clock_skew=timedelta(minutes=5), clock=self.clock)
        self.export_jobs, self.export_objects = InMemoryExportJobs(), InMemoryExportObjects()
        # The API invokes the export worker asynchronously: nothing is built while the request is answered.
        self.exports = ExportService(
            jobs=self.export_jobs, objects=self.export_objects, tenants=self.tenants, directory=self.directory,
            source_for=lambda tenant_id: None, signer=lambda: None, events=self.events,
            dispatcher=lambda service, tenant_id, job_id: None, clock=self.clock)
        self.alarms = AlarmService(self.ops, journal, clock=self.clock)
        self.anomalies = AnomalyService(self.ops, self.events_store, journal=journal, tenant_of=self.tenants.get)
        self.steps: list[dict[str, Any]] = []
        self.tenant_ids: list[str] = []

    # -- callers -------------------------------------------------------------------------------
    def caller(self, tenant_id: str, email: str):
        """The caller as the access check builds it for one request (role and name from the membership)."""
        from chalicelib.domain.identity import Principal

        user_id = self.accounts_store.user_id_for_email(email)
        return self.access.authorize(Principal(user_id, email), tenant_id, "tenant.read")

    # -- steps ---------------------------------------------------------------------------------
    def step(self, at: str, desc: str, input_: dict[str, Any], action: Callable[[], Any]) -> Any:
        """Run ``action`` at ``at``, let the event deriver seal the events of new ledger entries
        (as the journal stream does), and record the step with every record sealed meanwhile."""
        self.clock.set(at)
        before = len(self.log)
        result = action()
        for tenant_id in self.tenant_ids:
            self.deriver.catch_up(tenant_id, self.directory.chains(tenant_id))
        sealed = self.log[before:]
        self.steps.append({"step": len(self.steps) + 1, "desc": desc, "at": _ts(self.clock.now), "input": input_,
                           "records": [self._vector(record) for record in sealed]})
        return result

    def _vector(self, record: SealedRecord) -> dict[str, Any]:
        vector: dict[str, Any] = {"record": record.to_dict(), "canonical": record.canonical_bytes().decode("utf-8"),
                                  "hash": record.hash}
        if record.type == "closure":
            data = record.data
            leaves = [merkle.record_leaf_hash(r.hash)
                      for r in self.journal_store.scan(record.chain_key, 1, data["merkle_tree_size"])]
            start, end = parse_timestamp(data["period_start"]), parse_timestamp(data["period_end"])
            vector["closure"] = {
                "merkle_tree_size": len(leaves),
                "merkle_root": merkle.root(leaves).hex(),
                "period_hours": int((end - start).total_seconds()) // 3600,
                "covered_seqs": [data["first_seq"], data["last_seq"]],
                "entry_count": data["entry_count"],
                "period_grand_total": data["period_grand_total"],
                "perpetual_grand_total": data["perpetual_grand_total"],
                "vat_totals": data["vat_totals"],
                "journal_totals": data["journal_totals"],
            }
        return vector

    # -- inputs, as the API passes them to the services -----------------------------------------
    def sale(self, at: str, desc: str, tenant_id: str, email: str, body: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.api.ledger import SaleIn

        caller = self.caller(tenant_id, email)
        request = SaleIn.model_validate(body).model_dump(exclude_none=True)
        return self.step(at, desc, _http("POST", "/v1/tenants/{tenant_id}/sales", caller, body),
                         lambda: self.ledger.record_sale(caller, request, None))

    def journal(self, at: str, desc: str, tenant_id: str, email: str, body: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.api.ledger import JournalBatchIn

        caller = self.caller(tenant_id, email)
        entries = [e.model_dump(exclude_none=True) for e in JournalBatchIn.model_validate(body).entries]
        return self.step(at, desc, _http("POST", "/v1/tenants/{tenant_id}/journal-entries", caller, body),
                         lambda: self.ledger.record_journal(caller, entries, None))

    def reverse(self, at: str, desc: str, tenant_id: str, email: str, chain: str, seq: int, reason: str
                ) -> dict[str, Any]:
        from chalicelib.api.ledger import ReversalIn

        caller = self.caller(tenant_id, email)
        body = {"reason": reason}
        checked = ReversalIn.model_validate(body).reason
        return self.step(at, desc, _http("POST", f"/v1/tenants/{{tenant_id}}/entries/{chain}/{seq}/reversal", caller,
                                         body),
                         lambda: self.ledger.reverse(caller, chain, seq, checked, None))

    def close_due(self, at: str, desc: str, tenant_id: str) -> list[SealedRecord]:
        def run() -> list[SealedRecord]:
            done = []
            for chain in sorted(self.directory.chains(tenant_id)):
                if chain != "events":
                    done += self.ledger.close_due_periods(tenant_id, chain)
            return done

        return self.step(at, desc, {"call": "the hourly scheduled job: LedgerService.close_due_periods(tenant_id, "
                                            "chain) for each of the tenant's chains, in name order",
                                    "tenant_id": tenant_id}, run)

    def signup(self, at: str, desc: str, **fields: Any):
        from chalicelib.services.accounts import SignUp

        cmd = SignUp(password=PASSWORD, **fields)
        shown = {k: v for k, v in fields.items()}
        result = self.step(at, desc, {"call": "POST /v1/signup (AccountsService.signup)",
                                      "body": {**shown, "password": "<the password>"}},
                           lambda: self.accounts.signup(cmd))
        self.tenant_ids.append(result.tenant.tenant_id)
        return result


def _http(method: str, path: str, caller, body: dict[str, Any]) -> dict[str, Any]:
    return {"call": f"{method} {path}", "tenant_id": caller.tenant_id,
            "caller": {"user_id": caller.user_id, "role": str(caller.role), "name": caller.name}, "body": body}


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _total(body: dict[str, Any]) -> int:
    """What the till computes before asking for payment (the domain's money rules)."""
    from chalicelib.commands.export_sample import receipt_total

    return receipt_total(body)


# -- the scenario ------------------------------------------------------------------------------


def _french_bakery(w: World) -> dict[str, Any]:
    admin, seller, accountant = ("claire.martin@boulangerie-demo.example", "bob.durand@boulangerie-demo.example",
                                 "alice.petit@boulangerie-demo.example")
    auditor = "audit@cabinet-exemple.example"
    from chalicelib.domain.identifiers import fr_vat_key

    signup = w.signup("2026-03-02T08:00:00.000000Z", "FR sign-up: the tenant starts in test mode", email=admin,
                      company_name="Boulangerie Démo SARL", country="FR", company_number=FR_SIREN,
                      vat_number=f"FR{fr_vat_key(FR_SIREN)}{FR_SIREN}", address_line1="12 rue de l'Exemple",
                      address_postal_code="75011", address_city="Paris", display_name="Claire Martin")
    t = signup.tenant.tenant_id
    w.step("2026-03-02T08:05:00.000000Z", "the admin verifies her email address",
           {"call": "POST /v1/verify-email (AccountsService.verify_email)", "body": {"token": "<the mailed token>"}},
           lambda: w.accounts.verify_email(signup.verification_token))
    tokens = w.step("2026-03-02T08:10:00.000000Z", "the admin signs in",
                    {"call": "POST /v1/auth/signin (SignInService.sign_in)",
                     "body": {"email": admin, "password": "<the password>"}},
                    lambda: w.signin.sign_in(admin, PASSWORD))
    hours = {"mon": None, "tue": ["07:00-13:30", "15:30-20:00"], "wed": ["07:00-13:30", "15:30-20:00"],
             "thu": ["07:00-13:30", "15:30-20:00"], "fri": ["07:00-13:30", "15:30-20:00"], "sat": ["07:00-20:00"],
             "sun": ["07:00-13:00"]}
    w.step("2026-03-02T08:15:00.000000Z", "the admin sets the opening hours (a settings change)",
           {"call": "PUT /v1/tenants/{tenant_id}/settings (TenantService.configure)", "tenant_id": t,
            "body": {"opening_hours": hours}},
           lambda: w.tenants.configure(w.caller(t, admin), {"opening_hours": hours}, closed_periods=lambda _: []))
    w.sale("2026-03-02T08:20:00.000000Z", "a training sale in test mode: chain test.sales.R1, training true", t, admin,
           {"client_receipt_id": "ESSAI-0001", "register_id": "R1", "occurred_at": "2026-03-02T08:19:30Z",
            "lines": [{"description": "Baguette tradition", "quantity": "1", "unit_price": "1.30", "vat_rate": "5.5"}],
            "payments": [{"method": "cash", "amount": "1.30"}]})
    w.step("2026-03-02T08:30:00.000000Z", "go-live: production chains (prod.*) start from genesis",
           {"call": "POST /v1/tenants/{tenant_id}/go-live (TenantService.go_live)", "tenant_id": t},
           lambda: w.tenants.go_live(w.caller(t, admin)))
    for at, email, role, name in (("2026-03-02T08:40:00.000000Z", seller, "seller", "Bob Durand"),
                                  ("2026-03-02T08:50:00.000000Z", accountant, "accountant", "Alice Petit")):
        w.step(at, f"the admin invites {'an' if role[0] in 'aeiou' else 'a'} {role}",
               {"call": "POST /v1/tenants/{tenant_id}/invitations (AccountsService.invite)", "tenant_id": t,
                "body": {"email": email, "role": role, "display_name": name}},
               lambda email=email, role=role, name=name: w.accounts.invite(w.caller(t, admin), email, role, name))
        w.step(at.replace(":00.000000Z", ":30.000000Z"), f"the {role} accepts the invitation (a new account)",
               {"call": "POST /v1/invitations/accept (AccountsService.accept_invitation)",
                "body": {"token": "<the mailed token>", "password": "<a password>"}},
               lambda email=email: w.accounts.accept_invitation(w.mailer.token_for(email), PASSWORD))

    # Friday 27 March 2026, business day 2026-03-27 (CET, UTC+1)
    s1 = w.sale("2026-03-27T09:12:05.000000Z",
                "sale: prices incl. VAT, a discount on a line, card and cash with change given back "
                "(genesis of prod.sales.R1)", t, seller,
                {"client_receipt_id": "R1-20260327-0001", "register_id": "R1", "occurred_at": "2026-03-27T09:11:40Z",
                 "lines": [{"description": "Baguette tradition", "quantity": "2", "unit_price": "1.20",
                            "vat_rate": "5.5"},
                           {"description": "Vin rouge AOP", "quantity": "1", "unit_price": "12.90", "vat_rate": "20",
                            "discount": "0.90"}],
                 "payments": [{"method": "card", "amount": "10.00"}, {"method": "cash", "amount": "5.00"}],
                 "expected_total": "14.40"})
    b2b = {"client_receipt_id": "R1-20260327-0002", "register_id": "R1", "occurred_at": "2026-03-27T09:40:00Z",
           "prices_include_vat": False, "rounding_policy": "line",
           "lines": [{"description": "Plateau repas traiteur", "quantity": "12", "unit_price": "8.25",
                      "vat_rate": "10"},
                     {"description": "Café en grains 1 kg", "quantity": "2", "unit_price": "14.90", "vat_rate": "5.5",
                      "discount": "1.50"},
                     {"description": "Coffret cadeau vin", "quantity": "1", "unit_price": "24.99", "vat_rate": "20"}]}
    b2b["payments"] = [{"method": "transfer", "amount": _euros(_total(b2b)), "reference": "VIR-ACME-0327"}]
    s2 = w.sale("2026-03-27T09:40:10.000000Z", "sale to a business: prices excl. VAT, line rounding, paid by transfer "
                "with a reference", t, seller, b2b)
    for policy, at in (("document", "2026-03-27T10:05:00.000000Z"), ("line", "2026-03-27T10:06:00.000000Z")):
        body = {"client_receipt_id": f"R1-20260327-{'0003' if policy == 'document' else '0004'}",
                "register_id": "R1", "occurred_at": at[:19] + "Z", "rounding_policy": policy,
                "lines": [{"description": name, "quantity": "1", "unit_price": "0.10", "vat_rate": "20"}
                          for name in ("Carambar", "Malabar", "Chupa Chups")]}
        body["payments"] = [{"method": "cash", "amount": _euros(_total(body))}]
        w.sale(at, f"three lines of 0.10 at 20 %, rounding {policy!r}: VAT "
               f"{'0.05 (once on 0.30)' if policy == 'document' else '0.06 (0.02 per line)'}", t, seller, body)
    weighed = {"client_receipt_id": "R1-20260327-0005", "register_id": "R1", "occurred_at": "2026-03-27T10:30:00Z",
               "lines": [{"description": "Pain de campagne au poids", "quantity": "1.5", "unit_price": "3.33",
                          "vat_rate": "5.5"},
                         {"description": "Tarte aux pommes (part)", "quantity": "2", "unit_price": "3.20",
                          "vat_rate": "5.5"}]}
    weighed["payments"] = [{"method": "voucher", "amount": "5.00", "reference": "BON-2026-017"},
                           {"method": "card", "amount": _euros(_total(weighed) - 500)}]
    w.sale("2026-03-27T10:30:05.000000Z", "sale: a weighed quantity (1.5 kg x 3.33 = 4.995 -> 5.00), a voucher with "
           "its reference and a card", t, seller, weighed)
    w.sale("2026-03-27T10:45:00.000000Z", "sale of 0.00 (a free tasting): no payment", t, seller,
           {"client_receipt_id": "R1-20260327-0006", "register_id": "R1", "occurred_at": "2026-03-27T10:44:50Z",
            "lines": [{"description": "Dégustation offerte", "quantity": "1", "unit_price": "0", "vat_rate": "5.5"}]})
    ret = w.sale("2026-03-27T11:10:00.000000Z", "return: one bread taken back, refunded in cash", t, seller,
                 {"kind": "return", "client_receipt_id": "R1-20260327-0007", "register_id": "R1",
                  "occurred_at": "2026-03-27T11:09:30Z",
                  "lines": [{"description": "Baguette tradition", "quantity": "-1", "unit_price": "1.20",
                             "vat_rate": "5.5"}],
                  "payments": [{"method": "cash", "amount": "-1.20"}]})
    exchange = {"kind": "return", "client_receipt_id": "R1-20260327-0008", "register_id": "R1",
                "occurred_at": "2026-03-27T11:30:00Z",
                "lines": [{"description": "Tarte aux pommes (part)", "quantity": "-1", "unit_price": "3.20",
                           "vat_rate": "5.5"},
                          {"description": "Tarte aux fraises (part)", "quantity": "1", "unit_price": "3.60",
                           "vat_rate": "5.5"}]}
    exchange["payments"] = [{"method": "card", "amount": _euros(_total(exchange))}]
    w.sale("2026-03-27T11:30:10.000000Z", "return with an exchange: one line back, one sold, the difference paid",
           t, seller, exchange)
    batch = w.journal("2026-03-27T14:00:00.000000Z", "a batch of three journal entries: a customer invoice and a "
                      "supplier invoice with sub-ledger (auxiliary) accounts, a bank deposit", t, accountant,
                      {"entries": [
                          {"journal_code": "VT", "journal_label": "Ventes", "piece_ref": "FA-2026-0042",
                           "piece_date": "2026-03-27", "label": "Facture Dupont SARL - buffet",
                           "lines": [{"account": "411000", "account_label": "Clients", "aux_account": "DUPONT",
                                      "aux_label": "Dupont SARL", "debit": "120.00"},
                                     {"account": "706000", "account_label": "Prestations de services",
                                      "credit": "100.00", "vat_rate": "20"},
                                     {"account": "445710", "account_label": "TVA collectée", "credit": "20.00"}]},
                          {"journal_code": "AC", "journal_label": "Achats", "piece_ref": "MOULIN-7781",
                           "piece_date": "2026-03-26", "label": "Farine T65 - Moulin de la Vallée",
                           "lines": [{"account": "601000", "account_label": "Achats de matières premières",
                                      "debit": "250.00", "vat_rate": "5.5"},
                                     {"account": "445660", "account_label": "TVA déductible", "debit": "13.75"},
                                     {"account": "401000", "account_label": "Fournisseurs", "aux_account": "MOULIN",
                                      "aux_label": "Moulin de la Vallée", "label": "Moulin - échéance 30 jours",
                                      "credit": "263.75"}]},
                          {"journal_code": "BQ", "journal_label": "Banque", "piece_ref": "REM-20260327",
                           "piece_date": "2026-03-27", "label": "Remise d'espèces en banque",
                           "lines": [{"account": "512000", "account_label": "Banque", "debit": "300.00"},
                                     {"account": "530000", "account_label": "Caisse", "credit": "300.00"}]}]})
    w.reverse("2026-03-27T15:00:00.000000Z", "reversal of a sale (the business sale, priced by mistake)", t, admin,
              s2["chain"], s2["seq"], "Prix hors taxe erroné sur le plateau repas ;\nticket ressaisi.")
    w.reverse("2026-03-27T15:05:00.000000Z", "reversal of a return (recorded on the wrong customer)", t, admin,
              ret["chain"], ret["seq"], "Retour saisi par erreur")
    supplier = batch["entries"][1]
    w.reverse("2026-03-27T15:10:00.000000Z", "reversal of a journal entry (debit and credit swapped)", t, accountant,
              supplier["chain"], supplier["seq"], "Facture fournisseur saisie deux fois")

    # Saturday 28 March: its business day lasts 23 hours (clocks go forward on the night of 28 to 29)
    w.close_due("2026-03-28T05:00:00.000000Z", "the next morning the scheduled job closes 27 March (24 h) on each "
                "chain: prod.journal, prod.sales.R1, and 2 March on test.sales.R1 (training: a test chain stays "
                "one after going live)", t)
    w.sale("2026-03-28T09:00:00.000000Z", "sale on Saturday 28 March", t, seller,
           {"client_receipt_id": "R1-20260328-0001", "register_id": "R1", "occurred_at": "2026-03-28T08:59:30Z",
            "lines": [{"description": "Croissant au beurre", "quantity": "6", "unit_price": "1.40", "vat_rate": "5.5"},
                      {"description": "Jus d'orange pressé", "quantity": "2", "unit_price": "3.50", "vat_rate": "10"}],
            "payments": [{"method": "card", "amount": "15.40"}]})
    w.sale("2026-03-29T00:30:00.000000Z", "sale at 01:30 local on Sunday 29 March: still business day 28 March "
           "(cut-off 04:00)", t, seller,
           {"client_receipt_id": "R1-20260329-0001", "register_id": "R1", "occurred_at": "2026-03-29T00:29:00Z",
            "lines": [{"description": "Sandwich jambon-beurre", "quantity": "1", "unit_price": "5.50",
                       "vat_rate": "10"}],
            "payments": [{"method": "cash", "amount": "10.00"}]})
    w.close_due("2026-03-29T05:00:00.000000Z", "closure of business day 28 March: 23 hours, from 04:00 CET "
                "(03:00Z) to 04:00 CEST (02:00Z)", t)
    w.close_due("2026-04-01T05:00:00.000000Z", "closures of the month of March 2026", t)

    # an export, the first for its requester (an anomaly), and its download URL
    export = w.step("2026-04-02T09:00:00.000000Z", "the accountant requests the FEC of March",
                    {"call": "POST /v1/tenants/{tenant_id}/exports (ExportService.request)", "tenant_id": t,
                     "body": {"format": "fec", "from": "2026-03-01", "to": "2026-03-31"}},
                    lambda: _request_export(w, t, accountant))
    requested = next(r for r in reversed(w.log) if r.type == "event" and r.data["kind"] == "export_requested")
    w.step("2026-04-02T09:00:01.000000Z", "the anomaly rules see the first export ever requested by this user",
           {"call": "AnomalyService.on_event(<the export_requested event>)", "event_seq": requested.seq},
           lambda: w.anomalies.on_event(requested))
    _worker_done(w, t, export["job_id"])
    w.step("2026-04-02T09:05:00.000000Z", "the accountant reads the finished job: a download URL is issued",
           {"call": "GET /v1/tenants/{tenant_id}/exports/{job_id}?expires_in=900 (ExportService.status)",
            "tenant_id": t, "job_id": export["job_id"],
            "worker_result": "the export worker finished the job (file name, SHA-256 of the archive and of its "
                             "manifest fixed for the vector: nothing is built here)"},
           lambda: w.exports.status(w.caller(t, accountant), export["job_id"], 900))

    # members and access
    bob = w.accounts_store.user_id_for_email(seller)
    for at, desc, change in (("2026-04-03T08:00:00.000000Z", "the seller becomes a manager", {"role": "manager"}),
                             ("2026-04-03T08:05:00.000000Z", "the manager is disabled", {"disabled": True}),
                             ("2026-04-03T08:10:00.000000Z", "and enabled again", {"disabled": False}),
                             ("2026-04-03T08:15:00.000000Z", "his display name changes (journaled as configuration)",
                              {"display_name": "Bob Durand-Leroy"})):
        w.step(at, desc, {"call": "PATCH /v1/tenants/{tenant_id}/members/{user_id} (AccountsService.update_member)",
                          "tenant_id": t, "user_id": bob, "body": change},
               lambda change=change: w.accounts.update_member(w.caller(t, admin), bob, change.get("role"),
                                                              change.get("disabled"), change.get("display_name")))
    grant = w.step("2026-04-03T09:00:00.000000Z", "an auditor is granted read-only access for 30 days",
                   {"call": "POST /v1/tenants/{tenant_id}/auditor-grants (AccountsService.grant_auditor)",
                    "tenant_id": t, "body": {"email": auditor, "days": 30, "note": "Contrôle fiscal 2026"}},
                   lambda: w.accounts.grant_auditor(w.caller(t, admin), auditor, 30, "Contrôle fiscal 2026"))
    w.step("2026-04-03T10:00:00.000000Z", "the auditor accepts the grant's invitation",
           {"call": "POST /v1/invitations/accept (AccountsService.accept_invitation)",
            "body": {"token": "<the mailed token>", "password": "<a password>", "display_name": "Cabinet Exemple"}},
           lambda: w.accounts.accept_invitation(w.mailer.token_for(auditor), PASSWORD, "Cabinet Exemple"))
    w.step("2026-04-17T16:00:00.000000Z", "the admin revokes the grant",
           {"call": "DELETE /v1/tenants/{tenant_id}/auditor-grants/{grant_id} (AccountsService.revoke_grant)",
            "tenant_id": t, "grant_id": grant.grant.grant_id},
           lambda: w.accounts.revoke_grant(w.caller(t, admin), grant.grant.grant_id))

    # sign-in failures: the first of a 5-minute window at once, a lock-out, the window's summary
    for attempt in range(1, 7):
        at = f"2026-04-20T07:00:{(attempt - 1) * 10:02d}.000000Z"
        desc = {1: "a failed sign-in: the window's first is sealed at once",
                6: "the 6th failure in a row locks the address: signin_locked"}.get(
            attempt, f"failed sign-in {attempt}: counted, sealed later in the window's summary")
        w.step(at, desc, {"call": "POST /v1/auth/signin (SignInService.sign_in)",
                          "body": {"email": seller, "password": "<a wrong password>"}},
               lambda: _refused(lambda: w.signin.sign_in(seller, "wrong-password")))
    w.step("2026-04-20T07:01:00.000000Z", "a failed sign-in of an address without an account: _platform's journal",
           {"call": "POST /v1/auth/signin (SignInService.sign_in)",
            "body": {"email": "inconnu@example.com", "password": "<a password>"}},
           lambda: _refused(lambda: w.signin.sign_in("inconnu@example.com", "whatever")))
    w.step("2026-04-20T07:06:00.000000Z", "one minute after the window, its summary (the failures not sealed yet)",
           {"call": "the scheduled job: SignInFailures.flush()"}, lambda: w.failures.flush())
    w.step("2026-04-20T18:00:00.000000Z", "the admin signs out",
           {"call": "POST /v1/auth/signout (SignInService.sign_out)", "body": {}},
           lambda: w.signin.sign_out(_principal(w, admin), tokens.access_token))

    # Saturday 24 October: its business day lasts 25 hours (clocks go back on the night of 24 to 25)
    w.sale("2026-10-24T09:00:00.000000Z", "sale on Saturday 24 October", t, seller,
           {"client_receipt_id": "R1-20261024-0001", "register_id": "R1", "occurred_at": "2026-10-24T08:59:00Z",
            "lines": [{"description": "Pain aux céréales 400 g", "quantity": "2", "unit_price": "3.90",
                       "vat_rate": "5.5"},
                      {"description": "Sac cabas réutilisable", "quantity": "1", "unit_price": "2.00",
                       "vat_rate": "20"}],
            "payments": [{"method": "cheque", "amount": "9.80", "reference": "CHQ 0012345"}]})
    w.sale("2026-10-25T01:30:00.000000Z", "sale at 02:30 local on Sunday 25 October, after the clocks went back: "
           "business day 24 October", t, seller,
           {"client_receipt_id": "R1-20261025-0001", "register_id": "R1", "occurred_at": "2026-10-25T01:29:00Z",
            "lines": [{"description": "Café expresso", "quantity": "2", "unit_price": "1.80", "vat_rate": "10"}],
            "payments": [{"method": "card", "amount": "3.60"}]})
    w.close_due("2026-10-25T05:00:00.000000Z", "closure of business day 24 October: 25 hours, from 04:00 CEST "
                "(02:00Z) to 04:00 CET (03:00Z)", t)
    w.close_due("2026-11-01T05:00:00.000000Z", "closure of the month of October 2026", t)
    return {"tenant_id": t, "admin": admin, "s1": s1}


def _request_export(w: World, tenant_id: str, email: str) -> dict[str, Any]:
    from chalicelib.services.exports import ExportRequest

    return w.exports.request(w.caller(tenant_id, email), ExportRequest("fec", date(2026, 3, 1), date(2026, 3, 31)))


def _worker_done(w: World, tenant_id: str, job_id: str) -> None:
    """What the export worker leaves in the job when it is done (no archive is built here)."""
    job = w.export_jobs.get(tenant_id, job_id)
    assert job is not None
    key = f"exports/{tenant_id}/{job_id}/732829320FEC20260331.zip"
    writer = w.export_objects.writer(key)
    writer.write(b"archive")
    writer.close()
    job.update(status="done", object_key=key, file_name="732829320FEC20260331.zip", bytes=7,
               sha256=hashlib.sha256(b"the archive").hexdigest(),
               manifest_sha256=hashlib.sha256(b"the manifest").hexdigest(),
               started_at="2026-04-02T09:00:02.000000Z", finished_at="2026-04-02T09:00:40.000000Z",
               updated_at="2026-04-02T09:00:40.000000Z")
    w.export_jobs.put(tenant_id, job_id, job)


def _refused(call: Callable[[], Any]) -> str:
    from chalicelib.domain.errors import ScelleError

    try:
        call()
    except ScelleError as exc:
        return type(exc).__name__
    raise AssertionError("the sign-in should have been refused")


def _principal(w: World, email: str):
    from chalicelib.domain.identity import Principal

    return Principal(w.accounts_store.user_id_for_email(email), email)


def _belgian_bakery(w: World) -> dict[str, Any]:
    admin, seller = "marc.peeters@bakkerij-demo.example", "sofie.janssens@bakkerij-demo.example"
    signup = w.signup("2026-03-02T09:00:00.000000Z", "BE sign-up (Europe/Brussels)", email=admin,
                      company_name="Boulangerie Démo SRL", country="BE", company_number=BE_NUMBER,
                      vat_number=f"BE{BE_NUMBER}", address_line1="Rue de l'Exemple 12", address_postal_code="1000",
                      address_city="Bruxelles", display_name="Marc Peeters")
    t = signup.tenant.tenant_id
    w.step("2026-03-02T09:05:00.000000Z", "the admin verifies his email address",
           {"call": "POST /v1/verify-email (AccountsService.verify_email)", "body": {"token": "<the mailed token>"}},
           lambda: w.accounts.verify_email(signup.verification_token))
    w.step("2026-03-02T09:10:00.000000Z", "go-live", {"call": "POST /v1/tenants/{tenant_id}/go-live "
                                                               "(TenantService.go_live)", "tenant_id": t},
           lambda: w.tenants.go_live(w.caller(t, admin)))
    w.step("2026-03-02T09:20:00.000000Z", "the admin invites a seller",
           {"call": "POST /v1/tenants/{tenant_id}/invitations (AccountsService.invite)", "tenant_id": t,
            "body": {"email": seller, "role": "seller"}},
           lambda: w.accounts.invite(w.caller(t, admin), seller, "seller"))
    w.step("2026-03-02T09:25:00.000000Z", "the seller accepts and chooses her display name",
           {"call": "POST /v1/invitations/accept (AccountsService.accept_invitation)",
            "body": {"token": "<the mailed token>", "password": "<a password>", "display_name": "Sofie Janssens"}},
           lambda: w.accounts.accept_invitation(w.mailer.token_for(seller), PASSWORD, "Sofie Janssens"))

    # Friday 27 March 2026
    for policy, at in (("document", "2026-03-27T08:00:00.000000Z"), ("line", "2026-03-27T08:01:00.000000Z")):
        body = {"client_receipt_id": f"K1-{policy}", "register_id": "K1", "occurred_at": at[:19] + "Z",
                "rounding_policy": policy,
                "lines": [{"description": name, "quantity": "1", "unit_price": "0.10", "vat_rate": "21"}
                          for name in ("Sachet", "Bonbon", "Sucette")]}
        body["payments"] = [{"method": "cash", "amount": _euros(_total(body))}]
        w.sale(at, f"BE: three lines of 0.10 at 21 %, rounding {policy!r}: VAT "
               f"{'0.05' if policy == 'document' else '0.06'}", t, seller, body)
    s = w.sale("2026-03-27T08:30:00.000000Z", "BE sale: 6 %, 12 % and 21 %, a discount, card and cash with change",
               t, seller,
               {"client_receipt_id": "K1-0003", "register_id": "K1", "occurred_at": "2026-03-27T08:29:40Z",
                "lines": [{"description": "Pain gris 800 g", "quantity": "1", "unit_price": "3.40", "vat_rate": "6"},
                          {"description": "Cramique aux raisins", "quantity": "1", "unit_price": "5.90",
                           "vat_rate": "6", "discount": "0.59"},
                          {"description": "Café à emporter", "quantity": "2", "unit_price": "2.60", "vat_rate": "12"},
                          {"description": "Bière d'abbaye 33 cl", "quantity": "4", "unit_price": "2.35",
                           "vat_rate": "21"}],
                "payments": [{"method": "card", "amount": "15.00"}, {"method": "cash", "amount": "10.00"}]})
    pro = {"client_receipt_id": "K1-0004", "register_id": "K1", "occurred_at": "2026-03-27T09:00:00Z",
           "prices_include_vat": False,
           "lines": [{"description": "Sandwichs garnis (commande)", "quantity": "15", "unit_price": "3.95",
                      "vat_rate": "12"},
                     {"description": "Eau plate 50 cl", "quantity": "15", "unit_price": "0.85", "vat_rate": "6"}]}
    pro["payments"] = [{"method": "transfer", "amount": _euros(_total(pro)), "reference": "+++090/9337/55493+++"}]
    w.sale("2026-03-27T09:00:10.000000Z", "BE sale to a business: prices excl. VAT, document rounding", t, seller, pro)
    w.sale("2026-03-27T10:00:00.000000Z", "BE return, refunded by card", t, seller,
           {"kind": "return", "client_receipt_id": "K1-0005", "register_id": "K1",
            "occurred_at": "2026-03-27T09:59:00Z",
            "lines": [{"description": "Bière d'abbaye 33 cl", "quantity": "-2", "unit_price": "2.35",
                       "vat_rate": "21"}],
            "payments": [{"method": "card", "amount": "-4.70"}]})
    w.journal("2026-03-27T12:00:00.000000Z", "BE journal entries (PCMN accounts, customer and supplier sub-ledger "
              "accounts)", t, admin,
              {"entries": [
                  {"journal_code": "VEN", "journal_label": "Ventes", "piece_ref": "F-2026-118",
                   "piece_date": "2026-03-27", "label": "Facture Traiteur Dupont SRL",
                   "lines": [{"account": "400000", "account_label": "Clients", "aux_account": "C-DUPONT",
                              "aux_label": "Traiteur Dupont SRL", "debit": "242.00"},
                             {"account": "700000", "account_label": "Ventes", "credit": "200.00", "vat_rate": "21"},
                             {"account": "451000", "account_label": "TVA à payer", "credit": "42.00"}]},
                  {"journal_code": "ACH", "journal_label": "Achats", "piece_ref": "MEUN-2026-0311",
                   "piece_date": "2026-03-25", "label": "Farine - Meunerie de la Senne",
                   "lines": [{"account": "604000", "account_label": "Achats de marchandises", "debit": "400.00",
                              "vat_rate": "6"},
                             {"account": "411000", "account_label": "TVA à récupérer", "debit": "24.00"},
                             {"account": "440000", "account_label": "Fournisseurs", "aux_account": "F-SENNE",
                              "aux_label": "Meunerie de la Senne", "credit": "424.00"}]}]})
    w.reverse("2026-03-27T13:00:00.000000Z", "BE reversal of a sale", t, admin, s["chain"], s["seq"],
              "Mauvais client")
    w.close_due("2026-03-28T05:00:00.000000Z", "closures of 27 March (24 h)", t)
    w.sale("2026-03-28T10:00:00.000000Z", "BE sale on Saturday 28 March", t, seller,
           {"client_receipt_id": "K1-0006", "register_id": "K1", "occurred_at": "2026-03-28T09:59:00Z",
            "lines": [{"description": "Pistolets", "quantity": "10", "unit_price": "0.55", "vat_rate": "6"}],
            "payments": [{"method": "cash", "amount": "5.50"}]})
    w.close_due("2026-03-29T05:00:00.000000Z", "closure of business day 28 March in Brussels: 23 hours", t)
    w.close_due("2026-04-01T05:00:00.000000Z", "closures of the month of March 2026", t)
    w.sale("2026-10-24T10:00:00.000000Z", "BE sale on Saturday 24 October", t, seller,
           {"client_receipt_id": "K1-0007", "register_id": "K1", "occurred_at": "2026-10-24T09:59:00Z",
            "lines": [{"description": "Tarte au riz", "quantity": "1", "unit_price": "14.50", "vat_rate": "6"}],
            "payments": [{"method": "card", "amount": "14.50"}]})
    w.close_due("2026-10-25T05:00:00.000000Z", "closure of business day 24 October in Brussels: 25 hours", t)
    w.close_due("2026-11-01T05:00:00.000000Z", "closure of the month of October 2026", t)
    return {"tenant_id": t, "admin": admin}


def _password_reset(w: World, email: str) -> None:
    """The admin forgets his password: a code is mailed, then the new password set (last, so that
    no earlier vector moves)."""
    code = w.step("2027-01-04T08:00:00.000000Z", "the admin asks for a password reset code (nothing is sealed)",
                  {"call": "POST /v1/password-reset (PasswordResetService.request)", "body": {"email": email}},
                  lambda: w.password_reset.request(email))
    w.step("2027-01-04T08:10:00.000000Z", "the admin sets a new password with the mailed code: password_reset",
           {"call": "POST /v1/password-reset/confirm (PasswordResetService.confirm)",
            "body": {"email": email, "code": "<the mailed code>", "new_password": "<a new password>"}},
           lambda: w.password_reset.confirm(email, code, "Nouveau-Mot-De-Passe-2027"))


def _integrity_events(w: World, tenant_id: str) -> None:
    """A verification failure and a tamper alarm, as the full verifier reports them, about a copy
    of prod.sales.R1 whose second record was altered (the chain of these vectors is intact)."""
    from types import SimpleNamespace

    from chalicelib import bootstrap
    from chalicelib.domain.verification import verify_chain
    from chalicelib.services.tamper_alarms import TamperAlarm

    chain = "prod.sales.R1"
    items = [copy.deepcopy(i) for i in w.journal_store.raw_items(chain_key(tenant_id, chain))]
    items[1]["data"]["lines"][0]["unit_price"] += 100
    report = verify_chain(items, tenant_id=tenant_id, chain=chain)
    assert not report.ok

    def report_failure() -> None:
        with mock.patch.object(bootstrap, "container", lambda: SimpleNamespace(event_journal=w.events)):
            bootstrap._report_verification_failure(tenant_id, chain, report)

    w.step("2027-01-04T02:00:00.000000Z", "the full verifier reports a failed verification",
           {"call": "the verification service's failure report (bootstrap._report_verification_failure)",
            "tenant_id": tenant_id, "chain": chain,
            "report": {"reason": report.reason, "first_bad_seq": report.first_bad_seq, "detail": report.detail},
            "about": "a copy of prod.sales.R1 whose seq 2 unit price was raised by 1.00 (the vectors' chain is "
                     "intact)"}, report_failure)
    alarm = TamperAlarm(tenant_id, chain, report.first_bad_seq, report.reason, report.detail, "full",
                        evidence=f"size={len(items)}")
    w.step("2027-01-04T02:00:01.000000Z", "and raises a tamper alarm",
           {"call": "AlarmService.raise_alarm(TamperAlarm(...))",
            "alarm": {"tenant_id": tenant_id, "chain": chain, "seq": alarm.seq, "reason": alarm.reason,
                      "detail": alarm.detail, "source": alarm.source, "evidence": alarm.evidence}},
           lambda: w.alarms.raise_alarm(alarm))
    event = w.log[-1]
    w.step("2027-01-04T02:00:02.000000Z", "the anomaly rules file an integrity anomaly",
           {"call": "AnomalyService.on_event(<the tamper_alarm event>)", "event_seq": event.seq},
           lambda: w.anomalies.on_event(event))


def build_worlds() -> list[World]:
    """One world per tenant (each with its own clock, which only moves forward), the French one
    first; ids are drawn from one fixed sequence across both."""
    worlds = []
    user_numbers = itertools.count(1)
    with _fixed_ids_and_quiet():
        for scenario in (_french_bakery, _belgian_bakery):
            world = World(user_numbers)
            found = scenario(world)
            # the year 2026 is closed on the first morning of 2027
            world.close_due("2027-01-01T05:00:00.000000Z", "closures of the year 2026", found["tenant_id"])
            if scenario is _french_bakery:
                _integrity_events(world, found["tenant_id"])
            else:
                _password_reset(world, found["admin"])
            worlds.append(world)
    return worlds


def chain_summaries(records: Sequence[SealedRecord]) -> list[dict[str, Any]]:
    by_chain: dict[tuple[str, str], list[SealedRecord]] = {}
    for record in records:
        by_chain.setdefault((record.tenant_id, record.chain), []).append(record)
    summaries = []
    for (tenant_id, chain), found in sorted(by_chain.items()):
        leaves = [merkle.record_leaf_hash(r.hash) for r in found]
        summaries.append({"tenant_id": tenant_id, "chain": chain, "size": len(found),
                          "training": sorted({r.training for r in found}),
                          "types": sorted({r.type for r in found}),
                          "merkle_root": merkle.root(leaves).hex(), "head_hash": found[-1].hash})
    return summaries


def build_document() -> dict[str, Any]:
    """The content of records.json."""
    from chalicelib.domain.event_kinds import KINDS

    worlds = build_worlds()
    log = [record for world in worlds for record in world.log]
    kinds = sorted({r.data["kind"] for r in log if r.type == "event"})
    missing = sorted(KINDS - set(kinds) - set(RESERVED_KINDS))
    if missing:
        raise AssertionError(f"the scenario writes no event of kind {missing}")
    tenants, steps = [], []
    for world in worlds:
        for tenant_id in world.tenant_ids:
            tenant = world.tenants.get(tenant_id)
            tenants.append({"tenant_id": tenant_id, "company_name": tenant.company_name, "country": tenant.country,
                            "company_number": tenant.company_number, "vat_number": tenant.vat_number,
                            "time_zone": tenant.time_zone,
                            "business_day_cutoff": tenant.business_day_cutoff.strftime("%H:%M:%S")})
        for step in world.steps:
            steps.append({**step, "step": len(steps) + 1})
    return {
        "desc": "Sealed records made by the product's own builders from API request bodies and service calls "
                "(tests/vectors/real_records.py): two tenants, every record type and option, every event kind. "
                "Each step gives its input and every record it sealed (any chain, in sealing order) with its "
                "canonical bytes (UTF-8) and hash; a closure also its Merkle tree size and root and its totals.",
        "hash": "hash = hex(SHA-256(canonical bytes)); canonical bytes = JSON of the record without 'hash', keys "
                "sorted by code point, no whitespace, UTF-8 (docs/hash-format.md, section 1)",
        "tenants": tenants,
        "known_issues": KNOWN_ISSUES,
        "event_kinds_written": kinds,
        "event_kinds_not_written": RESERVED_KINDS,
        "chains": chain_summaries(log),
        "steps": steps,
    }
