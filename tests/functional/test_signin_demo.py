"""The demo accounts that `scelle local` seeds: created once, reused, and usable to sign in."""

import json
import stat
from types import SimpleNamespace

import pytest

from tests.support.users import count_all, sign_in

pytestmark = pytest.mark.functional


def test_demo_accounts_are_seeded_once_and_their_passwords_are_kept_private(api, stack, tmp_path):
    from chalicelib.local.demo import ensure_demo_account

    local = SimpleNamespace(data_dir=tmp_path, settings=stack.settings)
    lines = ensure_demo_account(local)
    demo = json.loads((tmp_path / "demo.json").read_text())
    assert stat.S_IMODE((tmp_path / "demo.json").stat().st_mode) == 0o600
    assert lines[0].startswith("Sign in        demo@scelle.local / ") and demo["admin"]["password"] in lines[0]
    assert any(demo["operator"]["password"] in line for line in lines)

    before = count_all(stack)
    assert ensure_demo_account(local) == lines
    assert count_all(stack) == before

    admin = api.with_token(sign_in(api, "demo@scelle.local", demo["admin"]["password"])["id_token"])
    tenant = admin.get(f"/v1/tenants/{demo['tenant_id']}").json
    assert (tenant["country"], tenant["mode"]) == ("BE", "test")
    roles = sorted(m["role"] for m in admin.get(f"/v1/tenants/{demo['tenant_id']}/members").json["members"])
    assert roles == ["admin", "seller"]
    seller = sign_in(api, demo["seller"]["email"], demo["seller"]["password"])
    assert api.with_token(seller["id_token"]).get(f"/v1/tenants/{demo['tenant_id']}").status == 200
    operator = api.with_token(sign_in(api, demo["operator"]["email"], demo["operator"]["password"])["id_token"])
    assert operator.get("/v1/me").json["operator"] is True
    assert operator.get(f"/v1/tenants/{demo['tenant_id']}").status == 404
