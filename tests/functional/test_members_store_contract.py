"""The AccountsStore contract against the DynamoDB adapter on the embedded stack."""

import pytest

from tests.unit.test_accounts_store_contract import AccountsStoreContract

pytestmark = pytest.mark.functional


class TestDynamoAccountsStore(AccountsStoreContract):
    @pytest.fixture
    def store(self, container):
        return container.accounts_store
