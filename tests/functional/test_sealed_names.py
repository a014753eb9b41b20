"""The name sealed with an entry (``seller``, ``recorded_by``, ``closed_by``) is the member's display
name from the accounts store -- set at sign-up, on the invitation or when accepting it, changed by
an admin -- never something read from the token. The same person seals the same name whether they
send their access token (no email claim) or their id token, and an invited seller is never sealed
as a UUID, in the API nor in the export's ``operateur`` column."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
import uuid
import zipfile
from datetime import UTC, datetime

import pytest

from tests.support.bodies import business_today
from tests.support.users import PASSWORD, count_all, mailed_token, member, sign_in, signed_up_account, unique_email

pytestmark = pytest.mark.functional
TODAY = business_today()


def sale_body(register: str = "R1") -> dict:
    return {
        "client_receipt_id": f"r-{uuid.uuid4().hex[:10]}",
        "register_id": register,
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Espresso", "quantity": "2", "unit_price": "2.50", "vat_rate": "21"}],
        "payments": [{"method": "card", "amount": "5.00"}],
    }


def journal_body() -> dict:
    return {"entries": [{
        "journal_code": "OD",
        "piece_ref": f"P-{uuid.uuid4().hex[:6]}",
        "piece_date": TODAY,
        "label": "Loyer",
        "lines": [{"account": "613000", "debit": "100.00"}, {"account": "440000", "credit": "100.00"}],
    }]}


def both_tokens(api, email: str) -> dict[str, str]:
    tokens = sign_in(api, email)
    return {"access": tokens["access_token"], "id": tokens["id_token"]}


def sell(api, token: str, tenant_id: str) -> dict:
    reply = api.with_token(token).post(f"/v1/tenants/{tenant_id}/sales", sale_body())
    assert reply.status == 201, reply
    return reply.json["data"]["seller"]


def invite(api, admin_token: str, tenant_id: str, role: str = "seller", **fields) -> str:
    email = unique_email(role)
    reply = api.with_token(admin_token).post(
        f"/v1/tenants/{tenant_id}/invitations", {"email": email, "role": role, **fields}
    )
    assert reply.status == 201, reply
    return email


def accept(api, email: str, **fields) -> dict:
    reply = api.with_token(None).post(
        "/v1/invitations/accept", {"token": mailed_token(api, email), "password": PASSWORD, **fields}
    )
    assert reply.status == 200, reply
    return reply.json


# ---- the same person, either token --------------------------------------------------------------
def test_the_same_admin_seals_the_same_name_with_an_access_token_and_with_an_id_token(api, stack):
    owner = signed_up_account(api, stack, display_name="  Marie   Dupont ")
    tokens = both_tokens(api, owner.email)
    sealed = {kind: sell(api, token, owner.tenant_id) for kind, token in tokens.items()}
    assert sealed["access"] == sealed["id"] == {"user_id": owner.user_id, "name": "Marie Dupont"}


def test_without_a_display_name_both_tokens_seal_the_email_address_never_the_user_id(api, stack):
    owner = signed_up_account(api, stack)
    tokens = both_tokens(api, owner.email)
    sealed = {kind: sell(api, token, owner.tenant_id) for kind, token in tokens.items()}
    assert sealed["access"] == sealed["id"] == {"user_id": owner.user_id, "name": owner.email}


def test_journal_entries_and_reversals_seal_the_display_name_with_an_access_token(api, stack):
    owner = signed_up_account(api, stack, display_name="Claire Dubois")
    access = api.with_token(both_tokens(api, owner.email)["access"])
    journal = access.post(f"/v1/tenants/{owner.tenant_id}/journal-entries", journal_body())
    assert journal.status == 201, journal
    assert journal.json["entries"][0]["data"]["recorded_by"] == {"user_id": owner.user_id, "name": "Claire Dubois"}
    sale = access.post(f"/v1/tenants/{owner.tenant_id}/sales", sale_body()).json
    reversal = access.post(
        f"/v1/tenants/{owner.tenant_id}/entries/{sale['chain']}/{sale['seq']}/reversal", {"reason": "wrong item"}
    )
    assert reversal.status == 201, reversal
    assert reversal.json["data"]["recorded_by"] == {"user_id": owner.user_id, "name": "Claire Dubois"}


def test_a_closure_seals_the_closing_callers_display_name_not_a_token_claim(container, tmp_path):
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from tests.support.ledger import at, ledger_on, sale_request

    t = ledger_on(container, tmp_path, start=at("2026-03-10", 12))
    caller = Caller(Principal("u-claire", ""), t.tenant.tenant_id, Role.ACCOUNTANT, display_name="Claire Dubois")
    sale = t.ledger.record_sale(caller, sale_request(t.clock, 500), None)
    t.clock.set(at("2026-03-11", 12))
    closure = t.ledger.close_period(caller, t.tenant.tenant_id, "prod.sales.R1", "day", "2026-03-10")
    assert sale["data"]["seller"] == closure.data["closed_by"] == {"user_id": "u-claire", "name": "Claire Dubois"}


# ---- invited members ---------------------------------------------------------------------------
def test_an_invited_seller_seals_the_name_given_on_the_invitation_never_a_uuid(api, stack):
    owner = signed_up_account(api, stack)
    email = invite(api, owner.token, owner.tenant_id, display_name="Alice Martin")
    assert accept(api, email)["display_name"] == "Alice Martin"
    for token in both_tokens(api, email).values():
        assert sell(api, token, owner.tenant_id)["name"] == "Alice Martin"


def test_an_invited_seller_without_a_name_seals_their_email_address(api, stack):
    owner = signed_up_account(api, stack)
    email = invite(api, owner.token, owner.tenant_id)
    user_id = accept(api, email)["user_id"]
    for token in both_tokens(api, email).values():
        assert sell(api, token, owner.tenant_id) == {"user_id": user_id, "name": email}


def test_the_invitee_may_choose_their_own_name_when_accepting(api, stack):
    owner = signed_up_account(api, stack)
    email = invite(api, owner.token, owner.tenant_id, display_name="A. Martin")
    assert accept(api, email, display_name="Alice Martin")["display_name"] == "Alice Martin"
    assert sell(api, both_tokens(api, email)["access"], owner.tenant_id)["name"] == "Alice Martin"
    roster = api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}/members").json["members"]
    assert {m["email"]: m["display_name"] for m in roster} == {owner.email: owner.email, email: "Alice Martin"}


def test_the_invitation_shows_the_proposed_name_and_a_bad_one_is_a_422_writing_nothing(api, stack):
    owner = signed_up_account(api, stack)
    admin = api.with_token(owner.token)
    email = invite(api, owner.token, owner.tenant_id, display_name="Bob Durand")
    pending = admin.get(f"/v1/tenants/{owner.tenant_id}/members").json["invitations"]
    assert [(i["email"], i["display_name"]) for i in pending] == [(email, "Bob Durand")]
    before = count_all(stack)
    for bad in ("", "  ", "x" * 101, "Bob\u202eDurand", 7):
        reply = admin.post(f"/v1/tenants/{owner.tenant_id}/invitations",
                           {"email": unique_email(), "role": "seller", "display_name": bad})
        assert reply.status == 422 and reply.json["field"] == "display_name", (bad, reply)
        refused = api.post("/v1/invitations/accept",
                           {"token": mailed_token(api, email), "password": PASSWORD, "display_name": bad})
        assert refused.status == 422 and refused.json["field"] == "display_name", (bad, refused)
    assert count_all(stack) == before


def test_an_accountant_keeps_their_profile_name_in_a_new_tenant_and_each_admin_renames_only_in_theirs(api, stack):
    first, second = signed_up_account(api, stack), signed_up_account(api, stack, "FR")
    email = invite(api, first.token, first.tenant_id, "accountant", display_name="Cabinet Lemaire")
    accept(api, email)
    api.with_token(second.token).post(
        f"/v1/tenants/{second.tenant_id}/invitations", {"email": email, "role": "accountant"}
    )
    joined = api.post("/v1/invitations/accept", {"token": mailed_token(api, email)})
    assert joined.status == 200 and joined.json["account"] == "existing"
    assert joined.json["display_name"] == "Cabinet Lemaire"  # the profile name follows the account
    renamed = api.with_token(second.token).put(
        f"/v1/tenants/{second.tenant_id}/members/{joined.json['user_id']}", {"display_name": "J. Lemaire"}
    )
    assert renamed.status == 200 and renamed.json["display_name"] == "J. Lemaire", renamed
    me = api.with_token(sign_in(api, email)["access_token"]).get("/v1/me").json
    assert me["display_name"] == "Cabinet Lemaire"
    assert {m["tenant_id"]: m["display_name"] for m in me["memberships"]} == {
        first.tenant_id: "Cabinet Lemaire", second.tenant_id: "J. Lemaire"}
    access = api.with_token(sign_in(api, email)["access_token"])
    for tenant_id, name in ((first.tenant_id, "Cabinet Lemaire"), (second.tenant_id, "J. Lemaire")):
        reply = access.post(f"/v1/tenants/{tenant_id}/journal-entries", journal_body())
        assert reply.status == 201, reply
        assert reply.json["entries"][0]["data"]["recorded_by"]["name"] == name


# ---- an admin renames a member -----------------------------------------------------------------
def test_an_admin_renames_a_member_for_what_is_recorded_next_and_it_is_journaled(api, stack):
    owner = signed_up_account(api, stack)
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    before = sell(api, seller.token, owner.tenant_id)
    path = f"/v1/tenants/{owner.tenant_id}/members/{seller.user_id}"
    renamed = api.with_token(owner.token).put(path, {"display_name": "Alice Martin"})
    assert renamed.status == 200, renamed
    assert (renamed.json["display_name"], renamed.json["role"], renamed.json["status"]) == (
        "Alice Martin", "seller", "active")
    # the token the seller already holds: the name is read at each request, not from the token
    assert sell(api, seller.token, owner.tenant_id)["name"] == "Alice Martin"
    first = api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}/entries/test.sales.R1/1").json
    assert first["data"]["seller"] == before == {"user_id": seller.user_id, "name": seller.email}  # sealed stays
    event = api.with_token(owner.token).get(f"/v1/tenants/{owner.tenant_id}/events").json["events"]
    renames = [e for e in event if e["kind"] == "config_changed"]
    assert [(e["actor"], e["details"]) for e in renames] == [(owner.user_id, {
        "user_id": seller.user_id, "changed": ["display_name"],
        "before": {"display_name": seller.email}, "after": {"display_name": "Alice Martin"}})]
    # the admin renames themselves through the same route
    mine = api.with_token(owner.token).put(f"/v1/tenants/{owner.tenant_id}/members/{owner.user_id}",
                                           {"display_name": "La Patronne"})
    assert mine.status == 200 and mine.json["display_name"] == "La Patronne"
    assert sell(api, both_tokens(api, owner.email)["access"], owner.tenant_id)["name"] == "La Patronne"


@pytest.mark.parametrize("role", ["accountant", "manager", "seller", "auditor"])
def test_only_an_admin_renames_a_member_and_a_weaker_role_gets_403_writing_nothing(api, stack, role):
    owner = signed_up_account(api, stack)
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    weak = member(api, stack, owner.tenant_id, owner.token, role) if role != "seller" else seller
    before = count_all(stack)
    for target in {seller.user_id, weak.user_id}:  # someone else, and themselves
        reply = api.with_token(weak.token).put(
            f"/v1/tenants/{owner.tenant_id}/members/{target}", {"display_name": "Renamed"})
        assert reply.status == 403 and reply.json["permission"] == "members.manage", reply
    refused = api.with_token(weak.token).post(
        f"/v1/tenants/{owner.tenant_id}/invitations",
        {"email": unique_email(), "role": "seller", "display_name": "Someone"})
    assert refused.status == 403 and refused.json["permission"] == "members.manage", refused
    assert count_all(stack) == before
    assert sell(api, seller.token, owner.tenant_id)["name"] == seller.email


def test_an_admin_of_another_tenant_cannot_rename_a_member_nor_invite_with_a_name(api, stack):
    owner, outsider = signed_up_account(api, stack), signed_up_account(api, stack)
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    before = count_all(stack)
    reply = api.with_token(outsider.token).put(
        f"/v1/tenants/{owner.tenant_id}/members/{seller.user_id}", {"display_name": "Renamed"})
    assert reply.status == 404 and reply.json["detail"] == "tenant not found", reply
    # nor through their own tenant's path: the member is not theirs
    theirs = api.with_token(outsider.token).put(
        f"/v1/tenants/{outsider.tenant_id}/members/{seller.user_id}", {"display_name": "Renamed"})
    assert theirs.status == 404 and theirs.json["field"] == "user_id", theirs
    invited = api.with_token(outsider.token).post(
        f"/v1/tenants/{owner.tenant_id}/invitations",
        {"email": unique_email(), "role": "seller", "display_name": "Someone"})
    assert invited.status == 404 and invited.json["detail"] == "tenant not found", invited
    assert count_all(stack) == before
    assert sell(api, seller.token, owner.tenant_id)["name"] == seller.email


def test_a_bad_rename_is_a_422_naming_display_name_and_an_auditor_is_renamed_through_nothing(api, stack):
    owner = signed_up_account(api, stack)
    seller = member(api, stack, owner.tenant_id, owner.token, "seller")
    auditor = member(api, stack, owner.tenant_id, owner.token, "auditor")
    admin = api.with_token(owner.token)
    before = count_all(stack)
    for bad in ("", " ", "x" * 101, "Al\u0007ice", None, ["Alice"]):
        reply = admin.put(f"/v1/tenants/{owner.tenant_id}/members/{seller.user_id}", {"display_name": bad})
        assert reply.status in (400, 422) and reply.json["field"] in ("display_name", "body"), (bad, reply)
    refused = admin.put(f"/v1/tenants/{owner.tenant_id}/members/{auditor.user_id}", {"display_name": "Inspecteur"})
    assert refused.status == 409 and refused.json["field"] == "display_name", refused
    assert count_all(stack) == before


# ---- the export ---------------------------------------------------------------------------------
def _wait_done(client, tenant_id: str, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        reply = client.get(f"/v1/tenants/{tenant_id}/exports/{job_id}")
        assert reply.status == 200, reply
        if reply.json["status"] in ("done", "failed") or time.monotonic() > deadline:
            return reply.json
        time.sleep(0.2)


def test_the_export_operateur_column_shows_the_display_name_not_the_user_id(api, stack):
    owner = signed_up_account(api, stack, display_name="Marie Dupont")
    email = invite(api, owner.token, owner.tenant_id, display_name="Alice Martin")
    seller_id = accept(api, email)["user_id"]
    sell(api, both_tokens(api, email)["access"], owner.tenant_id)
    sell(api, both_tokens(api, owner.email)["access"], owner.tenant_id)
    admin = api.with_token(owner.token)
    job = admin.post(f"/v1/tenants/{owner.tenant_id}/exports", {"format": "fiscal", "from": TODAY, "to": TODAY})
    assert job.status == 202, job
    done = _wait_done(admin, owner.tenant_id, job.json["job_id"])
    assert done["status"] == "done", done
    with urllib.request.urlopen(done["download"]["url"], timeout=10) as resp:
        data = resp.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        name = next(n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "entries.csv")
        rows = list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8-sig")), delimiter=";"))
    sales = [(r["operateur_id"], r["operateur"]) for r in rows if r["type"] == "sale"]
    assert sales == [(seller_id, "Alice Martin"), (owner.user_id, "Marie Dupont")]
