"""Support tickets through the HTTP API: open, answer, thread, statuses, attachments, the
business-hours SLA, role separation, bad input, and inbound email."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.operators import operator_account, ses_messages
from tests.support.users import count_all, local_operator_headers, member, signed_up_account

pytestmark = pytest.mark.functional
BXL = ZoneInfo("Europe/Brussels")


@pytest.fixture(scope="module")
def world(stack):
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    owner = signed_up_account(api, stack)
    people = {
        "admin": owner,
        "seller": member(api, stack, owner.tenant_id, owner.token, "seller"),
        "seller2": member(api, stack, owner.tenant_id, owner.token, "seller"),
        "auditor": member(api, stack, owner.tenant_id, owner.token, "auditor"),
        "outsider": signed_up_account(api, stack, "FR"),
        "operator": operator_account(api),
    }
    return api, owner.tenant_id, people


def as_(world, who):
    api, _, people = world
    return api.with_token(people[who].token)


def open_ticket(world, who="seller", **body):
    _, tenant_id, _ = world
    reply = as_(world, who).post(f"/v1/tenants/{tenant_id}/tickets",
                                 {"subject": "Printer offline", "body": "The receipt printer is offline.", **body})
    assert reply.status == 201, reply
    return reply.json


def test_a_member_opens_a_ticket_the_operator_answers_and_the_requester_sees_the_thread(world, stack):
    _api, tenant_id, people = world
    opened = open_ticket(world)
    ticket = opened["ticket"]
    tid = ticket["ticket_id"]
    assert ticket["status"] == "open" and ticket["channel"] == "app" and opened["upload"] is None
    assert ticket["first_response_at"] is None and ticket["company_name"] is None
    seller = as_(world, "seller")
    assert [t["ticket_id"] for t in seller.get(f"/v1/tenants/{tenant_id}/tickets").json["tickets"]][:1] == [tid]
    assert tid in [t["ticket_id"] for t in as_(world, "admin").get(f"/v1/tenants/{tenant_id}/tickets").json["tickets"]]
    assert tid not in [t["ticket_id"] for t in as_(world, "seller2").get(f"/v1/tenants/{tenant_id}/tickets")
                       .json["tickets"]]

    operator = as_(world, "operator")
    queue = operator.get("/v1/operator/tickets?status=open&limit=100").json["tickets"]
    queued = next(t for t in queue if t["ticket_id"] == tid)
    assert queued["company_name"] == "Boulangerie Test" and queued["requester_email"] == people["seller"].email

    answered = operator.post(f"/v1/operator/tickets/{tid}/replies", {"body": "Please restart it."})
    assert answered.status == 201, answered
    assert answered.json["ticket"]["status"] == "waiting" and answered.json["emailed"] is True
    assert isinstance(answered.json["ticket"]["first_response_business_minutes"], int)
    mails = [m for m in ses_messages(stack, people["seller"].email) if f"[#{tid}]" in m["subject"]]
    assert any("Please restart it." in m["body"] for m in mails), mails

    thread = seller.get(f"/v1/tenants/{tenant_id}/tickets/{tid}").json
    assert [(m["author"], m["author_name"]) for m in thread["thread"]] == [
        ("requester", people["seller"].email), ("operator", "Scellé support")]
    assert thread["ticket"]["status_label"] == "waiting for client"

    again = seller.post(f"/v1/tenants/{tenant_id}/tickets/{tid}/messages", {"body": "Restarted, still offline."})
    assert again.status == 201 and again.json["ticket"]["status"] == "open"
    later = operator.post(f"/v1/operator/tickets/{tid}/replies", {"body": "Sending a new one.", "status": "resolved"})
    assert later.json["ticket"]["status"] == "resolved"
    assert later.json["ticket"]["first_response_at"] == answered.json["ticket"]["first_response_at"]
    assert operator.post(f"/v1/operator/tickets/{tid}/status", {"status": "resolved"}).status == 409
    assert operator.post(f"/v1/operator/tickets/{tid}/status", {"status": "open"}).json["status"] == "open"
    assert len(operator.get(f"/v1/operator/tickets/{tid}").json["thread"]) == 4


def test_an_attachment_goes_through_a_presigned_upload(world, stack, container):
    _, tenant_id, _ = world
    opened = open_ticket(world, attachment={"filename": "../../etc/receipt log.pdf", "content_type": "application/pdf",
                                            "size": 2048})
    upload = opened["upload"]
    key = upload["fields"]["key"]
    tid = opened["ticket"]["ticket_id"]
    assert key.startswith(f"attachments/{tenant_id}/{tid}/") and key.endswith("/receipt_log.pdf")
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, 2048] in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    path = f"/v1/tenants/{tenant_id}/tickets/{tid}"
    before = as_(world, "seller").get(path).json["thread"][0]["attachment"]
    assert before["uploaded"] is False and before["download_url"] is None
    container.s3.put_object(Bucket=stack.settings.bucket_name("support"), Key=key, Body=b"%PDF-1.4 test")
    after = as_(world, "seller").get(path).json["thread"][0]["attachment"]
    assert after["uploaded"] is True and key.split("/")[-1] in after["download_url"]
    assert "Expires=" in after["download_url"] or "X-Amz-Expires=300" in after["download_url"]


def test_tickets_are_separated_by_tenant_requester_and_role(world, stack):
    _api, tenant_id, people = world
    tid = open_ticket(world)["ticket"]["ticket_id"]
    path = f"/v1/tenants/{tenant_id}/tickets"
    before = count_all(stack)
    # An auditor has no ticket.open permission.
    refused = as_(world, "auditor").post(path, {"subject": "x", "body": "y"})
    assert refused.status == 403 and refused.json["permission"] == "ticket.open"
    assert as_(world, "auditor").get(f"{path}/{tid}").status == 403
    # A member of another tenant, and the operator, are not members: 404 without a hint.
    for who in ("outsider", "operator"):
        for reply in (as_(world, who).get(path), as_(world, who).get(f"{path}/{tid}"),
                      as_(world, who).post(path, {"subject": "x", "body": "y"}),
                      as_(world, who).post(f"{path}/{tid}/messages", {"body": "y"})):
            assert reply.status == 404 and reply.json["detail"] == "tenant not found", (who, reply)
    # Another tenant's path with this ticket's id: not found.
    outsider = people["outsider"]
    assert as_(world, "outsider").get(f"/v1/tenants/{outsider.tenant_id}/tickets/{tid}").status == 404
    # Another seller of the same tenant does not see it; the admin does.
    assert as_(world, "seller2").get(f"{path}/{tid}").status == 404
    assert as_(world, "seller2").post(f"{path}/{tid}/messages", {"body": "me too"}).status == 404
    assert as_(world, "admin").get(f"{path}/{tid}").status == 200
    # Members never reach the operator routes.
    for who in ("admin", "seller", "outsider"):
        for reply in (as_(world, who).get("/v1/operator/tickets"), as_(world, who).get(f"/v1/operator/tickets/{tid}"),
                      as_(world, who).post(f"/v1/operator/tickets/{tid}/replies", {"body": "x"}),
                      as_(world, who).post(f"/v1/operator/tickets/{tid}/status", {"status": "resolved"})):
            assert reply.status == 403 and reply.json["permission"] == "support.answer", (who, reply)
    assert count_all(stack) == before, "a refused request wrote something"
    # The operator's view holds the ticket and the tenant's name, nothing from the ledger.
    view = as_(world, "operator").get(f"/v1/operator/tickets/{tid}").json
    assert set(view["ticket"]) == {
        "ticket_id", "tenant_id", "subject", "status", "status_label", "channel", "requester_email", "created_at",
        "updated_at", "due_at", "first_response_at", "first_response_business_minutes", "overdue", "messages",
        "company_name"}


@pytest.mark.parametrize("body, field", [
    ({"body": "no subject"}, "subject"),
    ({"subject": "   ", "body": "blank subject"}, "subject"),
    ({"subject": "x" * 201, "body": "long"}, "subject"),
    ({"subject": "bell\x07", "body": "control character"}, "subject"),
    ({"subject": "ok", "body": ""}, "body"),
    ({"subject": "ok", "body": "b", "extra": 1}, "extra"),
    ({"subject": "ok", "body": "b", "attachment": {"filename": "a.exe", "content_type": "application/x-msdownload",
                                                   "size": 10}}, "attachment.content_type"),
    ({"subject": "ok", "body": "b", "attachment": {"filename": "a.pdf", "content_type": "application/pdf",
                                                   "size": 6 * 1024 * 1024}}, "attachment.size"),
    ({"subject": "ok", "body": "b", "attachment": {"filename": "///", "content_type": "application/pdf",
                                                   "size": 10}}, "attachment.filename"),
])
def test_bad_ticket_input_is_a_422_naming_the_field_and_writes_nothing(world, stack, body, field):
    _, tenant_id, _ = world
    before = count_all(stack)
    reply = as_(world, "seller").post(f"/v1/tenants/{tenant_id}/tickets", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_bad_operator_input_is_refused_and_writes_nothing(world, stack):
    _, tenant_id, _ = world
    tid = open_ticket(world)["ticket"]["ticket_id"]
    operator = as_(world, "operator")
    before = count_all(stack)
    for path, body, status, field in [
        (f"/v1/operator/tickets/{tid}/replies", {"body": " "}, 422, "body"),
        (f"/v1/operator/tickets/{tid}/replies", {"body": "ok", "status": "closed"}, 422, "status"),
        (f"/v1/operator/tickets/{tid}/status", {"status": "open"}, 409, "status"),
        ("/v1/operator/tickets/k00000000000000000000/replies", {"body": "ok"}, 404, "ticket_id"),
        ("/v1/operator/tickets/nonsense/status", {"status": "resolved"}, 404, "ticket_id"),
    ]:
        reply = operator.post(path, body)
        assert reply.status == status and reply.json["field"] == field, (path, reply)
    assert operator.get("/v1/operator/tickets?status=closed").json["field"] == "status"
    assert operator.get("/v1/operator/tickets?cursor=bm9wZQ").status == 422
    assert as_(world, "seller").post(f"/v1/tenants/{tenant_id}/tickets/{tid}/messages", {"body": ""}).status == 422
    assert count_all(stack) == before


def test_a_retried_open_with_the_same_idempotency_key_opens_one_ticket(world):
    _, tenant_id, _ = world
    seller = as_(world, "seller")
    body = {"subject": "Retried", "body": "Sent twice by a flaky network."}
    first = seller.post(f"/v1/tenants/{tenant_id}/tickets", body, headers={"Idempotency-Key": "ticket-retry-1"})
    second = seller.post(f"/v1/tenants/{tenant_id}/tickets", body, headers={"Idempotency-Key": "ticket-retry-1"})
    assert first.status == 201 and second.json["ticket"]["ticket_id"] == first.json["ticket"]["ticket_id"]


def check_ticket_sla(_event):
    from chalicelib.handlers.support import check_ticket_sla as handler
    from chalicelib.local.lambda_events import LocalContext, scheduled_event

    return handler(scheduled_event("check_ticket_sla", "eu-west-1"), LocalContext("check_ticket_sla"))


def test_first_response_and_overdue_are_counted_in_business_hours(world, container, monkeypatch):
    from chalicelib import bootstrap

    metrics: list[tuple[str, float]] = []
    monkeypatch.setattr(bootstrap, "_support_metric", lambda name, value: metrics.append((name, value)))
    now = [datetime(2026, 4, 3, 16, 30, tzinfo=BXL)]  # Friday before Easter, 16:30
    container.__dict__["clock"] = lambda: now[0]
    late = open_ticket(world, subject="Opened on Friday, late")["ticket"]
    answered = open_ticket(world, subject="Opened on Friday, answered on time")["ticket"]
    # Due Tuesday 10:30: 30 minutes on Friday, Easter Monday closed, 90 minutes on Tuesday.
    assert datetime.fromisoformat(late["due_at"]) == datetime(2026, 4, 7, 10, 30, tzinfo=BXL)

    now[0] = datetime(2026, 4, 6, 23, 0, tzinfo=BXL)  # Easter Monday night: 30 business minutes so far
    first = check_ticket_sla({})
    assert late["ticket_id"] not in first["newly_overdue"]

    now[0] = datetime(2026, 4, 7, 9, 30, tzinfo=BXL)  # Tuesday 09:30: answered after 60 business minutes
    reply = as_(world, "operator").post(f"/v1/operator/tickets/{answered['ticket_id']}/replies", {"body": "Hello"})
    assert reply.json["ticket"]["first_response_business_minutes"] == 60
    assert ("FirstResponseBusinessMinutes", 60) in metrics

    now[0] = datetime(2026, 4, 7, 10, 31, tzinfo=BXL)
    second = check_ticket_sla({})
    assert late["ticket_id"] in second["newly_overdue"] and answered["ticket_id"] not in second["newly_overdue"]
    assert ("TicketsOverdue", second["overdue"]) in metrics and second["overdue"] >= 1
    third = check_ticket_sla({})
    assert late["ticket_id"] not in third["newly_overdue"] and third["overdue"] >= 1  # marked and mailed once
    view = as_(world, "operator").get(f"/v1/operator/tickets/{late['ticket_id']}").json["ticket"]
    assert view["overdue"] is True


def _eml(sender: str, subject: str, body: str, *, to: str = "support@scelle.example", headers: str = "",
         attachment: bytes | None = None) -> str:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Client <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    for line in filter(None, headers.splitlines()):
        name, value = line.split(":", 1)
        msg[name] = value.strip()
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="text", subtype="plain", filename="log.txt")
    return base64.b64encode(msg.as_bytes()).decode()


def test_an_email_opens_a_ticket_and_an_emailed_reply_joins_its_thread_once(world, stack):
    from chalicelib.handlers.support import inbound_mail, inbound_mail_event

    api, tenant_id, people = world
    seller = people["seller"]
    sent = api.with_token(None).post("/v1/local/inbound-mail", headers=local_operator_headers(), body={
        "eml_base64": _eml(seller.email, "Cash drawer stuck", "It does not open.", attachment=b"error 42\n")})
    assert sent.status == 201 and sent.json["outcome"] == "opened", sent
    tickets = as_(world, "seller").get(f"/v1/tenants/{tenant_id}/tickets").json["tickets"]
    ticket = next(t for t in tickets if t["subject"] == "Cash drawer stuck")
    assert ticket["channel"] == "email"
    thread = as_(world, "seller").get(f"/v1/tenants/{tenant_id}/tickets/{ticket['ticket_id']}").json["thread"]
    assert thread[0]["body"] == "It does not open." and thread[0]["attachment"]["uploaded"] is True
    # S3 delivers notifications at least once: the same object applies once.
    event = inbound_mail_event(stack.settings.bucket_name("support"), sent.json["key"], 100, "eu-west-1")
    assert inbound_mail(event, None)["outcomes"] == ["duplicate"]

    reply = api.post("/v1/local/inbound-mail", headers=local_operator_headers(), body={"eml_base64": _eml(
        seller.email, f"Re: [#{ticket['ticket_id']}] Cash drawer stuck",
        "Found the key.\n\nOn Mon, 1 Jun 2026, Scellé wrote:\n> It does not open.")})
    assert reply.json["outcome"] == "replied"
    again = inbound_mail(inbound_mail_event(stack.settings.bucket_name("support"), reply.json["key"], 1, "x"), None)
    assert again["outcomes"] == ["duplicate"]
    thread = as_(world, "seller").get(f"/v1/tenants/{tenant_id}/tickets/{ticket['ticket_id']}").json["thread"]
    assert [m["body"] for m in thread] == ["It does not open.", "Found the key."]


@pytest.mark.parametrize("sender, headers, outcome", [
    ("nobody-known@example.com", "", "dropped: unknown sender"),
    (None, "X-SES-Spam-Verdict: FAIL", "dropped: spam or virus verdict"),
    (None, "Authentication-Results: amazonses.com; spf=fail; dkim=fail; dmarc=fail",
     "dropped: sender not authenticated (SPF/DKIM/DMARC)"),
    (None, "Auto-Submitted: auto-replied", "dropped: automatic reply"),
])
def test_unwanted_inbound_mail_is_dropped_and_writes_no_ticket(world, stack, sender, headers, outcome):
    api, _, people = world
    before = count_all(stack)["support"]
    reply = api.with_token(None).post("/v1/local/inbound-mail", headers=local_operator_headers(), body={
        "eml_base64": _eml(sender or people["seller"].email, "Hello", "Body", headers=headers)})
    assert reply.json["outcome"] == outcome
    assert count_all(stack)["support"] == before


def test_the_local_inbound_route_refuses_bad_input_and_exists_only_locally(world, stack, container):
    api, _, _ = world
    before = count_all(stack)
    local = api.with_token(None)
    operator = local_operator_headers()
    assert local.post("/v1/local/inbound-mail", {"eml_base64": "%%%%"}, headers=operator).json["field"] == "eml_base64"
    assert local.post("/v1/local/inbound-mail", {}, headers=operator).json["field"] == "eml_base64"
    container.settings = container.settings.model_copy(update={"mode": "aws"})
    assert local.post("/v1/local/inbound-mail", {"eml_base64": _eml("a@b.cd", "s", "b")},
                      headers=operator).status == 404
    assert count_all(stack) == before


def test_the_local_inbound_route_is_only_for_the_local_operator_token(world, stack):
    """It would take anyone's forged SES verdict and tell whether an address has an account: a
    tenant user's token or no credential is a 401, and nothing is stored or opened."""
    api, _, people = world
    before = count_all(stack)
    mail = {"eml_base64": _eml(people["seller"].email, "Forged", "Body")}
    for reply in (api.with_token(None).post("/v1/local/inbound-mail", mail),
                  api.with_token(people["seller"].token).post("/v1/local/inbound-mail", mail),
                  api.with_token(people["admin"].token).post("/v1/local/inbound-mail", mail),
                  api.with_token(people["operator"].token).post("/v1/local/inbound-mail", mail)):
        assert reply.status == 401 and reply.json["type"].endswith("/unauthenticated"), reply
        assert "outcome" not in reply.json
    assert count_all(stack) == before


def test_support_mail_is_a_scelle_command(tmp_path, capsys):
    from chalicelib.cli import build_parser

    eml = tmp_path / "message.eml"
    eml.write_bytes(base64.b64decode(_eml("a@example.com", "Hello", "Body")))
    args = build_parser().parse_args(["support-mail", str(eml), "--api", "http://127.0.0.1:9"])
    assert args.func.__name__ == "_cmd_support_mail"
    assert args.func(args) == 1  # nothing listens there: a clear message, not a traceback
    assert "is `make run` up" in capsys.readouterr().err
    missing = build_parser().parse_args(["support-mail", str(tmp_path / "nope.eml")])
    assert missing.func(missing) == 2
