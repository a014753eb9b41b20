"""The archive on the embedded S3: every entry and checkpoint, encrypted, under Object Lock in
compliance mode, in segments with a manifest; a chain is rebuilt and verified from it alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.archive_s3 import S3ObjectStore
from chalicelib.adapters.encryption import KmsEncryptor
from chalicelib.adapters.signing import signature_verifier_for
from chalicelib.domain.records import chain_key
from chalicelib.services.archive import Archive, RetentionPolicy, rebuild_report, segment_key
from tests.support.continuous import append, new_tenant, private_stack

pytestmark = pytest.mark.functional
CHAIN = "prod.journal"


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-archive")) as cv:
        yield cv


@pytest.fixture
def archived(cv):
    """GIVEN 7 entries and a signed checkpoint, streamed and archived (segments of 3)."""
    from chalicelib.services.archive import Archiver

    container = cv.container()
    container.__dict__["archiver"] = Archiver(container.ops_store, container.archive, segment_entries=3,
                                              clock=container.clock)
    tenant = new_tenant()
    append(container, tenant, CHAIN, 7)
    container.checkpoint_signer.run(tenants=[tenant])  # signs at 7
    cv.drain()
    container.archiver.flush(chain_key(tenant, CHAIN), force=True)
    return container, tenant


def test_entries_are_archived_in_segments_listed_by_a_manifest(archived):
    container, tenant = archived
    manifest = container.archive.manifest(chain_key(tenant, CHAIN))
    assert [(s.first_seq, s.last_seq) for s in manifest.segments] == [(1, 3), (4, 6), (7, 7)]
    stored = [r["hash"] for r in container.archive.records(chain_key(tenant, CHAIN))]
    assert stored == [r.hash for r in container.journal_store.scan(chain_key(tenant, CHAIN))]
    assert container.archive.checkpoint_sizes(chain_key(tenant, CHAIN)) == [7]


def test_archive_objects_are_locked_in_compliance_mode_for_ten_years_and_cannot_be_deleted(archived):
    container, tenant = archived
    s3, bucket = container.s3, container.settings.bucket_name("archive")
    key = segment_key(chain_key(tenant, CHAIN), 1)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].year == datetime.now(UTC).year + 10  # unknown tenant: the longest
    version = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)


def test_archive_objects_are_encrypted(archived):
    container, tenant = archived
    body = container.s3.get_object(Bucket=container.settings.bucket_name("archive"),
                                   Key=segment_key(chain_key(tenant, CHAIN), 1))["Body"].read()
    # the content is encrypted; the encryption context (chain key, position) is authenticated, not secret
    assert b"memo" not in body and b'"note"' not in body and b"prev_hash" not in body
    assert chain_key(tenant, CHAIN).encode() in body


def test_a_chain_is_rebuilt_and_verified_from_the_archive_alone(archived, cv):
    container, tenant = archived
    # a reader that knows only the bucket and the data key: no table at all
    reader = Archive(S3ObjectStore(container.s3, cv.settings.bucket_name("archive")), container.archive._crypto,
                     RetentionPolicy())
    report = rebuild_report(reader, tenant, CHAIN, signature_verifier_for=signature_verifier_for)
    assert (report.ok, report.size, report.proven_size) == (True, 7, 7)


def test_the_kms_keyring_encrypts_and_decrypts_with_the_embedded_kms(cv):
    container = cv.container()
    key_id = container.kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    encryptor = KmsEncryptor(container.kms, key_id)
    ciphertext = encryptor.encrypt(b"segment", {"scelle:kind": "segment"})
    assert KmsEncryptor(container.kms, key_id).decrypt(ciphertext, {"scelle:kind": "segment"}) == b"segment"


def test_the_scheduled_handlers_queue_one_unit_per_chain_and_the_workers_do_the_work(archived):
    """EventBridge calls the schedule, which queues units on SQS; Lambda's SQS mapping (the local
    queue pump here) hands each to its worker (decision 0028)."""
    import json
    from pathlib import Path

    from app import app
    from chalicelib.local.lambda_events import LocalContext
    from chalicelib.local.queue_pump import QueuePump

    container, tenant = archived
    append(container, tenant, CHAIN, 2, start=7)
    event = json.loads((Path(__file__).resolve().parents[1] / "events/schedule_sign_checkpoints.json").read_text())
    queued = app.handler_map["sign_checkpoints"](event, LocalContext("sign_checkpoints"))
    assert queued["job"] == "sign" and queued["queued"] >= 1 and queued["queued"] == queued["chains"]
    # EventBridge delivers at least once: the same schedule event again queues nothing new.
    again = app.handler_map["sign_checkpoints"](event, LocalContext("sign_checkpoints"))
    assert again["chains"] == queued["chains"]
    pump = QueuePump(app, container.client("sqs"), container.settings, region=container.settings.region)
    handled = pump.drain()
    assert handled == queued["queued"]
    assert container.checkpoints.latest(tenant, CHAIN).checkpoint.size == 9
    queued = app.handler_map["verify_chains"](event, LocalContext("verify_chains"))
    assert queued["job"] == "verify" and queued["queued"] >= 1
    assert pump.drain() == queued["queued"]
    assert container.tamper_alarms.first_alarmed_seq(tenant, CHAIN) is None
