"""Test mode, then production: the irreversible, journaled go-live."""

import pytest

from tests.support.users import count_all, member, signed_up_account

pytestmark = pytest.mark.functional


def test_a_new_tenant_is_in_test_mode_and_marked_as_training_data(api, stack):
    owner = signed_up_account(api, stack)
    tenant = api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}").json
    assert (tenant["mode"], tenant["training"], tenant["chain_mode"]) == ("test", True, "test")
    assert tenant.get("production_since") is None


def test_going_live_is_irreversible_and_recorded_as_official(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    live = admin.post(f"/v1/tenants/{owner.tenant_id}/go-live", {"confirm": True})
    assert live.status == 200, live
    assert (live.json["mode"], live.json["training"], live.json["chain_mode"]) == ("production", False, "prod")
    assert admin.get(f"/v1/tenants/{owner.tenant_id}").json["production_since"] == live.json["production_since"]
    events = admin.get(f"/v1/tenants/{owner.tenant_id}/events").json["events"]
    assert events[-1]["kind"] == "went_live" and events[-1]["training"] is False
    assert all(e["training"] for e in events[:-1])  # what happened in test mode stays marked
    before = count_all(stack)
    again = admin.post(f"/v1/tenants/{owner.tenant_id}/go-live", {"confirm": True})
    assert again.status == 409 and again.json["field"] == "mode"
    assert count_all(stack) == before


def test_after_go_live_the_sign_in_events_are_official(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    admin.post(f"/v1/tenants/{owner.tenant_id}/go-live", {"confirm": True})
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    events = admin.get(f"/v1/tenants/{owner.tenant_id}/events").json["events"]
    assert events[-1]["kind"] == "signin_succeeded" and events[-1]["actor"] == seller.user_id
    assert events[-1]["training"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "confirm"),
        ({"confirm": False}, "confirm"),
        ({"confirm": "yes"}, "confirm"),
        ({"confirm": True, "mode": "test"}, "mode"),
    ],
)
def test_going_live_needs_an_explicit_confirmation(api, stack, body, field):
    owner = signed_up_account(api, stack)
    before = count_all(stack)
    reply = api.with_token(owner.token).post(f"/v1/tenants/{owner.tenant_id}/go-live", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before
    assert api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}").json["mode"] == "test"


@pytest.mark.parametrize("role", ["accountant", "manager", "seller"])
def test_only_an_admin_goes_live(api, stack, role):
    owner = signed_up_account(api, stack)
    other = member(api, stack, owner.tenant_id, owner.token, role)
    before = count_all(stack)
    reply = api.with_token(other.token).post(f"/v1/tenants/{owner.tenant_id}/go-live", {"confirm": True})
    assert reply.status == 403 and reply.json["permission"] == "tenant.go_live"
    assert count_all(stack) == before
