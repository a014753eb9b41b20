"""`scelle operator add EMAIL` / `scelle operator list` against the session stack (moto Cognito
and DynamoDB, reached through the settings as on AWS)."""

from __future__ import annotations

import io
import json
import re

import pytest

from chalicelib.commands.operators import operator_add, operator_list
from tests.support.users import PASSWORD, count_items, member, sign_in, signed_up_account, unique_email

pytestmark = pytest.mark.functional


def run(fn, *args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = fn(*args, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def listed(settings) -> dict[str, dict]:
    code, out, _ = run(operator_list, settings, as_json=True)
    assert code == 0
    return {row["email"]: row for row in json.loads(out)["operators"]}


def test_add_creates_an_operator_who_signs_in_with_the_password_printed_once(api, stack):
    email = unique_email("ops")
    code, out, err = run(operator_add, email.upper(), stack.settings)
    assert code == 0, err
    password = re.search(r"^Password \(shown once, stored nowhere\): (\S+)$", out, re.MULTILINE).group(1)
    me = api.with_token(sign_in(api, email, password)["id_token"]).get("/v1/me").json
    assert (me["email"], me["operator"], me["email_verified"], me["memberships"]) == (email, True, True, [])
    assert listed(stack.settings)[email]["user_id"] == me["user_id"]
    # adding it again changes nothing and prints no password
    before = count_items(stack)
    code, out, _ = run(operator_add, email, stack.settings)
    assert code == 0 and "Already a platform operator" in out and "Password" not in out
    assert count_items(stack) == before


def test_add_flags_an_existing_account_that_is_no_longer_a_member(api, stack):
    owner = signed_up_account(api, stack)
    former = member(api, stack, owner.tenant_id, owner.token, "seller")
    disabled = api.with_token(owner.token).put(f"/v1/tenants/{owner.tenant_id}/members/{former.user_id}",
                                               {"disabled": True})
    assert disabled.status == 200, disabled
    code, out, err = run(operator_add, former.email, stack.settings)
    assert code == 0, err
    assert "flagged" in out and "Password" not in out
    me = api.with_token(sign_in(api, former.email, PASSWORD)["id_token"]).get("/v1/me").json
    assert me["operator"] is True
    assert former.email in listed(stack.settings)


def test_add_refuses_an_active_tenant_member(api, stack):
    owner = signed_up_account(api, stack)
    before = count_items(stack)
    code, out, err = run(operator_add, owner.email, stack.settings)
    assert code == 1 and out == ""
    assert "refused" in err and owner.tenant_id in err
    assert count_items(stack) == before
    assert api.with_token(owner.token).get("/v1/me").json["operator"] is False
    assert owner.email not in listed(stack.settings)


def test_the_pool_ids_of_a_local_stack_are_read_from_its_data_directory(stack, tmp_path):
    (tmp_path / "local-state.json").write_text(json.dumps({
        "user_pool_id": stack.settings.user_pool_id,
        "user_pool_client_id": stack.settings.user_pool_client_id,
    }))
    settings = stack.settings.model_copy(update={"user_pool_id": None, "user_pool_client_id": None,
                                                 "data_dir": tmp_path})
    email = unique_email("ops")
    code, _, err = run(operator_add, email, settings)
    assert code == 0, err
    assert email in listed(settings)


def test_a_local_mode_without_a_running_emulator_is_a_configuration_error(stack, tmp_path):
    settings = stack.settings.model_copy(update={"aws_endpoint_url": None, "data_dir": tmp_path})
    for fn, args in ((operator_add, (unique_email("ops"), settings)), (operator_list, (settings,))):
        code, out, err = run(fn, *args)
        assert code == 2 and out == "" and "SCELLE_AWS_ENDPOINT_URL" in err


def test_the_subcommands_are_registered():
    from chalicelib.cli import build_parser

    args = build_parser().parse_args(["operator", "add", "ops@example.com"])
    assert args.command == "operator" and args.operator_command == "add" and args.email == "ops@example.com"
    assert build_parser().parse_args(["operator", "list", "--json"]).json is True
