"""SignInService on in-memory adapters: events for every attempt, throttle, refresh, sign-out."""

from datetime import timedelta

import pytest

from chalicelib.domain.accounts import PLATFORM_TENANT, SignInPolicy
from chalicelib.domain.errors import TooManyRequests, Unauthenticated, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.services.account_ports import BadCredentials, EmailNotVerified
from tests.unit.accounts_world import PASSWORD, world


@pytest.fixture
def w():
    return world(
        SignInPolicy(free_failures=2, base_delay=timedelta(seconds=1), lock_after=4, lock_for=timedelta(minutes=15))
    )


def test_a_successful_sign_in_is_an_event_in_each_tenant_of_the_account(w):
    a = w.signup().tenant.tenant_id
    w.join(a, "owner@example.com", "acc@firm.example", "accountant")
    b = w.signup(email="other@example.com", number="0202239951").tenant.tenant_id
    w.join(b, "other@example.com", "acc@firm.example", "accountant")
    w.journal.events.clear()
    tokens = w.signin.sign_in("Acc@Firm.example", PASSWORD)
    assert tokens.access_token and tokens.refresh_token
    assert sorted((e["tenant_id"], e["kind"], e["training"]) for e in w.journal.events) == sorted(
        [(a, "signin_succeeded", True), (b, "signin_succeeded", True)]
    )


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer_and_are_recorded(w):
    tid = w.signup().tenant.tenant_id
    with pytest.raises(BadCredentials) as wrong:
        w.signin.sign_in("owner@example.com", "Wrong-Password-1")
    with pytest.raises(BadCredentials) as unknown:
        w.signin.sign_in("ghost@example.com", PASSWORD)
    assert wrong.value.detail == unknown.value.detail
    failed = [(e["tenant_id"], e["details"].get("reason")) for e in w.journal.events if e["kind"] == "signin_failed"]
    assert failed == [(tid, "bad_credentials"), (PLATFORM_TENANT, "bad_credentials")]


def test_an_unverified_address_cannot_sign_in_and_it_does_not_count_as_a_guess(w):
    w.signup(verify=False)
    for _ in range(5):
        with pytest.raises(EmailNotVerified):
            w.signin.sign_in("owner@example.com", PASSWORD)
    assert w.store.throttles == {}


def test_failures_slow_sign_in_down_then_lock_it_even_for_the_right_password(w):
    w.signup()
    for _ in range(2):  # the free failures
        with pytest.raises(BadCredentials):
            w.signin.sign_in("owner@example.com", "Wrong-Password-1")
    with pytest.raises(TooManyRequests) as slow:
        w.signin.sign_in("owner@example.com", PASSWORD)
    assert slow.value.extra["retry_after"] == 1 and slow.value.field == "email"
    w.clock.advance(seconds=1)
    with pytest.raises(BadCredentials):
        w.signin.sign_in("owner@example.com", "Wrong-Password-1")  # 3rd: the next one waits 2 s
    w.clock.advance(seconds=1)
    with pytest.raises(TooManyRequests) as slower:
        w.signin.sign_in("owner@example.com", PASSWORD)
    assert slower.value.extra["retry_after"] == 1
    w.clock.advance(seconds=1)
    with pytest.raises(BadCredentials, match="locked"):
        w.signin.sign_in("owner@example.com", "Wrong-Password-1")  # 4th: locked
    w.clock.advance(minutes=14)
    with pytest.raises(TooManyRequests, match="locked") as locked:
        w.signin.sign_in("owner@example.com", PASSWORD)
    assert locked.value.extra["retry_after"] == 60
    assert [e["kind"] for e in w.journal.events].count("signin_locked") == 3
    w.clock.advance(minutes=1)
    assert w.signin.sign_in("owner@example.com", PASSWORD).access_token
    assert w.store.throttles == {}


def test_unknown_addresses_are_throttled_like_known_ones(w):
    for _ in range(2):
        with pytest.raises(BadCredentials):
            w.signin.sign_in("ghost@example.com", PASSWORD)
    with pytest.raises(TooManyRequests):
        w.signin.sign_in("ghost@example.com", PASSWORD)


def test_a_malformed_address_is_a_422_and_not_an_attempt(w):
    with pytest.raises(ValidationFailed):
        w.signin.sign_in("nope", PASSWORD)
    assert w.journal.events == []


def test_refresh_gives_new_tokens_until_the_session_signs_out(w):
    w.signup()
    tokens = w.signin.sign_in("owner@example.com", PASSWORD)
    assert w.signin.refresh(tokens.refresh_token).access_token
    principal = Principal(w.store.user_id_for_email("owner@example.com"), "owner@example.com")
    assert not w.signin.is_revoked(tokens.access_token)
    w.signin.sign_out(principal, tokens.access_token)
    assert w.signin.is_revoked(tokens.access_token) and w.signin.is_revoked(tokens.id_token)
    with pytest.raises(Unauthenticated) as refused:
        w.signin.refresh(tokens.refresh_token)
    assert refused.value.field == "refresh_token"
    assert w.journal.events[-1]["kind"] == "signout"


def test_signing_out_everywhere_revokes_every_refresh_token(w):
    w.signup()
    first = w.signin.sign_in("owner@example.com", PASSWORD)
    second = w.signin.sign_in("owner@example.com", PASSWORD)
    principal = Principal(w.store.user_id_for_email("owner@example.com"), "owner@example.com")
    w.signin.sign_out(principal, first.access_token, everywhere=True)
    with pytest.raises(Unauthenticated):
        w.signin.refresh(second.refresh_token)
    assert not w.signin.is_revoked(second.access_token)  # lives until it expires (at most an hour)


def test_a_token_without_a_session_claim_is_never_revoked(w):
    assert not w.signin.is_revoked("not-a-jwt")
