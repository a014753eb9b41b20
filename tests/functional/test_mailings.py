"""Mailings through the HTTP API: prepare then confirm, bounded sending, unsubscribe links,
recently active users, and a failed mailing resumed without mailing anyone twice."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import pytest
from botocore.exceptions import ClientError

from chalicelib.domain.errors import Unavailable
from tests.support.operators import operator_account, ses_messages
from tests.support.users import count_all, member, signed_up_account

pytestmark = pytest.mark.functional
_LINK = re.compile(r"Unsubscribe: (\S+)")


@pytest.fixture(scope="module")
def world(stack):
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    admin = signed_up_account(api, stack)
    people = {
        "admin": admin,
        "seller": member(api, stack, admin.tenant_id, admin.token, "seller"),
        "quiet": member(api, stack, admin.tenant_id, admin.token, "manager"),
        "leaver": member(api, stack, admin.tenant_id, admin.token, "accountant"),
        "extra1": member(api, stack, admin.tenant_id, admin.token, "seller"),
        "extra2": member(api, stack, admin.tenant_id, admin.token, "seller"),
        "operator": operator_account(api),
    }
    return api, people


class Recorder:
    """The real mailer (SES on the emulator), recorded, and able to fail on demand."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, str, str | None]] = []
        self.crash_after: int | None = None  # sends that succeed before a crash
        self.refuse: set[str] = set()  # addresses SES refuses

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        if to in self.refuse:
            error = ClientError({"Error": {"Code": "MessageRejected", "Message": "refused"}}, "SendEmail")
            raise Unavailable(f"mail to {to} could not be sent: refused") from error
        message_id = self.inner.send(to, subject, text, html)
        self.sent.append((to, subject, text, html))
        if self.crash_after is not None and len(self.sent) > self.crash_after:
            raise RuntimeError("the Lambda died right after SES accepted the mail")
        return message_id

    def to(self, subject: str) -> Counter:
        return Counter(to for to, s, _, _ in self.sent if s == subject)


@pytest.fixture
def mail(container):
    """Record mail, run ``send_mailing`` inline, and send fast (the rate is unit-tested)."""
    from dataclasses import replace

    from chalicelib import bootstrap

    recorder = Recorder(container.mailer)
    container.__dict__["mailer"] = recorder
    container.__dict__["support_config"] = replace(container.support_config, mailing_rate=500.0)
    container.__dict__["mailing_invoker"] = lambda payload: bootstrap._support_run_mailing(container, payload)
    return recorder


def client(world, who):
    api, people = world
    return api.with_token(people[who].token)


def prepare(world, **body):
    reply = client(world, "operator").post("/v1/operator/mailings", {"kind": "newsletter", "subject": "S",
                                                                     "body": "B", **body})
    assert reply.status == 202 and reply.json["status"] == "preparing", reply
    got = client(world, "operator").get(f"/v1/operator/mailings/{reply.json['mailing_id']}").json
    assert got["status"] == "prepared", got
    return got


def confirm(world, mailing):
    reply = client(world, "operator").post(f"/v1/operator/mailings/{mailing['mailing_id']}/confirm",
                                           {"recipients": mailing["recipients"]})
    assert reply.status == 202, reply
    return client(world, "operator").get(f"/v1/operator/mailings/{mailing['mailing_id']}").json


def recipients(container, mailing_id):
    return {r.email: r.state for r in container.support_store.recipients(mailing_id)}


def test_a_newsletter_is_prepared_then_confirmed_then_sent_once_to_every_user(world, stack, container, mail):
    _, people = world
    prepared = prepare(world, subject="Scellé news 1", body="Hello **everyone**")
    assert prepared["recipients"] >= 4 and prepared["progress"]["pending"] == prepared["recipients"]
    listed = recipients(container, prepared["mailing_id"])
    assert {people[w].email for w in ("admin", "seller", "quiet", "leaver")} <= set(listed)
    assert people["operator"].email not in listed
    assert mail.sent == []  # nothing leaves before the confirmation

    wrong = client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/confirm",
                                           {"recipients": prepared["recipients"] + 1})
    assert wrong.status == 409 and wrong.json["field"] == "recipients" and mail.sent == []

    done = confirm(world, prepared)
    assert done["status"] == "done", done
    assert done["progress"]["sent"] + done["progress"]["skipped"] == prepared["recipients"]
    counts = mail.to("Scellé news 1")
    assert max(counts.values()) == 1 and sum(counts.values()) == done["progress"]["sent"]
    text, html = next((t, h) for to, s, t, h in mail.sent if to == people["seller"].email)
    assert "Hello **everyone**" in text and "<strong>everyone</strong>" in html and _LINK.search(text)
    assert any(m["subject"] == "Scellé news 1" for m in ses_messages(stack, people["seller"].email))
    again = client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/confirm",
                                           {"recipients": prepared["recipients"]})
    assert again.status == 409 and again.json["field"] == "status"


def test_the_unsubscribe_link_is_honoured_by_the_next_mailing(world, stack, container, mail):
    api, people = world
    leaver = people["leaver"].email
    confirm(world, prepare(world, subject="Scellé news 2"))
    text = next(t for to, s, t, _ in mail.sent if to == leaver and s == "Scellé news 2")
    link = urlsplit(_LINK.search(text).group(1))
    token = unquote(link.query.removeprefix("token="))
    public = api.with_token(None)

    page = public.get(f"{link.path}?{link.query}")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    masked = f"{leaver[0]}***@example.com"
    assert b'<form method="get"' in page.body and b'name="confirm" value="yes"' in page.body
    assert masked.encode() in page.body
    before = count_all(stack)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert public.post(f"/v1/unsubscribe?token={tampered}").json["field"] == "token"
    assert public.post("/v1/unsubscribe").json["field"] == "token"
    assert count_all(stack) == before
    assert public.get(f"{link.path}?{link.query}&confirm=maybe").json["field"] == "confirm"
    assert count_all(stack) == before  # opening the link changes nothing
    clicked = public.get(f"{link.path}?{link.query}&confirm=yes")  # the page's button
    assert clicked.status == 200 and b"is unsubscribed" in clicked.body
    done = public.post(f"{link.path}?{link.query}")  # the JSON route for apps; twice is fine
    assert done.status == 200 and done.json == {"email": masked, "unsubscribed": True}
    assert b"is unsubscribed" in public.get(f"{link.path}?{link.query}").body

    third = confirm(world, prepare(world, subject="Scellé news 3"))
    assert recipients(container, third["mailing_id"])[leaver] == "skipped"
    assert mail.to("Scellé news 3")[leaver] == 0 and mail.to("Scellé news 3")[people["seller"].email] == 1
    assert third["progress"]["skipped"] >= 1


def test_a_failed_mailing_resumes_and_nobody_is_mailed_twice(world, container, mail):
    _, _people = world
    prepared = prepare(world, subject="Scellé news 4")
    total = prepared["recipients"]
    mail.crash_after = 2  # the third send leaves, then the worker dies before recording it
    failed = confirm(world, prepared)
    assert failed["status"] == "failed" and "RuntimeError" in failed["last_error"], failed
    assert failed["progress"]["sent"] == 2 and failed["progress"]["uncertain"] == 1
    assert failed["next_step"].endswith("POST .../resume")

    mail.crash_after = None
    pending = sorted(e for e, state in recipients(container, prepared["mailing_id"]).items() if state == "pending")
    # an address unsubscribed by an earlier test is skipped, never sent: refuse one that will be tried
    refused = next(e for e in pending if not container.support_store.is_unsubscribed(e))
    mail.refuse = {refused}  # SES refuses one address: certainly not sent
    resumed = client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/resume")
    assert resumed.status == 202, resumed
    after = client(world, "operator").get(f"/v1/operator/mailings/{prepared['mailing_id']}").json
    assert after["status"] == "failed" and after["progress"]["failed"] == 1, after
    assert "refused" in after["last_error"]

    mail.refuse = set()
    client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/resume")
    final = client(world, "operator").get(f"/v1/operator/mailings/{prepared['mailing_id']}").json
    assert final["status"] == "done", final
    progress = final["progress"]
    assert progress["uncertain"] == 1 and progress["pending"] == progress["failed"] == 0
    assert progress["sent"] + progress["uncertain"] + progress["skipped"] == total
    counts = mail.to("Scellé news 4")
    assert max(counts.values()) == 1, "someone was mailed twice"
    assert sum(counts.values()) == progress["sent"] + progress["uncertain"]  # the uncertain one did leave once
    assert counts[refused] == 1  # the refused address was retried, once
    done_again = client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/resume")
    assert done_again.status == 409


def test_recent_users_are_those_who_used_the_app_in_the_last_months(world, container, mail):
    _api, people = world
    now = [datetime.now(UTC) - timedelta(days=100)]
    container.__dict__["clock"] = lambda: now[0]
    assert client(world, "admin").get("/v1/news").status == 200  # the app's start, 100 days ago
    now[0] = datetime.now(UTC)
    assert client(world, "seller").get("/v1/news").status == 200  # today
    assert client(world, "seller").get("/v1/news").status == 200  # one record a day, whatever the calls

    one = prepare(world, kind="recent_users", months=1, subject="Recent 1")
    six = prepare(world, kind="recent_users", months=6, subject="Recent 6")
    in_one, in_six = recipients(container, one["mailing_id"]), recipients(container, six["mailing_id"])
    assert people["seller"].email in in_one and people["admin"].email not in in_one
    assert {people["seller"].email, people["admin"].email} <= set(in_six)
    assert people["quiet"].email not in in_six  # never used the app
    done = confirm(world, one)
    assert done["status"] == "done" and mail.to("Recent 1")[people["seller"].email] == 1
    assert mail.to("Recent 1")[people["admin"].email] == 0
    text = next(t for to, s, t, _ in mail.sent if s == "Recent 1")
    assert "used Scellé recently" in text


def test_in_local_mode_the_sender_runs_in_the_background(world, container):
    from dataclasses import replace

    container.__dict__["support_config"] = replace(container.support_config, mailing_rate=500.0)
    assert client(world, "seller").get("/v1/news").status == 200
    operator = client(world, "operator")
    created = operator.post("/v1/operator/mailings", {"kind": "recent_users", "months": 1, "subject": "Background",
                                                      "body": "Sent by a thread."})
    path = f"/v1/operator/mailings/{created.json['mailing_id']}"

    def wait_for(status):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = operator.get(path).json
            if got["status"] == status:
                return got
            time.sleep(0.05)
        raise AssertionError(f"mailing never reached {status}: {got}")

    prepared = wait_for("prepared")
    assert operator.post(f"{path}/confirm", {"recipients": prepared["recipients"]}).status == 202
    assert wait_for("done")["progress"]["sent"] >= 1


def test_only_the_operator_sends_mailings_and_refusals_write_nothing(world, stack, container, mail):
    prepared = prepare(world, subject="Roles")
    mid = prepared["mailing_id"]
    before = count_all(stack)
    for who in ("admin", "seller"):
        for reply in (
            client(world, who).post("/v1/operator/mailings", {"kind": "newsletter", "subject": "x", "body": "y"}),
            client(world, who).get("/v1/operator/mailings"),
            client(world, who).get(f"/v1/operator/mailings/{mid}"),
            client(world, who).post(f"/v1/operator/mailings/{mid}/confirm", {"recipients": prepared["recipients"]}),
            client(world, who).post(f"/v1/operator/mailings/{mid}/resume"),
            client(world, who).post(f"/v1/operator/mailings/{mid}/cancel"),
        ):
            assert reply.status == 403 and reply.json["permission"] == "mailing.send", (who, reply)
    assert count_all(stack) == before and mail.sent == []
    listed = client(world, "operator").get("/v1/operator/mailings?limit=100").json["mailings"]
    assert mid in [m["mailing_id"] for m in listed]
    cancelled = client(world, "operator").post(f"/v1/operator/mailings/{mid}/cancel")
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    late = client(world, "operator").post(f"/v1/operator/mailings/{mid}/confirm",
                                          {"recipients": prepared["recipients"]})
    assert late.status == 409 and mail.sent == []


@pytest.mark.parametrize("body, field", [
    ({"kind": "everyone", "subject": "s", "body": "b"}, "kind"),
    ({"kind": "newsletter", "subject": "s", "body": "b", "months": 3}, "months"),
    ({"kind": "recent_users", "subject": "s", "body": "b"}, "months"),
    ({"kind": "recent_users", "subject": "s", "body": "b", "months": 0}, "months"),
    ({"kind": "recent_users", "subject": "s", "body": "b", "months": 37}, "months"),
    ({"kind": "newsletter", "subject": "", "body": "b"}, "subject"),
    ({"kind": "newsletter", "subject": "s", "body": "  "}, "body"),
    ({"kind": "newsletter", "subject": "s", "body": "b", "to": "everyone"}, "to"),
])
def test_bad_mailing_input_is_a_422_naming_the_field_and_writes_nothing(world, stack, container, mail, body, field):
    before = count_all(stack)
    reply = client(world, "operator").post("/v1/operator/mailings", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_unknown_mailings_and_bad_confirmations(world, stack, container, mail):
    operator = client(world, "operator")
    before = count_all(stack)
    assert operator.get("/v1/operator/mailings/u00000000000000000000").status == 404
    assert operator.post("/v1/operator/mailings/nope/confirm", {"recipients": 1}).json["field"] == "mailing_id"
    prepared = prepare(world, subject="Bad confirmations")
    before = count_all(stack)
    path = f"/v1/operator/mailings/{prepared['mailing_id']}"
    assert operator.post(f"{path}/confirm", {}).json["field"] == "recipients"
    assert operator.post(f"{path}/confirm", {"recipients": -1}).json["field"] == "recipients"
    assert operator.post(f"{path}/resume").status == 409  # not failed
    assert operator.get("/v1/operator/mailings?cursor=%%%").status == 422
    assert count_all(stack) == before and mail.sent == []


def test_the_send_mailing_lambda_takes_the_async_event(world, container, mail):
    from chalicelib.handlers.support import send_mailing
    from chalicelib.local.lambda_events import LocalContext

    assert send_mailing({"mailing_id": "u00000000000000000000", "step": "send"}, LocalContext("send_mailing")) == {
        "mailing_id": "u00000000000000000000", "status": "unknown"}
    prepared = prepare(world, subject="Through the handler")
    client(world, "operator").post(f"/v1/operator/mailings/{prepared['mailing_id']}/confirm",
                                   {"recipients": prepared["recipients"]})
    # Already done inline; a late duplicate invocation changes nothing.
    again = send_mailing({"mailing_id": prepared["mailing_id"], "step": "send"}, LocalContext("send_mailing"))
    assert again["status"] == "done" and max(mail.to("Through the handler").values()) == 1


def test_a_stored_mailing_the_answer_model_refuses_is_a_logged_500_not_a_422(world, container, mail, monkeypatch,
                                                                              caplog):
    """A pydantic error raised once the request's inputs were validated is the server's (stored
    data that does not fit the documented answer): 500 and an error log, never a 422 "Invalid
    input" that blames the client and keeps the 5xx alarms quiet."""
    import logging
    from dataclasses import replace

    prepared = prepare(world, subject="Model check")
    stored = container.support_store.get_mailing(prepared["mailing_id"])
    monkeypatch.setattr(container.mailing, "list", lambda **_: ([replace(stored, status="draft")], None))
    with caplog.at_level(logging.ERROR):
        reply = client(world, "operator").get("/v1/operator/mailings?limit=5")
    assert reply.status == 500 and reply.json["type"].endswith("/internal"), reply
    assert "unhandled error" in caplog.text
    bad_input = client(world, "operator").get("/v1/operator/mailings?limit=0")
    assert bad_input.status == 422 and bad_input.json["field"] == "limit"  # inputs: still the client's
