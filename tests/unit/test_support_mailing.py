"""The mailing sender against an in-memory store: bounded rate, continuation before the Lambda
time limit, cancellation, at-most-once claims and the certain / uncertain failure split."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.identity import Principal
from chalicelib.domain.support import Progress, UnsubscribeTokens
from chalicelib.services.mailing import MailingService, certainly_not_sent, months_before

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Principal("op", "op@scelle.example")


class MemoryStore:
    def __init__(self) -> None:
        self.mailings: dict = {}
        self.rcpts: dict = {}
        self.unsub: set = set()

    def create_mailing(self, m):
        self.mailings[m.mailing_id] = m

    def get_mailing(self, mailing_id):
        return self.mailings.get(mailing_id)

    def save_mailing(self, new, *, expected):
        if self.mailings[new.mailing_id].status not in expected:
            return False
        self.mailings[new.mailing_id] = new
        return True

    def add_recipients(self, mailing_id, recipients):
        for r in recipients:
            self.rcpts.setdefault(mailing_id, {})[r.email] = r

    def recipients(self, mailing_id, state=None):
        return [r for r in list(self.rcpts.get(mailing_id, {}).values()) if state is None or r.state == state]

    def move_recipient(self, mailing_id, email, from_state, to_state, **attrs):
        r = self.rcpts[mailing_id][email]
        if r.state != from_state:
            return False
        self.rcpts[mailing_id][email] = replace(r, state=to_state, **{k: v for k, v in attrs.items() if v})
        return True

    def progress(self, mailing_id):
        p = Progress()
        for r in self.rcpts.get(mailing_id, {}).values():
            p.counts[r.state] += 1
        return p

    def unsubscribe(self, email, at):
        self.unsub.add(email)

    def is_unsubscribed(self, email):
        return email in self.unsub

    def active_since(self, day):
        return []


class FakeMailer:
    def __init__(self, fail=None) -> None:
        self.sent: list[str] = []
        self.fail = fail or (lambda to: None)

    def send(self, to, subject, text, html=None):
        error = self.fail(to)
        if error is not None:
            raise error
        self.sent.append(to)
        return f"id-{len(self.sent)}"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def monotonic(self):
        return self.t

    def sleep(self, seconds):
        self.slept += seconds
        self.t += seconds


def service(store, mailer, *, users=10, rate=5.0, clock=None, started=None):
    clock = clock or Clock()
    people = [{"user_id": f"u{i}", "email": f"user{i:02d}@example.com", "email_verified": True} for i in range(users)]
    people.append({"user_id": "x", "email": "unverified@example.com", "email_verified": False})
    people.append({"user_id": "o", "email": "op@scelle.example", "email_verified": True, "operator": True})
    calls = started if started is not None else []
    svc = MailingService(store, None, lambda: people, lambda: mailer, lambda: UnsubscribeTokens(bytes(32)),
                         calls.append, rate=rate, public_base_url="https://app.example", clock=lambda: NOW,
                         sleep=clock.sleep, monotonic=clock.monotonic)
    return svc, calls


def ready(svc, store, calls):
    mailing = svc.prepare(OPERATOR, kind="newsletter", subject="News", body="Hello")
    assert calls.pop() == {"mailing_id": mailing.mailing_id, "step": "prepare"}
    svc.handle({"mailing_id": mailing.mailing_id, "step": "prepare"})
    prepared = store.get_mailing(mailing.mailing_id)
    assert prepared.status == "prepared" and prepared.recipients == 10  # verified non-operators only
    svc.confirm(OPERATOR, mailing.mailing_id, 10)
    assert calls.pop() == {"mailing_id": mailing.mailing_id, "step": "send"}
    return mailing.mailing_id


def test_sending_is_bounded_by_the_configured_rate():
    store, mailer, clock = MemoryStore(), FakeMailer(), Clock()
    svc, calls = service(store, mailer, rate=5.0, clock=clock)
    mid = ready(svc, store, calls)
    result = svc.run(mid)
    assert result["status"] == "done" and len(mailer.sent) == 10
    assert clock.slept == pytest.approx(9 / 5.0)  # 10 mails at 5 per second: 1.8 s of waiting


def test_a_run_stops_before_the_time_limit_and_starts_itself_again():
    store, mailer = MemoryStore(), FakeMailer()
    svc, calls = service(store, mailer)
    mid = ready(svc, store, calls)
    budget = iter([120_000] * 4 + [30_000] * 100)
    first = svc.run(mid, lambda: next(budget))
    assert first["status"] == "continuing" and len(mailer.sent) == 4
    assert calls == [{"mailing_id": mid, "step": "send"}]
    assert svc.run(mid)["status"] == "done" and len(mailer.sent) == len(set(mailer.sent)) == 10


def test_two_workers_never_send_to_the_same_recipient():
    store, mailer = MemoryStore(), FakeMailer()
    svc, calls = service(store, mailer)
    mid = ready(svc, store, calls)
    other = FakeMailer()
    svc2, _ = service(store, other)
    # The second worker claims everyone first; the first worker then finds nobody pending to claim.
    original = store.recipients
    raced = []

    def racing(mailing_id, state=None):
        found = original(mailing_id, state)
        if state == "pending" and not raced:
            raced.append(True)
            svc2.run(mid)
        return found

    store.recipients = racing
    svc.run(mid)
    assert mailer.sent == [] and len(other.sent) == 10


def test_a_cancelled_mailing_stops():
    store, mailer = MemoryStore(), FakeMailer()
    svc, _calls = service(store, mailer, users=120)
    mailing = svc.prepare(OPERATOR, kind="newsletter", subject="News", body="Hello")
    svc.handle({"mailing_id": mailing.mailing_id, "step": "prepare"})
    svc.confirm(OPERATOR, mailing.mailing_id, 120)

    def cancel_at_60(to):
        if len(mailer.sent) == 60 and store.get_mailing(mailing.mailing_id).status == "sending":
            svc.cancel(OPERATOR, mailing.mailing_id)

    mailer.fail = cancel_at_60
    assert svc.run(mailing.mailing_id)["status"] == "cancelled"
    assert 60 <= len(mailer.sent) < 120


def test_three_refusals_in_a_row_pause_the_mailing_and_a_resume_retries_them():
    store, clock = MemoryStore(), Clock()
    refused = {"user03@example.com", "user04@example.com", "user05@example.com"}
    mailer = FakeMailer(lambda to: _refusal() if to in refused else None)
    svc, calls = service(store, mailer, clock=clock)
    mid = ready(svc, store, calls)
    result = svc.run(mid)
    assert result["status"] == "failed" and store.progress(mid).counts["failed"] == 3
    assert store.get_mailing(mid).status == "failed" and len(mailer.sent) == 3
    refused.clear()
    svc.resume(OPERATOR, mid)
    assert svc.run(mid)["status"] == "done"
    assert sorted(mailer.sent) == sorted(set(mailer.sent)) and len(mailer.sent) == 10


def test_an_uncertain_send_stops_the_mailing_and_is_never_retried():
    store = MemoryStore()
    mailer = FakeMailer(lambda to: _timeout() if to == "user02@example.com" else None)
    svc, calls = service(store, mailer)
    mid = ready(svc, store, calls)
    assert svc.run(mid)["status"] == "failed"
    mailer.fail = lambda to: None
    svc.resume(OPERATOR, mid)
    assert svc.run(mid)["status"] == "done"
    assert "user02@example.com" not in mailer.sent and len(mailer.sent) == 9
    assert store.progress(mid).counts["claimed"] == 1


def test_unsubscribed_addresses_are_skipped_when_their_turn_comes():
    store, mailer = MemoryStore(), FakeMailer()
    svc, calls = service(store, mailer)
    mid = ready(svc, store, calls)
    token = svc.unsubscribe_url("user07@example.com").split("token=")[1]
    assert svc.unsubscribe_status(token) == {"email": "u***@example.com", "unsubscribed": False}
    assert svc.unsubscribe(token) == {"email": "u***@example.com", "unsubscribed": True}
    svc.run(mid)
    assert "user07@example.com" not in mailer.sent and store.progress(mid).counts["skipped"] == 1


def test_certain_and_uncertain_failures():
    assert certainly_not_sent(_refusal())
    try:
        raise Unavailable("no route") from EndpointConnectionError(endpoint_url="https://email")
    except Unavailable as exc:
        assert certainly_not_sent(exc)
    assert not certainly_not_sent(_timeout())
    assert not certainly_not_sent(RuntimeError("crash"))


def test_months_before():
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)
    assert months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)


def _refusal() -> Unavailable:
    try:
        raise Unavailable("refused") from ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "SendEmail")
    except Unavailable as exc:
        return exc


def _timeout() -> Unavailable:
    try:
        raise Unavailable("timeout") from ReadTimeoutError(endpoint_url="https://email")
    except Unavailable as exc:
        return exc


def test_without_an_unsubscribe_key_nothing_is_prepared_or_claimed():
    from chalicelib.config import ConfigError

    store, mailer = MemoryStore(), FakeMailer()
    svc, calls = service(store, mailer)
    mid = ready(svc, store, calls)

    def missing():
        raise ConfigError("SCELLE_UNSUBSCRIBE_KEY must be set")

    svc._tokens = missing
    with pytest.raises(Unavailable, match="SCELLE_UNSUBSCRIBE_KEY"):
        svc.run(mid)
    assert store.get_mailing(mid).status == "failed" and store.progress(mid).counts["pending"] == 10
    with pytest.raises(Unavailable):
        svc.prepare(OPERATOR, kind="newsletter", subject="s", body="b")
    assert mailer.sent == [] and len(store.mailings) == 1
