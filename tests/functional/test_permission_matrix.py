"""Every route x every role x a member of another tenant x the platform operator.

Generic over the app's routes and the endpoint registry, so routes added later are covered
without touching this file: a role the matrix refuses gets a 403 naming the permission, a
non-member (another tenant's admin, the operator) gets the 404 that does not leak the tenant's
existence, and a refused request writes nothing anywhere.
"""

from __future__ import annotations

import re

import pytest

from chalicelib.domain.permissions import Permission, PlatformPermission, Role, allows
from tests.support.users import PASSWORD, count_all, member, sign_in, signed_up_account, unique_email

pytestmark = pytest.mark.functional

TENANT_ROLES = [Role.ADMIN, Role.ACCOUNTANT, Role.MANAGER, Role.SELLER, Role.AUDITOR]


def _mounted():
    from app import app
    from chalicelib.api.routing import REGISTRY

    return [ep for ep in REGISTRY if ep.method in app.routes.get(ep.path, {})]


def _is(permission: str | None, kind) -> bool:
    try:
        kind(permission)
        return True
    except ValueError:
        return False


ENDPOINTS = _mounted()
TENANT_ROUTES = [ep for ep in ENDPOINTS if _is(ep.permission, Permission)]
PLATFORM_ROUTES = [ep for ep in ENDPOINTS if _is(ep.permission, PlatformPermission)]


def _id(ep) -> str:
    return f"{ep.method} {ep.path}"


def concrete(path: str, tenant_id: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: tenant_id if m.group(1) == "tenant_id" else f"unknown-{m.group(1)}", path)


@pytest.fixture(scope="module")
def cast(stack):
    """One tenant with a member of every role, another tenant's admin, and a platform operator."""
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    owner = signed_up_account(api, stack)
    tokens = {Role.ADMIN: owner.token}
    for role in TENANT_ROLES[1:]:
        tokens[role] = member(api, stack, owner.tenant_id, owner.token, role).token
    tokens["outsider"] = signed_up_account(api, stack).token
    operator_email = unique_email("operator")
    bootstrap.container().accounts.create_operator(operator_email, PASSWORD)
    tokens["operator"] = sign_in(api, operator_email)["id_token"]
    return api, owner.tenant_id, tokens


def call(api, token, ep, tenant_id):
    path = concrete(ep.path, tenant_id)
    return api.with_token(token).request(ep.method, path, {} if ep.method in ("POST", "PUT", "PATCH") else None)


def test_every_tenant_route_declares_a_tenant_permission():
    """A route under /v1/tenants/{tenant_id} that skipped the access check would be open to anyone
    signed in; routes without a tenant are public, platform, or about the caller's own account."""
    for ep in ENDPOINTS:
        if "{tenant_id}" in ep.path:
            assert _is(ep.permission, Permission), f"{_id(ep)} has no tenant permission"


@pytest.mark.parametrize("ep", TENANT_ROUTES, ids=_id)
def test_a_tenant_route_refuses_every_role_the_matrix_refuses_and_every_non_member(cast, stack, ep):
    api, tenant_id, tokens = cast
    refused = [r for r in TENANT_ROLES if not allows(r, ep.permission)]
    before = count_all(stack)
    for role in refused:
        reply = call(api, tokens[role], ep, tenant_id)
        assert reply.status == 403, (role, reply)
        assert reply.json["permission"] == ep.permission and reply.json["type"].endswith("/forbidden")
    for who in ("outsider", "operator"):
        reply = call(api, tokens[who], ep, tenant_id)
        assert reply.status == 404 and reply.json["detail"] == "tenant not found", (who, reply)
    assert count_all(stack) == before, "a refused request wrote something"


@pytest.mark.parametrize("ep", TENANT_ROUTES, ids=_id)
def test_a_tenant_route_lets_every_role_the_matrix_allows_through_the_access_check(cast, ep):
    api, tenant_id, tokens = cast
    for role in [r for r in TENANT_ROLES if allows(r, ep.permission)]:
        reply = call(api, tokens[role], ep, tenant_id)
        assert reply.status != 401, (role, reply)
        # The access check's 403 names the permission; a rule inside the route names a field (an
        # auditor and a test-mode tenant's exports, docs/roles.md "Rules inside the routes").
        assert not (reply.status == 403 and "permission" in reply.json), (role, reply)
        assert reply.status != 403 or (role, ep.permission) == (Role.AUDITOR, Permission.EXPORT), (role, reply)
        assert not (reply.status == 404 and reply.json.get("detail") == "tenant not found"), (role, reply)


@pytest.mark.parametrize("ep", PLATFORM_ROUTES, ids=_id)
def test_a_platform_route_is_for_the_operator_only(cast, stack, ep):
    api, tenant_id, tokens = cast
    before = count_all(stack)
    for who in [*TENANT_ROLES, "outsider"]:
        reply = call(api, tokens[who], ep, tenant_id)
        assert reply.status == 403, (who, reply)
    assert count_all(stack) == before
    assert call(api, tokens["operator"], ep, tenant_id).status not in (401, 403)


@pytest.mark.parametrize("ep", [ep for ep in ENDPOINTS if not ep.public], ids=_id)
def test_every_protected_route_needs_a_token(cast, ep):
    api, tenant_id, _ = cast
    assert call(api, None, ep, tenant_id).status == 401
