"""Every IAM statement in the template, scanned for grants that would break the seal."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED
from infra.stacks.permissions import GRANTS, SIGNERS, GrantError, Grants, check_grants
from tests.infra.iam_scan import APPEND_ONLY_FORBIDDEN, allows, covers, function_roles, statements

PREFIX = "scelle-prod"
APPEND_ONLY = [t.logical for t in RESOURCES.tables if t.append_only]
STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}


def _tables(synth) -> dict[str, str]:
    """logical name -> logical id of the table resource."""
    return {
        r["Properties"]["TableName"].removeprefix(PREFIX + "-"): k
        for k, r in synth.resources("AWS::DynamoDB::Table").items()
    }


def append_only_violations(template, table_ids: dict[str, str]) -> list[str]:
    found = []
    for st in statements(template):
        for logical in APPEND_ONLY:
            if not covers(st, table_ids[logical], f"{PREFIX}-{logical}"):
                continue
            for action in APPEND_ONLY_FORBIDDEN:
                if allows(st, action):
                    found.append(f"{st.source} allows {action} on {logical}")
    return found


def sign_violations(template) -> list[str]:
    roles = function_roles(template)
    found = []
    for st in statements(template):
        if not allows(st, "kms:Sign"):
            continue
        for principal in st.principals or ("<nobody>",):
            fn = roles.get(principal, "")
            if fn.removeprefix(PREFIX + "-") not in SIGNERS:
                found.append(f"{st.source} lets {principal} ({fn or 'not a function'}) call kms:Sign")
    return found


def test_no_statement_lets_anyone_update_or_delete_an_append_only_table(each):
    assert append_only_violations(each.template, _tables(each)) == []


def test_only_the_signer_functions_may_call_kms_sign(each):
    assert sign_violations(each.template) == []


def test_the_signer_functions_that_exist_can_sign(each):
    roles = function_roles(each.template)
    signing = {
        roles[p].removeprefix(PREFIX + "-")
        for st in statements(each.template)
        if allows(st, "kms:Sign")
        for p in st.principals
    }
    assert signing == SIGNERS & each.handler_names()


def test_the_signing_key_itself_refuses_sign_to_all_but_the_signer_roles(each):
    (key,) = [r for r in each.resources("AWS::KMS::Key").values() if r["Properties"].get("KeyUsage") == "SIGN_VERIFY"]
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    roles = function_roles(each.template)
    allowed = {
        roles[a["Fn::GetAtt"][0]].removeprefix(PREFIX + "-")
        for a in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        if isinstance(a, dict)
    }
    assert deny["Action"] == "kms:Sign" and deny["Principal"] == {"AWS": "*"}
    assert allowed == SIGNERS & each.handler_names()


def test_no_statement_uses_a_service_wide_wildcard_action(each):
    for st in statements(each.template):
        for action in st.actions:
            assert action != "*" and not action.endswith(":*"), f"{st.source}: {action}"
        assert not (st.effect == "Allow" and st.not_actions), f"{st.source}: Allow with NotAction"


def test_no_function_gets_a_managed_or_sam_generated_policy(each):
    for st in statements(each.template):
        assert not any(a.startswith("<") for a in st.actions), st.source


def test_each_function_role_holds_only_its_declared_tables_and_indexes(each):
    roles = function_roles(each.template)
    ids = _tables(each)
    for st in statements(each.template):
        (principal,) = st.principals
        handler = roles[principal].removeprefix(PREFIX + "-")
        grants = GRANTS.get(handler, Grants())
        for logical, table_id in ids.items():
            if not (
                st.effect == "Allow"
                and covers(st, table_id, f"{PREFIX}-{logical}")
                and st.actions[0].startswith("dynamodb:")
            ):
                continue
            rendered = json.dumps(st.resources)
            if set(st.actions) <= STREAM_READ:
                assert "StreamArn" in rendered and "/index/" not in rendered, f"{handler}: stream read on {logical}"
            elif "/index/" in rendered:
                # Query on exactly the declared indexes, never on the table itself.
                assert st.actions == ("dynamodb:Query",), f"{handler}: {st.actions} on {logical} indexes"
                indexes = {i for r in st.resources for i in re.findall(r"/index/([A-Za-z0-9_]+)", json.dumps(r))}
                assert len(indexes) == len(st.resources), f"{handler}: table and indexes in one statement"
                assert indexes == set(grants.indexes.get(logical, ())), f"{handler} queries {logical} {indexes}"
            else:
                assert logical in grants.tables, f"{handler} reaches {logical}"
                assert set(st.actions) == set(grants.tables[logical]), f"{handler} on {logical}"


def test_index_statements_name_only_indexes_of_the_shared_definition():
    for name, grant in GRANTS.items():
        for logical, indexes in grant.indexes.items():
            assert set(indexes) <= {i.name for i in RESOURCES.table(logical).indexes}, (name, logical)


def test_no_function_may_delete_archive_objects_or_change_their_lock(each):
    for st in statements(each.template):
        if st.effect != "Allow":
            continue
        for action in ARCHIVE_DENIED:
            if allows(st, action):
                assert not any("-archive" in json.dumps(r) for r in st.resources), f"{st.source} allows {action}"


# --- the scanner and the synth-time check catch what they must (no synth needed) -----------------


def _template_with(action, resource):
    return {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "FunctionName": f"{PREFIX}-on_journal_record",
                    "Role": {"Fn::GetAtt": ["R", "Arn"]},
                },
            },
            "P": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "R"}],
                    "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]},
                },
            },
        }
    }


@pytest.mark.parametrize(
    "action,resource",
    [
        ("dynamodb:DeleteItem", {"Fn::GetAtt": ["TableJournalX", "Arn"]}),
        (["dynamodb:GetItem", "dynamodb:UpdateItem"], {"Fn::GetAtt": ["TableJournalX", "Arn"]}),
        ("dynamodb:BatchWriteItem", "arn:aws:dynamodb:eu-west-1:1:table/scelle-prod-journal"),
        ("dynamodb:PartiQLDelete", "*"),
        ("dynamodb:*", "arn:aws:dynamodb:eu-west-1:1:table/scelle-prod-*"),
        ("*", "*"),
    ],
)
def test_the_scanner_catches_a_mutation_grant_on_the_journal(action, resource):
    template = _template_with(action, resource)
    assert append_only_violations(template, {"journal": "TableJournalX", "events": "E", "checkpoints": "C"})


def test_the_scanner_catches_kms_sign_outside_the_signers():
    assert sign_violations(_template_with("kms:Sign", "*"))
    assert sign_violations(_template_with("kms:*", "*"))
    assert not sign_violations(_template_with("kms:GetPublicKey", "*"))


def test_the_scanner_lets_reads_and_appends_through():
    template = _template_with(
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], {"Fn::GetAtt": ["TableJournalX", "Arn"]}
    )
    assert append_only_violations(template, {"journal": "TableJournalX", "events": "E", "checkpoints": "C"}) == []


@pytest.mark.parametrize(
    "grant,message",
    [
        (Grants(tables={"journal": ("dynamodb:DeleteItem",)}), "append-only"),
        (Grants(tables={"events": ("dynamodb:UpdateItem",)}), "append-only"),
        (Grants(tables={"checkpoints": ("dynamodb:BatchWriteItem",)}), "append-only"),
        (Grants(tables={"ops": ("dynamodb:*",)}), "wildcard"),
        (Grants(keys={"signing": ("kms:Sign",)}), "reserved"),
        (Grants(keys={"signing": ("kms:*",)}), "wildcard"),
        (Grants(objects={"archive": {"": ("s3:DeleteObject",)}}), "WORM"),
        (Grants(objects={"archive": {"": ("s3:BypassGovernanceRetention",)}}), "WORM"),
        (Grants(objects={"exports": {"": ("s3:*",)}}), "wildcard"),
        (Grants(objects={"support": {"": ("s3:ListBucket",)}}), "non-object"),
        (Grants(indexes={"journal": ("gsi1",)}), "unknown table or index"),
        (Grants(list_buckets=("logs",)), "unknown bucket"),
    ],
)
def test_the_stack_refuses_to_synthesize_a_forbidden_grant(grant, message):
    with pytest.raises(GrantError, match=message):
        check_grants({"on_journal_record": grant})


def test_the_archive_data_key_refuses_disable_and_deletion_to_all_but_the_break_glass_role(each):
    """Without the data key the archive cannot be read: nobody may disable it or schedule its
    deletion through the key's own policy, except the break-glass role (none by default)."""
    (key,) = [r for r in each.resources("AWS::KMS::Key").values()
              if r["Properties"].get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"]  # the data key
    denies = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    (deny,) = [s for s in denies if s.get("Sid") == "OnlyBreakGlassDisablesOrDeletes"]
    assert sorted(deny["Action"]) == ["kms:DisableKey", "kms:ScheduleKeyDeletion"]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/none"}}


def test_a_break_glass_role_is_the_only_exception_and_must_be_a_role_arn():
    from infra.stacks.settings import StackSettings

    arn = "arn:aws:iam::123456789012:role/scelle-break-glass"
    assert StackSettings(break_glass_role_arn=arn).break_glass_role_arn == arn
    with pytest.raises(ValueError, match="break_glass_role_arn"):
        StackSettings(break_glass_role_arn="arn:aws:iam::123456789012:user/alice")
