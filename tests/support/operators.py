"""A signed-in platform operator for functional tests (no HTTP route creates one)."""

from __future__ import annotations

from tests.support.users import PASSWORD, Account, sign_in, unique_email


def operator_account(api) -> Account:
    from chalicelib import bootstrap

    email = unique_email("operator")
    user = bootstrap.container().accounts.create_operator(email, PASSWORD)
    return Account(user.user_id, email, sign_in(api, email)["id_token"], "")


def ses_messages(stack, to: str | None = None) -> list[dict]:
    """What moto's SES captured (``GET /moto-api/data.json`` -> ses), optionally for one address."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{stack.settings.aws_endpoint_url}/moto-api/data.json", timeout=10) as reply:
        data = json.loads(reply.read())
    messages = data.get("ses", {}).get("Message") or []
    return [m for m in messages if to is None or to in (m.get("destinations") or {}).get("ToAddresses", [])]
