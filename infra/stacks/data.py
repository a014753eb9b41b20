"""Tables, buckets, keys, work queues, user pool and mail identity, built from ``chalicelib.resources``.

Nothing here restates a key, index, stream or TTL: each comes from ``RESOURCES``. What only AWS
has (deletion protection, Object Lock retention, policies, lifecycle classes) is added here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from chalicelib.resources import RESOURCES, Bucket, Key, Queue, Table
from infra.stacks.settings import StackSettings

# Item writes that could change or remove a sealed record. Denied to everyone on append-only
# tables (table resource policy) and never granted to a function (checked in tests/infra).
ITEM_MUTATIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)
# Every item write, denied on a writer-restricted table (the published keys) to every principal but
# its writers' roles and the break-glass role (``restrict_table_writes``).
ITEM_WRITES = (
    "dynamodb:PutItem",
    *ITEM_MUTATIONS,
    "dynamodb:PartiQLInsert",
)
ARCHIVE_DENIED = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutBucketObjectLockConfiguration",
    "s3:BypassGovernanceRetention",
)
_ATTRIBUTE_TYPE = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPE[key.type])


@dataclass
class DataResources:
    tables: dict[str, dynamodb.Table]
    buckets: dict[str, s3.Bucket]
    keys: dict[str, kms.Key]
    user_pool: cognito.UserPool
    user_pool_client: cognito.UserPoolClient
    mail_identity: ses.EmailIdentity
    mail_identity_name: str
    # RESOURCES.queues (decision 0028): logical name -> the FIFO work queue, and its dead-letter queue
    queues: dict[str, sqs.Queue] = field(default_factory=dict)
    queue_dlqs: dict[str, sqs.Queue] = field(default_factory=dict)


def _table_arn(stack: Stack, name: str) -> str:
    # Built from the fixed name, not a Ref: a table's own policy cannot reference the table.
    return stack.format_arn(service="dynamodb", resource="table", resource_name=name)


def build_table(scope: Construct, settings: StackSettings, table: Table) -> dynamodb.Table:
    name = settings.app_settings().table_name(table.logical)
    policy = None
    if table.append_only:
        arn = _table_arn(Stack.of(scope), name)
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AppendOnlyNoItemMutation",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=list(ITEM_MUTATIONS),
                    resources=[arn, f"{arn}/index/*"],
                )
            ]
        )
    result = dynamodb.Table(
        scope,
        f"Table{to_cfn_resource_name(table.logical)}",
        table_name=name,
        partition_key=_attribute(table.partition),
        sort_key=_attribute(table.sort) if table.sort else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        stream=dynamodb.StreamViewType(table.stream) if table.stream else None,
        time_to_live_attribute=table.ttl_attribute,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=table.pitr
        ),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        resource_policy=policy,
    )
    for index in table.indexes:
        if index.local:
            if index.partition != table.partition:
                raise ValueError(f"{table.logical}.{index.name}: an LSI shares the table's partition key")
            result.add_local_secondary_index(
                index_name=index.name,
                sort_key=_attribute(index.sort),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        else:
            result.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition),
                sort_key=_attribute(index.sort) if index.sort else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
    return result


# Statement id of a writer-restricted table's deny, per table.
WRITE_DENY_SIDS = {"keys": "OnlySignersPublishKeys"}
NOBODY = "arn:aws:iam::000000000000:role/none"


def restrict_table_writes(table: dynamodb.Table, settings: StackSettings, logical: str,
                          writer_role_arns: list[str]) -> None:
    """Resource policy of a table that only some functions may write (the published keys): every
    item write denied to every principal but those functions' roles and the break-glass role
    (``scelle:break_glass_role_arn``, to put back a replaced key: docs/deploy.md). IAM grants
    alone would let an administrator or a future role write it; the table itself refuses
    (changing its policy is a logged ``PutResourcePolicy``)."""
    arn = _table_arn(Stack.of(table), settings.app_settings().table_name(logical))
    allowed = [*writer_role_arns, *([settings.break_glass_role_arn] if settings.break_glass_role_arn else [])]
    table.add_to_resource_policy(
        iam.PolicyStatement(
            sid=WRITE_DENY_SIDS[logical],
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(ITEM_WRITES),
            resources=[arn, f"{arn}/index/*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": allowed or [NOBODY]}},
        )
    )


def build_bucket(scope: Construct, settings: StackSettings, bucket: Bucket) -> s3.Bucket:
    rules = []
    if bucket.expire_after_days:
        rules.append(
            s3.LifecycleRule(
                id="expire",
                expiration=Duration.days(bucket.expire_after_days),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        )
    if bucket.cold_after_days:
        # Glacier Instant Retrieval: cold prices, but still millisecond reads, so the scheduled
        # verifier and exports can read old archive objects without a restore step.
        cold = [
            s3.Transition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=Duration.days(bucket.cold_after_days),
            )
        ]
        rules.append(
            s3.LifecycleRule(
                id="cold",
                transitions=cold,
                noncurrent_version_transitions=[
                    s3.NoncurrentVersionTransition(
                        storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                        transition_after=Duration.days(bucket.cold_after_days),
                    )
                ],
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        )
    result = s3.Bucket(
        scope,
        f"Bucket{to_cfn_resource_name(bucket.logical)}",
        bucket_name=settings.app_settings().bucket_name(bucket.logical),
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=bucket.versioned or bucket.object_lock,
        object_lock_enabled=bucket.object_lock or None,
        object_lock_default_retention=(
            s3.ObjectLockRetention.compliance(Duration.days(settings.archive_retention_days))
            if bucket.object_lock
            else None
        ),
        lifecycle_rules=rules or None,
        removal_policy=RemovalPolicy.RETAIN,
    )
    if bucket.object_lock:
        result.add_to_resource_policy(
            iam.PolicyStatement(
                sid="WormNoDeleteNoLockChange",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(ARCHIVE_DENIED),
                resources=[result.bucket_arn, result.arn_for_objects("*")],
            )
        )
    return result


# Losing the archive's data key loses the archive (every object is envelope-encrypted with it);
# losing the write-proof key makes every entry not yet under a signed checkpoint unverifiable
# (decision 0022); losing the witness's key stops the witness: it can neither co-sign nor check its
# own view, whose objects only that key's public half verifies (decision 0024). None may be
# disabled nor scheduled for deletion by anyone but the break-glass role (decision 0021).
KEY_KILLERS = ("kms:DisableKey", "kms:ScheduleKeyDeletion")
UNLOSABLE_KEYS = ("data", "write_proof", "witness")


def build_key(scope: Construct, settings: StackSettings, logical: str) -> kms.Key:
    definition = next(k for k in RESOURCES.keys if k.logical == logical)
    key = _key(scope, settings, logical, definition)
    if logical in UNLOSABLE_KEYS:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyBreakGlassDisablesOrDeletes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(KEY_KILLERS),
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": settings.break_glass_role_arn
                                             or "arn:aws:iam::000000000000:role/none"}},
            )
        )
    return key


def _key(scope: Construct, settings: StackSettings, logical: str, definition) -> kms.Key:
    return kms.Key(
        scope,
        f"Key{to_cfn_resource_name(logical)}",
        alias=f"alias/{settings.resource_prefix}-{logical}",
        description=definition.purpose,
        key_spec=getattr(kms.KeySpec, definition.spec),
        key_usage=getattr(kms.KeyUsage, definition.usage),
        enable_key_rotation=definition.rotation,
        pending_window=Duration.days(30),
        removal_policy=RemovalPolicy.RETAIN,
    )


# A unit that gave up waits here for the operator (docs/operations.md#work-dead-letters): SQS's
# longest retention.
WORK_DLQ_RETENTION_DAYS = 14


def build_queue(scope: Construct, settings: StackSettings, queue: Queue) -> tuple[sqs.Queue, sqs.Queue]:
    """A work queue as the app addresses it (``Settings.queue_name``) and as the local stack makes
    it (``chalicelib.local.provision.ensure_queues``): FIFO, deduplicated by the sender's id within
    each message group (one group per chain), high throughput (limit per group), visibility timeout
    six times its consumer's timeout, and a FIFO dead-letter queue after ``max_receives``."""
    names = settings.app_settings()
    camel = to_cfn_resource_name(queue.logical)
    dlq = sqs.Queue(
        scope,
        f"Queue{camel}Dlq",
        queue_name=names.queue_name(f"{queue.logical}-dlq"),
        fifo=True,
        retention_period=Duration.days(WORK_DLQ_RETENTION_DAYS),
        max_message_size_bytes=queue.max_message_bytes,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    work = sqs.Queue(
        scope,
        f"Queue{camel}",
        queue_name=names.queue_name(queue.logical),
        fifo=True,
        content_based_deduplication=False,  # the sender names each unit (job, chain, window, slice)
        deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
        fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
        visibility_timeout=Duration.seconds(queue.visibility_timeout_seconds),
        max_message_size_bytes=queue.max_message_bytes,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=queue.max_receives),
    )
    return work, dlq


def build_user_pool(scope: Construct, settings: StackSettings):
    pool_def = RESOURCES.user_pool
    pool = cognito.UserPool(
        scope,
        "UserPool",
        user_pool_name=f"{settings.resource_prefix}-{pool_def.logical}",
        self_sign_up_enabled=True,  # sign-up goes through the API, which calls SignUp
        sign_in_aliases=cognito.SignInAliases(email=True),
        auto_verify=cognito.AutoVerifiedAttrs(email=False),  # the API validates email itself
        password_policy=cognito.PasswordPolicy(
            min_length=pool_def.password_min_length,
            require_uppercase=pool_def.require_upper,
            require_lowercase=pool_def.require_lower,
            require_digits=pool_def.require_digits,
            require_symbols=pool_def.require_symbols,
        ),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    client = pool.add_client(
        "AppClient",
        user_pool_client_name=f"{settings.resource_prefix}-app",
        generate_secret=False,
        prevent_user_existence_errors=True,
    )
    # Exactly the flows of the shared definition (the local stack creates the same client).
    client.node.default_child.explicit_auth_flows = list(pool_def.auth_flows)
    return pool, client


def build_mail_identity(scope: Construct, settings: StackSettings) -> tuple[ses.EmailIdentity, str]:
    if settings.mail_domain:
        identity = ses.Identity.domain(settings.mail_domain)
        name = settings.mail_domain
    else:
        identity = ses.Identity.email(settings.mail_from)
        name = settings.mail_from
    return ses.EmailIdentity(scope, "MailIdentity", identity=identity), name


def build_data(scope: Construct, settings: StackSettings) -> DataResources:
    pool, client = build_user_pool(scope, settings)
    identity, identity_name = build_mail_identity(scope, settings)
    queues = {q.logical: build_queue(scope, settings, q) for q in RESOURCES.queues}
    return DataResources(
        tables={t.logical: build_table(scope, settings, t) for t in RESOURCES.tables},
        buckets={b.logical: build_bucket(scope, settings, b) for b in RESOURCES.buckets},
        keys={k.logical: build_key(scope, settings, k.logical) for k in RESOURCES.keys},
        user_pool=pool,
        user_pool_client=client,
        mail_identity=identity,
        mail_identity_name=identity_name,
        queues={logical: work for logical, (work, _) in queues.items()},
        queue_dlqs={logical: dlq for logical, (_, dlq) in queues.items()},
    )
