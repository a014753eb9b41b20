"""The web console on AWS (infra/stacks/console.py, decision 0030): a private bucket read by
CloudFront alone, the local gateway's pages and headers, the API behind the same distribution."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from chalicelib.console_policy import CONSOLE_PAGES, content_security_policy
from chalicelib.local.gateway import CONSOLE_CSP, CONSOLE_DIR, CONSOLE_HEADERS, CONSOLE_TYPES, console_file
from infra.stacks.console import API_PREFIX, PAGE_KEY, console_csp, rewrite_code, upload_origins
from infra.stacks.settings import StackSettings
from tests.infra.conftest import OPERATOR_EMAIL, PROJECT_DIR

PREFIX = "scelle-prod"
# AWS managed policies (ids are fixed by CloudFront).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/scelle/12345678-1234-1234-1234-123456789012"


def _one(synth, type_):
    (found,) = synth.resources(type_).items()
    return found


def _bucket(synth, logical):
    (found,) = [(k, r) for k, r in synth.resources("AWS::S3::Bucket").items()
                if r["Properties"].get("BucketName") == f"{PREFIX}-{logical}"]
    return found


def _distribution(synth):
    return _one(synth, "AWS::CloudFront::Distribution")


def _origin(config, behaviour):
    (origin,) = [o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    return origin


def _policy_statements(synth, bucket_id):
    (policy,) = [r for r in synth.resources("AWS::S3::BucketPolicy").values()
                 if r["Properties"]["Bucket"] == {"Ref": bucket_id}]
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- the bucket ------------------------------------------------------------------------------


def test_the_console_bucket_is_private_encrypted_versioned_and_refuses_plain_http(real):
    bucket_id, bucket = _bucket(real, "console")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props
    (tls,) = [s for s in _policy_statements(real, bucket_id) if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "s3:*"


def test_only_this_distribution_reads_the_bucket_through_origin_access_control(real):
    bucket_id, _ = _bucket(real, "console")
    distribution_id, distribution = _distribution(real)
    (allow,) = [s for s in _policy_statements(real, bucket_id) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"  # read only: no list, no write
    assert {"Ref": distribution_id} in json.loads(json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
                                                 )["Fn::Join"][1]
    config = distribution["Properties"]["DistributionConfig"]
    origin = _origin(config, config["DefaultCacheBehavior"])
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    (oac_id, oac) = _one(real, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert origin["S3OriginConfig"].get("OriginAccessIdentity", "") == ""  # OAC, not OAI
    assert not real.resources("AWS::CloudFront::CloudFrontOriginAccessIdentity")


def test_no_bucket_policy_allows_anyone(each):
    for policy in each.resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] not in ("*", {"AWS": "*"}), statement


# --- the console's behaviour ------------------------------------------------------------------


def test_the_default_behaviour_serves_the_bucket_over_https_with_the_gateway_s_pages(real):
    _, distribution = _distribution(real)
    config = distribution["Properties"]["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert set(default["AllowedMethods"]) == {"GET", "HEAD"}
    assert default["CachePolicyId"] == CACHING_OPTIMIZED  # invalidated by each deployment
    headers_id, _ = _one(real, "AWS::CloudFront::ResponseHeadersPolicy")
    assert default["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    function_id, function = _one(real, "AWS::CloudFront::Function")
    assert default["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]}}]
    assert function["Properties"]["FunctionCode"] == rewrite_code()
    assert config["DefaultRootObject"] == PAGE_KEY == "console/index.html"
    assert config["HttpVersion"] == "http2and3"
    assert config["Enabled"] is True and "Logging" not in config


def _run_page_function(uris: list[str]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = rewrite_code() + f"console.log(JSON.stringify({json.dumps(uris)}.map("
    script += "function (u) { return handler({request: {uri: u}}).uri; })));"
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout)


def test_the_page_function_serves_what_the_local_gateway_serves():
    """The CloudFront Function, run by node: each gateway page is the console's page object; a file
    under /console/ keeps its path (its S3 key); anything else is left alone."""
    uris = [*sorted(CONSOLE_PAGES), "/console/js/app.js", "/console/index.html", "/index.htm", "/v1/me"]
    served = dict(zip(uris, _run_page_function(uris), strict=True))
    for page in CONSOLE_PAGES:
        assert served[page] == "/" + PAGE_KEY
        assert console_file(page) == CONSOLE_DIR / "index.html"
    assert served["/console/js/app.js"] == "/console/js/app.js"
    assert (CONSOLE_DIR / served["/console/js/app.js"].removeprefix("/console/")).is_file()
    assert served["/index.htm"] == "/index.htm" and console_file("/index.htm") is None


def test_the_console_gets_the_gateway_s_headers_and_csp(real):
    _, policy = _one(real, "AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert csp == console_csp(real.stack.settings)
    # The local policy, but for the upload bucket's origins in connect-src.
    origins = upload_origins(real.stack.settings)
    assert csp == content_security_policy(origins)
    assert csp.replace(" " + " ".join(origins), "") == CONSOLE_CSP == CONSOLE_HEADERS["Content-Security-Policy"]
    sent = {"Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"]}
    sent |= {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
    assert sent == {**CONSOLE_HEADERS, "Content-Security-Policy": csp}
    assert all(h["Override"] for h in config["CustomHeadersConfig"]["Items"])
    assert all(security[k]["Override"] for k in ("ContentSecurityPolicy", "ContentTypeOptions", "ReferrerPolicy"))
    # HTTPS only here (locally plain HTTP): HSTS on top.
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000


class _RecordingS3:
    def __init__(self) -> None:
        self.rules: dict[str, list[dict]] = {}

    def put_bucket_cors(self, Bucket, CORSConfiguration):
        self.rules[Bucket] = CORSConfiguration["CORSRules"]


def test_the_support_bucket_accepts_uploads_from_the_console_s_origin_as_locally(real):
    """The rule ``scelle local`` sets (chalicelib/local/provision.py), with the console's AWS origin."""
    from chalicelib.local.provision import ensure_bucket_cors

    local = _RecordingS3()
    ensure_bucket_cors(local, real.stack.settings.app_settings())
    assert set(local.rules) == {f"{PREFIX}-exports", f"{PREFIX}-support"}
    distribution_id, _ = _distribution(real)
    for name, (local_rule,) in local.rules.items():
        _, bucket = _bucket(real, name.removeprefix(PREFIX + "-"))
        (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
        # Uploads (support: a ticket's attachment) and reads (exports: "Verify here" in the browser).
        methods = ["GET"] if name.endswith("-exports") else ["POST"]
        assert rule["AllowedMethods"] == local_rule["AllowedMethods"] == methods
        assert rule.get("AllowedHeaders", []) == local_rule["AllowedHeaders"]
        assert rule["MaxAge"] == local_rule["MaxAgeSeconds"]
        assert rule["AllowedOrigins"] == [
            {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}]
    assert upload_origins(real.stack.settings) == [f"https://{PREFIX}-exports.s3.eu-west-1.amazonaws.com",
                                                   f"https://{PREFIX}-exports.s3.amazonaws.com",
                                                   f"https://{PREFIX}-support.s3.eu-west-1.amazonaws.com",
                                                   f"https://{PREFIX}-support.s3.amazonaws.com"]
    (other,) = [r for k, r in real.resources("AWS::S3::Bucket").items()
                if r["Properties"].get("BucketName") == f"{PREFIX}-archive"]
    assert "CorsConfiguration" not in other["Properties"]


# --- the API's behaviours ---------------------------------------------------------------------


def _api_behaviours(synth):
    _, distribution = _distribution(synth)
    config = distribution["Properties"]["DistributionConfig"]
    return config, {b["PathPattern"]: b for b in config.get("CacheBehaviors", [])}


def test_the_api_paths_go_to_the_rest_api_stage_uncached_with_every_header_but_host(each):
    config, behaviours = _api_behaviours(each)
    assert API_PREFIX + "*" in behaviours
    for pattern, behaviour in behaviours.items():
        assert behaviour["CachePolicyId"] == CACHING_DISABLED, pattern
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER, pattern
        assert set(behaviour["AllowedMethods"]) == ALL_METHODS, pattern
        assert behaviour["ViewerProtocolPolicy"] == "https-only", pattern  # a redirected POST loses its body
        assert "ResponseHeadersPolicyId" not in behaviour and "FunctionAssociations" not in behaviour
        origin = _origin(config, behaviour)
        assert origin["OriginPath"] == "/v1"  # the stage; the viewer's /v1/... is the route
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
        assert origin["DomainName"] == {"Fn::Join": ["", [{"Ref": "RestAPI"}, ".execute-api.eu-west-1.",
                                                          {"Ref": "AWS::URLSuffix"}]]}


def test_every_route_of_the_app_and_no_console_path_reaches_the_api(real):
    _, behaviours = _api_behaviours(real)
    paths = real.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path in paths:
        assert any(fnmatchcase(path, p) for p in behaviours), path
    assert {"/health", "/openapi.json"} <= set(behaviours)
    for page in [*CONSOLE_PAGES, "/console/js/app.js"]:
        assert not any(fnmatchcase(page, p) for p in behaviours), page


def test_every_path_the_console_calls_reaches_the_api(real):
    _, behaviours = _api_behaviours(real)
    called = set()
    for source in (CONSOLE_DIR / "js").rglob("*.js"):
        text = source.read_text(encoding="utf-8")
        called |= set(re.findall(r"""(?:api|raw)\(\s*"[A-Z]+",\s*[`"'](/[^`"'$?]*)""", text))
        called |= set(re.findall(r"""href:\s*"(/v1/[^"]*)\"""", text))
    assert len(called) > 10, called
    for path in called:
        assert any(fnmatchcase(path, p) for p in behaviours), path


def test_the_console_url_is_an_output_and_the_functions_get_no_distribution_reference(real):
    distribution_id, _ = _distribution(real)
    assert real.template["Outputs"]["ConsoleURL"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}
    for name, fn in real.functions().items():
        assert distribution_id not in json.dumps(fn["Properties"].get("Environment", {})), name
        assert "SCELLE_PUBLIC_BASE_URL" not in fn["Properties"].get("Environment", {}).get("Variables", {}), name


def test_without_a_console_url_the_synth_warns(real):
    warnings = Annotations.from_stack(real.stack).find_warning(
        "*", Match.string_like_regexp(".*scelle:public_base_url is not set.*"))
    assert len(warnings) == 1


# --- the files --------------------------------------------------------------------------------


def test_the_bucket_deployment_copies_console_and_invalidates_the_distribution(real):
    bucket_id, _ = _bucket(real, "console")
    distribution_id, _ = _distribution(real)
    (deployment,) = [d for d in real.resources("Custom::CDKBucketDeployment").values()
                     if d["Properties"]["DestinationBucketKeyPrefix"] == "console/"]
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": bucket_id}
    assert props["Prune"] is True
    assert props["DistributionId"] == {"Ref": distribution_id} and props["DistributionPaths"] == ["/*"]
    assert props["Exclude"] == ["*"] and set(props["Include"]) == {f"*{s}" for s in CONSOLE_TYPES}
    # The asset is console/ itself, staged in the cloud assembly.
    (key,) = props["SourceObjectKeys"]
    staged = Path(real.stack.node.root.outdir) / f"asset.{key.removesuffix('.zip')}"

    def files(root: Path) -> set[str]:
        return {str(f.relative_to(root)) for f in root.rglob("*") if f.is_file()}

    assert files(staged) == files(CONSOLE_DIR)
    assert (staged / "index.html").read_bytes() == (CONSOLE_DIR / "index.html").read_bytes()
    assert (staged / "js" / "app.js").is_file()


def test_the_downloads_go_beside_the_console_with_the_types_scelle_local_serves(real):
    """The slim verifier, its checksum and the auditor guides (chalicelib/local/downloads.py) in
    console/downloads/, one deployment per content type; the console's deployment copies and
    prunes none of them (its filters name other suffixes)."""
    from chalicelib.local import downloads

    bucket_id, _ = _bucket(real, "console")
    distribution_id, _ = _distribution(real)
    found = {}
    for deployment in real.resources("Custom::CDKBucketDeployment").values():
        props = deployment["Properties"]
        if props["DestinationBucketKeyPrefix"] != "console/downloads/":
            continue
        assert props["DestinationBucketName"] == {"Ref": bucket_id} and props["Prune"] is True
        assert props["DistributionId"] == {"Ref": distribution_id}
        assert props["DistributionPaths"] == ["/console/downloads/*"] and props["Exclude"] == ["*"]
        (include,) = props["Include"]
        found[include.removeprefix("*")] = props["SystemMetadata"]["content-type"]
        (key,) = props["SourceObjectKeys"]
        staged = Path(real.stack.node.root.outdir) / f"asset.{key.removesuffix('.zip')}"
        names = {f.name for f in staged.iterdir()}
        assert names == {downloads.VERIFIER, downloads.CHECKSUM, *downloads.GUIDES.values()}
        digest = hashlib.sha256((staged / downloads.VERIFIER).read_bytes()).hexdigest()
        assert (staged / downloads.CHECKSUM).read_text() == f"{digest}  {downloads.VERIFIER}\n"
        guide = PROJECT_DIR / "docs" / "auditor-guide.fr.md"
        assert (staged / "auditor-guide.fr.md").read_bytes() == guide.read_bytes()
    assert found == downloads.TYPES
    assert not any(fnmatchcase(f"x{suffix}", f"*{s}") for suffix in downloads.TYPES for s in CONSOLE_TYPES)


# --- no dependency cycle ----------------------------------------------------------------------


def dependencies(template) -> dict[str, set[str]]:
    """Resource -> the resources it needs (Ref, GetAtt, ${...} in Sub, DependsOn)."""
    names = set(template["Resources"])

    def found(node) -> set[str]:
        out: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and value in names:
                    out.add(value)
                elif key == "Fn::GetAtt":
                    out.add(value[0] if isinstance(value, list) else value.split(".")[0])
                elif key == "Fn::Sub":
                    text = value if isinstance(value, str) else value[0]
                    out |= {m for m in re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text) if m in names}
                    out |= found(value[1]) if isinstance(value, list) else set()
                else:
                    out |= found(value)
        elif isinstance(node, list):
            for item in node:
                out |= found(item)
        return out

    graph = {}
    for name, res in template["Resources"].items():
        depends = res.get("DependsOn", [])
        depends = {depends} if isinstance(depends, str) else set(depends)
        graph[name] = (found(res.get("Properties", {})) | depends) & names
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_template_has_no_dependency_cycle(each):
    assert cycle(dependencies(each.template)) == []


def test_the_distribution_s_domain_in_the_api_s_environment_would_be_a_cycle(real):
    """Why SCELLE_PUBLIC_BASE_URL is a literal setting (decision 0030): the API's function would
    need the distribution, which needs the REST API, which needs the function."""
    template = copy.deepcopy(real.template)
    distribution_id, _ = _distribution(real)
    (api,) = [f for name, f in real.functions().items() if name.endswith("-api_handler")]
    api_id = next(k for k, v in real.template["Resources"].items() if v is api)
    template["Resources"][api_id]["Properties"]["Environment"]["Variables"]["SCELLE_PUBLIC_BASE_URL"] = {
        "Fn::GetAtt": [distribution_id, "DomainName"]}
    found = cycle(dependencies(template))
    assert {api_id, distribution_id, "RestAPI"} <= set(found), found


# --- a custom domain --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    """The stack with a custom domain, its certificate and a web ACL (one more synth)."""
    import aws_cdk as cdk
    import cdk_nag
    from aws_cdk.assertions import Template

    from infra.stacks.scelle_stack import ScelleStack

    work = tmp_path_factory.mktemp("cdk-custom")
    previous = os.getcwd()
    os.chdir(work)  # chalice.out lands here
    try:
        app = cdk.App(outdir=str(work / "custom.out"))
        settings = StackSettings(vendor_dependencies=False, operator_email=OPERATOR_EMAIL,
                                 console_domain="console.acme.example", console_certificate_arn=CERTIFICATE,
                                 console_web_acl_arn=WEB_ACL)
        stack = ScelleStack(app, settings, project_dir=str(PROJECT_DIR))
        cdk.Aspects.of(stack).add(cdk_nag.AwsSolutionsChecks())
        return stack, Template.from_stack(stack).to_json()
    finally:
        os.chdir(previous)


def test_a_custom_domain_gets_its_certificate_tls_1_2_waf_and_becomes_the_public_base_url(custom):
    stack, template = custom
    (distribution,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution"]
    config = distribution["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["console.acme.example"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE, "MinimumProtocolVersion": "TLSv1.2_2021", "SslSupportMethod": "sni-only"}
    assert config["WebACLId"] == WEB_ACL
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(
        f["Properties"]["Environment"]["Variables"]["SCELLE_PUBLIC_BASE_URL"] == "https://console.acme.example"
        for f in functions)
    (support,) = [r for r in template["Resources"].values()
                  if r["Properties"].get("BucketName") == f"{PREFIX}-support"]
    assert support["Properties"]["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"] == [
        "https://console.acme.example"]
    assert template["Outputs"]["ConsoleURL"]["Value"] == "https://console.acme.example"
    annotations = Annotations.from_stack(stack)
    findings = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) + annotations.find_warning(
        "*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{f.id}: {f.entry.data}" for f in findings] == []
    suppressed = json.dumps(distribution.get("Metadata", {}))
    assert "AwsSolutions-CFR4" not in suppressed and "AwsSolutions-CFR2" not in suppressed  # nothing to excuse
    assert not annotations.find_warning("*", Match.string_like_regexp(".*scelle:public_base_url is not set.*"))
    assert cycle(dependencies(template)) == []


def test_console_settings_are_validated():
    with pytest.raises(ValueError, match="go together"):
        StackSettings(console_domain="console.acme.example")
    with pytest.raises(ValueError, match="us-east-1"):
        StackSettings(console_domain="console.acme.example",
                      console_certificate_arn=CERTIFICATE.replace("us-east-1", "eu-west-1"))
    with pytest.raises(ValueError, match="not a domain name"):
        StackSettings(console_domain="https://console.acme.example", console_certificate_arn=CERTIFICATE)
    with pytest.raises(ValueError, match="CLOUDFRONT"):
        StackSettings(console_web_acl_arn=WEB_ACL.replace("global", "regional"))
    with pytest.raises(ValueError, match="must be the console's URL"):
        StackSettings(console_domain="console.acme.example", console_certificate_arn=CERTIFICATE,
                      public_base_url="https://other.example")
    assert StackSettings(console_domain="console.acme.example", console_certificate_arn=CERTIFICATE,
                         public_base_url="https://console.acme.example/").console_url == "https://console.acme.example"
    assert StackSettings(public_base_url="https://d111.cloudfront.net/").console_url == "https://d111.cloudfront.net"
    assert StackSettings().console_url == ""
