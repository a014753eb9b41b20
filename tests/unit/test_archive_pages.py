"""The archive manifest in pages (decision 0017): locked bytes linear in the segments, crashes
between a segment, a page and the index recovered, legacy single-manifest archives still read and
verified (then paged), ``head()`` from metadata alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.archive_s3 import InMemoryObjectStore
from chalicelib.adapters.encryption import ArchiveDecryptionError, LocalAesEncryptor
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.adapters.signing import signature_verifier_for
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal, utc_timestamp
from chalicelib.services.archive import (
    INDEX_FORMAT,
    MANIFEST_FORMAT,
    PAGE_SEGMENTS,
    Archive,
    Archiver,
    Manifest,
    RetentionPolicy,
    chain_prefix,
    manifest_key,
    page_key,
    rebuild_report,
    record_line,
    segment_key,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT, CHAIN = "t0123456789abcdef0123", "prod.sales.R1"  # a tenant id as sign-up makes them (21 chars)
KEY = chain_key(TENANT, CHAIN)


def records(n: int, start: int = 0, prev: str = GENESIS_PREV_HASH):
    out = []
    for i in range(start, start + n):
        r = seal(TENANT, CHAIN, i + 1, "memo", T0 + timedelta(seconds=i), False, {"n": i}, prev)
        out.append(r)
        prev = r.hash
    return out


class Parts:
    """An archive on the in-memory store, its archiver (one segment per entry unless told), a clock."""

    def __init__(self, tmp_path, *, page_segments: int = PAGE_SEGMENTS, segment_entries: int = 1):
        self.objects = InMemoryObjectStore()
        self.ops = InMemoryOpsStore()
        self.crypto = LocalAesEncryptor(tmp_path)
        self.now = [T0 + timedelta(hours=1)]
        self.archive = Archive(self.objects, self.crypto, RetentionPolicy({TENANT: "BE"}.get),
                               clock=lambda: self.now[0], page_segments=page_segments)
        self.archiver = Archiver(self.ops, self.archive, segment_entries=segment_entries, clock=lambda: self.now[0])
        self.recs: list = []
        self._stream = 0

    def add(self, n: int) -> list:
        """``n`` more entries, pending in the ops table as the stream verifier leaves them."""
        new = records(n, len(self.recs), self.recs[-1].hash if self.recs else GENESIS_PREV_HASH)
        self.recs += new
        before = self.ops.chain_state(KEY)
        self._stream += 1
        self.ops.advance_head(before, table="journal", seq=new[-1].seq, hash=new[-1].hash,
                              stream_seq=str(self._stream), stream_arn="arn",
                              add_pending={r.seq: record_line(r) for r in new}, now=new[0].recorded_at)
        return new

    def flush(self, n: int = 1, *, force: bool = True):
        self.add(n)
        return self.archiver.flush(KEY, force=force)

    def verified(self):
        reader = Archive(self.objects, self.crypto, RetentionPolicy())
        return rebuild_report(reader, TENANT, CHAIN, signature_verifier_for=signature_verifier_for)


def stored_bytes(obj) -> int:
    """What S3 stores for one version: the body and the user metadata (names and values)."""
    return len(obj.body) + sum(len(k) + len(v) for k, v in obj.metadata.items())


def manifest_storage(objects) -> tuple[int, int]:
    """(versions, bytes) of every locked manifest object of the chain: manifest.json's versions
    and the pages."""
    versions = total = 0
    for key, obj in objects.all_versions(chain_prefix(KEY)):
        if key == manifest_key(KEY) or "/pages/" in key:
            versions += 1
            total += stored_bytes(obj)
    return versions, total


def legacy_manifest_version(archive: Archive, crypto, segments, now) -> tuple[bytes, dict[str, str]]:
    """What the v1 code (before decision 0017) wrote to manifest.json after a flush: every segment."""
    manifest = Manifest(KEY, tuple(segments), utc_timestamp(now))
    body = crypto.encrypt(manifest.to_json(), {"scelle:kind": "manifest", "scelle:chain": KEY})
    return body, {"format": MANIFEST_FORMAT, "archived-through": str(manifest.archived_through),
                  "last-hash": manifest.last_hash}


def write_legacy_manifest(parts: Parts, segments) -> None:
    body, meta = legacy_manifest_version(parts.archive, parts.crypto, segments, parts.now[0])
    parts.objects.put_version(manifest_key(KEY), body, retain_until=parts.now[0] + timedelta(days=3650),
                              metadata=meta)


class NoDecrypt:
    def __init__(self, inner) -> None:
        self._inner = inner

    def encrypt(self, plaintext, context):
        return self._inner.encrypt(plaintext, context)

    def decrypt(self, ciphertext, context):
        raise AssertionError(f"decrypted {dict(context)}")


# ---- (1) storage grows linearly --------------------------------------------------------------


def test_the_locked_manifest_bytes_grow_linearly_with_the_segments(tmp_path):
    # GIVEN an archive that pages every 10 segments, flushed once per entry (a segment per flush)
    parts = Parts(tmp_path, page_segments=10)
    measured = {}
    for n in range(1, 201):
        parts.flush()
        if n in (50, 100, 200):
            measured[n] = manifest_storage(parts.objects)
    # THEN manifest.json has one small version per flush and a page per 10 segments, written once
    assert measured[200][0] == 200 + 20
    assert len(list(parts.objects.keys(chain_prefix(KEY) + "pages/"))) == 20
    assert all(parts.objects.versions(k) == 1 for k in parts.objects.keys(chain_prefix(KEY) + "pages/"))
    # AND the locked bytes double when the segments double (the v1 manifest quadruples)
    assert 1.9 < measured[200][1] / measured[100][1] < 2.1
    assert 1.9 < measured[100][1] / measured[50][1] < 2.1
    segments = parts.archive.synced_manifest(KEY).segments
    legacy = {n: sum(stored_bytes_of(*legacy_manifest_version(parts.archive, parts.crypto, segments[:k], T0))
                     for k in range(1, n + 1)) for n in (100, 200)}
    assert legacy[200] / legacy[100] > 3.5
    assert measured[200][1] < legacy[200] / 10
    # AND everything still reads back and verifies
    assert [r["seq"] for r in parts.archive.records(KEY)] == list(range(1, 201))
    assert parts.verified().ok


def stored_bytes_of(body: bytes, metadata: dict[str, str]) -> int:
    return len(body) + sum(len(k) + len(v) for k, v in metadata.items())


def test_flushes_that_bring_nothing_new_add_no_locked_version(tmp_path):
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(5):
        parts.flush()
    before = manifest_storage(parts.objects)
    for _ in range(3):
        assert parts.archiver.flush(KEY, force=True).written == ()
        parts.archive.commit(KEY)
    assert manifest_storage(parts.objects) == before


def test_ten_years_of_a_busy_register_locks_megabytes_of_manifest_not_gigabytes(tmp_path):
    """36,500 segments (10 a day for 10 years). Measured on 1,000 segments written one flush each
    with the production page size, then scaled: every per-segment cost is constant (a page is
    written per 100 segments, the index is one constant-size version per flush)."""
    parts = Parts(tmp_path)
    prev = GENESIS_PREV_HASH
    for n in range(1, 1001):
        (r,) = records(1, n - 1, prev)
        prev = r.hash
        parts.archive.write_segment(KEY, [record_line(r)])
        parts.archive.commit(KEY)
    versions, total = manifest_storage(parts.objects)
    assert versions == 1000 + 10
    pages = [parts.objects.get(k) for k in parts.objects.keys(chain_prefix(KEY) + "pages/")]
    page_bytes = sum(stored_bytes(p) for p in pages) / len(pages)  # per page of 100 segments
    index_bytes = (total - page_bytes * len(pages)) / 1000  # per manifest.json version (one per flush)
    after = 365 * page_bytes + 36_500 * index_bytes
    # the v1 manifest: one version per flush, version k listing k segments (fitted on two real ones)
    segments = parts.archive.synced_manifest(KEY).segments
    size = {k: stored_bytes_of(*legacy_manifest_version(parts.archive, parts.crypto, segments[:k], T0))
            for k in (500, 1000)}
    per_segment = (size[1000] - size[500]) / 500
    base = size[1000] - 1000 * per_segment
    before = 36_500 * base + per_segment * 36_500 * 36_501 / 2
    last_v1 = base + per_segment * 36_500
    print(f"\nmanifest storage for 36,500 segments: v1 {before / 1e9:.1f} GB (last version {last_v1 / 1e6:.1f} MB); "
          f"pages {after / 1e6:.1f} MB ({page_bytes / 1e3:.1f} KB per page, {index_bytes:.0f} B per index version)")
    assert after < 30e6 and before > 100e9 and before / after > 3_000


# ---- (2) crashes between a segment, a page and the index ------------------------------------------


def test_a_crash_between_a_segment_and_its_page_is_recovered_by_the_next_flush(tmp_path, monkeypatch):
    # GIVEN pages of 4 segments and 3 segments archived
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(3):
        parts.flush()
    # WHEN the 4th segment is written and the flusher dies before the page
    real = parts.archive.write_page
    monkeypatch.setattr(parts.archive, "write_page", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    with pytest.raises(RuntimeError, match="crash"):
        parts.flush()
    monkeypatch.setattr(parts.archive, "write_page", real)
    # THEN no page exists, the last flush's manifest stops at 3, and the segment is still found
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/")) == []
    assert parts.archive.manifest(KEY).archived_through == 3
    assert parts.archive.synced_manifest(KEY).archived_through == 4
    assert parts.archive.head(KEY) == (4, parts.recs[3].hash)
    assert [r["seq"] for r in parts.archive.records(KEY)] == [1, 2, 3, 4]
    # AND the next flush writes the page and the index
    parts.flush()
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/")) == [page_key(KEY, 1)]
    assert parts.archive.manifest(KEY).archived_through == 5
    assert parts.archive.read_page(page_key(KEY, 1), KEY)[-1].last_seq == 4
    assert parts.verified().ok


def test_a_crash_between_a_page_and_the_index_is_recovered(tmp_path):
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(3):
        parts.flush()
    # WHEN the page of 1-4 is written and the index write fails
    parts.add(1)
    original = parts.objects.put_version

    def fail_once(*args, **kwargs):
        parts.objects.put_version = original
        raise RuntimeError("crash")

    parts.objects.put_version = fail_once
    with pytest.raises(RuntimeError, match="crash"):
        parts.archiver.flush(KEY, force=True)
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/")) == [page_key(KEY, 1)]
    assert parts.archive.manifest(KEY).archived_through == 3  # the index is one flush behind
    assert [(s.first_seq, s.last_seq) for s in parts.archive.synced_manifest(KEY).segments] == [
        (1, 1), (2, 2), (3, 3), (4, 4)]
    # THEN the next commit finds the page (not written twice) and the index catches up
    index = parts.archive.commit(KEY)
    assert (index.archived_through, index.paged_through, index.last_page) == (4, 4, 1)
    assert parts.objects.versions(page_key(KEY, 1)) == 1
    parts.flush(6)
    assert [r["seq"] for r in parts.archive.records(KEY)] == list(range(1, 11))
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/")) == [page_key(KEY, 1), page_key(KEY, 5)]
    assert parts.verified().ok


def test_a_page_is_written_once_even_when_two_flushers_commit(tmp_path):
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(4):
        parts.flush()
    parts.archive.commit(KEY)
    Archive(parts.objects, parts.crypto, RetentionPolicy(), page_segments=4).commit(KEY)
    assert parts.objects.versions(page_key(KEY, 1)) == 1


# ---- (3) legacy archives ---------------------------------------------------------------------------


def legacy_archive(tmp_path, segments: int, *, page_segments: int = 4) -> Parts:
    """A chain archived by the v1 code: a segment per flush, manifest.json rewritten whole each time,
    and one more segment written after the last manifest (a crash)."""
    parts = Parts(tmp_path, page_segments=page_segments)
    infos = []
    for n in range(1, segments + 2):
        (r,) = records(1, n - 1, parts.recs[-1].hash if parts.recs else GENESIS_PREV_HASH)
        parts.recs.append(r)
        info, _ = parts.archive.write_segment(KEY, [record_line(r)])
        infos.append(info)
        if n <= segments:
            write_legacy_manifest(parts, infos)
    # the ops table as the v1 archiver left it
    before = parts.ops.chain_state(KEY)
    parts.ops.advance_head(before, table="journal", seq=parts.recs[-1].seq, hash=parts.recs[-1].hash,
                           stream_seq="0", stream_arn="arn", add_pending={}, now=utc_timestamp(T0))
    state = parts.ops.chain_state(KEY)
    parts.ops.mark_archived(state, through=segments + 1, last_hash=parts.recs[-1].hash, removed=[],
                            pending_since=None)
    parts._stream = 0
    return parts


def test_a_legacy_single_manifest_archive_reads_back_and_verifies(tmp_path):
    # GIVEN a chain archived before pages existed: 10 segments in manifest.json (10 versions), one after
    parts = legacy_archive(tmp_path, 10)
    assert parts.objects.versions(manifest_key(KEY)) == 10
    # THEN it reads back as before: the manifest lists 10, the synced one 11, the head is 11
    manifest = parts.archive.manifest(KEY)
    assert (len(manifest.segments), manifest.archived_through) == (10, 10)
    assert parts.archive.synced_manifest(KEY).archived_through == 11
    assert parts.archive.head(KEY) == (11, parts.recs[-1].hash)
    assert [r["seq"] for r in parts.archive.records(KEY)] == list(range(1, 12))
    assert [r["seq"] for r in parts.archive.records(KEY, 4, 6)] == [4, 5, 6]
    assert list(parts.archive.chains()) == [(TENANT, CHAIN)]
    report = parts.verified()
    assert (report.ok, report.size) == (True, 11)


def test_a_legacy_archive_is_paged_on_the_next_flush_and_nothing_is_deleted(tmp_path):
    # GIVEN the legacy chain of 10 (+1) segments, pages of 4
    parts = legacy_archive(tmp_path, 10)
    old_versions = list(parts.objects.all_versions(manifest_key(KEY)))
    # WHEN the new code flushes one more entry
    parts.flush()
    # THEN the legacy list is paged whole (4 + 4 + a closing 2), the tail is 11-12, and the index
    # is a new version on top of the 10 legacy ones, which are all still there
    pages = list(parts.objects.keys(chain_prefix(KEY) + "pages/"))
    assert pages == [page_key(KEY, 1), page_key(KEY, 5), page_key(KEY, 9)]
    assert [len(parts.archive.read_page(p, KEY)) for p in pages] == [4, 4, 2]
    assert list(parts.objects.all_versions(manifest_key(KEY)))[:10] == old_versions
    assert parts.objects.versions(manifest_key(KEY)) == 11
    assert parts.objects.head(manifest_key(KEY)).metadata["format"] == INDEX_FORMAT
    assert parts.objects.get(manifest_key(KEY)).body == b""
    first = old_versions[0][1]
    assert Manifest.from_json(parts.crypto.decrypt(first.body, {"scelle:kind": "manifest", "scelle:chain": KEY}))
    # AND it reads back and verifies
    assert parts.archive.manifest(KEY).archived_through == 12
    assert [r["seq"] for r in parts.archive.records(KEY)] == list(range(1, 13))
    assert parts.archive.head(KEY) == (12, parts.recs[-1].hash)
    assert (parts.verified().ok, parts.verified().size) == (True, 12)
    # AND the next flushes page the tail in fours after the closing page
    for _ in range(4):
        parts.flush()
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/"))[-1] == page_key(KEY, 11)
    assert parts.verified().ok


def test_a_migration_that_dies_half_way_is_finished_by_the_next_flush(tmp_path, monkeypatch):
    parts = legacy_archive(tmp_path, 10)
    real, calls = parts.archive.write_page, []

    def dies_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(parts.archive, "write_page", dies_at_the_second)
    with pytest.raises(RuntimeError, match="crash"):
        parts.flush()
    monkeypatch.setattr(parts.archive, "write_page", real)
    # the legacy manifest is still the current one, with a page beside it: both are read
    assert parts.objects.head(manifest_key(KEY)).metadata["format"] == MANIFEST_FORMAT
    assert [r["seq"] for r in parts.archive.records(KEY)] == list(range(1, 13))
    parts.archive.commit(KEY)
    assert list(parts.objects.keys(chain_prefix(KEY) + "pages/")) == [page_key(KEY, s) for s in (1, 5, 9)]
    assert all(parts.objects.versions(p) == 1 for p in parts.objects.keys(chain_prefix(KEY) + "pages/"))
    assert parts.verified().ok


# ---- (4) head() without decrypting -------------------------------------------------------------


def test_the_head_comes_from_metadata_without_decrypting(tmp_path):
    # GIVEN pages, a tail, and a segment written after the last index version
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(9):
        parts.flush()
    (r,) = records(1, 9, parts.recs[-1].hash)
    parts.archive.write_segment(KEY, [record_line(r)])
    # WHEN a reader that cannot decrypt asks for the head
    blind = Archive(parts.objects, NoDecrypt(parts.crypto), RetentionPolicy())
    # THEN it answers from metadata: the newest segment's
    assert blind.head(KEY) == (10, r.hash)
    assert blind.head(chain_key(TENANT, "prod.sales.R9")) == (0, GENESIS_PREV_HASH)
    # AND the same for a legacy archive
    legacy = legacy_archive(tmp_path / "legacy", 5)
    assert Archive(legacy.objects, NoDecrypt(legacy.crypto), RetentionPolicy()).head(KEY) == (6, legacy.recs[-1].hash)


def test_a_flush_reads_no_page_and_decrypts_nothing(tmp_path):
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(9):
        parts.flush()
    blind = Archive(parts.objects, NoDecrypt(parts.crypto), RetentionPolicy(), page_segments=4)
    parts.add(4)
    result = Archiver(parts.ops, blind, segment_entries=1, clock=lambda: parts.now[0]).flush(KEY)
    assert len(result.written) == 4
    assert blind.commit(KEY).paged_through == 12


# ---- reading: pages in order, only what a range needs, bound to their place ------------------------


class CountingGets:
    """The store, with the keys of every GET (a HEAD is not a GET)."""

    def __init__(self, inner) -> None:
        self._inner, self.got = inner, []

    def get(self, key):
        self.got.append(key)
        return self._inner.get(key)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_a_range_reads_only_the_pages_it_needs(tmp_path):
    # GIVEN 30 segments: pages of 4 up to 28, a tail of 29-30
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(30):
        parts.flush()
    store = CountingGets(parts.objects)
    reader = Archive(store, parts.crypto, RetentionPolicy())
    # THEN a range in a page reads that page only, a range in the tail no page at all
    assert [r["seq"] for r in reader.records(KEY, 14, 15)] == [14, 15]
    assert [k for k in store.got if "/pages/" in k] == [page_key(KEY, 13)]
    store.got.clear()
    assert [r["seq"] for r in reader.records(KEY, 29, 30)] == [29, 30]
    assert [k for k in store.got if "/pages/" in k] == []
    assert [k for k in store.got if "/segments/" in k] == [segment_key(KEY, 29), segment_key(KEY, 30)]


def test_a_page_moved_to_another_place_does_not_decrypt(tmp_path):
    parts = Parts(tmp_path, page_segments=4)
    for _ in range(8):
        parts.flush()
    parts.objects.replace_body(page_key(KEY, 5), parts.objects.get(page_key(KEY, 1)).body)
    with pytest.raises(ArchiveDecryptionError, match="encryption context"):
        list(parts.archive.records(KEY))


def test_segments_are_checked_against_their_pages_hashes(tmp_path):
    from chalicelib.services.archive import ArchiveCorrupt

    parts = Parts(tmp_path, page_segments=4)
    for _ in range(4):
        parts.flush()
    info = parts.archive.read_page(page_key(KEY, 1), KEY)[1]
    forged = parts.crypto.encrypt(b'{"format":"scelle-archive-segment/v1"}\n',
                                  {"scelle:kind": "segment", "scelle:chain": KEY, "scelle:position": "2"})
    parts.objects.replace_body(info.key, forged)
    with pytest.raises(ArchiveCorrupt, match="SHA-256"):
        list(parts.archive.records(KEY))
    assert segment_key(KEY, 2) == info.key
