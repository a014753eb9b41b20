"""Deployment settings, read from CDK context (``-c scelle:<name>=<value>``) with safe defaults.

The names the functions see (tables, buckets, functions) are derived from the resource prefix
by ``chalicelib.config.Settings``, so the stack and the code can never disagree on a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from chalicelib.config import Settings, load_settings

_TRUE = {"1", "true", "yes", "on"}
_ADDRESS = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_SECRET_ID = re.compile(r"^(arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CLOUDFRONT_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$")
_CLOUDFRONT_WEB_ACL = re.compile(r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]{1,128}/[0-9a-f-]{36}$")


@dataclass(frozen=True)
class StackSettings:
    stage: str = "prod"
    resource_prefix: str = ""  # default: scelle-<stage>; bucket names are global, so make it unique
    region: str = "eu-west-1"
    mail_from: str = "no-reply@scelle.example"
    mail_domain: str = ""  # verify this domain (DKIM) instead of the single mail_from address
    public_base_url: str = ""
    alarm_email: str = ""  # subscribed to the alarm topic when set
    # SCELLE_OPERATOR_EMAIL (comma-separated): tamper alarms, anomalies, new and overdue tickets.
    operator_email: str = ""
    # Secrets Manager secret (name or ARN) holding SCELLE_UNSUBSCRIBE_KEY; created before the first
    # deployment (docs/deploy.md). Default: <prefix>/unsubscribe-key.
    unsubscribe_key_secret: str = ""
    archive_retention_days: int = 3653  # Object Lock COMPLIANCE default retention (10 years)
    log_retention_days: int = 90
    # The one role that may disable the archive's data key or schedule its deletion (decision
    # 0021); empty: nobody, until the key policy itself is changed (a logged, reviewable act).
    break_glass_role_arn: str = ""
    vendor_dependencies: bool = True  # False: package without requirements (synth/tests only)
    # The web console (infra/stacks/console.py, decision 0030). A custom domain for its CloudFront
    # distribution (e.g. console.acme.example) needs an ACM certificate in us-east-1 covering it;
    # it is then also the default public_base_url (mail links, receipts' QR codes).
    console_domain: str = ""
    console_certificate_arn: str = ""
    # A WAFv2 web ACL (scope CLOUDFRONT, so created in us-east-1, outside this stack) for the console.
    console_web_acl_arn: str = ""

    def __post_init__(self) -> None:
        if not self.resource_prefix:
            object.__setattr__(self, "resource_prefix", f"scelle-{self.stage}")
        self.app_settings()  # validates stage, prefix, region and mail_from with the app's own rules
        if not self.unsubscribe_key_secret:
            object.__setattr__(self, "unsubscribe_key_secret", f"{self.resource_prefix}/unsubscribe-key")
        if not _SECRET_ID.match(self.unsubscribe_key_secret):
            raise ValueError("scelle:unsubscribe_key_secret must be a Secrets Manager secret name or ARN")
        for address in self.operator_emails:
            if not _ADDRESS.match(address):
                raise ValueError(f"scelle:operator_email: {address!r} is not an e-mail address")
        if self.break_glass_role_arn and not _ROLE_ARN.match(self.break_glass_role_arn):
            raise ValueError("scelle:break_glass_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/...)")
        if not 1 <= self.archive_retention_days <= 36_500:
            raise ValueError("scelle:archive_retention_days must be between 1 and 36500")
        self._check_console()

    def _check_console(self) -> None:
        if bool(self.console_domain) != bool(self.console_certificate_arn):
            raise ValueError("scelle:console_domain and scelle:console_certificate_arn go together "
                             "(CloudFront serves a custom domain only with its certificate)")
        if self.console_domain and not _DOMAIN.match(self.console_domain):
            raise ValueError(f"scelle:console_domain: {self.console_domain!r} is not a domain name")
        if self.console_certificate_arn and not _CLOUDFRONT_CERTIFICATE.match(self.console_certificate_arn):
            raise ValueError("scelle:console_certificate_arn must be an ACM certificate ARN in us-east-1 "
                             "(arn:aws:acm:us-east-1:<account>:certificate/...): CloudFront reads it only there")
        if self.console_web_acl_arn and not _CLOUDFRONT_WEB_ACL.match(self.console_web_acl_arn):
            raise ValueError("scelle:console_web_acl_arn must be a WAFv2 web ACL of scope CLOUDFRONT "
                             "(arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)")
        if self.console_domain and self.public_base_url and self.public_base_url.rstrip("/") != self.console_url:
            raise ValueError(f"scelle:public_base_url must be the console's URL, {self.console_url}, "
                             "when scelle:console_domain is set (mail links and QR codes open the console)")

    @classmethod
    def from_context(cls, get: Any) -> StackSettings:
        """``get(name)`` returns the context value of ``scelle:<name>`` or None."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = get(f"scelle:{f.name}")
            if raw is None or raw == "":
                continue
            if f.type == "bool":
                values[f.name] = raw if isinstance(raw, bool) else str(raw).lower() in _TRUE
            elif f.type == "int":
                values[f.name] = int(raw)
            else:
                values[f.name] = str(raw)
        return cls(**values)

    @property
    def console_url(self) -> str:
        """The console's URL when known at synth time: ``https://<console_domain>``, else
        ``public_base_url``; empty when the console has only CloudFront's own domain (known once
        deployed: the ``ConsoleURL`` output, decision 0030)."""
        if self.console_domain:
            return f"https://{self.console_domain}"
        return self.public_base_url.rstrip("/")

    @property
    def operator_emails(self) -> list[str]:
        return [a.strip() for a in self.operator_email.split(",") if a.strip()]

    def app_settings(self) -> Settings:
        """The settings the functions will load, minus the values only known at deploy time."""
        return load_settings(
            {
                "SCELLE_MODE": "aws",
                "SCELLE_STAGE": self.stage,
                "SCELLE_REGION": self.region,
                "SCELLE_RESOURCE_PREFIX": self.resource_prefix,
                "SCELLE_MAIL_FROM": self.mail_from,
            }
        )

    def function_name(self, handler: str) -> str:
        """Lambda function name: ``<prefix>-<handler>``, like table and bucket names."""
        name = f"{self.resource_prefix}-{handler}"
        if len(name) > 64:
            raise ValueError(f"function name {name!r} is longer than Lambda's 64 characters")
        return name
