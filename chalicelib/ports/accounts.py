"""Ports of the accounts services: the store (accounts table), the identity provider (Cognito),
the mailer (SES) and the event journal. Adapters live in ``chalicelib.adapters``; the in-memory
store (``adapters.accounts_memory``) backs the unit tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.accounts import (
    AuditorGrant,
    Invitation,
    Membership,
    OneTimeToken,
    ThrottleState,
    User,
)
from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.domain.tenant import Tenant


class BadCredentials(Unauthenticated):
    """Wrong email or password (never says which)."""

    code = "bad-credentials"
    title = "Sign-in refused"


class EmailNotVerified(Forbidden):
    code = "email-not-verified"
    title = "Email address not verified"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    expires_in: int
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 (a token type, not a secret)


@dataclass(frozen=True)
class AccessRecord:
    """What the access check of one request reads, together: the user, the membership, the
    tenant, and whether the token's sign-in session was signed out."""

    user: User | None
    membership: Membership | None
    tenant: Tenant | None
    session_revoked: bool


@dataclass(frozen=True)
class TenantRoster:
    members: list[Membership]
    invitations: list[Invitation]
    grants: list[AuditorGrant]


class AccountsStore(Protocol):
    """The accounts table. Every multi-item change is one transaction; a broken uniqueness or
    state condition raises ``Conflict`` naming the field, and nothing is written."""

    # users and uniqueness
    def get_user(self, user_id: str) -> User | None: ...
    def user_id_for_email(self, email: str) -> str | None: ...
    def tenant_for_company(self, country: str, company_number: str) -> str | None: ...
    def create_signup(self, tenant: Tenant, user: User, admin: Membership, token: OneTimeToken) -> None: ...
    def create_user(self, user: User) -> None: ...
    def verify_email(self, token: OneTimeToken, now: datetime) -> None: ...
    def set_operator(self, user_id: str) -> None: ...  # Conflict(field="user_id") if unknown
    def operators(self) -> list[User]: ...  # every operator account (command line only: may scan)

    # tenants
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def go_live(self, tenant_id: str, at: datetime) -> Tenant: ...
    # time zone, cut-off and opening hours of ``after``, if the stored ones are still ``before``'s
    # (else Conflict, field "settings")
    def update_tenant_settings(self, before: Tenant, after: Tenant) -> Tenant: ...

    # tokens
    def get_token(self, token_hash: str) -> OneTimeToken | None: ...
    def put_token(self, token: OneTimeToken) -> None: ...

    # memberships, invitations, grants
    def get_access(self, tenant_id: str, user_id: str) -> tuple[User | None, Membership | None]: ...
    # the user, membership, tenant and signed-out session (if ``session_id``) in one consistent read
    def read_access(self, tenant_id: str, user_id: str, session_id: str = "") -> AccessRecord: ...
    def roster(self, tenant_id: str) -> TenantRoster: ...
    def memberships_of(self, user_id: str) -> list[Membership]: ...
    def create_invitation(self, invitation: Invitation, token: OneTimeToken, grant: AuditorGrant | None) -> None: ...
    def get_invitation(self, tenant_id: str, invitation_id: str) -> Invitation | None: ...
    def accept_invitation(
        self,
        token: OneTimeToken,
        invitation: Invitation,
        membership: Membership,
        new_user: User | None,
        now: datetime,
    ) -> None: ...
    def update_membership(self, old: Membership, new: Membership) -> None: ...
    def get_grant(self, tenant_id: str, grant_id: str) -> AuditorGrant | None: ...
    def revoke_grant(self, grant: AuditorGrant, now: datetime) -> None: ...

    # sign-in throttle and signed-out sessions
    def get_throttle(self, key: str) -> ThrottleState: ...
    def save_throttle(self, key: str, state: ThrottleState, expires: datetime | None) -> None: ...
    def clear_throttle(self, key: str) -> None: ...
    def revoke_session(self, session_id: str, user_id: str, until: datetime) -> None: ...
    def session_revoked(self, session_id: str) -> bool: ...


class IdentityProvider(Protocol):
    """The user pool. Passwords never leave it."""

    def sign_up(self, email: str, password: str) -> str: ...  # -> user id (sub)
    def confirm(self, user_id: str) -> None: ...
    def delete(self, user_id: str) -> None: ...
    def pool_user_since(self, email: str) -> datetime | None: ...  # creation time, None if absent
    def sign_in(self, email: str, password: str) -> Tokens: ...
    def refresh(self, refresh_token: str) -> Tokens: ...
    def sign_out_everywhere(self, username: str) -> None: ...  # email or sub
    def set_password(self, user_id: str, password: str) -> None: ...  # a reset; the pool's refusal names "new_password"


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str: ...


class EventJournal(Protocol):
    def record(
        self, tenant_id: str, kind: str, *, actor: str | None, details: dict[str, Any], training: bool = False
    ) -> Any: ...
