"""The web console on AWS: a private S3 bucket behind CloudFront, which also fronts the API.

The console calls the API on its own origin (``connect-src 'self'``, relative ``/v1/...`` URLs), so
one CloudFront distribution serves both, as ``scelle local`` does on one port
(``chalicelib/local/gateway.py``; decision 0030):

* default behaviour: the bucket, through Origin Access Control (the bucket refuses everyone else).
  Objects mirror the URLs (``console/<file>`` is served at ``/console/<file>``); the pages of
  ``CONSOLE_PAGES`` (``/``, ``/index.html``, ``/check``) are ``console/index.html`` (a CloudFront
  Function, plus the default root object for ``/``). Every answer carries the gateway's headers
  (``chalicelib.console_policy``), the CSP's ``connect-src`` also naming the support bucket, where
  ticket attachments are uploaded with a pre-signed POST; plus HSTS (HTTPS only here).
* the API's paths (``/v1/*`` and the app's other routes, ``/health``, ``/openapi.json``): the REST
  API's stage, nothing cached, every viewer header but ``Host`` forwarded, every method.

Caching: no file name is hashed (plain ES modules, no build step), so browsers revalidate every
file (``Cache-Control: no-cache``, as locally; S3 answers 304 by ETag) while the edge keeps them
(CachingOptimized) until the next deployment, whose ``BucketDeployment`` invalidates ``/*``.

Downloads: the slim verifier, its SHA-256 and the auditor guides (``chalicelib/local/downloads.py``,
prepared at synth) go to ``console/downloads/``, as ``scelle local`` serves them, one
``BucketDeployment`` per content type (a deployment gives all its files one type); the console's
own deployment neither copies nor prunes them (its filters name other suffixes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from chalicelib.console_policy import (
    CONSOLE_HEADERS,
    CONSOLE_PAGE_FILE,
    CONSOLE_PAGES,
    CONSOLE_PREFIX,
    content_security_policy,
)
from chalicelib.local import downloads as console_downloads
from chalicelib.local.gateway import CONSOLE_DIR, CONSOLE_TYPES
from chalicelib.resources import RESOURCES
from infra.stacks.data import DataResources
from infra.stacks.functions import API_STAGE, Functions, own_logs_statement
from infra.stacks.nag import add_console_nag_suppressions
from infra.stacks.settings import StackSettings

CONSOLE_BUCKET = "console"  # <prefix>-console
# The buckets the console reaches from the browser with URLs the API pre-signs (the support
# bucket: a ticket attachment's POST), as chalicelib/resources.py declares them for both modes.
CORS_BUCKETS = {b.logical: b.console_cors_methods for b in RESOURCES.buckets if b.console_cors_methods}
CORS_MAX_AGE_SECONDS = 600  # as chalicelib/local/provision.py sets it
CONSOLE_KEY_PREFIX = CONSOLE_PREFIX.lstrip("/")  # S3 keys mirror the URL paths
PAGE_KEY = CONSOLE_KEY_PREFIX + CONSOLE_PAGE_FILE  # console/index.html
DOWNLOADS_KEY_PREFIX = console_downloads.URL_PREFIX.lstrip("/")  # console/downloads/
API_PREFIX = "/v1/"
HSTS_SECONDS = 2 * 365 * 86_400
NONCURRENT_DAYS = 30  # a pruned or replaced console file is kept that long (the bucket is versioned)
# The page paths, served as the single page (what chalicelib.local.gateway.console_file does).
REWRITE_FUNCTION = """function handler(event) {
  var request = event.request;
  if (%s.indexOf(request.uri) !== -1) {
    request.uri = %s;
  }
  return request;
}
"""


@dataclass
class Console:
    bucket: s3.Bucket
    distribution: cloudfront.Distribution
    headers: cloudfront.ResponseHeadersPolicy
    deployment: s3deploy.BucketDeployment
    downloads: list[s3deploy.BucketDeployment]
    api_paths: list[str]
    url: str  # https://<custom domain> or https://<distribution domain> (a token)


def upload_origins(settings: StackSettings) -> list[str]:
    """The origins of those buckets a pre-signed URL may name: each one's regional endpoint, and
    its global one (botocore's ``generate_presigned_post`` answers ``https://<bucket>.s3.amazonaws.com/``)."""
    out = []
    for logical in sorted(CORS_BUCKETS):
        bucket = settings.app_settings().bucket_name(logical)
        out += [f"https://{bucket}.s3.{settings.region}.amazonaws.com", f"https://{bucket}.s3.amazonaws.com"]
    return out


def console_csp(settings: StackSettings) -> str:
    """The gateway's Content-Security-Policy, ``connect-src`` also naming the upload bucket."""
    return content_security_policy(upload_origins(settings))


def console_response_headers(settings: StackSettings) -> dict[str, str]:
    """The headers CloudFront adds to every console answer: the gateway's, with that CSP."""
    return {**CONSOLE_HEADERS, "Content-Security-Policy": console_csp(settings)}


def rewrite_code() -> str:
    return REWRITE_FUNCTION % (json.dumps(sorted(CONSOLE_PAGES)), json.dumps("/" + PAGE_KEY))


def api_paths(sam: dict[str, Any]) -> list[str]:
    """CloudFront path patterns of the app's routes: ``/v1/*`` and each route outside ``/v1/``
    (``/health``, ``/openapi.json``), read from the API's Swagger in Chalice's SAM template."""
    paths = sam["Resources"].get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {}).get("paths", {})
    patterns = set()
    for path in paths:
        if path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            patterns.add(API_PREFIX + "*")
        else:
            patterns.add(re.sub(r"\{[^}]+\}", "*", path))
    clash = {p for p in patterns if p in CONSOLE_PAGES or p.startswith(CONSOLE_PREFIX)}
    if clash:
        raise ValueError(f"routes {sorted(clash)} are console paths (chalicelib/console_policy.py)")
    return sorted(patterns, key=lambda p: (p != API_PREFIX + "*", p))


def _console_bucket(scope: Construct, settings: StackSettings) -> s3.Bucket:
    return s3.Bucket(
        scope,
        "ConsoleBucket",
        bucket_name=settings.app_settings().bucket_name(CONSOLE_BUCKET),
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,  # OAC reads SSE-S3 objects without a key policy
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="old-console-files",
                noncurrent_version_expiration=Duration.days(NONCURRENT_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


def _headers_policy(scope: Construct, settings: StackSettings) -> cloudfront.ResponseHeadersPolicy:
    headers = console_response_headers(settings)
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "ConsoleHeaders",
        response_headers_policy_name=f"{settings.resource_prefix}-console",
        comment="The console's headers, as chalicelib/local/gateway.py sends them (chalicelib/console_policy.py)",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=headers["Content-Security-Policy"], override=True
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),  # nosniff
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
            ),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=Duration.seconds(HSTS_SECONDS), include_subdomains=False, override=True
            ),
        ),
        custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
            custom_headers=[
                cloudfront.ResponseCustomHeader(header="Cache-Control", value=headers["Cache-Control"], override=True)
            ]
        ),
    )


def _api_origin(settings: StackSettings, functions: Functions) -> origins.HttpOrigin:
    stack = Stack.of(functions.chalice)
    rest = functions.chalice.get_resource("RestAPI")
    return origins.HttpOrigin(
        f"{rest.ref}.execute-api.{settings.region}.{stack.url_suffix}",
        origin_path=f"/{API_STAGE}",  # the stage; the viewer's path (/v1/...) is the route
        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        read_timeout=Duration.seconds(30),  # API Gateway answers within 29 s
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _allow_uploads_from(data: DataResources, console_origins: list[str]) -> None:
    """Each bucket's CORS rule (``Bucket.console_cors_methods``): those methods from the console's
    origin only, no request header beyond the CORS-safelisted ones: the rule
    ``chalicelib.local.provision.ensure_bucket_cors`` sets locally, with the console's AWS origin."""
    for logical, methods in sorted(CORS_BUCKETS.items()):
        data.buckets[logical].add_cors_rule(
            allowed_methods=[s3.HttpMethods(m) for m in methods],
            allowed_origins=console_origins,
            max_age=CORS_MAX_AGE_SECONDS,
        )


DEPLOYMENT_HANDLER = "console-files"  # its log group: /aws/lambda/<prefix>-console-files


def _deployment_logs(scope: Construct, settings: StackSettings) -> logs.LogGroup:
    group = logs.LogGroup(
        scope,
        "ConsoleFilesLogs",
        log_group_name=f"/aws/lambda/{settings.resource_prefix}-{DEPLOYMENT_HANDLER}",
        removal_policy=RemovalPolicy.RETAIN,
    )
    group.node.default_child.add_property_override("RetentionInDays", settings.log_retention_days)
    return group


def _deployment_role(scope: Construct, settings: StackSettings) -> iam.Role:
    """The BucketDeployment handler's role: its own log group, then what CDK grants it (read the
    CDK assets bucket, write and prune the console bucket, invalidate the distribution)."""
    stack = Stack.of(scope)
    role = iam.Role(
        scope,
        "ConsoleFilesRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Copies console/ to the console bucket (CDK BucketDeployment)",
    )
    role.add_to_policy(own_logs_statement(stack, f"{settings.resource_prefix}-{DEPLOYMENT_HANDLER}"))
    return role


def build_console(scope: Construct, settings: StackSettings, functions: Functions, data: DataResources) -> Console:
    bucket = _console_bucket(scope, settings)
    headers = _headers_policy(scope, settings)
    rewrite = cloudfront.Function(
        scope,
        "ConsolePages",
        function_name=f"{settings.resource_prefix}-console-pages",
        comment="/, /index.html and /check are the console's single page",
        code=cloudfront.FunctionCode.from_inline(rewrite_code()),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
    )
    paths = api_paths(functions.chalice.sam)
    api_behaviour = cloudfront.BehaviorOptions(
        origin=_api_origin(settings, functions),
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,  # a redirected POST loses its body
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress=False,  # the API's bodies pass through as the app wrote them
    )
    certificate = (
        acm.Certificate.from_certificate_arn(scope, "ConsoleCertificate", settings.console_certificate_arn)
        if settings.console_certificate_arn
        else None
    )
    distribution = cloudfront.Distribution(
        scope,
        "ConsoleDistribution",
        comment=f"Scelle console and API, {settings.resource_prefix}",
        default_root_object=PAGE_KEY,
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(
                bucket, origin_access_levels=[cloudfront.AccessLevel.READ]
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            response_headers_policy=headers,
            function_associations=[
                cloudfront.FunctionAssociation(function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)
            ],
        ),
        additional_behaviors={path: api_behaviour for path in paths},
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        domain_names=[settings.console_domain] if settings.console_domain else None,
        certificate=certificate,
        minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
        web_acl_id=settings.console_web_acl_arn or None,
    )
    role = _deployment_role(scope, settings)
    deployment_logs = _deployment_logs(scope, settings)
    deployment = s3deploy.BucketDeployment(
        scope,
        "ConsoleFiles",
        role=role,  # ours: no managed policy; CDK adds the bucket and invalidation grants to it
        log_group=deployment_logs,
        sources=[s3deploy.Source.asset(str(CONSOLE_DIR))],  # the folder `scelle local` serves
        destination_bucket=bucket,
        destination_key_prefix=CONSOLE_KEY_PREFIX,
        # What the gateway serves: files of its known types only (not vendor/README.md, LICENSE).
        exclude=["*"],
        include=[f"*{suffix}" for suffix in sorted(CONSOLE_TYPES)],
        prune=True,
        retain_on_delete=False,
        distribution=distribution,
        distribution_paths=["/*"],
        memory_limit=256,
    )
    downloads = _downloads(scope, bucket, distribution, role, deployment_logs)
    url = settings.console_url if settings.console_domain else f"https://{distribution.distribution_domain_name}"
    # The console is loaded from the distribution's domain, or from the custom domain only.
    upload_from = [url]
    if settings.console_url and not settings.console_domain:
        upload_from.append(_origin(settings.console_url))  # public_base_url: the same distribution, later named
    _allow_uploads_from(data, upload_from)
    if not settings.console_url:
        Annotations.of(scope).add_warning_v2(
            "scelle:console-url-unknown",
            "scelle:public_base_url is not set: mail links and receipts' QR codes would name "
            "http://127.0.0.1:8000. Set scelle:console_domain (with its certificate), or deploy, then "
            "redeploy with -c scelle:public_base_url=<the ConsoleURL output> (docs/deploy.md, decision 0030).",
        )
    handlers = [c for c in Stack.of(scope).node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
    add_console_nag_suppressions(distribution, [role, *handlers],
                                 custom_certificate=certificate is not None, web_acl=bool(settings.console_web_acl_arn))
    CfnOutput(scope, "ConsoleURL", value=url, description="the web console (and the API under /v1/)")
    CfnOutput(scope, "ConsoleDistributionId", value=distribution.distribution_id)
    return Console(bucket, distribution, headers, deployment, downloads, paths, url)


def _downloads(scope: Construct, bucket: s3.Bucket, distribution: cloudfront.Distribution, role: iam.Role,
               log_group: logs.LogGroup) -> list[s3deploy.BucketDeployment]:
    """The exports screen's downloads in ``console/downloads/``, with the content types ``scelle
    local`` serves them with: one deployment per type, on the console deployment's handler."""
    source = s3deploy.Source.asset(str(console_downloads.ensure()))
    return [
        s3deploy.BucketDeployment(
            scope,
            f"ConsoleDownloads{suffix.lstrip('.').title()}",
            role=role,
            log_group=log_group,
            sources=[source],
            destination_bucket=bucket,
            destination_key_prefix=DOWNLOADS_KEY_PREFIX,
            exclude=["*"],
            include=[f"*{suffix}"],
            content_type=content_type,
            prune=True,  # within its own suffix: the filters keep the other deployments' files
            retain_on_delete=False,
            distribution=distribution,
            distribution_paths=[f"/{DOWNLOADS_KEY_PREFIX}*"],
            memory_limit=256,
        )
        for suffix, content_type in sorted(console_downloads.TYPES.items())
    ]
