"""The composition root: the only place that wires adapters to services. Everything is built
lazily, once per process.

Entry points never fetch from here: each declares what it uses as a keyword-only parameter,
``ledger=Service("ledger")`` (``chalicelib.wiring``; the name is a ``Container`` attribute), and
``routing.endpoint`` or ``wiring.inject`` passes ``container().<name>`` at each call (decision
0029). Tests and the local stack call ``configure(settings, **overrides)`` first to choose the
settings or inject fakes; nothing is built at import time, so importing ``app`` stays cheap for
Lambda cold starts. The root's API: ``Container``, ``configure()``, ``container()``, ``settings()``.
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
        if settings.mode == "aws" and not _cv_operator_emails(settings):
            from chalicelib.observability import logger

            logger.warning("SCELLE_OPERATOR_EMAIL is unset: tamper alarms are mailed to the tenant's admins only "
                           "(none for the platform's own chains); set it in production (docs/operations.md)")
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
            "config": Config(
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=3,
                read_timeout=15,
                # Every DynamoDB parameter is built by our code, not by users; botocore's own check of
                # nested item maps costs ~20% of a 100-item transaction (bench/bench_append.py).
                parameter_validation=service != "dynamodb",
            ),
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
    def clock(self):
        """The time source of every sealed record (tests inject a fixed or moving clock)."""
        from datetime import UTC, datetime

        return lambda: datetime.now(UTC)

    @cached_property
    def journal_store(self):
        from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

        return DynamoDBChainStore(self.dynamodb, self.settings.table_name("journal"), self.settings.table_name("ops"))

    @cached_property
    def events_store(self):
        from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore

        return DynamoDBChainStore(self.dynamodb, self.settings.table_name("events"), self.settings.table_name("ops"))

    @cached_property
    def chain_writer(self):
        from chalicelib.observability import count
        from chalicelib.services.sealing import ChainWriter

        return ChainWriter(
            self.journal_store,
            clock=self.clock,
            prover=self.write_proofs,
            on_append=lambda n: count("EntriesAppended", n),
            on_conflict=lambda: count("AppendConflicts"),
        )

    @cached_property
    def event_journal(self):
        from chalicelib.services.events import EventJournal, event_writer

        return EventJournal(event_writer(self.events_store, clock=self.clock, prover=self.write_proofs))

    @cached_property
    def write_proofs(self):
        """The key that proves an entry was written by the sealing service (decision 0022)."""
        from chalicelib.adapters.write_proofs import write_proofs_for

        s = self.settings
        key_id = s.write_proof_key_id or ("local:write-proof" if s.mode == "local" else None)
        if not key_id:
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_WRITE_PROOF_KEY_ID must be set (a KMS HMAC_256 key ARN, or local:<name>)")
        retired = [k for k in s.write_proof_retired_key_ids.split(",") if k]
        return write_proofs_for(key_id, key_dir=s.local_key_dir, kms=lambda: self.kms, retired=retired)

    @cached_property
    def event_deriver(self):
        from chalicelib.services.events import EventDeriver

        return EventDeriver(self.journal_store, self.events_store, self.event_journal.writer)

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
    def witness(self):
        """The witness itself (decision 0024): on AWS only its own function builds it."""
        from chalicelib.adapters.archive_s3 import S3ObjectStore
        from chalicelib.adapters.signing import KmsSigner, LocalSigner
        from chalicelib.adapters.witness_view import ObjectWitnessView
        from chalicelib.domain.checkpoint import PublicKeyInfo
        from chalicelib.services.witness import Witness

        s = self.settings
        key_id = s.witness_key_id or ("local:witness" if s.mode == "local" else None)
        if not key_id:
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_WITNESS_KEY_ID must be set (a KMS ECC_NIST_P256 key ARN, or local:<name>)")
        if key_id.startswith("local:"):
            signer = LocalSigner(s.local_key_dir, key_id.split(":")[1])
        else:
            signer = KmsSigner(self.kms, key_id)
        log_signer = self.signer
        # The log's key as the witness was configured with it (its own KMS GetPublicKey, or the
        # local key file): never a key published in the ops table, which a database writer can add to.
        pinned = [PublicKeyInfo(log_signer.key_id, "2000-01-01T00:00:00.000000Z", None, log_signer.public_key_pem())]
        view = ObjectWitnessView(S3ObjectStore(self.s3, s.bucket_name("archive")), clock=self.clock)
        # No alarms here: the submitter raises them from the refusal, in process and on AWS alike
        # (the witness's own role holds nothing but its key, its view and the log's public key).
        return Witness(signer, view, lambda: pinned, clock=self.clock)

    @cached_property
    def witness_client(self):
        """How the signer reaches the witness: in process locally, its Lambda function on AWS."""
        s = self.settings
        if s.mode == "local":
            return self.witness
        if not s.witness_function:
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_WITNESS_FUNCTION must be set (the witness's Lambda function name)")
        from chalicelib.adapters.witness_lambda import LambdaWitnessClient

        return LambdaWitnessClient(self.client("lambda"), s.witness_function)

    @cached_property
    def witness_submitter(self):
        from chalicelib.services.witness import WitnessSubmitter

        return WitnessSubmitter(self.witness_client, checkpoint_store=self.checkpoint_store, ops=self.ops_store,
                                alarms=self.tamper_alarms)

    @cached_property
    def checkpoint_store(self):
        from chalicelib.adapters.checkpoint_store import DynamoDBCheckpointStore

        s = self.settings
        return DynamoDBCheckpointStore(self.dynamodb, s.table_name("checkpoints"), s.table_name("keys"),
                                       legacy_keys_table=s.table_name("ops"))

    @cached_property
    def tile_store(self):
        """The Merkle trees' tiles (decision 0026): written by the signers, read for proofs."""
        from chalicelib.adapters.tile_store import DynamoDBTileStore

        return DynamoDBTileStore(self.dynamodb, self.settings.table_name("tiles"))

    @cached_property
    def key_registry(self):
        from chalicelib.services.checkpoints import KeyRegistry

        return KeyRegistry(self.checkpoint_store, self.signer, clock=self.clock, alarms=self.tamper_alarms)

    @cached_property
    def checkpoints(self):
        from chalicelib.observability import count
        from chalicelib.services.checkpoints import CheckpointService

        return CheckpointService(
            self.journal_store,
            self.checkpoint_store,
            self.signer,
            self.key_registry,
            clock=self.clock,
            on_signed=lambda: count("CheckpointsSigned"),
            alarms=self.tamper_alarms,
            proofs=self.write_proofs,
            tiles=self.tile_store,
        )

    @cached_property
    def checkpoint_cadence(self):
        from chalicelib.services.checkpoints import CheckpointCadence

        return CheckpointCadence(self.checkpoints, self.settings.checkpoint_every)

    @cached_property
    def on_demand_checkpoints(self):
        """``POST …/checkpoints``: signed by the signing function on AWS (the API holds no
        signing permission), in process locally."""
        s = self.settings
        if s.mode == "local":
            return self.chain_checkpoints
        if not s.signer_function:
            from chalicelib.config import ConfigError

            raise ConfigError("SCELLE_SIGNER_FUNCTION must be set (the sign_chain Lambda function's name)")
        from chalicelib.adapters.checkpoint_requests import LambdaCheckpointSigning

        return LambdaCheckpointSigning(self.client("lambda"), s.signer_function)

    @cached_property
    def chain_directory(self):
        from chalicelib.adapters.chain_directory import DynamoDBChainDirectory

        return DynamoDBChainDirectory(self.dynamodb, self.settings.table_name("ops"))

    @cached_property
    def idempotency(self):
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from chalicelib.api.middleware import current_lambda_context
        from chalicelib.services.idempotency import IdempotentRunner

        layer = DynamoDBPersistenceLayer(
            table_name=self.settings.table_name("idempotency"),
            key_attr="pk",
            expiry_attr="expires_at",
            boto3_client=self.dynamodb,
        )
        return IdempotentRunner(layer, lambda_context=current_lambda_context)

    @cached_property
    def verification(self):
        from chalicelib.services.verification import VerificationService

        return VerificationService(
            self.journal_store,
            self.checkpoint_store,
            self.key_registry,
            extra_checks=_ledger_extra_checks,
            on_failure=_report_verification_failure,
            proofs=self.write_proofs,
            # the event journal: its own table, and the archive for entries expired from it (0006)
            events_store=self.events_store,
            archive=lambda: self.archive,
            tiles=self.tile_store,  # a rewritten entry named by the signed tree's leaves
        )

    @cached_property
    def ledger_index(self):
        from chalicelib.adapters.ledger_index import DynamoDBLedgerIndex

        return DynamoDBLedgerIndex(self.dynamodb, self.settings.table_name("ops"))

    @cached_property
    def ledger(self):
        from datetime import timedelta

        from chalicelib.services.ledger import LedgerService

        return LedgerService(
            writer=self.chain_writer,
            directory=self.chain_directory,
            index=self.ledger_index,
            checkpoints=self.checkpoints,
            tenants=self.tenants,
            checkpoint_every=self.settings.checkpoint_every,
            clock_skew=timedelta(seconds=self.settings.clock_skew_seconds),
            clock=self.clock,
            public_base_url=self.settings.public_base_url,
            alarms=self.tamper_alarms,
            verified_head=self.ops_store.verified_head,
        )

    # ---- Services ----------------------------------------------------------------------------
    @cached_property
    def health(self):
        from chalicelib.services.health import HealthService

        return HealthService(self.dynamodb, [self.settings.table_name(t.logical) for t in _tables()])


    # ---- Accounts (sign-up, sign-in, members, access; docs/decisions/0004-accounts-table.md) ---
    @cached_property
    def accounts_store(self):
        from chalicelib.adapters.accounts_dynamodb import DynamoAccountsStore
        from chalicelib.adapters.models.base import Endpoint

        return DynamoAccountsStore(Endpoint.from_settings(self.settings), self.settings.table_name("accounts"))

    @cached_property
    def password_policy(self):
        from chalicelib.domain.accounts import PasswordPolicy
        from chalicelib.resources import RESOURCES

        pool = RESOURCES.user_pool
        return PasswordPolicy(min_length=pool.password_min_length, upper=pool.require_upper,
                              lower=pool.require_lower, digit=pool.require_digits)

    @cached_property
    def identity(self):
        from chalicelib.adapters.cognito_users import CognitoUsers
        from chalicelib.config import ConfigError

        s = self.settings
        if not (s.user_pool_id and s.user_pool_client_id):
            raise ConfigError("SCELLE_USER_POOL_ID and SCELLE_USER_POOL_CLIENT_ID must be set")
        return CognitoUsers(self.cognito, s.user_pool_id, s.user_pool_client_id,
                            f"it must have {self.password_policy.describe()}.")

    @cached_property
    def mailer(self):
        from chalicelib.adapters.mail import OutboxMailer, SesMailer

        s = self.settings
        if s.mode == "local":  # SES on moto, plus a readable copy in the data directory
            return OutboxMailer(self.ses, s.mail_from, s.data_dir / "outbox.jsonl")
        return SesMailer(self.ses, s.mail_from)

    def accounts_journal(self):
        """The event journal, resolved at each record (tests may swap it after wiring)."""
        return self.event_journal

    @cached_property
    def access(self):
        from chalicelib.services.access import AccessService

        return AccessService(self.accounts_store)

    @cached_property
    def tenants(self):
        from chalicelib.services.tenants import TenantService

        # the container's clock, as every service that seals: the went_live event's production_since
        # is then on the same clock as its recorded_at (a sample's or a test's moving clock included)
        return TenantService(self.accounts_store, self.accounts_journal, clock=self.clock)

    @cached_property
    def accounts(self):
        from chalicelib.services.accounts import AccountsService

        return AccountsService(self.accounts_store, self.identity, self.mailer, self.accounts_journal,
                               public_base_url=self.settings.public_base_url,
                               password_policy=self.password_policy, clock=self.clock)

    @cached_property
    def signin_policy(self):
        from chalicelib.domain.accounts import SignInPolicy

        return SignInPolicy()

    @cached_property
    def signin(self):
        from chalicelib.services.signin import SignInService

        return SignInService(self.accounts_store, self.identity, self.accounts_journal, self.signin_policy,
                             failures=self.signin_failures)

    @cached_property
    def password_reset(self):
        from chalicelib.services.password_reset import PasswordResetService

        return PasswordResetService(self.accounts_store, self.identity, self.mailer, self.accounts_journal,
                                    public_base_url=self.settings.public_base_url,
                                    password_policy=self.password_policy, policy=self.signin_policy,
                                    clock=self.clock)

    @cached_property
    def signin_failures(self):
        """Failed sign-ins counted per tenant and window in ops, sealed as aggregates (decision 0011)."""
        from chalicelib.services.signin_failures import SignInFailures

        return SignInFailures(self.ops_store, self.accounts_journal, clock=self.clock)

    # ---- Continuous verification (stream verifier, archive, anomalies; decisions 0006-0008) ----
    @cached_property
    def ops_store(self):
        from chalicelib.adapters.ops_dynamodb import DynamoDBOpsStore

        return DynamoDBOpsStore(self.dynamodb, self.settings.table_name("ops"))

    @cached_property
    def archive(self):
        from chalicelib.adapters.archive_s3 import S3ObjectStore
        from chalicelib.adapters.encryption import build_encryptor
        from chalicelib.services.archive import Archive, RetentionPolicy

        s = self.settings
        encryptor = build_encryptor(s.data_key_id, s.local_key_dir, lambda: self.kms)
        return Archive(S3ObjectStore(self.s3, s.bucket_name("archive")), encryptor,
                       RetentionPolicy(lambda tenant_id: _cv_tenant_country(self, tenant_id)), clock=self.clock)

    @cached_property
    def archiver(self):
        from chalicelib.services.archive import Archiver

        return Archiver(self.ops_store, self.archive, clock=self.clock,
                        on_lag=lambda seconds: _cv_seconds("ArchiveLagSeconds", seconds))

    @cached_property
    def tamper_alarms(self):
        from chalicelib.observability import count
        from chalicelib.services.tamper_alarms import AlarmService

        return AlarmService(self.ops_store, lambda: self.event_journal, on_alarm=lambda: count("TamperAlarms"),
                            fallback=lambda alarm: self.anomalies.from_alarm(alarm), clock=self.clock,
                            proofs=self.write_proofs)

    @cached_property
    def anomalies(self):
        from chalicelib.observability import count
        from chalicelib.services.anomalies import AnomalyService

        return AnomalyService(
            self.ops_store,
            self.events_store,
            tenant_of=lambda tenant_id: self.tenants.get(tenant_id),
            admin_emails=lambda tenant_id: _cv_admin_emails(self, tenant_id),
            operator_emails=lambda: _cv_operator_emails(self.settings),
            mailer=lambda: self.mailer,
            journal=lambda: self.event_journal,
            on_anomaly=lambda: count("Anomalies"),
            entry_amount=lambda tenant_id, chain, seq: _cv_entry_amount(self, tenant_id, chain, seq),
        )

    def stream_processor(self, table: str):
        """The batch processor of one table's stream: ``journal``, ``events`` or ``checkpoints``."""
        cache = self.__dict__.setdefault("_stream_processors", {})
        if table not in cache:
            from chalicelib.observability import count
            from chalicelib.services.stream_verifier import (
                ChainStreamVerifier,
                CheckpointStreamArchiver,
                ExpiryPolicy,
                StreamProcessor,
            )

            if table == "checkpoints":
                handler = CheckpointStreamArchiver(self.archive, self.tamper_alarms, self.checkpoint_store.keys)
            elif table in ("journal", "events"):
                events = table == "events"
                handler = ChainStreamVerifier(
                    table,
                    ops=self.ops_store,
                    store=self.events_store if events else self.journal_store,
                    alarms=self.tamper_alarms,
                    archiver=self.archiver,
                    directory=self.chain_directory,
                    expiry=ExpiryPolicy(self.ops_store, honour_local_tickets=self.settings.mode == "local",
                                        clock=self.clock) if events else None,
                    # events: anomaly rules; journal: the checkpoint every N entries, signed here
                    # rather than on the API's request path (decision 0022)
                    after_insert=self.anomalies.on_event if events else self.checkpoint_cadence.after_entry,
                    clock=self.clock,
                    deriver=None if events else self.event_deriver,
                    proofs=self.write_proofs,
                )
            else:
                raise ValueError(f"no stream handler for table {table!r}")
            cache[table] = StreamProcessor(table, handler, on_failures=lambda n: count("StreamBatchFailures", n))
        return cache[table]

    @cached_property
    def events_checkpoints(self):
        """Signed checkpoints of the event-journal chains (they live in the events table)."""
        from chalicelib.observability import count
        from chalicelib.services.checkpoints import CheckpointService

        return CheckpointService(self.events_store, self.checkpoint_store, self.signer, self.key_registry,
                                 clock=self.clock, on_signed=lambda: count("CheckpointsSigned"),
                                 alarms=self.tamper_alarms, entries_expire=True, proofs=self.write_proofs,
                                 tiles=self.tile_store)

    @cached_property
    def chain_checkpoints(self):
        """A checkpoint of any chain on request (the event journal's with ``events_checkpoints``)."""
        from chalicelib.services.checkpoints import ChainCheckpoints

        return ChainCheckpoints(self.checkpoints, self.events_checkpoints)

    @cached_property
    def checkpoint_signer(self):
        from chalicelib.services.scheduled_work import CheckpointSigner

        return CheckpointSigner(
            directory=self.chain_directory, checkpoints=self.checkpoints, events_checkpoints=self.events_checkpoints,
            journal_store=self.journal_store, events_store=self.events_store, ops=self.ops_store,
            archiver=self.archiver, alarms=self.tamper_alarms,
            on_lag=lambda seconds: _cv_seconds("ArchiveLagSeconds", seconds),
            witness=self.witness_submitter,
            reports=self.closure_reports,
        )

    # ---- scheduled work, one unit per chain (decision 0028) ------------------------------------
    @cached_property
    def work_queues(self):
        from chalicelib.adapters.work_queue import SqsWorkQueues
        from chalicelib.resources import RESOURCES

        return SqsWorkQueues(self.client("sqs"), {q.job: self.settings.queue_name(q.logical)
                                                 for q in RESOURCES.queues})

    @cached_property
    def work_dispatcher(self):
        from chalicelib.services.scheduled_work import WorkDispatcher

        return WorkDispatcher(directory=self.chain_directory, queues=self.work_queues)

    @cached_property
    def chain_verification_work(self):
        from chalicelib.services.scheduled_work import ChainVerificationWork

        return ChainVerificationWork(deriver=self.event_deriver, full_verifier=self.full_verifier,
                                     journal_store=self.journal_store, events_store=self.events_store,
                                     checkpoint_store=self.checkpoint_store, queues=self.work_queues,
                                     ops=self.ops_store, clock=self.clock)

    @cached_property
    def closure_reports(self):
        from chalicelib.services.closure_reports import ClosureReporter

        return ClosureReporter(index=self.ledger_index, journal_store=self.journal_store,
                               checkpoint_store=self.checkpoint_store, ops=self.ops_store, tenants=self.tenants,
                               recipients=lambda tenant_id: _cv_report_emails(self, tenant_id),
                               mailer=lambda: self.mailer, clock=self.clock)

    @cached_property
    def full_verifier(self):
        from chalicelib.observability import count
        from chalicelib.services.full_verifier import FullVerifier

        return FullVerifier(
            directory=self.chain_directory, verification=self.verification, journal_store=self.journal_store,
            events_store=self.events_store, checkpoint_store=self.checkpoint_store, key_registry=self.key_registry,
            archive=self.archive, ops=self.ops_store, alarms=self.tamper_alarms,
            on_failure=_report_verification_failure, on_chain_failed=lambda: count("VerificationFailures"),
        )

    @cached_property
    def expiry_sweeper(self):
        from chalicelib.adapters.ttl_sweep import DynamoDBExpiredItems
        from chalicelib.services.scheduled_work import ExpirySweeper

        return ExpirySweeper(expired_items=DynamoDBExpiredItems(self.dynamodb, self.settings.table_name("events")),
                             ops=self.ops_store, archiver=self.archiver, enabled=self.settings.mode == "local",
                             clock=self.clock)

    @cached_property
    def backups(self):
        from chalicelib.services.backups import BackupService

        return BackupService(self.dynamodb, self.settings.table_name, local_mode=self.settings.mode == "local")

    @cached_property
    def restore_drill(self):
        from chalicelib.adapters.dynamodb_chain_store import DynamoDBChainStore
        from chalicelib.local.provision import create_table
        from chalicelib.resources import RESOURCES
        from chalicelib.services.restore_drill import RestoreDrill
        from chalicelib.services.verification import VerificationService

        return RestoreDrill(
            dynamodb=self.dynamodb, backups=self.backups, archive=self.archive,
            checkpoint_store=self.checkpoint_store, key_registry=self.key_registry,
            journal_table=self.settings.table_name("journal"),
            make_store=lambda table: DynamoDBChainStore(self.dynamodb, table),
            make_verification=lambda store: VerificationService(store, self.checkpoint_store, self.key_registry,
                                                                extra_checks=_ledger_extra_checks,
                                                                proofs=self.write_proofs),
            create_journal_table=lambda name: create_table(self.dynamodb, name, RESOURCES.table("journal"),
                                                           with_stream=False),
        )

    # ---- Support (tickets, news, mailings; docs/decisions/0010-support.md) -------------------
    @cached_property
    def support_config(self):
        from chalicelib.services.support import support_config_from_env

        return support_config_from_env(mail_from=self.settings.mail_from, local=self.settings.mode == "local")

    @cached_property
    def support_store(self):
        from chalicelib.adapters.models.base import Endpoint
        from chalicelib.adapters.support_dynamodb import DynamoSupportStore

        return DynamoSupportStore(Endpoint.from_settings(self.settings), self.settings.table_name("support"))

    @cached_property
    def support_bucket(self):
        from chalicelib.adapters.support_dynamodb import SupportBucket

        return SupportBucket(self.s3, self.settings.bucket_name("support"))

    @cached_property
    def support(self):
        from chalicelib.services.support import SupportService

        return SupportService(
            self.support_store, self.accounts_store, self.support_bucket, lambda: self.mailer, self.support_config,
            public_base_url=self.settings.public_base_url,
            operator_emails=lambda: _cv_operator_emails(self.settings),
            on_first_response=lambda minutes: _support_metric("FirstResponseBusinessMinutes", minutes),
            on_overdue=lambda n: _support_metric("TicketsOverdue", n),
            touch=lambda principal: self.mailing.touch(principal),
            clock=self.clock,
        )

    @cached_property
    def news(self):
        from chalicelib.services.news import NewsService

        return NewsService(self.support_store, self.accounts_store, touch=lambda p: self.mailing.touch(p),
                           clock=self.clock)

    @cached_property
    def unsubscribe_tokens(self):
        from chalicelib.adapters.support_dynamodb import load_unsubscribe_key
        from chalicelib.domain.support import UnsubscribeTokens

        s = self.settings
        key_dir = s.local_key_dir or s.data_dir / "keys"
        key_file = key_dir / "unsubscribe.key" if s.mode == "local" else None
        return UnsubscribeTokens(load_unsubscribe_key(
            self.settings.unsubscribe_key.get_secret_value() if self.settings.unsubscribe_key else None, key_file
        ))

    @cached_property
    def mailing_invoker(self):
        """Starts ``send_mailing`` asynchronously: Lambda on AWS, a thread in local mode."""
        from chalicelib.adapters.support_dynamodb import LambdaInvoker, ThreadInvoker

        if self.settings.mode == "local":
            return ThreadInvoker(lambda payload: _support_run_mailing(self, payload))
        return LambdaInvoker(self.client("lambda"), f"{self.settings.resource_prefix}-send_mailing")

    @cached_property
    def mailing(self):
        from chalicelib.adapters.support_dynamodb import AccountsUserScan
        from chalicelib.services.mailing import MailingService

        scan = AccountsUserScan(self.dynamodb, self.settings.table_name("accounts"))
        return MailingService(
            self.support_store, self.accounts_store, scan.users, lambda: self.mailer, lambda: self.unsubscribe_tokens,
            lambda payload: self.mailing_invoker(payload), rate=self.support_config.mailing_rate,
            public_base_url=self.settings.public_base_url, clock=self.clock,
        )

    # ---- Exports and receipt proofs (issue 7; docs/decisions/0009-export-format.md) -----------
    @cached_property
    def export_jobs(self):
        from chalicelib.adapters.exports import DynamoDBExportJobs

        return DynamoDBExportJobs(self.dynamodb, self.settings.table_name("ops"))

    @cached_property
    def exports(self):
        from chalicelib.adapters.exports import S3ExportObjects, presign_client
        from chalicelib.services.exports import ExportService, LambdaDispatcher, StoreSource, ThreadDispatcher

        s = self.settings
        dispatcher = (LambdaDispatcher(self.client("lambda"), f"{s.resource_prefix}-build_export")
                      if s.mode == "aws" else ThreadDispatcher())
        return ExportService(
            jobs=self.export_jobs,
            objects=S3ExportObjects(self.s3, presign_client(s), s.bucket_name("exports")),
            tenants=self.tenants, directory=self.chain_directory,
            source_for=lambda tenant_id: StoreSource(
                tenant_id, journal_store=self.journal_store, events_store=self.events_store,
                checkpoints=self.checkpoints, events_checkpoints=self.events_checkpoints,
                key_registry=self.key_registry, archive=lambda: self.archive,
                # decision 0024: the checkpoint an export signs is co-signed, and the archive
                # carries the witness's cosignatures and key
                witness=self.witness_submitter,
                witness_key=lambda: (self.witness_client.key_id, self.witness_client.public_key_pem())),
            signer=lambda: self.signer, events=self.event_journal, idempotency=self.idempotency,
            dispatcher=dispatcher, clock=self.clock,
        )

    @cached_property
    def receipts(self):
        from chalicelib.receipts import ReceiptVerifier

        return ReceiptVerifier(journal_store=self.journal_store, checkpoint_store=self.checkpoint_store,
                               tile_store=self.tile_store)

def _ledger_extra_checks() -> list:
    """Checks beyond the chain itself: closure totals and the perpetual grand total."""
    from chalicelib.domain.closures import ClosureCheck

    return [ClosureCheck()]


def _report_verification_failure(tenant_id: str, chain: str, report) -> None:
    from chalicelib.observability import count, logger

    count("VerificationFailures")
    logger.error(
        "verification failed",
        extra={"tenant_id": tenant_id, "chain": chain, "first_bad_seq": report.first_bad_seq,
               "reason": report.reason, "detail": report.detail},
    )
    try:
        container().event_journal.record(
            tenant_id,
            "verification_failed",
            actor=None,
            details={"chain": chain, "first_bad_seq": report.first_bad_seq, "reason": str(report.reason),
                     "detail": report.detail},
        )
    except Exception:  # the failure is already logged and counted; never mask the report
        logger.exception("could not journal a verification failure")


def _cv_tenant_country(c: Container, tenant_id: str) -> str | None:
    """The tenant's country for archive retention; None (the longest period) when unknown."""
    from chalicelib.services.events import PLATFORM_TENANT

    if tenant_id == PLATFORM_TENANT:
        return None
    return c.tenants.get(tenant_id).country


def _cv_admin_emails(c: Container, tenant_id: str) -> list[str]:
    return [m.email for m in c.accounts_store.roster(tenant_id).members if m.counts_as_admin and m.email]


def _cv_report_emails(c: Container, tenant_id: str) -> list[str]:
    """Who receives the daily Z report: the tenant's admins and accountants."""
    from chalicelib.domain.permissions import Role

    return [m.email for m in c.accounts_store.roster(tenant_id).members
            if m.email and (m.counts_as_admin or m.role == Role.ACCOUNTANT) and m.status == "active"]


def _cv_entry_amount(c: Container, tenant_id: str, chain: str, seq: int) -> int | None:
    """The amount incl. VAT a ledger entry moves (a sale reversal's ``negated.totals.incl``)."""
    from chalicelib.domain.records import chain_key

    record = c.journal_store.get(chain_key(tenant_id, chain), seq)
    data = record.data if record is not None else {}
    totals = (data.get("negated") or {}).get("totals") or data.get("totals") or {}
    amount = totals.get("incl")
    return abs(amount) if isinstance(amount, int) else None


def _cv_operator_emails(s: Settings) -> list[str]:
    """Where tamper alarms are mailed: SCELLE_OPERATOR_EMAIL (comma-separated)."""
    return [a.strip() for a in s.operator_email.split(",") if a.strip()]


def _cv_seconds(name: str, seconds: float) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from chalicelib.observability import metrics

    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=round(seconds, 3))


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


def _support_metric(name: str, value: float) -> None:
    """``TicketsOverdue`` is a count; ``FirstResponseBusinessMinutes`` a number of minutes."""
    from aws_lambda_powertools.metrics import MetricUnit

    from chalicelib.observability import metrics

    unit = MetricUnit.Count if name == "TicketsOverdue" else MetricUnit.NoUnit
    metrics.add_metric(name=name, unit=unit, value=value)


def _support_run_mailing(c: Container, payload: dict) -> None:
    """Local mode: what the ``send_mailing`` Lambda does, run in a background thread."""
    from chalicelib.observability import flush_metrics, logger

    try:
        c.mailing.handle(payload)
    except Exception:
        logger.exception("send_mailing failed", extra={"mailing_id": payload.get("mailing_id")})
    finally:
        flush_metrics()
