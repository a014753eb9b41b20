"""The WORM archive: every sealed entry and every signed checkpoint, encrypted, in S3 with Object
Lock in compliance mode, laid out so that a chain can be rebuilt and verified from it alone.

Layout (decision 0007; ``<t>``/``<c>`` are the URL-quoted tenant id and chain name)::

    v1/chains/<t>/<c>/segments/<first seq, 12 digits>.seg   entries first..last, one segment
    v1/chains/<t>/<c>/manifest.json                         every segment, with its hashes
    v1/chains/<t>/<c>/checkpoints/<size, 12 digits>.ckpt    the signed checkpoint text
    v1/keys/<key id>.json                                   published checkpoint keys

A segment is, once decrypted, JSON lines: a header, then each record's canonical JSON (all ten
fields of hash format v1) in seq order. Its S3 metadata repeats the header's numbers and hashes
so the full verifier compares heads without decrypting. Entries reach a segment from the
``pending`` map of the chain's state in the ops table, where the stream handler put them exactly
as they were inserted; ``Archiver.flush`` writes a segment per ``segment_entries`` entries, or
the remainder when the window has passed (the scheduled job forces it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from chalicelib.domain.canonical import canonical_bytes
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.errors import Conflict, ScelleError
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, parse_chain_key, utc_timestamp

SEGMENT_FORMAT = "scelle-archive-segment/v1"
MANIFEST_FORMAT = "scelle-archive-manifest/v1"
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


def record_line(record: SealedRecord) -> str:
    """How a record is kept in ``pending`` and in a segment: its canonical JSON, ten fields."""
    return canonical_bytes(record.to_dict()).decode("utf-8")


# ---- the archive -------------------------------------------------------------------------------


class Archive:
    """Reads and writes archive objects through an object store and an encryptor."""

    def __init__(self, objects, encryptor, retention: RetentionPolicy, *, clock: Callable[[], datetime] = _utcnow):
        self._objects = objects
        self._crypto = encryptor
        self._retention = retention
        self._clock = clock

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

    # -- manifest --------------------------------------------------------------------------------
    def manifest(self, chain_key: str) -> Manifest | None:
        stored = self._objects.get(manifest_key(chain_key))
        if stored is None:
            return None
        return Manifest.from_json(self._crypto.decrypt(stored.body, _context("manifest", chain_key)))

    def synced_manifest(self, chain_key: str) -> Manifest:
        """The manifest plus any segment written after it (a crash between the two writes)."""
        current = self.manifest(chain_key) or Manifest(chain_key, (), "")
        after = current.segments[-1].key if current.segments else None
        extra = [self.segment_info(key) for key in self.segment_keys(chain_key, start_after=after)]
        if not extra:
            return current
        return Manifest(chain_key, current.segments + tuple(i for i in extra if i is not None), current.updated_at)

    def write_manifest(self, manifest: Manifest) -> Manifest:
        fresh = Manifest(manifest.chain_key, manifest.segments, utc_timestamp(self._clock()))
        body = self._crypto.encrypt(fresh.to_json(), _context("manifest", manifest.chain_key))
        self._objects.put_version(manifest_key(manifest.chain_key), body, retain_until=self._retain(manifest.chain_key),
                                  metadata={"format": MANIFEST_FORMAT, "archived-through": str(fresh.archived_through),
                                            "last-hash": fresh.last_hash})
        return fresh

    def head(self, chain_key: str) -> tuple[int, str]:
        """(archived_through, hash of that entry) from the manifest's metadata (no decryption)."""
        found = self._objects.head(manifest_key(chain_key))
        if found is None:
            return 0, GENESIS_PREV_HASH
        meta = found.metadata
        return int(meta.get("archived-through", 0)), meta.get("last-hash", GENESIS_PREV_HASH)

    def records(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[dict]:
        """Archived records in seq order (each segment checked against the manifest)."""
        manifest = self.synced_manifest(chain_key)
        for info in manifest.segments:
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

    def checkpoint_sizes(self, chain_key: str) -> list[int]:
        prefix = chain_prefix(chain_key) + "checkpoints/"
        return [int(key[len(prefix):].split(".")[0]) for key in self._objects.keys(prefix)]

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
                manifest = self._archive.synced_manifest(chain_key)
                self._archive.write_manifest(manifest)
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
