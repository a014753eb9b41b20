"""One settings object, read from ``SCELLE_*`` environment variables and validated at start.

AWS mode and local mode differ only by these values: on AWS ``aws_endpoint_url`` is unset and
credentials come from the Lambda role; locally every client points at the embedded moto server.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator


class ConfigError(Exception):
    """A ``SCELLE_*`` variable is missing or malformed; the message names it."""


class Settings(BaseModel):
    # A plain model filled from SCELLE_* variables by load_settings (pydantic-settings would add
    # ~0.1 s of imports to every Lambda cold start for providers we do not use).
    model_config = ConfigDict(extra="ignore", frozen=True)

    mode: Literal["local", "aws"] = "local"
    stage: str = Field("local", pattern=r"^[a-z][a-z0-9-]{0,20}$")
    region: str = Field("eu-west-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    aws_endpoint_url: str | None = None
    # Every table and bucket name starts with this, so tests and stages never collide.
    resource_prefix: str = Field("scelle-local", pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")

    signing_key_id: str | None = None  # KMS key id/ARN on AWS; "local:<name>" for a local key
    data_key_id: str | None = None  # KMS symmetric key for the archive (AWS Encryption SDK)
    local_key_dir: Path | None = None  # where local signing / data keys live in local mode
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    mail_from: str = "no-reply@scelle.example"
    operator_email: str = ""  # comma-separated: where tamper alarms and overdue tickets are mailed
    # HMAC key of unsubscribe links (on AWS: from a secret). Locally a key file is used when unset.
    unsubscribe_key: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8000"

    checkpoint_every: int = Field(100, ge=1, le=100_000)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=10_485_760)
    clock_skew_seconds: int = Field(300, ge=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    expose_outbox: bool = False  # local-only mail outbox route; never on in AWS mode

    # Local stack only.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    moto_port: int = Field(0, ge=0, le=65535)  # 0: pick a free port
    data_dir: Path = Path(".scelle")
    schedule_seconds: float = Field(60.0, gt=0, le=86_400)
    pump_interval_seconds: float = Field(0.5, gt=0, le=60)

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("expose_outbox")
    @classmethod
    def _outbox_only_locally(cls, value: bool, info) -> bool:
        if value and info.data.get("mode") == "aws":
            raise ValueError("the mail outbox route exists only in local mode")
        return value

    def table_name(self, logical: str) -> str:
        return f"{self.resource_prefix}-{logical}"

    def bucket_name(self, logical: str) -> str:
        return f"{self.resource_prefix}-{logical}"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (default: the process environment);
    raise ConfigError naming each bad variable."""
    env = os.environ if environ is None else environ
    values = {
        name: env[f"SCELLE_{name.upper()}"] for name in Settings.model_fields if f"SCELLE_{name.upper()}" in env
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "SCELLE_" + str(err["loc"][0]).upper() if err["loc"] else "SCELLE_*"
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
