"""What the Chalice app deploys: one ``FunctionSpec`` per Lambda function, read from the app object.

The stack wires roles, event sources and alarms to whatever ``app.py`` registers, so a handler
added tomorrow is deployed (with a logs-only role until it is given grants in ``permissions``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalice.app import (
    Chalice,
    DynamoDBEventConfig,
    S3EventConfig,
    ScheduledEventConfig,
    SNSEventConfig,
    SQSEventConfig,
)
from chalice.cli.factory import CLIFactory
from chalice.utils import to_cfn_resource_name

API_HANDLER = "api_handler"
_TABLE_IN_ARN = re.compile(r":table/([^/]+)/stream/")


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # Chalice's name: api_handler, jwt_authorizer, sign_checkpoints, ...
    kind: str  # api | authorizer | schedule | stream | lambda | s3 | sqs | sns
    schedule: str | None = None
    table: str | None = None  # logical table of a DynamoDB stream source

    @property
    def cfn_id(self) -> str:
        """Logical id of the function in Chalice's SAM template."""
        return "APIHandler" if self.name == API_HANDLER else to_cfn_resource_name(self.name)


def load_app(project_dir: str) -> Chalice:
    """The app exactly as ``chalice package`` loads it (``import app`` from ``project_dir``).

    Chalice imports ``app`` once per process: call this in the packaging child process
    (``infra.stacks.packaging``), not in the CDK process.
    """
    return CLIFactory(project_dir).load_chalice_app()


def stream_table(stream_arn: str) -> str:
    """Logical table named by a handler's ``stream_arn`` (same rule as the local stream pump)."""
    match = _TABLE_IN_ARN.search(stream_arn or "")
    name = match.group(1) if match else (stream_arn or "")
    return name.rsplit("-", 1)[-1]


def _expression(source: ScheduledEventConfig) -> str:
    expr = source.schedule_expression
    return expr if isinstance(expr, str) else expr.to_string()


def functions(app: Chalice) -> list[FunctionSpec]:
    specs: list[FunctionSpec] = []
    if app.routes:
        specs.append(FunctionSpec(API_HANDLER, "api"))
    specs += [FunctionSpec(a.name, "authorizer") for a in app.builtin_auth_handlers]
    specs += [FunctionSpec(f.name, "lambda") for f in app.pure_lambda_functions]
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            specs.append(FunctionSpec(source.name, "schedule", schedule=_expression(source)))
        elif isinstance(source, DynamoDBEventConfig):
            specs.append(FunctionSpec(source.name, "stream", table=stream_table(source.stream_arn)))
        elif isinstance(source, S3EventConfig):
            specs.append(FunctionSpec(source.name, "s3"))
        elif isinstance(source, SQSEventConfig):
            specs.append(FunctionSpec(source.name, "sqs"))
        elif isinstance(source, SNSEventConfig):
            specs.append(FunctionSpec(source.name, "sns"))
        else:
            specs.append(FunctionSpec(source.name, type(source).__name__))
    return specs
