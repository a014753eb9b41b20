"""The archive on an in-memory object store: segments and manifest, exactly-once flushes,
encryption bound to each object's place, retention per country, rebuild from the archive alone."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.archive_s3 import InMemoryObjectStore
from chalicelib.adapters.encryption import ArchiveDecryptionError, LocalAesEncryptor, build_encryptor
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.adapters.signing import LocalSigner, signature_verifier_for
from chalicelib.config import ConfigError
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.merkle import CompactRange, record_leaf_hash
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal, utc_timestamp
from chalicelib.services.archive import (
    Archive,
    ArchiveCorrupt,
    Archiver,
    RetentionPolicy,
    rebuild_report,
    record_line,
    segment_key,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT, CHAIN = "acme", "prod.sales.R1"
KEY = chain_key(TENANT, CHAIN)


def records(n: int):
    out, prev = [], GENESIS_PREV_HASH
    for i in range(n):
        r = seal(TENANT, CHAIN, i + 1, "memo", T0 + timedelta(seconds=i), False, {"n": i}, prev)
        out.append(r)
        prev = r.hash
    return out


@pytest.fixture
def parts(tmp_path):
    objects = InMemoryObjectStore()
    ops = InMemoryOpsStore()
    now = [T0 + timedelta(hours=1)]
    archive = Archive(objects, LocalAesEncryptor(tmp_path), RetentionPolicy({"acme": "FR"}.get),
                      clock=lambda: now[0])
    archiver = Archiver(ops, archive, segment_entries=4, clock=lambda: now[0])
    return objects, ops, archive, archiver, now


def pend(ops, recs, stream_seq="1"):
    before = ops.chain_state(KEY)
    ops.advance_head(before, table="journal", seq=recs[-1].seq, hash=recs[-1].hash, stream_seq=stream_seq,
                     stream_arn="arn", add_pending={r.seq: record_line(r) for r in recs}, now=recs[0].recorded_at)


def test_full_segments_are_written_and_the_rest_waits_for_the_window(parts):
    _objects, ops, archive, archiver, _ = parts
    pend(ops, records(10))
    result = archiver.flush(KEY)
    assert [(s.first_seq, s.last_seq) for s in result.written] == [(1, 4), (5, 8)]
    assert (result.archived_through, result.pending_left) == (8, 2)
    manifest = archive.manifest(KEY)
    assert (manifest.archived_through, len(manifest.segments)) == (8, 2)
    assert [r["seq"] for r in archive.records(KEY)] == list(range(1, 9))


def test_entries_older_than_the_window_are_written_by_a_forced_flush(parts):
    _, ops, _archive, archiver, _now = parts
    pend(ops, records(2))
    assert archiver.due(ops.chain_state(KEY))  # recorded an hour ago, the window is 15 minutes
    assert archiver.flush(KEY, force=True).archived_through == 2
    assert not archiver.due(ops.chain_state(KEY))
    assert archiver.lag_seconds(ops.chain_state(KEY)) == 0


def test_a_second_flush_writes_nothing_again(parts):
    objects, ops, _archive, archiver, _ = parts
    pend(ops, records(4))
    archiver.flush(KEY)
    again = archiver.flush(KEY, force=True)
    assert again.written == () and again.adopted == ()
    assert objects.versions(segment_key(KEY, 1)) == 1


def test_a_flush_that_died_after_writing_its_segment_is_adopted_not_repeated(parts):
    # GIVEN a flusher that wrote segment 1-4 and died before recording it
    objects, ops, archive, archiver, _ = parts
    recs = records(6)
    archive.write_segment(KEY, [record_line(r) for r in recs[:4]])
    pend(ops, recs)
    # WHEN the next flush runs
    result = archiver.flush(KEY, force=True)
    # THEN the existing segment is adopted and only 5-6 are written
    assert [(s.first_seq, s.last_seq) for s in result.adopted] == [(1, 4)]
    assert [(s.first_seq, s.last_seq) for s in result.written] == [(5, 6)]
    assert objects.versions(segment_key(KEY, 1)) == 1
    assert [r["seq"] for r in archive.records(KEY)] == [1, 2, 3, 4, 5, 6]


def test_a_manifest_lost_between_two_writes_is_completed_from_the_segments(parts):
    _objects, ops, archive, archiver, _ = parts
    recs = records(8)
    pend(ops, recs[:4])
    archiver.flush(KEY)
    archive.write_segment(KEY, [record_line(r) for r in recs[4:]])  # written, manifest not updated
    assert archive.manifest(KEY).archived_through == 4
    assert archive.synced_manifest(KEY).archived_through == 8


def test_two_flushers_never_run_at_once(parts):
    _, ops, _, archiver, now = parts
    pend(ops, records(4))
    assert ops.take_lease(KEY, now=utc_timestamp(now[0]), until=utc_timestamp(now[0] + timedelta(seconds=60)))
    assert archiver.flush(KEY).skipped == "busy"


def test_objects_are_locked_for_the_tenants_country_retention(parts):
    objects, ops, _, archiver, now = parts
    pend(ops, records(4))
    archiver.flush(KEY)
    stored = objects.head(segment_key(KEY, 1))
    assert stored.lock_mode == "COMPLIANCE"
    assert stored.retain_until == now[0].replace(year=now[0].year + 6)  # FR


@pytest.mark.parametrize(("country", "years"), [("BE", 10), ("FR", 6), ("DE", 10), (None, 10)])
def test_retention_is_ten_years_in_belgium_six_in_france_and_ten_when_unknown(country, years):
    assert RetentionPolicy(lambda tenant_id: country).years("t1") == years


def test_retention_is_the_longest_when_the_tenant_cannot_be_looked_up():
    def boom(tenant_id):
        raise LookupError(tenant_id)

    assert RetentionPolicy(boom, years_by_country={"FR": 6}, default_years=10).years("t1") == 10
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert RetentionPolicy().retain_until("t1", leap) == datetime(2038, 2, 28, tzinfo=UTC)


def test_a_segment_moved_to_another_place_does_not_decrypt(parts):
    objects, ops, archive, archiver, _ = parts
    pend(ops, records(8))
    archiver.flush(KEY)
    manifest = archive.manifest(KEY)
    first, second = manifest.segments
    objects.replace_body(second.key, objects.get(first.key).body)
    with pytest.raises(ArchiveDecryptionError, match="encryption context"):
        list(archive.records(KEY))


def test_changed_segment_bytes_are_refused(parts, tmp_path):
    objects, ops, archive, archiver, _ = parts
    pend(ops, records(4))
    archiver.flush(KEY)
    info = archive.manifest(KEY).segments[0]
    forged = Archive(objects, LocalAesEncryptor(tmp_path), RetentionPolicy())
    plaintext = b'{"format":"scelle-archive-segment/v1"}\n'
    objects.replace_body(info.key, forged._crypto.encrypt(plaintext, {"scelle:kind": "segment", "scelle:chain": KEY,
                                                                      "scelle:position": "1"}))
    with pytest.raises(ArchiveCorrupt, match="SHA-256"):
        list(archive.records(KEY))


def test_the_local_data_key_is_created_once_readable_by_its_owner_only(tmp_path):
    encryptor = build_encryptor("local:data", tmp_path, lambda: None)
    ciphertext = encryptor.encrypt(b"entry", {"scelle:kind": "x"})
    assert LocalAesEncryptor(tmp_path).decrypt(ciphertext, {"scelle:kind": "x"}) == b"entry"
    assert stat.S_IMODE(os.stat(tmp_path / "data.aes").st_mode) == 0o600
    with pytest.raises(ArchiveDecryptionError):
        LocalAesEncryptor(tmp_path / "other").decrypt(ciphertext, {})
    with pytest.raises(ConfigError):
        build_encryptor(None, tmp_path, lambda: None)


def test_a_chain_is_rebuilt_and_verified_from_its_archive_alone(parts, tmp_path):
    # GIVEN a chain archived with a signed checkpoint and its public key
    objects, ops, archive, archiver, _now = parts
    recs = records(9)
    pend(ops, recs)
    archiver.flush(KEY, force=True)
    signer = LocalSigner(tmp_path, "signing")
    compact = CompactRange()
    for r in recs[:8]:
        compact.append(record_leaf_hash(r.hash))
    unsigned = Checkpoint(KEY, 8, compact.root().hex(), utc_timestamp(T0 + timedelta(minutes=5)), signer.key_id)
    archive.write_checkpoint(unsigned.with_signature(signer.sign(unsigned.signed_message())))
    archive.write_key(PublicKeyInfo(signer.key_id, utc_timestamp(T0), None, signer.public_key_pem()))
    # WHEN it is verified from the archive only (a fresh reader, no table)
    reader = Archive(objects, LocalAesEncryptor(tmp_path), RetentionPolicy())
    report = rebuild_report(reader, TENANT, CHAIN, signature_verifier_for=signature_verifier_for)
    # THEN every entry verifies and the signed checkpoint matches
    assert (report.ok, report.size, report.proven_size) == (True, 9, 8)
    assert list(reader.chains()) == [(TENANT, CHAIN)]


def test_a_rotated_key_is_archived_again_with_its_closed_validity(parts):
    _, _, archive, _, _ = parts
    pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
    open_key = PublicKeyInfo("k1", utc_timestamp(T0), None, pem)
    assert archive.write_key(open_key) is True
    assert archive.write_key(open_key) is False
    closed = PublicKeyInfo("k1", utc_timestamp(T0), utc_timestamp(T0 + timedelta(days=90)), pem)
    assert archive.write_key(closed) is True
    assert archive.keys() == [closed]
