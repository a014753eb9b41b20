"""cdk-nag (AwsSolutions) suppressions, each with its reason. Tests fail on any other finding."""

from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

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


# The web console (infra/stacks/console.py, decision 0030).
CONSOLE_SUPPRESSIONS = [
    NagPackSuppression(
        id="AwsSolutions-CFR1",
        reason="No geo restriction: clients, accountants and auditors may sign in from anywhere; "
        "every API call is authenticated, and the console's files are public by nature.",
    ),
    NagPackSuppression(
        id="AwsSolutions-CFR3",
        reason="No standard access logs: they need a bucket with ACLs enabled (every bucket here is "
        "BucketOwnerEnforced). The console is static files; every API request is logged by the API "
        "handler (one structured line each) and counted by API Gateway and CloudFront metrics.",
    ),
]
# Without a custom domain, CloudFront's own *.cloudfront.net certificate allows TLSv1: its minimum
# protocol version cannot be set. With scelle:console_domain, the stack sets TLSv1.2_2021.
DEFAULT_CERTIFICATE_SUPPRESSION = NagPackSuppression(
    id="AwsSolutions-CFR4",
    reason="The distribution uses CloudFront's default certificate (no scelle:console_domain), whose "
    "minimum protocol version CloudFront fixes; with a custom domain the stack sets TLSv1.2_2021.",
)
# A CLOUDFRONT-scoped web ACL lives in us-east-1, outside this stack (scelle:console_web_acl_arn).
NO_WEB_ACL_SUPPRESSION = NagPackSuppression(
    id="AwsSolutions-CFR2",
    reason="No WAF by default: a CloudFront web ACL must be created in us-east-1 (not this stack's "
    "region) and costs a monthly fee per ACL and rule; API Gateway throttles the API (100 req/s, "
    "burst 200) and every route but sign-up and sign-in needs a token. Attach one with "
    "scelle:console_web_acl_arn (docs/deploy.md).",
)
BUCKET_DEPLOYMENT_SUPPRESSIONS = [
    NagPackSuppression(
        id="AwsSolutions-L1",
        reason="CDK's own BucketDeployment handler: aws-cdk-lib chooses and upgrades its runtime.",
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        applies_to=[
            RegexAppliesTo(regex="/^Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\\*$/g"),
            RegexAppliesTo(regex="/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-.*\\/\\*$/g"),
            RegexAppliesTo(regex="/^Resource::<ConsoleBucket[A-F0-9]+\\.Arn>\\/\\*$/g"),
        ],
        reason="CDK's BucketDeployment copies the console's files from the CDK assets bucket (read) to "
        "the console bucket (read, write, prune): object wildcards on those two buckets only.",
    ),
]


def add_console_nag_suppressions(distribution: Construct, deployment: list[Construct], *,
                                 custom_certificate: bool, web_acl: bool) -> None:
    """On the distribution, and on the BucketDeployment's role and handler (``deployment``)."""
    found = list(CONSOLE_SUPPRESSIONS)
    if not custom_certificate:
        found.append(DEFAULT_CERTIFICATE_SUPPRESSION)
    if not web_acl:
        found.append(NO_WEB_ACL_SUPPRESSION)
    NagSuppressions.add_resource_suppressions(distribution, found, apply_to_children=True)
    for construct in deployment:
        NagSuppressions.add_resource_suppressions(construct, BUCKET_DEPLOYMENT_SUPPRESSIONS, apply_to_children=True)
