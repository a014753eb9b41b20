"""The ledger through HTTP: sales, journal entries, reversals, proofs, closures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.merkle import record_leaf_hash, verify_inclusion
from tests.support.bodies import business_today, sale_body
from tests.support.users import member, signed_up_account

pytestmark = pytest.mark.functional


def journal_entry(**overrides):
    entry = {
        "journal_code": "OD",
        "piece_ref": f"P-{uuid.uuid4().hex[:6]}",
        "piece_date": business_today(),
        "label": "Loyer novembre",
        "lines": [
            {"account": "613000", "debit": "1000.00"},
            {"account": "440000", "credit": "1000.00"},
        ],
    }
    entry.update(overrides)
    return entry


@pytest.fixture
def admin(api, stack):
    account = signed_up_account(api, stack)
    return account, api.with_token(account.token)


def _head(container, tenant_id, chain):
    return container.journal_store.head(f"TENANT#{tenant_id}#CHAIN#{chain}")


# ---- sales -----------------------------------------------------------------------------------
def test_a_sale_is_sealed_in_its_register_chain_and_says_which_checkpoint_covers_it(admin):
    account, client = admin
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    assert reply.status == 201, reply
    sale = reply.json
    assert (sale["chain"], sale["seq"], sale["type"]) == ("test.sales.R1", 1, "sale")
    assert sale["training"] is True  # a new tenant is in test mode
    assert sale["prev_hash"] == "0" * 64 and len(sale["hash"]) == 64
    assert sale["data"]["totals"] == {"excl": 413, "vat": 87, "incl": 500}
    assert sale["checkpoint"] == {"covered": False, "size": 100, "signed_within_seconds": 300}


def test_a_retried_sale_with_the_same_idempotency_key_is_recorded_once(admin, container):
    account, client = admin
    body = sale_body()
    headers = {"Idempotency-Key": "till-7-rcpt-1"}
    first = client.post(f"/v1/tenants/{account.tenant_id}/sales", body, headers=headers)
    again = client.post(f"/v1/tenants/{account.tenant_id}/sales", body, headers=headers)
    assert first.status == again.status == 201
    assert again.json["seq"] == first.json["seq"] and again.json["hash"] == first.json["hash"]
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1


def test_the_same_idempotency_key_with_another_body_is_a_409_problem(admin, container):
    account, client = admin
    headers = {"Idempotency-Key": "till-7-rcpt-2"}
    assert client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(), headers=headers).status == 201
    other = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(), headers=headers)
    assert other.status == 409
    assert other.json["field"] == "Idempotency-Key"
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1


def test_a_key_first_sent_with_a_resent_receipt_names_that_sale_and_no_other(admin, container):
    """A key that came only with the resend was not claimed: the same key then sealed another
    receipt (201, a second sale), and answered for two sales."""
    account, client = admin
    sales = f"/v1/tenants/{account.tenant_id}/sales"
    first_body, other_body = sale_body(), sale_body()
    first = client.post(sales, first_body)  # no key
    replay = client.post(sales, first_body, headers={"Idempotency-Key": "K1"})
    assert replay.status == 201 and (replay.json["seq"], replay.json["hash"]) == (first.json["seq"], first.json["hash"])
    other = client.post(sales, other_body, headers={"Idempotency-Key": "K1"})
    assert other.status == 409 and other.json["field"] == "Idempotency-Key", other
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1
    again = client.post(sales, first_body, headers={"Idempotency-Key": "K1"})  # still the first sale
    assert again.status == 201 and again.json["seq"] == first.json["seq"]
    # a key already naming another sale is refused with a resent receipt too
    assert client.post(sales, other_body, headers={"Idempotency-Key": "K2"}).status == 201
    crossed = client.post(sales, first_body, headers={"Idempotency-Key": "K2"})
    assert crossed.status == 409 and crossed.json["field"] == "Idempotency-Key", crossed
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 2


def test_an_offline_till_resending_a_receipt_gets_the_first_entry_back(admin, container):
    account, client = admin
    body = sale_body()
    first = client.post(f"/v1/tenants/{account.tenant_id}/sales", body)
    again = client.post(f"/v1/tenants/{account.tenant_id}/sales", body)
    assert first.json["seq"] == again.json["seq"] == 1
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1


BAD_SALES = [
    ("unknown VAT rate", {"lines": [{"description": "x", "quantity": "1", "unit_price": "1.00", "vat_rate": "19"}]},
     "lines.0.vat_rate"),
    ("three decimals", {"lines": [{"description": "x", "quantity": "1", "unit_price": "1.001", "vat_rate": "21"}]},
     "lines.0.unit_price"),
    ("no lines", {"lines": []}, "lines"),
    ("negative quantity in a sale",
     {"lines": [{"description": "x", "quantity": "-1", "unit_price": "1.00", "vat_rate": "21"}],
      "payments": [{"method": "card", "amount": "-1.00"}]}, "lines.0.quantity"),
    ("zero quantity", {"lines": [{"description": "x", "quantity": "0", "unit_price": "1.00", "vat_rate": "21"}]},
     "lines.0.quantity"),
    ("payments do not add up", {"payments": [{"method": "card", "amount": "4.00"}]}, "payments"),
    ("total does not match", {"expected_total": "6.00"}, "expected_total"),
    ("in the future", {"occurred_at": (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")},
     "occurred_at"),
    ("a JSON number with three decimals",
     {"lines": [{"description": "x", "quantity": "1", "unit_price": 1.555, "vat_rate": "21"}]}, "lines.0.unit_price"),
    ("a bad register", {"register_id": "R#1"}, "register_id"),
    ("an unknown field", {"discount_code": "X"}, "discount_code"),
]


@pytest.mark.parametrize("why, change, field", BAD_SALES, ids=[c[0] for c in BAD_SALES])
def test_a_bad_sale_is_a_4xx_problem_naming_the_field_and_writes_nothing(admin, container, why, change, field):
    account, client = admin
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body(**change))
    assert 400 <= reply.status < 500, reply
    assert reply.json["field"] == field, reply.json
    assert _head(container, account.tenant_id, "test.sales.R1") is None


def test_a_float_json_number_is_kept_exact_not_refused_when_it_has_two_decimals(admin):
    account, client = admin
    body = sale_body()
    raw = (str(body).replace("'", '"').replace('"unit_price": "2.50"', '"unit_price": 2.50')
           .replace("True", "true").replace("False", "false"))
    reply = client.post(f"/v1/tenants/{account.tenant_id}/sales", raw=raw.encode())
    assert reply.status == 201, reply
    assert reply.json["data"]["totals"]["incl"] == 500


# ---- journal entries ---------------------------------------------------------------------------
def test_a_batch_of_journal_entries_is_sealed_in_one_transaction(admin):
    account, client = admin
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries",
                        {"entries": [journal_entry() for _ in range(3)]})
    assert reply.status == 201, reply
    assert [e["seq"] for e in reply.json["entries"]] == [1, 2, 3]
    assert {e["chain"] for e in reply.json["entries"]} == {"test.journal"}


def test_an_unbalanced_entry_in_a_batch_refuses_the_whole_batch_naming_it(admin, container):
    account, client = admin
    bad = journal_entry(lines=[{"account": "613000", "debit": "10.00"}, {"account": "440000", "credit": "9.99"}])
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries", {"entries": [journal_entry(), bad]})
    assert reply.status == 422
    assert reply.json["field"].startswith("entries.1.lines")
    assert _head(container, account.tenant_id, "test.journal") is None


def test_a_batch_of_101_entries_is_refused(admin, container):
    account, client = admin
    reply = client.post(f"/v1/tenants/{account.tenant_id}/journal-entries",
                        {"entries": [journal_entry() for _ in range(101)]})
    assert reply.status == 422
    assert reply.json["field"] == "entries"
    assert _head(container, account.tenant_id, "test.journal") is None


# ---- reversals -------------------------------------------------------------------------------
def test_a_sale_is_corrected_by_a_reversal_that_references_it_and_only_once(admin):
    account, client = admin
    sale = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    path = f"/v1/tenants/{account.tenant_id}/entries/{sale['chain']}/{sale['seq']}/reversal"
    reversal = client.post(path, {"reason": "wrong item"})
    assert reversal.status == 201, reversal
    assert reversal.json["type"] == "reversal"
    assert reversal.json["data"]["original"]["seq"] == sale["seq"]
    assert reversal.json["data"]["original"]["hash"] == sale["hash"]
    twice = client.post(path, {"reason": "again"})
    assert twice.status == 409 and twice.json["field"] == "seq"
    of_reversal = client.post(
        f"/v1/tenants/{account.tenant_id}/entries/{sale['chain']}/{reversal.json['seq']}/reversal", {"reason": "x"})
    assert of_reversal.status == 422 and of_reversal.json["field"] == "seq"


def test_a_reversal_without_a_reason_is_refused(admin, container):
    account, client = admin
    sale = client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    reply = client.post(f"/v1/tenants/{account.tenant_id}/entries/{sale['chain']}/1/reversal", {"reason": ""})
    assert reply.status == 422 and reply.json["field"] == "reason"
    assert _head(container, account.tenant_id, sale["chain"]).seq == 1


def test_reversing_an_unknown_entry_is_a_404(admin):
    account, client = admin
    client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    reply = client.post(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/99/reversal", {"reason": "x"})
    assert reply.status == 404


# ---- reading, proofs ---------------------------------------------------------------------------
def test_entries_are_listed_by_time_with_an_opaque_cursor(admin):
    account, client = admin
    for _ in range(5):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    first = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&limit=2")
    assert first.status == 200, first
    assert [e["seq"] for e in first.json["entries"]] == [1, 2]
    cursor = first.json["next_cursor"]
    rest = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&limit=10&cursor={cursor}")
    assert [e["seq"] for e in rest.json["entries"]] == [3, 4, 5]
    assert rest.json["next_cursor"] is None


def test_a_cursor_this_route_did_not_return_is_a_422_naming_cursor(admin):
    """Any seq and instant started a page anywhere ("-5|…" from seq 2, "7|2000-01-01…" from 8)."""
    from urllib.parse import quote

    account, client = admin
    for _ in range(4):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    base = f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&limit=2"
    real = client.get(base).json["next_cursor"]
    seq, at = real.split("|")
    assert [e["seq"] for e in client.get(f"{base}&cursor={quote(real)}").json["entries"]] == [3, 4]
    for forged in (f"-5|{at}", "2|2000-01-01T00:00:00Z", "1|9999-99-99", f"0{seq}|{at}", f"+{seq}|{at}", f"{seq}|",
                   f"{seq}|{at} ", f"99|{at}", seq, "|", f"{seq}|{at}|x"):
        for order in ("", "&order=desc"):
            reply = client.get(f"{base}{order}&cursor={quote(forged)}")
            assert reply.status == 422 and reply.json["field"] == "cursor", (forged, reply)


def test_a_till_lists_its_sales_newest_first_with_their_receipt_proofs(api, stack, admin):
    """A till's recent sales: order=desc, a page at a time, each sale with the receipt's code and QR
    payload as recording it answered them; a seller's list holds only their own sales."""
    account, client = admin
    seller = api.with_token(member(api, stack, account.tenant_id, account.token, "seller").token)
    recorded = [(seller if i % 2 else client).post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
                for i in range(5)]
    base = f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&order=desc"
    first = client.get(f"{base}&limit=2")
    assert first.status == 200, first
    assert [e["seq"] for e in first.json["entries"]] == [5, 4]
    rest = client.get(f"{base}&limit=10&cursor={first.json['next_cursor']}")
    assert [e["seq"] for e in rest.json["entries"]] == [3, 2, 1] and rest.json["next_cursor"] is None
    by_seq = {r["seq"]: r for r in recorded}
    for entry in first.json["entries"] + rest.json["entries"]:
        assert entry["receipt_proof"] == by_seq[entry["seq"]]["receipt_proof"]
    today = datetime.now(UTC).date()
    window = f"&from={today.isoformat()}&to={(today + timedelta(days=1)).isoformat()}"
    assert [e["seq"] for e in client.get(base + window).json["entries"]] == [5, 4, 3, 2, 1]
    assert client.get(base + "&to=2001-01-01").json["entries"] == []
    own = seller.get(f"{base}&limit=1")
    assert [e["seq"] for e in own.json["entries"]] == [4]  # the seller's own sales only, newest first
    assert [e["seq"] for e in seller.get(f"{base}&cursor={own.json['next_cursor']}").json["entries"]] == [2]
    one = seller.get(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/2").json
    assert one["receipt_proof"] == by_seq[2]["receipt_proof"]
    bad = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1&order=newest")
    assert bad.status == 422 and bad.json["field"] == "order"


def test_an_entry_comes_with_an_inclusion_proof_once_a_checkpoint_is_signed(admin):
    account, client = admin
    for _ in range(3):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    before = client.get(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/2").json
    assert before["proof"] is None
    signed = client.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "test.sales.R1"})
    assert signed.status == 201 and signed.json["size"] == 3
    entry = client.get(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/2").json
    proof = entry["proof"]
    verify_inclusion(record_leaf_hash(entry["hash"]), proof["leaf_index"], proof["tree_size"],
                     [bytes.fromhex(h) for h in proof["hashes"]], bytes.fromhex(proof["root"]))
    keys = client.with_token(None).get("/v1/keys").json["keys"]
    assert any(k["key_id"] == signed.json["key_id"] and k["not_after"] is None for k in keys)


def test_a_checkpoint_over_a_modified_entry_is_refused_with_the_first_bad_seq_and_sales_go_on(admin, container):
    from tests.support.tamper import Tamperer

    account, client = admin
    for _ in range(3):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    assert client.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "test.sales.R1"}).status == 201
    for _ in range(3):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    tamper = Tamperer(container.dynamodb, container.settings.table_name("journal"),
                      f"TENANT#{account.tenant_id}#CHAIN#test.sales.R1")
    tamper.modify(5, lambda item: item["data"].update(seller="someone-else"))
    refused = client.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "test.sales.R1"})
    assert refused.status == 409, refused
    assert refused.json["type"].endswith("/signing-refused")
    assert (refused.json["reason"], refused.json["first_bad_seq"]) == ("hash_mismatch", 5)
    listed = client.get(f"/v1/tenants/{account.tenant_id}/checkpoints?chain=test.sales.R1").json["checkpoints"]
    assert [cp["size"] for cp in listed] == [3]  # nothing signed over the modified entry
    assert client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).status == 201  # sealing goes on


def test_a_correctly_hashed_rewrite_under_a_checkpoint_is_named_at_its_first_entry(admin, container):
    """An outside trial rewrote seqs 3 to 7 with every hash recomputed; the checkpoint at 5 caught it,
    but the verification named seq 5 ("from seq 1 up to seq 5"). The signed tree's tiles name seq 3."""
    from tests.support.tamper import Tamperer

    account, client = admin
    tenant = account.tenant_id
    for _ in range(5):
        assert client.post(f"/v1/tenants/{tenant}/sales", sale_body()).status == 201
    assert client.post(f"/v1/tenants/{tenant}/checkpoints", {"chain": "test.sales.R1"}).json["size"] == 5
    for _ in range(2):
        assert client.post(f"/v1/tenants/{tenant}/sales", sale_body()).status == 201
    tamper = Tamperer(container.dynamodb, container.settings.table_name("journal"),
                      f"TENANT#{tenant}#CHAIN#test.sales.R1")
    tamper.modify(3, lambda item: item["data"]["lines"][0].update(unit_price=1))
    tamper.rehash_from(3)
    reply = client.post(f"/v1/tenants/{tenant}/verifications", {"chain": "test.sales.R1"})
    assert reply.status == 200 and reply.json["ok"] is False, reply
    assert (reply.json["reason"], reply.json["first_bad_seq"]) == ("checkpoint_mismatch", 3), reply.json
    assert reply.json["detail"].startswith("seq 3: its hash")
    # and it is a tamper alarm, as in the scheduled pass: the entries from seq 3 read altered (the
    # failure was only mailed to the tenant's admins, the entries still read as before)
    entry = f"/v1/tenants/{tenant}/entries/test.sales.R1"
    assert [client.get(f"{entry}/{seq}").json["integrity"] for seq in (3, 7)] == ["altered", "altered"]
    assert client.get(f"{entry}/2").json["integrity"] in ("pending", "verified")  # before it: untouched


def test_verification_of_a_healthy_chain_is_ok(admin):
    account, client = admin
    for _ in range(2):
        client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body())
    client.post(f"/v1/tenants/{account.tenant_id}/checkpoints", {"chain": "test.sales.R1"})
    reply = client.post(f"/v1/tenants/{account.tenant_id}/verifications", {"chain": "test.sales.R1"})
    assert reply.status == 200
    assert reply.json["ok"] is True and reply.json["verified_size"] == 2 and reply.json["proven_size"] == 2


def test_an_unknown_chain_is_a_404_not_a_500(admin):
    account, client = admin
    reply = client.post(f"/v1/tenants/{account.tenant_id}/verifications", {"chain": "prod.sales.NOPE"})
    assert reply.status == 404 and reply.json["field"] == "chain"


# ---- roles -----------------------------------------------------------------------------------
def test_a_seller_sees_only_their_own_sales(api, stack, admin):
    account, client = admin
    seller = member(api, stack, account.tenant_id, account.token, "seller")
    other = member(api, stack, account.tenant_id, account.token, "seller")
    seller_client, other_client = api.with_token(seller.token), api.with_token(other.token)
    mine = seller_client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    theirs = other_client.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    listed = seller_client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1").json["entries"]
    assert [e["seq"] for e in listed] == [mine["seq"]]
    assert seller_client.get(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/{theirs['seq']}").status == 404
    everyone = client.get(f"/v1/tenants/{account.tenant_id}/entries?chain=test.sales.R1").json["entries"]
    assert len(everyone) == 2


def test_a_seller_cannot_reverse_nor_close_and_a_manager_closes_days_only(api, stack, admin, container):
    account, _ = admin
    seller = api.with_token(member(api, stack, account.tenant_id, account.token, "seller").token)
    manager = api.with_token(member(api, stack, account.tenant_id, account.token, "manager").token)
    sale = seller.post(f"/v1/tenants/{account.tenant_id}/sales", sale_body()).json
    refused = seller.post(f"/v1/tenants/{account.tenant_id}/entries/test.sales.R1/{sale['seq']}/reversal",
                          {"reason": "x"})
    assert refused.status == 403
    assert seller.post(f"/v1/tenants/{account.tenant_id}/closures",
                       {"chain": "test.sales.R1", "kind": "day", "period": "2026-01-01"}).status == 403
    month = manager.post(f"/v1/tenants/{account.tenant_id}/closures",
                         {"chain": "test.sales.R1", "kind": "month", "period": "2026-01"})
    assert month.status == 403 and month.json["field"] == "kind"
    assert _head(container, account.tenant_id, "test.sales.R1").seq == 1
