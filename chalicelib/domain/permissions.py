"""Who may do what inside a tenant: the one permission matrix (documented in docs/roles.md).

Tenant roles come from the membership table, never from the request. The platform operator is
not a tenant role: it is a flag on the user, and it grants support/news/mailing/alarm-reading permissions
only — no ledger permission can ever be reached through it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    MANAGER = "manager"
    SELLER = "seller"
    AUDITOR = "auditor"


class Permission(StrEnum):
    SALE_RECORD = "sale.record"
    SALE_READ_OWN = "sale.read_own"
    SALE_READ_ALL = "sale.read_all"
    JOURNAL_RECORD = "journal.record"
    LEDGER_READ = "ledger.read"  # every chain, closures, checkpoints
    # the closures and signed checkpoints of the registers' sales chains (the Z report's fingerprint,
    # past closures), not the journal; with ledger.read, of every chain
    CLOSURE_READ = "closure.read"
    ENTRY_REVERSE = "entry.reverse"
    CLOSE_DAY = "closure.day"
    CLOSE_PERIOD = "closure.period"  # month and year
    CHECKPOINT_SIGN = "checkpoint.sign"
    LEDGER_VERIFY = "ledger.verify"
    EXPORT = "export.create"
    EVENTS_READ = "events.read"
    ANOMALIES_READ = "anomalies.read"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    AUDITOR_GRANT = "auditor.grant"
    TENANT_CONFIGURE = "tenant.configure"
    TENANT_GO_LIVE = "tenant.go_live"
    TENANT_READ = "tenant.read"
    TICKET_OPEN = "ticket.open"


class PlatformPermission(StrEnum):
    SUPPORT_ANSWER = "support.answer"
    NEWS_PUBLISH = "news.publish"
    MAILING_SEND = "mailing.send"
    ALARMS_READ = "alarms.read"  # every tenant's tamper alarms (GET /v1/operator/alarms)


P = Permission
_SELLER = {P.SALE_RECORD, P.SALE_READ_OWN, P.TENANT_READ, P.TICKET_OPEN}
_MANAGER = _SELLER | {P.SALE_READ_ALL, P.ENTRY_REVERSE, P.CLOSE_DAY, P.CLOSURE_READ}
_ACCOUNTANT = {
    P.SALE_READ_OWN,
    P.SALE_READ_ALL,
    P.JOURNAL_RECORD,
    P.LEDGER_READ,
    P.CLOSURE_READ,
    P.ENTRY_REVERSE,
    P.CLOSE_DAY,
    P.CLOSE_PERIOD,
    P.CHECKPOINT_SIGN,
    P.LEDGER_VERIFY,
    P.EXPORT,
    P.EVENTS_READ,
    P.ANOMALIES_READ,
    P.MEMBERS_READ,
    P.TENANT_READ,
    P.TICKET_OPEN,
}
_ADMIN = _MANAGER | _ACCOUNTANT | {
    P.MEMBERS_MANAGE,
    P.AUDITOR_GRANT,
    P.TENANT_CONFIGURE,
    P.TENANT_GO_LIVE,
}
_AUDITOR = {
    P.SALE_READ_OWN,
    P.SALE_READ_ALL,
    P.LEDGER_READ,
    P.CLOSURE_READ,
    P.LEDGER_VERIFY,
    P.EXPORT,
    P.EVENTS_READ,
    P.TENANT_READ,
}

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(_ADMIN),
    Role.ACCOUNTANT: frozenset(_ACCOUNTANT),
    Role.MANAGER: frozenset(_MANAGER),
    Role.SELLER: frozenset(_SELLER),
    Role.AUDITOR: frozenset(_AUDITOR),
}

OPERATOR_PERMISSIONS = frozenset(PlatformPermission)


def allows(role: Role | str, permission: Permission | str) -> bool:
    try:
        return Permission(permission) in MATRIX[Role(role)]
    except ValueError:
        return False
