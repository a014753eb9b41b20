"""cdk-nag (AwsSolutions) suppressions, each with its reason. Tests fail on any other finding."""

from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

_WILDCARDS = [
    RegexAppliesTo(regex="/^Resource::\\*$/g"),  # X-Ray PutTraceSegments has no resource-level ARN
    RegexAppliesTo(regex="/^Resource::arn:<AWS::Partition>:logs:.*:log-group:\\/aws\\/lambda\\/.*:\\*$/g"),
    RegexAppliesTo(regex="/^Resource::arn:<AWS::Partition>:s3:::[a-z0-9-]+\\/([a-z0-9-]+\\/)?\\*$/g"),
]

SUPPRESSIONS = [
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        applies_to=_WILDCARDS,
        reason="Only three wildcard shapes: X-Ray (no resource-level ARNs), the log streams of the "
        "function's own log group, and the objects (or one key prefix) of one named bucket.",
    ),
    NagPackSuppression(
        id="AwsSolutions-COG1",
        reason="Password rules come from chalicelib/resources.py (length 10, upper, lower, digits): "
        "NIST SP 800-63B favours length over symbol rules.",
    ),
    NagPackSuppression(
        id="AwsSolutions-COG2",
        reason="MFA is optional (TOTP) so that tills and accountants can adopt it tenant by tenant; "
        "requiring it is a product decision recorded in docs/security.md.",
    ),
    NagPackSuppression(
        id="AwsSolutions-COG8",
        reason="Cognito Plus threat protection is priced per active user; sign-in failures are "
        "journaled and alarmed by the app (SignInFailures, Anomalies).",
    ),
    NagPackSuppression(
        id="AwsSolutions-S1",
        reason="Object-level audit is by CloudTrail data events on the archive bucket (docs/deploy.md); "
        "server access logs would need a fourth, unlocked bucket.",
    ),
    NagPackSuppression(
        id="AwsSolutions-SQS3",
        reason="These queues are the dead-letter (on-failure) destinations of the stream event "
        "source mappings themselves.",
    ),
]


def add_nag_suppressions(stack: Stack) -> None:
    NagSuppressions.add_stack_suppressions(stack, SUPPRESSIONS, apply_to_nested_stacks=True)
