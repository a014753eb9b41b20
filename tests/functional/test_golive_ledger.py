"""Going live starts fresh production chains; test-mode data stays separate and viewable."""

import pytest

from tests.support.bodies import sale_body
from tests.support.users import signed_up_account

pytestmark = pytest.mark.functional


def test_after_go_live_sales_start_a_production_chain_from_genesis(api, stack):
    account = signed_up_account(api, stack)
    client = api.with_token(account.token)
    base = f"/v1/tenants/{account.tenant_id}"
    training = client.post(f"{base}/sales", sale_body()).json
    assert (training["chain"], training["seq"], training["training"]) == ("test.sales.R1", 1, True)

    went_live = client.post(f"{base}/go-live", {"confirm": True})
    assert went_live.status in (200, 201), went_live

    real = client.post(f"{base}/sales", sale_body())
    assert real.status == 201, real
    assert (real.json["chain"], real.json["seq"], real.json["training"]) == ("prod.sales.R1", 1, False)
    assert real.json["prev_hash"] == "0" * 64
    # The training chain is still there, untouched, and readable.
    old = client.get(f"{base}/entries/test.sales.R1/1")
    assert old.status == 200 and old.json["hash"] == training["hash"] and old.json["training"] is True
    assert sorted(client.get(f"{base}/chains").json["chains"]) == ["prod.sales.R1", "test.sales.R1"]
