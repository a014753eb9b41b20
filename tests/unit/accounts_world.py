"""In-memory wiring of the accounts services for unit tests (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.accounts_memory import InMemoryAccountsStore, InMemoryIdentity, InMemoryJournal, InMemoryMailer
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.domain.accounts import SignInPolicy
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Role
from chalicelib.services.access import AccessService
from chalicelib.services.accounts import AccountsService, SignUp
from chalicelib.services.signin import SignInService
from chalicelib.services.signin_failures import SignInFailures
from chalicelib.services.tenants import TenantService

PASSWORD = "Correct-Horse-42"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    store: InMemoryAccountsStore
    identity: InMemoryIdentity
    mailer: InMemoryMailer
    journal: InMemoryJournal
    clock: Clock
    accounts: AccountsService
    tenants: TenantService
    signin: SignInService
    access: AccessService
    ops: InMemoryOpsStore
    failures: SignInFailures

    def signup(self, email="owner@example.com", country="BE", number="0403170701", verify=True, **kw):
        if country == "FR":
            number = "732829320" if number == "0403170701" else number
            kw.setdefault("vat_number", "FR44" + number)
            kw.setdefault("address_postal_code", "75008")
        cmd = SignUp(
            **{
                "email": email,
                "password": PASSWORD,
                "company_name": "Boulangerie",
                "country": country,
                "company_number": number,
                "vat_number": "BE" + number,
                "address_line1": "Rue de la Loi 16",
                "address_postal_code": "1000",
                "address_city": "Bruxelles",
                **kw,
            }
        )
        result = self.accounts.signup(cmd)
        if verify:
            self.accounts.verify_email(result.verification_token)
        return result

    def caller(self, tenant_id: str, email: str) -> Caller:
        user_id = self.store.user_id_for_email(email)
        return self.access.authorize(Principal(user_id, email), tenant_id, "tenant.read")

    def join(self, tenant_id: str, admin_email: str, email: str, role: str) -> Caller:
        admin = self.caller(tenant_id, admin_email)
        if role == "auditor":
            self.accounts.grant_auditor(admin, email, 30)
        else:
            self.accounts.invite(admin, email, role)
        self.accounts.accept_invitation(self.mailer.token_for(email), PASSWORD)
        return Caller(Principal(self.store.user_id_for_email(email), email), tenant_id, Role(role))


def world(policy: SignInPolicy | None = None) -> World:
    clock = Clock()
    store, identity, mailer, journal = (
        InMemoryAccountsStore(),
        InMemoryIdentity(clock),
        InMemoryMailer(),
        InMemoryJournal(),
    )
    ops = InMemoryOpsStore()
    failures = SignInFailures(ops, lambda: journal, clock=clock)
    return World(
        store,
        identity,
        mailer,
        journal,
        clock,
        AccountsService(store, identity, mailer, lambda: journal, clock=clock),
        TenantService(store, lambda: journal, clock=clock),
        SignInService(store, identity, lambda: journal, policy, clock=clock, failures=failures),
        AccessService(store, clock),
        ops,
        failures,
    )
