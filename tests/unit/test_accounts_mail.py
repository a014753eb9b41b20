"""The SES mailer and the local outbox (a fake SES client; no network)."""

import json
import stat

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.mail import OutboxMailer, SesMailer, read_outbox
from chalicelib.domain.errors import Unavailable


class FakeSes:
    def __init__(self, fail: bool = False) -> None:
        self.calls = []
        self.fail = fail

    def send_email(self, **kwargs):
        if self.fail:
            raise ClientError({"Error": {"Code": "MessageRejected", "Message": "no"}}, "SendEmail")
        self.calls.append(kwargs)
        return {"MessageId": f"m-{len(self.calls)}"}


def test_ses_sends_from_the_configured_sender_in_utf8():
    ses = FakeSes()
    assert SesMailer(ses, "no-reply@scelle.example").send("a@b.example", "Sujet é", "texte", "<p>x</p>") == "m-1"
    call = ses.calls[0]
    assert call["Source"] == "no-reply@scelle.example" and call["Destination"] == {"ToAddresses": ["a@b.example"]}
    assert call["Message"]["Body"]["Html"]["Charset"] == "UTF-8"


def test_a_refused_mail_is_unavailable():
    with pytest.raises(Unavailable):
        SesMailer(FakeSes(fail=True), "no-reply@scelle.example").send("a@b.example", "s", "t")


def test_the_local_outbox_keeps_each_message_readable_by_its_owner_only(tmp_path):
    outbox = tmp_path / "data" / "outbox.jsonl"
    mailer = OutboxMailer(FakeSes(), "no-reply@scelle.example", outbox)
    mailer.send("a@b.example", "first", "token: one")
    mailer.send("c@d.example", "second", "hello")
    mailer.send("A@B.example", "third", "token: two")
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    assert [m["subject"] for m in read_outbox(outbox)] == ["third", "second", "first"]
    assert [m["subject"] for m in read_outbox(outbox, to="a@b.example")] == ["third", "first"]
    assert [m["subject"] for m in read_outbox(outbox, limit=1)] == ["third"]
    assert json.loads(outbox.read_text().splitlines()[0])["text"] == "token: one"


def test_a_missing_or_damaged_outbox_reads_as_what_it_holds(tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    assert read_outbox(outbox) == []
    outbox.write_text('{"to": "a@b.example", "subject": "ok"}\n{"to": "a@b.ex')
    assert [m["subject"] for m in read_outbox(outbox)] == ["ok"]
