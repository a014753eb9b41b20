"""Password reset through the HTTP API on the embedded stack: the code is mailed by the product
(the local outbox), the new password is set in the pool (moto's Cognito)."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.support.users import PASSWORD, outbox, sign_in, signed_up_account, unique_email

pytestmark = pytest.mark.functional

NEW_PASSWORD = "Brand-New-Pass-77"
_CODE = re.compile(r"^code: (\S+)$", re.MULTILINE)


def mailed_code(api, email: str) -> str:
    for message in outbox(api, email):
        if "Reset your" in message["subject"]:
            return _CODE.search(message["text"]).group(1)
    raise AssertionError(f"no reset code mailed to {email}")


def reset_mails(api, email: str) -> list:
    return [m for m in outbox(api, email) if "Reset your" in m["subject"]]


def events(api, account):
    return api.with_token(account.token).get(f"/v1/tenants/{account.tenant_id}/events").json["events"]


@pytest.fixture
def account(api, stack):
    return signed_up_account(api, stack)


def test_the_full_reset_sets_the_new_password_refuses_the_old_one_and_is_journaled(api, stack, account):
    from chalicelib import bootstrap

    asked = api.post("/v1/password-reset", {"email": account.email})
    assert asked.status == 202 and "status" in asked.json
    mail = reset_mails(api, account.email)[0]
    code = mailed_code(api, account.email)
    base = bootstrap.settings().public_base_url.rstrip("/")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert f"{base}/#/reset?email={account.email.replace('@', '%40')}&code={code}" in mail["text"]
    assert f"curl -X POST {base}/v1/password-reset/confirm" in mail["text"]
    old_session = sign_in(api, account.email)

    # typed by hand: lower case, without dashes
    done = api.post("/v1/password-reset/confirm",
                    {"email": account.email, "code": code.replace("-", "").lower(), "new_password": NEW_PASSWORD})
    assert done.status == 204, done
    old = api.post("/v1/auth/signin", {"email": account.email, "password": PASSWORD})
    assert old.status == 401
    new = sign_in(api, account.email, NEW_PASSWORD)
    # every refresh token of the account is revoked in the pool
    assert api.post("/v1/auth/refresh", {"refresh_token": old_session["refresh_token"]}).status == 401
    reset = [e for e in events(api, replace(account, token=new["id_token"])) if e["kind"] == "password_reset"]
    assert len(reset) == 1 and reset[0]["details"] == {"user_id": account.user_id, "email": account.email}
    assert reset[0]["actor"] == account.user_id
    # single use
    again = api.post("/v1/password-reset/confirm", {"email": account.email, "code": code, "new_password": PASSWORD})
    assert again.status == 422 and again.json["field"] == "code" and "already" in again.json["detail"]
    assert sign_in(api, account.email, NEW_PASSWORD)


def test_a_wrong_code_is_a_422_naming_code_and_changes_no_password(api, stack, account):
    assert api.post("/v1/password-reset", {"email": account.email}).status == 202
    code = mailed_code(api, account.email)
    wrong = "0000-0000-0000" if code != "0000-0000-0000" else "1111-1111-1111"
    reply = api.post("/v1/password-reset/confirm",
                     {"email": account.email, "code": wrong, "new_password": NEW_PASSWORD})
    assert reply.status == 422 and reply.json["field"] == "code", reply
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert sign_in(api, account.email, PASSWORD)  # unchanged
    # a code of another address does not work for this one
    other = signed_up_account(api, stack)
    assert api.post("/v1/password-reset/confirm",
                    {"email": other.email, "code": code, "new_password": NEW_PASSWORD}).json["field"] == "code"
    # malformed code and weak password: both named at once
    both = api.post("/v1/password-reset/confirm", {"email": account.email, "code": "!", "new_password": "short"})
    assert both.status == 422 and {e["field"] for e in both.json["errors"]} == {"code", "new_password"}
    weak = api.post("/v1/password-reset/confirm",
                    {"email": account.email, "code": code, "new_password": "alllowercase-no-digit"})
    assert weak.status == 422 and [e["field"] for e in weak.json["errors"]] == ["new_password"]
    # the right code still works after those refusals
    assert api.post("/v1/password-reset/confirm",
                    {"email": account.email, "code": code, "new_password": NEW_PASSWORD}).status == 204


def test_an_expired_code_is_a_422_naming_code(api, stack, account):
    from datetime import UTC, datetime

    from chalicelib import bootstrap

    assert api.post("/v1/password-reset", {"email": account.email}).status == 202
    code = mailed_code(api, account.email)
    later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    bootstrap.container().password_reset._clock = lambda: later
    reply = api.post("/v1/password-reset/confirm", {"email": account.email, "code": code, "new_password": NEW_PASSWORD})
    assert reply.status == 422 and reply.json["field"] == "code" and "expired" in reply.json["detail"]
    assert sign_in(api, account.email, PASSWORD)


def test_an_unknown_or_unverified_address_gets_the_same_202_and_no_mail(api, stack):
    known = signed_up_account(api, stack)
    unverified = signed_up_account(api, stack, verify=False)
    nobody = unique_email("nobody")
    answers = [api.post("/v1/password-reset", {"email": e}) for e in (known.email, unverified.email, nobody)]
    assert {a.status for a in answers} == {202}
    assert answers[0].json == answers[1].json == answers[2].json
    assert len(reset_mails(api, known.email)) == 1
    assert reset_mails(api, unverified.email) == [] and outbox(api, nobody) == []
    # a confirm for an unknown address answers like a wrong code
    reply = api.post("/v1/password-reset/confirm",
                     {"email": nobody, "code": "ABCD-EFGH-JKMN", "new_password": NEW_PASSWORD})
    assert reply.status == 422 and reply.json["field"] == "code"


def test_requests_and_wrong_codes_are_throttled_like_sign_in(api, stack, account):
    from chalicelib.domain.accounts import SignInPolicy

    stack.container(signin_policy=SignInPolicy(free_failures=2, base_delay=timedelta(seconds=30), lock_after=3))
    for email in (account.email, unique_email("nobody")):  # known or not: the same throttle
        assert [api.post("/v1/password-reset", {"email": email}).status for _ in range(2)] == [202, 202]
        slowed = api.post("/v1/password-reset", {"email": email})
        assert slowed.status == 429 and slowed.json["field"] == "email"
        assert 1 <= int(slowed.headers["retry-after"]) <= 30
    assert len(reset_mails(api, account.email)) == 2
    code = mailed_code(api, account.email)
    for _ in range(2):
        assert api.post("/v1/password-reset/confirm", {"email": account.email, "code": "0000-0000-0001",
                                                       "new_password": NEW_PASSWORD}).status == 422
    # even the right code waits: a guesser cannot go on
    held = api.post("/v1/password-reset/confirm", {"email": account.email, "code": code, "new_password": NEW_PASSWORD})
    assert held.status == 429 and "retry-after" in held.headers
    assert sign_in(api, account.email, PASSWORD)  # sign-in has its own counter: not locked by this


@pytest.mark.parametrize("body, field", [
    ({}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@example.com", "extra": 1}, "extra"),
])
def test_a_malformed_reset_request_is_a_422_naming_the_field(api, body, field):
    reply = api.post("/v1/password-reset", body)
    assert reply.status == 422 and reply.json["field"] == field


@pytest.mark.parametrize("body, field", [
    ({"code": "ABCD-EFGH-JKMN", "new_password": NEW_PASSWORD}, "email"),
    ({"email": "a@example.com", "new_password": NEW_PASSWORD}, "code"),
    ({"email": "a@example.com", "code": "ABCD-EFGH-JKMN"}, "new_password"),
    ({"email": "a@example.com", "code": "ABCD/EFGH/JKMN", "new_password": NEW_PASSWORD}, "code"),
    ({"email": "a@example.com", "code": "ABCD-EFGH-JKMN", "new_password": "x" * 65}, "new_password"),
])
def test_a_malformed_confirm_is_a_422_naming_the_field(api, body, field):
    reply = api.post("/v1/password-reset/confirm", body)
    assert reply.status == 422 and reply.json["field"] == field
