"""Receipt proofs: each sale answer carries a short code and a QR payload; the public, rate-limited
check confirms a production receipt against the latest signed checkpoint (with an inclusion proof
anyone can verify offline), says "training data" for test mode, and reveals nothing otherwise."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.users import count_all, signed_up_account

pytestmark = pytest.mark.functional


def sale_body():
    return {
        "client_receipt_id": f"r-{uuid.uuid4().hex[:10]}",
        "register_id": "R1",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Croissant", "quantity": "3", "unit_price": "1.10", "vat_rate": "6"}],
        "payments": [{"method": "cash", "amount": "3.30"}],
    }


def path_of(qr: str) -> str:
    url = urlparse(qr)
    return f"{url.path}?{url.query}"


@pytest.fixture(scope="module")
def shop(stack):
    """A production tenant with five sales, a checkpoint signed after the fourth."""
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    account = signed_up_account(api, stack)
    admin = api.with_token(account.token)
    assert admin.post(f"/v1/tenants/{account.tenant_id}/go-live", {"confirm": True}).status == 200
    sales = [admin.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json for _ in range(4)]
    assert admin.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "prod.sales.R1"}).status == 201
    sales.append(admin.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json)
    return account, sales


@pytest.fixture
def public(api, container):
    from chalicelib.receipts import TokenBucket

    container.receipts.limiter = TokenBucket(capacity=1000)
    return api.with_token(None)


def test_a_sale_answer_carries_a_short_code_and_a_qr_payload(shop, stack):
    account, sales = shop
    sale = sales[2]
    proof = sale["receipt_proof"]
    assert proof["code"] == f"{sale['hash'][:5].upper()}-{sale['hash'][5:10].upper()}"
    # The QR code opens the console's public check page (for people); verify_url is the JSON check.
    for name, path in (("qr", "/check"), ("verify_url", "/v1/verify/receipt")):
        url = urlparse(proof[name])
        assert f"{url.scheme}://{url.netloc}" == stack.settings.public_base_url.rstrip("/")
        assert url.path == path and url.fragment == ""
        assert parse_qs(url.query) == {"t": [account.tenant_id], "c": ["prod.sales.R1"], "s": [str(sale["seq"])],
                                       "h": [sale["hash"]]}
    assert set(proof) == {"code", "qr", "verify_url"}


def test_the_qr_page_and_the_json_check_answer_the_same_receipt(shop, public):
    """The page the QR opens is served by the local gateway (the console); its query is exactly
    what the JSON check takes."""
    _, sales = shop
    proof = sales[2]["receipt_proof"]
    assert urlparse(proof["qr"]).query == urlparse(proof["verify_url"]).query
    assert public.get(path_of(proof["verify_url"])).json["status"] == "genuine"


def test_a_covered_receipt_is_genuine_with_a_proof_that_verifies_offline(shop, public):
    from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo, verify_checkpoint
    from chalicelib.domain.merkle import record_leaf_hash, verify_inclusion
    from chalicelib.verify_export.verifier import _verify

    _, sales = shop
    sale = sales[1]
    reply = public.get(path_of(sale["receipt_proof"]["verify_url"]))
    assert reply.status == 200, reply
    body = reply.json
    assert body["status"] == "genuine" and body["genuine"] and body["fiscal"]
    assert body["receipt"]["total"] == "3.30" and body["receipt"]["seq"] == sale["seq"]
    assert body["checkpoint"]["size"] == 4 and "checkpoint 4" in body["message"]["en"]
    assert set(body["receipt"]) == {"chain", "seq", "number", "kind", "business_date", "occurred_at", "total",
                                    "currency", "hash", "code", "recorded_at"}  # nothing else about the shop
    checkpoint = Checkpoint.from_text(body["checkpoint"]["text"])
    proof = [bytes.fromhex(h) for h in body["proof"]["hashes"]]
    verify_inclusion(record_leaf_hash(sale["hash"]), sale["seq"] - 1, checkpoint.size, proof, checkpoint.root_bytes)
    keys = [PublicKeyInfo(**{n: v for n, v in k.items() if n != "role"}) for k in public.get("/v1/keys").json["keys"]
            if k["role"] == "log"]
    verify_checkpoint(checkpoint, keys, lambda kid, msg, sig: _verify(
        next(k.public_key_pem for k in keys if k.key_id == kid), msg, sig))


def test_the_printed_code_is_enough(shop, public):
    account, sales = shop
    sale = sales[0]
    code = sale["receipt_proof"]["code"]
    reply = public.get(f"/v1/verify/receipt?t={account.tenant_id}&c=prod.sales.R1&s={sale['seq']}&h={code}")
    assert reply.status == 200 and reply.json["status"] == "genuine"


def test_a_receipt_not_yet_under_a_checkpoint_is_sealed_and_genuine(shop, public):
    _, sales = shop
    reply = public.get(path_of(sales[4]["receipt_proof"]["verify_url"]))
    assert reply.status == 200 and reply.json["status"] == "sealed" and reply.json["checkpoint"] is None


def test_wrong_values_are_all_the_same_404_and_reveal_nothing(shop, public, stack):
    account, sales = shop
    sale = sales[0]
    base = f"/v1/verify/receipt?t={account.tenant_id}&c=prod.sales.R1"
    wrong_hash = "0" * 64 if not sale["hash"].startswith("0") else "1" * 64
    before = count_all(stack)
    replies = [
        public.get(f"{base}&s={sale['seq']}&h={wrong_hash}"),
        public.get(f"{base}&s=999&h={sale['hash']}"),
        public.get(f"/v1/verify/receipt?t=t-nobody&c=prod.sales.R1&s=1&h={sale['hash']}"),
        public.get(f"/v1/verify/receipt?t={account.tenant_id}&c=prod.sales.R2&s=1&h={sale['hash']}"),
    ]
    assert {r.status for r in replies} == {404}
    assert len({r.json["detail"] for r in replies}) == 1
    assert count_all(stack) == before


@pytest.mark.parametrize("query, field", [
    ("t=x&c=prod.sales.R1&s=0&h=0123456789", "s"),
    ("t=x&c=prod.sales.R1&s=1&h=01234", "h"),
    ("t=x&c=prod.journal&s=1&h=0123456789", "c"),
    ("c=prod.sales.R1&s=1&h=0123456789", "t"),
])
def test_bad_queries_are_422_naming_the_field(public, query, field):
    reply = public.get(f"/v1/verify/receipt?{query}")
    assert reply.status == 422 and reply.json["field"] == field, reply


def test_a_training_receipt_says_it_is_not_fiscal(api, stack, public):
    account = signed_up_account(api, stack)
    sale = api.with_token(account.token).post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    reply = public.get(path_of(sale["receipt_proof"]["verify_url"]))
    assert reply.status == 200 and reply.json["status"] == "training" and reply.json["fiscal"] is False
    assert "not a fiscal receipt" in reply.json["message"]["en"] and reply.json["checkpoint"] is None
    # in each language of the console: a Dutch reader got the English message
    assert set(reply.json["message"]) == {"en", "fr", "nl"} and "geen fiscaal kasticket" in reply.json["message"]["nl"]


def test_the_check_is_rate_limited_per_client_address(shop, api, container):
    from chalicelib.receipts import TokenBucket

    _, sales = shop
    container.receipts.limiter = TokenBucket(capacity=3, refill_seconds=60)
    client = api.with_token(None)
    path = path_of(sales[0]["receipt_proof"]["verify_url"])
    assert [client.get(path).status for _ in range(3)] == [200, 200, 200]
    limited = client.get(path)
    assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1
