"""Tables, buckets, keys, user pool and mail identity: built from chalicelib/resources.py."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED, ITEM_MUTATIONS

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


def test_tables_that_are_not_append_only_have_no_deny_policy(real):
    for table in RESOURCES.tables:
        if not table.append_only:
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
