"""Sign-up and email verification through the HTTP API on the embedded stack."""

import json

import pytest

from tests.support.users import (
    PASSWORD,
    count_all,
    local_operator_headers,
    mailed_token,
    outbox,
    signed_up_account,
    signup_body,
    unique_email,
)

pytestmark = pytest.mark.functional


def pool_users(stack, email: str) -> list:
    from chalicelib import bootstrap

    cognito = bootstrap.container().cognito
    return cognito.list_users(UserPoolId=stack.settings.user_pool_id, Filter=f'email = "{email}"')["Users"]


def test_a_company_signs_up_and_its_new_user_is_the_admin_of_a_test_mode_tenant(api, stack):
    body = signup_body("BE")
    reply = api.post("/v1/signup", body)
    assert reply.status == 201, reply
    assert reply.json["mode"] == "test" and reply.json["verification_mail"] == "sent"
    assert set(reply.json) == {"tenant_id", "user_id", "email", "display_name", "mode", "verification_mail",
                               "next_step"}
    assert reply.json["display_name"] == body["email"]  # none given: the email address stands in
    # Unverified: Cognito refuses the sign-in until the mailed token is used.
    refused = api.post("/v1/auth/signin", {"email": body["email"], "password": PASSWORD})
    assert refused.status == 403 and refused.json["type"].endswith("/email-not-verified")
    verified = api.post("/v1/verify-email", {"token": mailed_token(api, body["email"], "Verify")})
    assert verified.status == 200 and verified.json == {"email": body["email"], "email_verified": True}
    token = api.post("/v1/auth/signin", {"email": body["email"], "password": PASSWORD}).json["access_token"]
    me = api.with_token(token).get("/v1/me").json
    assert me["email_verified"] is True and me["operator"] is False
    assert [(m["tenant_id"], m["role"], m["mode"]) for m in me["memberships"]] == [
        (reply.json["tenant_id"], "admin", "test")
    ]
    events = api.with_token(token).get(f"/v1/tenants/{reply.json['tenant_id']}/events").json["events"]
    assert [e["kind"] for e in events] == ["signup", "signin_failed", "email_verified", "signin_succeeded"]
    assert events[1]["details"]["reason"] == "email_not_verified"
    assert all(e["training"] for e in events)


def test_a_french_company_signs_up_with_siren_and_vat_key(api, stack):
    account = signed_up_account(api, stack, "FR")
    tenant = api.with_token(account.token).get(f"/v1/tenants/{account.tenant_id}").json
    assert tenant["country"] == "FR" and tenant["time_zone"] == "Europe/Paris"
    assert tenant["vat_number"].startswith("FR") and tenant["vat_number"].endswith(tenant["company_number"])


def test_identifiers_typed_with_separators_are_stored_canonical(api, stack):
    body = signup_body("BE")
    n = body["company_number"]
    body.update(
        company_number=f"{n[:4]}.{n[4:7]}.{n[7:]}",
        vat_number=f"be {n[:4]} {n[4:7]} {n[7:]}",
        email=body["email"].upper(),
    )
    reply = api.post("/v1/signup", body)
    assert reply.status == 201, reply
    assert reply.json["email"] == body["email"].lower()


def _without(body: dict, field: str) -> dict:
    copy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
    if "." in field:
        outer, inner = field.split(".")
        del copy[outer][inner]
    else:
        del copy[field]
    return copy


BAD = [
    ({"email": "not-an-email"}, "email"),
    ({"email": 42}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "alllowercase-1"}, "password"),
    ({"company_name": "  "}, "company_name"),
    ({"country": "NL"}, "country"),
    ({"country": "be"}, "country"),
    ({"company_number": 403170701}, "company_number"),
    ({"company_number": "0403170702"}, "company_number"),
    ({"vat_number": "BE0403170702"}, "vat_number"),
    ({"vat_number": "BE0202239951"}, "vat_number"),
    ({"address": {"line1": "Rue 1", "postal_code": "75008", "city": "Bruxelles"}}, "address.postal_code"),
    ({"address": {"line1": "", "postal_code": "1000", "city": "Bruxelles"}}, "address.line1"),
    ({"address": "Rue 1, 1000 Bruxelles"}, "address"),
    ({"tenant_id": "t" + "0" * 20}, "tenant_id"),
    ({"role": "operator"}, "role"),
    ({"display_name": "   "}, "display_name"),
    ({"display_name": "x" * 101}, "display_name"),
    ({"display_name": "Alice\u202eecilA"}, "display_name"),  # a bidi override would make exports lie
    ({"display_name": "Alice\u0000"}, "display_name"),
    ({"display_name": 42}, "display_name"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_each_bad_sign_up_input_is_a_422_naming_the_field_and_nothing_is_written(api, stack, change, field):
    body = {**signup_body("BE"), **change}
    before = count_all(stack)
    reply = api.post("/v1/signup", body)
    assert reply.status == 422, reply
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json["field"] == field
    assert count_all(stack) == before
    assert pool_users(stack, body["email"]) == [] if isinstance(body["email"], str) else True


@pytest.mark.parametrize(
    "field",
    [
        "email",
        "password",
        "company_name",
        "country",
        "company_number",
        "vat_number",
        "address",
        "address.city",
        "address.postal_code",
        "address.line1",
    ],
)
def test_each_missing_sign_up_field_is_named(api, stack, field):
    before = count_all(stack)
    reply = api.post("/v1/signup", _without(signup_body("BE"), field))
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_french_checksums_are_checked_and_named(api, stack):
    body = signup_body("FR")
    siren = body["company_number"]
    bad_siren = siren[:-1] + str((int(siren[-1]) + 1) % 10)
    for change, field in (
        ({"company_number": bad_siren}, "company_number"),
        ({"vat_number": "FR00" + siren}, "vat_number"),
    ):
        reply = api.post("/v1/signup", {**body, **change})
        assert reply.status == 422 and reply.json["field"] == field, reply


def test_the_password_rule_is_stated_in_the_error(api):
    reply = api.post("/v1/signup", signup_body("BE", password="nodigitsHere"))
    assert reply.status == 422 and reply.json["field"] == "password"
    assert "10 to 64 characters" in reply.json["detail"] and "a digit" in reply.json["detail"]


def test_a_duplicate_email_or_company_number_is_a_409_naming_the_field(api, stack):
    first = signup_body("BE")
    empty = count_all(stack)
    assert api.post("/v1/signup", first).status == 201
    before = count_all(stack)
    assert before["accounts"] == empty["accounts"] + 6  # the counter sees writes: tenant, user, email, ...
    same_email = signup_body("BE", email=first["email"].upper())
    same_company = {**signup_body("BE"), "company_number": first["company_number"], "vat_number": first["vat_number"]}
    for body, field in ((same_email, "email"), (same_company, "company_number")):
        reply = api.post("/v1/signup", body)
        assert reply.status == 409 and reply.json["field"] == field, reply
    assert count_all(stack) == before
    assert pool_users(stack, same_company["email"]) == []


def test_when_a_table_write_fails_the_cognito_user_is_deleted_and_nothing_is_left(api, stack, container):
    from chalicelib.domain.errors import Unavailable

    real = container.accounts_store

    class Broken:
        def __getattr__(self, name):
            return getattr(real, name)

        def create_signup(self, *args):
            raise Unavailable("the accounts table is down")

    container.__dict__["accounts_store"] = Broken()
    container.__dict__.pop("accounts", None)
    body = signup_body("BE")
    before = count_all(stack)
    reply = api.post("/v1/signup", body)
    assert reply.status == 503, reply
    assert pool_users(stack, body["email"]) == []
    assert count_all(stack) == before


def test_a_verification_token_works_once(api, stack):
    body = signup_body("BE")
    api.post("/v1/signup", body)
    token = mailed_token(api, body["email"], "Verify")
    assert api.post("/v1/verify-email", {"token": token}).status == 200
    again = api.post("/v1/verify-email", {"token": token})
    assert again.status == 422 and again.json["field"] == "token" and "already" in again.json["detail"]
    unknown = api.post("/v1/verify-email", {"token": "not-a-token"})
    assert unknown.status == 422 and unknown.json["field"] == "token"


def test_a_new_verification_mail_can_be_asked_without_learning_whether_the_address_exists(api, stack):
    body = signup_body("BE")
    api.post("/v1/signup", body)
    known = api.post("/v1/verify-email/resend", {"email": body["email"]})
    unknown = api.post("/v1/verify-email/resend", {"email": unique_email()})
    assert known.status == unknown.status == 202 and known.json == unknown.json
    assert len(outbox(api, body["email"])) == 2
    assert api.post("/v1/verify-email", {"token": mailed_token(api, body["email"], "Verify")}).status == 200


def test_the_outbox_route_answers_404_unless_exposed_in_local_mode(stack):
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings.model_copy(update={"expose_outbox": False}))
    try:
        reply = ApiClient(app).get("/v1/local/outbox", headers=local_operator_headers())
    finally:
        bootstrap.configure(stack.settings)
    assert reply.status == 404 and reply.json["type"].endswith("/not-found")


def test_the_outbox_is_only_for_the_local_operator_token(api, stack):
    """Every tenant's mail, tokens included: a tenant user's token, a made-up or stale operator
    token, another scheme or no credential at all get a 401 problem and not one message."""
    from chalicelib.local import operator_token

    body = signup_body("BE")
    assert api.post("/v1/signup", body).status == 201
    user = signed_up_account(api, stack)
    real = local_operator_headers()["Authorization"].split(" ", 1)[1]
    for headers in ({}, {"Authorization": f"Bearer {user.token}"}, {"Authorization": "Bearer " + "x" * 43},
                    {"Authorization": f"Basic {real}"}, {"Authorization": f"Bearer {real[:-1]}"},
                    {"Authorization": "Bearer "}, {"X-Scelle-Local-Operator": real}):
        reply = api.with_token(None).get(f"/v1/local/outbox?to={body['email']}", headers=headers)
        assert reply.status == 401, (headers, reply)
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json["type"].endswith("/unauthenticated") and "local-operator.token" in reply.json["detail"]
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert "messages" not in reply.json and body["email"] not in reply.body.decode()
    assert len(outbox(api, body["email"])) == 1  # with the token: the mail is there
    # A new start draws a new token: the old one stops working at once.
    operator_token.issue(stack.settings.data_dir)
    stale = api.with_token(None).get("/v1/local/outbox", headers={"Authorization": f"Bearer {real}"})
    assert stale.status == 401
    assert api.with_token(None).get("/v1/local/outbox", headers=local_operator_headers()).status == 200


def test_the_local_operator_token_file_is_private_and_a_missing_one_refuses_everything(stack, tmp_path):
    import stat

    from chalicelib.local import operator_token

    token = operator_token.issue(tmp_path)
    path = operator_token.token_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(token) >= 40
    assert operator_token.read(tmp_path) == token
    assert operator_token.is_local_operator({"authorization": f"bearer {token}"}, tmp_path)
    assert not operator_token.is_local_operator({"Authorization": f"Bearer {token}"}, tmp_path / "elsewhere")
    path.write_text("short\n")
    assert operator_token.read(tmp_path) is None
    assert not operator_token.is_local_operator({"Authorization": "Bearer short"}, tmp_path)


def test_a_sign_up_retried_with_the_same_idempotency_key_returns_the_first_result(api, stack):
    body = signup_body("BE")
    headers = {"Idempotency-Key": f"signup-{body['email']}"}
    first = api.post("/v1/signup", body, headers=headers)
    again = api.post("/v1/signup", body, headers=headers)
    assert first.status == again.status == 201 and first.json == again.json
    assert len(outbox(api, body["email"])) == 1
    other = api.post("/v1/signup", {**body, "company_name": "Another"}, headers=headers)
    assert other.status == 409 and other.json["field"] == "Idempotency-Key"


# ---- every legal way of writing the identifiers; every problem at once -----------------------------
def _old_form_be_number() -> str:
    """A random valid enterprise number of the old form (leading 0), as 10 digits."""
    while True:
        number = signup_body("BE")["company_number"]
        if number.startswith("0"):
            return number


def _tenant(api, body) -> dict:
    from tests.support.users import mailed_token, sign_in

    assert api.post("/v1/verify-email", {"token": mailed_token(api, body["email"], "Verify")}).status == 200
    token = sign_in(api, body["email"], body["password"])["id_token"]
    me = api.with_token(token).get("/v1/me").json
    return api.with_token(token).get(f"/v1/tenants/{me['memberships'][0]['tenant_id']}").json


@pytest.mark.parametrize(("company", "vat"), [
    ("BE (0){n1}.{n2}.{n3}", "BE (0){n1}.{n2}.{n3}"),
    ("{n1}{n2}{n3}", "BE{n1}.{n2}.{n3}"),
    ("0{n1}.{n2}.{n3}", "BE (0){n1}{n2}{n3}"),
    ("BE0{n1}{n2}{n3}", "be 0{n1} {n2} {n3}"),
], ids=["(0) both", "9 digits", "(0) vat only", "prefixed"])
def test_a_belgian_company_signs_up_with_any_legal_spelling_of_its_numbers(api, stack, company, vat):
    number = _old_form_be_number()
    parts = {"n1": number[1:4], "n2": number[4:7], "n3": number[7:]}
    body = signup_body("BE", company_number=company.format(**parts), vat_number=vat.format(**parts))
    reply = api.post("/v1/signup", body)
    assert reply.status == 201, reply
    tenant = _tenant(api, body)
    assert (tenant["company_number"], tenant["vat_number"]) == (number, "BE" + number)


def test_a_monegasque_company_signs_up_with_its_french_vat_number(api, stack):
    """Monaco businesses get French VAT numbers FR + key + 000 + 6 digits: no SIREN, no Luhn digit."""
    import random

    from chalicelib.domain.identifiers import fr_vat_key, luhn_valid

    while True:
        number = f"000{random.randrange(1, 10**6):06d}"
        if not luhn_valid(number):  # the case a SIREN check would refuse
            break
    body = signup_body("FR", company_number=f"{number[:3]} {number[3:6]} {number[6:]}",
                       vat_number=f"FR {fr_vat_key(number)} {number}",
                       address={"line1": "2 avenue de Monte-Carlo", "postal_code": "98000", "city": "Monaco"})
    reply = api.post("/v1/signup", body)
    assert reply.status == 201, reply
    tenant = _tenant(api, body)
    assert (tenant["company_number"], tenant["vat_number"]) == (number, f"FR{fr_vat_key(number)}{number}")
    wrong_key = f"FR{(int(fr_vat_key(number)) + 1) % 97:02d}{number}"
    refused = api.post("/v1/signup", signup_body("FR", company_number=number, vat_number=wrong_key))
    assert refused.status == 422 and refused.json["field"] == "vat_number", refused


def test_a_french_company_may_give_its_siret_and_the_siren_is_kept(api, stack):
    from chalicelib.domain.identifiers import luhn_valid

    body = signup_body("FR")
    siren = body["company_number"]
    siret = next(siren + f"{n:05d}" for n in range(1, 100) if luhn_valid(siren + f"{n:05d}"))
    body["company_number"] = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    reply = api.post("/v1/signup", body)
    assert reply.status == 201, reply
    assert _tenant(api, body)["company_number"] == siren


def test_every_problem_of_a_sign_up_is_listed_and_nothing_is_written(api, stack):
    body = {**signup_body("BE"), "company_number": "0403170702", "vat_number": "NL0403170701",
            "address": {"line1": "Rue de la Loi 16", "postal_code": "75008", "city": "Bruxelles"}}
    before = count_all(stack)
    reply = api.post("/v1/signup", body)
    assert reply.status == 422 and reply.headers["content-type"] == "application/problem+json", reply
    assert reply.json["field"] == "company_number"
    assert [item["field"] for item in reply.json["errors"]] == ["company_number", "vat_number", "address.postal_code"]
    assert "Value error" not in json.dumps(reply.json)
    assert count_all(stack) == before
    assert pool_users(stack, body["email"]) == []


def test_the_verification_mail_links_to_the_console_and_keeps_the_curl_line(api, stack):
    from chalicelib import bootstrap

    body = signup_body("BE")
    assert api.post("/v1/signup", body).status == 201
    token = mailed_token(api, body["email"], "Verify")
    text = outbox(api, body["email"])[0]["text"]
    base = bootstrap.settings().public_base_url.rstrip("/")
    assert f"  {base}/#/verify?token={token}\n" in text
    assert f"curl -X POST {base}/v1/verify-email" in text and f'"token": "{token}"' in text
    # The link's token is the mail's token: it verifies the address.
    assert api.post("/v1/verify-email", {"token": token}).status == 200
