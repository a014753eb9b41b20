"""SignInService on in-memory adapters: events for every attempt, throttle, refresh, sign-out."""

from datetime import timedelta

import pytest

from chalicelib.domain.accounts import PLATFORM_TENANT, SignInPolicy
from chalicelib.domain.errors import TooManyRequests, Unauthenticated, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.ports.accounts import BadCredentials, EmailNotVerified
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
    # the lock-out is sealed once; the 7 refused attempts (wrong password or throttled) are counted
    assert [e["kind"] for e in w.journal.events].count("signin_locked") == 1
    w.clock.advance(minutes=1)
    assert w.signin.sign_in("owner@example.com", PASSWORD).access_token
    assert w.store.throttles == {}
    w.clock.advance(minutes=10)
    w.failures.flush()
    assert sealed_failures(w) == 7


def sealed_failures(w, tenant_id=None) -> int:
    """The failed sign-ins the sealed ``signin_failed`` events account for."""
    return sum(e["details"]["count"] for e in w.journal.events
               if e["kind"] == "signin_failed" and (tenant_id is None or e["tenant_id"] == tenant_id))


def failed_events(w, tenant_id=None) -> list[dict]:
    return [e for e in w.journal.events
            if e["kind"] == "signin_failed" and (tenant_id is None or e["tenant_id"] == tenant_id)]


def attack(w, emails, n, *, every=timedelta(seconds=1)) -> None:
    """``n`` failed sign-ins, cycling through ``emails``, one every ``every``."""
    for i in range(n):
        with pytest.raises((BadCredentials, TooManyRequests)):
            w.signin.sign_in(emails[i % len(emails)], "Wrong-Password-1")
        w.clock.advance(seconds=every.total_seconds())


def test_200_failed_sign_ins_in_one_window_seal_at_most_two_events_that_count_them_all(w):
    # GIVEN a tenant with two members
    tid = w.signup().tenant.tenant_id
    w.join(tid, "owner@example.com", "seller@example.com", "seller")
    w.journal.events.clear()
    # WHEN 200 failed sign-ins hit its accounts within one 5-minute window (1 per second: most of
    # them refused by the throttle, which locks each address once)
    attack(w, ["owner@example.com", "seller@example.com"], 200)
    during = len(w.journal.kinds(tid))
    # THEN only the window's first failure is sealed so far, plus each address's lock-out
    assert [e["details"]["count"] for e in failed_events(w, tid)] == [1]
    assert w.journal.kinds(tid).count("signin_locked") == 2
    # WHEN the window is over and the schedule flushes it
    w.clock.advance(minutes=5)
    flushed = w.failures.flush()
    # THEN one summary carries the other 199: at most 2 events, whose counts sum to 200
    events = failed_events(w, tid)
    assert len(events) == 2 and sealed_failures(w, tid) == 200
    assert [(f.tenant_id, f.count) for f in flushed] == [(tid, 199)]
    summary = events[1]["details"]
    assert summary["part"] == "summary" and summary["window_count"] == 200
    assert summary["distinct_emails"] == 2 and sum(r["count"] for r in summary["emails"]) == 199
    assert sum(summary["reasons"].values()) == 200 and summary["reasons"]["bad_credentials"] == 8
    assert summary["first_at"] < summary["last_at"] <= summary["window_end"]
    assert events[1]["actor"] is None and events[1]["training"] is True
    assert len(w.journal.kinds(tid)) == during + 1
    # AND a second flush seals nothing more
    assert w.failures.flush() == [] and len(failed_events(w, tid)) == 2


def test_the_event_chain_does_not_grow_with_the_number_of_failures(w):
    tid = w.signup().tenant.tenant_id
    w.journal.events.clear()
    attack(w, ["owner@example.com"], 20, every=timedelta(milliseconds=500))
    after_20 = len(w.journal.kinds(tid))
    attack(w, ["owner@example.com"], 180, every=timedelta(milliseconds=500))
    assert len(w.journal.kinds(tid)) == after_20
    w.clock.advance(minutes=10)
    w.failures.flush()
    assert len(failed_events(w, tid)) == 2 and sealed_failures(w, tid) == 200


def test_unknown_addresses_are_aggregated_on_the_platform_journal_lock_outs_included(w):
    # WHEN 150 guesses spread over 50 addresses that have no account
    ghosts = [f"ghost{i}@example.com" for i in range(50)]
    attack(w, ghosts, 150, every=timedelta(milliseconds=100))
    # THEN nothing is sealed per guess nor per lock-out of an address nobody owns
    assert w.journal.kinds(PLATFORM_TENANT) == ["signin_failed"]
    w.clock.advance(minutes=10)
    w.failures.flush()
    assert sealed_failures(w, PLATFORM_TENANT) == 150
    summary = failed_events(w, PLATFORM_TENANT)[-1]["details"]
    assert summary["distinct_emails"] == 50 and len(summary["emails"]) == 10  # the most tried, not all
    assert summary["lockouts"] == 0  # 3 guesses each, 4 needed to lock
    attack(w, ["ghost0@example.com"] * 4, 4, every=timedelta(seconds=10))
    w.clock.advance(minutes=10)
    w.failures.flush()
    assert failed_events(w, PLATFORM_TENANT)[-1]["details"]["lockouts"] == 1
    assert "signin_locked" not in w.journal.kinds(PLATFORM_TENANT)


def test_windows_are_summarised_one_by_one_and_nothing_is_lost_between_them(w):
    tid = w.signup().tenant.tenant_id
    w.journal.events.clear()
    # GIVEN 29 failures over two windows (12:00-12:05, 12:05-12:10), one every 20 s
    attack(w, ["owner@example.com", "x@example.com"], 29, every=timedelta(seconds=20))  # until 12:09:40
    assert w.failures.flush() != []  # the first window only: the second is not over
    assert [e["details"]["part"] for e in failed_events(w, tid)] == ["first", "first", "summary"]
    # WHEN the open window is flushed early (a schedule run with a fast clock) and failures go on
    w.failures.flush(everything=True)
    attack(w, ["owner@example.com"], 7)  # 12:09:40-12:09:46: their window is closed already
    w.clock.advance(minutes=20)
    w.failures.flush()
    # THEN they are counted in the next window, and every failure is in exactly one sealed count
    windows = [e["details"]["window_start"] for e in failed_events(w, tid)]
    assert windows[-2:] == ["2025-03-01T12:10:00.000000Z"] * 2
    assert sealed_failures(w, tid) == 15 + 7
    assert sealed_failures(w, PLATFORM_TENANT) == 14  # x@example.com has no account


class FlakyJournal:
    """Refuses the next ``fail`` events, then records in ``journal``."""

    def __init__(self, journal, fail: int) -> None:
        self.journal, self.fail = journal, fail

    def record(self, *args, **kwargs):
        if self.fail:
            self.fail -= 1
            raise RuntimeError("events table unavailable")
        return self.journal.record(*args, **kwargs)


def test_a_first_failure_that_could_not_be_sealed_is_in_the_summary(w):
    from chalicelib.services.signin_failures import SignInFailures

    tid = w.signup().tenant.tenant_id
    w.journal.events.clear()
    flaky = FlakyJournal(w.journal, fail=1)
    w.signin._failures = SignInFailures(w.ops, lambda: flaky, clock=w.clock)
    with pytest.raises(BadCredentials):  # the sign-in still answers 401
        w.signin.sign_in("owner@example.com", "Wrong-Password-1")
    assert failed_events(w, tid) == []
    w.clock.advance(minutes=10)
    flaky.fail = 1  # the summary's first attempt fails too: the next run retries it
    assert w.signin._failures.flush() == []
    w.clock.advance(minutes=5)
    assert [f.count for f in w.signin._failures.flush()] == [1]
    assert sealed_failures(w, tid) == 1 and failed_events(w, tid)[0]["details"]["email"] == "owner@example.com"


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
