"""Stand-ins for the token verifier and the access check, for functional tests that drive the
API as given roles without Cognito ("token-<role>" is user u-<role>; the real verifier and access
check are tested elsewhere)."""

from __future__ import annotations

from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Role, allows


class RoleTokens:
    """Accepts "token-<role>" for user u-<role>."""

    def verify(self, token: str) -> Principal:
        if not token.startswith("token-"):
            raise Unauthenticated("bad token")
        role = token.removeprefix("token-")
        return Principal(user_id=f"u-{role}", email=f"{role}@shop.example")


class OneTenantAccess:
    """Members of one tenant, each with the role its user id names."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    def authenticate(self, principal: Principal) -> Principal:
        return principal

    def authorize(self, principal: Principal, tenant_id: str, permission) -> Caller:
        role = Role(principal.user_id.removeprefix("u-"))
        if tenant_id != self.tenant or not allows(role, permission):
            raise Forbidden(f"{role} may not {permission}")
        return Caller(principal=principal, tenant_id=tenant_id, role=role)
