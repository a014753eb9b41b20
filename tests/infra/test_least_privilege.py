"""Every IAM statement in the template, scanned for grants that would break the seal."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

import pytest

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED, ITEM_WRITES, KEY_KILLERS, UNLOSABLE_KEYS
from infra.stacks.functions import SIGN_DENY_SIDS
from infra.stacks.permissions import (
    CHECKPOINT_REQUESTERS,
    GRANTS,
    KEY_SIGNERS,
    PROVERS,
    SIGNERS,
    SIGNING_FUNCTION,
    TABLE_WRITERS,
    WITNESS,
    WITNESS_CALLERS,
    GrantError,
    Grants,
    check_grants,
)
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
            if not covers(st, table_ids.get(logical, f"<no {logical} table>"), f"{PREFIX}-{logical}"):
                continue
            for action in APPEND_ONLY_FORBIDDEN:
                if allows(st, action):
                    found.append(f"{st.source} allows {action} on {logical}")
    return found


def table_write_violations(template, table_ids: dict[str, str]) -> list[str]:
    """Every statement that lets a principal write a writer-restricted table (TABLE_WRITERS: the
    published keys) unless it is one of its writers' roles, and then with PutItem only."""
    roles = function_roles(template)
    found = []
    for st in statements(template):
        for logical, writers in sorted(TABLE_WRITERS.items()):
            if not covers(st, table_ids.get(logical, f"<no {logical} table>"), f"{PREFIX}-{logical}"):
                continue
            for action in ITEM_WRITES:
                if not allows(st, action):
                    continue
                for principal in st.principals or ("<nobody>",):
                    fn = roles.get(principal, "").removeprefix(PREFIX + "-")
                    if fn not in writers or action != "dynamodb:PutItem":
                        found.append(f"{st.source} lets {principal} ({fn or 'not a function'}) {action} on {logical}")
    return found


# Any key's ARN, to match wildcard resources against (a key's own ARN is a GetAtt of its id).
SOME_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"


def key_ids(template) -> dict[str, str]:
    """Key name (``RESOURCES.keys``) -> logical id of the key, from its alias."""
    found = {}
    for res in template["Resources"].values():
        if res["Type"] == "AWS::KMS::Alias":
            name = res["Properties"]["AliasName"].removeprefix(f"alias/{PREFIX}-")
            found[name] = res["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
    return found


def covers_key(statement, key_id: str | None) -> bool:
    """True if the statement's resources may include that key: ``*``, a reference to it, or an
    ARN pattern any key matches."""
    if key_id is None:
        return True
    return any(r == "*" or key_id in json.dumps(r) or (isinstance(r, str) and fnmatchcase(SOME_KEY_ARN, r))
               for r in statement.resources)


def reserved_action_violations(template, action: str, holders: frozenset[str], key_id: str | None = None) -> list[str]:
    """Every statement that lets a principal other than the ``holders`` functions' roles call
    ``action`` (wildcards included), on the key ``key_id`` when one is given."""
    roles = function_roles(template)
    found = []
    for st in statements(template):
        if not allows(st, action) or not covers_key(st, key_id):
            continue
        for principal in st.principals or ("<nobody>",):
            fn = roles.get(principal, "")
            if fn.removeprefix(PREFIX + "-") not in holders:
                found.append(f"{st.source} lets {principal} ({fn or 'not a function'}) call {action}")
    return found


def sign_violations(template) -> list[str]:
    """kms:Sign per key (KEY_SIGNERS): the log's key by the signers, the witness's by the witness."""
    ids = key_ids(template)
    return [f"{key}: {v}" for key, holders in sorted(KEY_SIGNERS.items())
            for v in reserved_action_violations(template, "kms:Sign", holders, ids.get(key, f"<no {key} key>"))]


def generate_mac_violations(template) -> list[str]:
    return reserved_action_violations(template, "kms:GenerateMac", PROVERS)


def _holders(synth, action: str, key: str | None = None) -> set[str]:
    roles = function_roles(synth.template)
    key_id = key_ids(synth.template)[key] if key else None
    return {roles.get(p, p).removeprefix(PREFIX + "-") for st in statements(synth.template)
            if allows(st, action) and covers_key(st, key_id) for p in st.principals}


def _key_by_name(synth, logical: str) -> dict:
    return synth.template["Resources"][key_ids(synth.template)[logical]]


def _key(synth, usage: str) -> dict:
    (key,) = [r for r in synth.resources("AWS::KMS::Key").values()
              if r["Properties"].get("KeyUsage", "ENCRYPT_DECRYPT") == usage]
    return key


def test_no_statement_lets_anyone_update_or_delete_an_append_only_table(each):
    assert append_only_violations(each.template, _tables(each)) == []


def test_only_the_signer_functions_may_call_kms_sign(each):
    assert sign_violations(each.template) == []


def test_only_the_signers_may_write_the_keys_table_and_only_with_put_item(each):
    assert table_write_violations(each.template, _tables(each)) == []


def test_the_signers_that_exist_can_publish_keys(each):
    ids = _tables(each)
    roles = function_roles(each.template)
    publishers = {roles[p].removeprefix(PREFIX + "-") for st in statements(each.template)
                  if allows(st, "dynamodb:PutItem") and covers(st, ids["keys"], f"{PREFIX}-keys")
                  for p in st.principals}
    assert publishers == TABLE_WRITERS["keys"] & each.handler_names() == SIGNERS & each.handler_names()


def test_the_internet_facing_api_can_neither_sign_nor_write_checkpoints_nor_publish_keys(each):
    """Issue 14 item 3: whatever runs in api_handler (a token thief, a code-execution bug) cannot
    sign with any key, put a checkpoint or publish a key; it can ask sign_chain, which signs
    only a chain head it verified itself."""
    roles = function_roles(each.template)
    ids = _tables(each)
    api = [st for st in statements(each.template)
           if any(roles.get(p) == f"{PREFIX}-api_handler" for p in st.principals)]
    assert api
    for st in api:
        assert not allows(st, "kms:Sign"), f"{st.source}: the API may kms:Sign"
        for logical in ("checkpoints", "keys"):
            if covers(st, ids[logical], f"{PREFIX}-{logical}"):
                assert not any(allows(st, a) for a in ITEM_WRITES), f"{st.source}: the API writes {logical}"


def test_only_the_checkpoint_requesters_may_invoke_the_signing_function(each):
    roles = function_roles(each.template)
    function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{PREFIX}-{SIGNING_FUNCTION}"
    invokers = set()
    for st in statements(each.template):
        if allows(st, "lambda:InvokeFunction") and any(fnmatchcase(function_arn, _rendered(r)) for r in st.resources):
            invokers |= {roles.get(p, p).removeprefix(PREFIX + "-") for p in st.principals}
    assert invokers == set(CHECKPOINT_REQUESTERS) & each.handler_names() == {"api_handler"}


@pytest.mark.parametrize("key", sorted(KEY_SIGNERS))
def test_the_signer_functions_that_exist_can_sign(each, key):
    assert _holders(each, "kms:Sign", key) == KEY_SIGNERS[key] & each.handler_names()


def test_only_the_sealing_functions_may_make_write_proofs(each):
    assert generate_mac_violations(each.template) == []


def test_the_prover_functions_that_exist_can_make_write_proofs(each):
    assert _holders(each, "kms:GenerateMac") == PROVERS & each.handler_names()


def test_the_write_proof_key_itself_refuses_generate_mac_to_all_but_the_prover_roles(each):
    """Like kms:Sign: an administrator granting itself kms:GenerateMac in IAM still cannot make a
    write proof (decision 0022); only a key-policy change, a logged event, would let it."""
    key = _key(each, "GENERATE_VERIFY_MAC")
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s["Effect"] == "Deny" and s.get("Sid") == "OnlySealingFunctionsProve"]
    roles = function_roles(each.template)
    allowed = {
        roles[a["Fn::GetAtt"][0]].removeprefix(PREFIX + "-")
        for a in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        if isinstance(a, dict)
    }
    assert deny["Action"] == "kms:GenerateMac" and deny["Principal"] == {"AWS": "*"}
    assert allowed == PROVERS & each.handler_names()


def test_the_write_proof_key_is_hmac_256_and_only_ever_used_for_macs(each):
    (key_id,) = [k for k, r in each.resources("AWS::KMS::Key").items()
                 if r["Properties"].get("KeyUsage") == "GENERATE_VERIFY_MAC"]
    key = each.template["Resources"][key_id]
    assert key["Properties"]["KeySpec"] == "HMAC_256"
    assert not key["Properties"].get("EnableKeyRotation")  # KMS has no automatic rotation for HMAC keys
    mac_actions = {"kms:GenerateMac", "kms:VerifyMac"}
    for st in statements(each.template):
        if st.effect == "Allow" and any(key_id in json.dumps(r) for r in st.resources):
            assert set(st.actions) <= mac_actions, f"{st.source}: {st.actions} on the write-proof key"


def _excepted_roles(synth, deny: dict) -> set[str]:
    roles = function_roles(synth.template)
    return {
        roles[a["Fn::GetAtt"][0]].removeprefix(PREFIX + "-")
        for a in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        if isinstance(a, dict)
    }


@pytest.mark.parametrize("logical", sorted(KEY_SIGNERS))
def test_each_signing_key_itself_refuses_sign_to_all_but_its_signer_roles(each, logical):
    """The log's key to the signer functions, the witness's key to the witness (decision 0024):
    an administrator granting itself kms:Sign in IAM still cannot sign or co-sign."""
    key = _key_by_name(each, logical)
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
               if s["Effect"] == "Deny" and s.get("Sid") == SIGN_DENY_SIDS[logical]]
    assert deny["Action"] == "kms:Sign" and deny["Principal"] == {"AWS": "*"}
    assert _excepted_roles(each, deny) == KEY_SIGNERS[logical] & each.handler_names()


def test_the_witness_is_not_a_signer_of_the_log_and_the_log_signers_do_not_co_sign():
    assert WITNESS not in SIGNERS and KEY_SIGNERS["witness"] == {WITNESS} and KEY_SIGNERS["signing"] == SIGNERS
    assert WITNESS not in PROVERS and WITNESS not in WITNESS_CALLERS


def _witness_statements(synth):
    roles = function_roles(synth.template)
    return [st for st in statements(synth.template)
            if any(roles.get(p) == f"{PREFIX}-{WITNESS}" for p in st.principals)]


def test_the_witness_role_can_neither_sign_with_the_log_key_nor_write_any_table(each):
    """Decision 0024: the witness's independence is that it holds none of the log's powers."""
    if WITNESS not in each.handler_names():
        pytest.skip(f"{WITNESS} is not registered in the {each.name} app")
    signing = key_ids(each.template)["signing"]
    found = _witness_statements(each)
    assert found
    for st in found:
        assert not (allows(st, "kms:Sign") and covers_key(st, signing)), f"{st.source} signs with the log key"
        for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                       *APPEND_ONLY_FORBIDDEN):
            assert not allows(st, action), f"{st.source}: the witness may {action}"
        assert not any(a.startswith(("dynamodb:", "ses:", "lambda:", "cognito-idp:")) for a in st.actions), st


def _rendered(resource) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::Join" in resource:
        sep, parts = resource["Fn::Join"]
        return sep.join(_rendered(p) for p in parts)
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    if resource.get("Ref") in pseudo:
        return pseudo[resource["Ref"]]
    return json.dumps(resource)


VIEW_OBJECT = f"arn:aws:s3:::{PREFIX}-archive/witness/v1/t/prod.sales.r1/000000000001.cosig"
ARCHIVE_OBJECT = f"arn:aws:s3:::{PREFIX}-archive/v1/chains/t/prod.sales.r1/manifest.json"


def test_the_witness_reaches_only_its_view_and_lists_only_its_prefix(each):
    if WITNESS not in each.handler_names():
        pytest.skip(f"{WITNESS} is not registered in the {each.name} app")
    s3 = [st for st in _witness_statements(each) if st.effect == "Allow" and st.actions[0].startswith("s3:")]
    objects = [st for st in s3 if "s3:ListBucket" not in st.actions]
    assert objects and all(_rendered(r) == f"arn:aws:s3:::{PREFIX}-archive/witness/*" for st in objects
                           for r in st.resources)
    (listing,) = [st for st in s3 if "s3:ListBucket" in st.actions]
    (policy,) = [r for r in each.resources("AWS::IAM::Policy").values()
                 if {"Ref": listing.principals[0]} in r["Properties"]["Roles"]]
    (raw,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:ListBucket"]
    assert raw["Condition"] == {"StringLike": {"s3:prefix": "witness/*"}}


def test_no_other_role_reaches_the_witness_s_view(each):
    """Every other function's archive objects are under v1/: none can read, plant or lock an
    object of the witness's view (decision 0024)."""
    roles = function_roles(each.template)
    for st in statements(each.template):
        if st.effect != "Allow" or any(roles.get(p) == f"{PREFIX}-{WITNESS}" for p in st.principals):
            continue
        if not any((a.startswith("s3:") and a != "s3:ListBucket") or a == "*" for a in st.actions):
            continue
        for r in st.resources:
            assert not fnmatchcase(VIEW_OBJECT, _rendered(r)), f"{st.source} reaches the witness's view with {r}"


def test_the_archive_writers_still_reach_the_archive():
    for name, grant in GRANTS.items():
        for prefix in grant.objects.get("archive", {}):
            assert fnmatchcase(ARCHIVE_OBJECT, f"arn:aws:s3:::{PREFIX}-archive/{prefix}*") != (name == WITNESS), name


def test_the_archive_bucket_refuses_writes_under_witness_to_all_but_the_witness_role(each):
    (bucket_id,) = [k for k, r in each.resources("AWS::S3::Bucket").items()
                    if r["Properties"]["BucketName"] == f"{PREFIX}-archive"]
    (policy,) = [r for r in each.resources("AWS::S3::BucketPolicy").values()
                 if r["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
               if s.get("Sid") == "OnlyTheWitnessWritesItsView"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) == {"s3:PutObject", "s3:PutObjectRetention"}
    assert _rendered(deny["Resource"]).endswith("/witness/*") and bucket_id in json.dumps(deny["Resource"])
    assert _excepted_roles(each, deny) == {WITNESS} & each.handler_names()


def test_only_the_witness_callers_may_invoke_it(each):
    roles = function_roles(each.template)
    function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{PREFIX}-{WITNESS}"
    invokers = set()
    for st in statements(each.template):
        if allows(st, "lambda:InvokeFunction") and any(fnmatchcase(function_arn, _rendered(r)) for r in st.resources):
            invokers |= {roles.get(p, p).removeprefix(PREFIX + "-") for p in st.principals}
    assert invokers == set(WITNESS_CALLERS) & each.handler_names()


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
        # A role of no function (the console's BucketDeployment) has no grants: it reaches no table.
        handler = roles.get(principal, principal).removeprefix(PREFIX + "-")
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


def _as(template, function: str):
    template["Resources"]["Fn"]["Properties"]["FunctionName"] = f"{PREFIX}-{function}"
    return template


def _with_keys(template):
    for name in ("signing", "witness"):
        template["Resources"][f"Alias{name}"] = {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{PREFIX}-{name}", "TargetKeyId": {"Fn::GetAtt": [f"Key{name}", "Arn"]}},
        }
    return template


def test_the_scanner_catches_kms_sign_outside_the_signers():
    assert sign_violations(_as(_template_with("kms:Sign", "*"), "api_handler"))
    assert sign_violations(_as(_template_with("kms:*", "*"), "close_periods"))
    assert sign_violations(_template_with("kms:Sign", "*"))  # on_journal_record: "*" covers the witness's key
    assert not sign_violations(_as(_template_with("kms:GetPublicKey", "*"), "api_handler"))
    api_on_log_key = _with_keys(_as(_template_with("kms:Sign", {"Fn::GetAtt": ["Keysigning", "Arn"]}), "api_handler"))
    assert sign_violations(api_on_log_key)
    journal_on_log_key = _with_keys(_template_with("kms:Sign", {"Fn::GetAtt": ["Keysigning", "Arn"]}))
    assert not sign_violations(journal_on_log_key)


def test_the_scanner_catches_kms_sign_with_the_other_key():
    """The witness signs with its own key only; the log's signers never with the witness's."""
    def sign(function, key):
        return _with_keys(_as(_template_with("kms:Sign", {"Fn::GetAtt": [f"Key{key}", "Arn"]}), function))

    assert not sign_violations(sign(WITNESS, "witness"))
    assert sign_violations(sign(WITNESS, "signing"))
    assert not sign_violations(sign("sign_chain", "signing"))
    assert sign_violations(sign("sign_chain", "witness"))
    assert sign_violations(sign("sign_checkpoints", "signing"))  # the schedule only queues units
    assert sign_violations(_with_keys(_as(_template_with("kms:Sign", "arn:aws:kms:*:*:key/*"), WITNESS)))


def test_the_scanner_catches_kms_generate_mac_outside_the_provers():
    def for_build_export(action):
        template = _template_with(action, "*")
        template["Resources"]["Fn"]["Properties"]["FunctionName"] = f"{PREFIX}-build_export"
        return template

    assert generate_mac_violations(for_build_export("kms:GenerateMac"))
    assert generate_mac_violations(for_build_export("kms:*"))
    assert not generate_mac_violations(for_build_export("kms:VerifyMac"))
    assert not generate_mac_violations(_template_with("kms:GenerateMac", "*"))  # on_journal_record proves


def test_the_scanner_catches_a_keys_table_write_outside_the_signers():
    ids = {"keys": "TableKeysX"}
    table = {"Fn::GetAtt": ["TableKeysX", "Arn"]}
    assert table_write_violations(_as(_template_with("dynamodb:PutItem", table), "api_handler"), ids)
    assert table_write_violations(_as(_template_with("dynamodb:*", "*"), "verify_chains"), ids)
    assert table_write_violations(_as(_template_with("dynamodb:UpdateItem", table), "sign_chain"), ids)
    assert table_write_violations(_as(_template_with("dynamodb:PutItem", table), "sign_checkpoints"), ids)
    assert table_write_violations(_as(_template_with("dynamodb:PutItem", "arn:aws:dynamodb:*:*:table/*"),
                                      "close_periods"), ids)
    assert not table_write_violations(_as(_template_with("dynamodb:PutItem", table), "sign_chain"), ids)
    assert not table_write_violations(_as(_template_with("dynamodb:Query", table), "api_handler"), ids)


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
        (Grants(keys={"data": ("kms:Sign",)}), "reserved"),  # on_journal_record signs with the log's key only
        (Grants(keys={"witness": ("kms:Sign",)}), "reserved"),
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


@pytest.mark.parametrize(
    "function,grant,message",
    [
        ("api_handler", Grants(keys={"witness": ("kms:Sign",)}), "reserved"),
        (WITNESS, Grants(keys={"signing": ("kms:Sign", "kms:GetPublicKey")}), "reserved"),
        (WITNESS, Grants(keys={"data": ("kms:Sign",)}), "reserved"),
        (WITNESS, Grants(tables={"ops": ("dynamodb:PutItem",)}), "writes no table"),
        (WITNESS, Grants(tables={"accounts": ("dynamodb:GetItem", "dynamodb:UpdateItem")}), "writes no table"),
        (WITNESS, Grants(objects={"archive": {"": ("s3:GetObject",)}}), "under archive/witness/ only"),
        (WITNESS, Grants(objects={"archive": {"v1/": ("s3:GetObject",)}}), "under archive/witness/ only"),
        (WITNESS, Grants(objects={"exports": {"witness/": ("s3:PutObject",)}}), "under archive/witness/ only"),
        (WITNESS, Grants(list_buckets=("archive",)), "lists only"),
        (WITNESS, Grants(list_buckets=("archive",), list_prefixes={"archive": "v1/"}), "lists only"),
        (WITNESS, Grants(list_prefixes={"archive": "witness/"}), "may not list"),
        ("on_journal_record", Grants(objects={"archive": {"": ("s3:GetObject",)}}), "witness's view"),
        ("api_handler", Grants(objects={"archive": {"witness/v1/": ("s3:GetObject",)}}), "witness's view"),
        ("api_handler", Grants(invoke=(WITNESS,)), "invoke the witness"),
        (WITNESS, Grants(invoke=(WITNESS,)), "invoke the witness"),
        # issue 14 item 3: the API neither signs nor publishes keys; only it asks for checkpoints
        ("api_handler", Grants(keys={"signing": ("kms:Sign", "kms:GetPublicKey")}), "reserved"),
        ("close_periods", Grants(keys={"signing": ("kms:Sign",)}), "reserved"),
        ("api_handler", Grants(tables={"keys": ("dynamodb:PutItem",)}), "which only"),
        ("verify_chains", Grants(tables={"keys": ("dynamodb:Query", "dynamodb:BatchWriteItem")}), "which only"),
        (WITNESS, Grants(tables={"keys": ("dynamodb:PutItem",)}), "which only"),
        ("sign_chain", Grants(tables={"keys": ("dynamodb:UpdateItem",)}), "never update"),
        ("sign_checkpoints", Grants(keys={"signing": ("kms:Sign",)}), "reserved"),
        ("sign_checkpoints", Grants(tables={"keys": ("dynamodb:PutItem",)}), "which only"),
        ("on_journal_record", Grants(tables={"keys": ("dynamodb:DeleteItem",)}), "never update"),
        ("verify_chains", Grants(invoke=(SIGNING_FUNCTION,)), "invoke sign_chain"),
        ("build_export", Grants(invoke=(SIGNING_FUNCTION,)), "invoke sign_chain"),
        # decision 0028: a schedule sends to its own queue, and only sends
        ("close_periods", Grants(queues={"sign-work": ("sqs:SendMessage",)}), "its own queue"),
        ("verify_chains", Grants(), "its own queue"),
        ("close_periods", Grants(queues={"close-work": ("sqs:SendMessage",)},
                                 tables={"journal": ("dynamodb:PutItem",)}), "journal writes"),
        ("api_handler", Grants(queues={"sign-work": ("sqs:ReceiveMessage",)}), "only sends"),
        ("api_handler", Grants(queues={"sign-work": ("sqs:*",)}), "only sends"),
        ("api_handler", Grants(queues={"nope-work": ("sqs:SendMessage",)}), "unknown queue"),
    ],
)
def test_the_stack_refuses_a_grant_that_breaks_the_witness_s_independence(function, grant, message):
    with pytest.raises(GrantError, match=message):
        check_grants({function: grant})


def test_the_signers_key_publishers_and_checkpoint_requesters_grants_pass():
    for name in SIGNERS | CHECKPOINT_REQUESTERS:
        check_grants({name: GRANTS[name]})
    assert SIGNING_FUNCTION in GRANTS["api_handler"].invoke and SIGNING_FUNCTION in SIGNERS
    check_grants({"api_handler": Grants(tables={"keys": ("dynamodb:Query",)})})  # reading is not publishing


def test_the_witness_s_own_grants_and_its_callers_pass():
    check_grants({WITNESS: GRANTS[WITNESS]})
    for caller in WITNESS_CALLERS:
        assert WITNESS in GRANTS[caller].invoke
        check_grants({caller: GRANTS[caller]})


@pytest.mark.parametrize(
    "grant,message",
    [
        (Grants(keys={"write_proof": ("kms:GenerateMac",)}), "reserved"),
        (Grants(keys={"write_proof": ("kms:GenerateMac", "kms:VerifyMac")}), "reserved"),
        (Grants(keys={"write_proof": ("kms:*",)}), "wildcard"),
    ],
)
def test_the_stack_refuses_a_write_proof_grant_outside_the_provers(grant, message):
    assert "build_export" not in PROVERS
    with pytest.raises(GrantError, match=message):
        check_grants({"build_export": grant})
    check_grants({"build_export": Grants(keys={"write_proof": ("kms:VerifyMac",)})})  # checking is not proving


@pytest.mark.parametrize("logical", UNLOSABLE_KEYS)
def test_the_unlosable_keys_refuse_disable_and_deletion_to_all_but_the_break_glass_role(each, logical):
    """Without the data key the archive cannot be read; without the write-proof key no entry after
    the newest checkpoint can be verified (decision 0022); without the witness's key the witness
    neither co-signs nor checks its own view (decision 0024): nobody may disable one or schedule
    its deletion through the key's own policy, except the break-glass role (none by default)."""
    key = _key_by_name(each, logical)
    denies = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    (deny,) = [s for s in denies if s.get("Sid") == "OnlyBreakGlassDisablesOrDeletes"]
    assert sorted(deny["Action"]) == sorted(KEY_KILLERS) == ["kms:DisableKey", "kms:ScheduleKeyDeletion"]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/none"}}


def test_the_unlosable_keys_are_the_data_write_proof_and_witness_keys():
    assert set(UNLOSABLE_KEYS) == {"data", "write_proof", "witness"} <= {k.logical for k in RESOURCES.keys}


def test_a_break_glass_role_is_the_only_exception_and_must_be_a_role_arn():
    from infra.stacks.settings import StackSettings

    arn = "arn:aws:iam::123456789012:role/scelle-break-glass"
    assert StackSettings(break_glass_role_arn=arn).break_glass_role_arn == arn
    with pytest.raises(ValueError, match="break_glass_role_arn"):
        StackSettings(break_glass_role_arn="arn:aws:iam::123456789012:user/alice")
