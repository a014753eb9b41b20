"""Deployment settings, read from CDK context (``-c scelle:<name>=<value>``) with safe defaults.

The names the functions see (tables, buckets, functions) are derived from the resource prefix
by ``chalicelib.config.Settings``, so the stack and the code can never disagree on a name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from chalicelib.config import Settings, load_settings

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class StackSettings:
    stage: str = "prod"
    resource_prefix: str = ""  # default: scelle-<stage>; bucket names are global, so make it unique
    region: str = "eu-west-1"
    mail_from: str = "no-reply@scelle.example"
    mail_domain: str = ""  # verify this domain (DKIM) instead of the single mail_from address
    public_base_url: str = ""
    alarm_email: str = ""  # subscribed to the alarm topic when set
    archive_retention_days: int = 3653  # Object Lock COMPLIANCE default retention (10 years)
    log_retention_days: int = 90
    vendor_dependencies: bool = True  # False: package without requirements (synth/tests only)

    def __post_init__(self) -> None:
        if not self.resource_prefix:
            object.__setattr__(self, "resource_prefix", f"scelle-{self.stage}")
        if not 1 <= self.archive_retention_days <= 36_500:
            raise ValueError("scelle:archive_retention_days must be between 1 and 36500")
        self.app_settings()  # validates stage, prefix, region and mail_from with the app's own rules

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
