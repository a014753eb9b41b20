"""One settings object, read from ``SCELLE_*`` environment variables and validated at start.

AWS mode and local mode differ only by these values: on AWS ``aws_endpoint_url`` is unset and
credentials come from the Lambda role; locally every client points at the embedded moto server.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator


class ConfigError(Exception):
    """A ``SCELLE_*`` variable is missing or malformed; the message names it (one line per bad
    variable: ``SCELLE_LOG_LEVEL='verbose' is not valid: expected one of DEBUG, INFO, WARNING, ERROR``)."""


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*", re.ASCII)
_EMAIL = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", re.ASCII)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Set from a secret on AWS: an empty one is reported by the mailings that need it, not by every
# function at cold start (sales must not stop for it).
_EMPTY_MEANS_UNSET = frozenset({"unsubscribe_key"})


def _url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


class Settings(BaseModel):
    # A plain model filled from SCELLE_* variables by load_settings (pydantic-settings would add
    # ~0.1 s of imports to every Lambda cold start for providers we do not use). Each field's
    # ``description`` says what is allowed: a bad value is reported with it (``load_settings``).
    model_config = ConfigDict(extra="ignore", frozen=True)

    mode: Literal["local", "aws"] = Field("local", description="local or aws")
    stage: str = Field("local", pattern=r"^[a-z][a-z0-9-]{0,20}$",
                       description="1 to 21 lower-case letters, digits or '-', starting with a letter")
    region: str = Field("eu-west-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
                        description="an AWS region such as eu-west-1")
    aws_endpoint_url: str | None = Field(None, description="a URL starting with http:// or https://")
    # Every table and bucket name starts with this, so tests and stages never collide.
    resource_prefix: str = Field("scelle-local", pattern=r"^[a-z0-9][a-z0-9-]{1,40}$",
                                 description="2 to 41 lower-case letters, digits or '-', not starting with '-'")

    signing_key_id: str | None = None  # KMS key id/ARN on AWS; "local:<name>" for a local key
    data_key_id: str | None = None  # KMS symmetric key for the archive (AWS Encryption SDK)
    # KMS HMAC_256 key ARN that proves each entry was written by the sealing service (decision
    # 0022); "local:<name>" for a key file. Unset in local mode: "local:write-proof".
    write_proof_key_id: str | None = None
    # The independent witness (decision 0024): its own P-256 key (KMS ECC_NIST_P256 ARN, or
    # "local:<name>"; unset in local mode: "local:witness"), and on AWS the name of its Lambda
    # function, which the checkpoint signer invokes (locally the witness runs in process).
    witness_key_id: str | None = None
    # A name, or a function ARN: the witness may run in another account (decision 0024).
    witness_function: str | None = Field(
        None, pattern=r"^([A-Za-z0-9_-]{1,64}|arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64})$",
        description="a Lambda function name (letters, digits, '-', '_') or a function ARN (another account)")
    # On AWS, the name of the sign_chain function, which signs on-demand checkpoints for the
    # API (the internet-facing function holds no kms:Sign).
    signer_function: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                        description="a Lambda function name (letters, digits, '-', '_')")
    # comma-separated ARNs of earlier write-proof keys whose proofs still verify (after a rotation)
    write_proof_retired_key_ids: str = Field("", pattern=r"^(arn:[^,\s]+(,arn:[^,\s]+)*)?$",
                                             description="comma-separated KMS key ARNs, or empty")
    local_key_dir: Path | None = None  # where local signing / data keys live in local mode
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    mail_from: str = Field("no-reply@scelle.example",
                           description="an email address (name@domain.example, or Name <name@domain.example>)")
    # comma-separated: where tamper alarms and overdue tickets are mailed
    operator_email: str = Field("", description="comma-separated email addresses, or empty")
    # HMAC key of unsubscribe links (on AWS: from a secret). Locally a key file is used when unset.
    # Checked where it is used (adapters.support_dynamodb.load_unsubscribe_key; `scelle local` at
    # start): a bad secret must stop the mailings, not every function at cold start.
    unsubscribe_key: SecretStr | None = None
    public_base_url: str = Field("http://127.0.0.1:8000", description="a URL starting with http:// or https://")

    checkpoint_every: int = Field(100, ge=1, le=100_000, description="a whole number from 1 to 100000")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=10_485_760, description="a whole number from 1024 to 10485760")
    clock_skew_seconds: int = Field(300, ge=0, le=3600, description="a whole number from 0 to 3600")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="one of " + ", ".join(_LOG_LEVELS) + " (any case)")
    expose_outbox: bool = Field(False, description="true or false")  # local-only mail outbox route; never on AWS

    # Local stack only.
    host: str = Field("127.0.0.1", description="an IP address or a host name, such as 127.0.0.1 or localhost")
    port: int = Field(8000, ge=1, le=65535, description="a port number from 1 to 65535")
    moto_port: int = Field(0, ge=0, le=65535,
                           description="a port number from 1 to 65535, or 0 to let scelle local choose")
    data_dir: Path = Path(".scelle")
    schedule_seconds: float = Field(60.0, gt=0, le=86_400, allow_inf_nan=False,
                                    description="a number of seconds, more than 0 and at most 86400")
    pump_interval_seconds: float = Field(0.5, gt=0, le=60, allow_inf_nan=False,
                                         description="a number of seconds, more than 0 and at most 60")
    # What `scelle local` writes: a line per request for people, or Powertools' JSON lines (what a
    # Lambda always writes, whatever this says); CloudWatch metric blobs only when asked.
    log_format: Literal["text", "json"] = Field("text", description="text or json (any case)")
    local_metrics: bool = Field(False, description="true or false")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("public_base_url")
    @classmethod
    def _base_is_a_url(cls, value: str) -> str:
        return _url(value) or value

    @field_validator("mail_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        address = value[value.index("<") + 1:-1] if value.endswith(">") and "<" in value else value
        if not _EMAIL.fullmatch(address.strip()):
            raise ValueError("must be an email address (name@domain.example, or Name <name@domain.example>)")
        return value

    @field_validator("operator_email")
    @classmethod
    def _addresses(cls, value: str) -> str:
        bad = [part.strip() for part in value.split(",") if part.strip() and not _EMAIL.fullmatch(part.strip())]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an email address; give comma-separated addresses")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        numeric = all(part.isdigit() for part in value.split("."))  # 999.1.1.1 is no address
        if numeric or len(value) > 253 or not _HOST_NAME.fullmatch(value):
            raise ValueError("must be an IP address or a host name, such as 127.0.0.1 or localhost")
        return value

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        return _url(value)

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

    def queue_name(self, logical: str) -> str:
        """SQS FIFO queue names must end in ``.fifo`` (decision 0028)."""
        return f"{self.resource_prefix}-{logical}.fifo"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (default: the process environment);
    raise ConfigError naming each bad variable, one line each, with what it allows."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, spec in Settings.model_fields.items():
        variable = f"SCELLE_{name.upper()}"
        if variable not in env:
            continue
        if env[variable].strip() == "" and name in _EMPTY_MEANS_UNSET:
            continue
        if env[variable].strip() == "" and spec.default != "":
            # An empty variable is a mistake, not "unset": say so rather than run on a blank
            # directory, address or key id.
            default = "none" if spec.default is None else repr(str(spec.default))
            problems.append(f"{variable} is empty: unset it to use the default ({default}) or give a value")
            continue
        values[name] = env[variable]
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems += [_problem(err, values) for err in exc.errors(include_url=False)]
        settings = None
    if problems:
        raise ConfigError("\n".join(problems))
    assert settings is not None
    return settings


def _problem(err: Any, values: dict[str, str]) -> str:
    """One line naming the variable, the value given and what is allowed."""
    name = str(err["loc"][0]) if err["loc"] else ""
    variable = f"SCELLE_{name.upper()}" if name else "SCELLE_*"
    given = values.get(name)
    shown = "" if given is None else "=" + (repr("****") if name == "unsubscribe_key" else repr(given[:60]))
    spec = Settings.model_fields.get(name)
    if err["type"] == "value_error":  # our own validators say precisely what is wrong
        reason = str(err["msg"]).removeprefix("Value error, ")
        return f"{variable}{shown} is not valid: {reason}"
    allowed = spec.description if spec is not None and spec.description else str(err["msg"])
    return f"{variable}{shown} is not valid: expected {allowed}"


def setting_value(name: str, text: str) -> Any:
    """``text`` read as the setting ``name``, for a command-line option that overrides it
    (``scelle local --port``); a bad value raises ``ValueError`` saying what is allowed."""
    if text.strip() == "":
        raise ValueError("it is empty")
    try:
        return getattr(Settings.model_validate({name: text}), name)
    except ValidationError as exc:
        line = _problem(exc.errors(include_url=False)[0], {})
        raise ValueError(line.split(" is not valid: ", 1)[-1]) from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
