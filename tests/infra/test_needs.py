"""Each function's role allows exactly what its code calls (tests/infra/needs.py), no more.

The needs are boto3 operations on named targets; here they become IAM actions on ARNs, and the
synthesized template's Allow statements (intrinsics rendered into ARNs) are matched against them
with IAM's wildcard rules, in both directions:

* every need is allowed by the function's own role (the function works on AWS);
* every (action, resource) the role allows is used by some need (least privilege).

Statements that serve the Lambda runtime rather than the code (its own log group, X-Ray, its
stream and dead-letter queue for stream functions, the work queue a worker's event source mapping
receives from) are left to test_functions/test_least_privilege/test_queues.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from chalicelib.resources import RESOURCES
from infra.stacks.permissions import GRANTS
from tests.infra.iam_scan import function_roles
from tests.infra.needs import NEEDS

PREFIX = "scelle-prod"
PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
RUNTIME_SIDS = {"OwnLogs", "Tracing", "ReadOwnStream", "DeadLetter"}
RUNTIME_SID_PREFIXES = ("ConsumeQueue",)  # a worker's event source mapping (functions.py)
MAIL_FROM = "no-reply@scelle.example"

# boto3 operations whose IAM action is not simply the operation in CamelCase.
_SPECIAL = {
    "s3.head_object": ("s3:GetObject",),
    "s3.put_object[lock]": ("s3:PutObject", "s3:PutObjectRetention"),
    "s3.create_multipart_upload": ("s3:PutObject",),
    "s3.upload_part": ("s3:PutObject",),
    "s3.complete_multipart_upload": ("s3:PutObject",),
    "s3.generate_presigned_url[get_object]": ("s3:GetObject",),
    "s3.generate_presigned_post": ("s3:PutObject",),
    "dynamodb.transact_write_items[Put]": ("dynamodb:PutItem",),
    "dynamodb.transact_write_items[Update]": ("dynamodb:UpdateItem",),
    "dynamodb.transact_write_items[ConditionCheck]": ("dynamodb:ConditionCheckItem",),
    "dynamodb.batch_write_item[Put]": ("dynamodb:BatchWriteItem",),
    "dynamodb.batch_write_item[Put|Delete]": ("dynamodb:BatchWriteItem",),
    "esdk.encrypt": ("kms:GenerateDataKey",),  # one KMS master key: it generates, nothing to Encrypt
    "esdk.decrypt": ("kms:Decrypt",),
    "lambda.invoke": ("lambda:InvokeFunction",),
    "sqs.send_message_batch": ("sqs:SendMessage",),  # IAM has no SendMessageBatch action
}


def _camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.split("_"))


def _bucket_arn(bucket: str) -> str:
    return f"arn:{PARTITION}:s3:::{PREFIX}-{bucket}"


def _target_arn(service: str, target: str) -> str:
    if service == "dynamodb":
        return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{PREFIX}-{target}"
    if service == "s3":
        bucket, _, key = target.partition(":")
        return f"{_bucket_arn(bucket)}/{key}" if key else _bucket_arn(bucket)
    if service in ("kms", "esdk"):
        return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{target}"
    if service == "lambda":
        return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-{target}"
    if service == "ses":
        return f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/{MAIL_FROM}"
    if service == "cognito-idp":
        return f"arn:{PARTITION}:cognito-idp:{REGION}:{ACCOUNT}:userpool/{RESOURCES.user_pool.logical}"
    if service == "sqs":
        return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{PREFIX}-{target}.fifo"
    raise ValueError(f"unknown service {service!r}")


def iam_for(call: str, target: str) -> set[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one call needs."""
    service, _, operation = call.partition(".")
    missing = operation.endswith("[maybe-missing]")
    operation = operation.removesuffix("[maybe-missing]")
    key = f"{service}.{operation}"
    if key == "s3.list_objects_v2":
        return {("s3:ListBucket", _bucket_arn(target))}
    if key in _SPECIAL:
        actions = _SPECIAL[key]
    elif "[" not in operation:
        iam_service = "kms" if service == "esdk" else service
        actions = (f"{iam_service}:{_camel(operation)}",)
    else:
        raise ValueError(f"no IAM translation for {call!r}")
    arn = _target_arn(service, target)
    pairs = {(action, arn) for action in actions}
    if missing:  # S3 answers 404 (not 403) for a missing key only to a caller that may list
        pairs.add(("s3:ListBucket", _bucket_arn(target.partition(":")[0])))
    return pairs


def needed(function: str) -> set[tuple[str, str]]:
    return {pair for call, target, _ in NEEDS[function] for pair in iam_for(call, target)}


# ---- the template, rendered into ARNs ----------------------------------------------------------
def _names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> the ARN the resource would have (tables, keys, the pool, work queues)."""
    out: dict[str, str] = {}
    resources = template["Resources"]
    for logical, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::DynamoDB::Table":
            out[logical] = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{props['TableName']}"
        elif res["Type"] == "AWS::KMS::Alias":
            key_id = props["TargetKeyId"]["Fn::GetAtt"][0]
            name = props["AliasName"].removeprefix(f"alias/{PREFIX}-")
            out[key_id] = f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{name}"
        elif res["Type"] == "AWS::Cognito::UserPool":
            out[logical] = f"arn:{PARTITION}:cognito-idp:{REGION}:{ACCOUNT}:userpool/{RESOURCES.user_pool.logical}"
        elif res["Type"] == "AWS::SQS::Queue" and "QueueName" in props:
            out[logical] = f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{props['QueueName']}"
    return out


def render(value: Any, names: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}.get(
            value["Ref"], f"<ref {value['Ref']}>"
        )
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        base = names.get(logical, f"<{logical}>")
        return base if attribute == "Arn" else f"{base}/<{attribute}>"
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(render(p, names) for p in parts)
    raise ValueError(f"cannot render {value!r}")


def granted(synth, function: str) -> set[tuple[str, str]]:
    """(action pattern, resource pattern) pairs the function's role allows (runtime Sids aside)."""
    template = synth.template
    names = _names(template)
    roles = {fn.removeprefix(PREFIX + "-"): role for role, fn in function_roles(template).items()}
    out: set[tuple[str, str]] = set()
    for res in template["Resources"].values():
        if res["Type"] != "AWS::IAM::Policy" or {"Ref": roles[function]} not in res["Properties"]["Roles"]:
            continue
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] != "Allow" or st.get("Sid") in RUNTIME_SIDS:
                continue
            if st.get("Sid", "").startswith(RUNTIME_SID_PREFIXES):
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            out |= {(a, render(r, names)) for a in actions for r in resources}
    return out


def _allows(grant: tuple[str, str], need: tuple[str, str]) -> bool:
    (action_pattern, resource_pattern), (action, resource) = grant, need
    return fnmatchcase(action.lower(), action_pattern.lower()) and fnmatchcase(resource, resource_pattern)


# ---- the checks -------------------------------------------------------------------------------
def test_every_declared_function_has_its_needs_and_its_grants():
    assert set(NEEDS) == set(GRANTS)


def test_every_function_the_app_deploys_declares_its_needs(each):
    assert each.handler_names() <= set(NEEDS)


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_each_need_translates_into_iam(function):
    for call, target, via in NEEDS[function]:
        assert iam_for(call, target), (call, target, via)
        assert via


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_the_role_allows_every_call_the_code_makes(each, function):
    if function not in each.handler_names():
        pytest.skip(f"{function} is not registered in the {each.name} app")
    grants = granted(each, function)
    missing = sorted(need for need in needed(function) if not any(_allows(g, need) for g in grants))
    assert missing == [], f"{function} lacks {missing}"


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_the_role_allows_nothing_the_code_does_not_call(each, function):
    if function not in each.handler_names():
        pytest.skip(f"{function} is not registered in the {each.name} app")
    needs = needed(function)
    extra = sorted(g for g in granted(each, function) if not any(_allows(g, need) for need in needs))
    assert extra == [], f"{function} is granted more than it uses: {extra}"


def _callers(call: str, target: str) -> set[str]:
    return {f for f in NEEDS if any((c, t) == (call, target) for c, t, _ in NEEDS[f])}


def test_the_signers_need_kms_sign_and_no_one_else_does():
    """KEY_SIGNERS (each key policy's exception for kms:Sign) is exactly who signs with that key."""
    from infra.stacks.permissions import KEY_SIGNERS, SIGNERS, WITNESS

    signs = {target for f in NEEDS for call, target, _ in NEEDS[f] if call == "kms.sign"}
    assert signs == set(KEY_SIGNERS) == {"signing", "witness"}
    assert _callers("kms.sign", "signing") == KEY_SIGNERS["signing"] == SIGNERS
    assert _callers("kms.sign", "witness") == KEY_SIGNERS["witness"] == {WITNESS}


def test_the_internet_facing_api_signs_nothing_and_publishes_no_key():
    """Issue 14 item 3: the API has no kms:Sign, writes no checkpoint and no key; it asks the
    signing function for on-demand checkpoints, and the stream handler signs every N entries."""
    from infra.stacks.permissions import SIGNERS

    api = {(call, target) for call, target, _ in NEEDS["api_handler"]}
    assert not {c for c in api if c[0] == "kms.sign"}
    assert not {c for c in api if c[1] in ("checkpoints", "keys") and not c[0].endswith(("query", "describe_table"))}
    assert ("lambda.invoke", "sign_chain") in api
    assert "api_handler" not in SIGNERS and {"on_journal_record", "sign_chain"} <= SIGNERS


def test_the_key_publishers_are_the_signers_and_they_only_put_keys():
    """TABLE_WRITERS (the keys table's resource policy exception) is exactly who publishes keys:
    the functions that sign, with PutItem (a retired key's item is overwritten)."""
    from infra.stacks.permissions import KEY_PUBLISHERS, SIGNERS, TABLE_WRITERS

    writes = {(f, call) for f in NEEDS for call, target, _ in NEEDS[f]
              if target == "keys" and call not in ("dynamodb.query", "dynamodb.describe_table")}
    assert {call for _, call in writes} == {"dynamodb.put_item"}
    assert {f for f, _ in writes} == KEY_PUBLISHERS == SIGNERS == TABLE_WRITERS["keys"]


def test_only_the_api_asks_the_signing_function_for_checkpoints():
    from infra.stacks.permissions import CHECKPOINT_REQUESTERS, SIGNING_FUNCTION

    assert _callers("lambda.invoke", SIGNING_FUNCTION) == CHECKPOINT_REQUESTERS == {"api_handler"}


def test_every_reader_of_the_published_keys_reads_the_keys_table():
    """KeyRegistry.published and the checkpoint archiver read the keys table; the key id of the
    signer (KmsSigner.key_id) costs a kms:GetPublicKey wherever the registry is read."""
    readers = _callers("dynamodb.query", "keys")
    assert readers == {"api_handler", "on_journal_record", "on_checkpoint_record", "sign_chain",
                       "close_chain", "verify_chain", "build_export"}
    assert readers - {"on_checkpoint_record"} <= _callers("kms.get_public_key", "signing")


def test_only_the_witness_callers_invoke_the_witness():
    from infra.stacks.permissions import WITNESS, WITNESS_CALLERS

    assert _callers("lambda.invoke", WITNESS) == WITNESS_CALLERS == {"sign_chain", "build_export"}


def test_the_witness_reads_only_the_log_s_public_key_and_touches_no_table_nor_mail():
    """Decision 0024: the witness's own key, the log's public key, its view; nothing of the log's."""
    from infra.stacks.permissions import WITNESS

    calls = {(call, target.partition(":")[0]) for call, target, _ in NEEDS[WITNESS]}
    assert not any(call.startswith(("dynamodb.", "ses.", "lambda.", "esdk.")) for call, _ in calls)
    assert {t for c, t in calls if c.startswith("kms.")} == {"witness", "signing"}
    assert ("kms.sign", "signing") not in calls
    assert all(target.partition(":")[2].startswith("witness/") for call, target, _ in NEEDS[WITNESS]
               if call.startswith("s3.") and ":" in target)


def test_the_schedules_only_queue_units_and_the_workers_do_the_work():
    """Decision 0028: a schedule (DISPATCHERS) lists the chains and sends units to its own queue;
    it neither signs nor writes the journal nor reads a chain; only verify_chain (its continuations)
    sends besides them."""
    from infra.stacks.permissions import DISPATCHERS

    for queue, dispatcher in DISPATCHERS.items():
        calls = {(call, target) for call, target, _ in NEEDS[dispatcher]}
        assert ("sqs.send_message_batch", queue) in calls and ("sqs.get_queue_url", queue) in calls
        assert {t for c, t in calls if c.startswith("sqs.")} == {queue}, dispatcher
        assert not {c for c in calls if c[0] == "kms.sign" or c[1] in ("journal", "checkpoints", "keys")}, dispatcher
    senders = {f: {t for c, t, _ in NEEDS[f] if c == "sqs.send_message_batch"} for f in NEEDS}
    assert {f: q for f, q in senders.items() if q} == {
        **{d: {q} for q, d in DISPATCHERS.items()}, "verify_chain": {"verify-work"}}


def test_the_provers_need_kms_generate_mac_and_no_one_else_does():
    """PROVERS (the key policy's exception for kms:GenerateMac) is exactly who seals or appends."""
    from infra.stacks.permissions import PROVERS

    provers = {f for f in NEEDS if any(call == "kms.generate_mac" for call, _, _ in NEEDS[f])}
    assert provers == PROVERS


def test_functions_find_their_keys_by_arn_so_they_need_no_describe_key(each):
    """KmsSigner and the Encryption SDK call DescribeKey only for a key id that is not an ARN, and
    KmsWriteProofs refuses one (a proof names its key by ARN)."""
    for fn in each.functions().values():
        env = fn["Properties"]["Environment"]["Variables"]
        names = ["SCELLE_SIGNING_KEY_ID", "SCELLE_DATA_KEY_ID", "SCELLE_WRITE_PROOF_KEY_ID"]
        names += ["SCELLE_WITNESS_KEY_ID"] if "SCELLE_WITNESS_KEY_ID" in env else []
        for name in names:
            value = env[name]
            assert isinstance(value, dict) and value.get("Fn::GetAtt", [None, None])[1] == "Arn", (name, value)


# ---- the translation itself (no synth) ---------------------------------------------------------
def test_the_translation_follows_iam_semantics():
    assert iam_for("dynamodb.transact_write_items[Put]", "journal") == {
        ("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{PREFIX}-journal")
    }
    assert ("s3:PutObjectRetention", f"arn:aws:s3:::{PREFIX}-archive/k") in iam_for("s3.put_object[lock]", "archive:k")
    assert ("s3:ListBucket", f"arn:aws:s3:::{PREFIX}-exports") in iam_for("s3.head_object[maybe-missing]", "exports:k")
    assert iam_for("esdk.encrypt", "data") == {("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data")}
    assert iam_for("kms.generate_mac", "write_proof") == {
        ("kms:GenerateMac", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/write_proof")
    }
    assert iam_for("kms.verify_mac", "write_proof") == {
        ("kms:VerifyMac", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/write_proof")
    }
    assert iam_for("sqs.send_message_batch", "sign-work") == {
        ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-sign-work.fifo")
    }
    assert iam_for("cognito-idp.admin_get_user", "pool") == {
        ("cognito-idp:AdminGetUser", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/users")
    }
    with pytest.raises(ValueError):
        iam_for("s3.put_object[unknown]", "archive:k")


def test_the_matcher_catches_a_missing_and_an_extra_grant():
    need = ("s3:GetObject", f"arn:aws:s3:::{PREFIX}-support/inbound/x")
    assert _allows(("s3:GetObject", f"arn:aws:s3:::{PREFIX}-support/inbound/*"), need)
    assert not _allows(("s3:GetObject", f"arn:aws:s3:::{PREFIX}-support/attachments/*"), need)
    assert not _allows(("s3:PutObject", f"arn:aws:s3:::{PREFIX}-support/*"), need)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{PREFIX}-support"
    assert not _allows(("dynamodb:Query", table), ("dynamodb:Query", f"{table}/index/gsi1"))
