"""Sign-in, refresh and sign-out through Cognito (moto), the throttle, and the events they leave."""

from datetime import timedelta

import pytest

from tests.support.users import PASSWORD, sign_in, signed_up_account, unique_email

pytestmark = pytest.mark.functional


def events(api, account):
    return api.with_token(account.token).get(f"/v1/tenants/{account.tenant_id}/events").json["events"]


def test_signing_in_returns_tokens_that_the_authorizer_accepts(api, stack):
    account = signed_up_account(api, stack)
    tokens = sign_in(api, account.email)
    assert set(tokens) >= {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    for kind in ("access_token", "id_token"):
        me = api.with_token(tokens[kind]).get("/v1/me")
        assert me.status == 200 and me.json["user_id"] == account.user_id


def test_a_wrong_password_and_an_unknown_email_get_the_same_401_and_both_are_recorded(api, stack):
    account = signed_up_account(api, stack)
    wrong = api.post("/v1/auth/signin", {"email": account.email, "password": "Wrong-Password-9"})
    unknown = api.post("/v1/auth/signin", {"email": unique_email(), "password": PASSWORD})
    assert wrong.status == unknown.status == 401
    assert wrong.json == unknown.json and wrong.json["field"] == "password"
    failed = [e for e in events(api, account) if e["kind"] == "signin_failed"]
    assert len(failed) == 1 and failed[0]["details"]["reason"] == "bad_credentials" and failed[0]["actor"] is None


def test_a_failure_for_an_address_without_a_tenant_is_recorded_on_the_platform_journal(api, stack):
    from chalicelib import bootstrap

    bootstrap.container().signin_failures.flush(everything=True)  # other tests' failures: the next one opens a window
    email = unique_email("ghost")
    api.post("/v1/auth/signin", {"email": email, "password": PASSWORD})
    records = bootstrap.container().event_journal.list(
        "_platform", start="2000-01-01T00:00:00.000000Z", end="2999-01-01T00:00:00.000000Z", limit=10_000
    )
    assert any(r.data["kind"] == "signin_failed" and r.data["details"].get("email") == email for r in records)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x", "password": PASSWORD}, "email"),
        ({"email": "a@b.example"}, "password"),
        ({"email": "a@b.example", "password": ""}, "password"),
    ],
)
def test_a_malformed_sign_in_is_a_422_naming_the_field(api, body, field):
    reply = api.post("/v1/auth/signin", body)
    assert reply.status == 422 and reply.json["field"] == field


def test_repeated_failures_slow_down_then_lock_even_the_right_password(api, stack):
    from chalicelib.domain.accounts import SignInPolicy

    stack.container(signin_policy=SignInPolicy(free_failures=2, base_delay=timedelta(seconds=30), lock_after=3))
    account = signed_up_account(api, stack)
    for _ in range(2):
        assert api.post("/v1/auth/signin", {"email": account.email, "password": "Wrong-Password-9"}).status == 401
    slowed = api.post("/v1/auth/signin", {"email": account.email, "password": PASSWORD})
    assert slowed.status == 429 and slowed.json["field"] == "email"
    assert 1 <= int(slowed.headers["retry-after"]) <= 30
    # the first failure of the window is sealed; the others wait for the window's summary
    failed = [e for e in events(api, account) if e["kind"] == "signin_failed"]
    assert [e["details"]["count"] for e in failed] == [1]
    assert "signin_locked" not in [e["kind"] for e in events(api, account)]  # slowed down, not locked


def test_a_locked_address_says_how_long_to_wait(api, stack):
    from chalicelib.domain.accounts import SignInPolicy

    stack.container(signin_policy=SignInPolicy(free_failures=5, lock_after=1, lock_for=timedelta(minutes=15)))
    account = signed_up_account(api, stack)
    first = api.post("/v1/auth/signin", {"email": account.email, "password": "Wrong-Password-9"})
    assert first.status == 401 and "locked for 15 minutes" in first.json["detail"]
    locked = api.post("/v1/auth/signin", {"email": account.email, "password": PASSWORD})
    assert locked.status == 429 and "locked" in locked.json["detail"]
    assert 890 <= int(locked.headers["retry-after"]) <= 900
    # the lock-out is sealed once, not once per refused attempt
    assert api.post("/v1/auth/signin", {"email": account.email, "password": PASSWORD}).status == 429
    assert [e["kind"] for e in events(api, account)].count("signin_locked") == 1


def test_a_flood_of_failed_sign_ins_is_sealed_as_one_aggregate_per_window(api, stack):
    from datetime import UTC, datetime

    from chalicelib import bootstrap
    from chalicelib.services.signin_failures import SignInFailures

    account = signed_up_account(api, stack)
    before = len(events(api, account))
    # GIVEN a clock at the start of a window (the real one may cross a window boundary mid-test)
    c = bootstrap.container()
    now = [SignInFailures(c.ops_store, c.accounts_journal).window_start(datetime.now(UTC)) + timedelta(seconds=1)]
    failures = SignInFailures(c.ops_store, c.accounts_journal, clock=lambda: now[0])
    stack.container(signin_failures=failures)
    # WHEN 30 failed sign-ins hit the account (wrong password, then refused by the throttle)
    replies = [api.post("/v1/auth/signin", {"email": account.email, "password": "Wrong-Password-9"}).status
               for _ in range(30)]
    assert set(replies) <= {401, 429} and replies[:3] == [401] * 3
    # THEN the journal grew by one event, and by one more when the window's summary is sealed
    assert len(events(api, account)) == before + 1
    now[0] += timedelta(minutes=7)
    assert (account.tenant_id, 29) in [(f.tenant_id, f.count) for f in failures.flush()]
    failed = [e for e in events(api, account) if e["kind"] == "signin_failed"]
    assert [e["details"]["part"] for e in failed] == ["first", "summary"]
    assert sum(e["details"]["count"] for e in failed) == 30 and failed[1]["details"]["email"] == account.email
    assert len(events(api, account)) == before + 2


def test_refresh_gives_new_tokens(api, stack):
    account = signed_up_account(api, stack)
    tokens = sign_in(api, account.email)
    refreshed = api.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed.status == 200, refreshed
    assert api.with_token(refreshed.json["access_token"]).get("/v1/me").status == 200
    bad = api.post("/v1/auth/refresh", {"refresh_token": "not-a-refresh-token"})
    assert bad.status == 401 and bad.json["field"] == "refresh_token"


def test_signing_out_ends_the_session_its_token_belongs_to(api, stack):
    account = signed_up_account(api, stack)
    this = sign_in(api, account.email)
    other = sign_in(api, account.email)
    assert api.with_token(this["access_token"]).post("/v1/auth/signout").status == 204
    for token in (this["access_token"], this["id_token"]):
        assert api.with_token(token).get("/v1/me").status == 401
    assert api.post("/v1/auth/refresh", {"refresh_token": this["refresh_token"]}).status == 401
    assert api.with_token(other["access_token"]).get("/v1/me").status == 200
    assert "signout" in [e["kind"] for e in events(api, account)]


def test_a_signed_out_token_is_refused_on_tenant_routes_too_and_the_authorizer_calls_no_aws_api(api, stack):
    """The session check moved from the authorizer (a Lambda with no AWS grant: on AWS its read
    would have been refused) to the access check, read with the membership and the tenant."""
    from chalicelib.api.authorizer import jwt_authorizer

    account = signed_up_account(api, stack)
    this = sign_in(api, account.email)
    sales = f"/v1/tenants/{account.tenant_id}/events"
    assert api.with_token(this["access_token"]).get(sales).status == 200

    calls = []
    from chalicelib import bootstrap

    client = bootstrap.container().dynamodb
    client.meta.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
    try:
        answer = jwt_authorizer({"type": "TOKEN", "authorizationToken": f"Bearer {this['access_token']}",
                                 "methodArn": "arn:aws:execute-api:eu-west-1:1:a/b/GET/c"}, None)
    finally:
        client.meta.events.unregister("before-call.*.*")
    assert answer["principalId"] == account.user_id and calls == []

    assert api.with_token(this["access_token"]).post("/v1/auth/signout").status == 204
    refused = api.with_token(this["access_token"]).get(sales)
    assert refused.status == 401 and "signed out" in refused.json["detail"], refused
    assert api.with_token(this["id_token"]).get(sales).status == 401


def test_signing_out_everywhere_revokes_every_refresh_token(api, stack):
    account = signed_up_account(api, stack)
    this = sign_in(api, account.email)
    other = sign_in(api, account.email)
    assert api.with_token(this["access_token"]).post("/v1/auth/signout?everywhere=true").status == 204
    assert api.post("/v1/auth/refresh", {"refresh_token": other["refresh_token"]}).status == 401
    assert api.post("/v1/auth/signin", {"email": account.email, "password": PASSWORD}).status == 200


def test_signing_out_needs_a_token(api):
    assert api.post("/v1/auth/signout").status == 401


def test_a_token_issued_to_another_app_client_is_refused(api, stack):
    from chalicelib import bootstrap

    account = signed_up_account(api, stack)
    cognito = bootstrap.container().cognito
    other = cognito.create_user_pool_client(
        UserPoolId=stack.settings.user_pool_id,
        ClientName="other-app",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )
    result = cognito.initiate_auth(
        ClientId=other["UserPoolClient"]["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": account.email, "PASSWORD": PASSWORD},
    )
    for token in (result["AuthenticationResult"]["AccessToken"], result["AuthenticationResult"]["IdToken"]):
        assert api.with_token(token).get("/v1/me").status == 401


def test_the_event_journal_is_read_page_by_page(api, stack):
    account = signed_up_account(api, stack)
    for _ in range(2):
        sign_in(api, account.email)
    client = api.with_token(account.token)
    first = client.get(f"/v1/tenants/{account.tenant_id}/events?limit=2").json
    assert len(first["events"]) == 2 and first["next_cursor"]
    rest = client.get(f"/v1/tenants/{account.tenant_id}/events?limit=100&cursor={first['next_cursor']}").json
    seqs = [e["seq"] for e in first["events"] + rest["events"]]
    assert seqs == list(range(1, len(seqs) + 1)) and rest["next_cursor"] is None
    assert [e["kind"] for e in rest["events"]][-2:] == ["signin_succeeded", "signin_succeeded"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=abc", "cursor"),
        ("start=2025-01-01T00:00:00", "start"),
        ("foo=1", "foo"),
        ("start=2025-02-01T00:00:00Z&end=2025-01-01T00:00:00Z", "start"),
    ],
)
def test_a_bad_event_query_is_a_422_naming_the_field(api, stack, query, field):
    account = signed_up_account(api, stack)
    reply = api.with_token(account.token).get(f"/v1/tenants/{account.tenant_id}/events?{query}")
    assert reply.status == 422 and reply.json["field"] == field, reply
