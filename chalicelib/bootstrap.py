"""The only place that wires adapters to services. Everything is built lazily, once.

Entry points call the module functions (``bootstrap.access()``, ...). Tests and the local stack
call ``configure(settings, **overrides)`` first to choose the settings or inject fakes; nothing
is built at import time, so importing ``app`` stays cheap for Lambda cold starts.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from chalicelib.config import Settings, get_settings


class Container:
    """Holds the built objects of one configuration. ``overrides`` replace any attribute."""

    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None) -> None:
        self.settings = settings
        for name, value in (overrides or {}).items():
            # cached_property reads the instance dict first, so this is a clean injection point.
            self.__dict__[name] = value

    # ---- AWS clients -------------------------------------------------------------------------
    def client(self, service: str):
        import boto3
        from botocore.config import Config

        s = self.settings
        kwargs: dict[str, Any] = {
            "region_name": s.region,
            "config": Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=15),
        }
        if s.aws_endpoint_url:
            kwargs["endpoint_url"] = s.aws_endpoint_url
        if s.mode == "local":
            # moto accepts any credentials; never let local mode pick up a real profile.
            kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
        return boto3.client(service, **kwargs)

    @cached_property
    def dynamodb(self):
        return self.client("dynamodb")

    @cached_property
    def s3(self):
        return self.client("s3")

    @cached_property
    def kms(self):
        return self.client("kms")

    @cached_property
    def ses(self):
        return self.client("ses")

    @cached_property
    def cognito(self):
        return self.client("cognito-idp")

    # ---- Identity ----------------------------------------------------------------------------
    @cached_property
    def token_verifier(self):
        from chalicelib.adapters.jwt_tokens import CognitoTokenVerifier

        s = self.settings
        if not (s.user_pool_id and s.user_pool_client_id):
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_USER_POOL_ID and SCELLE_USER_POOL_CLIENT_ID must be set")
        issuer = f"https://cognito-idp.{s.region}.amazonaws.com/{s.user_pool_id}"
        base = s.aws_endpoint_url.rstrip("/") if s.aws_endpoint_url else issuer.rsplit("/", 1)[0]
        return CognitoTokenVerifier(
            issuer=issuer,
            jwks_url=f"{base}/{s.user_pool_id}/.well-known/jwks.json",
            client_id=s.user_pool_client_id,
        )

    # ---- Ledger core: chains, events, signing, checkpoints ------------------------------------
    @cached_property
    def journal_store(self):
        from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

        return DynamoDBChainStore(self.dynamodb, self.settings.table_name("journal"))

    @cached_property
    def events_store(self):
        from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

        return DynamoDBChainStore(self.dynamodb, self.settings.table_name("events"))

    @cached_property
    def chain_writer(self):
        from chalicelib.observability import count
        from chalicelib.services.sealing import ChainWriter

        return ChainWriter(
            self.journal_store,
            on_append=lambda n: count("EntriesAppended", n),
            on_conflict=lambda: count("AppendConflicts"),
        )

    @cached_property
    def event_journal(self):
        from chalicelib.services.events import HOT_DAYS, EventJournal
        from chalicelib.services.sealing import ChainWriter

        return EventJournal(ChainWriter(self.events_store, ttl_seconds=HOT_DAYS * 86400))

    @cached_property
    def signer(self):
        from chalicelib.adapters.signing import KmsSigner, LocalSigner

        key_id = self.settings.signing_key_id
        if not key_id:
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_SIGNING_KEY_ID must be set (a KMS key id, or local:<name>)")
        if key_id.startswith("local:"):
            if self.settings.local_key_dir is None:
                from chalicelib.config import ConfigError

                raise ConfigError("SCELLE_LOCAL_KEY_DIR must be set for a local signing key")
            return LocalSigner(self.settings.local_key_dir, key_id.split(":", 1)[1])
        return KmsSigner(self.kms, key_id)

    @cached_property
    def checkpoint_store(self):
        from chalicelib.adapters.checkpoint_store import DynamoDBCheckpointStore

        s = self.settings
        return DynamoDBCheckpointStore(self.dynamodb, s.table_name("checkpoints"), s.table_name("ops"))

    @cached_property
    def key_registry(self):
        from chalicelib.services.checkpoints import KeyRegistry

        return KeyRegistry(self.checkpoint_store, self.signer)

    @cached_property
    def checkpoints(self):
        from chalicelib.observability import count
        from chalicelib.services.checkpoints import CheckpointService

        return CheckpointService(
            self.journal_store,
            self.checkpoint_store,
            self.signer,
            self.key_registry,
            on_signed=lambda: count("CheckpointsSigned"),
        )

    # ---- Services ----------------------------------------------------------------------------
    @cached_property
    def health(self):
        from chalicelib.services.health import HealthService

        return HealthService(self.dynamodb, [self.settings.table_name(t.logical) for t in _tables()])


def _tables():
    from chalicelib.resources import RESOURCES

    return RESOURCES.tables


_lock = threading.Lock()
_container: Container | None = None


def configure(settings: Settings | None = None, **overrides: Any) -> Container:
    """Replace the current container (tests, local stack). Returns it."""
    global _container
    with _lock:
        _container = Container(settings or get_settings(), overrides)
        return _container


def container() -> Container:
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = Container(get_settings())
    return _container


def settings() -> Settings:
    return container().settings


def token_verifier():
    return container().token_verifier


def access():
    return container().access


def health():
    return container().health


def chain_writer():
    return container().chain_writer


def event_journal():
    return container().event_journal


def checkpoints():
    return container().checkpoints


def key_registry():
    return container().key_registry
