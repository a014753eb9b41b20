"""Tables, buckets, keys, user pool and mail identity: built from chalicelib/resources.py."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED, ITEM_MUTATIONS, ITEM_WRITES, WRITE_DENY_SIDS
from infra.stacks.permissions import KEY_PUBLISHERS, SIGNERS, TABLE_WRITERS
from tests.infra.iam_scan import function_roles

PREFIX = "scelle-prod"


def _by_name(synth, type_, name_prop, name):
    (found,) = [r for r in synth.resources(type_).values() if r["Properties"].get(name_prop) == name]
    return found


@pytest.mark.parametrize("table", RESOURCES.tables, ids=lambda t: t.logical)
def test_each_table_has_the_keys_indexes_stream_and_ttl_of_the_shared_definition(real, table):
    props = _by_name(real, "AWS::DynamoDB::Table", "TableName", f"{PREFIX}-{table.logical}")["Properties"]

    keys = [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
    if table.sort:
        keys.append({"AttributeName": table.sort.name, "KeyType": "RANGE"})
    assert props["KeySchema"] == keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    lsis = {i["IndexName"]: i for i in props.get("LocalSecondaryIndexes", [])}
    gsis = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
    for index in table.indexes:
        made = (lsis if index.local else gsis)[index.name]
        schema = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
        if index.sort:
            schema.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
        assert made["KeySchema"] == schema
        assert made["Projection"] == {"ProjectionType": "ALL"}
    assert len(lsis) + len(gsis) == len(table.indexes)
    if table.stream:
        assert props["StreamSpecification"] == {"StreamViewType": table.stream}
    else:
        assert "StreamSpecification" not in props
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is table.pitr
    assert props["DeletionProtectionEnabled"] is True


def test_the_journal_streams_new_and_old_images_with_pitr_and_deletion_protection(real):
    real.assertions.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "TableName": f"{PREFIX}-journal",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "DeletionProtectionEnabled": True,
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


@pytest.mark.parametrize("table", [t for t in RESOURCES.tables if t.append_only], ids=lambda t: t.logical)
def test_append_only_tables_refuse_item_mutations_to_every_principal(real, table):
    props = _by_name(real, "AWS::DynamoDB::Table", "TableName", f"{PREFIX}-{table.logical}")["Properties"]

    (statement,) = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert set(statement["Action"]) == set(ITEM_MUTATIONS)
    assert f"table/{PREFIX}-{table.logical}" in str(statement["Resource"])


@pytest.mark.parametrize("table", RESOURCES.tables, ids=lambda t: t.logical)
def test_every_table_is_retained_with_pitr_and_deletion_protection(real, table):
    made = _by_name(real, "AWS::DynamoDB::Table", "TableName", f"{PREFIX}-{table.logical}")
    assert made["DeletionPolicy"] == made["UpdateReplacePolicy"] == "Retain"
    assert made["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert made["Properties"]["DeletionProtectionEnabled"] is True


def test_the_keys_table_is_not_append_only_and_only_the_signers_write_it():
    """A retired key's item is overwritten with its not_after (KeyRegistry): not append-only, but
    written by the functions that sign and by nobody else (issue 14 item 3)."""
    assert not RESOURCES.table("keys").append_only
    assert TABLE_WRITERS == {"keys": KEY_PUBLISHERS} and KEY_PUBLISHERS == SIGNERS
    assert "api_handler" not in KEY_PUBLISHERS
    assert set(TABLE_WRITERS) == set(WRITE_DENY_SIDS)


def test_the_keys_table_refuses_every_item_write_to_all_but_the_signer_roles(each):
    """Like the signing key's policy: an administrator or a role granting itself dynamodb:PutItem
    on the keys table still cannot publish a key; only a resource-policy change, a logged event,
    or the break-glass role (none by default) could."""
    props = _by_name(each, "AWS::DynamoDB::Table", "TableName", f"{PREFIX}-keys")["Properties"]
    (deny,) = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert deny["Sid"] == WRITE_DENY_SIDS["keys"] and deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) == set(ITEM_WRITES) >= {"dynamodb:PutItem", "dynamodb:UpdateItem",
                                                       "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    assert f"table/{PREFIX}-keys" in str(deny["Resource"])
    roles = function_roles(each.template)
    allowed = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    excepted = {roles[a["Fn::GetAtt"][0]].removeprefix(PREFIX + "-") for a in allowed if isinstance(a, dict)}
    assert excepted == SIGNERS & each.handler_names()
    assert [a for a in allowed if not isinstance(a, dict)] == []  # no break-glass role configured


def test_a_break_glass_role_may_also_write_the_keys_table():
    """To put back a replaced key (docs/deploy.md), the break-glass role is the one exception."""
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk.assertions import Template

    from infra.stacks.data import restrict_table_writes
    from infra.stacks.settings import StackSettings

    arn = "arn:aws:iam::123456789012:role/scelle-break-glass"
    stack = cdk.Stack(cdk.App(), "T", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    table = dynamodb.Table(stack, "K", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
    restrict_table_writes(table, StackSettings(break_glass_role_arn=arn), "keys", [])
    (made,) = Template.from_stack(stack).to_json()["Resources"].values()
    (deny,) = made["Properties"]["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [arn]}}


def test_tables_that_are_neither_append_only_nor_writer_restricted_have_no_deny_policy(real):
    for table in RESOURCES.tables:
        if not table.append_only and table.logical not in TABLE_WRITERS:
            props = _by_name(real, "AWS::DynamoDB::Table", "TableName", f"{PREFIX}-{table.logical}")["Properties"]
            assert "ResourcePolicy" not in props


def _bucket(synth, logical):
    found = [
        (k, r)
        for k, r in synth.resources("AWS::S3::Bucket").items()
        if r["Properties"].get("BucketName") == f"{PREFIX}-{logical}"
    ]
    assert len(found) == 1
    return found[0]


def _bucket_policy(synth, bucket_id):
    (policy,) = [
        r for r in synth.resources("AWS::S3::BucketPolicy").values() if r["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_archive_bucket_is_worm_compliance_locked_versioned_and_goes_cold_after_a_year(real):
    _, bucket = _bucket(real, "archive")
    props = bucket["Properties"]

    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3653}},
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 365}]
    assert "ExpirationInDays" not in rule
    assert bucket["DeletionPolicy"] == "Retain"


def test_the_archive_bucket_policy_refuses_deletes_and_lock_changes_to_everyone(real):
    bucket_id, _ = _bucket(real, "archive")

    denies = [
        s
        for s in _bucket_policy(real, bucket_id)
        if s["Effect"] == "Deny" and s.get("Sid") == "WormNoDeleteNoLockChange"
    ]
    assert len(denies) == 1
    assert denies[0]["Principal"] == {"AWS": "*"}
    assert set(denies[0]["Action"]) == set(ARCHIVE_DENIED)
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketObjectLockConfiguration"} <= set(ARCHIVE_DENIED)


@pytest.mark.parametrize("bucket", RESOURCES.buckets, ids=lambda b: b.logical)
def test_every_bucket_blocks_public_access_and_refuses_plain_http(real, bucket):
    bucket_id, made = _bucket(real, bucket.logical)

    assert made["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    tls = [
        s
        for s in _bucket_policy(real, bucket_id)
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert tls and tls[0]["Action"] == "s3:*"
    if bucket.expire_after_days:
        rules = made["Properties"]["LifecycleConfiguration"]["Rules"]
        assert [r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r] == [bucket.expire_after_days]


def test_the_exports_bucket_keeps_objects_a_short_time(real):
    _, made = _bucket(real, "exports")
    (rule,) = made["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] <= 30


def test_the_signing_key_is_p256_sign_verify_and_the_data_key_rotates(real):
    real.assertions.has_resource_properties("AWS::KMS::Key", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
    real.assertions.has_resource_properties(
        "AWS::KMS::Key",
        {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "EnableKeyRotation": True},
    )
    real.assertions.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/{PREFIX}-signing"})
    for key in real.resources("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("key", RESOURCES.keys, ids=lambda k: k.logical)
def test_each_key_has_the_spec_usage_and_rotation_of_the_shared_definition(real, key):
    (alias,) = [a for a in real.resources("AWS::KMS::Alias").values()
                if a["Properties"]["AliasName"] == f"alias/{PREFIX}-{key.logical}"]
    props = real.template["Resources"][alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]]["Properties"]
    assert props.get("KeySpec", "SYMMETRIC_DEFAULT") == key.spec
    assert props.get("KeyUsage", "ENCRYPT_DECRYPT") == key.usage
    assert bool(props.get("EnableKeyRotation")) is key.rotation
    assert props["PendingWindowInDays"] == 30


def test_the_write_proof_key_is_an_hmac_key_without_rotation(real):
    """KMS has no automatic rotation for HMAC keys (decision 0022: a rotation is a new key)."""
    real.assertions.has_resource_properties(
        "AWS::KMS::Key", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "EnableKeyRotation": False}
    )
    real.assertions.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/{PREFIX}-write_proof"})


def test_only_symmetric_encryption_keys_may_declare_rotation():
    from chalicelib.resources import KmsKey

    with pytest.raises(ValueError, match="rotates only"):
        KmsKey("x", "HMAC_256", "GENERATE_VERIFY_MAC", rotation=True)
    with pytest.raises(ValueError, match="rotates only"):
        KmsKey("x", "ECC_NIST_P256", "SIGN_VERIFY", rotation=True)
    assert KmsKey("x", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", rotation=True).rotation


def test_the_user_pool_and_client_follow_the_shared_definition(real):
    pool_def = RESOURCES.user_pool
    real.assertions.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UserPoolName": f"{PREFIX}-{pool_def.logical}",
            "UsernameAttributes": ["email"],
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": pool_def.password_min_length,
                        "RequireUppercase": pool_def.require_upper,
                        "RequireLowercase": pool_def.require_lower,
                        "RequireNumbers": pool_def.require_digits,
                        "RequireSymbols": pool_def.require_symbols,
                    }
                )
            },
            "DeletionProtection": "ACTIVE",
        },
    )
    real.assertions.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ExplicitAuthFlows": list(pool_def.auth_flows),
            "GenerateSecret": False,
        },
    )


def test_the_mail_sender_is_an_ses_identity(real):
    real.assertions.has_resource_properties("AWS::SES::EmailIdentity", {"EmailIdentity": "no-reply@scelle.example"})
