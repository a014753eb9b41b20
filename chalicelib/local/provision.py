"""Creates the resources of ``chalicelib.resources.RESOURCES`` on an endpoint, idempotently.

Used by the embedded stack (and the test harness) against moto. The CDK stack builds the same
definition on AWS, so what is provisioned here is what runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from chalicelib.config import Settings
from chalicelib.resources import RESOURCES, Table


@dataclass
class Provisioned:
    stream_arns: dict[str, str]  # logical table -> stream ARN
    user_pool_id: str
    user_pool_client_id: str


def _key_schema(table: Table):
    schema = [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
    if table.sort:
        schema.append({"AttributeName": table.sort.name, "KeyType": "RANGE"})
    return schema


def _attribute_definitions(table: Table):
    keys = {table.partition.name: table.partition.type}
    if table.sort:
        keys[table.sort.name] = table.sort.type
    for index in table.indexes:
        keys[index.partition.name] = index.partition.type
        if index.sort:
            keys[index.sort.name] = index.sort.type
    return [{"AttributeName": n, "AttributeType": t} for n, t in keys.items()]


def create_table(dynamodb, name: str, table: Table, *, with_stream: bool = True) -> None:
    kwargs = {
        "TableName": name,
        "KeySchema": _key_schema(table),
        "AttributeDefinitions": _attribute_definitions(table),
        "BillingMode": "PAY_PER_REQUEST",
    }
    lsis = [i for i in table.indexes if i.local]
    gsis = [i for i in table.indexes if not i.local]
    projection = {"ProjectionType": "ALL"}
    if lsis:
        kwargs["LocalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _index_schema(i), "Projection": projection} for i in lsis
        ]
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _index_schema(i), "Projection": projection} for i in gsis
        ]
    if table.stream and with_stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
    dynamodb.create_table(**kwargs)
    if table.pitr:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    if table.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
        )


def _index_schema(index):
    schema = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
    if index.sort:
        schema.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
    return schema


def enable_stream(dynamodb, name: str, table: Table) -> None:
    if table.stream:
        dynamodb.update_table(
            TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": table.stream}
        )


def ensure_tables(dynamodb, settings: Settings) -> None:
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in RESOURCES.tables:
        name = settings.table_name(table.logical)
        if name not in existing:
            create_table(dynamodb, name, table)


def stream_arns(dynamodb, settings: Settings) -> dict[str, str]:
    arns = {}
    for table in RESOURCES.tables:
        if table.stream:
            desc = dynamodb.describe_table(TableName=settings.table_name(table.logical))["Table"]
            if desc.get("LatestStreamArn"):
                arns[table.logical] = desc["LatestStreamArn"]
    return arns


def console_origin(settings: Settings) -> str:
    """The web console's origin (scheme://host:port): ``scelle local`` serves it at
    ``public_base_url``, beside the API."""
    parts = urlsplit(settings.public_base_url)
    return f"{parts.scheme}://{parts.netloc}"


def ensure_bucket_cors(s3, settings: Settings) -> None:
    """Each bucket's CORS rule (``Bucket.console_cors_methods``): those methods from the console's
    origin only. Set at every start, created or restored: the console's port may have changed."""
    for bucket in RESOURCES.buckets:
        if not bucket.console_cors_methods:
            continue
        s3.put_bucket_cors(Bucket=settings.bucket_name(bucket.logical), CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [console_origin(settings)],
            "AllowedMethods": list(bucket.console_cors_methods),
            "AllowedHeaders": [],
            "MaxAgeSeconds": 600,
        }]})


def ensure_buckets(s3, settings: Settings) -> None:
    for bucket in RESOURCES.buckets:
        name = settings.bucket_name(bucket.logical)
        try:
            s3.head_bucket(Bucket=name)
            continue
        except ClientError:
            pass
        create = {"Bucket": name}
        if settings.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
        if bucket.object_lock:
            create["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**create)
        if bucket.versioned or bucket.object_lock:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )


def ensure_user_pool(cognito, settings: Settings) -> tuple[str, str]:
    """Return (pool id, client id), creating them when the settings name none that exists."""
    pool_def = RESOURCES.user_pool
    if settings.user_pool_id:
        try:
            cognito.describe_user_pool(UserPoolId=settings.user_pool_id)
            if settings.user_pool_client_id:
                return settings.user_pool_id, settings.user_pool_client_id
        except ClientError:
            pass
    pool = cognito.create_user_pool(
        PoolName=f"{settings.resource_prefix}-{pool_def.logical}",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": pool_def.password_min_length,
                "RequireUppercase": pool_def.require_upper,
                "RequireLowercase": pool_def.require_lower,
                "RequireNumbers": pool_def.require_digits,
                "RequireSymbols": pool_def.require_symbols,
            }
        },
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=[],
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=f"{settings.resource_prefix}-app",
        GenerateSecret=False,
        ExplicitAuthFlows=list(pool_def.auth_flows),
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def ensure_mail_identity(ses, settings: Settings) -> None:
    ses.verify_email_identity(EmailAddress=settings.mail_from)


def ensure_queues(sqs, settings: Settings) -> dict[str, str]:
    """The FIFO work queues and their dead-letter queues (decision 0028), as the CDK stack makes
    them: logical name -> queue URL. Their messages are not kept across restarts (the redo log
    holds DynamoDB, S3 and Cognito): a lost unit is queued again by the next schedule."""
    import json

    urls: dict[str, str] = {}
    for queue in RESOURCES.queues:
        dlq = sqs.create_queue(QueueName=settings.queue_name(f"{queue.logical}-dlq"),
                               Attributes={"FifoQueue": "true", "MessageRetentionPeriod": str(14 * 86400),
                                           "MaximumMessageSize": str(queue.max_message_bytes)})["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        urls[queue.logical] = sqs.create_queue(QueueName=settings.queue_name(queue.logical), Attributes={
            "FifoQueue": "true",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "MaximumMessageSize": str(queue.max_message_bytes),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receives}),
        })["QueueUrl"]
        urls[f"{queue.logical}-dlq"] = dlq
    return urls


def provision(clients, settings: Settings) -> Provisioned:
    """``clients(service)`` returns a boto3 client for the settings' endpoint."""
    dynamodb = clients("dynamodb")
    ensure_tables(dynamodb, settings)
    ensure_buckets(clients("s3"), settings)
    ensure_bucket_cors(clients("s3"), settings)
    ensure_queues(clients("sqs"), settings)
    ensure_mail_identity(clients("ses"), settings)
    pool_id, client_id = ensure_user_pool(clients("cognito-idp"), settings)
    return Provisioned(stream_arns(dynamodb, settings), pool_id, client_id)
