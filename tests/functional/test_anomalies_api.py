"""Anomalies found on the event stream are listed for the tenant admin through
GET /v1/tenants/{tenant_id}/anomalies (permission anomalies.read), newest first, paginated."""

from __future__ import annotations

import pytest

from chalicelib.domain.permissions import Permission, Role, allows
from tests.support.continuous import new_tenant, private_stack
from tests.support.fake_access import OneTenantAccess, RoleTokens

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-anomalies")) as cv:
        yield cv


@pytest.fixture
def shop(cv):
    from app import app
    from tests.support.client import ApiClient

    tenant = new_tenant()
    container = cv.container(token_verifier=RoleTokens(), access=OneTenantAccess(tenant))
    return container, tenant, ApiClient(app)


def test_a_burst_of_failed_sign_ins_is_listed_for_the_admin(cv, shop):
    container, tenant, api = shop
    # GIVEN five failed sign-ins for one account, recorded in the event journal and streamed
    for _ in range(5):
        container.event_journal.record(tenant, "signin_failed", actor=None,
                                       details={"email": "ann@shop.example", "reason": "bad password"})
    container.event_journal.record(tenant, "export_requested", actor="u-accountant", details={"scope": "2026"})
    cv.drain()
    # WHEN the admin lists the anomalies
    reply = api.with_token("token-admin").get(f"/v1/tenants/{tenant}/anomalies?limit=1")
    # THEN the newest comes first, and the next page has the other
    assert reply.status == 200, reply
    first = reply.json
    assert [a["rule"] for a in first["anomalies"]] == ["first_export"]
    assert first["anomalies"][0]["details"]["actor"] == "u-accountant"
    rest = api.with_token("token-admin").get(
        f"/v1/tenants/{tenant}/anomalies?limit=5&cursor={first['next_cursor']}").json
    assert [(a["rule"], a["severity"]) for a in rest["anomalies"]] == [("signin_burst", "warning")]
    assert rest["anomalies"][0]["details"]["failures"] == 5
    assert rest["next_cursor"] is None


def test_only_roles_with_the_anomalies_permission_see_them(shop):
    _, tenant, api = shop
    assert allows(Role.SELLER, Permission.ANOMALIES_READ) is False
    assert api.with_token("token-seller").get(f"/v1/tenants/{tenant}/anomalies").status == 403
    assert api.get(f"/v1/tenants/{tenant}/anomalies").status == 401
    assert api.with_token("token-admin").get(f"/v1/tenants/{tenant}/anomalies?cursor=%%%").status == 422
