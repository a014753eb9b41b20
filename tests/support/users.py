"""Accounts through the real HTTP flow, for any functional test: sign up, verify via the local
mail outbox, sign in, invite members and grant auditors. Every call yields unique emails and
company numbers, so tests never collide on the session stack."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.identifiers import fr_vat_key, luhn_valid

PASSWORD = "Correct-Horse-42"
_TOKEN = re.compile(r"^token: (\S+)$", re.MULTILINE)


def be_enterprise_number() -> str:
    """A random valid Belgian enterprise number (mod-97 check digits), 10 digits."""
    first8 = random.choice("01") + f"{random.randrange(10**7):07d}"
    if int(first8) == 0:
        first8 = "01000000"
    return first8 + f"{97 - int(first8) % 97:02d}"


def fr_siren() -> str:
    """A random valid SIREN (Luhn), 9 digits."""
    while True:
        first8 = f"{random.randrange(10**7, 10**8)}"
        for last in "0123456789":
            if luhn_valid(first8 + last):
                return first8 + last


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def signup_body(country: str = "BE", **overrides: Any) -> dict[str, Any]:
    if country == "BE":
        number = be_enterprise_number()
        company = {
            "company_number": number,
            "vat_number": "BE" + number,
            "address": {"line1": "Rue de la Loi 16", "postal_code": "1000", "city": "Bruxelles"},
        }
    else:
        siren = fr_siren()
        company = {
            "company_number": siren,
            "vat_number": f"FR{fr_vat_key(siren)}{siren}",
            "address": {"line1": "1 place de la Concorde", "postal_code": "75008", "city": "Paris"},
        }
    body = {
        "email": unique_email("admin"),
        "password": PASSWORD,
        "company_name": "Boulangerie Test",
        "country": country,
        **company,
    }
    body.update(overrides)
    return body


def local_operator_headers() -> dict[str, str]:
    """The local operator credential the ``/v1/local/*`` routes require (the token the stack
    keeps in its data directory; tests/support/stack.py issues one)."""
    from chalicelib import bootstrap
    from chalicelib.local import operator_token

    token = operator_token.read(bootstrap.settings().data_dir)
    assert token, "no local operator token in the data directory"
    return {"Authorization": f"Bearer {token}"}


def outbox(api, email: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest mails of the local outbox (to ``email`` when given), newest first."""
    query = f"?limit={limit}" + (f"&to={email}" if email else "")
    reply = api.with_token(None).get(f"/v1/local/outbox{query}", headers=local_operator_headers())
    assert reply.status == 200, reply
    return reply.json["messages"]


def mailed_token(api, email: str, subject: str = "") -> str:
    """The token of the newest mail to ``email`` (whose subject contains ``subject``)."""
    reply = api.with_token(None).get(f"/v1/local/outbox?to={email}&limit=20", headers=local_operator_headers())
    assert reply.status == 200, reply
    for message in reply.json["messages"]:
        if subject in message["subject"]:
            found = _TOKEN.search(message["text"])
            if found:
                return found.group(1)
    raise AssertionError(f"no mail with a token to {email} (subject ~ {subject!r})")


def sign_in(api, email: str, password: str = PASSWORD) -> dict[str, Any]:
    reply = api.with_token(None).post("/v1/auth/signin", {"email": email, "password": password})
    assert reply.status == 200, reply
    return reply.json


@dataclass(frozen=True)
class Account:
    user_id: str
    email: str
    token: str  # an id token (access tokens work too)
    tenant_id: str


def signed_up_account(api, stack=None, country: str = "BE", *, verify: bool = True, **overrides: Any) -> Account:
    body = signup_body(country, **overrides)
    reply = api.with_token(None).post("/v1/signup", body)
    assert reply.status == 201, reply
    token = ""
    if verify:
        verified = api.with_token(None).post("/v1/verify-email", {"token": mailed_token(api, body["email"], "Verify")})
        assert verified.status == 200, verified
        token = sign_in(api, body["email"], body["password"])["id_token"]
    return Account(reply.json["user_id"], body["email"], token, reply.json["tenant_id"])


def signed_up_tenant(api, stack=None, country: str = "BE", **overrides: Any) -> tuple[str, str]:
    """A new verified admin of a new tenant in test mode: ``(tenant_id, admin_token)``."""
    account = signed_up_account(api, stack, country, **overrides)
    return account.tenant_id, account.token


def member(api, stack, tenant_id: str, admin_token: str, role: str, *, email: str | None = None) -> Account:
    """A new member with ``role`` (auditor: through a 30-day auditor grant), signed in."""
    email = email or unique_email(role)
    admin = api.with_token(admin_token)
    if role == "auditor":
        reply = admin.post(f"/v1/tenants/{tenant_id}/auditor-grants", {"email": email, "days": 30})
    else:
        reply = admin.post(f"/v1/tenants/{tenant_id}/invitations", {"email": email, "role": role})
    assert reply.status == 201, reply
    accepted = api.with_token(None).post(
        "/v1/invitations/accept", {"token": mailed_token(api, email), "password": PASSWORD}
    )
    assert accepted.status == 200, accepted
    return Account(accepted.json["user_id"], email, sign_in(api, email)["id_token"], tenant_id)


def member_token(api, stack, tenant_id: str, admin_token: str, role: str) -> str:
    """A signed-in new member of ``tenant_id`` with ``role``: its bearer token."""
    return member(api, stack, tenant_id, admin_token, role).token


def count_items(stack, table: str = "accounts") -> int:
    """Items in one of the session's tables (to assert that a refused request wrote nothing).

    moto's DescribeTable counts live items (AWS refreshes ItemCount only every few hours), and
    unlike a Scan it costs the same however large the session's tables have grown."""
    desc = _dynamodb(stack).describe_table(TableName=stack.settings.table_name(table))
    return int(desc["Table"]["ItemCount"])


_clients: dict[str, Any] = {}


def _dynamodb(stack):
    from chalicelib import bootstrap

    endpoint = stack.settings.aws_endpoint_url or ""
    if endpoint not in _clients:
        _clients[endpoint] = bootstrap.Container(stack.settings).dynamodb
    return _clients[endpoint]


def count_all(stack) -> dict[str, int]:
    from chalicelib.resources import RESOURCES

    return {t.logical: count_items(stack, t.logical) for t in RESOURCES.tables}
