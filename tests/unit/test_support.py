"""Support domain rules: unsubscribe tokens, ticket statuses, text and attachment checks, inbound
mail parsing, news visibility and the SCELLE_SUPPORT_* configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from chalicelib.config import ConfigError
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.support import (
    News,
    Ticket,
    UnsubscribeTokens,
    check_attachment,
    check_status_change,
    clean_text,
    derived_id,
    is_id,
    mask_email,
    new_id,
    parse_inbound,
    safe_filename,
    status_after,
    strip_quoted_reply,
    with_message,
)
from chalicelib.services.support import support_config_from_env

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))


def ticket(**kw) -> Ticket:
    base = dict(ticket_id="k" + "0" * 20, tenant_id="t" + "1" * 20, requester_id="u1", requester_email="a@b.be",
                subject="S", status="open", channel="app", created_at=NOW, due_at=NOW + timedelta(hours=2),
                updated_at=NOW)
    return Ticket(**{**base, **kw})


# ---- unsubscribe tokens ------------------------------------------------------------------------------
def test_an_unsubscribe_token_names_its_address_and_cannot_be_forged():
    tokens = UnsubscribeTokens(KEY)
    token = tokens.sign("Client@Example.com")
    assert tokens.verify(token) == "client@example.com"
    other = UnsubscribeTokens(bytes(reversed(KEY))).sign("client@example.com")
    forged = tokens.sign("victim@example.com").split(".")[0] + "." + token.split(".")[1]
    for bad in (other, forged, token + "x", token.replace(".", ""), "", None, "a.b.c", "!!.??", "x" * 900):
        with pytest.raises(ValidationFailed) as err:
            tokens.verify(bad)
        assert err.value.field == "token"


def test_the_unsubscribe_key_must_be_long_enough():
    with pytest.raises(ValueError):
        UnsubscribeTokens(b"short")


def test_the_unsubscribe_key_comes_from_the_setting_or_a_private_local_file(tmp_path):
    from chalicelib.adapters.support_dynamodb import load_unsubscribe_key

    assert load_unsubscribe_key("00" * 32, None) == bytes(32)
    with pytest.raises(ConfigError, match="SCELLE_UNSUBSCRIBE_KEY"):
        load_unsubscribe_key("00" * 8, None)
    with pytest.raises(ConfigError, match="SCELLE_UNSUBSCRIBE_KEY must be set"):
        load_unsubscribe_key(None, None)  # AWS mode without a key
    path = tmp_path / "keys" / "unsubscribe.key"
    first = load_unsubscribe_key(None, path)
    assert len(first) == 32 and load_unsubscribe_key(None, path) == first
    assert path.stat().st_mode & 0o777 == 0o600


# ---- tickets -----------------------------------------------------------------------------------------
def test_statuses_after_a_message():
    t = ticket(status="waiting")
    assert status_after(t, "requester", None) == "open"
    assert status_after(ticket(status="resolved"), "requester", "resolved") == "open"  # a client reply reopens
    assert status_after(t, "operator", None) == "waiting"
    assert status_after(t, "operator", "resolved") == "resolved"
    with pytest.raises(ValidationFailed):
        status_after(t, "operator", "closed")
    with pytest.raises(Conflict):
        check_status_change(t, "waiting")
    assert check_status_change(t, "resolved") == "resolved"


def test_only_the_first_operator_message_is_the_first_response():
    t = with_message(ticket(), "requester", "open", NOW + timedelta(minutes=5), None)
    assert t.first_response_at is None and t.messages == 2 and t.version == 2
    answered = with_message(t, "operator", "waiting", NOW + timedelta(minutes=30), 30)
    assert answered.first_response_at == NOW + timedelta(minutes=30) and answered.first_response_minutes == 30
    later = with_message(answered, "operator", "resolved", NOW + timedelta(days=1), 999)
    assert later.first_response_minutes == 30 and later.resolved_at == NOW + timedelta(days=1)
    assert not later.awaiting_first_response and ticket().awaiting_first_response


def test_text_is_trimmed_normalised_and_bounded():
    assert clean_text("  Hello\r\nworld  ", "body", 100) == "Hello\nworld"
    assert clean_text("  a \n b  ", "subject", 100, single_line=True) == "a b"
    for bad, field in (("", "body"), ("   ", "body"), ("x" * 11, "body"), ("nul\x00", "body"), (3, "body")):
        with pytest.raises(ValidationFailed) as err:
            clean_text(bad, field, 10)
        assert err.value.field == field


def test_attachments_are_checked_and_file_names_made_safe():
    assert check_attachment("C:\\Users\\me\\Reçu 1.pdf", "application/pdf", 10) == ("Recu_1.pdf", "application/pdf", 10)
    assert safe_filename("../../etc/passwd") == "passwd"
    for args, field in ((("a.pdf", "text/html", 10), "attachment.content_type"),
                        (("a.pdf", "application/pdf", 0), "attachment.size"),
                        (("a.pdf", "application/pdf", True), "attachment.size"),
                        (("...", "application/pdf", 10), "attachment.filename")):
        with pytest.raises(ValidationFailed) as err:
            check_attachment(*args)
        assert err.value.field == field


def test_control_characters_of_received_mail_are_dropped_not_refused():
    from chalicelib.domain.support import strip_controls

    assert strip_controls("page 1\x0cpage 2\x00\n\tend") == "page 1page 2\n\tend"


def test_ids():
    assert is_id(new_id("k"), "k") and not is_id(new_id("k"), "m") and not is_id("k123", "k")
    assert derived_id("k", "inbound/a.eml") == derived_id("k", "inbound/a.eml") != derived_id("k", "inbound/b.eml")
    assert mask_email("jean@example.be") == "j***@example.be"


# ---- inbound mail ------------------------------------------------------------------------------------
def _raw(**headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Jean <Jean@Example.BE>")
    msg["To"] = headers.pop("To", "support+t00000000000000000001@scelle.example")
    msg["Subject"] = headers.pop("Subject", "Re:  [#k0123456789abcdef0123]  Printer")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("New details.\n\nOn Tue, Scellé wrote:\n> old text")
    msg.add_alternative("<p>New <b>details</b>.</p>", subtype="html")
    return msg.as_bytes()


def test_an_inbound_message_is_read_as_ses_stores_it():
    mail = parse_inbound(_raw())
    assert mail.sender == "jean@example.be"
    assert mail.recipients == ("support+t00000000000000000001@scelle.example",)
    assert mail.subject == "Re: [#k0123456789abcdef0123] Printer"
    assert strip_quoted_reply(mail.text) == "New details."
    assert mail.authenticated is None and not mail.spam and not mail.auto_submitted


@pytest.mark.parametrize("headers, expected", [
    ({"Authentication_Results": "amazonses.com; spf=pass smtp.mailfrom=example.be; dkim=none"}, True),
    ({"Authentication_Results": "amazonses.com; spf=fail; dkim=fail; dmarc=fail"}, False),
    ({"Authentication_Results": "mx.other.example; spf=pass"}, None),  # not the receiving server's verdict
])
def test_the_receiving_servers_verdict_decides_authentication(headers, expected):
    assert parse_inbound(_raw(**headers)).authenticated is expected


def test_spam_and_automatic_replies_are_recognised():
    assert parse_inbound(_raw(X_SES_Virus_Verdict="FAIL")).spam
    assert parse_inbound(_raw(Auto_Submitted="auto-replied")).auto_submitted
    assert parse_inbound(_raw(Precedence="bulk")).auto_submitted
    assert parse_inbound(b"not an email at all").sender == ""


# ---- news --------------------------------------------------------------------------------------------
def test_news_visibility_by_window_audience_and_withdrawal():
    news = News("n" + "0" * 20, "T", "B", "BE", NOW, NOW + timedelta(days=1), "op", NOW)
    assert news.visible(NOW, frozenset({"BE"})) and news.visible(NOW, frozenset({"BE", "FR"}))
    assert not news.visible(NOW, frozenset({"FR"})) and not news.visible(NOW, frozenset())
    assert not news.visible(NOW - timedelta(seconds=1), frozenset({"BE"}))
    assert not news.visible(NOW + timedelta(days=1), frozenset({"BE"}))
    everyone = News("n" + "1" * 20, "T", "B", "all", NOW, None, "op", NOW)
    assert everyone.visible(NOW + timedelta(days=999), frozenset())
    from dataclasses import replace

    assert not replace(everyone, withdrawn_at=NOW).visible(NOW, frozenset())


# ---- configuration -----------------------------------------------------------------------------------
def test_support_configuration_has_belgian_defaults():
    config = support_config_from_env({}, mail_from="no-reply@scelle.be")
    assert config.target_minutes == 120 and config.address == "support@scelle.be" and config.mailing_rate == 10
    assert config.hours.time_zone == "Europe/Brussels" and config.hours.holidays == "BE"
    assert config.strict_inbound and not support_config_from_env({}, local=True).strict_inbound


def test_support_configuration_is_read_from_the_environment():
    config = support_config_from_env({
        "SCELLE_SUPPORT_HOURS": "08:00-12:00,13:00-18:00", "SCELLE_SUPPORT_WORKDAYS": "mon-sat",
        "SCELLE_SUPPORT_HOLIDAYS": "FR", "SCELLE_SUPPORT_TIME_ZONE": "Europe/Paris",
        "SCELLE_SUPPORT_CLOSED_DATES": "2026-12-24", "SCELLE_SUPPORT_TARGET_MINUTES": "240",
        "SCELLE_SUPPORT_ADDRESS": "help@client.example", "SCELLE_MAILING_RATE": "2.5",
    })
    assert config.hours.minutes_per_day == 540 and 5 in config.hours.workdays and config.hours.holidays == "FR"
    assert config.target_minutes == 240 and config.address == "help@client.example" and config.mailing_rate == 2.5


@pytest.mark.parametrize("name, value", [
    ("SCELLE_SUPPORT_HOURS", "9-17"), ("SCELLE_SUPPORT_WORKDAYS", "weekdays"),
    ("SCELLE_SUPPORT_HOLIDAYS", "XX"), ("SCELLE_SUPPORT_TIME_ZONE", "Nowhere/City"),
    ("SCELLE_SUPPORT_CLOSED_DATES", "24/12/2026"), ("SCELLE_SUPPORT_TARGET_MINUTES", "0"),
    ("SCELLE_MAILING_RATE", "fast"),
])
def test_a_bad_support_setting_names_its_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        support_config_from_env({name: value})
