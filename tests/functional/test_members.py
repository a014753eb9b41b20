"""Members, roles, invitations and auditor grants through the HTTP API."""

import pytest

from tests.support.users import (
    PASSWORD,
    count_all,
    mailed_token,
    member,
    sign_in,
    signed_up_account,
    unique_email,
)

pytestmark = pytest.mark.functional


@pytest.fixture
def owner(api, stack):
    return signed_up_account(api, stack)


def kinds(api, account):
    return [
        e["kind"] for e in api.with_token(account.token).get(f"/v1/tenants/{account.tenant_id}/events").json["events"]
    ]


def test_an_admin_invites_a_seller_who_joins_and_signs_in(api, stack, owner):
    admin = api.with_token(owner.token)
    email = unique_email("seller")
    invited = admin.post(f"/v1/tenants/{owner.tenant_id}/invitations", {"email": email, "role": "seller"})
    assert invited.status == 201 and invited.json["status"] == "pending", invited
    pending = admin.get(f"/v1/tenants/{owner.tenant_id}/members").json["invitations"]
    assert [i["email"] for i in pending] == [email]
    accepted = api.post("/v1/invitations/accept", {"token": mailed_token(api, email), "password": PASSWORD})
    assert accepted.status == 200 and accepted.json["account"] == "created" and accepted.json["role"] == "seller"
    seller = api.with_token(sign_in(api, email)["id_token"])
    assert seller.get(f"/v1/tenants/{owner.tenant_id}").status == 200
    assert seller.get(f"/v1/tenants/{owner.tenant_id}/members").status == 403
    roster = admin.get(f"/v1/tenants/{owner.tenant_id}/members").json
    assert sorted(m["role"] for m in roster["members"]) == ["admin", "seller"] and roster["invitations"] == []
    assert kinds(api, owner)[-3:] == ["invitation_sent", "invitation_accepted", "signin_succeeded"]


def test_an_accountant_keeps_the_books_of_many_tenants_and_picks_one_in_the_path(api, stack, owner):
    other = signed_up_account(api, stack, "FR")
    accountant = member(api, stack, owner.tenant_id, owner.token, "accountant")
    api.with_token(other.token).post(
        f"/v1/tenants/{other.tenant_id}/invitations", {"email": accountant.email, "role": "accountant"}
    )
    joined = api.post("/v1/invitations/accept", {"token": mailed_token(api, accountant.email)})
    assert joined.status == 200 and joined.json["account"] == "existing"
    client = api.with_token(accountant.token)
    me = client.get("/v1/me").json
    assert {m["tenant_id"] for m in me["memberships"]} == {owner.tenant_id, other.tenant_id}
    assert client.get(f"/v1/tenants/{other.tenant_id}").json["country"] == "FR"
    assert client.get(f"/v1/tenants/{owner.tenant_id}").json["country"] == "BE"


def test_the_admin_changes_roles_and_the_change_is_journaled(api, stack, owner):
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    admin = api.with_token(owner.token)
    changed = admin.put(f"/v1/tenants/{owner.tenant_id}/members/{seller.user_id}", {"role": "manager"})
    assert changed.status == 200 and changed.json["role"] == "manager", changed
    assert api.with_token(seller.token).get(f"/v1/tenants/{owner.tenant_id}/members").status == 403
    event = api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}/events").json["events"][-1]
    assert event["kind"] == "role_changed" and event["details"] == {
        "user_id": seller.user_id,
        "from": "seller",
        "to": "manager",
    }
    assert event["actor"] == owner.user_id


def test_a_disabled_member_is_refused_at_once_and_can_be_enabled_again(api, stack, owner):
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    path = f"/v1/tenants/{owner.tenant_id}/members/{seller.user_id}"
    assert api.with_token(owner.token).put(path, {"disabled": True}).json["status"] == "disabled"
    refused = api.with_token(seller.token).get(f"/v1/tenants/{owner.tenant_id}")
    assert refused.status == 404 and refused.json["detail"] == "tenant not found"
    assert api.with_token(owner.token).put(path, {"disabled": False}).json["status"] == "active"
    assert api.with_token(seller.token).get(f"/v1/tenants/{owner.tenant_id}").status == 200
    assert kinds(api, owner)[-2:] == ["member_disabled", "member_enabled"]


def test_the_last_admin_cannot_be_demoted_or_disabled(api, stack, owner):
    path = f"/v1/tenants/{owner.tenant_id}/members/{owner.user_id}"
    before = count_all(stack)
    for body, field in (({"role": "seller"}, "role"), ({"disabled": True}, "disabled")):
        reply = api.with_token(owner.token).put(path, body)
        assert reply.status == 409 and reply.json["field"] == field, reply
    assert count_all(stack) == before
    second = member(api, stack, owner.tenant_id, owner.token, "admin")
    assert api.with_token(second.token).put(path, {"role": "accountant"}).status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope", "role": "seller"}, "email"),
        ({"email": "a@b.example", "role": "auditor"}, "role"),
        ({"email": "a@b.example", "role": "owner"}, "role"),
        ({"email": "a@b.example"}, "role"),
        ({"email": "a@b.example", "role": "seller", "tenant_id": "t" + "0" * 20}, "tenant_id"),
    ],
)
def test_a_bad_invitation_is_a_422_naming_the_field_and_nothing_is_written(api, stack, owner, body, field):
    before = count_all(stack)
    reply = api.with_token(owner.token).post(f"/v1/tenants/{owner.tenant_id}/invitations", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_inviting_an_active_member_is_a_409(api, stack, owner):
    reply = api.with_token(owner.token).post(
        f"/v1/tenants/{owner.tenant_id}/invitations", {"email": owner.email.upper(), "role": "seller"}
    )
    assert reply.status == 409 and reply.json["field"] == "email"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"role": "auditor"}, "role"),
        ({"disabled": "yes"}, "disabled"),
        ({"role": "seller", "extra": 1}, "extra"),
    ],
)
def test_a_bad_member_change_is_a_422_naming_the_field(api, stack, owner, body, field):
    before = count_all(stack)
    reply = api.with_token(owner.token).put(f"/v1/tenants/{owner.tenant_id}/members/{owner.user_id}", body)
    assert reply.status in (400, 422) and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_changing_someone_who_is_not_a_member_is_a_404(api, stack, owner):
    reply = api.with_token(owner.token).put(f"/v1/tenants/{owner.tenant_id}/members/nobody", {"role": "seller"})
    assert reply.status == 404 and reply.json["field"] == "user_id"


def test_an_invitation_token_is_single_use_and_a_new_account_needs_a_good_password(api, stack, owner):
    email = unique_email()
    api.with_token(owner.token).post(f"/v1/tenants/{owner.tenant_id}/invitations", {"email": email, "role": "manager"})
    token = mailed_token(api, email)
    before = count_all(stack)
    for body, field in (
        ({"token": token}, "password"),
        ({"token": token, "password": "weak"}, "password"),
        ({"token": "forged"}, "token"),
    ):
        reply = api.post("/v1/invitations/accept", body)
        assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before
    assert api.post("/v1/invitations/accept", {"token": token, "password": PASSWORD}).status == 200
    again = api.post("/v1/invitations/accept", {"token": token, "password": PASSWORD})
    assert again.status == 422 and again.json["field"] == "token"


def test_an_auditor_gets_read_only_access_until_the_grant_is_revoked(api, stack, owner):
    admin = api.with_token(owner.token)
    email = unique_email("inspector")
    granted = admin.post(
        f"/v1/tenants/{owner.tenant_id}/auditor-grants", {"email": email, "days": 10, "note": "SPF Finances, case 7"}
    )
    assert granted.status == 201 and granted.json["status"] == "pending", granted
    accepted = api.post("/v1/invitations/accept", {"token": mailed_token(api, email), "password": PASSWORD})
    assert accepted.json["role"] == "auditor" and accepted.json["valid_until"] == granted.json["valid_until"]
    auditor = api.with_token(sign_in(api, email)["id_token"])
    assert auditor.get(f"/v1/tenants/{owner.tenant_id}/events").status == 200
    assert (
        auditor.post(f"/v1/tenants/{owner.tenant_id}/invitations", {"email": unique_email(), "role": "seller"}).status
        == 403
    )
    grants = admin.get(f"/v1/tenants/{owner.tenant_id}/auditor-grants").json["grants"]
    assert [(g["grant_id"], g["status"]) for g in grants] == [(granted.json["grant_id"], "active")]
    revoked = admin.delete(f"/v1/tenants/{owner.tenant_id}/auditor-grants/{granted.json['grant_id']}")
    assert revoked.status == 200 and revoked.json["status"] == "revoked"
    assert auditor.get(f"/v1/tenants/{owner.tenant_id}").status == 404
    again = admin.delete(f"/v1/tenants/{owner.tenant_id}/auditor-grants/{granted.json['grant_id']}")
    assert again.status == 409
    assert kinds(api, owner)[-1] == "auditor_revoked"
    assert "auditor_granted" in kinds(api, owner) and "invitation_accepted" in kinds(api, owner)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.example", "days": 0}, "days"),
        ({"email": "a@b.example", "days": 367}, "days"),
        ({"email": "a@b.example", "days": "ten"}, "days"),
        ({"email": "bad", "days": 3}, "email"),
        ({"days": 3}, "email"),
    ],
)
def test_a_bad_auditor_grant_is_a_422_naming_the_field_and_nothing_is_written(api, stack, owner, body, field):
    before = count_all(stack)
    reply = api.with_token(owner.token).post(f"/v1/tenants/{owner.tenant_id}/auditor-grants", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_an_auditor_cannot_be_changed_through_members(api, stack, owner):
    auditor = member(api, stack, owner.tenant_id, owner.token, "auditor")
    reply = api.with_token(owner.token).put(
        f"/v1/tenants/{owner.tenant_id}/members/{auditor.user_id}", {"role": "admin"}
    )
    assert reply.status == 409


def test_a_platform_operator_cannot_join_or_read_a_tenant(api, stack, owner):
    from chalicelib import bootstrap

    email = unique_email("operator")
    bootstrap.container().accounts.create_operator(email, PASSWORD)
    refused = api.with_token(owner.token).post(
        f"/v1/tenants/{owner.tenant_id}/invitations", {"email": email, "role": "accountant"}
    )
    assert refused.status == 422 and refused.json["field"] == "email"
    operator = api.with_token(sign_in(api, email)["id_token"])
    assert operator.get("/v1/me").json["operator"] is True
    assert operator.get(f"/v1/tenants/{owner.tenant_id}").status == 404


def test_an_invitation_retried_with_the_same_idempotency_key_is_sent_once(api, stack, owner):
    email = unique_email()
    admin = api.with_token(owner.token)
    headers = {"Idempotency-Key": "invite-1"}
    path = f"/v1/tenants/{owner.tenant_id}/invitations"
    first = admin.post(path, {"email": email, "role": "seller"}, headers=headers)
    again = admin.post(path, {"email": email, "role": "seller"}, headers=headers)
    assert first.status == again.status == 201 and first.json == again.json
    assert len(admin.get(f"/v1/tenants/{owner.tenant_id}/members").json["invitations"]) == 1


@pytest.mark.parametrize("kind", ["invitation", "auditor grant"])
def test_the_invitation_mail_links_to_the_console_and_keeps_the_curl_line(api, stack, owner, kind):
    from chalicelib import bootstrap
    from tests.support.users import outbox

    email = unique_email("linked")
    path, body = (("invitations", {"email": email, "role": "seller"}) if kind == "invitation"
                  else ("auditor-grants", {"email": email, "days": 5}))
    assert api.with_token(owner.token).post(f"/v1/tenants/{owner.tenant_id}/{path}", body).status == 201
    token = mailed_token(api, email)
    text = outbox(api, email)[0]["text"]
    base = bootstrap.settings().public_base_url.rstrip("/")
    assert f"  {base}/#/accept?token={token}\n" in text
    assert f"curl -X POST {base}/v1/invitations/accept" in text and f'"token": "{token}"' in text
