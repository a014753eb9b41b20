"""Access decisions: is this principal an active member of this tenant, and may its role do this?

The one place where a request's tenant permission is checked (called by ``api.routing.endpoint``
for every tenant route). The matrix itself is ``domain.permissions.MATRIX`` (docs/roles.md).

* Not an active member (unknown tenant, never invited, disabled, revoked, auditor grant expired,
  platform operator): 404 ``tenant not found`` -- whether the tenant exists never leaks.
* A member whose role lacks the permission: 403 naming the permission.
* The caller gets its display name from its membership (``Membership.name``: the display name,
  else the email address), so the name sealed in what it records never depends on the token.
* A token of a signed-out session (``POST /v1/auth/signout``): 401. The check lives here rather
  than in the authorizer, so that it is read with the membership and the tenant in one request,
  and so that the authorizer stays a pure signature check (API Gateway caches its answers).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.accounts import Membership, is_id, utc_now
from chalicelib.domain.errors import Forbidden, NotFound, Unauthenticated
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import OPERATOR_PERMISSIONS, Permission, PlatformPermission, Role, allows
from chalicelib.ports.accounts import AccountsStore


def _now() -> datetime:
    return utc_now()


class AccessService:
    def __init__(self, store: AccountsStore, clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._clock = clock

    def authenticate(self, principal: Principal) -> Principal:
        """The principal of a route outside any tenant, unless its session was signed out."""
        if principal.session_id and self._store.session_revoked(principal.session_id):
            raise _signed_out()
        return principal

    def membership(self, principal: Principal, tenant_id: str) -> Membership:
        """The membership of an active member, or NotFound (never says whether the tenant exists)."""
        return self._access(principal, tenant_id).membership

    def _access(self, principal: Principal, tenant_id: str):
        if not is_id(tenant_id, "t"):
            raise NotFound("tenant not found", field="tenant_id")
        found = self._store.read_access(tenant_id, principal.user_id, principal.session_id)
        if found.session_revoked:
            raise _signed_out()
        user, member = found.user, found.membership
        if user is None or user.operator or member is None or not member.is_active(self._clock()):
            raise NotFound("tenant not found", field="tenant_id")
        return found

    def membership_role(self, principal: Principal, tenant_id: str) -> Role:
        """The role of an active member, or NotFound (never says whether the tenant exists)."""
        return self.membership(principal, tenant_id).role

    def authorize(self, principal: Principal, tenant_id: str, permission: Permission | str) -> Caller:
        """The caller, with the role and display name of its membership (read from the store,
        never from the token), or NotFound / Forbidden."""
        found = self._access(principal, tenant_id)
        member = found.membership
        if not allows(member.role, permission):
            raise Forbidden(
                f"your role in this tenant ({member.role}) does not have the permission {permission}",
                permission=str(permission),
                role=str(member.role),
            )
        return Caller(principal=principal, tenant_id=tenant_id, role=member.role, display_name=member.name,
                      tenant=found.tenant)

    def authorize_platform(self, principal: Principal, permission: PlatformPermission | str) -> Principal:
        self.authenticate(principal)
        user = self._store.get_user(principal.user_id)
        if user is None or not user.operator or permission not in OPERATOR_PERMISSIONS:
            raise Forbidden(
                f"the permission {permission} belongs to the platform operator only",
                permission=str(permission),
            )
        return principal


def _signed_out() -> Unauthenticated:
    return Unauthenticated("this token's session has been signed out; sign in again")
