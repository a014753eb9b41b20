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
