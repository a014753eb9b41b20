"""What each deployed function's code calls on AWS, declared independently of infra/.

Read from the code each handler reaches (``chalicelib/handlers`` -> ``bootstrap.container()`` ->
services -> adapters), written as the calls the code makes — boto3 client operations, the AWS
Encryption SDK, pre-signed URLs — never as IAM actions. ``test_needs.py`` translates them into
IAM actions and resource ARNs (``iam_for``) and checks each function's synthesized role both
ways: every call is allowed, and nothing is allowed that no call needs.

A need is ``(call, target, via)``:

* ``call``: ``<client>.<operation>`` with an optional ``[variant]``:
  ``transact_write_items[Put|Update|ConditionCheck]``, ``batch_write_item[Put]``,
  ``put_object[lock]`` (Object Lock retention on the put), ``get_object[maybe-missing]`` /
  ``head_object[maybe-missing]`` (the code expects a 404, which S3 only answers to a caller that
  may list the bucket), ``generate_presigned_url[get_object]``; ``esdk.encrypt|decrypt`` is the
  AWS Encryption SDK with one KMS master key.
* ``target``: a table (``journal``, ``accounts/index/gsi1``, ``keys``), ``<bucket>:<object key>``
  or a bucket, a key (``signing``, ``data``, ``write_proof``, ``witness``), a function name,
  ``mail`` (the sender identity), ``pool`` (the user pool) or a work queue (``sign-work``).
* ``via``: the code path, for the reader.

Local-mode-only paths (the TTL sweeper, the outbox, ``POST /v1/local/inbound-mail``) are not
listed: they never run on AWS.
"""

from __future__ import annotations

Need = tuple[str, str, str]

SEGMENT = "v1/chains/t/prod.sales.r1/segments/000000000001.seg"
MANIFEST = "v1/chains/t/prod.sales.r1/manifest.json"
PAGE = "v1/chains/t/prod.sales.r1/pages/000000000001.page"
ARCHIVED_CHECKPOINT = "v1/chains/t/prod.sales.r1/checkpoints/000000000100.ckpt"
ARCHIVED_KEY = "v1/keys/arn%3Aaws%3Akms%3Aeu-west-1%3A1%3Akey%2Fk.json"
EXPORT = "exports/t/x1/export.zip"
ATTACHMENT = "attachments/t/k1/m1/invoice.pdf"
INBOUND = "inbound/0123abcd"
COSIGNATURE = "witness/v1/t/prod.sales.r1/000000000100.cosig"  # the witness's view (decision 0024)
WITNESS = "witness_checkpoint"
SIGNER_FUNCTION = "sign_chain"  # signs on-demand checkpoints for the API (SCELLE_SIGNER_FUNCTION)


def queue_units(queue: str, via: str) -> list[Need]:
    """SqsWorkQueues.send (decision 0028): the queue's URL looked up by name, once per container,
    then SendMessageBatch, 10 units a call (IAM authorises each as SendMessage)."""
    return [("sqs.get_queue_url", queue, f"{via}: SqsWorkQueues._url"),
            ("sqs.send_message_batch", queue, f"{via}: SqsWorkQueues.send, 10 units a call")]


def seal(via: str) -> list[Need]:
    """ChainWriter on a ledger chain (decision 0012): the head, each entry's write proof (decision
    0022), then one conditional write — a PutItem, or a transaction with the operation's claims in
    ops; a refused claim is read back (replay), and a write whose answer was lost is looked up
    before it is retried."""
    return [("dynamodb.query", "journal", f"{via} (ChainWriter head)"),
            ("kms.generate_mac", "write_proof", f"{via} (KmsWriteProofs.prove: each entry's write proof)"),
            ("dynamodb.put_item", "journal", f"{via} (conditional append, no claim)"),
            ("dynamodb.transact_write_items[Put]", "journal", f"{via} (entry + claims)"),
            ("dynamodb.transact_write_items[Put]", "ops", f"{via} (receipt, key, reversal, closure claims)"),
            ("dynamodb.get_item", "ops", f"{via} (the claim that refused the seal)"),
            ("dynamodb.get_item", "journal", f"{via} (a lost answer: is our entry stored?)")]


def append(table: str, via: str) -> list[Need]:
    """ChainWriter on an event chain: the head pointer in ops (the table's items expire, the
    pointer never does), the table's head for a chain without one, the event's write proof, then
    the event and the pointer's compare-and-set in one transaction."""
    assert table == "events", table
    return [("dynamodb.get_item", "ops", f"{via} (head pointer)"),
            ("kms.generate_mac", "write_proof", f"{via} (KmsWriteProofs.prove: the event's write proof)"),
            ("dynamodb.query", "events", f"{via} (table head, a chain without a pointer)"),
            ("dynamodb.transact_write_items[Put]", "events", f"{via} (the event)"),
            ("dynamodb.transact_write_items[Put]", "ops", f"{via} (head pointer compare-and-set)"),
            ("dynamodb.get_item", "events", f"{via} (a lost answer: is our event stored?)")]


def derive_events(via: str) -> list[Need]:
    """EventDeriver (decision 0012): a source chain's cursor, its entries after the cursor, and
    each event sealed with the cursor's compare-and-set in the same transaction."""
    return [("dynamodb.get_item", "ops", f"{via}: derivation cursor of the source chain"),
            ("dynamodb.query", "journal", f"{via}: the source entries after the cursor"),
            *append("events", f"{via}: sale_recorded, journal_recorded, entry_reversed, period_closed")]


def tamper_alarm(via: str) -> list[Need]:
    """AlarmService.raise_alarm, with its fallback when the event journal refuses the event."""
    return [
        ("dynamodb.put_item", "ops", f"{via}: ALARM# item, once per evidence (put_once), and its ALARMS and "
                                     "ALARMCHAIN# listings (put_once)"),
        ("dynamodb.get_item", "ops", f"{via}: a repeated alarm read back to repair its listings"),
        ("kms.generate_mac", "write_proof", f"{via}: the alarm record's write proof (decision 0032)"),
        ("kms.verify_mac", "write_proof", f"{via}: a stored record holding the alarm's id is ours (decision 0032)"),
        *append("events", f"{via}: tamper_alarm event"),
        ("dynamodb.query", "accounts", f"{via}: fallback anomaly mail to the tenant's admins (roster)"),
        ("ses.send_email", "mail", f"{via}: fallback anomaly mail to admins and SCELLE_OPERATOR_EMAIL"),
    ]


def archive_write(via: str) -> list[Need]:
    """Archiver.flush / Archive.write_* / Archive.commit (decision 0017): locked objects, the
    manifest index's metadata, pages and the segments after them listed."""
    return [
        ("esdk.encrypt", "data", f"{via}: every archive object is envelope-encrypted"),
        ("s3.put_object[lock]", f"archive:{SEGMENT}", f"{via}: segment, If-None-Match, COMPLIANCE retention"),
        ("s3.head_object", f"archive:{SEGMENT}", f"{via}: segment already written; newest segment; a page's segments"),
        ("s3.head_object[maybe-missing]", f"archive:{MANIFEST}", f"{via}: commit, the index (none yet: 404)"),
        ("s3.get_object", f"archive:{MANIFEST}", f"{via}: a legacy v1 manifest, read once to page it"),
        ("esdk.decrypt", "data", f"{via}: the legacy manifest read back"),
        ("s3.list_objects_v2", "archive", f"{via}: pages, and segments after the last page"),
        ("s3.put_object[lock]", f"archive:{PAGE}", f"{via}: a manifest page, If-None-Match, once per 100 segments"),
        ("s3.head_object", f"archive:{PAGE}", f"{via}: a page already written, or written after the index"),
        ("s3.put_object[lock]", f"archive:{MANIFEST}", f"{via}: a new version of the index (metadata only)"),
        ("dynamodb.get_item", "accounts", f"{via}: RetentionPolicy, the tenant's country"),
    ]


def archive_read(via: str) -> list[Need]:
    return [
        ("s3.head_object[maybe-missing]", f"archive:{MANIFEST}", f"{via}: the manifest index"),
        ("s3.get_object", f"archive:{MANIFEST}", f"{via}: a legacy v1 manifest"),
        ("s3.list_objects_v2", "archive", f"{via}: pages, and segments after the last page"),
        ("s3.head_object", f"archive:{PAGE}", f"{via}: the last page's range"),
        ("s3.get_object", f"archive:{PAGE}", f"{via}: a manifest page"),
        ("s3.head_object", f"archive:{SEGMENT}", f"{via}: segment info (the tail)"),
        ("s3.get_object", f"archive:{SEGMENT}", f"{via}: segment"),
        ("esdk.decrypt", "data", f"{via}: pages, a legacy manifest, segments"),
    ]


def published_keys(via: str) -> list[Need]:
    """KeyRegistry.published: reads only (the keys table; ops while it is empty), and the signer's
    key id, whose fingerprint is that of the public key KMS returns."""
    return [
        ("dynamodb.query", "keys", f"{via}: KeyRegistry, the published keys"),
        ("dynamodb.query", "ops", f"{via}: KeyRegistry, keys published in ops before the keys table (while it "
                                  "is empty)"),
        ("kms.get_public_key", "signing", f"{via}: KmsSigner.key_id (kms:<ARN>:<fingerprint>), the signer's "
                                          "published key checked against it"),
    ]


def checkpoint_reading(chain_table: str, via: str) -> list[Need]:
    """CheckpointService.compact_at: what signing verifies, without signing (KeyRegistry.published)."""
    return [
        ("dynamodb.query", chain_table, f"{via}: entries since the newest checkpoint at or below the size"),
        ("dynamodb.get_item", chain_table, f"{via}: a refusal that blames the anchor's last entry reads it back"),
        ("kms.verify_mac", "write_proof", f"{via}: the write proof of every entry after the anchor checkpoint"),
        ("dynamodb.query", "checkpoints", f"{via}: the anchor checkpoint (latest_at_or_below)"),
        *published_keys(via),
    ]


def checkpoint_signing(chain_table: str, via: str) -> list[Need]:
    """CheckpointService.checkpoint and KeyRegistry.signing_keys: the reads above, then the
    signer's key published (once; the key it replaces closed by overwriting its item; keys
    published in ops moved over once), the signature, the checkpoint."""
    return [
        ("dynamodb.query", chain_table, f"{via}: chain head and entries since the last checkpoint"),
        *checkpoint_reading(chain_table, via),
        ("dynamodb.query", "checkpoints", f"{via}: latest checkpoint (compact range)"),
        ("dynamodb.put_item", "keys", f"{via}: KeyRegistry.put_key (the signer's key, the replaced key closed, "
                                      "the keys of ops moved over)"),
        ("kms.sign", "signing", f"{via}: the checkpoint signature"),
        ("dynamodb.batch_get_item", "tiles", f"{via}: the right-edge tiles of the previous checkpoint (decision "
                                             "0026); a refused tile put read back"),
        ("dynamodb.put_item", "tiles", f"{via}: conditional put of each new tile"),
        ("dynamodb.put_item", "checkpoints", f"{via}: conditional put of the checkpoint"),
    ]


def witness_submission(chain_table: str, via: str) -> list[Need]:
    """WitnessSubmitter (decision 0024): the chain's newest checkpoint, the witness asked what it
    co-signed last, the consistency proof from the stored compact range at or below that size and
    the entries after it, the checkpoint submitted, the cosignature kept in ops."""
    return [
        ("dynamodb.query", "checkpoints", f"{via}: WitnessSubmitter, the newest checkpoint; the compact range at "
                                          "or below the witnessed size (latest_at_or_below)"),
        ("lambda.invoke", WITNESS, f"{via}: LambdaWitnessClient describe, latest, add (RequestResponse)"),
        ("dynamodb.query", chain_table, f"{via}: the entries after the witnessed size (consistency proof)"),
        ("dynamodb.put_item", "ops", f"{via}: the cosignature kept (COSIG#, put_once)"),
    ]


def stream_verifier(table: str) -> list[Need]:
    """ChainStreamVerifier + Archiver for the journal or events stream."""
    via = f"on_{table}_record"
    return [
        ("dynamodb.get_item", "ops", f"{via}: chain_state (head)"),
        ("dynamodb.query", "ops", f"{via}: chain_state (the entries waiting for the archive, PENDING#)"),
        ("dynamodb.batch_write_item[Put|Delete]", "ops", f"{via}: pending entries written, then archived ones deleted"),
        ("dynamodb.update_item", "ops", f"{via}: advance_head, take/release_lease, mark_archived"),
        ("dynamodb.put_item", "ops", f"{via}: chain directory register"),
        ("dynamodb.query", table, f"{via}: catch-up of entries the stream did not deliver"),
        ("kms.verify_mac", "write_proof", f"{via}: the write proof of every inserted (or caught-up) entry"),
        *tamper_alarm(via),
        *archive_write(via),
    ]


_API = "api_handler"
TABLES = ("journal", "events", "checkpoints", "tiles", "keys", "accounts", "idempotency", "ops", "support")

NEEDS: dict[str, list[Need]] = {
    "api_handler": [
        *[("dynamodb.describe_table", t, "GET /health") for t in TABLES],
        # ledger (LedgerService), receipts, proofs, verification
        *seal("sales, journal batches, reversals, closures"),
        ("dynamodb.put_item", "ops", "LedgerService.record_sale: an Idempotency-Key first sent with a resent receipt, "
                                     "bound to the sale it replays"),
        ("dynamodb.get_item", "journal", "GET entry, reversal source, closures, verification anchor"),
        ("dynamodb.query", "journal", "GET entries: a time range found by seq (decision 0027)"),
        *append("events", "every action journals an event"),
        ("dynamodb.query", "events", "GET events: a time range found by seq (decision 0027)"),
        # POST verifications of the events chain: the events table, expired entries from the archive
        ("dynamodb.query", "events", "POST verifications: the events chain (raw_items)"),
        ("dynamodb.get_item", "events", "POST verifications: range anchor of the events chain"),
        ("kms.verify_mac", "write_proof", "POST verifications: write proofs after the newest checkpoint"),
        *archive_read("POST verifications: events older than the hot table"),
        # POST verifications to the head: the head compared with its witnesses (FullVerifier.verify,
        # the report given): archive head and checkpoints, latest checkpoint, the stream verifier's
        # state; a disagreement is a tamper alarm
        ("dynamodb.get_item", "ops", "POST verifications to the head: chain_state (the stream verifier's head)"),
        *tamper_alarm("POST verifications to the head"),
        # the API signs nothing (issue 14 item 3): closures compute their root, proofs and
        # verification read; the checkpoint every N entries is signed by on_journal_record
        *checkpoint_reading("journal", "closures (compact_at)"),
        *published_keys("GET /v1/keys, POST verifications"),
        ("dynamodb.query", "checkpoints", "GET checkpoints, GET entry (inclusion proof), receipts, verification"),
        ("dynamodb.batch_get_item", "tiles", "GET entry, receipts: the inclusion proof's tiles (decision 0026); "
                                              "POST verifications: the first rewritten entry"),
        ("lambda.invoke", SIGNER_FUNCTION, "POST checkpoints: LambdaCheckpointSigning, RequestResponse"),
        ("dynamodb.put_item", "ops", "chain directory"),
        ("dynamodb.get_item", "ops", "ledger index is_reversed, export job, GET entry: the verifier's head "
                                     "(integrity)"),
        ("dynamodb.query", "ops", "chain directory, closures index, anomalies, alarms, GET /v1/operator/alarms "
                                  "(ALARMS), GET entry: the chain's lowest alarm (ALARMCHAIN#, integrity)"),
        ("dynamodb.update_item", "ops", "failed sign-in counted per window and address (SignInFailures.record)"),
        ("dynamodb.put_item", "ops", "failed sign-in window listed for its summary (put_once)"),
        # accounts, sign-in, members
        ("dynamodb.get_item", "accounts", "users, tenants, tokens, grants, throttles, sessions"),
        ("dynamodb.batch_get_item", "accounts", "get_access"),
        ("dynamodb.query", "accounts", "roster"),
        ("dynamodb.query", "accounts/index/gsi1", "memberships_of"),
        ("dynamodb.put_item", "accounts", "put_token, save_throttle, revoke_session"),
        ("dynamodb.update_item", "accounts", "go_live"),
        ("dynamodb.delete_item", "accounts", "clear_throttle"),
        ("dynamodb.transact_write_items[Put]", "accounts", "sign-up, invitations, users"),
        ("dynamodb.transact_write_items[Update]", "accounts", "verify_email, memberships, grants"),
        ("dynamodb.transact_write_items[ConditionCheck]", "accounts", "create_invitation (tenant exists)"),
        ("cognito-idp.admin_confirm_sign_up", "pool", "verify_email, accept_invitation"),
        ("cognito-idp.admin_update_user_attributes", "pool", "email_verified"),
        ("cognito-idp.admin_delete_user", "pool", "sign-up rolled back"),
        ("cognito-idp.admin_get_user", "pool", "pool_user_since"),
        ("cognito-idp.admin_user_global_sign_out", "pool", "sign out everywhere, password reset"),
        ("cognito-idp.admin_set_user_password", "pool", "password reset"),
        ("ses.send_email", "mail", "verification, invitations, tickets, support replies"),
        # Powertools idempotency layer
        ("dynamodb.put_item", "idempotency", "idempotent POSTs (in progress)"),
        ("dynamodb.get_item", "idempotency", "a retried POST"),
        ("dynamodb.update_item", "idempotency", "the saved result"),
        ("dynamodb.delete_item", "idempotency", "a failed attempt"),
        # exports
        ("dynamodb.transact_write_items[Put]", "ops", "export job (create), with its place in the tenant's list"),
        ("dynamodb.query", "ops", "GET exports: the tenant's list (EXPORTLIST#), newest first"),
        ("dynamodb.batch_get_item", "ops", "GET exports: the page's jobs"),
        ("lambda.invoke", "build_export", "LambdaDispatcher, InvocationType=Event"),
        ("s3.head_object[maybe-missing]", f"exports:{EXPORT}", "export status: expired archive is a 404"),
        ("s3.generate_presigned_url[get_object]", f"exports:{EXPORT}", "download URL"),
        # support, news, mailings
        ("dynamodb.get_item", "support", "ticket, mailing, news, unsubscribed"),
        ("dynamodb.batch_get_item", "support", "tenant tickets"),
        ("dynamodb.query", "support", "messages, mailings, recipients, progress"),
        ("dynamodb.query", "support/index/gsi1", "ticket queue, mailings list"),
        ("dynamodb.put_item", "support", "save_ticket, news, mailings, unsubscribe, touch_activity"),
        ("dynamodb.update_item", "support", "resume: move_recipient"),
        ("dynamodb.transact_write_items[Put]", "support", "create_ticket, save_ticket with a message"),
        ("s3.generate_presigned_post", f"support:{ATTACHMENT}", "attachment upload"),
        ("s3.head_object[maybe-missing]", f"support:{ATTACHMENT}", "attachment uploaded yet?"),
        ("s3.generate_presigned_url[get_object]", f"support:{ATTACHMENT}", "attachment download"),
        ("lambda.invoke", "send_mailing", "LambdaInvoker: prepare, confirm, resume"),
    ],
    "jwt_authorizer": [],  # the pool's JWKS over HTTPS, no AWS API call
    "on_journal_record": [
        *stream_verifier("journal"),
        *derive_events("on_journal_record"),
        # the checkpoint every SCELLE_CHECKPOINT_EVERY entries, off the API's request path
        *checkpoint_signing("journal", "CheckpointCadence.after_entry"),
    ],
    "on_events_record": [
        *stream_verifier("events"),
        # anomaly rules (AnomalyService.on_event)
        ("dynamodb.query", "events", "anomaly rules: the tenant's recent events, found by seq"),
        ("dynamodb.get_item", "accounts", "anomaly rules: the tenant (time zone, hours)"),
        ("dynamodb.get_item", "journal", "reversal_share: the reversed entry's amount"),
        ("dynamodb.get_item", "ops", "first_export marker"),
        ("dynamodb.put_item", "ops", "anomaly filed once, first_export marker"),
        *append("events", "anomaly event"),
        ("dynamodb.query", "accounts", "anomaly mail: the tenant's admins (roster)"),
        ("ses.send_email", "mail", "anomaly mail"),
    ],
    "on_checkpoint_record": [
        ("dynamodb.query", "keys", "CheckpointStreamArchiver: the published keys (DynamoDBCheckpointStore.keys)"),
        ("s3.get_object[maybe-missing]", f"archive:{ARCHIVED_KEY}", "an archived key, compared before rewriting"),
        ("esdk.decrypt", "data", "the archived key read back"),
        ("esdk.encrypt", "data", "checkpoint and key objects"),
        ("s3.put_object[lock]", f"archive:{ARCHIVED_KEY}", "a published key (new version when closed)"),
        ("s3.put_object[lock]", f"archive:{ARCHIVED_CHECKPOINT}", "the signed checkpoint"),
        ("dynamodb.get_item", "accounts", "RetentionPolicy, the tenant's country"),
        *tamper_alarm("on_checkpoint_record"),
    ],
    # The schedules of scheduled work (decision 0028): the chain directory, one unit per chain
    # queued (WorkDispatcher.dispatch); sign_checkpoints also seals the sign-in failure summaries.
    "sign_checkpoints": [
        ("dynamodb.query", "ops", "WorkDispatcher: chain directory all_chains"),
        *queue_units("sign-work", "WorkDispatcher.dispatch: one sign unit per chain"),
        # summaries of failed sign-ins (SignInFailures.flush, decision 0011)
        ("dynamodb.query", "ops", "sign-in failure windows due, the addresses of a window"),
        ("dynamodb.update_item", "ops", "a window closed and leased, then marked summarised"),
        ("dynamodb.get_item", "ops", "a window that could not be claimed"),
        ("dynamodb.delete_item", "ops", "the window's pending marker"),
        *append("events", "signin_failed summary"),
    ],
    "close_periods": [
        ("dynamodb.query", "ops", "WorkDispatcher: chain directory all_chains"),
        *queue_units("close-work", "WorkDispatcher.dispatch: one close unit per production ledger chain"),
    ],
    "verify_chains": [
        ("dynamodb.query", "ops", "WorkDispatcher: chain directory all_chains"),
        *queue_units("verify-work", "WorkDispatcher.dispatch: one verify unit per production chain"),
    ],
    # The workers (handlers/work.py), one unit (one chain) per SQS message; receiving and deleting
    # the messages is the event source mapping's, not the code's.
    "sign_chain": [
        ("dynamodb.get_item", "ops", "chain_state: what the stream verifier saw"),
        ("dynamodb.query", "journal", "table head"),
        ("dynamodb.query", "events", "table head of the events chains"),
        *checkpoint_signing("journal", "CheckpointSigner"),
        *checkpoint_signing("events", "CheckpointSigner, events chains"),
        *checkpoint_signing("journal", "handle_sign_request: an on-demand checkpoint the API asked for"),
        *checkpoint_signing("events", "handle_sign_request: an on-demand checkpoint of the event journal"),
        ("dynamodb.update_item", "ops", "Archiver lease and mark_archived"),
        ("dynamodb.batch_write_item[Put|Delete]", "ops", "Archiver: archived pending entries deleted"),
        *archive_write("CheckpointSigner flush"),
        *tamper_alarm("sign_chain head_mismatch"),
        # the independent witness (decision 0024): each chain's newest checkpoint, once
        ("dynamodb.get_item", "ops", "WitnessSubmitter.has_cosigned_newest: the cosignature kept (COSIG#)"),
        *witness_submission("journal", "CheckpointSigner._cosign"),
        *witness_submission("events", "CheckpointSigner._cosign, events chains"),
        *tamper_alarm("a witness refusal (witness_fork, witness_inconsistent, witness_rollback, witness_ahead)"),
        # the daily Z report (ClosureReporter, decision 0024 item 7)
        ("dynamodb.query", "checkpoints", "ClosureReporter: the newest checkpoint of the chain"),
        ("dynamodb.get_item", "ops", "ClosureReporter: the ZREPORT# cursor"),
        ("dynamodb.query", "ops", "ClosureReporter: the day closures (DynamoDBLedgerIndex.closures)"),
        ("dynamodb.get_item", "journal", "ClosureReporter: the closure entry"),
        ("dynamodb.get_item", "accounts", "ClosureReporter: the tenant's company name"),
        ("dynamodb.query", "accounts", "ClosureReporter: the tenant's admins and accountants (roster)"),
        ("ses.send_email", "mail", "the Z report, to each admin and accountant"),
        ("dynamodb.put_item", "ops", "ClosureReporter: the chain's first cursor (put_once)"),
        ("dynamodb.update_item", "ops", "ClosureReporter: the cursor moved on (set_values)"),
    ],
    "close_chain": [
        ("dynamodb.query", "ops", "closures index"),
        ("dynamodb.get_item", "accounts", "the tenant (time zone, cut-off, test mode)"),
        ("dynamodb.get_item", "journal", "the previous closure"),
        ("dynamodb.query", "journal", "entries of the period"),
        *seal("the closure entry and its period claim"),
        *checkpoint_reading("journal", "compact_at: the closure's Merkle root (nothing signed)"),
    ],
    "verify_chain": [
        ("kms.verify_mac", "write_proof", "VerificationService: write proofs after each chain's newest checkpoint"),
        *published_keys("VerificationService"),
        ("dynamodb.query", "journal", "every entry, head"),
        ("dynamodb.get_item", "journal", "archive comparison, range anchor"),
        ("dynamodb.query", "events", "the events chain, head"),
        ("dynamodb.get_item", "events", "archive comparison"),
        ("dynamodb.query", "checkpoints", "signed checkpoints, latest"),
        ("dynamodb.batch_get_item", "tiles", "VerificationService._first_rewritten: the signed tree's leaves"),
        ("dynamodb.get_item", "ops", "chain_state: the stream verifier's head"),
        *archive_read("witnesses, expired events"),
        ("s3.head_object[maybe-missing]", f"archive:{MANIFEST}", "archive head (index, newest segment)"),
        ("s3.list_objects_v2", "archive", "archived checkpoint sizes"),
        *append("events", "verification_failed event"),
        *tamper_alarm("verify_chain"),
        *derive_events("verify_chain: events a failed stream batch left behind"),
        ("dynamodb.query", "checkpoints", "ChainVerificationWork._slice_end: the checkpoints within a slice"),
        *queue_units("verify-work", "ChainVerificationWork: the next slice of a long chain"),
    ],
    "check_ticket_sla": [
        ("dynamodb.query", "support/index/gsi1", "tickets awaiting a first response"),
        ("dynamodb.update_item", "support", "mark_overdue, once"),
        ("ses.send_email", "mail", "OVERDUE mail to SCELLE_OPERATOR_EMAIL"),
    ],
    "build_export": [
        ("dynamodb.get_item", "ops", "the export job"),
        ("dynamodb.put_item", "ops", "claim (conditional), progress, done/failed"),
        ("dynamodb.get_item", "accounts", "the tenant"),
        ("dynamodb.query", "journal", "entries (raw_items)"),
        ("dynamodb.query", "events", "events (raw_items)"),
        *checkpoint_signing("journal", "StoreSource.end: a checkpoint at the chain's end"),
        *checkpoint_signing("events", "StoreSource.end, events chain"),
        ("dynamodb.get_item", "events", "StoreSource.end, events chain: the stored last entry of a checkpoint "
                                        "whose subtree expired (_from_stored_last_entry)"),
        *published_keys("StoreSource.keys: keys.json of the archive"),
        *archive_read("events older than the hot table"),
        ("s3.list_objects_v2", "archive", "StoreSource.end: archived checkpoints beyond the chain's end (rollback)"),
        ("s3.create_multipart_upload", f"exports:{EXPORT}", "MultipartWriter"),
        ("s3.upload_part", f"exports:{EXPORT}", "MultipartWriter, 8 MiB parts"),
        ("s3.complete_multipart_upload", f"exports:{EXPORT}", "MultipartWriter.close"),
        ("s3.put_object", f"exports:{EXPORT}", "MultipartWriter.close, small archive"),
        ("s3.abort_multipart_upload", f"exports:{EXPORT}", "MultipartWriter.abort on failure"),
        ("kms.sign", "signing", "manifest signature"),
        # the independent witness (decision 0024): the checkpoint signed at export time co-signed,
        # the witness's key for keys/, the kept cosignatures for cosignatures.csv
        *witness_submission("journal", "StoreSource: the exported checkpoint"),
        *witness_submission("events", "StoreSource: the exported checkpoint of the events chain"),
        ("dynamodb.query", "ops", "WitnessSubmitter.cosignatures: the kept cosignatures up to the exported size"),
        ("dynamodb.put_item", "ops", "a witness refusal: the ALARM# item (no events append here: decision 0024)"),
    ],
    "send_mailing": [
        ("dynamodb.get_item", "support", "get_mailing, is_unsubscribed"),
        ("dynamodb.put_item", "support", "save_mailing (conditional)"),
        ("dynamodb.scan", "accounts", "newsletter audience: every user (AccountsUserScan)"),
        ("dynamodb.query", "support/index/gsi1", "recent_users audience: active_since"),
        ("dynamodb.get_item", "accounts", "recent_users audience: get_user"),
        ("dynamodb.batch_write_item[Put]", "support", "add_recipients"),
        ("dynamodb.query", "support", "recipients, progress"),
        ("dynamodb.update_item", "support", "move_recipient pending -> claimed -> sent"),
        ("ses.send_email", "mail", "the mailing"),
        ("lambda.invoke", "send_mailing", "continue in a new run before the time limit"),
    ],
    "inbound_mail": [
        ("s3.get_object", f"support:{INBOUND}", "the stored message"),
        ("dynamodb.get_item", "accounts", "user_id_for_email, get_user, get_tenant"),
        ("dynamodb.query", "accounts/index/gsi1", "memberships_of"),
        ("dynamodb.get_item", "support", "the ticket replied to, seen (dedupe)"),
        ("dynamodb.transact_write_items[Put]", "support", "create_ticket, save_ticket with the message"),
        ("s3.put_object", f"support:{ATTACHMENT}", "an emailed attachment"),
        ("ses.send_email", "mail", "acknowledgement, operators"),
    ],
    # Container.witness behind handle_witness_request (decision 0024): no table, no mail, no alarm.
    WITNESS: [
        ("kms.get_public_key", "witness", "KmsSigner: the witness's key id (fingerprint) and public key, describe; "
                                          "its own view's objects checked against it"),
        ("kms.sign", "witness", "the cosignature (MessageType=DIGEST)"),
        ("kms.get_public_key", "signing", "the log's key, pinned as configured: every checkpoint is verified "
                                          "against it (never kms:Sign, never a key published in ops)"),
        ("s3.list_objects_v2", "archive", "ObjectWitnessView.latest: Prefix witness/v1/<tenant>/<chain>/, "
                                          "StartAfter the last key seen"),
        ("s3.get_object", f"archive:{COSIGNATURE}", "ObjectWitnessView.latest: the newest cosignature"),
        ("s3.put_object[lock]", f"archive:{COSIGNATURE}", "ObjectWitnessView.put: If-None-Match, COMPLIANCE "
                                                         "retention (10 years)"),
    ],
}


# Functions whose code reads Settings.unsubscribe_key (MailingService's UnsubscribeTokens); every
# other function must not receive the secret.
UNSUBSCRIBE_KEY_READERS = {
    "api_handler": "POST mailings (prepare checks the key), GET/POST /v1/unsubscribe",
    "send_mailing": "the signed unsubscribe link of each mail, checked before any claim",
}
