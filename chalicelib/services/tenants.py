"""Tenants: read one, and the irreversible go-to-production step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.accounts import utc_now
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.identity import Caller
from chalicelib.domain.tenant import Tenant
from chalicelib.services.account_ports import AccountsStore, EventJournal


def _now() -> datetime:
    return utc_now()


class TenantService:
    def __init__(
        self, store: AccountsStore, journal: Callable[[], EventJournal], clock: Callable[[], datetime] = _now
    ) -> None:
        self._store = store
        self._journal = journal
        self._clock = clock

    def get(self, tenant_id: str) -> Tenant:
        tenant = self._store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("tenant not found", field="tenant_id")
        return tenant

    def go_live(self, caller: Caller) -> Tenant:
        """Test mode -> production, once and for ever. Production chains then start from genesis
        (chain names move from ``test.*`` to ``prod.*``); test data stays readable and apart."""
        tenant = self.get(caller.tenant_id)
        if tenant.mode == "production":
            raise Conflict(
                "the tenant is already in production; going live is irreversible and done once", field="mode"
            )
        user = self._store.get_user(caller.user_id)
        if user is None or not user.email_verified:
            raise Forbidden("going live needs an admin whose email address is verified", field="email")
        missing = tenant.missing_company_data()
        if missing:
            raise ValidationFailed(f"complete the company data first: {', '.join(missing)} missing", field=missing[0])
        live = self._store.go_live(tenant.tenant_id, self._clock())
        self._journal().record(
            live.tenant_id,
            "went_live",
            actor=caller.user_id,
            training=False,
            details={
                "production_since": live.production_since.isoformat().replace("+00:00", "Z")
                if live.production_since
                else None,
                "company_number": live.company_number,
                "vat_number": live.vat_number,
            },
        )
        return live
