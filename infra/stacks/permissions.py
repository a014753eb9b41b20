"""Least privilege, declared per function: which actions each Lambda may take on which resource.

One role per function. A function that ``app.py`` registers but that is not listed here gets a
logs-only role (and a synth warning) until someone declares what it uses. Each grant below is
exactly what the function's code calls on AWS (boto3 operations, the AWS Encryption SDK, pre-signed
URLs), read from the code paths it reaches through ``chalicelib.bootstrap``; the comments name
them. ``tests/infra/needs.py`` declares the same calls independently, as boto3 operations, and
``tests/infra/test_needs.py`` checks the synthesized roles against it both ways (nothing missing,
nothing extra). Invariants checked here at synth time and again, on the template, by tests/infra:

* no function may mutate an item of an append-only table (``ITEM_MUTATIONS``);
* ``kms:Sign`` is reserved per key (``KEY_SIGNERS``): the log's signing key to ``SIGNERS``, the
  witness's key to the witness (``WITNESS``) alone, any other key to nobody; the internet-facing
  API is not a signer (issue 14 item 3): it asks ``sign_chain`` (``CHECKPOINT_REQUESTERS``);
* only ``TABLE_WRITERS`` write a writer-restricted table: the published keys (``keys``) are
  written by the signers alone, with ``PutItem`` only (a retired key is overwritten);
* only ``PROVERS`` may call ``kms:GenerateMac`` (make write proofs, decision 0022);
* no function may delete archive objects or touch their lock (``ARCHIVE_DENIED``);
* the witness (decision 0024) writes no table and holds archive objects only under its own prefix
  (``WITNESS_VIEW_PREFIX``), which no other function may reach; only ``WITNESS_CALLERS`` invoke it;
* only ``CHECKPOINT_REQUESTERS`` invoke the signing function (``SIGNING_FUNCTION``);
* scheduled work (decision 0028): a schedule (``DISPATCHERS``) only lists the chains and sends
  units to its own queue (``sqs:GetQueueUrl``, ``sqs:SendMessage``, which also authorises
  ``SendMessageBatch``); it signs nothing and writes no journal. The queue's consumer does the
  work; receiving is its event source mapping's (``functions.py``, from ``RESOURCES.queues``);
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
  two listings; a repeat reads the alarm back, ``GetItem``, to repair them), the record's write
  proof (``kms:GenerateMac``) and, for a record already holding its id, ``kms:VerifyMac`` (decision
  0032), append a
  ``tamper_alarm`` event; if the event journal refuses, the fallback files an integrity anomaly
  and mails the tenant's admins (accounts ``Query``) and the operator (SES).
* **archive write** (``Archive``/``Archiver``): ``PutObject`` with Object Lock retention
  (``PutObjectRetention``) and ``If-None-Match``; the manifest is read back (``GetObject``,
  ``HeadObject``) and segments listed (``ListBucket``); every object is envelope-encrypted by the
  Encryption SDK (``kms:GenerateDataKey``; reading: ``kms:Decrypt``); the lock period comes from
  the tenant's country (accounts ``GetItem``).
* **checkpoint signing** (``CheckpointService.checkpoint``; ``sign_chain``, ``build_export``,
  and ``on_journal_record`` for the checkpoint every ``SCELLE_CHECKPOINT_EVERY`` entries,
  ``CheckpointCadence``): chain ``Query``, checkpoints ``Query`` + conditional ``PutItem``,
  ``kms:Sign``; the key registry (``KeyRegistry.signing_keys``) reads the published keys (keys
  ``Query``; ops ``Query`` while the keys table is still empty, the keys published there before
  being moved over once with keys ``PutItem``) and publishes the signer's key the first time
  (``kms:GetPublicKey``, keys ``PutItem``; a replaced key is closed by overwriting its item, keys
  ``PutItem`` again); every entry after the anchor checkpoint has its write proof checked
  (``kms:VerifyMac``, below); a refusal that blames the anchor's last entry reads it back (chain
  ``GetItem``) and is a tamper alarm. Before the checkpoint it stores the tree's new tiles
  (decision 0026): tiles ``BatchGetItem`` (the previous right edge), conditional ``PutItem``, a
  refused one read back (``BatchGetItem``).
* **checkpoint reading** (``CheckpointService.compact_at``: a closure's Merkle root; the
  verification service; ``KeyRegistry.published``: ``GET /v1/keys``, exports): the same reads and
  checks as signing (chain ``Query``, ``GetItem`` on a refusal, checkpoints ``Query``, keys
  ``Query``, ops ``Query`` while the keys table is empty, ``kms:GetPublicKey`` for the signer's
  key id, ``kms:VerifyMac``), and nothing written: no ``kms:Sign``, no checkpoint, no key.
* **on-demand checkpoint** (``POST /v1/tenants/{id}/checkpoints``, ``LambdaCheckpointSigning``):
  the API invokes ``sign_chain`` synchronously (``lambda:InvokeFunction`` on that function
  only, ``SCELLE_SIGNER_FUNCTION``) with the tenant and chain of its own access check; the signing
  function runs **checkpoint signing** and answers the checkpoint or the refusal.
* **write proof** (``Container.write_proofs``, decision 0022): every record a ``ChainWriter``
  seals, so every **seal** and every **event append** (tamper alarms, derived events, sign-in
  summaries included), first gets ``kms:GenerateMac`` on the write-proof key. ``kms:VerifyMac``
  checks a proof: the stream verifiers on every inserted entry, checkpoint signing (above, also
  ``compact_at`` in closures and exports), the verification service (``POST /verifications``, the
  full verifier) on the entries after the newest checkpoint.
* **witness submission** (``WitnessSubmitter``, decision 0024; ``sign_chain`` after each
  chain is signed, ``build_export`` for the checkpoint it signs): the newest checkpoint
  (checkpoints ``Query``), the cosignature already kept (ops ``GetItem``), the witness invoked
  synchronously (``lambda:InvokeFunction`` on ``witness_checkpoint`` only: ``describe``,
  ``latest``, ``add``), the consistency proof from the compact range at or below the witnessed
  size (checkpoints ``Query``) and the entries after it (chain ``Query``), the cosignature kept
  (ops ``PutItem``) and listed for exports (ops ``Query``); a refusal is a tamper alarm, raised
  here, never by the witness.
* **the witness itself** (``witness_checkpoint``, ``Container.witness``): its own key
  (``kms:Sign``, ``kms:GetPublicKey`` on the witness key), the log's public key as configured
  (``kms:GetPublicKey`` on the signing key, never ``kms:Sign``), its view under ``witness/`` of
  the archive bucket (``ListBucket`` with an ``s3:prefix`` condition, ``GetObject``, ``PutObject``
  with ``If-None-Match`` and Object Lock retention). No table, no mail, no alarm.

No ``kms:DescribeKey``: the stack passes key ARNs (``SCELLE_SIGNING_KEY_ID``,
``SCELLE_DATA_KEY_ID``, ``SCELLE_WRITE_PROOF_KEY_ID``, ``SCELLE_WITNESS_KEY_ID``), so neither the
signers, the write-proof adapter nor the Encryption SDK looks a key up. No ``kms:Verify``:
signatures are verified locally with the published public key.

docs/security.md has the table of grants per function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.resources import RESOURCES
from infra.stacks.data import ARCHIVE_DENIED, ITEM_MUTATIONS, ITEM_WRITES, WRITE_DENY_SIDS

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
TABLE_WRITES = frozenset({PUT, UPDATE, DELETE, BATCH_WRITE})  # the witness holds none of them
APPEND = (GET, QUERY, PUT)  # ChainWriter: head, conditional put, a lost answer read back
# Tiles of the Merkle trees (decision 0026): a signer reads the right-edge tiles it extends and
# puts new ones conditionally (a refused put read back); proofs read them (BatchGetItem only).
TILES_TABLE = "tiles"
TILE_WRITE = (BATCH_GET, PUT)
TILE_READ = (BATCH_GET,)
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
GENERATE_MAC = "kms:GenerateMac"  # write proof of every sealed record (seal, event append)
VERIFY_MAC = "kms:VerifyMac"  # write proof checked (stream verifier, checkpoint signing, verification)
SIGNER = (SIGN, PUBLIC_KEY)
ENVELOPE = (GENERATE_DATA_KEY, DECRYPT)
PROVE_AND_CHECK = (GENERATE_MAC, VERIFY_MAC)

# ---- SQS (work queues, decision 0028) ----------------------------------------------------------
QUEUE_URL = "sqs:GetQueueUrl"  # SqsWorkQueues looks its queue's URL up by name
SEND = "sqs:SendMessage"  # also authorises SendMessageBatch
QUEUE_SEND = (QUEUE_URL, SEND)

# Who may sign with the log's signing key: the checkpoint signer (one unit per chain every 5
# minutes, and on demand for the API), the journal's stream handler (the checkpoint every
# SCELLE_CHECKPOINT_EVERY entries, off the request path) and the export builder (a checkpoint at
# each chain's end, the manifest).
# Not the internet-facing API (issue 14 item 3), nor the period closer: a closure only computes a
# Merkle root (compact_at), which reads; nor a schedule: it only queues units (DISPATCHERS).
SIGNERS = frozenset({"sign_chain", "on_journal_record", "build_export"})
# The function that signs on-demand checkpoints, and who asks it (POST …/checkpoints):
# lambda:InvokeFunction on it, SCELLE_SIGNER_FUNCTION.
SIGNING_FUNCTION = "sign_chain"
CHECKPOINT_REQUESTERS = frozenset({"api_handler"})
# Tables that only some functions may write, with PutItem only (and, on AWS, whose resource policy
# denies every write to all other principals but the break-glass role): the published keys, which
# only a signer publishes or closes (KeyRegistry.signing_keys; a retired key's item is overwritten).
KEYS_TABLE = "keys"
KEY_PUBLISHERS = SIGNERS
TABLE_WRITERS: Mapping[str, frozenset[str]] = {KEYS_TABLE: KEY_PUBLISHERS}
# The independent witness (decision 0024): its own function, role and key. Never a log signer.
WITNESS = "witness_checkpoint"
WITNESS_KEY = "witness"
# kms:Sign per key: a key not listed here may be signed with by nobody.
KEY_SIGNERS: Mapping[str, frozenset[str]] = {"signing": SIGNERS, WITNESS_KEY: frozenset({WITNESS})}
# Who submits checkpoints to the witness (lambda:InvokeFunction on it, SCELLE_WITNESS_FUNCTION).
WITNESS_CALLERS = frozenset({"sign_chain", "build_export"})
# Who may make write proofs: every function that seals a ledger entry or appends an event (the
# API; closures; the journal stream's derived events; tamper alarms of the stream handlers, the
# signer and the full verifier; anomaly events; sign-in summaries (sealed by the sign_checkpoints
# schedule itself); verification failures). Not the export builder (it journals nothing), nor the
# support and mailing functions, nor the close_periods and verify_chains schedules (they queue).
PROVERS = frozenset({
    "api_handler",
    "on_journal_record",
    "on_events_record",
    "on_checkpoint_record",
    "sign_checkpoints",
    "sign_chain",
    "close_chain",
    "verify_chain",
})
# Scheduled work (decision 0028): work queue (RESOURCES.queues) -> the schedule that lists the chains
# and sends one unit per chain to it, and to no other queue. The queue's consumer does the work.
DISPATCHERS: Mapping[str, str] = {
    "sign-work": "sign_checkpoints",
    "close-work": "close_periods",
    "verify-work": "verify_chains",
}
ARCHIVE_BUCKET = "archive"
# Every archive object is under v1/ (chalicelib/services/archive.py: v1/chains/, v1/keys/); the
# witness's view is under witness/ (chalicelib/adapters/witness_view.py). Neither reaches the other.
ARCHIVE_PREFIX = "v1/"
WITNESS_VIEW_PREFIX = "witness/"


@dataclass(frozen=True)
class Grants:
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # table -> actions on the table
    indexes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # table -> indexes it queries
    # bucket -> key prefix ("" = every key) -> object actions
    objects: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # Buckets it lists, or reads keys of that may be missing (S3 answers 404 rather than 403 only
    # to a caller that may list the bucket).
    list_buckets: tuple[str, ...] = ()
    # bucket -> the only key prefix it may list (an s3:prefix condition on its ListBucket)
    list_prefixes: Mapping[str, str] = field(default_factory=dict)
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    send_mail: bool = False  # ses:SendEmail, From = mail_from only
    cognito: tuple[str, ...] = ()
    # handlers it invokes: started asynchronously (itself included), or the witness, synchronously
    invoke: tuple[str, ...] = ()
    # work queue (RESOURCES.queues) -> what it sends there (QUEUE_SEND). Receiving is not declared
    # here: the event source mapping of the queue's consumer needs it (functions.py).
    queues: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
_ARCHIVE = {"objects": {ARCHIVE_BUCKET: {ARCHIVE_PREFIX: ARCHIVE_WRITE}}, "list_buckets": (ARCHIVE_BUCKET,)}

GRANTS: dict[str, Grants] = {
    "api_handler": Grants(
        tables=_merge(
            _every_table((DESCRIBE,)),  # GET /health: DescribeTable on every table
            {
                # ledger: entries (append, GET entry, closures), listing by time (found by seq)
                "journal": APPEND,
                # event journal: every action but the ledger's is journaled here; GET events lists
                # by time (found by seq); on-demand verification of the events chain (range anchor GetItem)
                "events": APPEND,
                # read only: lists, proofs, receipts, closures (compact_at), verification. The
                # API signs nothing: on-demand checkpoints are signed by sign_chain, the
                # checkpoint every N entries by on_journal_record.
                "checkpoints": (QUERY,),
                # GET entry and the receipt check: the proof's tiles, one BatchGetItem
                TILES_TABLE: TILE_READ,
                # the published keys (KeyRegistry.published: GET /v1/keys, closures, verification);
                # never written by the API
                "keys": (QUERY,),
                # sign-up/in, members, invitations (transactions with ConditionCheck/Update),
                # throttles (DeleteItem), access (BatchGetItem), memberships (gsi1)
                "accounts": (GET, BATCH_GET, QUERY, PUT, UPDATE, DELETE, CONDITION_CHECK),
                # Powertools idempotency: put, get, update, delete of a failed record
                "idempotency": (GET, PUT, UPDATE, DELETE),
                # tickets, news, mailings (queue and lists on gsi1, BatchGetItem of tickets)
                "support": (GET, BATCH_GET, QUERY, PUT, UPDATE),
                # chain directory, keys published before the keys table (read while it is empty),
                # claims of the seals and event head pointers (decision 0012), export jobs and their
                # list (BatchGetItem of a page's jobs), anomaly and alarm lists, failed sign-ins
                # counted per window (UpdateItem)
                "ops": (GET, BATCH_GET, QUERY, PUT, UPDATE),
            },
        ),
        indexes={"accounts": ("gsi1",), "support": ("gsi1",)},
        objects={
            "exports": {"exports/": (GET_OBJECT,)},  # HeadObject + the pre-signed download URL
            # pre-signed upload (POST) and download of ticket attachments, HeadObject
            "support": {"attachments/": (GET_OBJECT, PUT_OBJECT)},
            # on-demand verification of the events chain: entries expired from the hot table
            ARCHIVE_BUCKET: {ARCHIVE_PREFIX: (GET_OBJECT,)},
        },
        # an expired export / missing attachment is a 404; archive segments are listed
        list_buckets=("exports", "support", ARCHIVE_BUCKET),
        # signing: the public key only (the key registry's id of the signer's key, read to check
        # the published keys), never kms:Sign; data: archived events read back; write_proof: every
        # seal and event, closures (compact_at), POST verifications
        keys={"signing": (PUBLIC_KEY,), "data": (DECRYPT,), "write_proof": PROVE_AND_CHECK},
        send_mail=True,
        cognito=(
            "cognito-idp:AdminConfirmSignUp",
            "cognito-idp:AdminDeleteUser",
            "cognito-idp:AdminGetUser",
            "cognito-idp:AdminSetUserPassword",  # POST /v1/password-reset/confirm
            "cognito-idp:AdminUpdateUserAttributes",
            "cognito-idp:AdminUserGlobalSignOut",
        ),
        # exports and mailings started asynchronously; on-demand checkpoints signed synchronously
        invoke=("build_export", "send_mailing", SIGNING_FUNCTION),
    ),
    "jwt_authorizer": Grants(),  # verifies tokens against the pool's public JWKS: no AWS call
    # Stream verifier + archiver of the journal: head state and pending entries (ops), catch-up
    # reads of missed entries, chain registration, tamper alarms, archive segments; the ledger's
    # events derived from the stream (cursor in ops, the events appended). The write proof of
    # every inserted entry is checked; derived events and alarms are proven. Every
    # SCELLE_CHECKPOINT_EVERY-th entry, the chain's checkpoint is signed here (CheckpointCadence,
    # off the API's request path): checkpoint signing, the anchor's last entry read on a refusal.
    "on_journal_record": Grants(
        tables=_merge({"journal": (GET, QUERY), "ops": (GET, QUERY, PUT, UPDATE, BATCH_WRITE), "accounts": (GET,),
                       "checkpoints": (QUERY, PUT), KEYS_TABLE: (QUERY, PUT), TILES_TABLE: TILE_WRITE},
                      _ALARMS, EVENT_APPEND),
        keys={"signing": SIGNER, "data": ENVELOPE, "write_proof": PROVE_AND_CHECK},
        send_mail=True,  # tamper-alarm fallback
        **_ARCHIVE,
    ),
    # The same for the event journal, plus the anomaly rules: history by time (Query by seq), the tenant (time
    # zone, hours), a reversal's amount (journal GetItem), first-export markers and anomalies in
    # ops, the anomaly event, mails to the tenant's admins and the operator. Write proofs: each
    # inserted event checked, the anomaly and alarm events proven.
    "on_events_record": Grants(
        tables=_merge(
            {"journal": (GET,), "ops": (GET, QUERY, PUT, UPDATE, BATCH_WRITE), "accounts": (GET, QUERY)}, _ALARMS,
            EVENT_APPEND
        ),
        keys={"data": ENVELOPE, "write_proof": PROVE_AND_CHECK},
        send_mail=True,
        **_ARCHIVE,
    ),
    # Archives each new checkpoint and the published keys (keys Query; an archived key is read
    # back to compare); a changed or deleted checkpoint is a tamper alarm. The checkpoint itself
    # comes from the stream image: no read of the checkpoints table. It checks no entry; its alarm
    # records and tamper_alarm events are proven (kms:GenerateMac), and a stored record holding an
    # alarm's id is checked to be ours (kms:VerifyMac, decision 0032).
    "on_checkpoint_record": Grants(
        tables=_merge({KEYS_TABLE: (QUERY,), "accounts": (GET,)}, _ALARMS),
        keys={"data": ENVELOPE, "write_proof": PROVE_AND_CHECK},
        send_mail=True,
        **_ARCHIVE,
    ),
    # The schedules of scheduled work (decision 0028, DISPATCHERS): each lists the chains (the chain
    # directory, ops Query) and sends one unit per chain to its own queue; none signs, seals an
    # entry or reads a chain. sign_checkpoints also seals the summaries of failed sign-ins (decision
    # 0011): windows due in ops, closed and leased, the pending marker deleted, the signin_failed
    # event appended with its write proof.
    "sign_checkpoints": Grants(
        tables=_merge({"ops": (GET, QUERY, UPDATE, DELETE)}, EVENT_APPEND),
        keys={"write_proof": (GENERATE_MAC,)},
        queues={"sign-work": QUEUE_SEND},
    ),
    "close_periods": Grants(tables={"ops": (QUERY,)}, queues={"close-work": QUEUE_SEND}),
    "verify_chains": Grants(tables={"ops": (QUERY,)}, queues={"verify-work": QUEUE_SEND}),
    # One chain per unit of sign-work: its head and the stream verifier's, a signed checkpoint, the
    # archive flush (lease and archived_through in ops), alarms on a head mismatch. Write proofs:
    # every entry signed for the first time checked; alarms proven. The chain's newest checkpoint
    # submitted to the witness (its refusals alarmed here); the daily Z report (ClosureReporter):
    # closures index (ops Query), the closure (journal GetItem), the newest checkpoint, the ZREPORT#
    # cursor (ops GetItem, PutItem, UpdateItem), the tenant (accounts GetItem), its admins and
    # accountants (accounts Query), the mail. Invoked by the API (CHECKPOINT_REQUESTERS) with
    # {"action": "sign"}: one chain's checkpoint signed on demand, the same checkpoint signing.
    "sign_chain": Grants(
        tables=_merge(
            {
                "journal": (GET, QUERY),
                "events": (QUERY,),
                "checkpoints": (QUERY, PUT),
                KEYS_TABLE: (QUERY, PUT),
                TILES_TABLE: TILE_WRITE,
                "ops": (GET, QUERY, PUT, UPDATE, BATCH_WRITE),
                "accounts": (GET,),
            },
            _ALARMS,
            EVENT_APPEND,
        ),
        keys={"signing": SIGNER, "data": ENVELOPE, "write_proof": PROVE_AND_CHECK},
        send_mail=True,
        invoke=(WITNESS,),
        **_ARCHIVE,
    ),
    # Closures, one production ledger chain per unit of close-work: the closure index (ops), the
    # closed entries, the closure sealed with its period claim (its write proof made), its Merkle
    # root from compact_at (checkpoint reading: write proofs of the entries since the last
    # checkpoint checked, the published keys read with the signer's public key). It signs nothing:
    # the closure's checkpoint comes from the journal's stream or the signer. Its period_closed
    # event is derived from the journal's stream, not written here.
    "close_chain": Grants(
        tables={
            "journal": APPEND,
            "checkpoints": (QUERY,),
            KEYS_TABLE: (QUERY,),
            "ops": (GET, QUERY, PUT),
            "accounts": (GET,),
        },
        keys={"signing": (PUBLIC_KEY,), "write_proof": PROVE_AND_CHECK},
    ),
    # Full verifier, one chain (or one slice of it) per unit of verify-work: the chain from the
    # table (old events from the archive), the witnesses (archive head and checkpoints, latest
    # checkpoint, stream head), failures journaled; first, the events a failed stream batch left
    # behind are derived (decision 0012). Write proofs of the entries after each chain's newest
    # checkpoint checked; the events it appends proven. A chain longer than a slice sends its
    # continuation to verify-work.
    "verify_chain": Grants(
        tables=_merge(
            {
                "journal": (GET, QUERY),
                "checkpoints": (QUERY,),
                KEYS_TABLE: (QUERY,),  # the published keys (KeyRegistry.published, read only)
                "ops": (GET, QUERY, PUT),
                # a signed root the entries no longer rebuild: the signed tree's leaves name the
                # first rewritten entry (VerificationService._first_rewritten)
                TILES_TABLE: TILE_READ,
            },
            _ALARMS,
            EVENT_APPEND,
        ),
        objects={ARCHIVE_BUCKET: {ARCHIVE_PREFIX: (GET_OBJECT,)}},
        list_buckets=(ARCHIVE_BUCKET,),
        keys={"signing": (PUBLIC_KEY,), "data": (DECRYPT,), "write_proof": PROVE_AND_CHECK},
        send_mail=True,  # tamper-alarm fallback
        queues={"verify-work": QUEUE_SEND},  # a long chain's next slice
    ),
    # Tickets awaiting a first response (gsi1), marked overdue once, mailed to the operator.
    "check_ticket_sla": Grants(
        tables={"support": (UPDATE,)},
        indexes={"support": ("gsi1",)},
        send_mail=True,
    ),
    # The job (ops), the tenant, every chain to its end (a fresh signed checkpoint), events older
    # than the hot table from the archive, the archive streamed to S3 (multipart), the manifest
    # signed. Export events are journaled by the API (request, download URL), not here: it checks
    # write proofs (the checkpoint at each chain's end) but makes none. The checkpoint it signs is
    # submitted to the witness and the kept cosignatures listed (ops) for cosignatures.csv.
    "build_export": Grants(
        tables={
            # entries; the anchor's last entry read back when a signing refusal blames it (and,
            # on the event journal, the stored last entry of a checkpoint whose subtree expired)
            "journal": (GET, QUERY),
            "events": (GET, QUERY),
            "checkpoints": (QUERY, PUT),
            KEYS_TABLE: (QUERY, PUT),
            TILES_TABLE: TILE_WRITE,
            "accounts": (GET,),
            "ops": (GET, QUERY, PUT),
        },
        objects={"exports": {"exports/": (PUT_OBJECT, ABORT_UPLOAD)}, ARCHIVE_BUCKET: {ARCHIVE_PREFIX: (GET_OBJECT,)}},
        list_buckets=(ARCHIVE_BUCKET,),
        keys={"signing": SIGNER, "data": (DECRYPT,), "write_proof": (VERIFY_MAC,)},
        invoke=(WITNESS,),
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
    # The independent witness (decision 0024), invoked by WITNESS_CALLERS: its own key, the log's
    # public key (never kms:Sign on it), its view under witness/ of the archive, listed by prefix.
    # No table, no mail, no other object: a refusal is answered to the caller, which alarms.
    WITNESS: Grants(
        objects={ARCHIVE_BUCKET: {WITNESS_VIEW_PREFIX: ARCHIVE_WRITE}},
        list_buckets=(ARCHIVE_BUCKET,),
        list_prefixes={ARCHIVE_BUCKET: WITNESS_VIEW_PREFIX},
        keys={WITNESS_KEY: SIGNER, "signing": (PUBLIC_KEY,)},
    ),
}


class GrantError(ValueError):
    """A declared grant breaks one of the stack's invariants."""


def check_grants(grants: Mapping[str, Grants]) -> None:
    """Refuse, at synth time, a grant that breaks append-only, the writers of a writer-restricted
    table, the signers of a key, the prover list, the archive lock, the witness's independence or
    who asks for on-demand checkpoints."""
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
            writes = set(actions) & set(ITEM_WRITES)
            if table in TABLE_WRITERS and writes and name not in TABLE_WRITERS[table]:
                raise GrantError(f"{name}: {sorted(writes)} on {table!r}, which only "
                                 f"{sorted(TABLE_WRITERS[table])} write")
            if table in TABLE_WRITERS and writes - {PUT}:
                raise GrantError(f"{name}: {sorted(writes - {PUT})} on {table!r}: its writers put items, "
                                 "never update or delete them")
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
        if not set(grant.list_prefixes) <= set(grant.list_buckets):
            raise GrantError(f"{name}: a list prefix for a bucket it may not list {sorted(grant.list_prefixes)}")
        if not set(grant.keys) <= known_keys:
            raise GrantError(f"{name}: unknown key in {sorted(grant.keys)}")
        for key, actions in grant.keys.items():
            if any("*" in a or not a.startswith("kms:") for a in actions):
                raise GrantError(f"{name}: wildcard or non-KMS action on key {key!r}")
            if SIGN in actions and name not in KEY_SIGNERS.get(key, ()):
                raise GrantError(f"{name}: kms:Sign with key {key!r} is reserved to "
                                 f"{sorted(KEY_SIGNERS.get(key, ()))}")
        proves = any(GENERATE_MAC in actions for actions in grant.keys.values())
        if proves and name not in PROVERS:
            raise GrantError(f"{name}: kms:GenerateMac is reserved to {sorted(PROVERS)}")
        _check_witness(name, grant)
        if SIGNING_FUNCTION in grant.invoke and name not in CHECKPOINT_REQUESTERS:
            raise GrantError(f"{name}: only {sorted(CHECKPOINT_REQUESTERS)} invoke {SIGNING_FUNCTION}")
        _check_queues(name, grant)


def _check_queues(name: str, grant: Grants) -> None:
    """A function sends to a work queue (QUEUE_SEND) and nothing else: receiving and deleting
    are its event source mapping's. A schedule (DISPATCHERS) sends to its own queue only, and holds
    no kms:Sign nor any journal write: the work is its consumer's (decision 0028)."""
    known = {q.logical for q in RESOURCES.queues}
    for queue, actions in grant.queues.items():
        if queue not in known:
            raise GrantError(f"{name}: unknown queue {queue!r}")
        if not set(actions) <= set(QUEUE_SEND):
            raise GrantError(f"{name}: {sorted(set(actions) - set(QUEUE_SEND))} on queue {queue!r}: a function "
                             "only sends units (receiving is the event source mapping's)")
    own = {q for q, dispatcher in DISPATCHERS.items() if dispatcher == name}
    if own:
        if set(grant.queues) != own:
            raise GrantError(f"{name}: a schedule sends to its own queue {sorted(own)} only, "
                             f"not {sorted(grant.queues)}")
        if any(SIGN in actions for actions in grant.keys.values()):
            raise GrantError(f"{name}: a schedule only queues units; kms:Sign is its consumer's")
        if set(grant.tables.get("journal", ())) & set(ITEM_WRITES):
            raise GrantError(f"{name}: a schedule only queues units; journal writes are its consumer's")


def _check_witness(name: str, grant: Grants) -> None:
    """The witness is independent of the log's writers (decision 0024): it writes no table and
    reaches only its own view; no other function reaches its view; only the callers invoke it."""
    prefixes = [(bucket, prefix) for bucket, by_prefix in grant.objects.items() for prefix in by_prefix]
    if name == WITNESS:
        writes = {t: sorted(set(a) & TABLE_WRITES) for t, a in grant.tables.items() if set(a) & TABLE_WRITES}
        if writes:
            raise GrantError(f"{name}: the witness writes no table, not {writes}")
        outside = [f"{b}/{p}" for b, p in prefixes if b != ARCHIVE_BUCKET or not p.startswith(WITNESS_VIEW_PREFIX)]
        if outside:
            raise GrantError(f"{name}: the witness's objects are under {ARCHIVE_BUCKET}/{WITNESS_VIEW_PREFIX} only, "
                             f"not {outside}")
        listed = {b: grant.list_prefixes.get(b, "") for b in grant.list_buckets}
        if any(b != ARCHIVE_BUCKET or not p.startswith(WITNESS_VIEW_PREFIX) for b, p in listed.items()):
            raise GrantError(f"{name}: the witness lists only {ARCHIVE_BUCKET}/{WITNESS_VIEW_PREFIX}, not {listed}")
    else:
        view = [p for b, p in prefixes
                if b == ARCHIVE_BUCKET and (WITNESS_VIEW_PREFIX.startswith(p) or p.startswith(WITNESS_VIEW_PREFIX))]
        if view:
            raise GrantError(f"{name}: {ARCHIVE_BUCKET}/{view} reaches the witness's view ({WITNESS_VIEW_PREFIX})")
    if WITNESS in grant.invoke and name not in WITNESS_CALLERS:
        raise GrantError(f"{name}: only {sorted(WITNESS_CALLERS)} invoke the witness")


if SIGNERS & KEY_SIGNERS[WITNESS_KEY] or WITNESS in PROVERS or WITNESS in WITNESS_CALLERS:
    raise GrantError("the witness must be neither a log signer, a prover nor its own caller")
if set(TABLE_WRITERS) != set(WRITE_DENY_SIDS):
    raise GrantError("each writer-restricted table needs its resource policy (WRITE_DENY_SIDS in data.py)")
if SIGNING_FUNCTION not in SIGNERS or CHECKPOINT_REQUESTERS & SIGNERS:
    raise GrantError("on-demand checkpoints are signed by a signer for functions that are not signers")
if set(DISPATCHERS) != {q.logical for q in RESOURCES.queues} or set(DISPATCHERS.values()) & SIGNERS:
    raise GrantError("each work queue has its schedule (DISPATCHERS), which is not a signer")


check_grants(GRANTS)
