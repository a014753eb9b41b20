"""The WORM archive: every sealed entry and every signed checkpoint, encrypted, in S3 with Object
Lock in compliance mode, laid out so that a chain can be rebuilt and verified from it alone.

Layout (decisions 0007 and 0017; ``<t>``/``<c>`` are the URL-quoted tenant id and chain name)::

    v1/chains/<t>/<c>/segments/<first seq, 12 digits>.seg   entries first..last, one segment
    v1/chains/<t>/<c>/pages/<first seq, 12 digits>.page     100 consecutive segments, with their hashes
    v1/chains/<t>/<c>/manifest.json                         the index: head and where the pages end
    v1/chains/<t>/<c>/checkpoints/<size, 12 digits>.ckpt    the signed checkpoint text
    v1/keys/<key id>.json                                   published checkpoint keys

A segment is, once decrypted, JSON lines: a header, then each record's canonical JSON (all ten
fields of hash format v1) in seq order. Its S3 metadata repeats the header's numbers and hashes
so the full verifier compares heads without decrypting. Entries reach a segment from the
``pending`` map of the chain's state in the ops table, where the stream handler put them exactly
as they were inserted; ``Archiver.flush`` writes a segment per ``segment_entries`` entries, or
the remainder when the window has passed (the scheduled job forces it).

The manifest is the pages (immutable, each written once when it fills), then the *tail*: the
segments after the last page, found by listing and read from their own metadata. After each flush
``manifest.json`` gets a new version of constant size (metadata only: head, end of the pages), so
the locked bytes grow linearly with the segments (decision 0017). A ``manifest.json`` written
before pages existed (format v1, every segment listed) is still read, and paged on the next flush.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from urllib.parse import quote, unquote

from chalicelib.domain.canonical import canonical_bytes
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import Conflict, ScelleError
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, parse_chain_key, utc_timestamp
from chalicelib.domain.write_proofs import proof_attributes

SEGMENT_FORMAT = "scelle-archive-segment/v1"
MANIFEST_FORMAT = "scelle-archive-manifest/v1"  # the legacy manifest: every segment, rewritten each flush
INDEX_FORMAT = "scelle-archive-manifest/v2"  # manifest.json since 0017: metadata only, constant size
PAGE_FORMAT = "scelle-archive-manifest-page/v1"
PAGE_SEGMENTS = 100
RETENTION_YEARS = {"BE": 10, "FR": 6}
DEFAULT_RETENTION_YEARS = 10
SEGMENT_ENTRIES = 100
SEGMENT_WINDOW = timedelta(minutes=15)
LEASE = timedelta(seconds=60)


class ArchiveCorrupt(ScelleError):
    """An archive object is not what its manifest or its own header says."""

    code = "archive-corrupt"
    title = "Archive object is corrupt"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---- retention ---------------------------------------------------------------------------------


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


class RetentionPolicy:
    """How long each tenant's archive objects are locked: by the tenant's country.

    ``country_of(tenant_id)`` returns "BE", "FR"... or None when unknown (the platform tenant, or
    the accounts module not deployed): then ``default_years``, the longest legal period.
    """

    def __init__(
        self,
        country_of: Callable[[str], str | None] = lambda tenant_id: None,
        *,
        years_by_country: dict[str, int] | None = None,
        default_years: int = DEFAULT_RETENTION_YEARS,
    ) -> None:
        self._country_of = country_of
        self._years = dict(RETENTION_YEARS if years_by_country is None else years_by_country)
        self._default = default_years
        self._cache: dict[str, int] = {}

    def years(self, tenant_id: str) -> int:
        if tenant_id not in self._cache:
            try:
                country = self._country_of(tenant_id)
            except Exception:  # an unknown tenant keeps the longest period, never a shorter one
                country = None
            self._cache[tenant_id] = self._years.get(country or "", self._default)
        return self._cache[tenant_id]

    @property
    def longest(self) -> int:
        return max([self._default, *self._years.values()])

    def retain_until(self, tenant_id: str | None, now: datetime) -> datetime:
        years = self.longest if tenant_id is None else self.years(tenant_id)
        return _add_years(now, years)


# ---- layout and formats ------------------------------------------------------------------------


def chain_prefix(chain_key: str) -> str:
    tenant_id, chain = parse_chain_key(chain_key)
    return f"v1/chains/{quote(tenant_id, safe='')}/{quote(chain, safe='')}/"


def segment_key(chain_key: str, first_seq: int) -> str:
    return f"{chain_prefix(chain_key)}segments/{first_seq:012d}.seg"


def manifest_key(chain_key: str) -> str:
    return f"{chain_prefix(chain_key)}manifest.json"


def page_key(chain_key: str, first_seq: int) -> str:
    return f"{chain_prefix(chain_key)}pages/{first_seq:012d}.page"


def _first_seq_of(key: str) -> int:
    """The number a segment or page key is named after (its first seq)."""
    return int(key.rsplit("/", 1)[1].split(".", 1)[0])


def checkpoint_key(chain_key: str, size: int) -> str:
    return f"{chain_prefix(chain_key)}checkpoints/{size:012d}.ckpt"


def public_key_key(key_id: str) -> str:
    return f"v1/keys/{quote(key_id, safe='')}.json"


@dataclass(frozen=True)
class SegmentInfo:
    key: str
    first_seq: int
    last_seq: int
    count: int
    prev_hash: str  # prev_hash of the first record
    last_hash: str  # hash of the last record
    sha256: str  # of the plaintext
    created_at: str

    def metadata(self) -> dict[str, str]:
        return {
            "format": SEGMENT_FORMAT, "first-seq": str(self.first_seq), "last-seq": str(self.last_seq),
            "count": str(self.count), "prev-hash": self.prev_hash, "last-hash": self.last_hash,
            "sha256": self.sha256, "created-at": self.created_at,
        }

    @classmethod
    def from_metadata(cls, key: str, meta: dict[str, str]) -> SegmentInfo:
        try:
            return cls(key, int(meta["first-seq"]), int(meta["last-seq"]), int(meta["count"]), meta["prev-hash"],
                       meta["last-hash"], meta["sha256"], meta.get("created-at", ""))
        except (KeyError, ValueError) as exc:
            raise ArchiveCorrupt(f"segment {key} has no usable metadata: {exc}") from None


@dataclass(frozen=True)
class Manifest:
    chain_key: str
    segments: tuple[SegmentInfo, ...]
    updated_at: str

    @property
    def archived_through(self) -> int:
        return self.segments[-1].last_seq if self.segments else 0

    @property
    def last_hash(self) -> str:
        return self.segments[-1].last_hash if self.segments else GENESIS_PREV_HASH

    def to_json(self) -> bytes:
        tenant_id, chain = parse_chain_key(self.chain_key)
        body = {
            "format": MANIFEST_FORMAT, "chain_key": self.chain_key, "tenant_id": tenant_id, "chain": chain,
            "archived_through": self.archived_through, "last_hash": self.last_hash, "updated_at": self.updated_at,
            "segments": [asdict(s) for s in self.segments],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        if body.get("format") != MANIFEST_FORMAT:
            raise ArchiveCorrupt(f"manifest format {body.get('format')!r} is not {MANIFEST_FORMAT!r}")
        return cls(body["chain_key"], tuple(SegmentInfo(**s) for s in body["segments"]), body["updated_at"])


@dataclass(frozen=True)
class PageInfo:
    """A manifest page: ``segments`` consecutive segments, first_seq..last_seq, written once."""

    key: str
    first_seq: int
    last_seq: int
    segments: int
    prev_hash: str  # prev_hash of its first segment
    last_hash: str  # last_hash of its last segment
    sha256: str  # of the plaintext
    created_at: str

    def metadata(self) -> dict[str, str]:
        return {
            "format": PAGE_FORMAT, "first-seq": str(self.first_seq), "last-seq": str(self.last_seq),
            "segments": str(self.segments), "prev-hash": self.prev_hash, "last-hash": self.last_hash,
            "sha256": self.sha256, "created-at": self.created_at,
        }

    @classmethod
    def from_metadata(cls, key: str, meta: dict[str, str]) -> PageInfo:
        try:
            if meta["format"] != PAGE_FORMAT:
                raise ValueError(f"format {meta['format']!r}")
            return cls(key, int(meta["first-seq"]), int(meta["last-seq"]), int(meta["segments"]), meta["prev-hash"],
                       meta["last-hash"], meta["sha256"], meta.get("created-at", ""))
        except (KeyError, ValueError) as exc:
            raise ArchiveCorrupt(f"manifest page {key} has no usable metadata: {exc}") from None


def page_body(chain_key: str, segments: list[SegmentInfo], created_at: str) -> bytes:
    """A page's plaintext: its segments without their keys (a key is named after the first seq, so
    a page cannot point a range of entries at another object)."""
    body = {
        "format": PAGE_FORMAT, "chain_key": chain_key, "first_seq": segments[0].first_seq,
        "last_seq": segments[-1].last_seq, "created_at": created_at,
        "segments": [{k: v for k, v in asdict(s).items() if k != "key"} for s in segments],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ManifestIndex:
    """``manifest.json`` since decision 0017: no body, this metadata only (no decryption needed).

    ``archived_through``/``last_hash``: the head as of the last flush; ``paged_through``: the last
    seq the pages cover; ``last_page``: the first seq (key) of the last page, 0 when none."""

    archived_through: int
    last_hash: str
    paged_through: int
    last_page: int
    updated_at: str

    def metadata(self) -> dict[str, str]:
        return {"format": INDEX_FORMAT, "archived-through": str(self.archived_through), "last-hash": self.last_hash,
                "paged-through": str(self.paged_through), "last-page": str(self.last_page),
                "updated-at": self.updated_at}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> ManifestIndex:
        try:
            return cls(int(meta["archived-through"]), meta["last-hash"], int(meta["paged-through"]),
                       int(meta["last-page"]), meta.get("updated-at", ""))
        except (KeyError, ValueError) as exc:
            raise ArchiveCorrupt(f"manifest index has no usable metadata: {exc}") from None


def record_line(record: SealedRecord) -> str:
    """How a record is kept in ``pending`` and in a segment: its canonical JSON, ten fields, plus
    its write proof (``proof_key``, ``proof_mac``; decision 0022) when it has one, so that an
    entry read back from the archive still shows who wrote it."""
    fields = record.to_dict()
    if record.write_proof is not None:
        fields.update(proof_attributes(record.write_proof))
    return canonical_bytes(fields).decode("utf-8")


# ---- the archive -------------------------------------------------------------------------------


class Archive:
    """Reads and writes archive objects through an object store and an encryptor."""

    def __init__(self, objects, encryptor, retention: RetentionPolicy, *, clock: Callable[[], datetime] = _utcnow,
                 page_segments: int = PAGE_SEGMENTS):
        self._objects = objects
        self._crypto = encryptor
        self._retention = retention
        self._clock = clock
        self._page_segments = page_segments  # how many segments a page the writer makes lists (readers take any)

    @property
    def objects(self):
        return self._objects

    def _retain(self, chain_key: str | None) -> datetime:
        tenant_id = parse_chain_key(chain_key)[0] if chain_key else None
        return self._retention.retain_until(tenant_id, self._clock())

    # -- segments --------------------------------------------------------------------------------
    def write_segment(self, chain_key: str, lines: list[str]) -> tuple[SegmentInfo, bool]:
        """Write one segment of records (canonical JSON lines, ascending seq). Returns its info and
        whether it was written now (False: a segment with that first seq already existed, and its
        info is returned instead)."""
        records = [json.loads(line) for line in lines]
        first, last = records[0]["seq"], records[-1]["seq"]
        key = segment_key(chain_key, first)
        header = {"format": SEGMENT_FORMAT, "chain_key": chain_key, "first_seq": first, "last_seq": last,
                  "count": len(records), "prev_hash": records[0]["prev_hash"]}
        plaintext = ("\n".join([json.dumps(header, sort_keys=True, separators=(",", ":")), *lines]) + "\n").encode()
        info = SegmentInfo(key, first, last, len(records), records[0]["prev_hash"], records[-1]["hash"],
                           hashlib.sha256(plaintext).hexdigest(), utc_timestamp(self._clock()))
        body = self._crypto.encrypt(plaintext, _context("segment", chain_key, first))
        if self._objects.put_new(key, body, retain_until=self._retain(chain_key), metadata=info.metadata()):
            return info, True
        existing = self._objects.head(key)
        return SegmentInfo.from_metadata(key, existing.metadata if existing else {}), False

    def segment_info(self, key: str) -> SegmentInfo | None:
        found = self._objects.head(key)
        return None if found is None else SegmentInfo.from_metadata(key, found.metadata)

    def read_segment(self, info: SegmentInfo, chain_key: str) -> list[dict]:
        """The records of a segment as dicts, after checking its bytes against ``info``."""
        stored = self._objects.get(info.key)
        if stored is None:
            raise ArchiveCorrupt(f"segment {info.key} is listed but missing")
        plaintext = self._crypto.decrypt(stored.body, _context("segment", chain_key, info.first_seq))
        if hashlib.sha256(plaintext).hexdigest() != info.sha256:
            raise ArchiveCorrupt(f"segment {info.key}: SHA-256 differs from the manifest's")
        lines = plaintext.decode("utf-8").splitlines()
        header = json.loads(lines[0])
        if header.get("format") != SEGMENT_FORMAT or header.get("chain_key") != chain_key:
            raise ArchiveCorrupt(f"segment {info.key}: header {header!r} does not belong to {chain_key}")
        records = [json.loads(line) for line in lines[1:]]
        if len(records) != header["count"]:
            raise ArchiveCorrupt(f"segment {info.key}: header says {header['count']} records, found {len(records)}")
        return records

    def segment_keys(self, chain_key: str, *, start_after: str | None = None) -> Iterator[str]:
        return self._objects.keys(chain_prefix(chain_key) + "segments/", start_after=start_after)

    # -- manifest: pages, the tail, the index -----------------------------------------------------
    #
    # The segment list of a chain is: every page in key order (each lists consecutive segments with
    # their hashes), then a legacy v1 manifest's list where one is still the current manifest.json,
    # then the tail (segments after the last listed one, from their own metadata). A segment already
    # covered (its last seq not beyond what came before) is not listed twice.

    def page_keys(self, chain_key: str, *, start_after: str | None = None) -> Iterator[str]:
        return self._objects.keys(chain_prefix(chain_key) + "pages/", start_after=start_after)

    def page_info(self, key: str) -> PageInfo | None:
        found = self._objects.head(key)
        return None if found is None else PageInfo.from_metadata(key, found.metadata)

    def write_page(self, chain_key: str, segments: list[SegmentInfo]) -> tuple[PageInfo, bool]:
        """Write one page (``If-None-Match``: once). Returns its info and whether it was written now
        (False: a page with that first seq already existed, and its info is returned instead)."""
        first = segments[0].first_seq
        key = page_key(chain_key, first)
        created = utc_timestamp(self._clock())
        plaintext = page_body(chain_key, segments, created)
        info = PageInfo(key, first, segments[-1].last_seq, len(segments), segments[0].prev_hash,
                        segments[-1].last_hash, hashlib.sha256(plaintext).hexdigest(), created)
        body = self._crypto.encrypt(plaintext, _context("manifest-page", chain_key, first))
        if self._objects.put_new(key, body, retain_until=self._retain(chain_key), metadata=info.metadata()):
            return info, True
        existing = self._objects.head(key)
        return PageInfo.from_metadata(key, existing.metadata if existing else {}), False

    def read_page(self, key: str, chain_key: str) -> list[SegmentInfo]:
        """A page's segments, after checking its bytes against its metadata and its place."""
        stored = self._objects.get(key)
        if stored is None:
            raise ArchiveCorrupt(f"manifest page {key} is listed but missing")
        info = PageInfo.from_metadata(key, stored.metadata)
        plaintext = self._crypto.decrypt(stored.body, _context("manifest-page", chain_key, _first_seq_of(key)))
        if hashlib.sha256(plaintext).hexdigest() != info.sha256:
            raise ArchiveCorrupt(f"manifest page {key}: SHA-256 differs from its metadata's")
        body = json.loads(plaintext)
        try:
            segments = [SegmentInfo(segment_key(chain_key, s["first_seq"]), **s) for s in body["segments"]]
        except (KeyError, TypeError) as exc:
            raise ArchiveCorrupt(f"manifest page {key}: malformed segment list: {exc}") from None
        if (body.get("format"), body.get("chain_key")) != (PAGE_FORMAT, chain_key) or not segments or (
            segments[0].first_seq, segments[-1].last_seq, len(segments)
        ) != (info.first_seq, info.last_seq, info.segments) or info.first_seq != _first_seq_of(key):
            raise ArchiveCorrupt(f"manifest page {key} does not hold what its key and metadata say")
        return segments

    def _index_metadata(self, chain_key: str) -> dict[str, str] | None:
        """``manifest.json``'s metadata (HEAD: no body, no decryption); None when there is none."""
        found = self._objects.head(manifest_key(chain_key))
        return None if found is None else found.metadata

    def _legacy_manifest(self, chain_key: str, meta: dict[str, str] | None) -> Manifest | None:
        """The v1 manifest (every segment, encrypted) when it is still the current manifest.json."""
        if meta is None or meta.get("format") != MANIFEST_FORMAT:
            return None
        stored = self._objects.get(manifest_key(chain_key))
        if stored is None:
            return None
        return Manifest.from_json(self._crypto.decrypt(stored.body, _context("manifest", chain_key)))

    def _segment_infos(self, chain_key: str, legacy: Manifest | None, first_seq: int = 1,
                       last_seq: int | None = None) -> Iterator[SegmentInfo]:
        """Every segment's info in seq order: pages, a legacy list, then the tail. Pages and tail
        segments that end before ``first_seq`` or start after ``last_seq`` may be left out."""
        end = 0

        def fresh(info: SegmentInfo) -> bool:
            nonlocal end
            if info.last_seq <= end:
                return False
            end = info.last_seq
            return True

        keys = list(self.page_keys(chain_key))
        for n, key in enumerate(keys):
            first = _first_seq_of(key)
            if last_seq is not None and first > last_seq:
                return
            if n + 1 < len(keys):
                if _first_seq_of(keys[n + 1]) <= first_seq:  # the page ends before the range
                    continue
            elif first < first_seq:  # the last page: its end from its metadata, read only if needed
                info = self.page_info(key)
                if info is not None and info.last_seq < first_seq:
                    end = max(end, info.last_seq)
                    continue
            yield from (s for s in self.read_page(key, chain_key) if fresh(s))
        for info in legacy.segments if legacy is not None else ():
            if last_seq is not None and info.first_seq > last_seq:
                return
            if fresh(info):
                yield info
        tail = list(self.segment_keys(chain_key, start_after=segment_key(chain_key, end)))
        for n, key in enumerate(tail):
            if last_seq is not None and _first_seq_of(key) > last_seq:
                return
            if n + 1 < len(tail) and _first_seq_of(tail[n + 1]) <= first_seq:
                continue
            info = self.segment_info(key)
            if info is not None and fresh(info):
                yield info

    def manifest(self, chain_key: str) -> Manifest | None:
        """The segments as of the last flush (up to the index's ``archived_through``); None when no
        manifest was ever written. ``synced_manifest`` adds what was written after it."""
        meta = self._index_metadata(chain_key)
        if meta is None:
            return None
        legacy = self._legacy_manifest(chain_key, meta)
        if legacy is not None:
            through, updated_at = legacy.archived_through, legacy.updated_at
        else:
            index = ManifestIndex.from_metadata(meta)
            through, updated_at = index.archived_through, index.updated_at
        segments = takewhile(lambda s: s.last_seq <= through, self._segment_infos(chain_key, legacy))
        return Manifest(chain_key, tuple(segments), updated_at)

    def synced_manifest(self, chain_key: str) -> Manifest:
        """Every segment: the pages, then the ones after them (also those a crash left between a
        segment write and the next index or page write)."""
        meta = self._index_metadata(chain_key)
        legacy = self._legacy_manifest(chain_key, meta)
        updated_at = legacy.updated_at if legacy is not None else (meta or {}).get("updated-at", "")
        return Manifest(chain_key, tuple(self._segment_infos(chain_key, legacy)), updated_at)

    def commit(self, chain_key: str) -> ManifestIndex:
        """After segments were written: page every complete run of ``page_segments`` segments after
        the last page (a legacy v1 manifest's list is paged whole), then write a new version of the
        index when it changed. Cost per call: a HEAD, two LISTs, a HEAD of the newest segment and a
        small PUT; once per ``page_segments`` segments, their HEADs and one page."""
        meta = self._index_metadata(chain_key)
        legacy = self._legacy_manifest(chain_key, meta)
        current = ManifestIndex.from_metadata(meta) if meta and meta.get("format") == INDEX_FORMAT else None
        through, last_hash = (current.archived_through, current.last_hash) if current else (0, GENESIS_PREV_HASH)
        paged_through, last_page = (current.paged_through, current.last_page) if current else (0, 0)
        if legacy is not None:
            through, last_hash = legacy.archived_through, legacy.last_hash

        def paged(page: PageInfo) -> None:
            nonlocal through, last_hash, paged_through, last_page
            if page.last_seq > paged_through:
                paged_through, last_page = page.last_seq, page.first_seq
            if page.last_seq > through:
                through, last_hash = page.last_seq, page.last_hash

        # pages written after the index (a crash between a page and the index)
        newer = list(self.page_keys(chain_key, start_after=page_key(chain_key, last_page) if last_page else None))
        if newer:
            found = self.page_info(newer[-1])
            if found is not None:
                paged(found)
        # a legacy list is paged whole, its last page shorter when it does not fill one
        if legacy is not None:
            todo = [s for s in legacy.segments if s.last_seq > paged_through]
            while todo:
                page, _ = self.write_page(chain_key, todo[: self._page_segments])
                paged(page)
                todo = [s for s in todo if s.last_seq > page.last_seq]
        # the tail: every complete run of consecutive segments becomes a page
        tail = list(self.segment_keys(chain_key, start_after=segment_key(chain_key, paged_through)))
        while len(tail) >= self._page_segments:
            run: list[SegmentInfo] = []
            for key in tail[: self._page_segments]:
                info = self.segment_info(key)
                if info is None or info.first_seq != (run[-1].last_seq if run else paged_through) + 1:
                    break  # not consecutive: left in the tail, where the verifier reports it
                run.append(info)
            if len(run) < self._page_segments:
                break
            page, _ = self.write_page(chain_key, run)
            paged(page)
            tail = [k for k in tail if _first_seq_of(k) > page.last_seq]
        newest = self.segment_info(tail[-1]) if tail else None
        if newest is not None and newest.last_seq > through:
            through, last_hash = newest.last_seq, newest.last_hash
        fresh = ManifestIndex(through, last_hash, paged_through, last_page, utc_timestamp(self._clock()))
        if current is not None and replace(current, updated_at="") == replace(fresh, updated_at=""):
            return current  # nothing new: no new locked version
        self._objects.put_version(manifest_key(chain_key), b"", retain_until=self._retain(chain_key),
                                  metadata=fresh.metadata())
        return fresh

    def write_manifest(self, manifest: Manifest) -> Manifest:
        """Kept for callers of the v1 API: ``commit`` (the stored segments are the truth, not the
        list passed in)."""
        index = self.commit(manifest.chain_key)
        return Manifest(manifest.chain_key, manifest.segments, index.updated_at)

    def head(self, chain_key: str) -> tuple[int, str]:
        """(archived_through, hash of that entry) from metadata only (no decryption): the index's,
        or the newest segment's when one was written after it."""
        meta = self._index_metadata(chain_key) or {}
        through = int(meta.get("archived-through", 0))
        last_hash = meta.get("last-hash", GENESIS_PREV_HASH)
        later = list(self.segment_keys(chain_key, start_after=segment_key(chain_key, through)))
        newest = self.segment_info(later[-1]) if later else None
        if newest is not None and newest.last_seq > through:
            return newest.last_seq, newest.last_hash
        return through, last_hash

    def records(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[dict]:
        """Archived records in seq order (each segment checked against its page's hashes, or its
        own metadata in the tail); only the pages and segments the range needs are read."""
        legacy = self._legacy_manifest(chain_key, self._index_metadata(chain_key))
        for info in self._segment_infos(chain_key, legacy, first_seq, last_seq):
            if info.last_seq < first_seq or (last_seq is not None and info.first_seq > last_seq):
                continue
            for record in self.read_segment(info, chain_key):
                if record["seq"] >= first_seq and (last_seq is None or record["seq"] <= last_seq):
                    yield record

    # -- checkpoints and keys --------------------------------------------------------------------
    def write_checkpoint(self, checkpoint: Checkpoint) -> bool:
        key = checkpoint_key(checkpoint.chain_key, checkpoint.size)
        body = self._crypto.encrypt(checkpoint.to_text().encode(),
                                    _context("checkpoint", checkpoint.chain_key, checkpoint.size))
        return self._objects.put_new(key, body, retain_until=self._retain(checkpoint.chain_key),
                                     metadata={"size": str(checkpoint.size), "root": checkpoint.root,
                                               "key-id": quote(checkpoint.key_id, safe="")})

    def checkpoint_sizes(self, chain_key: str, *, start_after: int | None = None) -> list[int]:
        """The sizes of the archived checkpoints, ascending (keys are zero-padded: S3 lists them in
        size order); only those above ``start_after`` when given."""
        prefix = chain_prefix(chain_key) + "checkpoints/"
        after = checkpoint_key(chain_key, start_after) if start_after is not None else None
        return [int(key[len(prefix):].split(".")[0]) for key in self._objects.keys(prefix, start_after=after)]

    def newest_checkpoint_size(self, chain_key: str, *, at_least: int = 0) -> int:
        """The size of the newest archived checkpoint, 0 when none. ``at_least``: a size a signed
        checkpoint of the chain is known to have (the verification just proved it): the listing
        starts there, one LIST request rather than one per 1,000 checkpoints of the chain's history
        (docs/scaling.md). When the archive holds nothing from there on (its copy is still on its
        way from the checkpoints stream), every checkpoint is listed: the answer is exact either way."""
        if at_least > 0:
            later = self.checkpoint_sizes(chain_key, start_after=at_least - 1)
            if later:
                return later[-1]
        return max(self.checkpoint_sizes(chain_key), default=0)

    def checkpoint(self, chain_key: str, size: int) -> Checkpoint | None:
        stored = self._objects.get(checkpoint_key(chain_key, size))
        if stored is None:
            return None
        return Checkpoint.from_text(self._crypto.decrypt(stored.body, _context("checkpoint", chain_key, size)))

    def checkpoints(self, chain_key: str) -> list[Checkpoint]:
        found = (self.checkpoint(chain_key, size) for size in self.checkpoint_sizes(chain_key))
        return [cp for cp in found if cp is not None]

    def write_key(self, key: PublicKeyInfo) -> bool:
        """Archive a published key; a new version when its validity changed (closed by a rotation)."""
        if self.key(key.key_id) == key:
            return False
        body = json.dumps(asdict(key), sort_keys=True).encode()
        encrypted = self._crypto.encrypt(body, {"scelle:kind": "public-key", "scelle:key-id": key.key_id})
        self._objects.put_version(public_key_key(key.key_id), encrypted, retain_until=self._retain(None),
                                  metadata={"key-id": quote(key.key_id, safe="")})
        return True

    def key(self, key_id: str) -> PublicKeyInfo | None:
        stored = self._objects.get(public_key_key(key_id))
        if stored is None:
            return None
        body = self._crypto.decrypt(stored.body, {"scelle:kind": "public-key", "scelle:key-id": key_id})
        return PublicKeyInfo(**json.loads(body))

    def keys(self) -> list[PublicKeyInfo]:
        found = [self.key(unquote(k[len("v1/keys/"):].removesuffix(".json"))) for k in self._objects.keys("v1/keys/")]
        return sorted((k for k in found if k is not None), key=lambda k: k.not_before)

    def chains(self) -> Iterator[tuple[str, str]]:
        """(tenant_id, chain) of every chain with a manifest."""
        for key in self._objects.keys("v1/chains/"):
            if key.endswith("/manifest.json"):
                _, _, tenant, chain, _ = key.split("/", 4)
                yield unquote(tenant), unquote(chain)


def _context(kind: str, chain_key: str, position: int | None = None) -> dict[str, str]:
    context = {"scelle:kind": kind, "scelle:chain": chain_key}
    if position is not None:
        context["scelle:position"] = str(position)
    return context


# ---- the archiver: pending entries -> segments -------------------------------------------------


@dataclass(frozen=True)
class FlushResult:
    chain_key: str
    written: tuple[SegmentInfo, ...] = ()
    adopted: tuple[SegmentInfo, ...] = ()  # segments found already written by an earlier attempt
    archived_through: int = 0
    pending_left: int = 0
    skipped: str = ""  # why nothing was done ("busy": another flusher holds the lease)


class Archiver:
    """Moves a chain's pending entries (ops table) into archive segments, exactly once.

    A lease on the chain's state item keeps two flushers apart; a segment is written with
    If-None-Match on its first seq, and ``archived_through`` advances conditionally afterwards,
    so a flusher that dies between the two leaves a segment the next one adopts, never a copy.
    """

    def __init__(
        self,
        ops,
        archive: Archive,
        *,
        segment_entries: int = SEGMENT_ENTRIES,
        window: timedelta = SEGMENT_WINDOW,
        clock: Callable[[], datetime] = _utcnow,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self._ops = ops
        self._archive = archive
        self._n = segment_entries
        self._window = window
        self._clock = clock
        self._on_lag = on_lag or (lambda seconds: None)

    @property
    def segment_entries(self) -> int:
        return self._n

    def due(self, state) -> bool:
        """True when the chain has a full segment waiting, or entries older than the window."""
        waiting = [s for s in state.pending_seqs if s > state.archived_through]
        if len(waiting) >= self._n:
            return True
        if not waiting:
            return False
        return state.pending_since is None or _parse(state.pending_since) <= self._clock() - self._window

    def flush(self, chain_key: str, *, force: bool = False) -> FlushResult:
        """Write every full segment waiting; with ``force`` the remainder too."""
        now = self._clock()
        if not self._ops.take_lease(chain_key, now=utc_timestamp(now), until=utc_timestamp(now + LEASE)):
            state = self._ops.chain_state(chain_key)
            return FlushResult(chain_key, archived_through=state.archived_through,
                               pending_left=len(state.pending or {}), skipped="busy" if state.exists else "empty")
        written: list[SegmentInfo] = []
        adopted: list[SegmentInfo] = []
        try:
            state = self._ops.chain_state(chain_key)
            while True:
                waiting = [s for s in state.pending_seqs if s > state.archived_through]
                if not waiting or (len(waiting) < self._n and not force):
                    break
                batch = waiting[: self._n]
                info, created = self._archive.write_segment(chain_key, [state.pending[s] for s in batch])
                (written if created else adopted).append(info)
                covered = [s for s in state.pending_seqs if s <= info.last_seq]
                remaining = [s for s in waiting if s > info.last_seq]
                since = json.loads(state.pending[remaining[0]])["recorded_at"] if remaining else None
                try:
                    self._ops.mark_archived(state, through=info.last_seq, last_hash=info.last_hash,
                                            removed=covered, pending_since=since)
                except Conflict:
                    pass  # moved by someone else: re-read and carry on from there
                if created and batch:
                    first_recorded = json.loads(state.pending[batch[0]])["recorded_at"]
                    self._on_lag((self._clock() - _parse(first_recorded)).total_seconds())
                state = self._ops.chain_state(chain_key)
            if written or adopted:
                self._archive.commit(chain_key)
        finally:
            self._ops.release_lease(chain_key)
        return FlushResult(chain_key, tuple(written), tuple(adopted), state.archived_through,
                           len([s for s in state.pending_seqs if s > state.archived_through]))

    def lag_seconds(self, state) -> float:
        """Age of the oldest entry not yet in a segment (0 when none)."""
        if not state.pending_since or not [s for s in state.pending_seqs if s > state.archived_through]:
            return 0.0
        return max(0.0, (self._clock() - _parse(state.pending_since)).total_seconds())


def _parse(timestamp: str) -> datetime:
    from chalicelib.domain.records import parse_timestamp

    return parse_timestamp(timestamp)


def rebuild_report(
    archive: Archive, tenant_id: str, chain: str, *, signature_verifier_for, extra_checks: Iterable = ()
):
    """Verify a chain from its archive alone: archived records, archived checkpoints, archived keys."""
    from chalicelib.domain.records import chain_key
    from chalicelib.domain.verification import verify_chain

    key = chain_key(tenant_id, chain)
    keys = archive.keys()
    return verify_chain(
        archive.records(key),
        tenant_id=tenant_id,
        chain=chain,
        checkpoints=archive.checkpoints(key),
        keys=keys,
        signature_verifier=signature_verifier_for(keys),
        extra_checks=list(extra_checks),
    )
