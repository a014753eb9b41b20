"""The Chalice app as CDK: packaging, one role per function, stream/S3 wiring, gateway errors.

Chalice's CDK construct packages the app into a SAM template and includes it; this module fills in
what ``chalice package`` cannot express (see docs/decisions/0005-infra.md):

* every function gets its own role (by property override; Chalice's placeholder role never
  reaches the template) and a fixed name ``<prefix>-<handler>``, so the code can address a function like a table;
* DynamoDB stream sources get the real stream ARN, partial batch responses, bisect, retries and an
  SQS dead-letter queue by property override;
* ``inbound_mail`` (a plain ``@app.lambda_function``: SAM refuses ``on_s3_event`` on a bucket it
  does not create) is wired to the support bucket's ``inbound/`` prefix here;
* each work queue of ``RESOURCES.queues`` (decision 0028) is wired to its consumer, a plain
  ``@app.lambda_function`` (``sign_chain``, ``close_chain``, ``verify_chain``): one unit per
  invocation, partial batch responses; the consumer's role may receive, delete and hide the
  messages of its own queue (the event source mapping's needs), nothing else of it;
* the witness (``witness_checkpoint``, decision 0024) gets its key's ARN and its callers its
  function name, and the key and the archive bucket refuse its powers to every other role;
* the API gets the signing function's name (``SCELLE_SIGNER_FUNCTION``, ``sign_chain``: on-demand
  checkpoints are signed there, issue 14 item 3); the keys table refuses writes to all but the signers' roles;
* API Gateway's own errors become RFC 9457 problems, like ``chalicelib.local.gateway`` locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.local.gateway import PROBLEM_JSON
from chalicelib.resources import RESOURCES
from infra.stacks.app_model import FunctionSpec
from infra.stacks.data import DataResources, restrict_table_writes
from infra.stacks.packaging import VENDOR_KEY
from infra.stacks.permissions import (
    ARCHIVE_BUCKET,
    GRANTS,
    KEY_SIGNERS,
    PROVERS,
    SIGNING_FUNCTION,
    TABLE_WRITERS,
    WITNESS,
    WITNESS_KEY,
    WITNESS_VIEW_PREFIX,
    Grants,
)
from infra.stacks.settings import StackSettings

API_STAGE = "v1"
# Async handlers need minutes; the API stays under API Gateway's 29 s integration limit.
TIMEOUTS = {
    "api_handler": 29,
    "jwt_authorizer": 10,
    "build_export": 900,
    "send_mailing": 900,
    # The schedules only list the chains and queue one unit per chain (decision 0028); the workers
    # take one unit each, in at most their Queue.consumer_timeout_seconds (chalicelib/resources.py),
    # of which each queue's visibility timeout is six times.
    "sign_checkpoints": 120,  # also seals the sign-in failure summaries
    "close_periods": 120,
    "verify_chains": 120,
    "sign_chain": 120,
    "close_chain": 300,
    "verify_chain": 900,
    # Invoked synchronously: it must answer (or fail) before its callers' boto3 read timeout
    # (15 s, chalicelib/bootstrap.py), which would otherwise retry the invocation.
    WITNESS: 10,
}
MEMORY = {"api_handler": 1024, "build_export": 1024, "verify_chain": 1024}
DEFAULT_TIMEOUT = 60
DEFAULT_MEMORY = 512
# S3 notifications the stack wires to plain Lambda functions: handler -> (bucket, key prefix).
S3_NOTIFICATIONS = {"inbound_mail": ("support", "inbound/")}
# Functions that sign or check unsubscribe links (MailingService): only they get the HMAC key.
UNSUBSCRIBE_KEY_USERS = ("api_handler", "send_mailing")
STREAM_RETRIES = 10
_PLACEHOLDER_ROLE = "arn:aws:iam::000000000000:role/replaced-per-function-by-cdk"
STREAM_BATCH_SIZE = 100
# What Lambda's event source mapping calls on a work queue with its consumer's role.
QUEUE_CONSUMER_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
QUEUE_BATCH_SIZE = 1  # one unit (one chain) per invocation: a failure retries that unit alone


class ScelleChalice(Chalice):
    """Chalice's construct, packaging in a child process with the functions' AWS environment.

    ``chalice package`` downloads Lambda wheels for requirements.txt (from PyPI, cached under
    .chalice/deployments). With ``vendor_dependencies=False`` it packages a copy of the project
    without requirements.txt instead: same SAM template, small zip, no network. Only for synth
    in tests and ``cdk synth`` checks; the stack refuses to be deployed that way.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_dir: str,
        stage_config: dict[str, Any],
        child_environment: dict[str, str],
        vendor_dependencies: bool = True,
    ) -> None:
        self._vendor_dependencies = vendor_dependencies
        self._child_environment = child_environment
        super().__init__(scope, id, source_dir=source_dir, stage_config=stage_config)

    def _package_app(self) -> None:
        out = Path(self._sam_package_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        config_file = out.parent / f"{out.name}.config.json"
        config_file.write_text(json.dumps({**self.stage_config, VENDOR_KEY: self._vendor_dependencies}))
        infra_root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            **self._child_environment,
            "PYTHONPATH": os.pathsep.join(filter(None, [infra_root, os.environ.get("PYTHONPATH")])),
        }
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
            [
                sys.executable,
                "-m",
                "infra.stacks.packaging",
                self.source_dir,
                str(out),
                self.stage_name,
                str(config_file),
            ],
            env=env,
            cwd=self.source_dir,  # `python -m` puts the cwd first on sys.path: it must hold the app's app.py
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"chalice package failed:\n{done.stdout}\n{done.stderr}")

    @property
    def sam(self) -> dict[str, Any]:
        """The SAM template ``chalice package`` wrote (before CDK tokens were resolved)."""
        return json.loads((Path(self._sam_package_dir) / "sam.json").read_text())

    @property
    def specs(self) -> list[FunctionSpec]:
        """The functions the app registered, as the packaging child saw it."""
        raw = json.loads((Path(self._sam_package_dir) / "functions.json").read_text())
        return [FunctionSpec(**item) for item in raw]


@dataclass
class Functions:
    chalice: ScelleChalice
    specs: list[FunctionSpec]
    roles: dict[str, iam.Role]
    dead_letter_queues: dict[str, sqs.Queue]

    def cfn(self, name: str):
        spec = next(s for s in self.specs if s.name == name)
        return self.chalice.get_resource(spec.cfn_id)


def own_logs_statement(stack: Stack, function_name: str) -> iam.PolicyStatement:
    """A Lambda function's right to write its own log group, and no other."""
    return iam.PolicyStatement(
        sid="OwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/lambda/{function_name}:*",
                arn_format=_colon(),
            )
        ],
    )


def _statements(
    stack: Stack, settings: StackSettings, spec: FunctionSpec, grants: Grants, data: DataResources
) -> list[iam.PolicyStatement]:
    fn_name = settings.function_name(spec.name)
    out = [
        own_logs_statement(stack, fn_name),
        iam.PolicyStatement(
            sid="Tracing", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
        ),
    ]
    for logical, actions in sorted(grants.tables.items()):
        out.append(
            iam.PolicyStatement(
                sid=f"Table{_camel(logical)}", actions=sorted(set(actions)), resources=[data.tables[logical].table_arn]
            )
        )
    for logical, indexes in sorted(grants.indexes.items()):
        # Query on exactly the indexes this function reads (an index is its own resource ARN).
        arn = data.tables[logical].table_arn
        out.append(
            iam.PolicyStatement(
                sid=f"Indexes{_camel(logical)}",
                actions=["dynamodb:Query"],
                resources=[f"{arn}/index/{index}" for index in sorted(indexes)],
            )
        )
    for logical, prefixes in sorted(grants.objects.items()):
        for prefix, actions in sorted(prefixes.items()):
            out.append(
                iam.PolicyStatement(
                    sid=f"Objects{_camel(logical)}{_camel(prefix.strip('/'))}",
                    actions=sorted(set(actions)),
                    resources=[f"{_bucket_arn(stack, settings, logical)}/{prefix}*"],
                )
            )
    for logical in sorted(grants.list_buckets):
        prefix = grants.list_prefixes.get(logical)
        out.append(
            iam.PolicyStatement(
                sid=f"List{_camel(logical)}",
                actions=["s3:ListBucket"],
                resources=[_bucket_arn(stack, settings, logical)],
                conditions={"StringLike": {"s3:prefix": f"{prefix}*"}} if prefix else None,
            )
        )
    for logical, actions in sorted(grants.keys.items()):
        out.append(
            iam.PolicyStatement(
                sid=f"Key{_camel(logical)}",
                actions=sorted(set(actions)),
                resources=[data.keys[logical].key_arn],
            )
        )
    if grants.send_mail:
        out.append(
            iam.PolicyStatement(
                sid="SendMail",
                actions=["ses:SendEmail"],  # SesMailer calls SendEmail only
                resources=[stack.format_arn(service="ses", resource="identity", resource_name=data.mail_identity_name)],
                conditions={"StringEquals": {"ses:FromAddress": settings.mail_from}},
            )
        )
    if grants.cognito:
        out.append(
            iam.PolicyStatement(
                sid="UserPool", actions=sorted(grants.cognito), resources=[data.user_pool.user_pool_arn]
            )
        )
    for logical, actions in sorted(grants.queues.items()):
        out.append(
            iam.PolicyStatement(
                sid=f"Queue{_camel(logical)}", actions=sorted(set(actions)), resources=[data.queues[logical].queue_arn]
            )
        )
    if grants.invoke:
        out.append(
            iam.PolicyStatement(
                sid="InvokeHandlers",
                actions=["lambda:InvokeFunction"],
                resources=[
                    stack.format_arn(
                        service="lambda",
                        resource="function",
                        resource_name=settings.function_name(n),
                        arn_format=_colon(),
                    )
                    for n in grants.invoke
                ],
            )
        )
    return out


def _bucket_arn(stack: Stack, settings: StackSettings, logical: str) -> str:
    # From the fixed name, not a Ref: the support bucket's notification depends on a function,
    # which waits for its role's policy.
    return f"arn:{stack.partition}:s3:::{settings.app_settings().bucket_name(logical)}"


def _colon():
    from aws_cdk import ArnFormat

    return ArnFormat.COLON_RESOURCE_NAME


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def environment(settings: StackSettings, data: DataResources) -> dict[str, str]:
    """The SCELLE_* variables every function reads (``chalicelib.config.Settings``)."""
    env = {
        "SCELLE_MODE": "aws",
        "SCELLE_STAGE": settings.stage,
        "SCELLE_REGION": settings.region,
        "SCELLE_RESOURCE_PREFIX": settings.resource_prefix,
        "SCELLE_SIGNING_KEY_ID": data.keys["signing"].key_arn,
        "SCELLE_DATA_KEY_ID": data.keys["data"].key_arn,
        "SCELLE_WRITE_PROOF_KEY_ID": data.keys["write_proof"].key_arn,
        "SCELLE_USER_POOL_ID": data.user_pool.user_pool_id,
        "SCELLE_USER_POOL_CLIENT_ID": data.user_pool_client.user_pool_client_id,
        "SCELLE_MAIL_FROM": settings.mail_from,
        "SCELLE_EXPOSE_OUTBOX": "false",
        "SCELLE_LOG_LEVEL": "INFO",
    }
    # The console's URL (mail links, receipts' QR codes): a literal from the settings, never the
    # distribution's domain, which depends on the API, which depends on these functions (decision 0030).
    if settings.console_url:
        env["SCELLE_PUBLIC_BASE_URL"] = settings.console_url
    if settings.operator_emails:
        env["SCELLE_OPERATOR_EMAIL"] = ",".join(settings.operator_emails)
    return env


def unsubscribe_key_reference(settings: StackSettings) -> str:
    """``SCELLE_UNSUBSCRIBE_KEY`` as a CloudFormation dynamic reference to the Secrets Manager
    secret (``{{resolve:secretsmanager:...}}``): CloudFormation reads it at deploy time, so the
    template and cdk.out never hold the key, and the functions need no Secrets Manager access.
    (SSM SecureString references are not resolved in Lambda environment variables.)"""
    return SecretValue.secrets_manager(settings.unsubscribe_key_secret).unsafe_unwrap()


def child_environment(settings: StackSettings) -> dict[str, str]:
    """What ``app.py`` sees at packaging: the literal part of the functions' AWS environment."""
    return {
        "SCELLE_MODE": "aws",
        "SCELLE_STAGE": settings.stage,
        "SCELLE_REGION": settings.region,
        "SCELLE_RESOURCE_PREFIX": settings.resource_prefix,
        "SCELLE_MAIL_FROM": settings.mail_from,
        "AWS_DEFAULT_REGION": settings.region,  # `chalice package` needs one
    }


def build_functions(scope: Construct, settings: StackSettings, data: DataResources, *, project_dir: str) -> Functions:
    stack = Stack.of(scope)
    stage_config = {
        "api_gateway_stage": API_STAGE,
        "manage_iam_role": False,
        "autogen_policy": False,
        # Chalice's API takes no per-function settings: each function's role, timeout and memory
        # are set by property override below; this placeholder is never deployed.
        "iam_role_arn": _PLACEHOLDER_ROLE,
        "xray": True,
        "lambda_timeout": DEFAULT_TIMEOUT,
        "lambda_memory_size": DEFAULT_MEMORY,
        "environment_variables": environment(settings, data),
    }
    app = ScelleChalice(
        scope,
        "ChaliceApp",
        source_dir=project_dir,
        stage_config=stage_config,
        child_environment=child_environment(settings),
        vendor_dependencies=settings.vendor_dependencies,
    )
    specs = app.specs
    roles: dict[str, iam.Role] = {}
    queues: dict[str, sqs.Queue] = {}
    if not settings.operator_emails:
        Annotations.of(scope).add_warning(
            "scelle:operator_email is not set: tamper alarms, anomalies and tickets are not mailed to an operator"
        )
    for spec in specs:
        grants = GRANTS.get(spec.name)
        if grants is None:
            Annotations.of(scope).add_warning(
                f"{spec.name}: no grants declared in infra/stacks/permissions.py; it gets logs only"
            )
            grants = Grants()
        role = iam.Role(
            scope,
            f"Role{spec.cfn_id}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Scelle {settings.stage}: {spec.name} only",
        )
        for statement in _statements(stack, settings, spec, grants, data):
            role.add_to_policy(statement)
        if spec.kind == "stream":
            queues[spec.name] = _stream_access(scope, settings, spec, role, data)
        for work in consumed_queues(spec):
            role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"ConsumeQueue{_camel(work.logical)}",
                    actions=list(QUEUE_CONSUMER_ACTIONS),
                    resources=[data.queues[work.logical].queue_arn],
                )
            )
        roles[spec.name] = role
    _check_consumers(specs)
    functions = Functions(app, specs, roles, queues)
    sam = app.sam
    for spec in specs:
        cfn = functions.cfn(spec.name)
        cfn.add_property_override("FunctionName", settings.function_name(spec.name))
        cfn.add_property_override("Role", roles[spec.name].role_arn)
        # The function (and its event source mapping, which checks stream access) waits for the
        # role's policy, not only for the role.
        cfn.node.add_dependency(roles[spec.name].node.find_child("DefaultPolicy"))
        cfn.add_property_override("Timeout", TIMEOUTS.get(spec.name, DEFAULT_TIMEOUT))
        cfn.add_property_override("MemorySize", MEMORY.get(spec.name, DEFAULT_MEMORY))
        if spec.name in UNSUBSCRIBE_KEY_USERS:
            cfn.add_property_override(
                "Environment.Variables.SCELLE_UNSUBSCRIBE_KEY", unsubscribe_key_reference(settings)
            )
        for variable, value in {**witness_environment(spec.name, settings, data),
                                **signer_environment(spec.name, settings)}.items():
            cfn.add_property_override(f"Environment.Variables.{variable}", value)
        # Our own log group per fixed function name (Chalice's log_retention_in_days names the API
        # handler's log group wrongly in package mode: ${ApiHandler} instead of ${APIHandler}).
        logs.CfnLogGroup(
            scope,
            f"Logs{spec.cfn_id}",
            log_group_name=f"/aws/lambda/{settings.function_name(spec.name)}",
            retention_in_days=settings.log_retention_days,
        ).apply_removal_policy(RemovalPolicy.RETAIN)
        if spec.kind == "stream":
            _wire_stream(functions, spec, sam, data)
        for work in consumed_queues(spec):
            _wire_queue(functions, spec, work, data)
    for name, (bucket, prefix) in S3_NOTIFICATIONS.items():
        if any(s.name == name for s in specs):
            _wire_s3_notification(scope, settings, functions, name, data.buckets[bucket], bucket, prefix)
    if "RestAPI" in sam["Resources"]:
        _problem_gateway_responses(app, settings)
    _only_signers_sign(data, roles)
    _only_writers_write(settings, data, roles)
    _only_provers_prove(data, roles)
    _only_the_witness_writes_its_view(data, roles)
    return functions


def witness_environment(name: str, settings: StackSettings, data: DataResources) -> dict[str, str]:
    """The witness's settings, to the functions that read them only: its key's ARN to the witness
    (``SCELLE_WITNESS_KEY_ID``), its function name to the functions that may invoke it
    (``SCELLE_WITNESS_FUNCTION``, required in aws mode by ``Container.witness_client``)."""
    env: dict[str, str] = {}
    if name == WITNESS:
        env["SCELLE_WITNESS_KEY_ID"] = data.keys[WITNESS_KEY].key_arn
    if WITNESS in GRANTS.get(name, Grants()).invoke:
        env["SCELLE_WITNESS_FUNCTION"] = settings.function_name(WITNESS)
    return env


def signer_environment(name: str, settings: StackSettings) -> dict[str, str]:
    """``SCELLE_SIGNER_FUNCTION`` (``<prefix>-sign_chain``) to the functions that ask it for
    on-demand checkpoints (required in aws mode by ``Container.on_demand_checkpoints``), to no
    other."""
    if SIGNING_FUNCTION in GRANTS.get(name, Grants()).invoke:
        return {"SCELLE_SIGNER_FUNCTION": settings.function_name(SIGNING_FUNCTION)}
    return {}


def _only_writers_write(settings: StackSettings, data: DataResources, roles: dict[str, iam.Role]) -> None:
    """Table policies: each writer-restricted table (``TABLE_WRITERS``: the published keys, written
    by the signers) denies every item write to every principal but its writers' roles and the
    break-glass role. The API, which may write the ops table, can publish no key."""
    for logical, writers in sorted(TABLE_WRITERS.items()):
        arns = [role.role_arn for name, role in sorted(roles.items()) if name in writers]
        restrict_table_writes(data.tables[logical], settings, logical, arns)


_NOBODY = "arn:aws:iam::000000000000:role/none"
# Key policy statement id of each key's kms:Sign deny (KEY_SIGNERS).
SIGN_DENY_SIDS = {"signing": "OnlySignerFunctionsSign", WITNESS_KEY: "OnlyTheWitnessSigns"}


def _only_signers_sign(data: DataResources, roles: dict[str, iam.Role]) -> None:
    """Key policies: kms:Sign with each signing key is denied to every principal but the roles
    of its signers (``KEY_SIGNERS``): the log's key to the signer functions, the witness's key to
    the witness alone.

    IAM grants alone would let any administrator or future role sign checkpoints (or co-sign
    them); this makes each key itself refuse them (changing it is a logged key-policy change).
    """
    for key, holders in sorted(KEY_SIGNERS.items()):
        signers = [role.role_arn for name, role in sorted(roles.items()) if name in holders]
        data.keys[key].add_to_resource_policy(
            iam.PolicyStatement(
                sid=SIGN_DENY_SIDS[key],
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:Sign"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": signers or [_NOBODY]}},
            )
        )


def _only_the_witness_writes_its_view(data: DataResources, roles: dict[str, iam.Role]) -> None:
    """Bucket policy: writes under ``witness/`` of the archive are denied to every principal but
    the witness's role. An object planted there would not verify (each is signed by the witness),
    but it would stop the witness for that chain (``witness_view_damaged``, decision 0024)."""
    witness = [role.role_arn for name, role in sorted(roles.items()) if name == WITNESS]
    data.buckets[ARCHIVE_BUCKET].add_to_resource_policy(
        iam.PolicyStatement(
            sid="OnlyTheWitnessWritesItsView",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject", "s3:PutObjectRetention"],
            resources=[data.buckets[ARCHIVE_BUCKET].arn_for_objects(f"{WITNESS_VIEW_PREFIX}*")],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": witness or [_NOBODY]}},
        )
    )


def _only_provers_prove(data: DataResources, roles: dict[str, iam.Role]) -> None:
    """Key policy: kms:GenerateMac is denied to every principal but the roles of ``PROVERS``.

    A write proof says the sealing service wrote an entry (decision 0022); an administrator or a
    future role with DynamoDB access must not be able to make one by granting itself IAM rights:
    the key itself refuses (changing it is a logged key-policy change). ``kms:VerifyMac`` stays
    an IAM grant only: it cannot make a proof.
    """
    provers = [role.role_arn for name, role in sorted(roles.items()) if name in PROVERS]
    data.keys["write_proof"].add_to_resource_policy(
        iam.PolicyStatement(
            sid="OnlySealingFunctionsProve",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:GenerateMac"],
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": provers or [_NOBODY]}},
        )
    )


def _stream_access(
    scope: Construct, settings: StackSettings, spec: FunctionSpec, role: iam.Role, data: DataResources
) -> sqs.Queue:
    table = data.tables.get(spec.table or "")
    if table is None or table.table_stream_arn is None:
        raise ValueError(f"{spec.name}: its stream_arn names table {spec.table!r}, which has no stream")
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadOwnStream",
            actions=[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            resources=[table.table_stream_arn],
        )
    )
    queue = sqs.Queue(
        scope,
        f"DeadLetter{spec.cfn_id}",
        queue_name=f"{settings.resource_prefix}-{spec.name}-dlq",
        retention_period=Duration.days(14),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    role.add_to_policy(iam.PolicyStatement(sid="DeadLetter", actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
    return queue


def _wire_stream(functions: Functions, spec: FunctionSpec, sam: dict[str, Any], data: DataResources) -> None:
    events = sam["Resources"][spec.cfn_id]["Properties"].get("Events", {})
    (key,) = [k for k, v in events.items() if v["Type"] == "DynamoDB"]
    base = f"Events.{key}.Properties"
    cfn = functions.cfn(spec.name)
    overrides = {
        "Stream": data.tables[spec.table].table_stream_arn,
        "StartingPosition": "TRIM_HORIZON",  # never skip records written before the mapping existed
        "BatchSize": STREAM_BATCH_SIZE,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": STREAM_RETRIES,
        "ParallelizationFactor": 1,  # one batch per shard at a time: chain order is kept
        "DestinationConfig": {
            "OnFailure": {"Type": "SQS", "Destination": functions.dead_letter_queues[spec.name].queue_arn}
        },
    }
    for prop, value in overrides.items():
        cfn.add_property_override(f"{base}.{prop}", value)


def consumed_queues(spec: FunctionSpec) -> list:
    """The work queues (``RESOURCES.queues``) whose consumer this function is."""
    return [q for q in RESOURCES.queues if q.consumer == spec.name]


def _check_consumers(specs: list[FunctionSpec]) -> None:
    """Each work queue's consumer is deployed, as a plain Lambda function: a Chalice ``on_sqs_message``
    handler would get a second mapping (and Chalice's own queue wiring); a schedule cannot answer an
    SQS event."""
    kinds = {s.name: s.kind for s in specs}
    for queue in RESOURCES.queues:
        if kinds.get(queue.consumer) != "lambda":
            raise ValueError(f"work queue {queue.logical!r}: its consumer {queue.consumer!r} must be a plain "
                             f"@app.lambda_function, not {kinds.get(queue.consumer, 'missing')}")


def _wire_queue(functions: Functions, spec: FunctionSpec, queue, data: DataResources) -> None:
    """The SQS event source mapping of a work queue (decision 0028), as a SAM event of the function:
    one unit per invocation, the units that failed reported (``batchItemFailures``) and retried by
    SQS after the visibility timeout, then moved to the dead-letter queue after ``max_receives``."""
    functions.cfn(spec.name).add_property_override(
        f"Events.{_camel(queue.logical)}Queue",
        {
            "Type": "SQS",
            "Properties": {
                "Queue": data.queues[queue.logical].queue_arn,
                "BatchSize": QUEUE_BATCH_SIZE,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "Enabled": True,
            },
        },
    )


def _wire_s3_notification(
    scope: Construct,
    settings: StackSettings,
    functions: Functions,
    name: str,
    bucket: s3.Bucket,
    logical: str,
    prefix: str,
) -> None:
    stack = Stack.of(scope)
    fn = functions.cfn(name)
    # The bucket's ARN from its fixed name, not a Ref: the bucket depends on this permission.
    bucket_arn = f"arn:{stack.partition}:s3:::{settings.app_settings().bucket_name(logical)}"
    permission = lambda_.CfnPermission(
        scope,
        f"S3Invokes{_camel(name)}",
        action="lambda:InvokeFunction",
        function_name=fn.ref,
        principal="s3.amazonaws.com",
        source_arn=bucket_arn,
        source_account=stack.account,
    )
    cfn_bucket: s3.CfnBucket = bucket.node.default_child
    cfn_bucket.add_property_override(
        "NotificationConfiguration.LambdaConfigurations",
        [
            {
                "Event": "s3:ObjectCreated:*",
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": prefix}]}},
                "Function": fn.get_att("Arn").to_string(),
            }
        ],
    )
    cfn_bucket.node.add_dependency(permission)


def problem_template(status: int | None, code: str, title: str, detail: str) -> str:
    """A gateway response body: the same problem object ``chalicelib.local.gateway`` returns."""
    body: dict[str, Any] = {"type": f"https://scelle.example/problems/{code}", "title": title}
    if status is not None:
        body["status"] = status
    body["detail"] = detail
    # $context.error.messageString is already a quoted JSON string: unquote the placeholder.
    return json.dumps(body).replace('"$context.error.messageString"', "$context.error.messageString")


def gateway_responses() -> dict[str, dict[str, Any]]:
    """``x-amazon-apigateway-gateway-responses`` for API Gateway's own refusals."""

    def response(status: int | None, code: str, title: str, detail: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "responseParameters": {"gatewayresponse.header.Content-Type": f"'{PROBLEM_JSON}'"},
            "responseTemplates": {"application/json": problem_template(status, code, title, detail)},
        }
        if status is not None:
            out["statusCode"] = str(status)
        return out

    unauthenticated = (
        "unauthenticated",
        "Authentication required",
        "a valid bearer token is required (missing, invalid or expired)",
    )
    return {
        # API Gateway answers "Missing Authentication Token" (403) for an unknown route.
        "MISSING_AUTHENTICATION_TOKEN": response(404, "not-found", "Not found", "no such route"),
        "UNAUTHORIZED": response(401, *unauthenticated),
        "ACCESS_DENIED": response(401, *unauthenticated),
        "REQUEST_TOO_LARGE": response(
            413, "payload-too-large", "Request body too large", "the body is over API Gateway's 10 MB limit"
        ),
        "THROTTLED": response(429, "throttled", "Too many requests", "slow down and retry later"),
        "DEFAULT_4XX": response(None, "gateway-error", "Gateway error", "$context.error.messageString"),
        "DEFAULT_5XX": response(None, "gateway-error", "Gateway error", "$context.error.messageString"),
    }


def _problem_gateway_responses(app: ScelleChalice, settings: StackSettings) -> None:
    rest = app.get_resource("RestAPI")
    rest.add_property_override("Name", f"{settings.resource_prefix}-api")
    rest.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
    rest.add_property_override(
        "MethodSettings",
        [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "MetricsEnabled": True,
                "ThrottlingBurstLimit": 200,
                "ThrottlingRateLimit": 100,
            }
        ],
    )
