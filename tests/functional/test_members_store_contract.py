"""The AccountsStore contract against the DynamoDB adapter on the embedded stack, and items written
before display names existed."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.domain.accounts import new_id
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import Permission
from chalicelib.services.access import AccessService
from tests.unit.test_accounts_store_contract import AccountsStoreContract

pytestmark = pytest.mark.functional


class TestDynamoAccountsStore(AccountsStoreContract):
    @pytest.fixture
    def store(self, container):
        return container.accounts_store


def test_items_written_before_display_names_read_as_named_by_their_email_and_can_be_renamed(container):
    """The exact shape the adapter wrote before display names: no ``display_name`` attribute."""
    from boto3.dynamodb.types import TypeSerializer

    tenant_id, user_id, email = new_id("t"), str(uuid.uuid4()), f"old-{uuid.uuid4().hex[:8]}@example.com"
    old_items = [
        {"pk": f"USER#{user_id}", "sk": "USER", "type": "user", "user_id": user_id, "email": email,
         "email_verified": True, "operator": False, "created_at": "2025-01-02T03:04:05.000Z"},
        {"pk": f"TENANT#{tenant_id}", "sk": f"MEMBER#{user_id}", "type": "membership",
         "gsi1pk": f"USER#{user_id}", "gsi1sk": f"MEMBER#{tenant_id}", "tenant_id": tenant_id,
         "user_id": user_id, "email": email, "role": "seller", "status": "active",
         "joined_at": "2025-01-02T03:04:05.000Z"},
    ]
    table = container.settings.table_name("accounts")
    for item in old_items:
        container.dynamodb.put_item(TableName=table, Item={k: TypeSerializer().serialize(v) for k, v in item.items()})
    store = container.accounts_store
    user, member = store.get_access(tenant_id, user_id)
    assert (user.display_name, member.display_name, member.name) == ("", "", email)
    access = AccessService(store)
    for principal in (Principal(user_id, email), Principal(user_id, "")):  # id token, access token
        assert access.authorize(principal, tenant_id, Permission.SALE_RECORD).name == email
    store.update_membership(member, replace(member, display_name="Alice Martin"))
    assert access.authorize(Principal(user_id, ""), tenant_id, Permission.SALE_RECORD).name == "Alice Martin"


def test_items_of_the_hand_written_adapter_read_through_the_models_and_write_back_the_same(container):
    """One item per record kind exactly as the converters before the pynamodb models (decision
    0025) stored it, read through the store; what the store writes has the same shape."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    from chalicelib.domain.accounts import OneTimeToken
    from tests.unit.test_accounts_store_contract import NOW, Signup

    t, u, g, i = new_id("t"), str(uuid.uuid4()), new_id("g"), new_id("i")
    at, number, token_hash = "2025-01-02T03:04:05.000Z", f"0{uuid.uuid4().int % 10**9:09d}", uuid.uuid4().hex * 2
    email = f"legacy-{uuid.uuid4().hex[:8]}@example.com"
    items = [
        {"pk": f"TENANT#{t}", "sk": "TENANT", "type": "tenant", "tenant_id": t, "company_name": "Co", "country": "BE",
         "company_number": number, "vat_number": "BE" + number,
         "address": {"line1": "Rue 1", "line2": "", "postal_code": "1000", "city": "Bruxelles", "country": "BE"},
         "time_zone": "Europe/Brussels", "business_day_cutoff": "05:30", "mode": "test", "created_at": at,
         "admin_count": 1, "opening_hours": {"mon": ["09:00-19:00"], "tue": [], "wed": [], "thu": [], "fri": [],
                                             "sat": [], "sun": []}},
        {"pk": f"USER#{u}", "sk": "USER", "type": "user", "user_id": u, "email": email, "email_verified": True,
         "operator": False, "created_at": at, "display_name": "Ann"},
        {"pk": f"EMAIL#{email}", "sk": "EMAIL", "type": "email", "user_id": u},
        {"pk": f"COMPANY#BE#{number}", "sk": "COMPANY", "type": "company", "tenant_id": t},
        {"pk": f"TENANT#{t}", "sk": f"MEMBER#{u}", "type": "membership", "gsi1pk": f"USER#{u}",
         "gsi1sk": f"MEMBER#{t}", "tenant_id": t, "user_id": u, "email": email, "role": "admin", "status": "active",
         "joined_at": at, "display_name": "Ann"},
        {"pk": f"TENANT#{t}", "sk": f"INVITE#{i}", "type": "invitation", "invitation_id": i, "tenant_id": t,
         "email": "aud@example.com", "role": "auditor", "invited_by": u, "created_at": at,
         "expires": "2999-01-01T00:00:00.000Z", "status": "pending", "grant_id": g},
        {"pk": f"TENANT#{t}", "sk": f"GRANT#{g}", "type": "auditor_grant", "grant_id": g, "tenant_id": t,
         "email": "aud@example.com", "valid_until": "2999-01-01T00:00:00.000Z", "granted_by": u, "created_at": at,
         "status": "pending", "note": "FY 2024"},
        {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN", "type": "token", "purpose": "verify_email",
         "expires": "2999-01-01T00:00:00.000Z", "expires_at": 32472230400, "user_id": u},
        {"pk": f"THROTTLE#{token_hash}", "sk": "SIGNIN", "type": "throttle", "failures": 4,
         "last_failure_at": at, "expires_at": 1735790645},
        {"pk": f"SESSION#{token_hash}", "sk": "REVOKED", "type": "revoked_session", "user_id": u,
         "expires_at": 1735790645},
    ]
    table = container.settings.table_name("accounts")
    ser, de = TypeSerializer(), TypeDeserializer()
    for item in items:
        container.dynamodb.put_item(TableName=table, Item={k: ser.serialize(v) for k, v in item.items()})

    def raw(pk: str, sk: str) -> dict:
        got = container.dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        return {k: de.deserialize(v) for k, v in got.items()}

    store = container.accounts_store
    access = store.read_access(t, u, token_hash)
    assert access.user.display_name == "Ann" and access.membership.role == "admin" and access.session_revoked
    assert access.tenant.business_day_cutoff.strftime("%H:%M") == "05:30" and access.tenant.opening_hours
    assert store.user_id_for_email(email) == u and store.tenant_for_company("BE", number) == t
    roster = store.roster(t)
    assert [x.invitation_id for x in roster.invitations] == [i] and [x.note for x in roster.grants] == ["FY 2024"]
    assert store.get_token(token_hash).user_id == u and store.get_throttle(token_hash).failures == 4
    assert [m.tenant_id for m in store.memberships_of(u)] == [t]

    # written again through the models: the same items, attribute for attribute
    store.put_token(OneTimeToken(token_hash[::-1], "verify_email", datetime(2999, 1, 1, tzinfo=UTC), user_id=u))
    token = raw(f"TOKEN#{token_hash[::-1]}", "TOKEN")
    assert token == {**items[7], "pk": f"TOKEN#{token_hash[::-1]}"}  # expires_at: one day past expiry
    s = Signup()
    s.create(store)
    assert set(raw(f"TENANT#{s.tenant.tenant_id}", "TENANT")) == set(items[0]) - {"opening_hours"}
    assert set(raw(f"USER#{s.user.user_id}", "USER")) == set(items[1]) - {"display_name"}
    assert set(raw(f"TENANT#{s.tenant.tenant_id}", f"MEMBER#{s.user.user_id}")) == set(items[4]) - {"display_name"}
    assert raw(f"TENANT#{s.tenant.tenant_id}", "TENANT")["created_at"] == "2025-03-01T12:00:00.123Z" == \
        NOW.isoformat(timespec="milliseconds").replace("+00:00", "Z")
