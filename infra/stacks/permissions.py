"""Least privilege, declared per function: which actions each Lambda may take on which resource.

One role per function. A function that ``app.py`` registers but that is not listed here gets a
logs-only role (and a synth warning) until someone declares what it uses. Each grant below is
exactly what the function's code calls on AWS (boto3 operations, the AWS Encryption SDK, pre-signed
URLs), read from the code paths it reaches through ``chalicelib.bootstrap``; the comments name
them. ``tests/infra/needs.py`` declares the same calls independently, as boto3 operations, and
``tests/infra/test_needs.py`` checks the synthesized roles against it both ways (nothing missing,
nothing extra). Invariants checked here at synth time and again, on the template, by tests/infra:

* no function may mutate an item of an append-only table (``ITEM_MUTATIONS``);
* only ``SIGNERS`` may call ``kms:Sign``;
* no function may delete archive objects or touch their lock (``ARCHIVE_DENIED``);
* no wildcard or PartiQL action.

Shared code paths, so that each grant below can be read against them:

* **seal** (``ChainWriter`` on a ledger chain, decision 0012): ``Query`` the chain head, then one
  conditional write: a ``PutItem``, or a ``TransactWriteItems`` of conditional Puts (IAM checks
  each as ``PutItem``) on the journal and ops, the entry with the claims of its natural key; a
  refused claim is read back (ops ``GetItem``), a lost answer looked up (journal ``GetItem``).
* **event append** (``ChainWriter`` on an event chain): the head pointer (ops ``GetItem``; the
  table's head by ``Query`` for a chain without one), then the event and the pointer's
  compare-and-set in one transaction (events and ops ``PutItem``); a lost answer is looked up
  (events ``GetItem``). The journal's stream derives the ledger events (``EventDeriver``): its
  cursor is an ops item, set in the same transaction.
* **tamper alarm** (``AlarmService.raise_alarm``): ops ``PutItem`` (once per evidence, and its
  two listings; a repeat reads the alarm back, ``GetItem``, to repair them), append a
  ``tamper_alarm`` event; if the event journal refuses, the fallback files an integrity anomaly
  and mails the tenant's admins (accounts ``Query``) and the operator (SES).
* **archive write** (``Archive``/``Archiver``): ``PutObject`` with Object Lock retention
  (``PutObjectRetention``) and ``If-None-Match``; the manifest is read back (``GetObject``,
  ``HeadObject``) and segments listed (``ListBucket``); every object is envelope-encrypted by the
  Encryption SDK (``kms:GenerateDataKey``; reading: ``kms:Decrypt``); the lock period comes from
  the tenant's country (accounts ``GetItem``).
* **checkpoint signing** (``CheckpointService.checkpoint``): chain ``Query``, checkpoints
  ``Query`` + conditional ``PutItem``, ``kms:Sign``; the key registry reads the published keys
  (ops ``Query``) and publishes the signer's key the first time (``kms:GetPublicKey``, ops
  ``PutItem``).

No ``kms:DescribeKey``: the stack passes key ARNs (``SCELLE_SIGNING_KEY_ID``,
``SCELLE_DATA_KEY_ID``), so neither the signer nor the Encryption SDK looks a key up. No
``kms:Verify``: signatures are verified locally with the published public key.

docs/security.md has the table of grants per function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED, ITEM_MUTATIONS

# ---- DynamoDB -----------------------------------------------------------------------------------
GET = "dynamodb:GetItem"
BATCH_GET = "dynamodb:BatchGetItem"
QUERY = "dynamodb:Query"
SCAN = "dynamodb:Scan"
PUT = "dynamodb:PutItem"  # also each Put of a TransactWriteItems
UPDATE = "dynamodb:UpdateItem"  # also each Update of a TransactWriteItems
DELETE = "dynamodb:DeleteItem"
BATCH_WRITE = "dynamodb:BatchWriteItem"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"  # a ConditionCheck of a TransactWriteItems
DESCRIBE = "dynamodb:DescribeTable"  # GET /health
APPEND = (GET, QUERY, PUT)  # ChainWriter: head, conditional put, a lost answer read back
EVENT_APPEND = {"events": APPEND, "ops": (GET, PUT)}  # the event, and its head pointer in ops

# ---- S3 -----------------------------------------------------------------------------------------
GET_OBJECT = "s3:GetObject"  # also HeadObject and pre-signed GET URLs
PUT_OBJECT = "s3:PutObject"  # also multipart uploads and pre-signed POSTs
RETENTION = "s3:PutObjectRetention"  # PutObject with ObjectLockMode / ObjectLockRetainUntilDate
ABORT_UPLOAD = "s3:AbortMultipartUpload"
ARCHIVE_WRITE = (GET_OBJECT, PUT_OBJECT, RETENTION)

# ---- KMS ----------------------------------------------------------------------------------------
SIGN = "kms:Sign"
PUBLIC_KEY = "kms:GetPublicKey"
GENERATE_DATA_KEY = "kms:GenerateDataKey"  # Encryption SDK, one master key: no kms:Encrypt
DECRYPT = "kms:Decrypt"
SIGNER = (SIGN, PUBLIC_KEY)
ENVELOPE = (GENERATE_DATA_KEY, DECRYPT)

# Who may sign: the API (seals entries, on-demand checkpoints and closures), the checkpoint
# signer, the period closer, and the export builder (manifest signature).
SIGNERS = frozenset({"api_handler", "sign_checkpoints", "close_periods", "build_export"})
ARCHIVE_BUCKET = "archive"


@dataclass(frozen=True)
class Grants:
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # table -> actions on the table
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # table -> indexes it queries
    # bucket -> key prefix ("" = every key) -> object actions
    objects: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # Buckets it lists, or reads keys of that may be missing (S3 answers 404 rather than 403 only
    # to a caller that may list the bucket).
    list_buckets: tuple[str, ...] = ()
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    send_mail: bool = False  # ses:SendEmail, From = mail_from only
    cognito: tuple[str, ...] = ()
    invoke: tuple[str, ...] = ()  # handlers it starts asynchronously (itself included)


def _every_table(actions: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {t.logical: actions for t in RESOURCES.tables}


def _merge(*parts: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in parts:
        for name, actions in part.items():
            out[name] = tuple(dict.fromkeys((*out.get(name, ()), *actions)))
    return out


# The tamper-alarm path, shared by every verifier and archiver (see the module docstring).
_ALARMS = _merge({"ops": (PUT,), "accounts": (QUERY,)}, EVENT_APPEND)
# Writing the archive: objects with their lock, the manifest read back, the tenant's country.
_ARCHIVE = {"objects": {ARCHIVE_BUCKET: {"": ARCHIVE_WRITE}}, "list_buckets": (ARCHIVE_BUCKET,)}

GRANTS: dict[str, Grants] = {
    "api_handler": Grants(
        tables=_merge(
            _every_table((DESCRIBE,)),  # GET /health: DescribeTable on every table
            {
                # ledger: entries (append, GET entry, closures), by_time listing
                "journal": APPEND,
                # event journal: every action but the ledger's is journaled here; GET events lists
                # by_time; on-demand verification of the events chain (range anchor GetItem)
                "events": APPEND,
                # checkpoints every N entries and on demand, proofs, verification
                "checkpoints": (QUERY, PUT),
                # sign-up/in, members, invitations (transactions with ConditionCheck/Update),
                # throttles (DeleteItem), access (BatchGetItem), memberships (gsi1)
                "accounts": (GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE, CONDITION_CHECK),
                # Powertools idempotency: put, get, update, delete of a failed record
                "idempotency": (GET, PUT, UPDATE, DELETE),
                # tickets, news, mailings (queue and lists on gsi1, BatchGetItem of tickets)
                "support": (GET, BATCH_GET, QUERY, PUT, UPDATE),
                # chain directory, published keys, claims of the seals and event head pointers
                # (decision 0012), export jobs, anomaly and alarm lists, failed sign-ins counted
                # per window (UpdateItem)
                "ops": (GET, QUERY, PUT, UPDATE),
            },
        ),
        indexes={"journal": ("by_time",), "events": ("by_time",), "accounts": ("gsi1",), "support": ("gsi1",)},
        objects={
            "exports": {"exports/": (GET_OBJECT,)},  # HeadObject + the pre-signed download URL
            # pre-signed upload (POST) and download of ticket attachments, HeadObject
            "support": {"attachments/": (GET_OBJECT, PUT_OBJECT)},
            # on-demand verification of the events chain: entries expired from the hot table
            ARCHIVE_BUCKET: {"": (GET_OBJECT,)},
        },
        # an expired export / missing attachment is a 404; archive segments are listed
        list_buckets=("exports", "support", ARCHIVE_BUCKET),
        keys={"signing": SIGNER, "data": (DECRYPT,)},  # data: archived events read back
        send_mail=True,
        cognito=(
            "cognito-idp:AdminConfirmSignUp",
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminGetUser",
            "cognito-idp:AdminUpdateUserAttributes",
            "cognito-idp:AdminUserGlobalSignOut",
        ),
        invoke=("build_export", "send_mailing"),
    ),
    "jwt_authorizer": Grants(),  # verifies tokens against the pool's public JWKS: no AWS call
    # Stream verifier + archiver of the journal: head state and pending entries (ops), catch-up
    # reads of missed entries, chain registration, tamper alarms, archive segments; the ledger's
    # events derived from the stream (cursor in ops, the events appended).
    "on_journal_record": Grants(
        tables=_merge({"journal": (QUERY,), "ops": (GET, QUERY, PUT, UPDATE, BATCH_WRITE), "accounts": (GET,)},
                      _ALARMS, EVENT_APPEND),
        keys={"data": ENVELOPE},
        send_mail=True,  # tamper-alarm fallback
        **_ARCHIVE,
    ),
    # The same for the event journal, plus the anomaly rules: history by_time, the tenant (time
    # zone, hours), a reversal's amount (journal GetItem), first-export markers and anomalies in
    # ops, the anomaly event, mails to the tenant's admins and the operator.
    "on_events_record": Grants(
        tables=_merge(
            {"journal": (GET,), "ops": (GET, QUERY, PUT, UPDATE, BATCH_WRITE), "accounts": (GET, QUERY)}, _ALARMS,
            EVENT_APPEND
        ),
        indexes={"events": ("by_time",)},
        keys={"data": ENVELOPE},
        send_mail=True,
        **_ARCHIVE,
    ),
    # Archives each new checkpoint and the published keys (ops Query; an archived key is read back
    # to compare); a changed or deleted checkpoint is a tamper alarm. The checkpoint itself comes
    # from the stream image: no read of the checkpoints table.
    "on_checkpoint_record": Grants(
        tables=_merge({"ops": (QUERY,), "accounts": (GET,)}, _ALARMS),
        keys={"data": ENVELOPE},
        send_mail=True,
        **_ARCHIVE,
    ),
    # Every chain (directory), its head and the stream verifier's, a signed checkpoint, the
    # archive flush (lease and archived_through in ops), alarms on a head mismatch; the summaries
    # of failed sign-ins (windows due in ops, closed and leased, the pending marker deleted, the
    # signin_failed event appended).
    "sign_checkpoints": Grants(
        tables=_merge(
            {
                "journal": (QUERY,),
                "events": (QUERY,),
                "checkpoints": (QUERY, PUT),
                "ops": (GET, QUERY, PUT, UPDATE, DELETE, BATCH_WRITE),
                "accounts": (GET,),
            },
            _ALARMS,
            EVENT_APPEND,
        ),
        keys={"signing": SIGNER, "data": ENVELOPE},
        send_mail=True,
        **_ARCHIVE,
    ),
    # Closures: the chain directory and closure index (ops), the closed entries, the closure
    # sealed with its period claim, a checkpoint every N entries. Its period_closed event is
    # derived from the journal's stream, not written here.
    "close_periods": Grants(
        tables={
            "journal": APPEND,
            "checkpoints": (QUERY, PUT),
            "ops": (GET, QUERY, PUT),
            "accounts": (GET,),
        },
        keys={"signing": SIGNER},
    ),
    # Full verifier: every production chain from the table (old events from the archive), the
    # witnesses (archive head and checkpoints, latest checkpoint, stream head), failures journaled;
    # first, the events a failed stream batch left behind are derived (decision 0012).
    "verify_chains": Grants(
        tables=_merge(
            {
                "journal": (GET, QUERY),
                "checkpoints": (QUERY,),
                "ops": (GET, QUERY, PUT),
            },
            _ALARMS,
            EVENT_APPEND,
        ),
        objects={ARCHIVE_BUCKET: {"": (GET_OBJECT,)}},
        list_buckets=(ARCHIVE_BUCKET,),
        keys={"signing": (PUBLIC_KEY,), "data": (DECRYPT,)},
        send_mail=True,  # tamper-alarm fallback
    ),
    # Tickets awaiting a first response (gsi1), marked overdue once, mailed to the operator.
    "check_ticket_sla": Grants(
        tables={"support": (UPDATE,)},
        indexes={"support": ("gsi1",)},
        send_mail=True,
    ),
    # The job (ops), the tenant, every chain to its end (a fresh signed checkpoint), events older
    # than the hot table from the archive, the archive streamed to S3 (multipart), the manifest
    # signed. Export events are journaled by the API (request, download URL), not here.
    "build_export": Grants(
        tables={
            "journal": (QUERY,),
            "events": (QUERY,),
            "checkpoints": (QUERY, PUT),
            "accounts": (GET,),
            "ops": (GET, QUERY, PUT),
        },
        objects={"exports": {"exports/": (PUT_OBJECT, ABORT_UPLOAD)}, ARCHIVE_BUCKET: {"": (GET_OBJECT,)}},
        list_buckets=(ARCHIVE_BUCKET,),
        keys={"signing": SIGNER, "data": (DECRYPT,)},
    ),
    # Audience (accounts Scan of users, or recent activity on gsi1 + GetItem), recipients written
    # in batches and moved one by one, sends, and a new run of itself before the time limit.
    "send_mailing": Grants(
        tables={"accounts": (GET, SCAN), "support": (GET, QUERY, PUT, UPDATE, BATCH_WRITE)},
        indexes={"support": ("gsi1",)},
        send_mail=True,
        invoke=("send_mailing",),
    ),
    # The stored message (inbound/), the sender's account and memberships (gsi1), the ticket or
    # reply (transactions of Puts), an emailed attachment stored under attachments/, mails.
    "inbound_mail": Grants(
        tables={"support": (GET, PUT), "accounts": (GET,)},
        indexes={"accounts": ("gsi1",)},
        objects={"support": {"inbound/": (GET_OBJECT,), "attachments/": (PUT_OBJECT,)}},
        send_mail=True,
    ),
}


class GrantError(ValueError):
    """A declared grant breaks one of the stack's invariants."""


def check_grants(grants: Mapping[str, Grants]) -> None:
    """Refuse, at synth time, a grant that breaks append-only, the signer list or the archive lock."""
    append_only = {t.logical for t in RESOURCES.tables if t.append_only}
    known_tables = {t.logical: {i.name for i in t.indexes} for t in RESOURCES.tables}
    known_buckets = {b.logical for b in RESOURCES.buckets}
    known_keys = {k.logical for k in RESOURCES.keys}
    for name, grant in grants.items():
        for table, actions in grant.tables.items():
            if table not in known_tables:
                raise GrantError(f"{name}: unknown table {table!r}")
            bad = set(actions) & set(ITEM_MUTATIONS)
            if table in append_only and bad:
                raise GrantError(f"{name}: {sorted(bad)} on append-only table {table!r}")
            if any("*" in a or "PartiQL" in a or not a.startswith("dynamodb:") for a in actions):
                raise GrantError(f"{name}: wildcard, PartiQL or non-DynamoDB action on {table!r}")
        for table, indexes in grant.indexes.items():
            if table not in known_tables or not set(indexes) <= known_tables[table]:
                raise GrantError(f"{name}: unknown table or index in {table!r} {sorted(indexes)}")
        if not set(grant.objects) | set(grant.list_buckets) <= known_buckets:
            raise GrantError(f"{name}: unknown bucket in {sorted(set(grant.objects) | set(grant.list_buckets))}")
        for bucket, prefixes in grant.objects.items():
            for prefix, actions in prefixes.items():
                if any("*" in a or not a.startswith("s3:") or a == "s3:ListBucket" for a in actions):
                    raise GrantError(f"{name}: wildcard or non-object action on {bucket}/{prefix}")
                if bucket == ARCHIVE_BUCKET and set(actions) & set(ARCHIVE_DENIED):
                    raise GrantError(f"{name}: {sorted(set(actions) & set(ARCHIVE_DENIED))} on the WORM archive")
        if not set(grant.keys) <= known_keys:
            raise GrantError(f"{name}: unknown key in {sorted(grant.keys)}")
        for key, actions in grant.keys.items():
            if any("*" in a or not a.startswith("kms:") for a in actions):
                raise GrantError(f"{name}: wildcard or non-KMS action on key {key!r}")
        signs = any(SIGN in actions for actions in grant.keys.values())
        if signs and name not in SIGNERS:
            raise GrantError(f"{name}: kms:Sign is reserved to {sorted(SIGNERS)}")


check_grants(GRANTS)
