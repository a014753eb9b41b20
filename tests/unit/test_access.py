"""AccessService: membership decides; 404 for non-members (no existence leak), 403 for roles."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.accounts_memory import InMemoryAccountsStore
from chalicelib.domain.accounts import Membership, User
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import MATRIX, Permission, PlatformPermission, Role
from chalicelib.domain.tenant import Tenant
from chalicelib.services.access import AccessService

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "t" + "a" * 20
OTHER = "t" + "b" * 20


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store():
    s = InMemoryAccountsStore()
    for tid in (TENANT, OTHER):
        s.tenants[tid] = Tenant(tid, "Co", "BE", "0403170701", "BE0403170701")
    return s


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def access(store, clock):
    return AccessService(store, clock)


def add(store, user_id, role, tenant=TENANT, **kw):
    store.users.setdefault(user_id, User(user_id, f"{user_id}@x.example", True, kw.pop("operator", False)))
    store.members[(tenant, user_id)] = Membership(tenant, user_id, f"{user_id}@x.example", Role(role), **kw)
    return Principal(user_id, f"{user_id}@x.example")


def test_an_active_member_is_authorized_with_the_role_of_its_membership(store, access):
    principal = add(store, "u1", "seller")
    caller = access.authorize(principal, TENANT, Permission.SALE_RECORD)
    assert (caller.tenant_id, caller.role, caller.user_id) == (TENANT, Role.SELLER, "u1")


def test_a_member_of_another_tenant_gets_the_same_404_as_for_a_tenant_that_does_not_exist(store, access):
    principal = add(store, "u1", "admin", tenant=OTHER)
    with pytest.raises(NotFound) as existing:
        access.authorize(principal, TENANT, Permission.TENANT_READ)
    with pytest.raises(NotFound) as missing:
        access.authorize(principal, "t" + "c" * 20, Permission.TENANT_READ)
    assert existing.value.detail == missing.value.detail == "tenant not found"


@pytest.mark.parametrize("tenant_id", ["", "x", "TENANT#1", "t" + "A" * 20, "t" + "a" * 21, "../t"])
def test_a_malformed_tenant_id_is_a_404(store, access, tenant_id):
    principal = add(store, "u1", "admin")
    with pytest.raises(NotFound):
        access.authorize(principal, tenant_id, Permission.TENANT_READ)


def test_a_role_without_the_permission_is_a_403_naming_the_permission(store, access):
    principal = add(store, "u1", "seller")
    with pytest.raises(Forbidden) as refused:
        access.authorize(principal, TENANT, Permission.MEMBERS_MANAGE)
    assert refused.value.extra["permission"] == "members.manage"
    assert "members.manage" in refused.value.detail


@pytest.mark.parametrize("status", ["disabled", "revoked"])
def test_a_disabled_or_revoked_member_is_no_member(store, access, status):
    principal = add(store, "u1", "admin", status=status)
    with pytest.raises(NotFound):
        access.authorize(principal, TENANT, Permission.TENANT_READ)


def test_an_auditor_grant_counts_as_the_auditor_role_until_it_expires_by_itself(store, access, clock):
    principal = add(store, "u1", "auditor", valid_until=NOW + timedelta(days=1), grant_id="g" + "0" * 20)
    assert access.authorize(principal, TENANT, Permission.LEDGER_READ).role == Role.AUDITOR
    with pytest.raises(Forbidden):
        access.authorize(principal, TENANT, Permission.SALE_RECORD)
    clock.now = NOW + timedelta(days=1)
    with pytest.raises(NotFound):
        access.authorize(principal, TENANT, Permission.LEDGER_READ)


def test_a_platform_operator_is_refused_in_every_tenant_even_with_a_membership_record(store, access):
    principal = add(store, "op", "admin", operator=True)
    with pytest.raises(NotFound):
        access.authorize(principal, TENANT, Permission.TENANT_READ)


def test_an_unknown_user_is_no_member(store, access):
    with pytest.raises(NotFound):
        access.authorize(Principal("nobody", ""), TENANT, Permission.TENANT_READ)


def test_platform_permissions_belong_to_the_operator_only(store, access):
    operator = add(store, "op", "admin", tenant=OTHER, operator=True)
    admin = add(store, "u1", "admin")
    assert access.authorize_platform(operator, PlatformPermission.SUPPORT_ANSWER) == operator
    with pytest.raises(Forbidden) as refused:
        access.authorize_platform(admin, PlatformPermission.NEWS_PUBLISH)
    assert refused.value.extra["permission"] == "news.publish"
    with pytest.raises(Forbidden):
        access.authorize_platform(Principal("ghost", ""), PlatformPermission.MAILING_SEND)


def test_a_tenant_permission_is_never_a_platform_permission(store, access):
    operator = add(store, "op", "admin", tenant=OTHER, operator=True)
    with pytest.raises(Forbidden):
        access.authorize_platform(operator, Permission.LEDGER_READ)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_every_role_and_permission_is_decided_by_the_matrix(store, access, role, permission):
    principal = add(store, "u1", role, valid_until=NOW + timedelta(days=1) if role == Role.AUDITOR else None)
    if permission in MATRIX[role]:
        assert access.authorize(principal, TENANT, permission).role == role
    else:
        with pytest.raises(Forbidden):
            access.authorize(principal, TENANT, permission)
