"""Tenants: read one, change its settings, and the irreversible go-to-production step.

Settings rule (docs/user-guide.md, "Tenant settings"): the time zone and the business-day
cut-off decide the bounds of every business day, so they may change only while the tenant has
closed no period on any chain. Afterwards a change would move periods already sealed (and make
the next closure overlap or leave a gap): it is a 409 naming the field. Opening hours change at
any time; they only feed the after-hours anomaly rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.accounts import utc_now
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.identity import Caller
from chalicelib.domain.tenant import CLOCK_FIELDS, Tenant, parse_settings_change
from chalicelib.ports.accounts import AccountsStore, EventJournal


def _now() -> datetime:
    return utc_now()


def tenant_of(caller: Caller, tenants) -> Tenant:
    """The caller's tenant: as the access check read it with the membership (one consistent read
    of the same request), else from ``tenants`` (callers built without an access check)."""
    if caller.tenant is not None and caller.tenant.tenant_id == caller.tenant_id:
        return caller.tenant
    return tenants.get(caller.tenant_id)


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

    def configure(
        self, caller: Caller, raw: Any, *, closed_periods: Callable[[str], Iterable[tuple[str, str, str]]]
    ) -> Tenant:
        """Apply a settings change (``parse_settings_change``) and journal it (``config_changed``
        with the changed fields ``before`` and ``after``). A change that changes nothing writes
        nothing. ``closed_periods(tenant_id)`` yields the tenant's closures as
        ``(chain, kind, period)``; any one of them freezes ``CLOCK_FIELDS``."""
        tenant = self.get(caller.tenant_id)
        updated = tenant.with_settings(**parse_settings_change(raw))
        changed = tenant.changed_settings(updated)
        if not changed:
            return tenant
        moved = [name for name in CLOCK_FIELDS if name in changed]
        if moved:
            closed = next(iter(closed_periods(tenant.tenant_id)), None)
            if closed is not None:
                chain, kind, period = closed
                raise Conflict(
                    f"{moved[0]} cannot change once a period is closed (the {kind} {period} of {chain} is): "
                    "closed periods keep the business days they were sealed with. Only opening_hours "
                    "can still change.",
                    field=moved[0],
                )
        try:
            saved = self._store.update_tenant_settings(tenant, updated)
        except Conflict as exc:
            raise Conflict(
                "the settings were changed meanwhile; read them again and retry", field=changed[0]
            ) from exc
        before, after = tenant.settings(), saved.settings()
        self._journal().record(
            saved.tenant_id,
            "config_changed",
            actor=caller.user_id,
            training=saved.training,
            details={
                "changed": changed,
                "before": {name: before[name] for name in changed},
                "after": {name: after[name] for name in changed},
            },
        )
        return saved

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
