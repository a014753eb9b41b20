"""The AccountsStore contract against the DynamoDB adapter on the embedded stack, and items written
before display names existed."""

import uuid
from dataclasses import replace

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
